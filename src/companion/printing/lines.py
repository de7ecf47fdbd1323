"""Read the lines of laid-out pages off WeasyPrint's boxes, for the layout lint (lint.py).

Runs in the layout worker that holds the pages. Margin boxes (running heads, folios) are left out;
footnote lines are kept as 'note'. A line's paragraph is its nearest block box's element, so a
paragraph split across pages keeps one number.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from weasyprint.formatting_structure import boxes
from weasyprint.layout.leader import leader_index

from companion.printing.lint import Line

SPACE_EM = 0.2
"""EB Garamond 12's word space: 200 units of 1000 (Italic: 250). A line in another font is judged
against this width, which is near enough for a warning."""
CSS_PX_PER_PT = 96 / 72
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})


def lines_of(pages: list[Any]) -> list[Line]:
    """Every main-text and footnote line of these pages (WeasyPrint `Page`s), in reading order."""
    blocks: dict[int, int] = {}
    found: list[Line] = []
    for number, page in enumerate(pages):
        for box, section, block, note in _walk(page._page_box):
            key = blocks.setdefault(
                id(block.element) if block.element is not None else id(block), len(blocks)
            )
            found.append(_line(box, number, section, key, block, note))
    return found


def _walk(page: boxes.PageBox) -> Iterator[tuple[boxes.LineBox, str, Any, bool]]:
    """(line, section id, its block box, in the footnote area) for every line of the page."""
    stack: list[tuple[Any, str, Any, bool]] = [(page, "", None, False)]
    while stack:
        box, section, block, note = stack.pop()
        if isinstance(box, boxes.MarginBox) or (getattr(box, "element_tag", "") or "").endswith("::marker"):
            continue  # running heads and folios; list markers
        if isinstance(box, boxes.LineBox):
            yield box, section, block, note
            continue
        element = getattr(box, "element", None)
        if isinstance(box, boxes.BlockBox) and element is not None and box.element_tag == "section":
            section = section or element.get("id") or ""  # the outermost: the book's own section
        if isinstance(box, boxes.FootnoteAreaBox):
            note = True
        if isinstance(box, boxes.BlockContainerBox):
            block = box
        stack.extend((child, section, block, note) for child in reversed(getattr(box, "children", ())))


def _line(line: boxes.LineBox, page: int, section: str, key: int, block: Any, note: bool) -> Line:
    texts = [b for b in line.descendants() if isinstance(b, boxes.TextBox)]
    text = "".join(b.text for b in texts)
    _, leader = leader_index(line)
    if note:
        kind = "note"
    elif leader is not None:
        kind = "leader"
    elif (block.element_tag or "") in _HEADINGS:
        kind = "heading"
    else:
        kind = "text"
    last = texts[-1] if texts else None
    hyphen = bool(
        last is not None
        and last.style["hyphens"] == "auto"
        and last.text.endswith(last.style["hyphenate_character"])
    )
    spacing = max((_spacing(b) for b in texts), default=1.0)
    gap = _gap(line, leader) if leader is not None else 0.0
    return Line(page, section, key, kind, text, hyphen, round(spacing, 2), round(gap, 2))


def _spacing(box: boxes.TextBox) -> float:
    natural = box.style["font_size"] * SPACE_EM
    extra = (box.justification_spacing or 0.0) + (box.style["word_spacing"] or 0.0)
    return (natural + extra) / natural if natural else 1.0


def _gap(line: boxes.LineBox, leader: boxes.InlineBox) -> float:
    """pt from the leader's last dot to the text that follows it (the page number)."""
    if not leader.children:
        return 0.0
    end = max(dot.position_x + dot.width for dot in leader.children)
    after = [
        b
        for b in line.descendants()
        if isinstance(b, boxes.TextBox) and b.position_x >= end - 0.01 and b not in leader.children
    ]
    if not after:
        return 0.0
    return max(0.0, min(b.position_x for b in after) - end) / CSS_PX_PER_PT
