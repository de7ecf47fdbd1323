"""core package: editions. An edition says which content it keeps (what a reader who has read the novel
through one stage may see, gating.py) and which layout it uses (the standard one, or large print); every
output of every edition is made by the same pipeline from it, and named `<slug>-<edition>.<ext>`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion.core.errors import CompanionError, Location, diagnostic
from companion.source import gating


@dataclass(frozen=True)
class Layout:
    """How an edition is set: an extra style sheet layer over the standard ones, and print settings."""

    id: str
    label: str
    """Named on the title page, the cover and in the EPUB's title ("Large Print"); "" for the standard."""
    stylesheet: str = ""
    """A file in styles/ laid over base.css and print.css (print) or epub.css (EPUB)."""
    trim: str = ""
    """The print trim this layout needs (model.TRIMS), whatever book.yaml says."""
    paper: str = ""
    """The paper it needs (model.PAPER_CALIPER), whatever book.yaml says."""

    def sheets(self, standard: tuple[str, ...]) -> tuple[str, ...]:
        """The standard style sheets with this layout's layer last."""
        return (*standard, self.stylesheet) if self.stylesheet else standard

    def book(self, book: Any) -> Any:
        """`book` with this layout's print settings."""
        changes = {key: value for key, value in (("trim", self.trim), ("paper", self.paper)) if value}
        if book is None or not changes:
            return book
        return book.model_copy(update={"print": book.print.model_copy(update=changes)})

    def apply(self, validated: Any) -> Any:
        """The validated companion with this layout's print settings (its book's trim and paper)."""
        book = self.book(validated.companion.book)
        if book is validated.companion.book:
            return validated
        return dataclasses.replace(validated, companion=dataclasses.replace(validated.companion, book=book))

    def require(self, styles: Path) -> None:
        """The layout's style sheet is in styles/ (C043 otherwise: a project made before it existed)."""
        if self.stylesheet and not (styles / self.stylesheet).is_file():
            raise CompanionError(
                [
                    diagnostic(
                        str(styles / self.stylesheet),
                        "C043",
                        f"style sheet {self.stylesheet} is missing ({self.label.lower()} needs it)",
                        "copy it from a project made by `companion new`",
                    )
                ]
            )


STANDARD = Layout("standard", "")
LARGE_PRINT = Layout("large-print", "Large Print", stylesheet="large-print.css", trim="7x10", paper="white")
"""7 x 10 in: a trim both KDP and IngramSpark print; white paper for the highest contrast."""
LAYOUTS = {layout.id: layout for layout in (STANDARD, LARGE_PRINT)}


@dataclass(frozen=True)
class Edition:
    """`through`: the stage id a reader has read to (None: the whole novel); `layout`: LAYOUTS' id.
    `bind(book)` resolves the stage against the novel's parts; until then only the whole novel and
    "before you start" are known."""

    through: str | None = None
    layout: str = STANDARD.id
    rank: int | None = None
    """The stage's rank (gating.Stage.rank) once bound; None: everything."""
    stage_title: str = ""

    def __post_init__(self) -> None:
        if self.through == gating.START and self.rank is None:
            object.__setattr__(self, "rank", 0)
            object.__setattr__(self, "stage_title", "Before you start")

    def bind(self, book: Any) -> Edition:
        """This edition for `book`: its stage found among the novel's parts (C084 when it is none of
        them); through the last part is the whole novel."""
        if self.through is None:
            return self
        stages = gating.stages(book)
        found = gating.find(book, self.through)
        if found is None:
            names = ", ".join(f"`{stage.id}`" for stage in stages)
            raise CompanionError(
                [
                    diagnostic(
                        Location("source/book.yaml"),
                        "C084",
                        f"`--through {self.through}` names no stage of the novel",
                        f"choose one of {names}",
                    )
                ]
            )
        if found.rank == stages[-1].rank:
            return dataclasses.replace(self, through=None, rank=None, stage_title="")
        return dataclasses.replace(self, rank=found.rank, stage_title=found.title)

    @property
    def look(self) -> Layout:
        return LAYOUTS[self.layout]

    def keeps(self, reveals: int) -> bool:
        """Whether the edition shows an item that reveals the part of rank `reveals`."""
        if self.through is not None and self.rank is None:
            raise ValueError(f"Edition(through={self.through!r}) is not bound: call .bind(book) first")
        return self.rank is None or gating.visible(reveals, self.rank)

    @property
    def gated(self) -> bool:
        return self.rank is not None

    @property
    def content_name(self) -> str:
        if self.rank is None:
            return ""
        return "spoiler-free" if self.rank == 0 else f"through-{self.through}"

    @property
    def name(self) -> str:
        """The edition's part of the output names: "" (the full, standard edition), `spoiler-free`,
        `through-part-one`, `large-print`, `through-part-one-large-print`..."""
        layout = "" if self.look is STANDARD else self.look.id
        return "-".join(part for part in (self.content_name, layout) if part)

    @property
    def suffix(self) -> str:
        return f"-{self.name}" if self.name else ""

    @property
    def content_note(self) -> str:
        if self.rank is None:
            return ""
        if self.rank == 0:
            return "Spoiler-free edition: safe to read before finishing the novel."
        return (
            f"Edition through {self.stage_title}: for readers who have finished {self.stage_title}; "
            "nothing from later in the novel."
        )

    @property
    def note(self) -> str:
        """What the title page, the copyright page and the cover say about the edition."""
        layout = f"{self.look.label} edition." if self.look.label else ""
        return " ".join(part for part in (layout, self.content_note) if part)

    @property
    def label(self) -> str:
        """Added to the EPUB's title: " (Spoiler-Free Edition)", " (Large Print, Through Part One)"."""
        content = ""
        if self.rank == 0:
            content = "Spoiler-Free"
        elif self.rank is not None:
            content = f"Through {self.stage_title}"
        words = ", ".join(part for part in (self.look.label, content) if part)
        if not words:
            return ""
        return f" ({words} Edition)" if self.rank == 0 or not content else f" ({words})"
