"""Lay out parts of the print interior, correct their page numbers in place, and write them.

One `PartLayout` lives in each worker process (parallel.Worker): WeasyPrint's laid-out pages hold
Pango objects and cannot be sent to another process, so the process that lays a part out also
corrects and writes it. A page number is corrected in place: its digits are replaced, and its line
takes up the change of width the way justification does, in its spaces (`_refit`). Only when that
would be too much (a number that gained or lost a digit in a short line) is the part laid out again.
Folios sit alone in their margin box and are re-aligned.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from weasyprint import CSS, HTML
from weasyprint.document import Document
from weasyprint.formatting_structure import boxes
from weasyprint.images import RasterImage
from weasyprint.layout.inline import count_expandable_spaces
from weasyprint.layout.leader import leader_index
from weasyprint.text.fonts import FontConfiguration
from weasyprint.text.line_break import line_size

from companion.core import parallel
from companion.printing import lines as pdflines
from companion.printing import lint
from companion.printing.fetcher import RestrictedFetcher

CSS_PX_PER_IN = 96
_SHIFT = {"right": 1.0, "end": 1.0, "center": 0.5}
"""How much of a change in width moves a folio, by its margin box's alignment."""


@dataclass(frozen=True)
class PartReport:
    pages: int
    anchors: tuple[tuple[str, int], ...]
    """(id, 0-based page of the part) where each element begins."""
    folios: tuple[str, ...]
    """What each page prints at its foot ('' where nothing)."""
    overflows: tuple[tuple[int, str], ...]
    """(0-based page, text) of each line that runs past its measure."""
    images: tuple[tuple[str, int], ...]
    """(src, effective dpi) of each raster image."""
    lint: tuple[tuple[int, str, str], ...] = ()
    """(0-based page, code, message) of each layout-lint finding (lint.py) but L002."""
    full_page: int = 0
    """The most main-text lines a page of the part holds (lint.full_page_lines)."""
    last_pages: tuple[tuple[int, str, int], ...] = ()
    """(0-based page, section, lines) of each section's last page (lint.last_pages): L002 is
    judged once every part is laid out, against the whole book's full page."""

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode()

    @classmethod
    def from_json(cls, data: bytes) -> PartReport:
        raw = json.loads(data)
        return cls(
            int(raw["pages"]),
            tuple((str(i), int(p)) for i, p in raw["anchors"]),
            tuple(str(f) for f in raw["folios"]),
            tuple((int(p), str(t)) for p, t in raw["overflows"]),
            tuple((str(s), int(d)) for s, d in raw["images"]),
            tuple((int(p), str(c), str(m)) for p, c, m in raw.get("lint", ())),
            int(raw.get("full_page", 0)),
            tuple((int(p), str(s), int(n)) for p, s, n in raw.get("last_pages", ())),
        )


@dataclass
class _Laid:
    doc: Document
    folios: list[tuple[boxes.TextBox, int]]
    """The folio text box of each page that prints one, with the page's index."""
    numbers: dict[Any, list[tuple[boxes.TextBox, boxes.LineBox, float]]]
    """Each link element that prints a page number: the text boxes of its ::after content, with
    their line and the right edge of its measure."""


