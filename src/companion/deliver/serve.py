"""`companion serve`: a folder of built books as an OPDS catalog over HTTP, in OPDS 1.2 (Atom) and 2.0 (JSON).

`GET /` (also `/opds`) answers the OPDS 1.2 start feed: the acquisition feed when the folder holds one
book, a navigation feed when it holds several; `/catalog.xml` is the acquisition feed (`?page=N`,
`?sort=new`), `/catalog.json` the OPDS 2.0 feed (`?page=N`), `/<slug>-entry.xml` a book's complete
entry; all computed from the folder at request time. Every other path must name one of the folder's
files exactly (the listing from `opds_books.listing`, made at request time). Nothing is ever joined
onto a file-system path from the request, so `..`, encoded slashes, backslashes, absolute paths,
dotfiles and symlinks leading out of the folder all answer 404. Every answer, feed or file, carries an
ETag and Last-Modified and answers conditional requests (304) and byte ranges (206), so a reader can
revalidate the catalog and resume a download.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from companion.core import gate, httpcache
from companion.core.errors import CompanionError, diagnostic
from companion.core.http import QuietHandler, QuietServer, listen
from companion.deliver import opds, opds2
from companion.deliver.opds_books import (
    CATALOG_JSON,
    CATALOG_XML,
    ENTRY_SUFFIX,
    JSON_FEED_TYPE,
    Book,
    books,
    listing,
)

START_PATHS = {"/", "/opds", "/opds/"}
CHUNK = 256 * 1024
PAGE_SIZE = 50
"""Books per page of the served feeds; past it they link to the next page."""
ALTERNATE = f'<{CATALOG_JSON}>; rel="alternate"; type="{JSON_FEED_TYPE}"'


class CatalogServer(QuietServer):
    """A quiet threading HTTP server with the folder the handler needs."""

    def __init__(
        self, address: tuple[str, int], folder: Path, verbose: bool = False, page_size: int = PAGE_SIZE
    ) -> None:
        self.folder = folder
        self.page_size = page_size
        super().__init__(address, CatalogHandler, verbose)


class CatalogHandler(QuietHandler):
    server: CatalogServer
    server_version = "companion"

    def _answer(self, body: bool) -> None:
        path, query = _split_target(self.path)
        files = listing(self.server.folder)
        feed = self._feed(path, query, files)
        if feed is not None:
            kind, data = feed
            headers = {"Cache-Control": "no-cache", "Link": ALTERNATE}
            if path in START_PATHS:  # Atom or JSON by the Accept header: a cache must keep them apart
                headers["Vary"] = "Accept"
            validators = httpcache.for_bytes(data, _newest(files))
            self.send_representation(kind, len(data), validators, lambda a, b: [data[a:b]], body, headers)
            return
        name = _file_name(path)
        target = files.get(name) if name else None
        if name is None or target is None:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        try:
            handle = gate.open_regular(target, self.server.folder.resolve())
        except gate.Refused:
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with handle:
            stat = os.fstat(handle.fileno())
            disposition = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
            if name.isascii() and '"' not in name:
                disposition = f'attachment; filename="{name}"; ' + disposition.split("; ", 1)[1]
            self.send_representation(
                opds.content_type(name),
                stat.st_size,
                httpcache.for_file(stat),
                lambda start, end: _chunks(handle, start, end),
                body,
                {"Content-Disposition": disposition},
            )

    def _feed(self, path: str, query: dict[str, str], files: dict[str, Path]) -> tuple[str, bytes] | None:
        """(media type, bytes) when the path names one of the computed feeds, else None."""
        names = {"/" + CATALOG_XML, "/" + CATALOG_JSON}
        if path not in START_PATHS and path not in names and not path.endswith(ENTRY_SUFFIX):
            return None
        found = books(files)
        number = _number(query.get("page"))
        # Paged only past the limit, so that a small folder's feeds are the build's files byte for byte.
        size = self.server.page_size if len(found) > self.server.page_size else None
        several = len(found) > 1
        if path in START_PATHS and "application/opds+json" in self.headers.get("Accept", ""):
            path = "/" + CATALOG_JSON  # an OPDS 2.0 client asking for the start
        if path in START_PATHS:
            if several:
                return opds.NAVIGATION_TYPE, opds.navigation_feed(found)
            return opds.FEED_TYPE, opds.acquisition_feed(found, opds.Page(number=number, size=size))
        if path == "/" + CATALOG_XML:
            page = opds.Page(
                start="./" if several else CATALOG_XML,
                number=number,
                size=size,
                newest_first=query.get("sort") == "new",
            )
            return opds.FEED_TYPE, opds.acquisition_feed(found, page)
        if path == "/" + CATALOG_JSON:
            return JSON_FEED_TYPE, opds2.feed_json(found, number, size)
        book = _book(found, unquote(path[1:]).removesuffix(ENTRY_SUFFIX))
        return (opds.ENTRY_TYPE, opds.entry_document(book)) if book else None


def _book(found: list[Book], slug: str) -> Book | None:
    return next((book for book in found if book.entry.slug == slug), None)


def _number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 9 else 1


def _newest(files: dict[str, Path]) -> int | None:
    times = []
    for path in files.values():
        try:
            times.append(int(path.stat().st_mtime))
        except OSError:
            continue
    return max(times, default=None)


def _chunks(handle: Any, start: int, end: int) -> Iterator[bytes]:
    handle.seek(start)
    left = end - start
    while left > 0:
        chunk = handle.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def _split_target(target: str) -> tuple[str, dict[str, str]]:
    """The path of the request target (origin or absolute form) and its query's first values."""
    if target.startswith(("http://", "https://")):
        parts = urlsplit(target)
        target = (parts.path or "/") + ("?" + parts.query if parts.query else "")
    path, _, query = target.split("#", 1)[0].partition("?")
    return path, {key: values[0] for key, values in parse_qs(query).items()}


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
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    verbose: bool = False,
    page_size: int = PAGE_SIZE,
) -> CatalogServer:
    """A bound server for `folder` (not yet serving); CompanionError when it cannot be made."""
    if not folder.is_dir():
        raise CompanionError([diagnostic(folder, "D010", f"{folder} is not a folder")])
    return listen(lambda: CatalogServer((host, port), folder, verbose, page_size), host, port)


def serve(
    folder: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    verbose: bool = False,
    announce: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> None:
    """Serve until Ctrl-C, then close the socket and return."""
    server = make_server(folder, host, port, verbose)
    skipped: list[Path] = []
    books(listing(folder), skipped)
    for path in skipped:  # served as files, but not offered as books
        announce(opds.skipped_warning(path).format())
    announce(f"Serving {folder} as an OPDS catalog at {server.url} (Ctrl-C stops)")
    announce(f"OPDS 2.0 (JSON) at {server.url}{CATALOG_JSON}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        announce(f"note: --host {host} makes the catalog reachable from other computers")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        announce("stopped")
    finally:
        server.server_close()
