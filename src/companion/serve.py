"""`companion serve`: a folder of built books as an OPDS 1.2 catalog over HTTP.

`GET /` (also `/catalog.xml`, `/opds`) answers the feed, computed from the folder at request time;
every other path must name one of the folder's files exactly (the listing from `opds.listing`, made
at request time). Nothing is ever joined onto a file-system path from the request, so `..`, encoded
slashes, backslashes, absolute paths, dotfiles and symlinks leading out of the folder all answer 404.
"""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from . import opds
from .errors import CompanionError, diagnostic

FEED_PATHS = {"/", "/catalog.xml", "/opds", "/opds/"}
CHUNK = 256 * 1024


class CatalogServer(ThreadingHTTPServer):
    """A threading HTTP server with the folder and the verbosity the handler needs."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], folder: Path, verbose: bool = False) -> None:
        self.folder = folder
        self.verbose = verbose
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, CatalogHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class CatalogHandler(BaseHTTPRequestHandler):
    server: CatalogServer
    server_version = "companion"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _answer(self, body: bool) -> None:
        path = _request_path(self.path)
        if path in FEED_PATHS:
            data = opds.catalog_xml(self.server.folder)
            self._headers(opds.FEED_TYPE, len(data), extra={"Cache-Control": "no-cache"})
            if body:
                self.wfile.write(data)
            return
        name = _file_name(path)
        target = opds.listing(self.server.folder).get(name) if name else None
        if name is None or target is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        try:
            handle = target.open("rb")
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with handle:
            size = _size(handle)
            disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
            if name.isascii() and '"' not in name:
                disposition = f'attachment; filename="{name}"; ' + disposition.split("; ", 1)[1]
            self._headers(opds.content_type(name), size, extra={"Content-Disposition": disposition})
            if body:
                try:
                    shutil.copyfileobj(handle, self.wfile, CHUNK)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

    def _headers(self, kind: str, length: int, extra: dict[str, str] | None = None) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()


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
    try:
        return CatalogServer((host, port), folder, verbose)
    except OSError as exc:
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise CompanionError(
            [diagnostic(f"{host}:{port}", "D011", f"cannot listen on {host}:{port}: {reason}")]
        ) from None


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
