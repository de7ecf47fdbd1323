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
from typing import Any

import pikepdf
import pypdfium2 as pdfium
from pikepdf import Array, Dictionary, Name

from .errors import Diagnostic, diagnostic
from .printers import Printer
from .preflight_pdf import page_list

PT = 72.0
TOLERANCE_PT = 0.5
TAC_DPI = 36
"""Resolution of the TAC rendering: a cover's areas of ink are far larger than 1/36 in."""
BUNDLED_PROFILE = Path(__file__).resolve().parents[2] / "styles" / "icc" / "FOGRA39L-coated-tac240.icc"
_FOLIO = re.compile(r"^(\d+|[ivxlcdm]+)$")
_RGB_OPS = {"rg", "RG"}
_SPACE_OPS = {"cs", "CS"}


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
        walked = [_walk(page) for page in pages]
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
        variant = _pdfx(pdf)
        if variant in ("PDF/X-1a", "PDF/X-3") or (cover and "pdf/x-1a" in profile.variants):
            found += _pdfx_rules(path, pdf, walked, variant or "PDF/X-1a")
        if cover and "any" not in profile.variants and variant is None:
            accepted = " or ".join(v.upper().replace("PDF/X-1A", "PDF/X-1a") for v in profile.variants)
            found.append(diagnostic(path, "P047", f"the cover is not a PDF/X (for {profile.label}: {accepted})"))
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
                problems[f"{size}: bleed {_inches(least)} ({profile.label}: {profile.bleed_in} in)"].append(number)
            continue
        gutter, outside = (left, right) if number % 2 else (right, left)
        edges = (top, bottom, outside)
        if max(edges + (gutter,)) < TOLERANCE_PT:
            continue  # no bleed: the page is the trim
        if gutter > TOLERANCE_PT:
            problems[f"{size}: bleed {_inches(gutter)} on the gutter edge ({profile.label}: none there)"].append(
                number
            )
        wrong = [e for e in edges if abs(e - bleed) > TOLERANCE_PT]
        if wrong:
            problems[
                f"{size}: bleed {_inches(wrong[0])} on an outer edge ({profile.label}: {profile.bleed_in} in "
                "on the top, bottom and outside, or none)"
            ].append(number)
    return [diagnostic(path, "P040", f"{page_list(numbers)}: {what}") for what, numbers in problems.items()]


# Walking the content ------------------------------------------------------------------------------


class _Walked:
    """What one page paints: colour operators by colour space, images, line widths, forms."""

    def __init__(self) -> None:
        self.rgb = 0
        self.spaces: set[str] = set()
        self.images: list[str] = []
        self.thinnest: float = math.inf
        self.groups = 0
        self.soft = 0


def _walk(page: pikepdf.Page) -> _Walked:
    walked = _Walked()
    _walk_stream(page.obj, walked, 1.0, set())
    return walked


def _space_name(resources: Any, name: str) -> str:
    if name in ("/DeviceRGB", "/DeviceCMYK", "/DeviceGray", "/Pattern"):
        return name
    spaces = resources.get("/ColorSpace") if isinstance(resources, Dictionary) else None
    space = spaces.get(name) if isinstance(spaces, Dictionary) else None
    if isinstance(space, Array) and len(space):
        kind = str(space[0])
        if kind == "/ICCBased":
            return f"/ICCBased{int(space[1].get('/N', 0))}"
        return kind
    return str(space or name)