class PartLayout:
    """The WeasyPrint side of one worker. Its methods are called through parallel.Worker."""

    def __init__(
        self,
        stylesheets: list[CSS],
        fetcher: RestrictedFetcher,
        base_url: str,
        page_css: str,
        profiles: dict[str, object],
        fonts: FontConfiguration,
    ) -> None:
        self._stylesheets, self._fetcher, self._base_url = stylesheets, fetcher, base_url
        self._page_css, self._profiles, self._fonts = page_css, profiles, fonts
        self._parts: dict[int, _Laid] = {}

    def set_page_css(self, page_css: str) -> None:
        self._page_css = page_css

    # The parent sends a worker its next part only when the worker is idle (a pipe holds 64 KiB: a
    # message to a busy worker would keep the parent waiting), so calls take lists.

    def lay_out(self, work: list[tuple[int, str, str]]) -> list[PartReport]:
        """(part index, html, extra css) for each part; a report on each."""
        reports = []
        for index, html, css in work:
            if not parallel.in_worker():  # a long-lived process (the preview server) keeps its collector
                reports.append(self._lay_out(index, html, css))
                continue
            gc.disable()  # a layout makes millions of objects: the collector would walk them again
            try:  # and again (0.8 s of a 660-page book); they are collected once, after it
                reports.append(self._lay_out(index, html, css))
            finally:
                gc.enable()
            gc.collect()  # the layout's garbage, then the pages it keeps are spared the collector's
            gc.freeze()  # rounds until they are written (the worker's memory goes with it)
        return reports

    def fits(self, work: list[tuple[int, dict[str, int]]]) -> list[bool]:
        """Whether each part's lines can take these page numbers (by link target) in place."""
        return [self._numbers(index, numbers, apply=False) for index, numbers in work]

    def patch(self, work: list[tuple[int, dict[int, str], dict[str, int]]]) -> list[None]:
        """Put the true folios (by 0-based page) and page numbers (by link target) in place."""
        for index, folios, numbers in work:
            for box, page in self._parts[index].folios:
                new = folios.get(page)
                if new is not None and new != box.text.strip():
                    width = box.width
                    _set_text(box, new)
                    box.position_x += (width - box.width) * _SHIFT.get(box.style["text_align_all"], 0.0)
            self._numbers(index, numbers, apply=True)
        return [None] * len(work)

    def leaders(self, indices: list[int]) -> list[tuple[tuple[int, str, str], ...]]:
        """With the true numbers in place: each leader's dots made to end where its number begins,
        then the contents leaders' lint findings of each part."""
        for index in indices:
            for page in self._parts[index].doc.pages:
                for box, _, margin, _ in _walk(page._page_box):
                    if margin is None and isinstance(box, boxes.LineBox):
                        _align(box)
        return [_lint(pdflines.lines_of(self._parts[index].doc.pages), leaders=True) for index in indices]

    def write(self, indices: list[int], variant: str | None) -> list[bytes]:
        """Each part as PDF bytes (tagged); its layout is let go."""
        written = []
        for index in indices:
            doc = self._parts.pop(index).doc
            out = io.BytesIO()
            doc.write_pdf(out, pdf_tags=True, pdf_variant=variant, pdf_identifier=variant is not None)
            written.append(out.getvalue())
            del doc
            _give_back()
        return written

    def _lay_out(self, index: int, html: str, css: str) -> PartReport:
        fonts = self._fonts  # the bundled fonts only (printfonts.py), in every CSS() and render()
        extra = [CSS(string=self._page_css + css, url_fetcher=self._fetcher, font_config=fonts)]
        doc = HTML(string=html, base_url=self._base_url, url_fetcher=self._fetcher).render(
            stylesheets=[*self._stylesheets, *extra], color_profiles=self._profiles, font_config=fonts
        )
        if len(doc.pages) % 2:  # the next part opens on a right-hand page
            blank = HTML(string="<html><body></body></html>", url_fetcher=self._fetcher).render(
                stylesheets=[CSS(string=self._page_css, url_fetcher=self._fetcher, font_config=fonts)],
                font_config=fonts,
            )
            doc = doc.copy(doc.pages + blank.pages[:1])
        laid = _Laid(doc, [], {})
        overflows: list[tuple[int, str]] = []
        images: dict[str, int] = {}
        folios: list[str] = []
        anchors: dict[str, int] = {}
        for number, page in enumerate(doc.pages):
            folio = ""
            for box, limit, margin, line in _walk(page._page_box):
                if isinstance(box, boxes.TextBox):
                    if margin is not None and margin.at_keyword.startswith("@bottom") and box.text.strip():
                        folio = box.text.strip()
                        laid.folios.append((box, number))
                    elif _prints_number(box):
                        laid.numbers.setdefault(box.element, []).append((box, line, limit))
                if margin is not None:
                    continue
                if isinstance(box, boxes.LineBox):
                    for child in box.descendants():
                        text = getattr(child, "text", "") or ""
                        if text.strip() and child.position_x + child.width > limit:
                            overflows.append((number, text.strip()[:60]))
                            break
                if (
                    isinstance(box, boxes.ReplacedBox)
                    and isinstance(box.replacement, RasterImage)
                    and box.width
                ):
                    src = box.element.get("src", "") if box.element is not None else ""
                    dpi = round(box.replacement.width / (box.width / CSS_PX_PER_IN))
                    images[src] = min(dpi, images.get(src, dpi))
            folios.append(folio)
            for anchor in page.anchors:
                anchors.setdefault(anchor, number)
        self._parts[index] = laid
        lines = pdflines.lines_of(doc.pages)
        return PartReport(
            len(doc.pages),
            tuple(anchors.items()),
            tuple(folios),
            tuple(overflows),
            tuple(sorted(images.items())),
            _lint(lines),
            lint.full_page_lines(lines),
            tuple((page.page, page.section, page.lines) for page in lint.last_pages(lines)),
        )

    def _numbers(self, index: int, numbers: Mapping[str, int], *, apply: bool) -> bool:
        fits = True
        for element, texts in self._parts[index].numbers.items():
            target = (element.get("href") or "").rsplit(":", 1)[-1].lstrip("#")
            old, new = element.get("data-page"), numbers.get(target)
            if new is None or old == str(new):
                continue
            for box, line, limit in texts:
                at = box.text.rfind(old)
                if at < 0:
                    continue
                text, width = box.text, box.width
                _set_text(box, text[:at] + str(new) + text[at + len(old) :])
                fits = _refit(line, box, width - box.width, limit, apply) and fits
                if not apply:
                    box.text = box.pango_layout.text = text
                    box.width = width
            if apply:
                element.set("data-page", str(new))
        return fits


