"""Preflight of any PDF as a print-on-demand service sees it.

Boxes (TrimBox, a cover's BleedBox 0.125 in beyond it, inside the MediaBox), fonts (all embedded; only the
bundled EB Garamond in files companion made), page-count parity (an interior; a one-page landscape
file is a cover), tags, metadata and outline, image resolution at its printed size, the declared
PDF variant (PDF/X needs its OutputIntent) and the live area (no text within 0.25 in of the trim).

pypdf reads the object structure; pypdfium2 (already a dependency) gives where text and images land.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdf import PdfReader
from pypdf.errors import PdfReadError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from companion.core.errors import Diagnostic, diagnostic

PT_PER_IN = 72.0
BLEED_PT = 0.125 * PT_PER_IN
LIVE_INSET_PT = 0.25 * PT_PER_IN
TOLERANCE_PT = 0.5
MIN_DPI = 300
BUNDLED_FONT = "Garamond"
OUR_CREATOR = "companion"
FONT_FILES = ("/FontFile", "/FontFile2", "/FontFile3")


@dataclass(frozen=True)
class PdfSummary:
    pages: int
    trim: tuple[float, float]
    cover: bool
    variant: str
    fonts: tuple[str, ...]

    def __str__(self) -> str:
        kind = "cover" if self.cover else f"{self.pages} page{'s' if self.pages != 1 else ''}"
        width, height = (round(v / PT_PER_IN, 3) for v in self.trim)
        fonts = ", ".join(self.fonts) or "none"
        return f"{kind}, trim {width:g} x {height:g} in, {self.variant}, fonts: {fonts}"


def page_list(pages: list[int]) -> str:
    """'page 3', 'pages 1–4, 7'."""
    numbers = sorted(set(pages))
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    text = ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}–{r[-1]}" for r in runs)
    return f"page{'s' if len(numbers) > 1 else ''} {text}"


def check_pdf(path: Path, *, any_fonts: bool = False) -> tuple[list[Diagnostic], PdfSummary | None]:
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            return [diagnostic(path, "P015", "the PDF is encrypted")], None
        pages = list(reader.pages)
    except (PdfReadError, OSError, ValueError, KeyError) as exc:
        return [diagnostic(path, "P015", f"cannot read the PDF: {exc}")], None
    if not pages:
        return [diagnostic(path, "P015", "the PDF has no pages")], None
    trim = _box(pages[0], "/TrimBox") or _box(pages[0], "/MediaBox") or (0.0, 0.0, 0.0, 0.0)
    size = (trim[2] - trim[0], trim[3] - trim[1])
    cover = len(pages) == 1 and size[0] > size[1]
    info: Any = reader.metadata or {}
    ours = str(info.get("/Creator", "")).strip() == OUR_CREATOR
    found = _boxes(path, pages, cover)
    fonts, font_findings = _fonts(path, pages, bundled_only=ours and not any_fonts)
    found += font_findings
    if len(pages) % 2 and not cover:
        found.append(diagnostic(path, "P012", f"{len(pages)} pages: a print interior needs an even count"))
    found += _structure(path, reader, len(pages))
    variant, variant_findings = _variant(path, reader)
    found += variant_findings
    found += _placed(path, reader)
    return found, PdfSummary(len(pages), size, cover, variant, fonts)


def _box(page: Any, name: str) -> tuple[float, float, float, float] | None:
    value = page.get(name)
    if value is None:
        return None
    value = value.get_object()
    if not isinstance(value, ArrayObject) or len(value) != 4:
        return None
    x0, y0, x1, y1 = (float(v) for v in value)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def _boxes(path: Path, pages: list[Any], cover: bool) -> list[Diagnostic]:
    """TrimBox and BleedBox on every page; a cover's bleed 0.125 in beyond its trim. An interior may
    go without bleed (BleedBox = TrimBox: a text-only book); where its bleed lies is for the
    printer's profile to judge (preflight_print.py)."""
    problems: dict[str, list[int]] = defaultdict(list)
    for number, page in enumerate(pages, start=1):
        media = _box(page, "/MediaBox")
        trim = _box(page, "/TrimBox")
        bleed = _box(page, "/BleedBox")
        if trim is None:
            problems["no TrimBox"].append(number)
        if bleed is None:
            problems["no BleedBox"].append(number)
        if trim and bleed and cover:
            least = min(trim[0] - bleed[0], trim[1] - bleed[1], bleed[2] - trim[2], bleed[3] - trim[3])
            if least < BLEED_PT - TOLERANCE_PT:
                problems[
                    f"BleedBox only {least / PT_PER_IN:.3f} in beyond the TrimBox (0.125 in needed)"
                ].append(number)
        if bleed and media and not _inside(bleed, media):
            problems["BleedBox extends outside the MediaBox"].append(number)
    return [diagnostic(path, "P010", f"{page_list(numbers)}: {what}") for what, numbers in problems.items()]


