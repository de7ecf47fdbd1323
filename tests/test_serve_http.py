"""`companion serve` as an HTTP cache and a download resumer see it: ETag, Last-Modified, 304 and
Range/206/416 on every feed and file, read with http.client (the standard library's own client)."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from companion.core import httpcache
from companion.deliver.serve import CatalogServer, make_server

SLUG = "never-let-me-go"
PATHS = [
    "/",
    "/catalog.xml",
    "/catalog.json",
    f"/{SLUG}-entry.xml",
    f"/{SLUG}.epub",
    f"/{SLUG}.kepub.epub",
    f"/{SLUG}.pdf",
    f"/{SLUG}-cover.jpg",
    f"/{SLUG}-thumbnail.jpg",
]


@pytest.fixture(scope="module")
def server(built: Path) -> Iterator[CatalogServer]:
    server = make_server(built, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def request(
    server: CatalogServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, bytes, http.client.HTTPMessage]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read(), response.headers
    finally:
        connection.close()


@pytest.mark.parametrize("path", PATHS)
def test_revalidate_with_etag_and_date(server: CatalogServer, path: str) -> None:
    status, whole, headers = request(server, path)
    assert status == 200 and headers["Accept-Ranges"] == "bytes"
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    status, body, again = request(server, path, {"If-None-Match": etag})
    assert (status, body, again["ETag"]) == (304, b"", etag)
    assert request(server, path, {"If-None-Match": f'"other", W/{etag}'})[0] == 304  # weak comparison
    assert request(server, path, {"If-Modified-Since": modified})[0] == 304
    assert request(server, path, {"If-None-Match": '"stale"', "If-Modified-Since": modified})[0] == 200
    assert request(server, path, {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"})[1] == whole


@pytest.mark.parametrize("path", PATHS)
def test_resume_a_download(server: CatalogServer, path: str) -> None:
    _status, whole, headers = request(server, path)
    cut = len(whole) // 3
    status, first, partial = request(server, path, {"Range": f"bytes=0-{cut - 1}"})
    assert status == 206 and partial["Content-Range"] == f"bytes 0-{cut - 1}/{len(whole)}"
    assert int(partial["Content-Length"]) == cut
    status, rest, _ = request(server, path, {"Range": f"bytes={cut}-", "If-Range": headers["ETag"]})
    assert status == 206 and first + rest == whole
    status, tail, _ = request(server, path, {"Range": "bytes=-10"})
    assert status == 206 and tail == whole[-10:]


def test_ranges_that_cannot_be_served(server: CatalogServer) -> None:
    path = f"/{SLUG}.epub"
    whole = request(server, path)[1]
    status, _body, answer = request(server, path, {"Range": f"bytes={len(whole)}-"})
    assert status == 416 and answer["Content-Range"] == f"bytes */{len(whole)}"
    assert request(server, path, {"Range": "bytes=0-1,5-6"})[1] == whole  # several ranges: the whole file
    assert request(server, path, {"Range": "pages=1-2"})[1] == whole
    assert request(server, path, {"Range": "bytes=0-9", "If-Range": '"changed"'})[:2] == (200, whole)
    status, body, answer = request(server, path, {"Range": "bytes=0-9"}, method="HEAD")
    assert (status, body, answer["Content-Length"]) == (206, b"", "10")


def test_feeds_link_opds2_from_the_start(server: CatalogServer) -> None:
    _status, _body, headers = request(server, "/")
    assert headers["Link"] == '<catalog.json>; rel="alternate"; type="application/opds+json"'
    assert headers["Cache-Control"] == "no-cache"
    assert headers["Vary"] == "Accept"  # the start is Atom or JSON by the Accept header
    atom_etag = headers["ETag"]
    status, _body, headers = request(server, "/", {"Accept": "application/opds+json"})
    assert status == 200 and headers["Content-Type"] == "application/opds+json"
    assert headers["Vary"] == "Accept" and headers["ETag"] != atom_etag
    status, _body, headers = request(server, "/", {"If-None-Match": atom_etag})
    assert status == 304 and headers["Vary"] == "Accept"
    assert "Vary" not in request(server, "/catalog.xml")[2]  # one representation only


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=2-", 10, (2, 10)),
        ("bytes=-3", 10, (7, 10)),
        ("bytes=-30", 10, (0, 10)),
        ("bytes=5-100", 10, (5, 10)),
        ("bytes=10-", 10, ()),
        ("bytes=-0", 10, ()),
        ("bytes=5-2", 10, None),
        ("bytes=a-b", 10, None),
        ("bytes=1-2,4-5", 10, None),
        ("items=1-2", 10, None),
        ("bytes=-", 10, None),
    ],
)
def test_parse_range(header: str, size: int, expected: object) -> None:
    assert httpcache.parse_range(header, size) == expected


def test_help_names_both_catalogs() -> None:
    from click.testing import CliRunner

    from companion.cli import main

    text = CliRunner().invoke(main, ["serve", "--help"]).output
    assert "OPDS 1.2" in text and "OPDS 2.0" in text and "/catalog.json" in text
