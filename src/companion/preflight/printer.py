"""`companion preflight --printer P`: judge a PDF, ours or not, as that print service does.

The rules come from the printer's profile (printers.py). A one-page landscape file is a cover,
anything else an interior. Each finding names the page and the value measured:

* P040 page size and boxes: an interior is the trim (no bleed), or the trim plus the bleed on the
  top, bottom and outside edges only; a cover has the bleed on all four sides;
* P041 RGB in a B&W interior: every content stream and form XObject is walked (pikepdf) for
  DeviceRGB (and 3-component ICC) colour operators and images;
* P042 the cover's total area coverage, measured by rendering it through its OutputIntent profile
  (or the bundled ink-limited one) with Ghostscript's tiff32nc device and reading the CMYK pixels;
* P043 a cover that is not CMYK where the printer asks for CMYK;
* P044 text, running heads and folios included, closer to the trim than the printer allows;
* P045 lines thinner than the printer's least line weight;
* P046 what PDF/X-1a and X-3 forbid: OpenType font programs, transparency, annotations inside the
  BleedBox, colour spaces other than the device ones (X-1a);
* P047 a cover in a variant the printer does not take;
* P048 page labels missing, or not the folio printed at the foot of the page;
* P049 a page count the printer does not take.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium
from pikepdf import Array

from companion.core.errors import Diagnostic, diagnostic
from companion.core.paths import PROJECT
from companion.preflight.paint import RGB_SPACES, Walked, walk
from companion.preflight.pdf import page_list
from companion.preflight.pdfx import declared_pdfx, pdfx_rules
from companion.source.printers import Printer

PT = 72.0
TOLERANCE_PT = 0.5
TAC_DPI = 36
"""Resolution of the TAC rendering: a cover's areas of ink are far larger than 1/36 in."""
BUNDLED_PROFILE = PROJECT / "styles" / "icc" / "FOGRA39L-coated-tac240.icc"
_FOLIO = re.compile(r"^(\d+|[ivxlcdm]+)$")


def check_printer(path: Path, profile: Printer) -> list[Diagnostic]:
    """Every finding for the PDF at `path` under `profile`."""
    try:
        pdf = pikepdf.open(path)
    except (pikepdf.PdfError, OSError) as exc:
        return [diagnostic(path, "P015", f"cannot read the PDF: {exc}")]
    with pdf:
        pages = list(pdf.pages)
        if not pages:
            return [diagnostic(path, "P015", "the PDF has no pages")]
        trim = _box(pages[0], "/TrimBox")
        cover = len(pages) == 1 and trim[2] - trim[0] > trim[3] - trim[1]
        found = _boxes(path, pages, profile, cover)
        walked = [walk(page) for page in pages]
        if not cover:
            found += _rgb(path, walked)
            found += _labels(path, pdf)
            if not profile.min_pages <= len(pages) <= profile.max_pages:
                found.append(
                    diagnostic(
                        path,
                        "P049",
                        f"{len(pages)} pages ({profile.label}: {profile.min_pages} to {profile.max_pages})",
                    )
                )
        else:
            found += _cover_colour(path, pdf, walked, profile)
        found += _live_area(path, profile, cover)
        found += _hairlines(path, walked, profile)
        variant = declared_pdfx(pdf)
        takes = cover and "any" not in profile.variants
        if variant in ("PDF/X-1a", "PDF/X-3") or (takes and variant is None):
            found += pdfx_rules(path, pdf, walked, variant or "PDF/X-1a")
        if takes and (variant or "").lower() not in profile.variants:
            accepted = " or ".join(v.upper().replace("PDF/X-1A", "PDF/X-1a") for v in profile.variants)
            what = f"a {variant}" if variant else "not a PDF/X"
            found.append(diagnostic(path, "P047", f"the cover is {what} (for {profile.label}: {accepted})"))
    return found


def _box(page: pikepdf.Page, name: str) -> tuple[float, float, float, float]:
    value = page.obj.get(name) or page.obj.get("/MediaBox") or page.mediabox
    x0, y0, x1, y1 = (float(v) for v in value)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _inches(value: float) -> str:
    return f"{value / PT:.3f} in"


