"""What a PDF page paints, from its content streams and the form XObjects they draw (pikepdf).

For the print preflight (preflight_print.py): colour operators by colour space, images by colour
space, the thinnest line drawn (stroke widths, and filled rectangles such as WeasyPrint's borders,
through the CTM's scale), transparency groups and soft masks.
"""

from __future__ import annotations

import math
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name

_RGB_OPS = {"rg", "RG"}
_SPACE_OPS = {"cs", "CS"}
RGB_SPACES = ("/DeviceRGB", "/ICCBased3", "/CalRGB")


class Walked:
    """What one page paints: colour operators by colour space, images, line widths, forms."""

    def __init__(self) -> None:
        self.rgb = 0
        self.spaces: set[str] = set()
        self.images: list[str] = []
        self.thinnest: float = math.inf
        self.groups = 0
        self.soft = 0


def walk(page: pikepdf.Page) -> Walked:
    walked = Walked()
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


def _walk_stream(owner: Any, walked: Walked, scale: float, seen: set[tuple[int, int]]) -> None:
    resources = owner.get("/Resources")
    stack = [scale]
    width = 1.0
    rects: list[tuple[float, float, float, float, float]] = []
    try:
        instructions = pikepdf.parse_content_stream(owner)
    except pikepdf.PdfError:
        return
    for instruction in instructions:
        operands, operator = instruction.operands, instruction.operator
        op = str(operator)
        if op in _RGB_OPS:
            walked.rgb += 1
        elif op in _SPACE_OPS:
            space = _space_name(resources, str(operands[0]))
            walked.spaces.add(space)
            if space in RGB_SPACES:
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
