"""The web edition (`companion build --format web`, dist/web/): built once per session for the bundled
companion, then read as files (links, stages, page numbers, sitemap), checked by the W3C Nu checker,
and loaded in headless Chromium with only the site's own server reachable (navigation, the remembered
stage, search, axe-core, requests, narrow screens)."""

from __future__ import annotations

import functools
import gzip
import itertools
import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from lxml import html as lxml_html

from companion import pipeline
from companion.render.edition import Edition
from companion.source import gating
from companion.source.load import load
from companion.web import site as site_module
from companion.web import stages

from .seed import normal
from .test_editions import REVEALING, distinctive, items, plain
from .test_preview import CHROMIUM, Browser

ROOT = Path(__file__).resolve().parent.parent
STAGES = {"start": 0, "part-one": 1, "part-two": 2, "part-three": 3}
"""The bundled companion's reading stages (gating.stages) and their ranks; part-three is everything."""
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
VNU = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
LUNR = ROOT / "node_modules" / "lunr" / "lunr.min.js"
BASE_URL = "https://example.org/never-let-me-go/"
"""book.yaml's `web.url`."""

slow = pytest.mark.slow
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")


def build_site(out: Path) -> Path:
    result = pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles"), ("web",))
    pipeline.write(result, out)
    return out / "web"


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/web/ of the bundled companion, built once per session."""
    return build_site(tmp_path_factory.mktemp("dist-web"))


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def text_of(path: Path) -> str:
    """What a reader (or a search engine) can read in a file: a page's text and title, or the search
    index's titles and excerpts."""
    data = path.read_text(encoding="utf-8")
    if path.name == "search-index.js":
        found = json.loads(data.removeprefix("window.companionSearch=").rstrip().removesuffix(";"))
        return " ".join(f"{title} {words}" for _, title, words in found["docs"])
    if path.suffix == ".html":
        return lxml_html.document_fromstring(data).text_content()
    return data


def index_of(site: Path, stage: str) -> dict[str, Any]:
    data = (site / stage / "search-index.js").read_text(encoding="utf-8")
    return dict(json.loads(data.removeprefix("window.companionSearch=").rstrip().removesuffix(";")))


# ---------------------------------------------------------------------------------------------------
# The files


@slow
def test_one_folder_per_stage_and_a_chooser(site: Path) -> None:
    book = load(ROOT / "source").companion.book
    assert [s.id for s in gating.stages(book)] == list(STAGES)
    for stage in STAGES:
        assert (site / stage / "index.html").is_file()
        assert (site / stage / "search.html").is_file()
    chooser = lxml_html.fromstring((site / "index.html").read_bytes())
    links = [(a.get("href"), a.text_content()) for a in chooser.cssselect("a.stage-link")]
    assert links == [
        ("start/index.html", "Before you start"),
        ("part-one/index.html", "Finished Part One"),
        ("part-two/index.html", "Finished Part Two"),
        ("part-three/index.html", "Finished Part Three"),
    ]
    for name in ("never-let-me-go.epub", "never-let-me-go.kepub.epub", "never-let-me-go.pdf"):
        assert (site / "downloads" / name).stat().st_size > 10_000
    catalog = (site / "downloads" / "catalog.xml").read_text(encoding="utf-8")
    assert 'href="never-let-me-go.epub"' in catalog
    assert (site / "downloads" / "catalog.json").is_file()


@slow
def test_every_link_and_fragment_resolves_inside_the_site(site: Path) -> None:
    ids: dict[Path, set[str]] = {}
    for path in pages(site):
        ids[path] = set(lxml_html.fromstring(path.read_bytes()).xpath("//@id"))
    checked = 0
    for path in pages(site):
        tree = lxml_html.fromstring(path.read_bytes())
        for element, _attribute, link, _ in tree.iterlinks():
            if element.tag == "meta" or (element.tag == "link" and element.get("rel") == "canonical"):
                assert link.startswith(BASE_URL), link  # og:image, og:url: the published address
                continue
            assert not urlsplit(link).scheme and not link.startswith("//"), f"{path}: {link}"
            target, _, fragment = link.partition("#")
            resolved = (path.parent / unquote(target.partition("?")[0])).resolve() if target else path
            assert resolved.is_relative_to(site.resolve()), f"{path}: {link} leaves the site"
            assert resolved.is_file(), f"{path.relative_to(site)}: {link} is missing"
            if fragment and resolved.suffix == ".html":
                assert fragment in ids[resolved], f"{path.relative_to(site)}: no #{fragment} in {target}"
            checked += 1
    assert checked > 500


