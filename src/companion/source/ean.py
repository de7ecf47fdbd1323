"""The ISBN as an EAN-13 barcode, with its 5-digit add-on, drawn as SVG vectors in 100% K.

From the standard's tables (ISO/IEC 15420, GS1 General Specifications 5.2): each digit is 7
modules in one of three codes (L, G, R); the first digit is not drawn but chooses the L/G pattern
of the left half. The EAN-5 add-on's parity pattern follows from its own check sum. Bars are
rectangles filled with `device-cmyk(0 0 0 1)` (WeasyPrint writes DeviceCMYK), at 80% of the nominal
0.33 mm module or smaller to fit the barcode area, never under 80%.
"""

from __future__ import annotations

from markupsafe import Markup, escape

_L = (
    "0001101",
    "0011001",
    "0010011",
    "0111101",
    "0100011",
    "0110001",
    "0101111",
    "0111011",
    "0110111",
    "0001011",
)
_G = tuple(code[::-1].translate(str.maketrans("01", "10")) for code in _L)
_R = tuple(code.translate(str.maketrans("01", "10")) for code in _L)
_FIRST = ("LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL")
_ADDON = ("GGLLL", "GLGLL", "GLLGL", "GLLLG", "LGGLL", "LLGGL", "LLLGG", "LGLGL", "LGLLG", "LLGLG")
MODULE_MM = 0.33
"""The nominal module width (100% magnification)."""
MIN_MAGNIFICATION = 0.8
QUIET_LEFT, QUIET_RIGHT, ADDON_GAP = 11, 7, 9
"""Quiet zones and the gap before the add-on, in modules."""
BAR_HEIGHT_MM = 22.85
"""Nominal bar height at 100%."""
INK = "device-cmyk(0 0 0 1)"


def normalise(isbn: str) -> str:
    """The ISBN's digits, without hyphens or spaces."""
    return "".join(c for c in isbn if not c.isspace() and c != "-")


def check_digit(first12: str) -> int:
    """The EAN-13 check digit of 12 digits."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return (10 - total % 10) % 10


def ean13_modules(digits: str) -> str:
    """The 95 modules ('1' bar, '0' space) of a 13-digit EAN."""
    pattern = _FIRST[int(digits[0])]
    left = "".join((_L if kind == "L" else _G)[int(d)] for kind, d in zip(pattern, digits[1:7], strict=True))
    right = "".join(_R[int(d)] for d in digits[7:])
    return "101" + left + "01010" + right + "101"


def addon_modules(digits: str) -> str:
    """The 48 modules of a 5-digit add-on (start 01011, five digits, separators 01)."""
    check = (3 * sum(int(d) for d in digits[0::2]) + 9 * sum(int(d) for d in digits[1::2])) % 10
    codes = [(_L if kind == "L" else _G)[int(d)] for kind, d in zip(_ADDON[check], digits, strict=True)]
    return "01011" + "01".join(codes)


def _runs(modules: str) -> list[tuple[int, int]]:
    """(start, width) of each bar."""
    runs: list[tuple[int, int]] = []
    for i, m in enumerate(modules):
        if m == "1":
            if runs and runs[-1][0] + runs[-1][1] == i:
                runs[-1] = (runs[-1][0], runs[-1][1] + 1)
            else:
                runs.append((i, 1))
    return runs


def svg(isbn: str, addon: str | None, width_in: float, height_in: float, font: str) -> Markup:
    """An inline SVG of the barcode that fits `width_in` x `height_in`, on white."""
    digits = normalise(isbn)
    main = ean13_modules(digits)
    total = QUIET_LEFT + len(main) + QUIET_RIGHT + (ADDON_GAP + 48 - QUIET_RIGHT + 5 if addon else 0)
    module = min(MODULE_MM / 25.4, width_in / total)
    if module < MODULE_MM / 25.4 * MIN_MAGNIFICATION - 1e-9:
        raise ValueError("the barcode area is too small for the barcode")
    unit: float = module  # inches per module
    text_h = 9 * unit  # the digit line
    head_h = 9 * unit  # the "ISBN ..." line above
    bars = min(BAR_HEIGHT_MM / 25.4 * module / (MODULE_MM / 25.4), height_in - text_h - head_h - 2 * unit)
    top = head_h + unit
    rects = []
    guard = {0, 1, 2, 45, 46, 47, 48, 49, 92, 93, 94}
    for start, width in _runs(main):
        long = start in guard
        height = bars + (5 * unit if long else 0)
        x = (QUIET_LEFT + start) * unit
        rects.append(f'<rect x="{x:.4f}" y="{top:.4f}" width="{width * unit:.4f}" height="{height:.4f}"/>')
    size = 8 * unit
    baseline = top + bars + text_h - unit
    texts = [
        (QUIET_LEFT - 6) * unit,
        *((QUIET_LEFT + 3 + 7 * i + 1.5) * unit for i in range(6)),
        *((QUIET_LEFT + 50 + 7 * i + 1.5) * unit for i in range(6)),
    ]
    labels = [
        f'<text x="{x:.4f}" y="{baseline:.4f}" text-anchor="start" font-size="{size:.4f}">{d}</text>'
        for x, d in zip(texts, digits, strict=True)
    ]
    human = f"ISBN {digits[:3]}-{digits[3:]}"
    labels.append(
        f'<text x="{QUIET_LEFT * unit:.4f}" y="{head_h:.4f}" font-size="{size:.4f}">{escape(human)}</text>'
    )
    if addon:
        offset = QUIET_LEFT + len(main) + ADDON_GAP
        for start, width in _runs(addon_modules(addon)):
            x = (offset + start) * unit
            rects.append(
                f'<rect x="{x:.4f}" y="{top + text_h:.4f}" width="{width * unit:.4f}" '
                f'height="{bars - text_h + 5 * unit:.4f}"/>'
            )
        labels.append(
            f'<text x="{(offset + 4) * unit:.4f}" y="{top + text_h - unit:.4f}" '
            f'font-size="{size:.4f}">{addon}</text>'
        )
    svg_w = total * unit
    svg_h = top + bars + text_h + unit
    # Digits as <text> are laid out by WeasyPrint; text-anchor other than start would put them in a
    # transparency group (see pdfx.py), so each digit is placed at its own x.
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode-svg" '
        f'width="{svg_w:.4f}in" height="{svg_h:.4f}in" '
        f'viewBox="0 0 {svg_w:.4f} {svg_h:.4f}" role="img" aria-label="{escape(human)}">'
        f'<rect x="0" y="0" width="{svg_w:.4f}" height="{svg_h:.4f}" fill="device-cmyk(0 0 0 0)"/>'
        f'<g fill="{INK}">{"".join(rects)}</g>'
        f'<g fill="{INK}" font-family="{escape(font)}">{"".join(labels)}</g></svg>'
    )
