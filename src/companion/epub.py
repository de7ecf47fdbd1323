"""Package the EPUB: rendered XHTML documents, nav, NCX, styles, fonts, cover and metadata.

ebooklib writes the package (OPF, NCX, zip); our own templates write every XHTML document,
the nav included. The zip is then repacked with a fixed entry order and timestamps so that the
same source always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ebooklib import epub
from lxml import etree

from . import gate, markdown
from .model import Book
from .render import RenderedBook, environment

FONT_TYPES = {".otf": "font/otf", ".ttf": "font/ttf", ".woff2": "font/woff2", ".woff": "font/woff"}
STYLESHEETS = ("styles/base.css", "styles/epub.css")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PageBreak:
    label: str
    href: str


@dataclass(frozen=True)
class Resource:
    """A file placed in the package as is: name inside EPUB/, media type, bytes."""

    name: str
    media_type: str
    data: bytes
    properties: tuple[str, ...] = ()


def styles_resources(styles: Path) -> list[Resource]:
    """The style sheets and fonts, read through the gate (checked by stylecheck before a build)."""
    out = [Resource(name, "text/css", gate.styles_file(styles, Path(name).name)) for name in STYLESHEETS]
    for font in gate.entries(styles / "fonts"):
        if font.suffix.lower() in FONT_TYPES:
            data = gate.styles_file(styles, f"fonts/{font.name}", font=True)
            out.append(Resource(f"styles/fonts/{font.name}", FONT_TYPES[font.suffix.lower()], data))
    return out


def package(
    rendered: RenderedBook,
    resources: Sequence[Resource],
    *,
    modified: dt.datetime,
    page_list: Sequence[PageBreak] = (),
    summary: str = "",
) -> bytes:
    """The EPUB file's bytes."""
    book = rendered.validated.companion.book
    ebook = epub.EpubBook()
    ebook.FOLDER_NAME = "EPUB"
    _metadata(ebook, book, rendered, has_page_list=bool(page_list), summary=summary)
    uids: set[str] = set()
    for resource in resources:
        item = epub.EpubItem(
            uid=_uid(resource.name, uids),
            file_name=resource.name,
            media_type=resource.media_type,
            content=resource.data,
        )
        item.properties = list(resource.properties)
        ebook.add_item(item)
        if "cover-image" in resource.properties:
            ebook.add_metadata(None, "meta", "", {"name": "cover", "content": item.id})
    documents = {}
    for document in rendered.documents:
        item = epub.EpubItem(
            uid=document.section.id,
            file_name=document.section.file,
            media_type="application/xhtml+xml",
            content=document.html.encode("utf-8"),
        )
        ebook.add_item(item)
        documents[document.section.id] = item
    nav = epub.EpubItem(
        uid="nav",
        file_name="nav.xhtml",
        media_type="application/xhtml+xml",
        content=_nav(rendered, page_list).encode("utf-8"),
    )
    nav.properties = ["nav"]
    ebook.add_item(nav)
    ebook.add_item(epub.EpubNcx())
    ebook.toc = [epub.Link(s.file, markdown.plain(s.title), s.id) for s in rendered.sections if s.in_toc]
    spine = []
    for section in rendered.sections:
        spine.append(documents[section.id])
        if section.id == "copyright":
            spine.append(nav)
    ebook.spine = spine
    raw = io.BytesIO()
    epub.write_epub(
        raw,
        ebook,
        {
            "mtime": modified,
            "epub3_pages": False,
            "epub3_landmark": False,
            "epub2_guide": False,
            "compresslevel": 0,  # repack() compresses once, at the end
            "raise_exceptions": True,
        },
    )
    data = raw.getvalue()
    return repack(data, {OPF: _package_language(data, book.language)})


OPF = "EPUB/content.opf"


