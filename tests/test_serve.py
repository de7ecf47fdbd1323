"""`companion serve` and the OPDS feed: a real HTTP server on 127.0.0.1, read with real HTTP clients."""

from __future__ import annotations

import http.client
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote, urljoin

import pytest
from click.testing import CliRunner
from lxml import etree
from PIL import Image

from companion.cli import main
from companion.deliver import opds
from companion.deliver.serve import CatalogServer, make_server

ROOT = Path(__file__).resolve().parent.parent
ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/terms/}"
SLUG = "never-let-me-go"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every output of the bundled companion plus the catalog and thumbnail the build adds."""
    from companion import pipeline

    out = tmp_path_factory.mktemp("dist")
    pipeline.write(pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles")), out)
    opds.write_catalog(out)
    return out


def running(folder: Path) -> Iterator[CatalogServer]:
    server = make_server(folder, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def server(dist: Path) -> Iterator[CatalogServer]:
    yield from running(dist)


def get(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return response.read(), {k.lower(): v for k, v in response.headers.items()}


def raw(server: CatalogServer, method: str, target: str) -> tuple[int, bytes, dict[str, str]]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        connection.putrequest(method, target, skip_host=False, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_feed_is_an_opds_acquisition_feed(server: CatalogServer, dist: Path) -> None:
    data, headers = get(server.url)
    assert headers["content-type"] == "application/atom+xml;profile=opds-catalog;kind=acquisition"
    assert int(headers["content-length"]) == len(data)
    feed = etree.fromstring(data)
    assert feed.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author"):
        assert feed.find(f"{ATOM}{tag}") is not None, tag
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == "Never Let Me Go: A Reader’s Companion"
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "Hailsham Reading Circle"
    assert entry.findtext(f"{DC}language") == "en-GB"
    assert entry.findtext(f"{ATOM}id", "").startswith("urn:uuid:")
    assert "Kathy, Ruth, and Tommy" in entry.findtext(f"{ATOM}summary", "")
    assert entry.findtext(f"{ATOM}updated") == feed.findtext(f"{ATOM}updated")
    links = {(link.get("rel"), link.get("type")): link.get("href") for link in entry.iter(f"{ATOM}link")}
    acquisition = "http://opds-spec.org/acquisition"
    assert links == {
        (acquisition, "application/epub+zip"): f"{SLUG}.epub",
        (acquisition, "application/kepub+zip"): f"{SLUG}.kepub.epub",
        (acquisition, "application/pdf"): f"{SLUG}.pdf",
        ("http://opds-spec.org/image", "image/jpeg"): f"{SLUG}-cover.jpg",
        ("http://opds-spec.org/image/thumbnail", "image/jpeg"): f"{SLUG}-thumbnail.jpg",
        ("alternate", opds.ENTRY_TYPE): f"{SLUG}-entry.xml",
    }
    # The print cover wrap and the catalog itself are not books.
    assert "cover.pdf" not in data.decode() and len(feed.findall(f"{ATOM}entry")) == 1


def test_feed_aliases_and_file_on_disk(server: CatalogServer, dist: Path) -> None:
    feed, _ = get(server.url)
    for path in ("catalog.xml", "opds", "?page=1"):
        assert get(server.url + path)[0] == feed
    assert (dist / "catalog.xml").read_bytes() == feed  # the build's file is the same feed


def test_every_link_downloads_byte_exact(server: CatalogServer, dist: Path) -> None:
    feed_bytes, _ = get(server.url)
    feed = etree.fromstring(feed_bytes)
    links = list(feed.iter(f"{ATOM}link"))
    assert len(links) >= 7
    for link in links:
        url = urljoin(server.url, link.get("href"))
        data, headers = get(url)
        name = unquote(link.get("href", ""))
        expected = feed_bytes if name == "catalog.xml" else (dist / name).read_bytes()
        assert data == expected, name
        assert headers["content-type"] == link.get("type"), name
        assert int(headers["content-length"]) == len(expected), name
        if link.get("length"):
            assert int(link.get("length", "")) == len(expected)


def test_head(server: CatalogServer, dist: Path) -> None:
    status, body, headers = raw(server, "HEAD", f"/{SLUG}.pdf")
    assert (status, body) == (200, b"")
    assert headers["content-type"] == "application/pdf"
    assert int(headers["content-length"]) == (dist / f"{SLUG}.pdf").stat().st_size
    status, body, headers = raw(server, "HEAD", "/")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0
    assert raw(server, "HEAD", "/nothing.epub")[:2] == (404, b"")


def test_thumbnail_is_small_and_deterministic(dist: Path) -> None:
    thumb = (dist / f"{SLUG}-thumbnail.jpg").read_bytes()
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "JPEG" and image.width <= 200 and image.height <= 300
    assert len(thumb) < (dist / f"{SLUG}-cover.jpg").stat().st_size
    assert opds.thumbnail_jpeg((dist / f"{SLUG}-cover.jpg").read_bytes()) == thumb
    assert opds.catalog_xml(dist) == opds.catalog_xml(dist)


@pytest.fixture(scope="module")
def jail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A served folder next to secrets: a file beside it, a dotfile, links out, a subfolder."""
    base = tmp_path_factory.mktemp("jail")
    (base / "secret.txt").write_text("SECRET")
    folder = base / "books"
    folder.mkdir()
    (folder / "book.pdf").write_bytes(b"%PDF-1.4 book")
    (folder / ".hidden.pdf").write_text("SECRET")
    (folder / "sub").mkdir()
    (folder / "sub" / "inner.pdf").write_text("SECRET")
    (folder / "escape.pdf").symlink_to(base / "secret.txt")
    (folder / "escape-dir").symlink_to(base)
    (folder / "inside.pdf").symlink_to(folder / "book.pdf")
    return folder


