"""Package the print interior: lay out the rendered HTML with WeasyPrint into a print-ready PDF.

Trim and bleed from the book's print settings; mirrored margins whose inside margin grows with the
page count (print-on-demand gutter table); an even page count; tagged, with metadata and bookmarks.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
import uuid
from pathlib import Path
from typing import Any

from weasyprint import CSS, HTML
from weasyprint.document import Document

from . import pdfspeed
from .fetcher import RestrictedFetcher
from .layout import PrintLayout
from .model import PrintSettings

pdfspeed.install()

BLEED_IN = 0.125
OUTSIDE_IN = 0.6
TOP_IN = 0.7
BOTTOM_IN = 0.75
GUTTER_TABLE: tuple[tuple[int, float], ...] = (
    (150, 0.375),
    (300, 0.5),
    (500, 0.625),
    (700, 0.75),
    (828, 0.875),
)
"""(up to this many pages, minimum inside margin in inches): the print-on-demand services' table."""
GUTTER_EXTRA_IN = 0.3
"""Added to the minimum so that text sits comfortably clear of the binding."""
CMYK_PROFILE = "icc/FOGRA39L-coated.icc"
"""Under styles/: the CMYK output profile a PDF/X variant declares (see styles/icc/README)."""


def inside_margin(page_count: int) -> float:
    """The inside margin in inches for a book of `page_count` pages."""
    for limit, minimum in GUTTER_TABLE:
        if page_count <= limit:
            return minimum + GUTTER_EXTRA_IN
    return GUTTER_TABLE[-1][1] + GUTTER_EXTRA_IN


def page_css(settings: PrintSettings, inside: float, marks: bool = False) -> str:
    width, height = settings.size
    return f"""
@page {{ size: {width}in {height}in; bleed: {BLEED_IN}in; {"marks: crop cross;" if marks else ""}
        margin: {TOP_IN}in {OUTSIDE_IN}in {BOTTOM_IN}in {inside}in; }}
@page :left {{ margin-left: {OUTSIDE_IN}in; margin-right: {inside}in; }}
@page :right {{ margin-left: {inside}in; margin-right: {OUTSIDE_IN}in; }}
"""


def layout(
    html: str,
    settings: PrintSettings,
    styles: Path,
    source: Path,
    *,
    marks: bool = False,
    variant: str | None = None,
) -> PrintLayout:
    """Lay out and write the interior."""
    plan, doc = lay_out(html, settings, styles, source, marks=marks, variant=variant)
    return dataclasses.replace(plan, pdf=write(doc, variant))


def lay_out(
    html: str,
    settings: PrintSettings,
    styles: Path,
    source: Path,
    *,
    marks: bool = False,
    variant: str | None = None,
) -> tuple[PrintLayout, Document]:
    """Lay out the interior (re-laying it out once if the page count changes the gutter): everything
    about its pages, with the PDF bytes still to write (`write`)."""
    fetcher = RestrictedFetcher(styles, source)
    profiles: dict[str, object] = {}
    stylesheets = [
        CSS(filename=str(styles / name), url_fetcher=fetcher) for name in ("base.css", "print.css")
    ]
    stylesheets += variant_stylesheets(variant, styles, fetcher, profiles)
    document_html = HTML(string=html, base_url=str(source) + "/", url_fetcher=fetcher)
    inside = inside_margin(estimate_pages(html, settings))
    doc = _render(document_html, stylesheets, page_css(settings, inside, marks), fetcher, profiles)
    if inside_margin(len(doc.pages)) != inside:
        inside = inside_margin(len(doc.pages))
        doc = _render(document_html, stylesheets, page_css(settings, inside, marks), fetcher, profiles)
    if len(doc.pages) % 2:
        blank = HTML(string="<html><body></body></html>", url_fetcher=fetcher).render(
            stylesheets=[CSS(string=page_css(settings, inside, marks), url_fetcher=fetcher)]
        )
        doc = doc.copy(doc.pages + blank.pages[:1])
    overflows, images = measure(doc)
    plan = PrintLayout(
        b"", len(doc.pages), _page_starts(doc), _folios(doc), inside, overflows=overflows, image_dpi=images
    )
    return plan, doc


def write(doc: Document, variant: str | None) -> bytes:
    """The laid-out interior as PDF bytes: tagged, the variant's metadata, reproducible."""
    out = io.BytesIO()
    doc.write_pdf(out, pdf_tags=True, pdf_variant=variant, pdf_identifier=variant is not None)
    return fixed_document_id(out.getvalue()) if variant in ("pdf/x-4", "pdf/x-5g") else out.getvalue()


CSS_PX_PER_IN = 96


