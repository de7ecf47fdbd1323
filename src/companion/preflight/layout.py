"""Preflight (preflight/): the layout lint (lint.py) on any PDF, from the text on its pages.

The build lints WeasyPrint's boxes (pdflines.py); a PDF from anywhere has only positioned glyphs.
pypdfium2 gives each character with its box, size and marked-content tags, and breaks the text into
lines (a raised note call is kept on its line). These become the `lint.Line`s the build makes:

* running heads and folios are left out: text marked `/Artifact` (tagged PDFs, ours among them),
  else a line of nothing but a page number, or a small line above the page's first line of text;
* kind: a line set larger than the body text is a heading; smaller lines below the page's last
  body-size line are notes (the footnote area); dots followed by a number make a contents leader;
* block (paragraph): a new one after a larger gap than the line spacing, a change of kind or size,
  a short line before it (a paragraph's last line), or an indented first line; a paragraph that
  runs onto the next page keeps its number when the page's last line was full;
* section: the top-level bookmarks, else the whole file is one; hyphen: U+2010, U+00AD or U+002D;
* spacing: the line's median word space over the width of its space character (the font's own
  word space; the build divides by the same font's 0.2 em);
* gap: for a leader, pt from its last dot to its number.

What a PDF cannot tell: sections without bookmarks (L002 sees one), and a list item's extent when
items are not separated by space or a short line.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from companion.core.errors import Diagnostic, diagnostic
from companion.printing import lint

HEADING_SIZE = 1.08
"""A line set this much larger than the body text (or more) is a heading."""
NOTE_SIZE = 0.92
"""A line this much smaller than the body text (or less), below it, is a footnote."""
BLOCK_GAP = 1.3
"""A gap between baselines over this many times the usual line spacing starts a new block."""
SHORT_LINE_EM = 1.0
"""A line ending this many ems (or more) short of the column's right edge ends its paragraph."""
INDENT_EM = 0.5
"""A line starting this many ems (or more) right of the column's left edge starts a paragraph."""
SPACE_PER_SIZE = 0.2
"""Without a space character anywhere to measure: EB Garamond's 0.2 em word space over the one em
PDFium's loose character boxes are tall, the build's own measure (pdflines.SPACE_EM)."""
HYPHENS = ("\u2010", "\u00ad", "-")
_FOLIO = re.compile(r"[0-9]+|[ivxlcdm]+", re.IGNORECASE)
_BLOCKS = frozenset({"P", "LI", "LBody", "Caption", "TD", "TH", "TOCI", "Lbl", "Note", "BlockQuote"})
_Roles = dict[int, tuple[str, int]]
_LEADER = re.compile(r"(?:\.\s*){3,}\s*(\S+)\s*$")


@dataclass
class _Char:
    text: str
    left: float
    right: float
    bottom: float
    top: float
    artifact: bool
    role: str = ""
    """The structure element the character belongs to: 'H1'-'H6', 'P', 'LBody', ..., '' untagged."""
    element: int = 0
    """Which structure element (its address in PDFium; 0 untagged)."""


@dataclass
class _Row:
    """One line of a page as PDFium reads it, with what the rules need measured."""

    page: int
    chars: list[_Char]
    text: str
    left: float
    right: float
    baseline: float
    size: float
    """Height of the line's loose character boxes (one em): its type size, in pt."""
    artifact: bool
    role: str = ""
    element: int = 0
    gaps: tuple[float, ...] = ()
    """The gaps between the line's words, pt."""
    space: float = 0.0
    """The width of the line's space character (0: PDFium made the spaces up from the gaps)."""
    spacing: float = 1.0
    gap: float = 0.0


def check_layout(path: Path) -> list[Diagnostic]:
    """The layout lint's findings on the PDF at `path`, as warnings naming the (1-based) page."""
    found = lint.check(lines := lines_of(path), lint.full_page_lines(lines))
    return [diagnostic(path, f.code, f"page {f.page + 1}: {f.message}") for f in found]


