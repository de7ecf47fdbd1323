"""The catalogs as the standards define them: every OPDS 1.2 feed `serve` answers and the build writes,
validated against the Atom RELAX NG schema of RFC 4287 (tests/data/atom.rnc) with the OPDS 1.2 rules
checked in code; the OPDS 2.0 feed validated against the JSON Schemas in ../shared/schemas/opds2/;
a navigation feed and pages for a folder of several books."""

from __future__ import annotations

import io
import json
import re
import threading
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import pytest
import rnc2rng
from jsonschema import Draft7Validator, FormatChecker
from lxml import etree
from referencing import Registry, Resource

from companion.deliver import opds
from companion.deliver.serve import CatalogServer, make_server

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE.parent.parent / "shared" / "schemas" / "opds2"
ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/terms/}"
ACQUISITION = "http://opds-spec.org/acquisition"
SLUG = "never-let-me-go"


@pytest.fixture(scope="module")
def atom_schema() -> etree.RelaxNG:
    grammar = rnc2rng.dumps(rnc2rng.load(str(HERE / "data" / "atom.rnc")))
    # rnc2rng declares the schema's `namespace local = ""` as xmlns:local="", which XML forbids;
    # the grammar itself spells that namespace as ns="", so the declaration can go.
    return etree.RelaxNG(etree.fromstring(grammar.replace('xmlns:local=""', "").encode()))


def check_atom(schema: etree.RelaxNG, data: bytes) -> etree._Element:
    """Valid against RFC 4287's schema, and the rules RELAX NG cannot say (RFC 4287 and OPDS 1.2)."""
    root = etree.fromstring(data)
    assert schema.validate(root), schema.error_log
    ids = [element.text or "" for element in root.iter(f"{ATOM}id")]
    assert len(ids) == len(set(ids)), ids  # the feed's own id and each entry's are different
    for text in ids:  # RFC 4122 section 3: a UUID URN is urn:uuid: and the UUID, nothing after it
        if text.startswith("urn:uuid:"):
            assert str(uuid.UUID(text.removeprefix("urn:uuid:"))) == text.removeprefix("urn:uuid:"), text
    entries = [root] if root.tag == f"{ATOM}entry" else root.findall(f"{ATOM}entry")
    for entry in entries:
        # RFC 4287 4.1.1: an author on the feed or on every entry; 4.1.2: no content -> an alternate link.
        assert root.find(f"{ATOM}author") is not None or entry.find(f"{ATOM}author") is not None
        rels = [link.get("rel", "alternate") for link in entry.iter(f"{ATOM}link")]
        if entry.find(f"{ATOM}content") is None:
            assert "alternate" in rels, etree.tostring(entry)
        for link in entry.iter(f"{ATOM}link"):  # OPDS 1.2: every link has a type
            assert link.get("type"), etree.tostring(link)
    if root.tag == f"{ATOM}feed":
        rels = {link.get("rel") for link in root.findall(f"{ATOM}link")}
        assert {"self", "start"} <= rels
        kind = next(link.get("type") for link in root.findall(f"{ATOM}link") if link.get("rel") == "self")
        if kind == opds.NAVIGATION_TYPE:  # OPDS 1.2 section 7: navigation entries link feeds, have content
            for entry in entries:
                assert entry.find(f"{ATOM}content") is not None
                assert all("profile=opds-catalog" in (x.get("type") or "") for x in entry.iter(f"{ATOM}link"))
    return root


@pytest.fixture(scope="module")
def opds2_validator() -> Draft7Validator:
    resources = []
    for path in sorted(SCHEMAS.rglob("*.schema.json")):
        text = path.read_text(encoding="utf-8")
        # The schemas are written for JavaScript regular expressions: (?<name>...) is (?P<name>...).
        text = re.sub(r"\(\?<(?![=!])", "(?P<", text)
        url = "https://" + path.relative_to(SCHEMAS).as_posix()
        resources.append((url, Resource.from_contents(json.loads(text))))
    registry: Registry[Any] = Registry().with_resources(resources)
    feed = registry.contents("https://drafts.opds.io/schema/feed.schema.json")
    return Draft7Validator(feed, registry=registry, format_checker=FormatChecker())


