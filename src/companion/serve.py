"""`companion serve`: a folder of built books as an OPDS 1.2 catalog over HTTP.

`GET /` (also `/catalog.xml`, `/opds`) answers the feed, computed from the folder at request time;
every other path must name one of the folder's files exactly (the listing from `opds.listing`, made
at request time). Nothing is ever joined onto a file-system path from the request, so `..`, encoded
slashes, backslashes, absolute paths, dotfiles and symlinks leading out of the folder all answer 404.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from . import gate, opds
from .errors import CompanionError, diagnostic
from .httpbase import QuietHandler, QuietServer, listen

FEED_PATHS = {"/", "/catalog.xml", "/opds", "/opds/"}
CHUNK = 256 * 1024


class CatalogServer(QuietServer):
    """A quiet threading HTTP server with the folder the handler needs."""

    def __init__(self, address: tuple[str, int], folder: Path, verbose: bool = False) -> None:
        self.folder = folder
        super().__init__(address, CatalogHandler, verbose)


class CatalogHandler(QuietHandler):
    server: CatalogServer
    server_version = "companion"

    def _answer(self, body: bool) -> None:
        path = _request_path(self.path)
        if path in FEED_PATHS:
            data = opds.catalog_xml(self.server.folder)
            self.send_bytes(HTTPStatus.OK, opds.FEED_TYPE, data, body, {"Cache-Control": "no-cache"})
            return
        name = _file_name(path)
        target = opds.listing(self.server.folder).get(name) if name else None
        if name is None or target is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        try:
            handle = gate.open_regular(target, self.server.folder.resolve())
        except gate.Refused:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with handle:
            size = _size(handle)
            disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
            if name.isascii() and '"' not in name:
                disposition = f'attachment; filename="{name}"; ' + disposition.split("; ", 1)[1]
            self.start_response(
                HTTPStatus.OK, opds.content_type(name), size, {"Content-Disposition": disposition}
            )
            if body:
                try:
                    shutil.copyfileobj(handle, self.wfile, CHUNK)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True


def _size(handle: Any) -> int:
    return os.fstat(handle.fileno()).st_size


def _request_path(target: str) -> str:
    """The path of the request target (origin or absolute form), without query or fragment."""
    if target.startswith(("http://", "https://")):
        target = urlsplit(target).path or "/"
    return target.split("?", 1)[0].split("#", 1)[0]


def _file_name(path: str) -> str | None:
    """The one file name a request path names, or None: `/` + one percent-encoded name, nothing else."""
    if not path.startswith("/") or path.startswith("//"):
        return None
    raw = path[1:]
    if not raw or "/" in raw or "\\" in raw:
        return None
    try:
        name = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    if not name or name.startswith(".") or any(ch in name for ch in "/\\\x00"):
        return None
    return name


def make_server(
    folder: Path, host: str = "127.0.0.1", port: int = 8080, verbose: bool = False
) -> CatalogServer:
    """A bound server for `folder` (not yet serving); CompanionError when it cannot be made."""
    if not folder.is_dir():
        raise CompanionError([diagnostic(folder, "D010", f"{folder} is not a folder")])
    return listen(lambda: CatalogServer((host, port), folder, verbose), host, port)


def serve(
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    verbose: bool = False,
    announce: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> None:
    """Serve until Ctrl-C, then close the socket and return."""
    server = make_server(folder, host, port, verbose)
    announce(f"Serving {folder} as an OPDS catalog at {server.url} (Ctrl-C stops)")
    if host not in ("127.0.0.1", "localhost", "::1"):
        announce(f"note: --host {host} makes the catalog reachable from other computers")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        announce("stopped")
    finally:
        server.server_close()
