"""What a folder of built books holds, for the catalogs (OPDS 1.2 in opds.py, OPDS 2.0 in opds2.py).

The files are grouped by slug: `<slug>.epub`, `<slug>.kepub.epub`, `<slug>.pdf`, the cover
`<slug>-cover.jpg` and its small `<slug>-thumbnail.jpg` make one book. Title, authors, language,
summary, identifier, rights, subjects and dates come from the EPUB's own package document. Nothing
here reads the clock: a book's dates are its own, so the catalogs depend only on the files.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import quote

from lxml import etree
from PIL import Image

OPF = "http://www.idpf.org/2007/opf"
DC = "http://purl.org/dc/elements/1.1/"
CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"
EPOCH = "1970-01-01T00:00:00Z"
# The two catalogs, beside the books (opds.py writes the first, opds2.py the second).
CATALOG_XML = "catalog.xml"
CATALOG_JSON = "catalog.json"
ATOM_FEED_TYPE = "application/atom+xml;profile=opds-catalog;kind=acquisition"
JSON_FEED_TYPE = "application/opds+json"
ENTRY_SUFFIX = "-entry.xml"
ENTRY_TYPE = "application/atom+xml;type=entry;profile=opds-catalog"
MAX_OPF_BYTES = 4 * 1024 * 1024
THUMBNAIL_SIZE = (200, 300)

# (suffix, media type, link title), longest suffix first: the kepub also ends in ".epub".
BOOK_FILES = (
    (".kepub.epub", "application/kepub+zip", "Kobo EPUB (kepub)"),
    (".epub", "application/epub+zip", "EPUB"),
    (".pdf", "application/pdf", "PDF (print edition)"),
)
EPUB_KINDS = ("application/epub+zip", "application/kepub+zip")
LINK_ORDER = ("application/epub+zip", "application/kepub+zip", "application/pdf")  # what apps offer first
COVER_SUFFIX = "-cover.jpg"
THUMBNAIL_SUFFIX = "-thumbnail.jpg"
NOT_BOOKS = ("-cover.pdf",)  # the print cover wrap is not something to read


@dataclass
class Entry:
    slug: str
    files: dict[str, str] = field(default_factory=dict)  # media type -> file name
    cover: str | None = None
    thumbnail: str | None = None

    def downloads(self) -> list[tuple[str, str, str]]:
        """(media type, file name, link title) of each book file, in the order apps should offer them."""
        return [
            (kind, self.files[kind], title)
            for _suffix, kind, title in sorted(BOOK_FILES, key=lambda item: LINK_ORDER.index(item[1]))
            if kind in self.files
        ]


@dataclass(frozen=True)
class Metadata:
    identifier: str
    title: str
    authors: tuple[str, ...]
    language: str
    summary: str
    updated: str  # RFC 3339, UTC
    publisher: str = ""
    issued: str = ""  # the OPF's dc:date as written (a W3CDTF date)
    published: str = ""  # the same as an RFC 3339 timestamp
    rights: str = ""
    subjects: tuple[str, ...] = ()


@dataclass(frozen=True)
class Book:
    entry: Entry
    meta: Metadata
    sizes: dict[str, int] = field(default_factory=dict)  # file name -> bytes, for every download


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


def quote_name(name: str) -> str:
    """The href of a file in the same folder as the catalog: relative and percent-encoded."""
    return quote(name, safe="")


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


def books(files: dict[str, Path], skipped: list[Path] | None = None) -> list[Book]:
    """Every book in the listing with its metadata, in slug order. An EPUB whose package cannot be
    read (someone else's file) is left out, and added to `skipped`; so is a book left with no file."""
    found = []
    for entry in entries(files):
        metas: dict[str, Metadata] = {}
        for kind in EPUB_KINDS:
            if kind in entry.files:
                meta = read_metadata(files[entry.files[kind]])
                if meta is None:
                    name = entry.files.pop(kind)
                    if skipped is not None:
                        skipped.append(files[name])
                else:
                    metas[kind] = meta
        if entry.files:
            sizes = {n: _size(files[n]) for n in entry.files.values()}
            found.append(Book(entry, _metadata(entry, files, metas), sizes))
    return found


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


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
        found = (" ".join("".join(e.itertext()).split()) for e in meta.iterfind(f"{{{DC}}}{tag}"))
        return [text for text in found if text]

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
    published = timestamp(dates[0]) if dates else ""
    return Metadata(
        identifier=chosen.text.strip() if chosen is not None and chosen.text else "",
        title=next(iter(texts("title")), "") or epub.name,
        authors=tuple(texts("creator")),
        language=next(iter(texts("language")), ""),
        summary=next(iter(texts("description")), ""),
        updated=timestamp(modified or "") or published or EPOCH,
        publisher=next(iter(texts("publisher")), ""),
        issued=dates[0] if dates else "",
        published=published,
        rights=next(iter(texts("rights")), ""),
        subjects=tuple(dict.fromkeys(texts("subject"))),
    )


MAX_COVER_BYTES = 20 * 1024 * 1024
MAX_COVER_PIXELS = 40_000_000


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


def _metadata(entry: Entry, files: dict[str, Path], metas: dict[str, Metadata]) -> Metadata:
    for kind in EPUB_KINDS:
        found = metas.get(kind)
        if found is not None:
            if not found.identifier:
                found = replace(found, identifier=f"urn:companion:{quote(entry.slug)}")
            return found
    newest = max(files[name].stat().st_mtime for name in entry.files.values())
    stamp = dt.datetime.fromtimestamp(int(newest), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Metadata(f"urn:companion:{quote(entry.slug)}", entry.slug, (), "", "", stamp)


def _read(archive: zipfile.ZipFile, name: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_OPF_BYTES:
        raise ValueError(f"{name} is too large")
    return archive.read(info)


def _parse(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(data, parser)


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def timestamp(text: str) -> str:
    """An RFC 3339 timestamp in UTC ("YYYY-MM-DDTHH:MM:SSZ", which sorts as text) from an OPF date,
    or '' when it is not one."""
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
