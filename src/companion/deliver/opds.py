"""OPDS 1.2 (Atom) feeds for a folder of built books, for reading apps (KOReader, Thorium, ...).

- the acquisition feed: one entry per book with its dates (`published`, `updated`), language,
  identifier, rights, categories, summary, cover and thumbnail, a download link per file, and the
  `rel="alternate"` link RFC 4287 requires of an entry without `<content>` (to the book's complete
  entry document); paged with first/previous/next/last links when `page_size` is given;
- the navigation feed, which `companion serve` answers at `/` when the folder holds several books;
- the complete entry document of one book (`<slug>-entry.xml`).
Every feed links the OPDS 2.0 feed (`catalog.json`, opds2.py) as an alternate. Links are relative to
the feed, so the folder works under `companion serve` and under any static web server. The output
depends only on the files: no clock is read (a feed's `updated` is its newest book's).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from PIL import Image

from companion.core import gate
from companion.core.errors import Diagnostic, diagnostic
from companion.core.write import write_atomic
from companion.deliver import opds2
from companion.deliver.opds_books import (
    ATOM_FEED_TYPE,
    CATALOG_JSON,
    CATALOG_XML,
    ENTRY_SUFFIX,
    ENTRY_TYPE,
    EPOCH,
    JSON_FEED_TYPE,
    MAX_COVER_BYTES,
    THUMBNAIL_SUFFIX,
    Book,
    books,
    entries,
    listing,
    thumbnail_jpeg,
)
from companion.deliver.opds_books import quote_name as _file

__all__ = ["catalog_xml", "content_type", "entries", "listing", "thumbnail_jpeg", "write_catalog"]

ATOM = "http://www.w3.org/2005/Atom"
DCTERMS = "http://purl.org/dc/terms/"
OPDS = "http://opds-spec.org/2010/catalog"
OPENSEARCH = "http://a9.com/-/spec/opensearch/1.1/"

FEED_TYPE = ATOM_FEED_TYPE
NAVIGATION_TYPE = "application/atom+xml;profile=opds-catalog;kind=navigation"
CATALOG_NAME = CATALOG_XML
ACQUISITION = "http://opds-spec.org/acquisition"
IMAGE = "http://opds-spec.org/image"
THUMBNAIL = "http://opds-spec.org/image/thumbnail"
SORT_NEW = "http://opds-spec.org/sort/new"
CONTENT_TYPES = {
    ".kepub.epub": "application/kepub+zip",
    ".epub": "application/epub+zip",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ENTRY_SUFFIX: ENTRY_TYPE,
    ".xml": "application/xml",
    CATALOG_JSON: JSON_FEED_TYPE,
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class Page:
    """Where a feed sits: its own href, the catalog's start, and (when paged) its page of how many."""

    href: str = CATALOG_NAME
    start: str = CATALOG_NAME  # the catalog's first feed: this one, or a navigation feed (serve's `/`)
    number: int = 1
    size: int | None = None  # books per page; None: every book on one page
    newest_first: bool = False


def content_type(name: str) -> str:
    lower = name.lower()
    if lower == CATALOG_NAME:
        return FEED_TYPE
    return next(
        (kind for suffix, kind in CONTENT_TYPES.items() if lower.endswith(suffix)), "application/octet-stream"
    )


def catalog_xml(folder: Path) -> bytes:
    """The OPDS 1.2 acquisition feed for every book in `folder` (UTF-8 Atom bytes)."""
    return acquisition_feed(books(listing(folder)), Page())


def page_count(total: int, size: int | None) -> int:
    return max(1, math.ceil(total / size)) if size else 1


