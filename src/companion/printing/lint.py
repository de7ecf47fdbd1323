"""The layout lint: what a book designer looks for on the real pages, as warnings with page numbers.

The layout workers describe every line they lay out as a `Line` (pdfworker.py reads them off
WeasyPrint's pages); `check` reads those lines, page by page, and reports:

- L001 a heading left at the foot of a page with fewer than `MIN_LINES_AFTER_HEADING` lines under it;
- L002 the last page of a section with less than `SHORT_PAGE_SHARE` of a full page's lines;
- L003 a hyphen ladder: more than `MAX_HYPHENS_IN_A_ROW` lines in a row ending in a hyphen;
- L004 a paragraph whose last line is nothing but the end of a hyphenated word;
- L005 a hyphenated proper name (a capitalised word broken across lines);
- L006 a loose line: word spaces more than `MAX_SPACE_RATIO` times the text's normal spacing;
- L007 a contents leader whose dots stop short of their number by more than `MAX_LEADER_GAP_PT`;
- L008 a line of one word inside a paragraph (not its last line, not a word broken across lines),
  under `LONE_WORD_SHARE` of the paragraph's longest line: a break in the wrong place, as WeasyPrint
  makes on Pango 1.50 (Debian 12) before some inline elements (README, "The layout lint").

The thresholds are those of the common house rules (Bringhurst's *Elements of Typographic Style*,
2.4: "at least two lines of text below a heading", no more than two hyphens in a row, no hyphenated
last line; the Chicago Manual of Style's "avoid more than three hyphens in a row" is looser) and of
TeX's defaults (`\\uchyph=0`-style houses do not break capitalised words).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MIN_LINES_AFTER_HEADING = 2
"""A heading needs at least this many lines of its text below it on its page."""
SHORT_PAGE_SHARE = 0.2
"""A section's last page should hold at least this share of a full page's lines."""
MAX_HYPHENS_IN_A_ROW = 2
"""No more than this many consecutive lines may end in a hyphen."""
MAX_SPACE_RATIO = 2.0
"""A justified line's word spaces may be at most this many times the normal word space: the median
space of the part's justified lines (what a reader's eye takes as the text's usual spacing)."""
MAX_LEADER_GAP_PT = 3.0
"""The dots of a contents leader end within this much of their number (one dot is about 3 pt)."""
LONE_WORD_SHARE = 1 / 3
"""A one-word line inside a paragraph is a fault when it is shorter than this share of the
paragraph's longest line (in a narrow column every line may hold one word)."""


@dataclass(frozen=True)
class Line:
    """One laid-out line of the main text, as the lint needs it."""

    page: int
    """0-based page of the part (the caller adds the part's offset)."""
    section: str
    """The id of the section it belongs to."""
    block: int
    """Lines with the same number belong to one paragraph, list item or heading."""
    kind: str
    """'heading', 'text', 'note' (footnote area) or 'leader' (a contents entry)."""
    text: str
    hyphen: bool = False
    """Ends in a hyphen the layout added (a word broken across lines)."""
    spacing: float = 1.0
    """Its word spaces over their natural width (1.0 when not stretched)."""
    gap: float = 0.0
    """For a leader: pt between the last dot and the number."""

    def to_list(self) -> list[object]:
        return [
            self.page,
            self.section,
            self.block,
            self.kind,
            self.text,
            self.hyphen,
            self.spacing,
            self.gap,
        ]

    @classmethod
    def from_list(cls, raw: Sequence[object]) -> Line:
        page, section, block, kind, text, hyphen, spacing, gap = raw
        return cls(
            int(str(page)),
            str(section),
            int(str(block)),
            str(kind),
            str(text),
            bool(hyphen),
            float(str(spacing)),
            float(str(gap)),
        )


@dataclass(frozen=True)
class Finding:
    page: int
    """0-based page of the part."""
    code: str
    message: str


def check(lines: Sequence[Line], full_page: int | None) -> tuple[Finding, ...]:
    """Every finding on these lines; `full_page` is how many lines a full page of text holds (None:
    no L002 here; the caller judges `last_pages` against the whole book's full page)."""
    found: list[Finding] = []
    found += _stranded_headings(lines)
    if full_page is not None:
        found += short_last_pages(last_pages(lines), full_page)
    found += _hyphens(lines)
    found += _loose_lines(lines)
    found += _leaders(lines)
    found += _lone_words(lines)
    return tuple(sorted(found, key=lambda f: (f.page, f.code, f.message)))


def full_page_lines(lines: Iterable[Line]) -> int:
    """The most main-text lines any page holds: what a full page is."""
    counts: dict[int, int] = {}
    for line in lines:
        if line.kind in ("text", "heading"):
            counts[line.page] = counts.get(line.page, 0) + 1
    return max(counts.values(), default=0)


