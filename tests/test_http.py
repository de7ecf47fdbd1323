"""`serve` and `preview` as servers that strangers talk to: every bad request gets a 4xx, idle and slow
connections are closed, threads are bounded, and nothing a link points out of the project is served."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from companion.author import preview
from companion.author.scaffold import new_project
from companion.core import http as httpbase
from companion.deliver.serve import CatalogServer, make_server


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[CatalogServer]:
    (tmp_path / "book.epub").write_bytes(b"PK not really")
    server = make_server(tmp_path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _raw(server: CatalogServer, data: bytes) -> bytes:
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(data)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", b"405"),
        (b"BREW /pot HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"405"),
        (b"GET / HTTP/9.9\r\nHost: x\r\n\r\n", b"400"),
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
        (b"nonsense\r\n\r\n", b"400"),
        (b"GET /%ff%fe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"404"),
    ],
)
def test_bad_requests_get_a_4xx(catalog: CatalogServer, request_bytes: bytes, status: bytes) -> None:
    answer = _raw(catalog, request_bytes)
    assert answer.split(b" ", 2)[1] == status, answer[:200]


def test_a_silent_or_slow_connection_is_closed(
    catalog: CatalogServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(httpbase.QuietHandler, "timeout", 0.5)
    host, port = catalog.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHo")  # and then nothing more
        started = time.monotonic()
        assert conn.recv(100) == b""  # closed by the server
        assert time.monotonic() - started < 5


def test_a_request_that_trickles_in_is_closed_at_its_deadline(
    catalog: CatalogServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A byte every 0.2 s is never silent for the timeout, but may not hold a thread for ever (it did)."""
    monkeypatch.setattr(httpbase, "REQUEST_DEADLINE", 1.0)
    host, port = catalog.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nX: ")
        conn.settimeout(0.2)
        started = time.monotonic()
        answer = None
        while answer is None and time.monotonic() - started < 10:
            try:
                conn.sendall(b"a")
                answer = conn.recv(100)
            except TimeoutError:
                continue
            except OSError:
                answer = b""
        assert answer == b"" and time.monotonic() - started < 5


def test_threads_are_bounded(catalog: CatalogServer, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = catalog.server_address[:2]
    idle = [socket.create_connection((host, port), timeout=10) for _ in range(httpbase.MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)
        with socket.create_connection((host, port), timeout=10) as extra:
            extra.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert extra.recv(100).startswith(b"HTTP/1.1 503")
    finally:
        for conn in idle:
            conn.close()
    time.sleep(0.3)
    conn2 = http.client.HTTPConnection(host, port, timeout=10)
    conn2.request("GET", "/")
    assert conn2.getresponse().status == 200  # the slots come back
    conn2.close()


@pytest.fixture
def running_preview(tmp_path: Path) -> Iterator[preview.PreviewServer]:
    root = new_project(tmp_path / "site", title="Preview Test").root
    with preview.running(root / "source", port=0) as server:
        yield server


@pytest.mark.parametrize("since", ["²", "-1", "x", "9" * 40])
def test_preview_events_with_a_bad_since_is_400(running_preview: preview.PreviewServer, since: str) -> None:
    port = running_preview.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/events?since=" + quote(since))
    assert conn.getresponse().status == 400
    conn.close()


def test_preview_does_not_serve_a_font_linked_from_outside(tmp_path: Path) -> None:
    root = new_project(tmp_path / "site", title="Preview Test").root
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    (root / "styles" / "fonts" / "x.ttf").symlink_to(secret)
    with preview.running(root / "source", port=0) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        conn.request("GET", "/styles/fonts/x.ttf")
        answer = conn.getresponse()
        assert answer.status == 404 and b"PRIVATE" not in answer.read()
        conn.close()
