"""What each print-on-demand service accepts: one table of data, a source for every figure.

`print.printer` in book.yaml (or `--printer` on build and preflight) picks a profile. The build
follows the strictest rules of the chosen profile; `companion preflight --printer P` judges a PDF by
them. `default` is the intersection of KDP and IngramSpark: a file built for it is accepted by both.

Sources (as summarised, with the figures measured, in ../shared/LIBRARY-NOTES.md):
  [KDP-TRIM]  Amazon KDP, "Set Trim Size, Bleed, and Margins" (2026).
  [KDP-PAPER] Amazon KDP, "Paperback Submission Guidelines" (2026).
  [KDP-COVER] Amazon KDP, "Create a Paperback Cover" (2026).
  [IS-FCG]    IngramSpark / Lightning Source, "File Creation Guide" (2026).
  [IS-COLOR]  IngramSpark, "Color Recommendations" (2026).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from companion.source.validate import Validated

PRINTERS = ("default", "kdp", "ingramspark")


@dataclass(frozen=True)
class Printer:
    name: str
    label: str
    bleed_in: float
    """Bleed beyond the trim on the top, bottom and outside edges (never the gutter), inches."""
    margin_in: float
    """Least distance of any text from the trim (outside, top, bottom), without bleed."""
    margin_bleed_in: float
    """The same with bleed."""
    pagination_in: float
    """Least distance of running heads and folios from the trim."""
    gutter: tuple[tuple[int, float], ...]
    """(up to this many pages, least inside margin in inches)."""
    min_pages: int
    max_pages: int
    interior_colour: str
    """'gray': a black-and-white interior in DeviceGray or K-only DeviceCMYK; no RGB."""
    cover_tac: float | None
    """Highest total area coverage (sum of C, M, Y and K, %) on the cover; None: no published limit."""
    cover_tac_max: float | None
    """The hard maximum, beyond which the file is refused."""
    cover_cmyk: bool
    """The cover must be CMYK (no DeviceRGB)."""
    variants: tuple[str, ...]
    """PDF variants the service takes for upload ('any': any PDF)."""
    hairline_pt: float
    """Lines thinner than this may not print."""
    barcode_in: tuple[float, float]
    """Barcode area (width, height) at the bottom right of the back cover."""
    barcode_inset_in: float
    """Distance of the barcode area from the trim and the spine fold."""
    spine_text_pages: int
    """Spine text only from this many pages."""


KDP_GUTTER = ((150, 0.375), (300, 0.5), (500, 0.625), (700, 0.75), (828, 0.875))  # [KDP-TRIM] table
IS_GUTTER = ((150, 0.5), (300, 0.5), (500, 0.625), (700, 0.75), (1200, 0.875))
"""[IS-FCG] 0.5 in on every side; the inside grows with the page count as KDP's (binding creep)."""