def lines_of(path: Path) -> list[lint.Line]:
    """Every main-text, heading, footnote and leader line of the PDF, in reading order."""
    document = pdfium.PdfDocument(str(path))
    try:
        rows = _main([row for number in range(len(document)) for row in _rows(document, number)])
        opens = _section_pages(document)
    finally:
        document.close()
    if not rows:
        return []
    _spacing(rows)
    body = statistics.mode(round(row.size, 1) for row in rows for _ in row.text)
    return list(_lines(rows, body, opens))


def _rows(document: pdfium.PdfDocument, number: int) -> Iterator[_Row]:
    page = document[number]
    text = page.get_textpage()
    try:
        roles = _roles(page)
        objects: dict[int, tuple[bool, str, int]] = {}
        chars: list[_Char] = []
        broken = False  # PDFium ends a line wherever the baseline moves: after a note call, too
        for index in range(pdfium_c.FPDFText_CountChars(text)):
            char = _char(text, index, objects, roles)
            if char is None:
                continue
            if char.text in "\r\n":
                broken = bool(chars)
                continue
            if broken and not _continues(chars[-1], char):
                yield _row(number, chars)
                chars = []
            chars.append(char)
            broken = False
        if chars:
            yield _row(number, chars)
    finally:
        text.close()
        page.close()


def _roles(page: pdfium.PdfPage) -> _Roles:
    """Marked-content id -> (role, address) of the innermost block-level structure element that
    holds it: a heading, paragraph, list item body, caption or table cell."""
    found: _Roles = {}
    tree = pdfium_c.FPDF_StructTree_GetForPage(page.raw)
    if not tree:
        return found
    try:
        stack = [
            (pdfium_c.FPDF_StructTree_GetChildAtIndex(tree, n), ("", 0))
            for n in range(pdfium_c.FPDF_StructTree_CountChildren(tree))
        ]
        while stack:
            element, holder = stack.pop()
            if not element:
                continue
            role = _text(pdfium_c.FPDF_StructElement_GetType, element)
            if holder[0] == "Figure":
                pass  # a figure's own text (an SVG map's labels) is not the book's running text
            elif role in _BLOCKS or role == "Figure" or re.fullmatch(r"H[1-6]?", role):
                holder = (role, ctypes.cast(element, ctypes.c_void_p).value or 0)
            for n in range(pdfium_c.FPDF_StructElement_GetMarkedContentIdCount(element)):
                found[pdfium_c.FPDF_StructElement_GetMarkedContentIdAtIndex(element, n)] = holder
            stack.extend(
                (pdfium_c.FPDF_StructElement_GetChildAtIndex(element, n), holder)
                for n in range(pdfium_c.FPDF_StructElement_CountChildren(element))
            )
    finally:
        pdfium_c.FPDF_StructTree_Close(tree)
    return found


def _text(function: Any, element: Any) -> str:
    """A structure element's string attribute (UTF-16LE through a buffer)."""
    size = function(element, None, 0)
    if size <= 0:
        return ""
    buffer = ctypes.create_string_buffer(size)
    function(element, buffer, size)
    return buffer.raw[: size - 2].decode("utf-16-le", errors="replace")


def _continues(last: _Char, char: _Char) -> bool:
    """Whether `char` goes on the line `last` ends (to its right, and beside it: a raised note call)."""
    overlap = min(last.top, char.top) - max(last.bottom, char.bottom)
    return char.left >= last.right - 1 and overlap > 0.3 * min(last.top - last.bottom, char.top - char.bottom)


def _char(
    text: pdfium.PdfTextPage, index: int, objects: dict[int, tuple[bool, str, int]], roles: _Roles
) -> _Char | None:
    code = pdfium_c.FPDFText_GetUnicode(text, index)
    generated = pdfium_c.FPDFText_IsGenerated(text, index) == 1
    if generated and chr(code) not in "\r\n ":
        return None
    box = pdfium_c.FS_RECTF()
    pdfium_c.FPDFText_GetLooseCharBox(text, index, box)
    obj = pdfium_c.FPDFText_GetTextObject(text, index)
    key = ctypes.cast(obj, ctypes.c_void_p).value or 0
    if key not in objects:  # a text object holds many characters: its marks are read once
        role, element = roles.get(pdfium_c.FPDFPageObj_GetMarkedContentID(obj), ("", 0)) if key else ("", 0)
        objects[key] = (bool(key) and _is_artifact(obj), role, element)
    artifact, role, element = objects[key]
    return _Char(
        chr(code),
        box.left,
        box.right if not generated else box.left,  # a space PDFium made up has no width of its own
        box.bottom,
        box.top,
        artifact,
        role,
        element,
    )