def _inside(inner: tuple[float, ...], outer: tuple[float, ...]) -> bool:
    t = TOLERANCE_PT
    return (
        inner[0] >= outer[0] - t
        and inner[1] >= outer[1] - t
        and inner[2] <= outer[2] + t
        and inner[3] <= outer[3] + t
    )


# Fonts -------------------------------------------------------------------------------------------


def _resources(resources: Any, seen: set[int]) -> Iterator[tuple[str, DictionaryObject]]:
    """(resource name, font dict) for every font in these resources and in nested forms, patterns, Type3."""
    if isinstance(resources, IndirectObject):
        if resources.idnum in seen:
            return
        seen.add(resources.idnum)
    resources = resources.get_object() if resources is not None else None
    if not isinstance(resources, DictionaryObject):
        return
    fonts = resources.get("/Font")
    fonts = fonts.get_object() if fonts is not None else None
    if isinstance(fonts, DictionaryObject):
        for key, ref in fonts.items():
            font = ref.get_object()
            if isinstance(font, DictionaryObject):
                yield str(key), font
                if font.get("/Subtype") == "/Type3" and "/Resources" in font:
                    yield from _resources(font.raw_get("/Resources"), seen)
    for group in ("/XObject", "/Pattern"):
        entries = resources.get(group)
        entries = entries.get_object() if entries is not None else None
        if isinstance(entries, DictionaryObject):
            for ref in entries.values():
                child = ref.get_object()
                if isinstance(child, DictionaryObject) and "/Resources" in child:
                    yield from _resources(child.raw_get("/Resources"), seen)


def _font_name(key: str, font: DictionaryObject) -> str:
    name = str(font.get("/BaseFont") or font.get("/Name") or key).lstrip("/")
    return name.split("+", 1)[1] if re.match(r"^[A-Z]{6}\+", name) else name


def _embedded(font: DictionaryObject) -> bool:
    subtype = font.get("/Subtype")
    if subtype == "/Type3":
        return True  # glyphs are drawn by the font's own content streams
    if subtype == "/Type0":
        descendants = font.get("/DescendantFonts")
        descendants = descendants.get_object() if descendants is not None else None
        if not descendants:
            return False
        font = descendants[0].get_object()
    descriptor = font.get("/FontDescriptor")
    descriptor = descriptor.get_object() if descriptor is not None else None
    return isinstance(descriptor, DictionaryObject) and any(k in descriptor for k in FONT_FILES)


def _fonts(path: Path, pages: list[Any], *, bundled_only: bool) -> tuple[tuple[str, ...], list[Diagnostic]]:
    where: dict[str, list[int]] = defaultdict(list)
    not_embedded: set[str] = set()
    for number, page in enumerate(pages, start=1):
        for key, font in _resources(page.raw_get("/Resources") if "/Resources" in page else None, set()):
            name = _font_name(key, font)
            where[name].append(number)
            if not _embedded(font):
                not_embedded.add(name)
    found = []
    for name in sorted(where):
        pages_text = page_list(where[name])
        if name in not_embedded:
            found.append(diagnostic(path, "P011", f"font {name} is not embedded ({pages_text})"))
        elif bundled_only and BUNDLED_FONT.lower() not in name.lower():
            found.append(
                diagnostic(
                    path, "P011", f"font {name} is not one of the bundled EB Garamond fonts ({pages_text})"
                )
            )
    return tuple(sorted(where)), found