TABLE: dict[str, Printer] = {
    "kdp": Printer(
        name="kdp",
        label="Amazon KDP",
        bleed_in=0.125,  # [KDP-TRIM] trim + 0.125 in wide, + 0.25 in tall
        margin_in=0.25,  # [KDP-TRIM] outside, top, bottom without bleed
        margin_bleed_in=0.375,  # [KDP-TRIM] with bleed
        pagination_in=0.25,  # [KDP-TRIM] page numbers count as text
        gutter=KDP_GUTTER,
        min_pages=24,  # [KDP-PAPER]
        max_pages=828,  # [KDP-PAPER] (white paper; cream to 776)
        interior_colour="gray",  # [KDP-PAPER] black ink: grayscale recommended
        cover_tac=None,  # [KDP-COVER] RGB or CMYK accepted, no TAC figure published
        cover_tac_max=None,
        cover_cmyk=False,  # [KDP-COVER] RGB accepted (converted by KDP)
        variants=("any",),  # [KDP-PAPER] any print-ready PDF; PDF/X-1a recommended
        hairline_pt=0.25,  # [KDP-PAPER] advises 0.75 pt or more; 0.25 pt as the refusal limit, as IS
        barcode_in=(2.0, 1.2),  # [KDP-COVER] 2 x 1.2 in, bottom right of the back cover
        barcode_inset_in=0.25,  # [KDP-COVER] 0.25 in from the edges
        spine_text_pages=79,  # [KDP-COVER] spine text from 79 pages
    ),
    "ingramspark": Printer(
        name="ingramspark",
        label="IngramSpark",
        bleed_in=0.125,  # [IS-FCG] 0.125 in on top, bottom and outside
        margin_in=0.5,  # [IS-FCG] 0.5 in from the trim on all sides
        margin_bleed_in=0.5,  # [IS-FCG]
        pagination_in=0.5,  # [IS-FCG] "including page numbers"
        gutter=IS_GUTTER,
        min_pages=18,  # [IS-FCG] paperback minimum (18; KDP 24)
        max_pages=1200,  # [IS-FCG]
        interior_colour="gray",  # [IS-COLOR] B&W in grayscale, text 100% K
        cover_tac=240.0,  # [IS-COLOR] 240% recommended
        cover_tac_max=300.0,  # [IS-COLOR] 300% maximum
        cover_cmyk=True,  # [IS-FCG] covers in CMYK
        variants=("pdf/x-1a", "pdf/x-3"),  # [IS-FCG] PDF/X-1a:2001 or PDF/X-3:2002
        hairline_pt=0.25,  # [IS-FCG] nothing thinner than 0.25 pt
        barcode_in=(2.0, 1.2),  # [IS-FCG] placed from their template: same area as KDP's
        barcode_inset_in=0.25,
        spine_text_pages=79,  # [IS-FCG] gives no figure; KDP's 79 pages, the safe choice
    ),
}


def _both() -> Printer:
    """The stricter figure of KDP and IngramSpark, everywhere."""
    kdp, ingram = TABLE["kdp"], TABLE["ingramspark"]
    return Printer(
        name="default",
        label="KDP and IngramSpark",
        bleed_in=max(kdp.bleed_in, ingram.bleed_in),
        margin_in=max(kdp.margin_in, ingram.margin_in),
        margin_bleed_in=max(kdp.margin_bleed_in, ingram.margin_bleed_in),
        pagination_in=max(kdp.pagination_in, ingram.pagination_in),
        gutter=tuple((k[0], max(k[1], i[1])) for k, i in zip(kdp.gutter, ingram.gutter, strict=True)),
        min_pages=max(kdp.min_pages, ingram.min_pages),
        max_pages=min(kdp.max_pages, ingram.max_pages),
        interior_colour="gray",
        cover_tac=ingram.cover_tac,
        cover_tac_max=ingram.cover_tac_max,
        cover_cmyk=True,
        variants=ingram.variants,
        hairline_pt=max(kdp.hairline_pt, ingram.hairline_pt),
        barcode_in=kdp.barcode_in,
        barcode_inset_in=kdp.barcode_inset_in,
        spine_text_pages=max(kdp.spine_text_pages, ingram.spine_text_pages),
    )


TABLE["default"] = _both()


def printer(name: str) -> Printer:
    """The profile called `name` (one of PRINTERS)."""
    if name not in TABLE:
        raise ValueError(f"unknown printer {name!r}; expected one of {', '.join(PRINTERS)}")
    return TABLE[name]


def least_gutter(profile: Printer, page_count: int) -> float:
    """The least inside margin, inches, for a book of `page_count` pages."""
    for limit, minimum in profile.gutter:
        if page_count <= limit:
            return minimum
    return profile.gutter[-1][1]


def for_printer(validated: Validated, name: str | None) -> Validated:
    """The book as if its book.yaml named printer `name` (`--printer` on build)."""
    book = validated.companion.book
    if name is None or name == book.print.printer:
        return validated
    settings = book.print.model_copy(update={"printer": name})
    companion = dataclasses.replace(validated.companion, book=book.model_copy(update={"print": settings}))
    return dataclasses.replace(validated, companion=companion)


def cover_variant(variant: str | None, validated: Validated, otherwise: str) -> str:
    """The cover's PDF variant: the one asked for if it is a PDF/X; otherwise the first PDF/X the
    printer takes (PDF/X-1a for IngramSpark and the default), or `otherwise` for a printer that takes
    any PDF (KDP)."""
    if variant and variant.startswith("pdf/x"):
        return variant
    accepted = printer(validated.companion.book.print.printer).variants
    return next((v for v in accepted if v.startswith("pdf/x")), otherwise)