def _quote(text: str, limit: int = 50) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _stranded_headings(lines: Sequence[Line]) -> list[Finding]:
    found = []
    for index, line in enumerate(lines):
        if line.kind != "heading" or (index + 1 < len(lines) and lines[index + 1].block == line.block):
            continue  # only the last line of each heading
        after = [
            other
            for other in lines[index + 1 :]
            if other.page == line.page and other.kind == "text" and other.section == line.section
        ]
        more = any(other.section == line.section and other.page > line.page for other in lines[index + 1 :])
        if len(after) < MIN_LINES_AFTER_HEADING and more:
            found.append(
                Finding(
                    line.page,
                    "L001",
                    f"heading `{_quote(line.text)}` has {len(after)} line(s) under it at the page foot",
                )
            )
    return found


@dataclass(frozen=True)
class LastPage:
    """The last page of a section that runs over more than one page, for L002."""

    page: int
    section: str
    lines: int
    """Its main-text and heading lines."""


def last_pages(lines: Iterable[Line]) -> tuple[LastPage, ...]:
    """The last page of every section that does not end on the page it starts on."""
    last: dict[str, int] = {}
    counts: dict[tuple[str, int], int] = {}
    first: dict[str, int] = {}
    for line in lines:
        if line.kind not in ("text", "heading"):
            continue
        last[line.section] = max(last.get(line.section, line.page), line.page)
        first.setdefault(line.section, line.page)
        counts[line.section, line.page] = counts.get((line.section, line.page), 0) + 1
    return tuple(
        LastPage(page, section, counts[section, page])
        for section, page in last.items()
        if page > first[section]
    )


def short_last_pages(pages: Iterable[LastPage], full_page: int) -> list[Finding]:
    """L002 for each last page with fewer than `SHORT_PAGE_SHARE` of `full_page` lines."""
    return [
        Finding(
            page.page,
            "L002",
            f"section `{page.section}` ends with a page of {page.lines} line(s) of {full_page}",
        )
        for page in pages
        if page.lines < SHORT_PAGE_SHARE * full_page
    ]


def _hyphens(lines: Sequence[Line]) -> list[Finding]:
    found = []
    run: list[Line] = []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else None
        if line.hyphen and line.kind in ("text", "note"):
            run.append(line)
            if len(run) == MAX_HYPHENS_IN_A_ROW + 1:
                found.append(
                    Finding(line.page, "L003", f"{len(run)} hyphens in a row, from `{_quote(run[0].text)}`")
                )
            if following is not None:
                alone = len(following.text.split()) == 1  # the line is only the word's end
                if following.block == line.block and alone and _last_of_block(lines, index + 1):
                    found.append(
                        Finding(
                            following.page,
                            "L004",
                            f"a paragraph ends on half a word: `{_quote(following.text)}`",
                        )
                    )
                broken = _last_word(line.text) + _first_word(following.text)
                if broken[:1].isupper() and not _starts_sentence(line.text):
                    found.append(
                        Finding(line.page, "L005", f"a name is hyphenated: `{broken.strip('.,;:')}`")
                    )
        else:
            run = []
    return found


def _last_of_block(lines: Sequence[Line], index: int) -> bool:
    return index + 1 >= len(lines) or lines[index + 1].block != lines[index].block


def _last_word(text: str) -> str:
    words = text.split()
    return words[-1].rstrip("\u2010-\u00ad") if words else ""


def _first_word(text: str) -> str:
    words = text.split()
    return words[0] if words else ""


def _starts_sentence(text: str) -> bool:
    """Whether the line's last word starts a sentence (a capital there is no sign of a name)."""
    words = text.split()
    return len(words) < 2 or words[-2].endswith((".", "!", "?", ":", "—"))


def _loose_lines(lines: Sequence[Line]) -> list[Finding]:
    justified = sorted(line.spacing for line in lines if line.kind == "text" and line.spacing > 1.0)
    normal = max(1.0, justified[len(justified) // 2]) if justified else 1.0
    return [
        Finding(
            line.page,
            "L006",
            f"word spaces {line.spacing / normal:.1f} times normal in `{_quote(line.text)}`",
        )
        for line in lines
        if line.kind == "text" and line.spacing > MAX_SPACE_RATIO * normal
    ]


def _lone_words(lines: Sequence[Line]) -> list[Finding]:
    longest: dict[tuple[str, int], int] = {}
    for line in lines:
        key = (line.section, line.block)
        longest[key] = max(longest.get(key, 0), len(line.text.strip()))
    return [
        Finding(line.page, "L008", f"a line of one word inside a paragraph: `{_quote(line.text)}`")
        for index, line in enumerate(lines)
        if line.kind == "text"
        and not line.hyphen
        and len(line.text.split()) == 1
        and not _last_of_block(lines, index)
        and LONE_WORD_SHARE * longest[(line.section, line.block)] > len(line.text.strip())
    ]


def _leaders(lines: Sequence[Line]) -> list[Finding]:
    return [
        Finding(
            line.page,
            "L007",
            f"the leader stops {line.gap:.1f} pt short of its number in `{_quote(line.text)}`",
        )
        for line in lines
        if line.kind == "leader" and line.gap > MAX_LEADER_GAP_PT
    ]