def cases() -> list[tuple[str, str, int]]:
    """(label, a sentence found nowhere else, the rank of the part it reveals) for every item."""
    found = [(label, text, rank) for label, text, rank in items(load(ROOT / "source").companion) if text]
    out = []
    for index, (label, text, rank) in enumerate(found):
        others = normal(" ".join(plain(t) for i, (_, t, _) in enumerate(found) if i != index))
        out.append((label, distinctive(text, others), rank))
    return out


@slow
def test_a_stage_holds_what_its_readers_may_see_and_nothing_later(site: Path) -> None:
    companion = load(ROOT / "source").companion
    known = cases()
    for stage, rank in STAGES.items():
        files = sorted((site / stage).iterdir())
        assert files
        text = normal(" ".join(text_of(path) for path in files))
        leaked = [f"{label}: {s[:60]}" for label, s, r in known if r > rank and normal(s) in text]
        assert not leaked, f"later parts in {stage}/:\n" + "\n".join(leaked)
        missing = [f"{label}: {s[:60]}" for label, s, r in known if r <= rank and normal(s) not in text]
        assert not missing, f"missing from {stage}/:\n" + "\n".join(missing)
        for chapter in companion.chapters:  # headings, contents entries, pager links, page titles
            shown = normal(chapter.title) in text
            assert shown == (chapter.reveals <= rank), f"{stage}: chapter {chapter.title}"
    start = " ".join(text_of(path) for path in (site / "start").iterdir())
    assert not REVEALING.findall(start)
    terms = {term for term, _ in index_of(site, "start")["index"]["invertedIndex"]}
    assert not {t for t in terms if REVEALING.match(t) or t.startswith(("clone", "organ", "harvest"))}
    every = {term for term, _ in index_of(site, "part-three")["index"]["invertedIndex"]}
    assert {"clone", "organ"} <= every  # the check above can fail


@slow
def test_later_stages_are_not_for_search_engines(site: Path) -> None:
    sitemap = (site / "sitemap.xml").read_text(encoding="utf-8")
    listed = re.findall(r"<loc>([^<]+)</loc>", sitemap)
    expected = [BASE_URL] + [
        BASE_URL + p.relative_to(site).as_posix().removesuffix("index.html")
        for p in sorted((site / "start").glob("*.html"))
        if p.name != "search.html"
    ]
    assert sorted(listed) == sorted(expected)
    assert (site / "robots.txt").read_text() == f"User-agent: *\nAllow: /\nSitemap: {BASE_URL}sitemap.xml\n"
    for path in pages(site):
        later = path.parent.name in STAGES and STAGES[path.parent.name] > 0
        noindex = '<meta name="robots" content="noindex">' in path.read_text(encoding="utf-8")
        assert noindex == (later or path.name == "search.html"), path


@slow
def test_link_previews_show_the_cover(site: Path) -> None:
    page = (site / "part-three" / "themes.html").read_text(encoding="utf-8")
    assert f'<meta property="og:image" content="{BASE_URL}cover.jpg">' in page
    assert f'<meta property="og:url" content="{BASE_URL}part-three/themes.html">' in page
    assert (site / "cover.jpg").read_bytes()[:3] == b"\xff\xd8\xff"


MARKER = re.compile(r'<span id="page-([^"]+)" class="pagebreak" data-page="[^"]+"></span>')


