"""Split the print interior into parts that are laid out independently, and number their pages.

Every chapter opens on a right-hand page, so where its lines and pages fall does not depend on the
sections before it: only the numbers it prints do (its folios, "see page N", the
contents). So the interior is cut into parts of whole sections, each beginning with a section that
opens on the right (part 0 is the front matter), each part
is laid out on its own with guessed numbers (`guess`), and once every part's page count is known the
true numbers follow (`number`). A wrong guess is put right in the laid-out part, by replacing the
digits and letting the line's spaces take up the change of width (pdfworker.py), rather than by laying
the part out again.

Arabic folios start at 1 on the first page of the first body section (print.css); front matter pages
count from 1 too, in roman numerals. `number` follows the same rule.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from companion.printing.merge import PART_LINK_SCHEME

_SECTION = re.compile(r'<section id="([^"]+)" class="([\w-]+) (front|body|back)matter"')
OPENS_ON_RIGHT = frozenset({"about", "chapter"})
"""The kinds of body section that print.css opens on a right-hand page (front matter opens on the
right too). Other sections follow on the next page of either side, so their layout depends on the
section before them: a part may begin only with a section that opens on the right."""
_LINK = re.compile(r'<a ([^>]*?)href="#([^"]+)"')
_ID = re.compile(r'\bid="([^"]+)"')
_FOOTNOTE = re.compile(r'class="footnote"')
_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r'class="halftitle-title"[^>]*>(.*?)</', re.S)

PART_WORDS = 12_000
"""About this many words (some 40 pages) to a part: small enough that an edit re-lays out little."""


@dataclass(frozen=True)
class Section:
    id: str
    matter: str
    """front, body or back"""
    html: str
    words: int
    footnotes: int
    ids: tuple[tuple[str, float], ...]
    """Every id in the section, with how far into it (0 to 1) it is."""
    targets: frozenset[str]
    """The ids its internal links point to."""
    on_right: bool = True
    """Opens on a right-hand page, whatever came before it."""


@dataclass(frozen=True)
class Interior:
    """The print HTML cut at its top-level sections."""

    head: str
    sections: tuple[Section, ...]
    tail: str
    running_title: str

    @classmethod
    def parse(cls, html: str) -> Interior:
        starts = [m.start() for m in _SECTION.finditer(html)]
        end = html.rindex("</body>")
        sections = []
        for start, stop in zip(starts, [*starts[1:], end], strict=True):
            text = html[start:stop]
            match = _SECTION.match(text)
            assert match is not None
            ids = tuple((m.group(1), m.start() / len(text)) for m in _ID.finditer(text))
            words = len(_TAG.sub(" ", text).split())
            targets = frozenset(m[2] for m in _LINK.finditer(text))
            on_right = match[3] == "front" or match[2] in OPENS_ON_RIGHT
            sections.append(
                Section(match[1], match[3], text, words, len(_FOOTNOTE.findall(text)), ids, targets, on_right)
            )
        title = _TITLE.search(html)
        running = " ".join(_TAG.sub("", title[1]).split()) if title else ""
        return cls(html[: starts[0]] if starts else html[:end], tuple(sections), html[end:], running)

    @property
    def first_body(self) -> str | None:
        return next((s.id for s in self.sections if s.matter != "front"), None)


@dataclass(frozen=True)
class Part:
    index: int
    sections: tuple[Section, ...]

    @property
    def words(self) -> int:
        return sum(s.words for s in self.sections)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(i for s in self.sections for i, _ in s.ids)

    @property
    def targets(self) -> frozenset[str]:
        return frozenset().union(*(s.targets for s in self.sections))


def split(interior: Interior, count: int | None = None) -> tuple[Part, ...]:
    """Part 0 the front matter, then runs of body and back sections of about equal length (`count`
    of them; by default one per PART_WORDS words, and at least two so that both cores have work).
    A count of 1 keeps the whole interior in one part."""
    front = tuple(s for s in interior.sections if s.matter == "front")
    rest = interior.sections[len(front) :]
    if count == 1 or not front or not rest:
        return (Part(0, interior.sections),)
    total = sum(s.words for s in rest)
    wanted = count if count is not None else max(2, round(total / PART_WORDS))
    wanted = min(wanted, len(rest))
    before = [sum(s.words for s in rest[:i]) for i in range(len(rest))]  # words before each section
    cuts: list[int] = []
    for k in range(1, wanted):  # each cut at the right-hand opener nearest its share of the words
        candidates = [i for i in range(1, len(rest)) if rest[i].on_right and (not cuts or i > cuts[-1])]
        if not candidates:
            break
        cuts.append(min(candidates, key=lambda i: abs(before[i] - total * k / wanted)))
    bounds = [0, *sorted(set(cuts)), len(rest)]
    groups = [rest[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    return (Part(0, front), *(Part(n, tuple(g)) for n, g in enumerate(groups, start=1)))


@dataclass(frozen=True)
class Numbering:
    """Where everything falls once every part's page count is known."""

    page_count: int
    page_starts: tuple[tuple[str, int], ...]
    """(id, 1-based page of the whole interior)"""
    numbers: Mapping[str, int]
    """The page number (page counter) of the page each id starts on: what "see page N" prints."""
    starts: tuple[int, ...]
    """The page counter of each part's first page."""
    offsets: tuple[int, ...]
    """How many pages come before each part."""
    opening: int | None
    """The page the body opens on, where arabic numbering starts."""
    counters: tuple[int, ...]
    """The page counter of every page."""

    def folio(self, page: int, printed: str) -> str:
        """What 1-based `page` should print at its foot, given what it printed when laid out."""
        if not printed or self.opening is None or page < self.opening:
            return printed
        return str(self.counters[page - 1])


