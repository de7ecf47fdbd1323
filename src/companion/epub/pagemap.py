"""Print page numbers for the EPUB: where each page of the laid-out print interior begins.

WeasyPrint reports, for every page, the element ids on it; the elements that *start* on a page
are the ones not seen on an earlier page. For each page we take the first block element (in
document order) that starts there and also exists in the EPUB, and label it with the page's folio.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.epub.package import PageBreak
from companion.printing.layout import PrintLayout
from companion.render.render import RenderedBook, block_ids


@dataclass(frozen=True)
class PageMap:
    breaks: dict[str, str]
    """Block element id -> page label, for `render(..., page_breaks=...)`."""
    page_list: tuple[PageBreak, ...]
    """The nav page-list, in page order."""


def to_roman(number: int) -> str:
    numerals = [
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ]
    out = ""
    for value, letters in numerals:
        while number >= value:
            out += letters
            number -= value
    return out


def page_labels(layout: PrintLayout, body_start: int) -> tuple[str, ...]:
    """The page number of each physical page: roman before the body, arabic from its first page."""
    return tuple(
        to_roman(page) if page < body_start else str(page - body_start + 1)
        for page in range(1, layout.page_count + 1)
    )


def page_map(printed: RenderedBook, layout: PrintLayout) -> PageMap:
    order: dict[str, int] = {}
    file_of: dict[str, str] = {}
    for document in printed.documents:
        if "epub" not in document.section.targets:
            continue
        for ident in block_ids(document.html):
            order.setdefault(ident, len(order))
            file_of[ident] = document.section.file
    starts = dict(layout.page_starts)
    body_start = starts.get(next(s.id for s in printed.sections if s.matter == "bodymatter"), 1)
    labels = page_labels(layout, body_start)
    first_on_page: dict[int, str] = {}
    for ident, page in layout.page_starts:
        if ident in order and (page not in first_on_page or order[ident] < order[first_on_page[page]]):
            first_on_page[page] = ident
    breaks = {ident: labels[page - 1] for page, ident in sorted(first_on_page.items())}
    page_list = tuple(
        PageBreak(labels[page - 1], f"{file_of[ident]}#page-{labels[page - 1]}")
        for page, ident in sorted(first_on_page.items())
    )
    return PageMap(breaks, page_list)
