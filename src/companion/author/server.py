"""The preview's HTTP side: the server, the handler that answers from the current snapshot (and only
for Host 127.0.0.1 or localhost), and the Server-Sent Events stream that tells open pages to reload."""

from __future__ import annotations

import threading
from http import HTTPStatus
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from companion.author.pages import COVER, not_found
from companion.author.snapshot import Snapshot
from companion.core import gate
from companion.core.http import QuietHandler, QuietServer


class Folders(Protocol):
    @property
    def source(self) -> Path: ...
    @property
    def styles(self) -> Path: ...


class Site(Protocol):
    """What the server needs of the preview: a Protocol, so that this module never imports preview.py."""

    @property
    def project(self) -> Folders: ...
    @property
    def snapshot(self) -> Snapshot: ...
    @property
    def stopping(self) -> threading.Event: ...
    def wait_newer(self, since: int, timeout: float) -> int: ...
    def cover_jpeg(self) -> bytes | None: ...


HOST = "127.0.0.1"
HEARTBEAT = 10.0
"""Seconds between keep-alive comments on an idle event stream (finds closed connections)."""
HTML = "text/html; charset=utf-8"
MAX_SERVED_BYTES = 20 * 1024 * 1024


class PreviewServer(QuietServer):
    def __init__(self, address: tuple[str, int], preview: Site, verbose: bool = False) -> None:
        self.preview = preview
        super().__init__(address, PreviewHandler, verbose)


class PreviewHandler(QuietHandler):
    server: PreviewServer
    server_version = "companion-preview"

    def _answer(self, body: bool) -> None:
        port = self.server.server_address[1]
        if (self.headers.get("Host") or "").lower() not in {f"{HOST}:{port}", f"localhost:{port}"}:
            # only pages opened as 127.0.0.1 or localhost: another site's name (DNS rebinding) gets nothing
            self._send(HTTPStatus.FORBIDDEN, b"forbidden\n", "text/plain; charset=utf-8", body)
            return
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        preview = self.server.preview
        snapshot = preview.snapshot
        if path == "/events":
            since = parse_qs(parts.query).get("since", ["0"])[0]
            if not since.isascii() or not since.isdigit() or len(since) > 18:
                self._send(HTTPStatus.BAD_REQUEST, b"bad since\n", "text/plain; charset=utf-8", body)
                return
            self._events(int(since))
            return
        if path in snapshot.assets:
            data, kind = snapshot.assets[path]
            self._send(HTTPStatus.OK, data, kind, body)
            return
        if path in snapshot.files:
            file, kind = snapshot.files[path]
            project = preview.project
            root = project.styles if file.is_relative_to(project.styles) else project.source
            try:
                data = gate.read(file, root, MAX_SERVED_BYTES)
            except gate.Refused:
                self._send(HTTPStatus.NOT_FOUND, not_found(snapshot.version), HTML, body)
                return
            self._send(HTTPStatus.OK, data, kind, body)
            return
        if path == f"/{COVER}":
            jpeg = preview.cover_jpeg()
            if jpeg is not None:
                self._send(HTTPStatus.OK, jpeg, "image/jpeg", body)
                return
        if snapshot.error is not None and (path == "/" or path.endswith((".xhtml", ".html"))):
            self._send(HTTPStatus.OK, snapshot.error, HTML, body)
            return
        if path in snapshot.pages:
            self._send(HTTPStatus.OK, snapshot.pages[path], HTML, body)
            return
        self._send(HTTPStatus.NOT_FOUND, not_found(snapshot.version), HTML, body)

    def _send(self, status: HTTPStatus, data: bytes, kind: str, body: bool) -> None:
        """Every preview response is uncached: the next save changes it."""
        self.send_bytes(status, kind, data, body, {"Cache-Control": "no-store"})

    def _events(self, since: int) -> None:
        """A Server-Sent Events stream: `event: reload` once the source is newer than `since`."""
        preview = self.server.preview
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while not preview.stopping.is_set():
                version = preview.wait_newer(since, HEARTBEAT)
                if preview.stopping.is_set():
                    return
                if version > since:
                    self.wfile.write(f"event: reload\ndata: {version}\n\n".encode())
                    since = version
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return
