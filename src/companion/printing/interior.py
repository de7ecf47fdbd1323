"""Package the print interior: lay out the rendered HTML with WeasyPrint into a print-ready PDF.

Trim and bleed from the book's print settings; mirrored margins whose inside margin grows with the
page count (print-on-demand gutter table); an even page count; tagged, with metadata and bookmarks.
The interior is laid out in parts on both cores and merged (pdfjob.py).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from weasyprint import CSS
from weasyprint.text.fonts import FontConfiguration

from companion.core.cache import digest
from companion.printing import fontconfig as printfonts
from companion.printing import parts as pdfparts
from companion.printing import pdfx
from companion.printing import speed as pdfspeed
from companion.printing.fetcher import RestrictedFetcher
from companion.printing.grayscale import GrayFetcher
from companion.printing.job import Job, PartStore, Printing
from companion.printing.layout import PrintLayout
from companion.printing.worker import PartLayout
from companion.source import printers
from companion.source.fonts import INTERIOR_SHEETS
from companion.source.model import PrintSettings

pdfspeed.install()

BLEED_IN = 0.125
"""Bleed of a proof with crop marks (--marks): on all four sides, for the marks to sit in."""
OUTSIDE_IN = 0.6
TOP_IN = 0.8
BOTTOM_IN = 0.8
"""Running heads and folios sit in these margins, at least 0.5 in from the trim (print.css), inside
the strictest live area of every profile (printers.py)."""
GUTTER_EXTRA_IN = 0.3
"""Added to the printer's least inside margin so that text sits comfortably clear of the binding."""
CMYK_PROFILE = "icc/FOGRA39L-coated.icc"
"""Under styles/: the CMYK output profile a PDF/X variant declares (see styles/icc/README)."""


def inside_margin(page_count: int, printer: str = "default") -> float:
    """The inside margin in inches for a book of `page_count` pages: KDP's binding table plus the
    comfort margin, and never less than the printer's own minimum (IngramSpark: 0.5 in)."""
    binding = printers.least_gutter(printers.printer("kdp"), page_count) + GUTTER_EXTRA_IN
    return max(binding, printers.least_gutter(printers.printer(printer), page_count))


def bleed_of(settings: PrintSettings, marks: bool = False) -> float:
    """Bleed on the top, bottom and outside edges, inches: only when book.yaml asks for it (nothing
    in a companion's interior reaches the trim, so a text-only book goes without: page = trim)."""
    return 0.0 if marks or not settings.bleed else printers.printer(settings.printer).bleed_in


def page_css(settings: PrintSettings, inside: float, marks: bool = False) -> str:
    """The page geometry. Without bleed the page is the trim. With bleed the page is the trim plus
    the bleed on the top, bottom and outside edge only (KDP's page size), mirrored on left and
    right pages; pdfprint.py sets each page's TrimBox. A proof with crop marks (--marks) has its
    bleed on all four sides, where the marks go."""
    width, height = settings.size
    if marks:
        return f"""
@page {{ size: {width}in {height}in; bleed: {BLEED_IN}in; marks: crop cross;
        margin: {TOP_IN}in {OUTSIDE_IN}in {BOTTOM_IN}in {inside}in; }}
@page :left {{ margin-left: {OUTSIDE_IN}in; margin-right: {inside}in; }}
@page :right {{ margin-left: {inside}in; margin-right: {OUTSIDE_IN}in; }}
"""
    bleed = bleed_of(settings)
    top, bottom, outside = TOP_IN + bleed, BOTTOM_IN + bleed, OUTSIDE_IN + bleed
    return f"""
@page {{ size: {width + bleed:g}in {height + 2 * bleed:g}in;
        margin: {top:g}in {outside:g}in {bottom:g}in {inside}in; }}
@page :left {{ margin-left: {outside:g}in; margin-right: {inside}in; }}
@page :right {{ margin-left: {inside}in; margin-right: {outside:g}in; }}
"""


def lay_out(
    html: str,
    settings: PrintSettings,
    styles: Path,
    source: Path,
    *,
    marks: bool = False,
    variant: str | None = None,
    store: PartStore | None = None,
    salt: str = "",
    parts: int | None = None,
    sheets: tuple[str, ...] = INTERIOR_SHEETS,
) -> tuple[PrintLayout, Printing]:
    """Lay out the interior in parts on both cores (pdfjob.py): everything about its pages, with the
    PDF still being written (`Printing`). `store` keeps laid-out parts, so that an edit lays out again
    only the parts it changed; `salt` must change with whatever else shapes a layout (code, styles,
    images). `parts` overrides how many parts (pdfparts.split); a PDF/X is laid out as one. `sheets`: the
    style sheets under `styles` (an edition's layout adds its layer, edition.py)."""
    interior = pdfparts.Interior.parse(html)
    pieces = pdfparts.split(interior, 1 if (variant or "").startswith("pdf/x") else parts)
    estimate = estimate_pages(html, settings)

    def run(inside: float) -> tuple[PrintLayout, Printing]:
        page = page_css(settings, inside, marks)
        make = functools.partial(part_layout, styles, source, sheets, variant, page)
        salted = digest(salt, inside, marks, variant, settings.printer, settings.bleed)
        bleed = bleed_of(settings, marks)
        return Job(interior, pieces, make, salted, estimate, inside, store, variant, bleed).run()

    plan, printing = run(inside_margin(estimate, settings.printer))
    if inside_margin(plan.page_count, settings.printer) != plan.inside_margin:  # another gutter
        printing.cancel()
        plan, printing = run(inside_margin(plan.page_count, settings.printer))
    return plan, printing


def part_layout(
    styles: Path, source: Path, sheets: tuple[str, ...], variant: str | None, page_css: str
) -> PartLayout:
    """A layout worker's WeasyPrint side, made in the worker: its style sheets, its fonts (the bundled
    ones only) and its fetcher are its own (core/parallel.py says why nothing is inherited)."""
    fetcher = GrayFetcher(styles, source, images_root=source)
    profiles: dict[str, object] = {}
    stylesheets, fonts = printfonts.stylesheets(styles, sheets, fetcher)
    stylesheets += variant_stylesheets(variant, styles, fetcher, profiles, fonts)
    return PartLayout(stylesheets, fetcher, str(source) + "/", page_css, profiles, fonts)


def variant_stylesheets(
    variant: str | None,
    styles: Path,
    fetcher: RestrictedFetcher,
    profiles: dict[str, object],
    fonts: FontConfiguration,
) -> list[CSS]:
    """PDF/X needs a CMYK output profile declared in CSS, or WeasyPrint writes no OutputIntent.

    `profiles` must be the same dict later passed to `render(color_profiles=...)`.
    """
    if not (variant or "").startswith("pdf/x"):
        return []
    return pdfx.output_intent(CMYK_PROFILE, styles, fetcher, profiles, fonts)


WORDS_PER_SQUARE_INCH = 6.2
"""Words of 11 pt EB Garamond per square inch of trim, measured on the bundled companion."""


def estimate_pages(html: str, settings: PrintSettings) -> int:
    """A first guess of the page count, so that the gutter is usually right on the first layout."""
    text = re.sub(r"<[^>]+>", " ", html)
    width, height = settings.size
    sections = len(re.findall(r'<section [^>]*class="[\w-]+ (?:front|body|back)matter"', html))
    return int(len(text.split()) / (WORDS_PER_SQUARE_INCH * width * height) + 1.2 * sections)