def counters(pages: int, opening: int | None) -> list[int]:
    """The page counter of every page: from 1, and from 1 again on the page where the body opens."""
    return [p - opening + 1 if opening and p >= opening else p for p in range(1, pages + 1)]


def number(
    interior: Interior,
    parts: Sequence[Part],
    counts: Sequence[int],
    anchors: Sequence[Sequence[tuple[str, int]]],
) -> Numbering:
    """The true numbers, from each part's page count and (id, 0-based page in the part) anchors."""
    offsets = [0]
    for count in counts[:-1]:
        offsets.append(offsets[-1] + count)
    starts: list[tuple[str, int]] = []
    seen: set[str] = set()
    for offset, part_anchors in zip(offsets, anchors, strict=True):
        for ident, page in part_anchors:
            if ident not in seen:
                seen.add(ident)
                starts.append((ident, offset + page + 1))
    pages = dict(starts)
    total = offsets[-1] + counts[-1]
    body = interior.first_body
    counter = counters(total, pages.get(body) if body else None)
    numbers = {ident: counter[page - 1] for ident, page in starts}
    opening = pages.get(body) if body else None
    starts_ = tuple(counter[o] for o in offsets)
    return Numbering(total, tuple(starts), numbers, starts_, tuple(offsets), opening, tuple(counter))


def part_html(interior: Interior, part: Part, numbers: Mapping[str, int]) -> str:
    """The part as an HTML document. Each internal link carries the page number it prints
    (data-page); a link to an element in another part points there through PART_LINK_SCHEME."""
    inside = part.ids

    def link(match: re.Match[str]) -> str:
        attributes, target = match[1], match[2]
        page = f' data-page="{numbers[target]}"' if target in numbers else ""
        href = f"#{target}" if target in inside else f"{PART_LINK_SCHEME}{target}"
        return f'<a {attributes}href="{href}"{page}'

    body = "".join(_LINK.sub(link, s.html) for s in part.sections)
    return interior.head + body + interior.tail


def part_css(interior: Interior, part: Part, parts: Sequence[Part], start: int) -> str:
    """What a part needs from the parts before it: its first page number, the footnote count, and
    the book title for the running heads (set by the half-title, in part 0)."""
    if part.index == 0:
        return ""
    footnotes = sum(s.footnotes for p in parts[: part.index] for s in p.sections)
    title = interior.running_title.replace("\\", "\\\\").replace('"', '\\"')
    return (
        f'body {{ string-set: booktitle "{title}"; counter-reset: footnote {footnotes}; }}\n'
        f"@page :first {{ counter-reset: page {start}; }}"
    )