def _boxes(path: Path, pages: list[pikepdf.Page], profile: Printer, cover: bool) -> list[Diagnostic]:
    problems: dict[str, list[int]] = defaultdict(list)
    bleed = profile.bleed_in * PT
    for number, page in enumerate(pages, start=1):
        media, trim = _box(page, "/MediaBox"), _box(page, "/TrimBox")
        left, bottom = trim[0] - media[0], trim[1] - media[1]
        right, top = media[2] - trim[2], media[3] - trim[3]
        size = f"page {_inches(media[2] - media[0])} x {_inches(media[3] - media[1])}"
        if cover:
            if min(left, bottom, right, top) < bleed - TOLERANCE_PT:
                least = min(left, bottom, right, top)
                problems[f"{size}: bleed {_inches(least)} ({profile.label}: {profile.bleed_in} in)"].append(
                    number
                )
            continue
        gutter, outside = (left, right) if number % 2 else (right, left)
        edges = (top, bottom, outside)
        if max(*edges, gutter) < TOLERANCE_PT:
            continue  # no bleed: the page is the trim
        if gutter > TOLERANCE_PT:
            problems[
                f"{size}: bleed {_inches(gutter)} on the gutter edge ({profile.label}: none there)"
            ].append(number)
        wrong = [e for e in edges if abs(e - bleed) > TOLERANCE_PT]
        if wrong:
            problems[
                f"{size}: bleed {_inches(wrong[0])} on an outer edge ({profile.label}: {profile.bleed_in} in "
                "on the top, bottom and outside, or none)"
            ].append(number)
    return [diagnostic(path, "P040", f"{page_list(numbers)}: {what}") for what, numbers in problems.items()]


def _rgb(path: Path, walked: list[Walked]) -> list[Diagnostic]:
    operators = [(n, w.rgb) for n, w in enumerate(walked, start=1) if w.rgb]
    images = [n for n, w in enumerate(walked, start=1) if any(i in RGB_SPACES for i in w.images)]
    found = []
    if operators:
        total = sum(count for _, count in operators)
        found.append(
            diagnostic(
                path,
                "P041",
                f"{page_list([n for n, _ in operators])}: {total} RGB colour operators "
                "(a B&W interior is gray or K only)",
            )
        )
    if images:
        found.append(diagnostic(path, "P041", f"{page_list(images)}: RGB images (a B&W interior is gray)"))
    return found


# The cover's ink -------------------------------------------------------------------------------


def _output_profile(pdf: pikepdf.Pdf) -> tuple[bytes, str]:
    """The OutputIntent's profile and its name, or the bundled ink-limited one."""
    for intent in pdf.Root.get("/OutputIntents", Array()):
        profile = intent.get("/DestOutputProfile")
        if profile is not None:
            return profile.read_bytes(), str(intent.get("/OutputConditionIdentifier", "its OutputIntent"))
    return BUNDLED_PROFILE.read_bytes(), f"{BUNDLED_PROFILE.name} (the file has no OutputIntent)"