@pytest.fixture(scope="module")
def jail_server(jail: Path) -> Iterator[CatalogServer]:
    yield from running(jail)


@pytest.mark.parametrize(
    "target",
    [
        "/..", "/../secret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/..%2fsecret.txt",
        "/%2E%2E%2Fsecret.txt", "/..%5csecret.txt", "/..\\secret.txt", "/%252e%252e%252fsecret.txt",
        "//etc/passwd", "/etc/passwd", "/%2fetc%2fpasswd", "/%2Fetc%2Fpasswd", "/C:%5cWindows",
        "/.hidden.pdf",
        "/%2ehidden.pdf", "/escape.pdf", "/escape-dir/secret.txt", "/escape-dir", "/sub", "/sub/inner.pdf",
        "/sub%2finner.pdf", "/./book.pdf", "/book.pdf/", "/book.pdf%00", "/book.pdf%00.txt", "/%c0%ae%c0%ae",
        "/%ff", "/..%c0%afsecret.txt", "http://127.0.0.1/../secret.txt", "http://127.0.0.1/%2e%2e%2fsecret.txt",
        "*", "book.pdf",
    ],
)  # fmt: skip
def test_nothing_outside_the_folder(jail_server: CatalogServer, target: str) -> None:
    status, body, _ = raw(jail_server, "GET", target)
    assert status in (400, 404), (target, status)
    assert b"SECRET" not in body


def test_allowed_files_in_the_jail(jail_server: CatalogServer) -> None:
    assert raw(jail_server, "GET", "/book.pdf")[:2] == (200, b"%PDF-1.4 book")
    assert raw(jail_server, "GET", "/inside.pdf")[:2] == (200, b"%PDF-1.4 book")  # a link that stays inside
    assert raw(jail_server, "GET", "http://127.0.0.1/book.pdf")[:2] == (200, b"%PDF-1.4 book")
    assert raw(jail_server, "POST", "/book.pdf")[0] == 405  # the client's mistake: a 4xx
    feed = raw(jail_server, "GET", "/")[1]
    assert b"SECRET" not in feed and b"hidden" not in feed and b"escape" not in feed