# Tags, metadata, outline, variant ----------------------------------------------------------------


def _structure(path: Path, reader: PdfReader, count: int) -> list[Diagnostic]:
    root: Any = reader.trailer["/Root"].get_object()
    found = []
    mark_info = root.get("/MarkInfo")
    marked = mark_info.get_object().get("/Marked") if mark_info is not None else None
    if not (marked is True or str(marked).lower() == "true") or "/StructTreeRoot" not in root:
        found.append(diagnostic(path, "P016", "no /MarkInfo /Marked true and /StructTreeRoot"))
    if not str(root.get("/Lang", "")).strip():
        found.append(diagnostic(path, "P013", "no document language (/Lang)"))
    info: Any = reader.metadata or {}
    xmp = _xmp(reader)
    if not str(info.get("/Title", "")).strip() and "<dc:title>" not in xmp:
        found.append(diagnostic(path, "P013", "no title"))
    if not str(info.get("/Author", "")).strip() and "<dc:creator>" not in xmp:
        found.append(diagnostic(path, "P013", "no author"))
    if count > 1 and not reader.outline:
        found.append(diagnostic(path, "P013", "no outline (bookmarks)"))
    return found


def _xmp(reader: PdfReader) -> str:
    root: Any = reader.trailer["/Root"].get_object()
    stream = root.get("/Metadata")
    try:
        return stream.get_object().get_data().decode("utf-8", errors="replace") if stream is not None else ""
    except (PdfReadError, ValueError, AttributeError):
        return ""


def _declared(xmp: str, prefix: str, name: str) -> str:
    match = re.search(rf"{prefix}:{name}(?:=\"([^\"]+)\"|(?:\s[^>]*)?>([^<]+)<)", xmp)  # attr. or element
    return (match.group(1) or match.group(2)).strip() if match else ""


def _variant(path: Path, reader: PdfReader) -> tuple[str, list[Diagnostic]]:
    root: Any = reader.trailer["/Root"].get_object()
    info: Any = reader.metadata or {}
    xmp = _xmp(reader)
    intents = root.get("/OutputIntents")
    intents = intents.get_object() if intents is not None else []
    kinds = {str(i.get_object().get("/S")) for i in intents if "/DestOutputProfile" in i.get_object()}
    names = []
    found = []
    pdfx = str(info.get("/GTS_PDFXVersion", "")).strip() or _declared(xmp, "pdfxid", "GTS_PDFXVersion")
    if pdfx:
        names.append(pdfx)
        if "/GTS_PDFX" not in kinds:
            found.append(
                diagnostic(path, "P017", f"declares {pdfx} but has no PDF/X OutputIntent with a profile")
            )
    if part := _declared(xmp, "pdfaid", "part"):
        names.append(f"PDF/A-{part}{_declared(xmp, 'pdfaid', 'conformance').lower()}")
        if "/GTS_PDFA1" not in kinds:
            found.append(diagnostic(path, "P017", f"declares {names[-1]} but has no PDF/A OutputIntent"))
    if part := _declared(xmp, "pdfuaid", "part"):
        names.append(f"PDF/UA-{part}")
        prefs = root.get("/ViewerPreferences")
        prefs = prefs.get_object() if prefs is not None else {}
        if not bool(prefs.get("/DisplayDocTitle", False)):
            found.append(diagnostic(path, "P017", f"declares PDF/UA-{part} but not /DisplayDocTitle true"))
    return " + ".join(names) or f"PDF {reader.pdf_header.removeprefix('%PDF-')}", found


# Where things land: image resolution and the live area -------------------------------------------

Matrix = tuple[float, float, float, float, float, float]


def _then(a: Matrix, b: Matrix) -> Matrix:
    """Apply a, then b."""
    return (
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    )


def _images(page: Any, form: Any = None, ctm: Matrix = (1, 0, 0, 1, 0, 0), level: int = 0) -> Iterator[tuple]:
    """(image object, its full matrix) for every image on the page, through nested forms."""
    for obj in page.get_objects(max_depth=1, form=form, level=level):
        matrix = _then(tuple(obj.get_matrix().get()), ctm)
        if obj.type == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            yield obj, matrix
        elif obj.type == pdfium_c.FPDF_PAGEOBJ_FORM and level < 12:
            yield from _images(page, obj, matrix, level + 1)