def _lint(lines: list[lint.Line], *, leaders: bool = False) -> tuple[tuple[int, str, str], ...]:
    """The layout lint's findings but L002 (pdfjob.py judges it for the whole book); contents
    leaders only when asked (once the true numbers are in)."""
    if leaders:
        lines = [line for line in lines if line.kind == "leader"]
    found = lint.check(lines, None)
    return tuple((f.page, f.code, f.message) for f in found if (f.code == "L007") == leaders)


def _give_back() -> None:
    """Hand the memory of a written part back to the system (glibc keeps freed memory otherwise)."""
    with contextlib.suppress(OSError, AttributeError):  # AttributeError: not glibc
        ctypes.CDLL(None).malloc_trim(0)


def _prints_number(box: boxes.TextBox) -> bool:
    """Is this the ::after content of a link that prints its target's page number?"""
    element = box.element
    after = (box.element_tag or "").endswith("::after")
    return after and element is not None and element.get("data-page") is not None


MAX_EXTRA_SPACE = 1.5
"""CSS px: how much wider or narrower than it was laid out a justified line's spaces may become."""


def _refit(line: boxes.LineBox, box: boxes.TextBox, change: float, limit: float, apply: bool) -> bool:
    """Make room in `line` for `box`, which became `change` narrower (negative: wider). A justified
    line takes it up in its spaces, as justifying does; a line with a leader keeps its right edge;
    any other line moves the rest of its text. False when the line would look wrong for it.
    With `apply` off, only say whether it would fit."""
    if abs(change) < 0.01:
        return True
    _, leader = leader_index(line)
    if leader is not None:
        if apply:
            _redot(line, leader, change)
            box.position_x += change
        return bool(leader.children)
    texts = [b for b in line.descendants() if isinstance(b, boxes.TextBox)]
    extra = 0.0
    if any(b.justification_spacing for b in texts):
        spaces = count_expandable_spaces(line)
        if not spaces or abs(change / spaces) > MAX_EXTRA_SPACE:
            return False
        extra = change / spaces
    elif max(b.position_x + b.width for b in texts) - change > limit:
        return False
    if apply:
        _shift(line, box, change, extra, 0.0)
    return True


