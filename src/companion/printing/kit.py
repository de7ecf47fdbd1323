"""The host's kit: a host guide, a handout per meeting (A4 and US Letter) and question cards.

Made from the same source as the book (source/meetings.py plans the meetings), rendered by the one Jinja2
environment (`templates/kit_*.html`) in the companion's fonts and style (`styles/base.css` and
`styles/kit.css`), and laid out by WeasyPrint through the bundled fonts only (printing/fontconfig.py), as
the cover is: each PDF is tagged PDF/UA-1 with title, author and language, in gray (K) text.

Page counts are part of the design. A handout is one sheet: its questions, then ruled lines for
notes to the foot of the page, then a second page of lines (the sheet's back); the lines are
counted from where the questions end in a first layout. A handout whose questions run past two
pages is an error (C089). The host guide ends with a page for notes when it would otherwise have
an odd page count, and the cards come as a front and a back page per sheet (for printing on both
sides), so every file prints on whole sheets.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from companion.core.errors import CompanionError, Location, diagnostic
from companion.render.render import environment
from companion.source import fonts, meetings
from companion.source.markdown import plain
from companion.source.meetings import Planned
from companion.source.model import Book, Companion
from companion.source.validate import Validated

SHEETS = ("base.css", "kit.css")
"""Under styles/: the kit's style sheets, in cascade order."""
VARIANT = "pdf/ua-1"
PAPERS = {"a4": (210.0, 297.0), "letter": (215.9, 279.4)}
"""Width and height in millimetres."""
PAPER_NAMES = {"a4": "A4", "letter": "US Letter"}
LETTER_REGIONS = frozenset({"US", "CA", "MX", "PH"})
"""Where US Letter is the office paper: the host guide and the cards are printed on it there."""
MARGIN = 18.0
"""Page margin of the guide and the handouts, mm (0.7 in: wider than an office printer's unprintable edge)."""
LINE = 8.0
"""Distance between the ruled lines for notes, mm (`.rule` in kit.css)."""
NOTES_HEADING = 16.0
"""Room a "Notes" heading takes at the top of a page, mm."""
CARD = (90.0, 60.0)
CARDS_ACROSS, CARDS_DOWN = 2, 4
CARD_PADDING = 6.0
"""Inside a card, above and below its text, mm (`.card` in kit.css)."""
MARK, MARK_GAP = 6.0, 3.0
"""Length of a cut mark, and its distance from the card's corner, mm."""
TIERS = (
    ("story", "The story", "What happens, and why: start here, where everyone can join in."),
    ("ideas", "Ideas", "What the novel is asking, and how it is told."),
    ("personal", "Personal", "The book and your own life: for when the group is warmed up."),
)
_PX_MM = 25.4 / 96


@dataclass(frozen=True)
class Page:
    width: float
    height: float
    margin: float


def paper(book: Book) -> str:
    """The paper of the book's region: `letter` for en-US and the other Letter countries, else `a4`."""
    region = next((tag.upper() for tag in book.language.split("-")[1:] if len(tag) == 2), "")
    return "letter" if region in LETTER_REGIONS else "a4"


def build(validated: Validated, styles: Path) -> tuple[tuple[str, bytes], ...]:
    """Every file of the kit as (name, PDF bytes): the host guide, each meeting's handout in A4
    and US Letter, the question cards."""
    companion = validated.companion
    planned = meetings.plan(companion)
    if not planned:
        where = fonts.shown_path(Path(companion.root) / "meetings.yaml")
        message = "the host's kit needs a meeting for at least one part of the novel"
        raise CompanionError([diagnostic(where, "C088", message)])
    layout = _Layout(styles, validated)
    slug = companion.book.slug
    outputs = [(f"{slug}-host-guide.pdf", host_guide(layout, planned))]
    for meeting in planned:
        for size in PAPERS:
            outputs.append((f"{slug}-handout-{meeting.part.id}-{size}.pdf", handout(layout, meeting, size)))
    outputs.append((f"{slug}-question-cards.pdf", cards(layout, planned)))
    return tuple(outputs)


def host_guide(layout: _Layout, planned: Sequence[Planned]) -> bytes:
    width, height = PAPERS[paper(layout.book)]
    page = Page(width, height, MARGIN)
    lines = math.floor((height - 2 * MARGIN - NOTES_HEADING) / LINE)

    def html(notes_page: int) -> str:
        return layout.html(
            "kit_host.html", "Host’s Guide", page, meetings=planned, tiers=TIERS, notes_page=notes_page
        )

    document = layout.render(html(0))
    if len(document.pages) % 2:
        document = layout.render(html(lines))
    return layout.pdf(document)