def _alt_texts(reader: PdfReader) -> dict[tuple[int, int], str]:
    """(page index, marked-content id) -> the /Alt of the structure element that holds it."""
    pages = {p.indirect_reference.idnum: i for i, p in enumerate(reader.pages) if p.indirect_reference}
    found: dict[tuple[int, int], str] = {}
    catalog: Any = reader.trailer["/Root"].get_object()
    root = catalog.get("/StructTreeRoot")
    stack: list[tuple[Any, int | None, str]] = [(root, None, "")] if root is not None else []
    seen: set[int] = set()
    while stack and len(seen) < 200_000:
        node, page, alt = stack.pop()
        if isinstance(node, IndirectObject):
            if node.idnum in seen:
                continue
            seen.add(node.idnum)
        node = node.get_object()
        if isinstance(node, int) and page is not None:
            found[(page, node)] = alt
            continue
        if isinstance(node, ArrayObject):
            stack.extend((child, page, alt) for child in node)
            continue
        if not isinstance(node, DictionaryObject):
            continue
        if "/Pg" in node and isinstance(node.raw_get("/Pg"), IndirectObject):
            page = pages.get(node.raw_get("/Pg").idnum, page)
        alt = str(node.get("/Alt", "")) or alt
        if "/MCID" in node and page is not None:
            found[(page, int(node["/MCID"]))] = alt  # type: ignore[call-overload]
        if "/K" in node:
            stack.append((node.raw_get("/K"), page, alt))
    return found


def _placed(path: Path, reader: PdfReader) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    alts: dict[tuple[int, int], str] | None = None
    outside: list[int] = []
    example = ""
    document = pdfium.PdfDocument(path)
    try:
        for index in range(len(document)):
            page = document[index]
            for obj, m in _images(page):
                px_w, px_h = obj.get_px_size()
                width_in = math.hypot(m[0], m[1]) / PT_PER_IN
                height_in = math.hypot(m[2], m[3]) / PT_PER_IN
                if not (width_in and height_in and px_w and px_h):
                    continue
                dpi = min(px_w / width_in, px_h / height_in)
                if dpi < MIN_DPI - 0.5:
                    if alts is None:
                        alts = _alt_texts(reader)
                    mcid = pdfium_c.FPDFPageObj_GetMarkedContentID(obj.raw)
                    alt = alts.get((index, mcid), "")
                    name = f'"{alt}" ' if alt else ""
                    found.append(
                        diagnostic(
                            path,
                            "P014",
                            f"page {index + 1}: image {name}({px_w}x{px_h} px) printed at "
                            f"{width_in:.2f} x {height_in:.2f} in is {dpi:.0f} dpi",
                        )
                    )
            text = _outside_live_area(page, reader.pages[index])
            if text is not None:
                outside.append(index + 1)
                example = example or f'page {index + 1}: "{text}"'
    finally:
        document.close()
    if outside:
        found.append(
            diagnostic(
                path, "P018", f"text within 0.25 in of the trim edge on {page_list(outside)} ({example})"
            )
        )
    return found


def _outside_live_area(page: Any, pypdf_page: Any) -> str | None:
    trim = _box(pypdf_page, "/TrimBox") or _box(pypdf_page, "/MediaBox")
    if trim is None:
        return None
    x0, y0 = trim[0] + LIVE_INSET_PT - TOLERANCE_PT, trim[1] + LIVE_INSET_PT - TOLERANCE_PT
    x1, y1 = trim[2] - LIVE_INSET_PT + TOLERANCE_PT, trim[3] - LIVE_INSET_PT + TOLERANCE_PT
    textpage = page.get_textpage()
    try:
        for i in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(i)
            if left < x0 or bottom < y0 or right > x1 or top > y1:
                snippet = " ".join(textpage.get_text_bounded(left, bottom, right, top).split())
                if snippet:
                    return snippet[:40]
    finally:
        textpage.close()
    return None