def _redot(line: boxes.LineBox, leader: boxes.InlineBox, change: float) -> None:
    """Lay the leader's dots out again, as WeasyPrint's handle_leader does (on a grid counted from
    the line's right edge, so that they line up from entry to entry), in `change` more room."""
    dot = leader.children[0]
    room = leader.width + change
    right = line.position_x + line.width
    dots = []
    for n in range(1, int(line.width // dot.width) + 1):
        x = right - n * dot.width
        if leader.position_x <= x and x + dot.width <= leader.position_x + room:
            copy = dot.copy()
            copy.position_x = x
            dots.append(copy)
    leader.children = tuple(dots)
    leader.width = room


def _align(line: boxes.LineBox) -> None:
    """Dots that end where the number begins, so that every entry has the same gap before its
    number (the pattern's own trailing space). WeasyPrint counts its dots from the line's right edge,
    which leaves a gap of up to a dot's width that changes with the width of each number."""
    _, leader = leader_index(line)
    if leader is None or not leader.children:
        return
    dot = leader.children[0]
    right = leader.position_x + leader.width
    after = [
        b
        for b in line.descendants()
        if isinstance(b, boxes.TextBox) and b.position_x >= right - 0.01 and b not in leader.children
    ]
    if not after or dot.width <= 0:
        return
    end = min(b.position_x for b in after)
    dots = []
    room = end - leader.position_x - dot.width / 2  # and half a dot clear of the entry's title
    for n in range(int(room // dot.width), 0, -1):
        copy = dot.copy()
        copy.position_x = end - n * dot.width
        dots.append(copy)
    leader.children = tuple(dots)


def _shift(box: Any, changed: boxes.TextBox, change: float, extra: float, advance: float) -> float:
    """WeasyPrint's add_word_spacing, adding `extra` to what each space already has, and moving what
    follows `changed` (already `change` narrower) back by that much."""
    if isinstance(box, boxes.TextBox):
        box.position_x += advance
        spaces = count_expandable_spaces(box)
        if spaces and extra:
            box.justification_spacing += extra
            box.pango_layout.justification_spacing += extra
            box.width += extra * spaces
            advance += extra * spaces
        if box is changed:
            advance -= change
    elif isinstance(box, (boxes.LineBox, boxes.InlineBox)):
        box.position_x += advance
        before = advance
        for child in box.children:
            if child.is_in_normal_flow():
                advance = _shift(child, changed, change, extra, advance)
        box.width += advance - before
    else:
        box.translate(advance, 0)
    return advance


def _set_text(box: boxes.TextBox, text: str) -> None:
    box.text = box.pango_layout.text = text
    box.pango_layout.reactivate(box.style)
    first_line, _ = box.pango_layout.get_first_line()
    box.width = line_size(first_line, box.style)[0]
    box.pango_layout.deactivate()


def _walk(page: boxes.PageBox) -> Iterator[tuple[Any, float, Any, Any]]:
    """Every box of a page, with the right edge of its measure, its margin box (if in one) and its
    line box (if in one)."""
    stack: list[tuple[Any, float, Any, Any]] = [(page, float("inf"), None, None)]
    while stack:
        box, limit, margin, line = stack.pop()
        yield box, limit, margin, line
        if isinstance(box, boxes.MarginBox):
            margin = box
        elif isinstance(box, boxes.LineBox):
            line = box
        elif isinstance(box, boxes.BlockContainerBox) and box.width is not None:
            limit = box.content_box_x() + box.width + 0.5
        stack.extend((child, limit, margin, line) for child in reversed(getattr(box, "children", ())))