def _walk_stream(owner: Any, walked: _Walked, scale: float, seen: set[tuple[int, int]]) -> None:
    resources = owner.get("/Resources")
    stack = [scale]
    width = 1.0
    rects: list[tuple[float, float, float, float, float]] = []
    try:
        instructions = pikepdf.parse_content_stream(owner)
    except pikepdf.PdfError:
        return
    for operands, operator in instructions:
        op = str(operator)
        if op in _RGB_OPS:
            walked.rgb += 1
        elif op in _SPACE_OPS:
            space = _space_name(resources, str(operands[0]))
            walked.spaces.add(space)
            if space in ("/DeviceRGB", "/ICCBased3", "/CalRGB"):
                walked.rgb += 1
        elif op == "q":
            stack.append(stack[-1])
        elif op == "Q" and len(stack) > 1:
            stack.pop()
        elif op == "cm":
            a, b, c, d = (float(v) for v in operands[:4])
            stack[-1] *= math.sqrt(abs(a * d - b * c))
        elif op == "w":
            width = float(operands[0])
        elif op in ("S", "s") and width > 0:
            walked.thinnest = min(walked.thinnest, width * stack[-1])
        elif op == "re":
            x, y, w, h = (float(v) for v in operands[:4])
            rects.append((min(x, x + w), min(y, y + h), max(x, x + w), max(y, y + h), stack[-1]))
        elif op in ("f", "f*", "F", "B", "B*"):
            walked.thinnest = min(walked.thinnest, _thinnest_fill(rects, even_odd=op.endswith("*")))
            rects = []
        elif op == "n":
            rects = []
        elif op == "gs" and isinstance(resources, Dictionary):
            state = resources.get("/ExtGState", Dictionary()).get(str(operands[0]))
            if isinstance(state, Dictionary):
                alpha = min(float(state.get("/CA", 1)), float(state.get("/ca", 1)))
                mask = state.get("/SMask")
                if alpha < 1 or (mask is not None and mask != Name("/None")):
                    walked.soft += 1
        elif op == "Do" and isinstance(resources, Dictionary):
            xobject = resources.get("/XObject", Dictionary()).get(str(operands[0]))
            if xobject is None:
                continue
            if xobject.get("/Subtype") == Name.Image:
                walked.images.append(_space_name(resources, str(xobject.get("/ColorSpace", "/DeviceGray"))))
                if "/SMask" in xobject:
                    walked.soft += 1
            elif xobject.get("/Subtype") == Name.Form and xobject.objgen not in seen:
                seen.add(xobject.objgen)
                group = xobject.get("/Group")
                if isinstance(group, Dictionary) and group.get("/S") == Name.Transparency:
                    walked.groups += 1
                _walk_stream(xobject, walked, stack[-1], seen)


def _thinnest_fill(rects: list[tuple[float, float, float, float, float]], *, even_odd: bool) -> float:
    """The thinnest line a fill of these rectangles draws: the narrower side of a lone rectangle, or,
    for a border (WeasyPrint fills the outer rectangle minus the inner one, even-odd), the narrowest
    gap between their edges."""
    if even_odd and len(rects) == 2:
        (a, b) = rects
        gaps = [abs(a[i] - b[i]) * a[4] for i in range(4)]
        return min([g for g in gaps if g > 1e-6], default=math.inf)
    sides = [min(r[2] - r[0], r[3] - r[1]) * r[4] for r in rects]
    return min([side for side in sides if side > 1e-6], default=math.inf)


def _rgb(path: Path, walked: list[_Walked]) -> list[Diagnostic]:
    operators = [(n, w.rgb) for n, w in enumerate(walked, start=1) if w.rgb]
    images = [n for n, w in enumerate(walked, start=1) if any(i in ("/DeviceRGB", "/ICCBased3") for i in w.images)]
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
             f"-sOutputICCProfile={icc}", f"-sDefaultCMYKProfile={icc}", "-dUseTrimBox=false", f"-sOutputFile={out}", str(path)],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        with Image.open(out) as image:
            data = image.convert("CMYK").tobytes()
    inks = zip(data[0::4], data[1::4], data[2::4], data[3::4], strict=True)
    return max(map(sum, inks), default=0) * 100 / 255