def marked(page: str) -> dict[str, str]:
    """Page label -> the text of the block it stands before (or inside, for a list item)."""
    out = {}
    for found in MARKER.finditer(page):
        rest = page[found.end() :]
        block = re.match(r"<(\w+)[^>]*>(.*?)</\1>", rest, re.DOTALL)
        text = block.group(2) if block else rest[: rest.index("</")]
        out[found.group(1)] = normal(re.sub(r"<[^>]+>", "", text))
    return out


@slow
def test_print_page_numbers_are_the_print_editions_in_every_stage(site: Path) -> None:
    import zipfile

    with zipfile.ZipFile(site / "downloads" / "never-let-me-go.epub") as epub:
        nav = epub.read("EPUB/nav.xhtml").decode("utf-8")
    page_list = nav[nav.index('id="page-list"') :]
    skipped = ("cover.xhtml", "titlepage.xhtml")  # the contents page stands in for them
    epub_labels = [
        label for file, label in re.findall(r'href="([^"#]*)#page-([^"]+)"', page_list) if file not in skipped
    ]
    full = {}
    for path in (site / "part-three").glob("*.html"):
        full.update(marked(path.read_text(encoding="utf-8")))
    assert sorted(full) == sorted(epub_labels)  # the same page map as the EPUB's page list
    carried = 0
    for stage in ("start", "part-one", "part-two"):
        for path in (site / stage).glob("*.html"):
            theirs = marked((site / "part-three" / path.name).read_text(encoding="utf-8"))
            for label, text in marked(path.read_text(encoding="utf-8")).items():
                assert theirs.get(label) == text, f"{stage}/{path.name}: page {label}"
                carried += 1
    assert carried > 50


