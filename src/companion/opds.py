"""An OPDS 1.2 acquisition feed for a folder of built books, for reading apps (KOReader, Thorium, ...).

The files are grouped by slug: `<slug>.epub`, `<slug>.kepub.epub`, `<slug>.pdf`, the cover
`<slug>-cover.jpg` and its small `<slug>-thumbnail.jpg` make one entry. Title, author, language,
summary, identifier and date come from the EPUB's own package document. Links are relative to the
feed, so the folder works both under `companion serve` and under any static web server. The output
depends only on the files: no clock is read (the feed's `updated` is the newest book's).
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

from lxml import etree
from PIL import Image

from . import gate
from .write import write_atomic

ATOM = "http://www.w3.org/2005/Atom"
DCTERMS = "http://purl.org/dc/terms/"
OPDS = "http://opds-spec.org/2010/catalog"
OPF = "http://www.idpf.org/2007/opf"
DC = "http://purl.org/dc/elements/1.1/"
CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"

FEED_TYPE = "application/atom+xml;profile=opds-catalog;kind=acquisition"
CATALOG_NAME = "catalog.xml"
ACQUISITION = "http://opds-spec.org/acquisition"
IMAGE = "http://opds-spec.org/image"
THUMBNAIL = "http://opds-spec.org/image/thumbnail"
THUMBNAIL_SIZE = (200, 300)
EPOCH = "1970-01-01T00:00:00Z"
MAX_OPF_BYTES = 4 * 1024 * 1024
MAX_COVER_BYTES = 20 * 1024 * 1024
MAX_COVER_PIXELS = 40_000_000

# (suffix, media type, link title), longest suffix first: the kepub also ends in ".epub".
BOOK_FILES = (
    (".kepub.epub", "application/kepub+zip", "Kobo EPUB (kepub)"),
    (".epub", "application/epub+zip", "EPUB"),
    (".pdf", "application/pdf", "PDF (print edition)"),
)
LINK_ORDER = ("application/epub+zip", "application/kepub+zip", "application/pdf")  # what apps offer first
COVER_SUFFIX = "-cover.jpg"
THUMBNAIL_SUFFIX = "-thumbnail.jpg"
NOT_BOOKS = ("-cover.pdf",)  # the print cover wrap is not something to read
CONTENT_TYPES = {
    ".kepub.epub": "application/kepub+zip",
    ".epub": "application/epub+zip",
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".xml": "application/xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass
class Entry:
    slug: str
    files: dict[str, str] = field(default_factory=dict)  # media type -> file name
    cover: str | None = None
    thumbnail: str | None = None


@dataclass(frozen=True)
class Metadata:
    identifier: str
    title: str
    authors: tuple[str, ...]
    language: str
    summary: str
    updated: str
    publisher: str = ""
    issued: str = ""


def listing(folder: Path) -> dict[str, Path]:
    """The files that may be published from `folder`, by exact name: regular files (or symlinks to
    regular files inside the folder) whose names are not hidden and contain no control characters."""
    root = folder.resolve()
    found: dict[str, Path] = {}
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return found
    for path in entries:
        name = path.name
        if name.startswith(".") or any(ord(ch) < 32 or ord(ch) == 127 for ch in name) or "\\" in name:
            continue
        try:
            if path.is_symlink():
                target = path.resolve(strict=True)
                if not target.is_relative_to(root) or not target.is_file():
                    continue
            elif not path.is_file():
                continue
        except (OSError, RuntimeError):
            continue
        found[name] = path
    return found


def content_type(name: str) -> str:
    lower = name.lower()
    if lower == CATALOG_NAME:
        return FEED_TYPE
    return next(
        (kind for suffix, kind in CONTENT_TYPES.items() if lower.endswith(suffix)), "application/octet-stream"
    )


def entries(names: list[str] | dict[str, Path]) -> list[Entry]:
    """Group file names into books by slug, in slug order."""
    books: dict[str, Entry] = {}
    for name in sorted(names):
        if name.endswith(NOT_BOOKS):
            continue
        for suffix, kind, _title in BOOK_FILES:
            if name.endswith(suffix) and len(name) > len(suffix):
                slug = name[: -len(suffix)]
                books.setdefault(slug, Entry(slug)).files[kind] = name
                break
    for name in sorted(names):
        for suffix, attribute in ((COVER_SUFFIX, "cover"), (THUMBNAIL_SUFFIX, "thumbnail")):
            slug = name[: -len(suffix)]
            if name.endswith(suffix) and slug in books:
                setattr(books[slug], attribute, name)
    return [books[slug] for slug in sorted(books)]


def read_metadata(epub: Path) -> Metadata | None:
    """The package metadata of an EPUB file, or None when it cannot be read."""
    try:
        with zipfile.ZipFile(epub) as archive:
            container = _parse(_read(archive, "META-INF/container.xml"))
            rootfile = container.find(f".//{{{CONTAINER}}}rootfile")
            if rootfile is None or not rootfile.get("full-path"):
                return None
            package = _parse(_read(archive, rootfile.get("full-path", "")))
    except Exception:  # someone else's file: zip, zlib, XML and encoding errors all mean "unreadable"
        return None
    meta = package.find(f"{{{OPF}}}metadata")
    if meta is None:
        return None

    def texts(tag: str) -> list[str]:
        return [" ".join("".join(e.itertext()).split()) for e in meta.iterfind(f"{{{DC}}}{tag}")]

    unique = package.get("unique-identifier")
    identifiers = [e for e in meta.iterfind(f"{{{DC}}}identifier") if e.text and e.text.strip()]
    chosen = next((e for e in identifiers if unique and e.get("id") == unique), None)
    chosen = chosen if chosen is not None else (identifiers[0] if identifiers else None)
    modified = next(
        (
            e.text
            for e in meta.iterfind(f"{{{OPF}}}meta")
            if e.get("property") == "dcterms:modified" and e.text
        ),
        None,
    )
    dates = texts("date")
    title = next(iter(texts("title")), "") or epub.name
    return Metadata(
        identifier=chosen.text.strip() if chosen is not None and chosen.text else "",
        title=title,
        authors=tuple(a for a in texts("creator") if a),
        language=next(iter(texts("language")), ""),
        summary=next(iter(texts("description")), ""),
        updated=_timestamp(modified or (dates[0] if dates else "")) or EPOCH,
        publisher=next(iter(texts("publisher")), ""),
        issued=dates[0] if dates else "",
    )


def catalog_xml(folder: Path) -> bytes:
    """The OPDS 1.2 acquisition feed for the books in `folder` (UTF-8 Atom bytes)."""
    files = listing(folder)
    books = [(entry, _metadata(entry, files)) for entry in entries(files)]
    # Every timestamp is normalised to UTC "YYYY-MM-DDTHH:MM:SSZ", which sorts as text.
    updated = max((meta.updated for _entry, meta in books), default=EPOCH)
    ids = "\n".join(meta.identifier for _entry, meta in books)
    nsmap = {None: ATOM, "dc": DCTERMS, "opds": OPDS}
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap=nsmap)  # type: ignore[dict-item]
    _sub(feed, "id", f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'companion-opds:' + ids)}")
    _sub(feed, "title", _feed_title(books))
    _sub(feed, "updated", updated)
    author = _sub(feed, "author")
    _sub(author, "name", "companion")
    _link(feed, "self", CATALOG_NAME, FEED_TYPE)
    _link(feed, "start", CATALOG_NAME, FEED_TYPE)
    for entry, meta in books:
        element = _sub(feed, "entry")
        _sub(element, "title", meta.title)
        for name in meta.authors or ("Unknown",):
            _sub(_sub(element, "author"), "name", name)
        _sub(element, "id", meta.identifier)
        _sub(element, "updated", meta.updated)
        if meta.language:
            _sub(element, f"{{{DCTERMS}}}language", meta.language)
        if meta.publisher:
            _sub(element, f"{{{DCTERMS}}}publisher", meta.publisher)
        if meta.issued:
            _sub(element, f"{{{DCTERMS}}}issued", meta.issued)
        if meta.summary:
            _sub(element, "summary", meta.summary).set("type", "text")
        if entry.cover:
            _link(element, IMAGE, entry.cover, "image/jpeg")
            _link(element, THUMBNAIL, entry.thumbnail or entry.cover, "image/jpeg")
        for _suffix, kind, title in sorted(BOOK_FILES, key=lambda item: LINK_ORDER.index(item[1])):
            book = entry.files.get(kind)
            if book:
                link = _link(element, ACQUISITION, book, kind)
                link.set("title", title)
                link.set("length", str(files[book].stat().st_size))
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)


def thumbnail_jpeg(cover: bytes, size: tuple[int, int] = THUMBNAIL_SIZE) -> bytes:
    """A small JPEG of the cover for catalog lists (same bytes for the same cover)."""
    with Image.open(io.BytesIO(cover)) as image:
        if image.width * image.height > MAX_COVER_PIXELS:
            raise ValueError("cover too large")
        small = image.convert("RGB")
        small.thumbnail(size, Image.Resampling.LANCZOS)
        out = io.BytesIO()
        small.save(out, "JPEG", quality=85, optimize=True, progressive=False)
    return out.getvalue()


def write_catalog(folder: Path, skipped: list[Path] | None = None) -> list[Path]:
    """Write `<slug>-thumbnail.jpg` for every book with a cover, then `catalog.xml`, atomically.
    A cover that is not a readable image (someone else's file in the folder) gets no thumbnail and
    is added to `skipped`."""
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
    path = folder / CATALOG_NAME
    write_atomic(path, catalog_xml(folder))
    written.append(path)
    return written


def _metadata(entry: Entry, files: dict[str, Path]) -> Metadata:
    for kind in ("application/epub+zip", "application/kepub+zip"):
        if kind in entry.files:
            found = read_metadata(files[entry.files[kind]])
            if found is not None:
                if not found.identifier:
                    found = replace(found, identifier=f"urn:companion:{quote(entry.slug)}")
                return found
    newest = max(files[name].stat().st_mtime for name in entry.files.values())
    stamp = dt.datetime.fromtimestamp(int(newest), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Metadata(f"urn:companion:{quote(entry.slug)}", entry.slug, (), "", "", stamp)


def _feed_title(books: list[tuple[Entry, Metadata]]) -> str:
    if len(books) == 1:
        return books[0][1].title
    return "Books"


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_OPF_BYTES:
        raise ValueError(f"{name} is too large")
    return archive.read(info)


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(data, parser)


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _timestamp(text: str) -> str:
    """An RFC 3339 timestamp (as Atom needs) from an OPF date, or '' when it is not one."""
    text = text.strip()
    match = _DATE.match(text)
    if match:
        year, month, day = match.group(1), match.group(2) or "01", match.group(3) or "01"
        return f"{year}-{month}-{day}T00:00:00Z"
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):  # not a date, or one that leaves the calendar in UTC
        return ""


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag if tag.startswith("{") else f"{{{ATOM}}}{tag}")
    if text is not None:
        element.text = _clean(text)
    return element


def _link(parent: etree._Element, rel: str, name: str, kind: str) -> etree._Element:
    """A link to a file in the same folder: a relative, percent-encoded href."""
    return etree.SubElement(parent, f"{{{ATOM}}}link", rel=rel, href=quote(name, safe=""), type=kind)


def _clean(text: str) -> str:
    """Drop characters XML 1.0 cannot hold."""
    return "".join(ch for ch in text if ch in "\t\n\r" or (ord(ch) >= 32 and ch not in "\ufffe\uffff"))