def acquisition_feed(found: Sequence[Book], page: Page) -> bytes:
    """An acquisition feed of `found`, or of the page of it that `page` names."""
    ordered = sorted(found, key=lambda b: b.meta.updated, reverse=True) if page.newest_first else found
    pages = page_count(len(ordered), page.size)
    number = min(max(page.number, 1), pages)
    shown = ordered[(number - 1) * page.size : number * page.size] if page.size else ordered
    feed = _feed(found, _feed_title(found), "acquisition" + (":new" if page.newest_first else ""))
    base = page.href.split("?", 1)[0]
    _link(feed, "self", _page_href(base, page.newest_first, number), FEED_TYPE)
    if page.start == base:
        _link(feed, "start", base, FEED_TYPE)
    else:
        _link(feed, "start", page.start, NAVIGATION_TYPE)
        _link(feed, "up", page.start, NAVIGATION_TYPE)
    _link(feed, "alternate", CATALOG_JSON, JSON_FEED_TYPE)
    if page.size:
        for rel, target in (("first", 1), ("previous", number - 1), ("next", number + 1), ("last", pages)):
            if 1 <= target <= pages and (rel in ("first", "last") or target != number):
                _link(feed, rel, _page_href(base, page.newest_first, target), FEED_TYPE)
        _sub(feed, f"{{{OPENSEARCH}}}totalResults", str(len(ordered)))
        _sub(feed, f"{{{OPENSEARCH}}}itemsPerPage", str(page.size))
        _sub(feed, f"{{{OPENSEARCH}}}startIndex", str((number - 1) * page.size + 1))
    for book in shown:
        _entry(feed, book)
    return _bytes(feed)


def _page_href(base: str, newest_first: bool, number: int) -> str:
    query = ["sort=new"] if newest_first else []
    query += [f"page={number}"] if number > 1 else []
    return base + ("?" + "&".join(query) if query else "")


def navigation_feed(found: Sequence[Book], catalog: str = CATALOG_NAME, start: str = "./") -> bytes:
    """The start of a catalog of several books: one entry leads to all of them, one to the newest first."""
    feed = _feed(found, "Books", "navigation")
    _link(feed, "self", start, NAVIGATION_TYPE)
    _link(feed, "start", start, NAVIGATION_TYPE)
    _link(feed, "alternate", CATALOG_JSON, JSON_FEED_TYPE)
    updated = _updated(found)
    for key, title, rel, href, text in (
        ("all", "All books", "subsection", catalog, f"All {len(found)} books, by title."),
        ("new", "Newest first", SORT_NEW, f"{catalog}?sort=new", "The same books, newest first."),
    ):
        entry = _sub(feed, "entry")
        _sub(entry, "title", title)
        _sub(entry, "id", _feed_id(found, key))
        _sub(entry, "updated", updated)
        _sub(entry, "content", text).set("type", "text")
        _link(entry, rel, href, FEED_TYPE)
    return _bytes(feed)


def entry_document(book: Book) -> bytes:
    """The complete OPDS entry of one book (what its `rel="alternate"` link points at)."""
    element = etree.Element(f"{{{ATOM}}}entry", nsmap=_NSMAP)  # type: ignore[arg-type]
    _fill(element, book)
    return _bytes(element)


def write_catalog(folder: Path, skipped: list[Path] | None = None) -> list[Path]:
    """Write `<slug>-thumbnail.jpg` for every book with a cover, each book's `<slug>-entry.xml`, then
    `catalog.xml` and `catalog.json`, each atomically. A cover that is not a readable image gets no
    thumbnail, and an EPUB that cannot be read is left out (someone else's files); both are added to
    `skipped`."""
    written = []
    files = listing(folder)
    for entry in entries(files):
        if entry.cover:
            path = folder / f"{entry.slug}{THUMBNAIL_SUFFIX}"
            try:
                small = thumbnail_jpeg(gate.read(files[entry.cover], folder.resolve(), MAX_COVER_BYTES))
            except (gate.Refused, OSError, ValueError, Image.DecompressionBombError):
                if skipped is not None:
                    skipped.append(files[entry.cover])
                continue
            write_atomic(path, small)
            written.append(path)
    found = books(listing(folder), skipped)
    for book in found:
        path = folder / f"{book.entry.slug}{ENTRY_SUFFIX}"
        write_atomic(path, entry_document(book))
        written.append(path)
    for name, data in (
        (CATALOG_NAME, acquisition_feed(found, Page())),
        (CATALOG_JSON, opds2.feed_json(found)),
    ):
        write_atomic(folder / name, data)
        written.append(folder / name)
    return written


