"""The cover: a front-cover JPEG (EPUB, shop pages) and a print wrap PDF (back | spine | front).

Both come from one design: `templates/cover_front.html` holds the front panel as a macro, used alone
for the JPEG and inside `templates/cover_wrap.html` for the wrap, with `styles/cover.css`.
Every text block is measured after layout (zero-height marker elements and `Page.anchors`); when
it does not fit its area the text is set smaller, step by step, and the build stops with a clear
error if even the smallest size does not fit.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from markupsafe import Markup

from companion.core.errors import CompanionError, Location, diagnostic
from companion.printing import inks, pdfx
from companion.printing.fetcher import RestrictedFetcher
from companion.render.render import environment
from companion.source import ean, fonts, markdown, printers
from companion.source.model import PAPER_CALIPER, Book, Review

BLEED = 0.125
"""Bleed on every side of the wrap, inches."""
SAFE = 0.25
"""No text closer than this to a trim edge, inches; more when the printer asks (printers.py:
IngramSpark and the default keep 0.5 in), and the barcode area sits as far in."""
SPINE_TEXT_MIN_PAGES = 79
SPINE_TEXT_MIN_WIDTH = 0.25
SPINE_MARGIN = 0.0625
"""Space between spine text and each spine fold, inches."""
BARCODE = (2.0, 1.2)
"""Width and height of the barcode area at the bottom right of the back panel, inches."""
JPEG_HEIGHT = 2560
JPEG_QUALITY = 90
SCALES = (1.0, 0.94, 0.88, 0.82, 0.76, 0.7, 0.64)
"""Text sizes tried, largest first, until a panel's text fits."""
_PX = 96.0
"""CSS pixels per inch (the unit of `Page.anchors`)."""
_TOLERANCE = 0.5 / _PX


@dataclass(frozen=True)
class _Area:
    """Where a panel's text may go (inches from the trim's top left), and how to check it.

    `markers` are ids of zero-size elements in document order, each with the least distance (inches)
    it must lie below the one before: the first and last bound the text, the others separate groups
    of text that must not meet.
    """

    name: str
    markers: tuple[tuple[str, float], ...]
    top: float
    bottom: float
    left: float
    right: float
    source: str = "book.yaml"
    """The file whose text would have to be shortened."""


def spine_width(page_count: int, paper: str) -> float:
    """The spine's width in inches: page count times the paper's caliper."""
    if paper not in PAPER_CALIPER:
        raise ValueError(f"unknown paper {paper!r}; expected one of {sorted(PAPER_CALIPER)}")
    if page_count < 0:
        raise ValueError("page_count must not be negative")
    return page_count * PAPER_CALIPER[paper]


def has_spine_text(page_count: int, paper: str) -> bool:
    """Spine text only from 79 pages, and only on a spine at least 0.25 in wide."""
    return (
        page_count >= SPINE_TEXT_MIN_PAGES and spine_width(page_count, paper) >= SPINE_TEXT_MIN_WIDTH - 1e-9
    )


def front_jpeg(book: Book, styles: Path, *, edition_note: str = "", badge: str = "") -> bytes:
    """The front cover as an RGB JPEG, trim aspect ratio, exactly 2560 px tall; the same bytes every run."""
    import pypdfium2 as pdfium
    from PIL import Image

    geo = _geometry(book, 0.0, front_left=0.0)
    areas = (_front_area(geo),)

    def build(scales: tuple[float, ...]) -> str:
        return (
            environment()
            .get_template("cover_front.html")
            .render(
                **_common(book, edition_note, _colours(book, styles, inks.css_rgb), badge),
                geo=geo,
                front_scale=scales[0],
            )
        )

    pdf = _fit(build, areas, styles, "pdf/ua-1")
    document = pdfium.PdfDocument(pdf)
    try:
        page = document[0]
        width_pt, height_pt = page.get_size()
        bitmap = page.render(scale=JPEG_HEIGHT / height_pt, draw_annots=False)
        image = bitmap.to_pil().convert("RGB")
        page.close()
    finally:
        document.close()
    size = (round(JPEG_HEIGHT * width_pt / height_pt), JPEG_HEIGHT)
    if image.size != size:
        image = image.resize(size, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False, subsampling=0)
    return out.getvalue()