def _package_language(data: bytes, language: str) -> bytes:
    """The OPF with `xml:lang` on <package> (ebooklib leaves it out; Ace wants it)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        root = etree.fromstring(archive.read(OPF))
    root.set("{http://www.w3.org/XML/1998/namespace}lang", language)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _uid(name: str, taken: set[str]) -> str:
    """A manifest id from the file's name, made unique among `taken` (images/a/x.png and images/b/x.png)
    with a hash of the whole path; `res-` ids are reserved (validate refuses them for content)."""
    stem = name.rsplit("/", 1)[-1]
    uid = "res-" + "".join(ch if ch.isalnum() else "-" for ch in stem).strip("-").lower()
    if uid in taken:
        uid += "-" + hashlib.sha256(name.encode()).hexdigest()[:10]
    taken.add(uid)
    return uid


def _metadata(
    ebook: epub.EpubBook, book: Book, rendered: RenderedBook, *, has_page_list: bool, summary: str
) -> None:
    ebook.set_identifier(book.identifier)
    ebook.set_title(
        markdown.plain(book.full_title) + ("" if rendered.edition.spoilers else " (Spoiler-Free Edition)")
    )
    ebook.set_language(book.language)
    ebook.add_author(markdown.plain(book.author), uid="creator")
    ebook.add_metadata("DC", "date", book.published.isoformat())
    ebook.add_metadata("DC", "description", markdown.plain(book.description))
    ebook.add_metadata("DC", "subject", markdown.plain(f"{book.novel.title} ({book.novel.author})"))
    if book.publisher:
        ebook.add_metadata("DC", "publisher", markdown.plain(book.publisher))
    if book.rights:
        ebook.add_metadata("DC", "rights", markdown.plain(book.rights))
    # Every image, the cover included, has alt text (validate refuses an image without it).
    features = ["tableOfContents", "readingOrder", "structuralNavigation", "alternativeText"]
    if has_page_list:
        features += ["pageNavigation", "printPageNumbers"]
    for prop, values in (
        ("schema:accessMode", ["textual", "visual"]),
        ("schema:accessModeSufficient", ["textual"]),
        ("schema:accessibilityFeature", features),
        ("schema:accessibilityHazard", ["none"]),
    ):
        for value in values:
            ebook.add_metadata(None, "meta", value, {"property": prop})
    ebook.add_metadata(
        None, "meta", summary or _summary(has_page_list), {"property": "schema:accessibilitySummary"}
    )
    ebook.add_metadata(
        None, "meta", "EPUB Accessibility 1.1 - WCAG 2.2 Level AA", {"property": "dcterms:conformsTo"}
    )
    if has_page_list:
        source = f"{markdown.plain(book.full_title)}, print edition ({book.print.trim} in)"
        ebook.add_metadata(None, "meta", source, {"property": "pageBreakSource"})


def _summary(has_page_list: bool) -> str:
    text = (
        "A reading guide whose content is all in text: the cover and every image have a text "
        "alternative. It has a table of contents, headings in order, semantic structure and "
        "footnotes as linked notes; no hazards."
    )
    if has_page_list:
        text += " Page numbers follow the print edition."
    return text


def _nav(rendered: RenderedBook, page_list: Sequence[PageBreak]) -> str:
    sections = rendered.sections
    body_start = next(s for s in sections if s.matter == "bodymatter")
    landmarks = [
        {"type": "cover", "href": "cover.xhtml", "title": "Cover"},
        {"type": "toc", "href": "nav.xhtml#toc", "title": "Contents"},
        {"type": "bodymatter", "href": body_start.file, "title": "Start of content"},
    ]
    if any(s.id == "glossary" for s in sections):
        landmarks.append({"type": "glossary", "href": "glossary.xhtml", "title": "Glossary"})
    toc = [{"href": s.file, "title": s.title} for s in sections if s.in_toc]
    return (
        environment()
        .get_template("nav.xhtml")
        .render(
            book=rendered.validated.companion.book,
            toc=toc,
            landmarks=landmarks,
            page_list=page_list,
            stylesheets=[f"{name}" for name in STYLESHEETS],
        )
    )


def repack(data: bytes, replace: Mapping[str, bytes] | None = None) -> bytes:
    """The same EPUB with mimetype first (stored), a fixed entry order and fixed timestamps."""
    replace = replace or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    names = source.namelist()
    first = [n for n in ("mimetype", "META-INF/container.xml", OPF) if n in names]
    order = first + sorted(n for n in names if n not in first)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in order:
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            target.writestr(info, replace.get(name, source.read(name)), compresslevel=6)
    return out.getvalue()