@slow
def test_vnu_reports_no_error_on_any_page(site: Path) -> None:
    if shutil.which("java") is None or not VNU.is_file():
        pytest.skip("needs java and npm vnu-jar")
    run = subprocess.run(
        ["java", "-jar", str(VNU), "--errors-only", "--format", "json", *map(str, pages(site))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(run.stderr or run.stdout)["messages"]
    assert messages == [], json.dumps(messages[:5], indent=1)
    assert len(pages(site)) > 60


@slow
def test_the_search_indexes_are_small_and_lunr_is_the_pinned_one(site: Path) -> None:
    for stage in STAGES:
        data = (site / stage / "search-index.js").read_bytes()
        assert len(data) < 200_000 and len(gzip.compress(data, mtime=0)) < 50_000, stage
        assert index_of(site, stage)["index"]["version"] == "2.3.9"
    assert (site / "assets" / "lunr.min.js").read_bytes() == LUNR.read_bytes()
    assert json.loads((ROOT / "package.json").read_text())["devDependencies"]["lunr"] == "2.3.9"


@slow
def test_fonts_are_the_bundled_ones_subset(site: Path) -> None:
    for font in (ROOT / "styles" / "fonts").glob("*.otf"):
        shipped = site / "styles" / "fonts" / font.name
        assert 0 < shipped.stat().st_size < font.stat().st_size


@slow
def test_two_builds_are_byte_identical(site: Path, tmp_path: Path) -> None:
    again = build_site(tmp_path)
    ours = {p.relative_to(site): p.read_bytes() for p in site.rglob("*") if p.is_file()}
    theirs = {p.relative_to(again): p.read_bytes() for p in again.rglob("*") if p.is_file()}
    assert sorted(ours) == sorted(theirs)
    assert [name for name in ours if ours[name] != theirs[name]] == []


@slow
def test_companion_build_format_web_writes_the_site(site: Path, tmp_path: Path, cli: Any) -> None:
    result = cli("build", str(ROOT / "source"), "--format", "web", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [str(tmp_path / "web")]
    assert (tmp_path / "web" / "index.html").read_bytes() == (site / "index.html").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web"]  # the books are in web/downloads/


# ---------------------------------------------------------------------------------------------------
# In the browser, with nothing but the site's server reachable


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


class Recording(Browser):
    """A Browser that keeps the address of every request its page makes."""

    def __init__(self, profile: Path, *flags: str) -> None:
        self.requests: list[str] = []
        super().__init__(profile, *flags)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("method") == "Network.requestWillBeSent":
                self.requests.append(message["params"]["request"]["url"])
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return dict(message.get("result", {}))

    def load(self, url: str, *, width: int = 1100, dark: bool = False) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False
        )
        scheme = [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]
        self.call("Emulation.setEmulatedMedia", features=scheme)
        self.call("Page.navigate", url=url)
        self.wait(f"location.href === {json.dumps(url)} && document.readyState === 'complete'", timeout=30)
        self.wait("document.fonts.status === 'loaded'", timeout=30)

    def axe(self) -> list[Any]:
        if self.evaluate("typeof axe") != "object":
            self.evaluate(AXE.read_text(encoding="utf-8"))
        result = self.call(
            "Runtime.evaluate",
            expression="axe.run(document).then(r => JSON.stringify(r.violations.map("
            "v => ({id: v.id, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))))",
            awaitPromise=True,
            returnByValue=True,
        )
        return list(json.loads(result["result"]["value"]))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Recording]:
    if CHROMIUM is None:
        pytest.skip("needs Debian's chromium")
    profile = tmp_path_factory.mktemp("chromium-web")
    blocked = (
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",  # no name resolves but the server's
        "--proxy-server=http://127.0.0.1:9",  # and anything not on loopback goes to a closed port
    )
    with_network = Recording(profile, *blocked)
    try:
        with_network.call("Network.enable")
        yield with_network
    finally:
        with_network.close()


def url_of(server: str, site: Path, path: Path) -> str:
    return server + path.relative_to(site).as_posix()


@slow
@needs_chromium
def test_a_reader_goes_from_the_chooser_through_every_page_by_next(
    browser: Recording, server: str, site: Path
) -> None:
    browser.load(server + "index.html")
    browser.evaluate("document.querySelector('a.stage-link[data-stage=\"part-one\"]').click()")
    browser.wait("location.pathname.endsWith('/part-one/index.html') && document.readyState === 'complete'")
    seen = []
    previous = None
    while True:
        here = browser.evaluate("location.pathname.split('/').pop()")
        title = browser.evaluate("document.title")
        heading = browser.evaluate("document.querySelector('main h1').textContent")
        assert here not in seen
        seen.append(here)
        assert title.endswith("(Finished Part One)")
        assert here == "index.html" or title.startswith(heading), (title, heading)
        assert browser.evaluate("document.querySelectorAll('h1').length") == 1
        levels = browser.evaluate(
            "[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])"
        )
        assert all(b - a <= 1 for a, b in itertools.pairwise(levels)), (here, levels)
        back = browser.evaluate("(document.querySelector('a[rel=prev]') || {}).href || null")
        assert (back.split("/")[-1] if back else None) == previous
        if not browser.evaluate("!!document.querySelector('a[rel=next]')"):
            break
        previous = here
        browser.evaluate("document.querySelector('a[rel=next]').click()")
        browser.wait(f"!location.pathname.endsWith('/{here}') && document.readyState === 'complete'")
    expected = {p.name for p in (site / "part-one").glob("*.html")} - {"search.html"}
    assert set(seen) == expected
    assert seen[0] == "index.html" and seen[-1] == "copyright.html"


@slow
@needs_chromium
def test_the_chosen_stage_is_remembered_and_a_later_page_says_so(
    browser: Recording, server: str, site: Path
) -> None:
    browser.load(server + "index.html")
    browser.evaluate("localStorage.clear()")
    browser.evaluate("document.querySelector('a.stage-link[data-stage=\"start\"]').click()")
    browser.wait("location.pathname.endsWith('/start/index.html') && document.readyState === 'complete'")
    assert browser.evaluate("document.querySelector('.stage-warning')") is None
    browser.load(server + "part-three/themes.html")
    warning = browser.wait("!!document.querySelector('.stage-warning')")
    assert warning is not None
    text = browser.evaluate("document.querySelector('.stage-warning').textContent")
    assert "Before you start" in text
    assert browser.evaluate("document.querySelector('.stage-warning a').getAttribute('href')") == (
        "../start/index.html"
    )
    browser.load(server + "index.html")
    browser.wait("!document.querySelector('.stage-remembered').hidden")
    assert browser.evaluate("document.querySelector('li.remembered a').textContent") == "Before you start"
    browser.evaluate("localStorage.clear()")


def search(browser: Recording, server: str, stage: str, words: str) -> list[str]:
    browser.load(f"{server}{stage}/search.html?q={words}")
    browser.wait("document.getElementById('search-status').textContent.includes('found')")
    assert browser.evaluate("document.getElementById('site-search-q').value") == words
    return list(
        browser.evaluate(
            "[...document.querySelectorAll('#search-results a')].map(a => a.getAttribute('href'))"
        )
    )


@slow
@needs_chromium
def test_search_finds_hailsham_and_keeps_to_the_stage(browser: Recording, server: str, site: Path) -> None:
    for stage in STAGES:
        found = search(browser, server, stage, "Hailsham")
        assert len(found) >= 5, stage
        for href in found:
            page, _, fragment = href.partition("#")
            assert "/" not in page and (site / stage / page).is_file(), href  # a page of this stage
            assert f'id="{fragment}"' in (site / stage / page).read_text(encoding="utf-8")
    assert search(browser, server, "part-three", "clones")
    assert search(browser, server, "start", "clones") == []
    assert search(browser, server, "start", "organ:") == []  # lunr's query syntax is not an error


@slow
@needs_chromium
def test_a_page_load_asks_nothing_of_any_other_server(browser: Recording, server: str, site: Path) -> None:
    checked = ["index.html", "start/index.html", "part-three/about.html", "part-three/search.html?q=Ruth"]
    for name in checked:
        browser.requests.clear()
        browser.load(server + name)
        time.sleep(0.3)
        browser.evaluate("1")  # collects the events that came meanwhile
        outside = [url for url in browser.requests if not url.startswith(server)]
        assert outside == [], name
        assert any(url.endswith(".otf") for url in browser.requests), name  # the fonts are the site's
        if name == "part-three/about.html":
            assert server + "images/journey.svg" in browser.requests


@slow
@needs_chromium
def test_axe_finds_no_violation_on_any_page(browser: Recording, server: str, site: Path) -> None:
    found = {}
    for path in pages(site):
        browser.load(url_of(server, site, path))
        violations = browser.axe()
        if violations:
            found[path.relative_to(site).as_posix()] = violations
    dark = ["index.html", "start/index.html", "part-three/part-one.html", "part-three/glossary.html"]
    for name in dark:
        browser.load(server + name, dark=True)
        assert browser.evaluate("getComputedStyle(document.documentElement).backgroundColor") != (
            "rgb(255, 253, 248)"
        )
        violations = browser.axe()
        if violations:
            found[name + " (dark)"] = violations
    assert found == {}


@slow
@needs_chromium
def test_every_page_reads_at_320_px_without_scrolling_sideways(
    browser: Recording, server: str, site: Path
) -> None:
    wide = []
    for path in [site / "index.html", *sorted((site / "part-three").glob("*.html"))]:
        browser.load(url_of(server, site, path), width=320)
        if browser.evaluate("document.documentElement.scrollWidth") > 320:
            wide.append(path.name)
    assert wide == []


@slow
@needs_chromium
def test_the_skip_link_shows_on_focus_and_leads_to_the_main_text(browser: Recording, server: str) -> None:
    browser.call("Emulation.setFocusEmulationEnabled", enabled=True)
    browser.load(server + "start/about.html")
    assert browser.evaluate("document.querySelector('.skip-link').getBoundingClientRect().bottom") <= 0
    for kind in ("keyDown", "keyUp"):  # the first Tab of a keyboard user
        browser.call("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9)
    assert browser.evaluate("document.activeElement.className") == "skip-link"
    assert browser.evaluate("document.querySelector('.skip-link').getBoundingClientRect().top") >= 0
    outline = browser.evaluate("getComputedStyle(document.querySelector('.skip-link')).outlineStyle")
    assert outline != "none"
    browser.evaluate("document.querySelector('.skip-link').click()")
    assert browser.evaluate("location.hash") == "#main"


# ---------------------------------------------------------------------------------------------------
# Quick checks: no Chromium, no print layout


def tiny_jpeg() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (60, 90), "navy").save(out, "JPEG")
    return out.getvalue()


def quick_site(project: Path, **book: str) -> site_module.Site:
    """The site of `project` with book.yaml's top-level keys changed, no page map and no downloads."""
    path = project / "source" / "book.yaml"
    text = path.read_text(encoding="utf-8")
    for key, value in book.items():
        text = re.sub(rf"^{key}:.*$", f"{key}: {value}", text, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")
    validated = pipeline.check(pipeline.Project.at(project / "source"))
    return site_module.build(validated, Edition(), None, tiny_jpeg(), lambda _text: [], [])


def test_a_site_without_an_address_has_no_sitemap_and_says_so(project: Path) -> None:
    path = project / "source" / "book.yaml"
    path.write_text(re.sub(r"^web:\n  url: .*\n", "", path.read_text(encoding="utf-8"), flags=re.M))
    built = quick_site(project)
    assert "sitemap.xml" not in built.files and built.files["robots.txt"] == b"User-agent: *\nAllow: /\n"
    assert [(d.code, d.message) for d in built.warnings] == [
        (
            "D051",
            "no `web.url` in book.yaml: the site has no sitemap.xml, and its link previews name the "
            "cover by a relative address",
        )
    ]
    assert b'<meta property="og:image" content="../cover.jpg">' in built.files["start/about.html"]


def test_the_search_of_a_book_not_in_english_warns_that_it_stems_english(project: Path) -> None:
    built = quick_site(project, language="fr")
    assert [(d.code, d.message) for d in built.warnings] == [
        (
            "D050",
            "the web edition's search knows English word forms only: in `fr` text it finds a word as "
            "written, not always its other forms",
        )
    ]


def test_the_author_can_switch_the_sitemap_and_robots_off(project: Path) -> None:
    path = project / "source" / "book.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "  sitemap: false\n", encoding="utf-8")
    built = quick_site(project)
    assert "sitemap.xml" not in built.files and "robots.txt" not in built.files
    assert built.warnings == ()


def test_a_web_address_that_is_not_http_is_refused(project: Path, cli: Any) -> None:
    path = project / "source" / "book.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(BASE_URL, "ftp://example.org/guide"))
    result = cli("check", str(project / "source"))
    assert result.exit_code == 1
    assert "error C014: `web.url` is not valid (found `ftp://example.org/guide`)" in result.stderr
    assert "hint: write the site's address, starting http:// or https://" in result.stderr


def test_a_gated_build_publishes_no_stage_beyond_its_own(project: Path) -> None:
    validated = pipeline.check(pipeline.Project.at(project / "source"))
    book = validated.companion.book
    every = stages.stages(book)
    limit = Edition(through="part-one").bind(book)
    assert [s.id for s in stages.within(every, limit)] == ["start", "part-one"]
    assert [s.id for s in stages.within(every, Edition())] == list(STAGES)
    assert [stages.label(s) for s in every[:2]] == ["Before you start", "Finished Part One"]
    assert stages.edition(every[-1], book, Edition()) == Edition()  # the last stage is everything
    built = site_module.build(validated, limit, None, tiny_jpeg(), lambda _text: [], [])
    assert {name.split("/")[0] for name in built.files if name.endswith(".html")} == {
        "index.html",
        "start",
        "part-one",
    }


def test_the_site_replaces_the_old_folder_whole(tmp_path: Path) -> None:
    from companion.core.write import write_tree

    folder = tmp_path / "web"
    write_tree(folder, {"old.html": b"old", "a/b.txt": b"1"})
    write_tree(folder, {"a/b.txt": b"2"}, lambda tmp: (tmp / "extra.xml").write_bytes(b"x"))
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "a/b.txt",
        "extra.xml",
    ]

    def fail(_tmp: Path) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_tree(folder, {"new.html": b"new"}, fail)
    assert (folder / "a" / "b.txt").read_bytes() == b"2" and not (folder / "new.html").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["web"]  # no temporary folder left behind