def measure(doc: Document) -> tuple[tuple[tuple[int, str], ...], tuple[tuple[str, int], ...]]:
    """Lines whose text runs past their measure, as (page, text); and each raster image's effective
    resolution at its printed size, as (src, dpi)."""
    from weasyprint.formatting_structure import boxes
    from weasyprint.images import RasterImage

    overflows: list[tuple[int, str]] = []
    images: dict[str, int] = {}
    for number, page in enumerate(doc.pages, start=1):
        stack: list[tuple[Any, float]] = [(page._page_box, float("inf"))]
        while stack:
            box, limit = stack.pop()
            if isinstance(box, boxes.MarginBox):
                continue  # running heads and folios are laid out by the page, not the text
            if isinstance(box, boxes.BlockContainerBox) and box.width is not None:
                limit = box.content_box_x() + box.width + 0.5
            if isinstance(box, boxes.LineBox):
                for child in box.descendants():
                    text = getattr(child, "text", "") or ""
                    if text.strip() and child.position_x + child.width > limit:
                        overflows.append((number, text.strip()[:60]))
                        break
            if isinstance(box, boxes.ReplacedBox) and isinstance(box.replacement, RasterImage) and box.width:
                src = box.element.get("src", "") if box.element is not None else ""
                dpi = round(box.replacement.width / (box.width / CSS_PX_PER_IN))
                images[src] = min(dpi, images.get(src, dpi))
            stack.extend((child, limit) for child in getattr(box, "children", ()))
    return tuple(overflows), tuple(sorted(images.items()))


def variant_stylesheets(
    variant: str | None, styles: Path, fetcher: RestrictedFetcher, profiles: dict[str, object]
) -> list[CSS]:
    """PDF/X needs a CMYK output profile declared in CSS, or WeasyPrint writes no OutputIntent.

    `profiles` must be the same dict later passed to `render(color_profiles=...)`.
    """
    if not (variant or "").startswith("pdf/x"):
        return []
    rule = f"@color-profile device-cmyk {{ src: url({CMYK_PROFILE}); components: c, m, y, k; }}"
    return [CSS(string=rule, base_url=str(styles) + "/", url_fetcher=fetcher, color_profiles=profiles)]


_DOCUMENT_ID = re.compile(rb"xmp\.did:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FILE_ID = re.compile(rb"/ID \[\(([0-9a-f]{32})\) \(([0-9a-f]{32})\)\]")


def fixed_document_id(data: bytes) -> bytes:
    """Make a PDF/X-4 reproducible: WeasyPrint 70.0 writes a random xmpMM:DocumentID (uuid4).

    Replace it, and the /ID derived from it, with values hashed from the rest of the file. The
    replacements have the same length, so every byte offset (and the xref table) stays valid.
    """
    did, fid = _DOCUMENT_ID.search(data), _FILE_ID.search(data)
    if did is None or fid is None:
        return data
    blank = _DOCUMENT_ID.sub(
        b"xmp.did:" + b"0" * 36, _FILE_ID.sub(b"/ID [(" + b"0" * 32 + b") (" + b"0" * 32 + b")]", data)
    )
    digest = hashlib.sha256(blank).digest()
    document_id = b"xmp.did:" + str(uuid.UUID(bytes=digest[:16], version=4)).encode()
    file_id = hashlib.md5(blank, usedforsecurity=False).hexdigest().encode()
    data = data[: did.start()] + document_id + data[did.end() :]
    return data[: fid.start()] + b"/ID [(" + file_id + b") (" + file_id + b")]" + data[fid.end() :]


def _render(
    html: HTML, stylesheets: list[CSS], extra: str, fetcher: RestrictedFetcher, profiles: dict[str, object]
) -> Document:
    return html.render(
        stylesheets=[*stylesheets, CSS(string=extra, url_fetcher=fetcher)], color_profiles=profiles
    )


def _page_starts(doc: Document) -> tuple[tuple[str, int], ...]:
    seen: set[str] = set()
    starts = []
    for number, page in enumerate(doc.pages, start=1):
        for anchor in page.anchors:
            if anchor not in seen:
                seen.add(anchor)
                starts.append((anchor, number))
    return tuple(starts)


def _folios(doc: Document) -> tuple[str, ...]:
    """What each page prints at its foot, read from the laid-out margin boxes."""
    folios = []
    for page in doc.pages:
        text = ""
        for box in page._page_box.children:
            if getattr(box, "at_keyword", "").startswith("@bottom"):
                text = "".join(_texts(box)).strip() or text
        folios.append(text)
    return tuple(folios)


def _texts(box: object) -> list[str]:
    found = [getattr(box, "text", "")] if hasattr(box, "text") else []
    for child in getattr(box, "children", ()):
        found.extend(_texts(child))
    return found


WORDS_PER_SQUARE_INCH = 6.2
"""Words of 11 pt EB Garamond per square inch of trim, measured on the bundled companion."""


def estimate_pages(html: str, settings: PrintSettings) -> int:
    """A first guess of the page count, so that the gutter is usually right on the first layout."""
    text = re.sub(r"<[^>]+>", " ", html)
    width, height = settings.size
    sections = len(re.findall(r'<section [^>]*class="[\w-]+ (?:front|body|back)matter"', html))
    return int(len(text.split()) / (WORDS_PER_SQUARE_INCH * width * height) + 1.2 * sections)