def handout(layout: _Layout, planned: Planned, size: str) -> bytes:
    """One sheet: the questions, lines for notes to the foot of the page, a second page of lines."""
    width, height = PAPERS[size]
    page = Page(width, height, MARGIN)
    title = f"Handout, Meeting {planned.number} ({plain(planned.part.title)})"

    def html(here: int, over: int | None) -> str:
        return layout.html("kit_handout.html", title, page, planned=planned, lines_here=here, lines_over=over)

    def room(document: Any, marker: str) -> tuple[int, int]:
        """The page (0-based) `marker` is on, and how many lines fit below it."""
        for number, laid in enumerate(document.pages):
            if marker in laid.anchors:
                top = laid.anchors[marker][1] * _PX_MM
                return number, max(0, math.floor((height - MARGIN - top) / LINE - 0.02))
        return len(document.pages), 0

    first = layout.render(html(0, 0))
    at, here = room(first, "notes-start")
    over: int | None = None  # the questions run onto the back: notes below them there, no page of lines
    if at == 0:
        over = room(first, "notes-over")[1]
    document = layout.render(html(here, over)) if at < 2 else first
    while at < 2 and len(document.pages) > 2 and here > 0:  # a line's rounding: one line fewer
        here -= 1
        document = layout.render(html(here, over))
    if len(document.pages) != 2:
        companion = layout.companion
        index = next(i for i, m in enumerate(companion.meetings) if m is planned.meeting)
        where = companion.sources.find(("meetings.yaml", index, "part"))
        pages = len(document.pages)
        which = f"the {PAPER_NAMES[size]} handout for meeting {planned.number} ({plain(planned.part.title)})"
        message = f"{which} runs to {pages} pages"
        raise CompanionError([diagnostic(where, "C089", message)])
    return layout.pdf(document)


def cards(layout: _Layout, planned: Sequence[Planned]) -> bytes:
    """Sheets of eight cards with cut marks; each meeting starts a sheet; each sheet has a back."""
    width, height = PAPERS[paper(layout.book)]
    card_w, card_h = CARD
    left, top = (width - CARDS_ACROSS * card_w) / 2, (height - CARDS_DOWN * card_h) / 2
    right, bottom = left + CARDS_ACROSS * card_w, top + CARDS_DOWN * card_h
    marks = []
    for i in range(CARDS_ACROSS + 1):
        x = left + i * card_w
        marks += [(x, top - MARK_GAP - MARK, 0.0, MARK), (x, bottom + MARK_GAP, 0.0, MARK)]
    for j in range(CARDS_DOWN + 1):
        y = top + j * card_h
        marks += [(left - MARK_GAP - MARK, y, MARK, 0.0), (right + MARK_GAP, y, MARK, 0.0)]
    grid = SimpleNamespace(left=left, top=top, card_w=card_w, card_h=card_h, marks=marks)
    per_sheet = CARDS_ACROSS * CARDS_DOWN
    sheets = []
    for meeting in planned:
        for start in range(0, len(meeting.questions), per_sheet):
            chunk = meeting.questions[start : start + per_sheet]
            numbers = f"{chunk[0][0]}" if len(chunk) == 1 else f"{chunk[0][0]} to {chunk[-1][0]}"
            label = f"Meeting {meeting.number}: {plain(meeting.part.title)}, questions {numbers}"
            placed = [
                SimpleNamespace(row=i // CARDS_ACROSS, col=i % CARDS_ACROSS, number=n, question=q)
                for i, (n, q) in enumerate(chunk)
            ]
            sheets.append(SimpleNamespace(planned=meeting, cards=placed, label=label))
    page = Page(width, height, 0.0)
    tiers = {tier: title for tier, title, _ in TIERS}
    html = layout.html("kit_cards.html", "Question Cards", page, sheets=sheets, grid=grid, tiers=tiers)
    document = layout.render(html)
    for sheet_number, sheet in enumerate(sheets):
        anchors = document.pages[2 * sheet_number].anchors if 2 * sheet_number < len(document.pages) else {}
        for card in sheet.cards:
            end = anchors.get(f"card-{card.number}-end")
            bottom = top + (card.row + 1) * card_h - CARD_PADDING
            if end is None or end[1] * _PX_MM > bottom + 0.1:
                message = f"question {card.number} is too long for its card"
                where = layout.companion.sources.find(("questions.yaml", card.number - 1, "question"))
                raise CompanionError([diagnostic(where, "C089", message)])
    return layout.pdf(document)


class _Layout:
    """The kit's templates and WeasyPrint, through the bundled fonts only (as the cover's layout)."""

    def __init__(self, styles: Path, validated: Validated) -> None:
        from companion.printing import fontconfig  # WeasyPrint: loaded only when a kit is built
        from companion.printing.grayscale import GrayFetcher

        self.styles = styles
        self.companion: Companion = validated.companion
        self.book = self.companion.book
        self.images = {asset.src: asset.path.as_uri() for asset in validated.assets}
        source = Path(self.companion.root)
        self.fetcher = GrayFetcher(styles, source, images_root=source)  # images gray, as in the interior
        self.sheets, self.config = fontconfig.stylesheets(styles, SHEETS, self.fetcher)

    def html(self, template: str, title: str, page: Page, **values: Any) -> str:
        book = self.book
        created = _iso(book.published)
        return (
            environment()
            .get_template(template)
            .render(
                book=book,
                title=f"{plain(book.full_title)}: {title}",
                created=created,
                modified=_iso(book.modified) if book.modified else created,
                page=page,
                target="print",
                links={},
                images=self.images,
                note_prefixes={},
                section=SimpleNamespace(id="kit"),
                **values,
            )
        )

    def render(self, html: str) -> Any:
        from weasyprint import HTML

        base = str(self.styles.resolve()) + "/"
        return HTML(string=html, base_url=base, url_fetcher=self.fetcher).render(
            stylesheets=self.sheets, font_config=self.config
        )

    def pdf(self, document: Any) -> bytes:
        data: bytes = document.write_pdf(pdf_variant=VARIANT, pdf_tags=True, pdf_identifier=True)
        fonts.require_bundled(data, self.styles, SHEETS, Location("styles/kit.css"))
        return data


def _iso(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"