def wrap_pdf(
    book: Book,
    review: Review | None,
    page_count: int,
    styles: Path,
    *,
    edition_note: str = "",
    inside: str = "",
    variant: str = "pdf/x-1a",
    badge: str = "",
) -> bytes:
    """The print cover: one page, back | spine | front, 0.125 in bleed, TrimBox and BleedBox set;
    CMYK through the ink-limited profile (inks.py), as the PDF `variant`. `inside` says what the
    companion holds (render.inside)."""
    spine = spine_width(page_count, book.print.paper)
    spine_text = has_spine_text(page_count, book.print.paper)
    geo = _geometry(book, spine, front_left=book.print.size[0] + spine)
    areas = [
        _front_area(geo),
        _Area(
            "back",
            (("back-start", 0.0), ("back-end", 0.0)),
            geo["back_top"],
            geo["back_bottom"],
            geo["back_side"],
            geo["trim_w"] - geo["back_side"],
            "reviews.yaml" if review else "book.yaml",
        ),
    ]
    if spine_text:
        # The rotated line runs top to bottom inside the spine, at least 0.5 in from top and bottom.
        areas.append(
            _Area(
                "spine",
                (("spine-start", 0.0), ("spine-end", 0.0)),
                0.5,
                geo["trim_h"] - 0.5,
                geo["trim_w"],
                geo["trim_w"] + spine,
            )
        )
    # The spine type fills about 60% of the spine's width less SPINE_MARGIN each side; at most 13 pt.
    spine_font = min(13.0, (spine - 2 * SPINE_MARGIN) * 72 * 0.62)

    def build(scales: tuple[float, ...]) -> str:
        return (
            environment()
            .get_template("cover_wrap.html")
            .render(
                **_common(book, edition_note, _colours(book, styles, inks.css_cmyk), badge),
                geo=geo,
                spine_text=spine_text,
                spine_font=spine_font * (scales[2] if spine_text else 1.0),
                review=review,
                review_html=_paragraphs(review.text) if review else (),
                inside=inside,
                barcode=_barcode(book, geo),
                front_scale=scales[0],
                back_scale=scales[1],
            )
        )

    return _fit(build, tuple(areas), styles, variant)


BARCODE_PADDING = 0.08
"""White space inside the barcode area around the barcode, inches."""


def _barcode(book: Book, geo: dict[str, float]) -> Markup | None:
    """The ISBN's EAN-13 (and add-on) for the barcode area; None without an ISBN (area left clear)."""
    if book.isbn is None:
        return None
    width, height = geo["barcode_w"] - 2 * BARCODE_PADDING, geo["barcode_h"] - 2 * BARCODE_PADDING
    return ean.svg(book.isbn, book.isbn_addon, width, height, "EB Garamond")


def _geometry(book: Book, spine: float, *, front_left: float) -> dict[str, float]:
    """Every length of the design, inches from the top left of the trim."""
    trim_w, trim_h = book.print.size
    spine_len = trim_h - 1.0
    safe = max(SAFE, printers.printer(book.print.printer).margin_in)
    return {
        "trim_w": trim_w,
        "trim_h": trim_h,
        "spine": spine,
        "bleed": BLEED,
        "safe": safe,
        "page_w": 2 * trim_w + spine,
        # Front: a double accent frame, the text inside it.
        "front_left": front_left,
        "frame": 0.375,
        "front_top": 0.75,
        "front_bottom": 0.7,
        "front_side": 0.6,
        # Back: text block above the barcode area; publisher to its left.
        "back_top": 0.75,
        "back_side": 0.6,
        "back_bottom": trim_h - safe - BARCODE[1] - 0.3,
        "publisher_bottom": safe + 0.1,
        "publisher_w": trim_w - 0.6 - safe - BARCODE[0] - 0.2,
        "barcode_w": BARCODE[0],
        "barcode_h": BARCODE[1],
        # Spine: a horizontal line box rotated 90 degrees about its centre (relative to the spine panel).
        "spine_box_len": spine_len,
        "spine_box_left": spine / 2 - spine_len / 2,
        "spine_box_top": trim_h / 2 - spine / 2,
    }