def _is_artifact(obj: object) -> bool:
    for index in range(max(0, pdfium_c.FPDFPageObj_CountMarks(obj))):
        mark = pdfium_c.FPDFPageObj_GetMark(obj, index)
        name = (ctypes.c_ushort * 16)()
        length = ctypes.c_ulong()
        read = pdfium_c.FPDFPageObjMark_GetName(mark, name, ctypes.sizeof(name), ctypes.byref(length))
        if read and bytes(name)[: length.value].decode("utf-16-le").rstrip("\x00") == "Artifact":
            return True
    return False


def _row(page: int, chars: list[_Char]) -> _Row:
    inked = [c for c in chars if not c.text.isspace()] or chars
    sizes = [c.top - c.bottom for c in inked]
    role, element = statistics.mode((c.role, c.element) for c in inked)
    row = _Row(
        page,
        chars,
        "".join(c.text for c in chars).strip(),
        min(c.left for c in inked),
        max(c.right for c in inked),
        statistics.median(c.bottom for c in inked),
        statistics.median(sizes),
        all(c.artifact for c in inked),
        role,
        element,
    )
    gaps, widths, tracking = [], [], []
    for index, char in enumerate(chars[1:-1], 1):
        before, after = chars[index - 1], chars[index + 1]
        if char.text in " \u00a0" and not before.text.isspace() and not after.text.isspace():
            gaps.append(after.left - before.right)
            if char.right > char.left:
                widths.append(char.right - char.left)
        elif not char.text.isspace() and not after.text.isspace():
            tracking.append(after.left - char.right)
    # Letter-spacing (small caps are tracked) widens a word gap twice, after the word and after
    # the space; the build's measure leaves it out, so it is taken off here.
    spaced = max(0.0, statistics.median(tracking)) if tracking else 0.0
    row.gaps = tuple(gap - 2 * spaced for gap in gaps)
    row.space = statistics.median(widths) if widths else 0.0
    if match := _LEADER.search(row.text):
        row.gap = _leader_gap(chars, len(match.group(1)))
    return row


def _spacing(rows: list[_Row]) -> None:
    """Each row's median word gap over its space's width; where PDFium made the spaces up, over the
    file's usual space for the type size (the median space-to-size ratio of the other lines)."""
    ratios = [row.space / row.size for row in rows if row.space and row.size]
    usual = statistics.median(ratios) if ratios else SPACE_PER_SIZE
    for row in rows:
        width = row.space or usual * row.size
        if row.gaps and width > 0:
            row.spacing = round(statistics.median(row.gaps) / width, 2)


def _leader_gap(chars: list[_Char], number_length: int) -> float:
    inked = [c for c in chars if not c.text.isspace()]
    number, dots = inked[-number_length], [c for c in inked[:-number_length] if c.text == "."]
    if len(dots) >= 2:  # where the next dot would begin, as the build measures the dot boxes (each
        pitch = dots[-1].left - dots[-2].left  # with the pattern's space): the same at any type size
        return round(max(0.0, number.left - dots[-1].left - pitch), 2)
    return round(max(0.0, number.left - dots[-1].right), 2) if dots else 0.0


def _main(rows: list[_Row]) -> list[_Row]:
    """The rows without running heads and folios."""
    kept = [row for row in rows if not row.artifact and row.text and row.role != "Figure"]
    by_page: dict[int, list[_Row]] = {}
    for row in kept:
        by_page.setdefault(row.page, []).append(row)
    margins: set[int] = set()
    for page_rows in by_page.values():
        for row in (page_rows[0], page_rows[-1]):
            if _FOLIO.fullmatch(row.text):
                margins.add(id(row))
        if len(page_rows) > 1:
            first, second = page_rows[0], page_rows[1]
            if first.size < second.size * NOTE_SIZE and first.baseline - second.baseline > 2.5 * second.size:
                margins.add(id(first))  # a running head set small above the text
    return [row for row in kept if id(row) not in margins]