_NSMAP = {None: ATOM, "dc": DCTERMS, "opds": OPDS, "opensearch": OPENSEARCH}


def _feed(found: Sequence[Book], title: str, kind: str) -> etree._Element:
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap=_NSMAP)  # type: ignore[arg-type]
    _sub(feed, "id", _feed_id(found, "" if kind == "acquisition" else kind))
    _sub(feed, "title", title)
    _sub(feed, "updated", _updated(found))
    _sub(_sub(feed, "author"), "name", "companion")
    return feed


def _feed_id(found: Sequence[Book], kind: str = "") -> str:
    """A stable `urn:uuid:` of the books (and the feed's kind): a UUID URN holds nothing after the UUID."""
    ids = "\n".join(book.meta.identifier for book in found) + (f"\n:{kind}" if kind else "")
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'companion-opds:' + ids)}"


def _updated(found: Sequence[Book]) -> str:
    return max((book.meta.updated for book in found), default=EPOCH)


def _entry(feed: etree._Element, book: Book) -> None:
    _fill(_sub(feed, "entry"), book)


def _fill(element: etree._Element, book: Book) -> None:
    meta, entry = book.meta, book.entry
    _sub(element, "title", meta.title)
    for name in meta.authors or ("Unknown",):
        _sub(_sub(element, "author"), "name", name)
    _sub(element, "id", meta.identifier)
    _sub(element, "updated", meta.updated)
    if meta.published:
        _sub(element, "published", meta.published)
    if meta.rights:
        _sub(element, "rights", meta.rights).set("type", "text")
    for subject in meta.subjects:
        etree.SubElement(element, f"{{{ATOM}}}category", term=_clean(subject), label=_clean(subject))
    _sub(element, f"{{{DCTERMS}}}identifier", meta.identifier)
    if meta.language:
        _sub(element, f"{{{DCTERMS}}}language", meta.language)
    if meta.publisher:
        _sub(element, f"{{{DCTERMS}}}publisher", meta.publisher)
    if meta.issued:
        _sub(element, f"{{{DCTERMS}}}issued", meta.issued)
    if meta.summary:
        _sub(element, "summary", meta.summary).set("type", "text")
    _link(element, "alternate", _file(f"{entry.slug}{ENTRY_SUFFIX}"), ENTRY_TYPE)
    if entry.cover:
        _link(element, IMAGE, _file(entry.cover), "image/jpeg")
        _link(element, THUMBNAIL, _file(entry.thumbnail or entry.cover), "image/jpeg")
    for kind, name, title in entry.downloads():
        link = _link(element, ACQUISITION, _file(name), kind)
        link.set("title", title)
        link.set("length", str(book.sizes.get(name, 0)))


def _feed_title(found: Sequence[Book]) -> str:
    return found[0].meta.title if len(found) == 1 else "Books"


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag if tag.startswith("{") else f"{{{ATOM}}}{tag}")
    if text is not None:
        element.text = _clean(text)
    return element


def _link(parent: etree._Element, rel: str, href: str, kind: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{ATOM}}}link", rel=rel, href=href, type=kind)


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot hold."""
    return "".join(ch for ch in text if ch in "\t\n\r" or (ord(ch) >= 32 and ch not in "\ufffe\uffff"))


def skipped_warning(path: Path) -> Diagnostic:
    """D020 for someone else's file that the catalog could not use (`write_catalog`'s `skipped`)."""
    if path.name.endswith(".epub"):
        return diagnostic(str(path), "D020", "not a readable EPUB; the catalog leaves it out")
    return diagnostic(str(path), "D020", "not a readable image; the catalog shows no thumbnail for it")