def _cover_colour(path: Path, pdf: pikepdf.Pdf, walked: list[_Walked], profile: Printer) -> list[Diagnostic]:
    found = []
    rgb = walked[0].rgb + sum(i in ("/DeviceRGB", "/ICCBased3") for i in walked[0].images)
    if profile.cover_cmyk and rgb:
        found.append(
            diagnostic(path, "P043", f"page 1: {rgb} RGB colour operators or images ({profile.label}: CMYK only)")
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


def _text_rects(path: Path) -> Iterator[tuple[int, tuple[float, float, float, float], tuple[float, ...], str]]:
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


def _hairlines(path: Path, walked: list[_Walked], profile: Printer) -> list[Diagnostic]:
    thin = [(n, w.thinnest) for n, w in enumerate(walked, start=1) if w.thinnest < profile.hairline_pt - 0.005]
    if not thin:
        return []
    page, width = min(thin, key=lambda item: item[1])
    return [
        diagnostic(
            path,
            "P045",
            f"lines thinner than {profile.hairline_pt:g} pt on {page_list([n for n, _ in thin])} "
            f"(thinnest: {width:.2f} pt on page {page}; {profile.label}: {profile.hairline_pt:g} pt at least)",
        )
    ]


def _pdfx(pdf: pikepdf.Pdf) -> str | None:
    version = str(pdf.trailer.get("/Info", Dictionary()).get("/GTS_PDFXVersion", ""))
    if not version:
        with pdf.open_metadata() as meta:
            version = str(meta.get("pdfxid:GTS_PDFXVersion", "") or meta.get("pdfx:GTS_PDFXVersion", ""))
    for name in ("PDF/X-1a", "PDF/X-3", "PDF/X-4"):
        if version.upper().startswith(name.upper()):
            return name
    return None


def _pdfx_rules(path: Path, pdf: pikepdf.Pdf, walked: list[_Walked], variant: str) -> list[Diagnostic]:
    found = []
    opentype = sorted(
        {
            re.sub(r"^[A-Z]{6}\+", "", str(obj.get("/FontName", "?")).lstrip("/"))
            for obj in pdf.objects
            if isinstance(obj, Dictionary)
            and obj.get("/Type") == Name.FontDescriptor
            and obj.get("/FontFile3") is not None
            and obj.FontFile3.get("/Subtype") == Name.OpenType
        }
    )
    if opentype:
        found.append(
            diagnostic(path, "P046", f"OpenType font programs ({', '.join(opentype)}): not allowed in {variant}")
        )
    groups = [n for n, w in enumerate(walked, start=1) if w.groups or w.soft]
    if groups:
        count = sum(w.groups + w.soft for w in walked)
        found.append(
            diagnostic(path, "P046", f"{page_list(groups)}: {count} transparency groups or soft masks ({variant})")
        )
    annotated = []
    for number, page in enumerate(pdf.pages, start=1):
        bleed = _box(page, "/BleedBox")
        for annot in page.obj.get("/Annots", Array()):
            if annot.get("/Subtype") in (Name.PrinterMark, Name.TrapNet):
                continue
            x0, y0, x1, y1 = (float(v) for v in annot.get("/Rect", [0, 0, 0, 0]))
            if x1 > bleed[0] and x0 < bleed[2] and y1 > bleed[1] and y0 < bleed[3]:
                annotated.append(number)
                break
    if annotated:
        found.append(diagnostic(path, "P046", f"{page_list(annotated)}: annotations inside the BleedBox ({variant})"))
    if variant == "PDF/X-1a":
        allowed = {"/DeviceCMYK", "/DeviceGray", "/Separation", "/DeviceN", "/Pattern", "/Indexed"}
        bad = [(n, sorted(w.spaces - allowed)) for n, w in enumerate(walked, start=1) if w.spaces - allowed]
        bad += [(n, ["/DeviceRGB"]) for n, w in enumerate(walked, start=1) if w.rgb and not w.spaces - allowed]
        if bad:
            names = sorted({s for _, spaces in bad for s in spaces})
            found.append(
                diagnostic(
                    path,
                    "P046",
                    f"{page_list([n for n, _ in bad])}: colour spaces {', '.join(names)} (PDF/X-1a: CMYK and gray)",
                )
            )
    return found


def _labels(path: Path, pdf: pikepdf.Pdf) -> list[Diagnostic]:
    if "/PageLabels" not in pdf.Root:
        return [diagnostic(path, "P048", "no page labels (/PageLabels): a viewer's page numbers are not the folios")]
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
