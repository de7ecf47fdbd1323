"""Package the EPUB: rendered XHTML documents, nav, NCX, styles, fonts, cover and metadata.

ebooklib writes the package (OPF, NCX, zip); our own templates write every XHTML document,
the nav included. The zip is then repacked with a fixed entry order and timestamps so that the
same source always gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import os
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lxml import etree

from companion.core import gate
from companion.core.errors import CompanionError, diagnostic
from companion.render.render import RenderedBook, environment
from companion.source import fonts, markdown
from companion.source.fonts import FONT_TYPES
from companion.source.model import Book
from companion.source.stylecheck import LICENCES
from companion.source.validate import Validated

if TYPE_CHECKING:
    from ebooklib import epub

STYLESHEETS = ("styles/base.css", "styles/epub.css")
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_COMPRESSED = (".m4a", ".mp3")
"""Audio is stored: deflating it again gains nothing."""


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


def used_text(rendered: RenderedBook) -> str:
    """Every character the EPUB's documents can show (markup included: it is ASCII)."""
    return html.unescape("".join(document.html for document in rendered.documents))


def styles_resources(
    styles: Path, text: str, subset: Callable[[bytes, str], bytes] = fonts.subset
) -> list[Resource]:
    """The EPUB's style sheets, the fonts their @font-face rules name (each subset to what `text` and
    the style sheets need), and the fonts' licence."""
    out = [Resource(name, "text/css", gate.styles_file(styles, Path(name).name)) for name in STYLESHEETS]
    text += "".join(resource.data.decode("utf-8", "replace") for resource in out)  # content: strings
    faces, _ = fonts.font_faces(styles, [Path(name).name for name in STYLESHEETS])
    files = sorted({face.file for face in faces})
    for file in files:
        name = file.resolve().relative_to(styles.resolve()).as_posix()
        data = subset(gate.styles_file(styles, name, font=True), text)  # read through the gate
        out.append(Resource(f"styles/{name}", FONT_TYPES[file.suffix.lower()], data))
    for folder in sorted({file.parent for file in files}):
        # the licence as it is named in styles/ (a link or a pipe is the gate's to refuse, not skipped)
        licence = next((folder / n for n in LICENCES if os.path.lexists(folder / n)), None)
        if licence is not None:  # as XHTML: Kindle's converter refuses text/plain in a package
            where = (licence.parent.resolve() / licence.name).relative_to(styles.resolve())
            text = gate.styles_file(styles, where.as_posix()).decode("utf-8", "replace")
            name = where.with_suffix(".xhtml").as_posix()
            page = environment().get_template("licence.xhtml").render(title="Font licence", text=text)
            out.append(Resource(f"styles/{name}", "application/xhtml+xml", page.encode("utf-8")))
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
    from ebooklib import epub  # here, so that `companion check` starts without it

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
    svgs = {r.name: r.data for r in resources if r.media_type == "image/svg+xml"}
    for document in rendered.documents:
        page = inline_svgs(document.html, svgs)
        item = epub.EpubItem(
            uid=document.section.id,
            file_name=document.section.file,
            media_type="application/xhtml+xml",
            content=page.encode("utf-8"),
        )
        if page != document.html:
            item.properties = ["svg"]
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
SVG = "http://www.w3.org/2000/svg"
_IMG = re.compile(r'<img src="([^"]+\.svg)" alt="([^"]*)" />')
"""An SVG image as markdown.py writes it."""


def inline_svgs(page: str, svgs: Mapping[str, bytes]) -> str:
    """`page` with each SVG image drawn inline, so that its text is set in the book's fonts: an SVG
    shown through <img> cannot use the EPUB's @font-face, and every reading system draws its labels
    in its own serif. The alt text becomes the drawing's accessible name (role="img")."""

    def inline(match: re.Match[str]) -> str:
        data = svgs.get(html.unescape(match.group(1)))
        if data is None:
            return match.group(0)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            return match.group(0)
        if root.tag != f"{{{SVG}}}svg" or root.xpath("//@id"):  # ids could repeat in the page
            return match.group(0)
        for comment in root.xpath("//comment() | //processing-instruction()"):
            comment.getparent().remove(comment)
        root.set("role", "img")
        root.set("aria-label", html.unescape(match.group(2)))
        root.set("class", "inline-figure")
        for size in ("width", "height"):  # the viewBox keeps its proportions; CSS sets its width
            root.attrib.pop(size, None)
        return etree.tostring(root, encoding="unicode")

    return _IMG.sub(inline, page)


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
    ebook.set_title(markdown.plain(book.full_title) + rendered.edition.label)
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
    """The same EPUB with mimetype first (stored), a fixed entry order and fixed timestamps; `replace`
    gives new bytes for some entries, and adds those that are not there yet."""
    replace = replace or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    names = list(dict.fromkeys([*source.namelist(), *replace]))
    first = [n for n in ("mimetype", "META-INF/container.xml", OPF) if n in names]
    order = first + sorted(n for n in names if n not in first)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in order:
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            stored = name == "mimetype" or name.endswith(_COMPRESSED)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            target.writestr(info, replace[name] if name in replace else source.read(name), compresslevel=6)
    return out.getvalue()


def modified_time(validated: Validated) -> dt.datetime:
    """dcterms:modified: SOURCE_DATE_EPOCH when set, else the book's modified (or published) date."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            if not (epoch.isascii() and epoch.isdigit()):
                raise ValueError(epoch)
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            shown = epoch if len(epoch) <= 40 else epoch[:39] + "…"
            raise CompanionError(
                [diagnostic("SOURCE_DATE_EPOCH", "C045", f"`{shown}` is not a time companion can use")]
            ) from None
    book = validated.companion.book
    day = book.modified or book.published
    return dt.datetime(day.year, day.month, day.day)
