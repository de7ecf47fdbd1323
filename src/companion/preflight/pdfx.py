"""What PDF/X-1a and X-3 forbid, as `preflight --printer` checks it (P046).

OpenType font programs (PDF 1.6, where X-1a and X-3 are PDF 1.4), transparency groups and soft
masks, annotations inside the BleedBox, and for X-1a colour spaces other than CMYK and gray.
"""

from __future__ import annotations

import re
from pathlib import Path

import pikepdf
from pikepdf import Array, Dictionary, Name

from companion.core.errors import Diagnostic, diagnostic
from companion.preflight.paint import Walked
from companion.preflight.pdf import page_list


def _box(page: pikepdf.Page, name: str) -> tuple[float, float, float, float]:
    value = page.obj.get(name) or page.obj.get("/MediaBox") or page.mediabox
    x0, y0, x1, y1 = (float(v) for v in value)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def declared_pdfx(pdf: pikepdf.Pdf) -> str | None:
    version = str(pdf.trailer.get("/Info", Dictionary()).get("/GTS_PDFXVersion", ""))
    if not version:
        with pdf.open_metadata() as meta:
            version = str(meta.get("pdfxid:GTS_PDFXVersion", "") or meta.get("pdfx:GTS_PDFXVersion", ""))
    for name in ("PDF/X-1a", "PDF/X-3", "PDF/X-4"):
        if version.upper().startswith(name.upper()):
            return name
    return None


def pdfx_rules(path: Path, pdf: pikepdf.Pdf, walked: list[Walked], variant: str) -> list[Diagnostic]:
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
            diagnostic(
                path, "P046", f"OpenType font programs ({', '.join(opentype)}): not allowed in {variant}"
            )
        )
    groups = [n for n, w in enumerate(walked, start=1) if w.groups or w.soft]
    if groups:
        count = sum(w.groups + w.soft for w in walked)
        found.append(
            diagnostic(
                path, "P046", f"{page_list(groups)}: {count} transparency groups or soft masks ({variant})"
            )
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
        found.append(
            diagnostic(path, "P046", f"{page_list(annotated)}: annotations inside the BleedBox ({variant})")
        )
    if variant == "PDF/X-1a":
        allowed = {"/DeviceCMYK", "/DeviceGray", "/Separation", "/DeviceN", "/Pattern", "/Indexed"}
        bad = [(n, sorted(w.spaces - allowed)) for n, w in enumerate(walked, start=1) if w.spaces - allowed]
        bad += [
            (n, ["/DeviceRGB"]) for n, w in enumerate(walked, start=1) if w.rgb and not w.spaces - allowed
        ]
        if bad:
            names = sorted({s for _, spaces in bad for s in spaces})
            found.append(
                diagnostic(
                    path,
                    "P046",
                    f"{page_list([n for n, _ in bad])}: colour spaces {', '.join(names)} "
                    "(PDF/X-1a: CMYK and gray)",
                )
            )
    return found