def _section_pages(document: pdfium.PdfDocument) -> list[tuple[int, str]]:
    """(0-based page, title) of every top-level bookmark, by page."""
    found = []
    for item in document.get_toc():
        dest = item.get_dest() if item.level == 0 else None
        index = dest.get_index() if dest is not None else None
        if index is not None:
            found.append((index, item.get_title()))
    return sorted(found, key=lambda pair: pair[0])


def _section(page: int, opens: Sequence[tuple[int, str]]) -> str:
    title = "the document"
    for first, name in opens:
        if first > page:
            break
        title = name
    return title


def _kind(row: _Row, body: float, last_body: dict[int, float], tagged: bool) -> str:
    if _LEADER.search(row.text):
        return "leader"
    if re.fullmatch(r"H[1-6]?", row.role) and row.size < body * NOTE_SIZE:
        return "label"  # tagged with a heading but set small: a figure's labels (an SVG map's)
    if re.fullmatch(r"H[1-6]?", row.role) or (not tagged and row.size >= body * HEADING_SIZE):
        return "heading"
    if row.size <= body * NOTE_SIZE and (
        not row.role if tagged else row.baseline < last_body.get(row.page, float("-inf"))
    ):
        return "note"  # WeasyPrint leaves its footnote area out of the structure tree
    return "text"


def _lines(rows: list[_Row], body: float, opens: Sequence[tuple[int, str]]) -> Iterator[lint.Line]:
    last_body: dict[int, float] = {}
    for row in rows:
        if abs(row.size - body) < body * (1 - NOTE_SIZE):
            last_body[row.page] = min(last_body.get(row.page, row.baseline), row.baseline)
    lefts = {page: min(r.left for r in rows if r.page == page) for page in {r.page for r in rows}}
    rights = {page: max(r.right for r in rows if r.page == page) for page in lefts}
    leading = _leading(rows)
    tagged = any(row.role for row in rows)
    block, previous, previous_kind = -1, None, ""
    for row in rows:
        kind = _kind(row, body, last_body, tagged)
        if kind == "label":
            continue
        if previous is None or _starts_block(previous, row, kind, previous_kind, lefts, rights, leading):
            block += 1
        yield lint.Line(
            row.page,
            _section(row.page, opens),
            block,
            kind,
            row.text,
            row.text.endswith(HYPHENS) and kind in ("text", "note"),
            row.spacing if kind == "text" else 1.0,
            row.gap,
        )
        previous, previous_kind = row, kind


def _leading(rows: list[_Row]) -> float:
    """The usual distance between consecutive baselines of body lines on a page."""
    steps = [
        round(a.baseline - b.baseline, 1)
        for a, b in itertools.pairwise(rows)
        if a.page == b.page and 0 < a.baseline - b.baseline < 3 * b.size
    ]
    return statistics.mode(steps) if steps else 0.0


def _starts_block(
    previous: _Row,
    row: _Row,
    kind: str,
    previous_kind: str,
    lefts: dict[int, float],
    rights: dict[int, float],
    leading: float,
) -> bool:
    if kind != previous_kind or kind == "leader" or abs(row.size - previous.size) > 0.05 * row.size:
        return True
    if row.element and previous.element and row.page == previous.page:
        return row.element != previous.element  # a tagged PDF says which element each line is in
    short = (  # a line that ends in a hyphen never ends its paragraph
        not previous.text.endswith(HYPHENS)
        and previous.right < rights[previous.page] - SHORT_LINE_EM * previous.size
    )
    indented = row.left > lefts[row.page] + INDENT_EM * row.size
    if row.page != previous.page:
        return short or indented
    step = previous.baseline - row.baseline
    if kind == "heading":
        return step > BLOCK_GAP * row.size * 1.3
    return short or indented or step > BLOCK_GAP * max(leading, row.size)