def test_concurrent_clients(server: CatalogServer, dist: Path) -> None:
    names = [f"{SLUG}.epub", f"{SLUG}.kepub.epub", f"{SLUG}.pdf", f"{SLUG}-cover.jpg", ""]

    def fetch(index: int) -> bool:
        name = names[index % len(names)]
        data, _ = get(server.url + name)
        expected = opds.catalog_xml(dist) if not name else (dist / name).read_bytes()
        return data == expected

    with ThreadPoolExecutor(max_workers=10) as pool:
        assert all(pool.map(fetch, range(30)))


def _tiny_epub(title: str, author: str) -> bytes:
    opf = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="uid">urn:x:1&amp;2</dc:identifier>
<dc:title>{title}</dc:title><dc:creator>{author}</dc:creator><dc:language>fr</dc:language>
<meta property="dcterms:modified">2030-01-02T03:04:05Z</meta></metadata><manifest/><spine/></package>"""
    container = """<?xml version="1.0"?><container version="1.0"
xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>
<rootfile full-path="OPS/book.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("OPS/book.opf", opf)
    return out.getvalue()


def test_escaping_and_odd_names(tmp_path: Path) -> None:
    name = "Tom & Jerry <1> #2 ?é.epub"
    (tmp_path / name).write_bytes(_tiny_epub("Tom &amp; Jerry &lt;3", "A &amp; B"))
    (tmp_path / "Tom & Jerry <1> #2 ?é.pdf").write_bytes(b"%PDF")
    (tmp_path / "broken.epub").write_bytes(b"not a zip")
    feed = etree.fromstring(opds.catalog_xml(tmp_path))
    entries = {e.findtext(f"{ATOM}title"): e for e in feed.iter(f"{ATOM}entry")}
    assert set(entries) == {"Tom & Jerry <3"}  # broken.epub: no app could open it, so it is not offered
    entry = entries["Tom & Jerry <3"]
    assert entry.findtext(f"{ATOM}id") == "urn:x:1&2"
    assert entry.findtext(f"{DC}language") == "fr"
    assert feed.findtext(f"{ATOM}updated") == "2030-01-02T03:04:05Z"
    for server in running(tmp_path):
        for link in entry.iter(f"{ATOM}link"):
            data, _ = get(urljoin(server.url, link.get("href")))
            if link.get("rel") == "alternate":  # the complete entry, computed like the feed
                assert etree.fromstring(data).findtext(f"{ATOM}id") == "urn:x:1&2"
                continue
            assert data == (tmp_path / unquote(link.get("href", ""))).read_bytes()


def test_default_host_is_loopback(dist: Path) -> None:
    server = make_server(dist, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_missing_folder_and_busy_port(tmp_path: Path, server: CatalogServer) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["serve", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "error D010" in result.stderr
    busy = str(server.server_address[1])
    result = runner.invoke(main, ["serve", str(tmp_path), "--port", busy])
    assert result.exit_code == 1 and "error D011" in result.stderr and "Traceback" not in result.output


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT")
def test_cli_serves_until_ctrl_c(dist: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "companion", "serve", str(dist), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.split(" at ", 1)[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0/")
        _data, headers = get(url)
        assert headers["content-type"].startswith("application/atom+xml;profile=opds-catalog")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "Traceback" not in err and err == ""  # quiet: no request log without --verbose
    assert "stopped" in out


def test_write_catalog_output(tmp_path: Path, dist: Path) -> None:
    for name in (f"{SLUG}.epub", f"{SLUG}-cover.jpg"):
        shutil.copy(dist / name, tmp_path / name)
    written = opds.write_catalog(tmp_path)
    assert [p.name for p in written] == [
        f"{SLUG}-thumbnail.jpg",
        f"{SLUG}-entry.xml",
        "catalog.xml",
        "catalog.json",
    ]
    assert not list(tmp_path.glob(".*.tmp"))
    feed = etree.fromstring((tmp_path / "catalog.xml").read_bytes())
    types = {link.get("type") for link in feed.iter(f"{ATOM}link") if "acquisition" in link.get("rel", "")}
    assert types == {"application/epub+zip"}