def cover_tac(path: Path, profile: bytes) -> float:
    """The highest C+M+Y+K (%) of any pixel of the page rendered through `profile` by Ghostscript."""
    from PIL import Image

    gs = shutil.which("gs")
    if gs is None:
        raise FileNotFoundError("gs")
    with tempfile.TemporaryDirectory() as tmp:
        icc, out = Path(tmp) / "out.icc", Path(tmp) / "page.tif"
        icc.write_bytes(profile)
        subprocess.run(
            [gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=tiff32nc", f"-r{TAC_DPI}",
             f"-sOutputICCProfile={icc}", f"-sDefaultCMYKProfile={icc}", "-dUseTrimBox=false",
             f"-sOutputFile={out}", str(path)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with Image.open(out) as image:
            data = image.convert("CMYK").tobytes()
    inks = zip(data[0::4], data[1::4], data[2::4], data[3::4], strict=True)
    return max(map(sum, inks), default=0) * 100 / 255


def _cover_colour(path: Path, pdf: pikepdf.Pdf, walked: list[Walked], profile: Printer) -> list[Diagnostic]:
    found = []
    rgb = walked[0].rgb + sum(i in RGB_SPACES for i in walked[0].images)
    if profile.cover_cmyk and rgb:
        found.append(
            diagnostic(
                path, "P043", f"page 1: {rgb} RGB colour operators or images ({profile.label}: CMYK only)"
            )
        )
    if profile.cover_tac is None:
        return found
    icc, name = _output_profile(pdf)
    try:
        measured = cover_tac(path, icc)
    except (FileNotFoundError, subprocess.SubprocessError, OSError) as exc:
        return [*found, diagnostic(path, "P003", f"Ghostscript cannot measure the cover's ink: {exc}")]
    if measured > profile.cover_tac + 0.5:
        found.append(
            diagnostic(
                path,
                "P042",
                f"page 1: total area coverage up to {measured:.0f}% through {name} "
                f"({profile.label}: {profile.cover_tac:.0f}% at most)",
            )
        )
    return found


# Live area, hairlines, PDF/X, labels ------------------------------------------------------------


def _text_rects(
    path: Path,
) -> Iterator[tuple[int, tuple[float, float, float, float], tuple[float, ...], str]]:
    """(page number, trim box, text rectangle, its text) for every text rectangle (pdfium)."""
    document = pdfium.PdfDocument(path)
    try:
        for index in range(len(document)):
            page = document[index]
            trim = tuple(page.get_trimbox())
            textpage = page.get_textpage()
            try:
                for i in range(textpage.count_rects()):
                    rect = textpage.get_rect(i)
                    yield index + 1, trim, rect, " ".join(textpage.get_text_bounded(*rect).split())
            finally:
                textpage.close()
    finally:
        document.close()


def _live_area(path: Path, profile: Printer, cover: bool) -> list[Diagnostic]:
    inset = min(profile.margin_in, profile.pagination_in) * PT
    worst: dict[int, tuple[float, str]] = {}
    for number, trim, rect, text in _text_rects(path):
        if not text:
            continue
        x0, y0, x1, y1 = trim
        distance = min(rect[0] - x0, rect[1] - y0, x1 - rect[2], y1 - rect[3])
        if cover:  # the spine folds and panel edges are not trims; the outer trim is what counts
            distance = min(rect[1] - y0, y1 - rect[3], rect[0] - x0, x1 - rect[2])
        if distance < inset - TOLERANCE_PT and distance < worst.get(number, (math.inf, ""))[0]:
            worst[number] = (distance, text[:30])
    if not worst:
        return []
    page, (distance, text) = min(worst.items(), key=lambda item: item[1][0])
    return [
        diagnostic(
            path,
            "P044",
            f"text within {inset / PT:g} in of the trim on {page_list(list(worst))} (closest: page {page}, "
            f'"{text}" {_inches(distance)} from the trim; {profile.label}: {inset / PT:g} in, '
            "running heads and folios included)",
        )
    ]


def _hairlines(path: Path, walked: list[Walked], profile: Printer) -> list[Diagnostic]:
    thin = [
        (n, w.thinnest) for n, w in enumerate(walked, start=1) if w.thinnest < profile.hairline_pt - 0.005
    ]
    if not thin:
        return []
    page, width = min(thin, key=lambda item: item[1])
    return [
        diagnostic(
            path,
            "P045",
            f"lines thinner than {profile.hairline_pt:g} pt on {page_list([n for n, _ in thin])} "
            f"(thinnest: {width:.2f} pt on page {page}; "
            f"{profile.label}: {profile.hairline_pt:g} pt at least)",
        )
    ]


def _labels(path: Path, pdf: pikepdf.Pdf) -> list[Diagnostic]:
    if "/PageLabels" not in pdf.Root:
        return [
            diagnostic(
                path, "P048", "no page labels (/PageLabels): a viewer's page numbers are not the folios"
            )
        ]
    labels = [page.label for page in pdf.pages]
    lowest: dict[int, tuple[float, str]] = {}
    for number, trim, rect, text in _text_rects(path):
        if text and rect[3] < trim[1] + 1.0 * PT and rect[1] < lowest.get(number, (math.inf, ""))[0]:
            lowest[number] = (rect[1], text)
    printed = {number: text for number, (_, text) in lowest.items() if _FOLIO.match(text)}
    wrong = [(n, folio, labels[n - 1]) for n, folio in sorted(printed.items()) if labels[n - 1] != folio]
    if not wrong:
        return []
    n, folio, label = wrong[0]
    return [
        diagnostic(
            path,
            "P048",
            f"page labels differ from the printed folios on {page_list([w[0] for w in wrong])} "
            f'(page {n} prints "{folio}", its label is "{label}")',
        )
    ]