def _front_area(geo: dict[str, float]) -> _Area:
    left = geo["front_left"]
    return _Area(
        "front",
        (("front-start", 0.0), ("front-head-end", 0.0), ("front-lower-start", 0.3), ("front-end", 0.0)),
        geo["front_top"],
        geo["trim_h"] - geo["front_bottom"],
        left + geo["front_side"],
        left + geo["trim_w"] - geo["front_side"],
    )


def _colours(book: Book, styles: Path, convert: Callable[[str, Path], str]) -> dict[str, str]:
    cover = book.cover
    return {name: convert(getattr(cover, name), styles) for name in ("background", "foreground", "accent")}


def _common(book: Book, edition_note: str, colours: dict[str, str], badge: str = "") -> dict[str, Any]:
    """`badge`: the edition's layout named large on the front ("Large Print"), "" for the standard."""
    created = _iso(book.published)
    return {
        "book": book,
        "edition_note": edition_note,
        "badge": badge,
        "description_html": _paragraphs(book.description),
        "created": created,
        "modified": _iso(book.modified) if book.modified else created,
        "colours": colours,
    }


def _iso(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _paragraphs(text: str) -> tuple[Markup, ...]:
    """Markdown paragraphs as inline HTML (escaped, with typography), one Markup per paragraph."""
    return tuple(
        Markup(markdown.inline(part)) for part in re.split(r"\n[ \t]*\n", text.strip()) if part.strip()
    )


def _fit(
    build: Callable[[tuple[float, ...]], str],
    areas: tuple[_Area, ...],
    styles: Path,
    variant: str,
) -> bytes:
    """Lay out `build(scales)` with smaller text in each area that overflows; the PDF bytes."""
    from weasyprint import HTML

    from companion.printing import fontconfig as printfonts

    fetcher = RestrictedFetcher(styles)
    sheets, config = printfonts.stylesheets(styles, fonts.COVER_SHEETS, fetcher)  # the bundled fonts only
    profiles: dict[str, object] = {}
    sheets += _output_intent(variant, styles, fetcher, profiles, config)
    steps = [0] * len(areas)
    while True:
        scales = tuple(SCALES[step] for step in steps)
        html = HTML(string=build(scales), base_url=str(styles.resolve()) + "/", url_fetcher=fetcher)
        document = html.render(stylesheets=sheets, font_config=config, color_profiles=profiles)
        overflowing = [i for i, area in enumerate(areas) if not _fits(document, area)]
        if not overflowing:
            data: bytes = document.write_pdf(pdf_variant=variant, pdf_tags=True)
            fonts.require_bundled(data, styles, fonts.COVER_SHEETS, Location("styles/cover.css"))
            return pdfx.finish(data, variant)
        for i in overflowing:
            if steps[i] + 1 >= len(SCALES):
                raise CompanionError(
                    [
                        diagnostic(
                            areas[i].source,
                            "C014",
                            f"the cover text does not fit the {areas[i].name} panel, even set small",
                            "shorten the title, description or review",
                        )
                    ]
                )
            steps[i] += 1


def _output_intent(
    variant: str, styles: Path, fetcher: RestrictedFetcher, profiles: dict[str, object], config: Any
) -> list[Any]:
    """A PDF/X cover declares the ink-limited profile as its OutputIntent."""
    if not variant.startswith("pdf/x"):
        return []
    return pdfx.output_intent(inks.COVER_PROFILE, styles, fetcher, profiles, config)


def _fits(document: Any, area: _Area) -> bool:
    """True when the document is one page and the area's markers lie inside it, in order."""
    if len(document.pages) != 1:
        return False
    anchors = document.pages[0].anchors
    if any(marker not in anchors for marker, _ in area.markers):
        return False
    previous = float("-inf")
    for marker, gap in area.markers:
        x1, y1, x2, y2 = (value / _PX for value in anchors[marker])
        if min(y1, y2) < previous + gap - _TOLERANCE:
            return False
        if min(y1, y2) < area.top - _TOLERANCE or max(y1, y2) > area.bottom + _TOLERANCE:
            return False
        if min(x1, x2) < area.left - _TOLERANCE or max(x1, x2) > area.right + _TOLERANCE:
            return False
        previous = max(y1, y2)
    return True