def check_opds2(validator: Draft7Validator, data: bytes) -> dict[str, Any]:
    value = json.loads(data)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    return value


def epub(identifier: str, title: str, modified: str) -> bytes:
    opf = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="uid">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="uid">{identifier}</dc:identifier>
<dc:title>{title}</dc:title><dc:creator>Someone</dc:creator><dc:language>en</dc:language>
<dc:date>{modified[:10]}</dc:date><dc:subject>Fiction</dc:subject><dc:rights>CC0</dc:rights>
<meta property="dcterms:modified">{modified}</meta></metadata><manifest/><spine/></package>"""
    container = """<?xml version="1.0"?><container version="1.0"
xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>
<rootfile full-path="OPS/book.opf" media-type="application/oebps-package+xml"/></rootfiles></container>"""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr("META-INF/container.xml", container)
        archive.writestr("OPS/book.opf", opf)
    return out.getvalue()


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory, built: Path) -> Path:
    """Five books: four small ones and the bundled companion with its cover."""
    folder = tmp_path_factory.mktemp("shelf")
    for number in range(1, 5):
        (folder / f"book-{number}.epub").write_bytes(
            epub(f"urn:x:{number}", f"Book {number}", f"2030-0{number}-01T00:00:00Z")
        )
    for name in (f"{SLUG}.epub", f"{SLUG}.kepub.epub", f"{SLUG}-cover.jpg"):
        (folder / name).write_bytes((built / name).read_bytes())
    opds.write_catalog(folder)
    return folder


def serving(folder: Path, page_size: int) -> Iterator[CatalogServer]:
    server = make_server(folder, "127.0.0.1", 0, page_size=page_size)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def paged(shelf: Path) -> Iterator[CatalogServer]:
    yield from serving(shelf, 2)


def fetch(url: str, accept: str = "*/*") -> tuple[bytes, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read(), response.headers["Content-Type"]


def test_the_bundled_catalog_validates_and_has_every_field(atom_schema: etree.RelaxNG, built: Path) -> None:
    feed = check_atom(atom_schema, (built / "catalog.xml").read_bytes())
    [entry] = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}published") == "2026-11-23T00:00:00Z"
    assert entry.findtext(f"{ATOM}updated") == "2026-11-23T00:00:00Z"
    assert entry.findtext(f"{ATOM}rights", "").startswith("Text © 2026 Hailsham Reading Circle")
    assert entry.findtext(f"{DC}identifier") == entry.findtext(f"{ATOM}id")
    assert entry.findtext(f"{DC}language") == "en-GB"
    assert [c.get("term") for c in entry.findall(f"{ATOM}category")] == ["Never Let Me Go (Kazuo Ishiguro)"]
    links = {link.get("rel"): link for link in entry.findall(f"{ATOM}link")}
    assert links["http://opds-spec.org/image"].get("href") == f"{SLUG}-cover.jpg"
    assert links["http://opds-spec.org/image/thumbnail"].get("href") == f"{SLUG}-thumbnail.jpg"
    alternate = links["alternate"]
    assert alternate.get("type") == opds.ENTRY_TYPE
    complete = check_atom(atom_schema, (built / alternate.get("href", "")).read_bytes())
    assert complete.findtext(f"{ATOM}id") == entry.findtext(f"{ATOM}id")
    feed_links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert feed_links["alternate"] == "catalog.json"


def test_the_bundled_opds2_feed_validates(opds2_validator: Draft7Validator, built: Path) -> None:
    value = check_opds2(opds2_validator, (built / "catalog.json").read_bytes())
    [publication] = value["publications"]
    feed = etree.fromstring((built / "catalog.xml").read_bytes())
    [entry] = feed.findall(f"{ATOM}entry")
    assert publication["metadata"]["identifier"] == entry.findtext(f"{ATOM}id")
    assert publication["metadata"]["title"] == entry.findtext(f"{ATOM}title")
    atom_links = [
        (x.get("href"), x.get("type"), int(x.get("length", "0")))
        for x in entry.findall(f"{ATOM}link")
        if x.get("rel") == ACQUISITION
    ]
    json_links = [(x["href"], x["type"], x["size"]) for x in publication["links"] if x["rel"] == ACQUISITION]
    assert json_links == atom_links and len(json_links) == 3
    assert [i["href"] for i in publication["images"]] == [f"{SLUG}-cover.jpg", f"{SLUG}-thumbnail.jpg"]
    assert {"rel": "alternate", "href": "catalog.xml", "type": opds.FEED_TYPE} in value["links"]


def test_opds2_schema_catches_a_broken_feed(opds2_validator: Draft7Validator, built: Path) -> None:
    value = json.loads((built / "catalog.json").read_bytes())
    del value["publications"][0]["links"][0]["href"]
    value["metadata"]["modified"] = "yesterday"
    value["publications"][0]["images"][0]["href"] = "not a URI reference:"
    value["links"][0]["href"] = "http://[bad"
    errors = {(tuple(e.path), e.validator) for e in opds2_validator.iter_errors(value)}
    assert (("metadata", "modified"), "format") in errors  # date-time: needs rfc3339-validator
    assert (("links", 0, "href"), "format") in errors  # uri: needs rfc3986-validator
    assert any(path[:2] == ("publications", 0) and rule == "required" for path, rule in errors)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("date-time", "2026-11-23"),
        ("uri", "catalog.json"),
        ("uri-reference", "a b:c"),
        ("uri-template", "{a"),
    ],
)
def test_the_format_checker_checks_every_format_the_schemas_use(name: str, bad: str) -> None:
    """jsonschema silently passes a format it has no checker for (the checkers are optional packages)."""
    checker = FormatChecker()
    used = {
        match
        for path in SCHEMAS.rglob("*.schema.json")
        for match in re.findall(r'"format":\s*"([^"]+)"', path.read_text(encoding="utf-8"))
    }
    assert used <= set(checker.checkers), used - set(checker.checkers)
    assert not checker.conforms(bad, name)


def test_several_books_get_a_navigation_feed(
    atom_schema: etree.RelaxNG, opds2_validator: Draft7Validator, paged: CatalogServer
) -> None:
    data, kind = fetch(paged.url)
    assert kind == opds.NAVIGATION_TYPE
    start = check_atom(atom_schema, data)
    hrefs = [entry.find(f"{ATOM}link").get("href") for entry in start.findall(f"{ATOM}entry")]  # type: ignore[union-attr]
    assert hrefs == ["catalog.xml", "catalog.xml?sort=new"]
    json_start, json_kind = fetch(paged.url, accept="application/opds+json")
    assert json_kind == "application/opds+json"
    check_opds2(opds2_validator, json_start)


@pytest.mark.parametrize("first", ["catalog.xml", "catalog.xml?sort=new"])
def test_pages_link_every_book_once(
    atom_schema: etree.RelaxNG, paged: CatalogServer, shelf: Path, first: str
) -> None:
    url, seen, pages = urljoin(paged.url, first), [], 0
    while url:
        feed = check_atom(atom_schema, fetch(url)[0])
        links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
        assert links["start"] == "./" and links["up"] == "./"
        assert int(feed.findtext("{http://a9.com/-/spec/opensearch/1.1/}totalResults", "0")) == 5
        seen += [entry.findtext(f"{ATOM}id") for entry in feed.findall(f"{ATOM}entry")]
        assert ("previous" in links) == (pages > 0)
        pages += 1
        url = urljoin(url, links["next"]) if "next" in links else ""
    assert pages == 3 and len(seen) == 5 and len(set(seen)) == 5
    if "sort=new" in first:
        assert seen[:4] == ["urn:x:4", "urn:x:3", "urn:x:2", "urn:x:1"]  # the companion is from 2026


def test_opds2_pages(opds2_validator: Draft7Validator, paged: CatalogServer) -> None:
    url, seen = urljoin(paged.url, "catalog.json"), []
    while url:
        value = check_opds2(opds2_validator, fetch(url)[0])
        assert value["metadata"]["numberOfItems"] == 5 and value["metadata"]["itemsPerPage"] == 2
        seen += [p["metadata"]["identifier"] for p in value["publications"]]
        following = [link["href"] for link in value["links"] if link["rel"] == "next"]
        url = urljoin(url, following[0]) if following else ""
    assert len(seen) == 5 and len(set(seen)) == 5


def test_empty_folder(atom_schema: etree.RelaxNG, opds2_validator: Draft7Validator, tmp_path: Path) -> None:
    check_atom(atom_schema, opds.catalog_xml(tmp_path))
    opds.write_catalog(tmp_path)
    check_opds2(opds2_validator, (tmp_path / "catalog.json").read_bytes())


def test_feedparser_reads_every_feed(built: Path, paged: CatalogServer) -> None:
    """A feed reader's parser (feedparser, as Python OPDS clients use) reads every feed without a
    complaint and finds each field an OPDS client shows."""
    feed = feedparser.parse((built / "catalog.xml").read_bytes())
    assert not feed.bozo and feed.version == "atom10"
    [entry] = feed.entries
    assert entry.title == "Never Let Me Go: A Reader\u2019s Companion" and entry.id.startswith("urn:uuid:")
    assert entry.updated_parsed[:3] == (2026, 11, 23) and entry.published_parsed[:3] == (2026, 11, 23)
    assert entry.rights.startswith("Text © 2026") and [t.term for t in entry.tags] == [
        "Never Let Me Go (Kazuo Ishiguro)"
    ]
    assert entry.dcterms_identifier == entry.id and entry.dcterms_language == "en-GB"
    links = {(link.rel, link.href): link for link in entry.links}
    assert ("alternate", f"{SLUG}-entry.xml") in links
    assert ("http://opds-spec.org/image/thumbnail", f"{SLUG}-thumbnail.jpg") in links
    download = links[(ACQUISITION, f"{SLUG}.kepub.epub")]
    assert download.type == "application/kepub+zip"
    assert int(download.length) == (built / f"{SLUG}.kepub.epub").stat().st_size
    complete = feedparser.parse((built / f"{SLUG}-entry.xml").read_bytes())
    assert not complete.bozo and complete.entries[0].id == entry.id
    for path in ("", "catalog.xml", "catalog.xml?page=2", "catalog.xml?sort=new&page=3"):
        served = feedparser.parse(fetch(urljoin(paged.url, path))[0])
        assert not served.bozo and served.version == "atom10" and served.entries, path


def _drop(root: etree._Element, path: str) -> None:
    found = root.find(path)
    assert found is not None
    found.getparent().remove(found)  # type: ignore[union-attr]


def _set(root: etree._Element, path: str, key: str | None, value: str) -> None:
    found = root.find(path)
    assert found is not None
    if key is None:
        found.text = value
    elif value:
        found.set(key, value)
    else:
        del found.attrib[key]


BREAKS: list[tuple[str, Callable[[etree._Element], None]]] = [
    ("an entry without its id", lambda r: _drop(r, f"{ATOM}entry/{ATOM}id")),
    ("a feed without its title", lambda r: _drop(r, f"{ATOM}title")),
    ("a date that is no date-time", lambda r: _set(r, f"{ATOM}entry/{ATOM}updated", None, "2026-11-23")),
    ("a link without href", lambda r: _set(r, f"{ATOM}entry/{ATOM}link", "href", "")),
    ("a media type that is none", lambda r: _set(r, f"{ATOM}entry/{ATOM}link", "type", "jpeg")),
    ("two titles", lambda r: r.find(f"{ATOM}entry").append(etree.Element(f"{ATOM}title"))),  # type: ignore[union-attr]
]


@pytest.mark.parametrize(("what", "breaking"), BREAKS, ids=[b[0] for b in BREAKS])
def test_the_atom_schema_refuses_a_broken_feed(
    atom_schema: etree.RelaxNG, built: Path, what: str, breaking: Callable[[etree._Element], None]
) -> None:
    """The RELAX NG schema is no rubber stamp: each of RFC 4287's rules broken once is refused."""
    root = etree.fromstring((built / "catalog.xml").read_bytes())
    assert atom_schema.validate(root)
    breaking(root)
    assert not atom_schema.validate(root), what
