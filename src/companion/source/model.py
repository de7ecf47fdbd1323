"""The companion's content as typed, immutable values. No I/O here.

Every model is frozen and rejects unknown keys; the loader keeps the file and line of every value
in a SourceMap so that later stages can point at the exact place of a problem.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

from companion.core.errors import Location
from companion.source import gating

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A non-empty string; Markdown where the field says so."""

Ident = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,63}$")]
"""An identifier usable as an XML id and in a file name."""

TRIMS: dict[str, tuple[float, float]] = {
    "5x8": (5.0, 8.0),
    "5.25x8": (5.25, 8.0),
    "5.5x8.5": (5.5, 8.5),
    "6x9": (6.0, 9.0),
    "7x10": (7.0, 10.0),
    "a5": (5.83, 8.27),
}
"""Trim sizes in inches, width x height."""

PAPER_CALIPER: dict[str, float] = {"white": 0.002252, "cream": 0.0025}
"""Paper thickness in inches per page (print-on-demand published values)."""


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Spoilable(Model):
    """An item that may give part of the novel away (gating.py): `reveals` is the rank of the part a
    reader must have finished to see it (0: nothing), `spoilers` whether it gives anything away."""

    spoilers: bool = False
    reveals: int = Field(default=0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _reveals(cls, value: Any, info: ValidationInfo) -> Any:
        return gating.resolve(value, info.context)


class Passage(Spoilable):
    """A Markdown passage that may be marked as a spoiler; a bare string is accepted."""

    text: Text

    @model_validator(mode="before")
    @classmethod
    def _reveals(cls, value: Any, info: ValidationInfo) -> Any:  # replaces Spoilable's
        return gating.resolve({"text": value} if isinstance(value, str) else value, info.context)


class Part(Model):
    """One part of the novel, in reading order: what a gated edition is built through."""

    id: Ident
    title: Text


class Novel(Model):
    title: Text
    author: Text
    year: int = Field(ge=1000, le=2999)
    publisher: str = ""
    genre: str = ""
    facts: tuple[Text, ...] = ()
    parts: tuple[Part, ...] = ()
    """The novel's parts (gating.py); none: the novel is one part."""

    @model_validator(mode="after")
    def _distinct_parts(self) -> Novel:
        seen: set[str] = {gating.START, gating.WHOLE}
        for part in self.parts:
            if part.id in seen:
                raise PydanticCustomError(
                    "duplicate_part", "part id `{part}` is used twice or reserved", {"part": part.id}
                )
            seen.add(part.id)
        return self


class PrintSettings(Model):
    trim: Literal["5x8", "5.25x8", "5.5x8.5", "6x9", "7x10", "a5"] = "5.5x8.5"
    paper: Literal["white", "cream"] = "cream"
    printer: Literal["default", "kdp", "ingramspark"] = "default"
    """The print-on-demand profile (printers.py): `default` satisfies KDP and IngramSpark at once."""
    bleed: bool = False
    """Bleed on the top, bottom and outside edges. Off: the page is the trim (a text-only book)."""

    @property
    def size(self) -> tuple[float, float]:
        return TRIMS[self.trim]


_INK = r"(0|1|0?\.[0-9]+|[0-9]{1,2}(\.[0-9]+)?%|100%)"
COLOUR_PATTERN = rf"^(#[0-9a-fA-F]{{6}}|device-cmyk\(\s*{_INK}(\s+{_INK}){{3}}\s*\))$"
"""`#rrggbb` (sRGB, converted for print through the cover's ink-limited profile, inks.py) or
`device-cmyk(c m y k)` (used as given on the print cover)."""


class CoverSettings(Model):
    background: Annotated[str, StringConstraints(pattern=COLOUR_PATTERN)] = "#1f2f3a"
    foreground: Annotated[str, StringConstraints(pattern=COLOUR_PATTERN)] = "#f4ede0"
    accent: Annotated[str, StringConstraints(pattern=COLOUR_PATTERN)] = "#c9a45c"


class Pronunciation(Model):
    """A lexicon entry: `word` (or phrase) is read aloud as `say` (a respelling)."""

    word: Text
    say: Text


class NarrationSettings(Model):
    """The read-along edition's narration (`companion build --format read-along`)."""

    voice: Text = "espeak-ng:en-gb"
    """`engine:voice`: `espeak-ng:<espeak voice>` or `piper:<packaged voice>` (see voices.py)."""
    rate: int = Field(default=100, ge=50, le=200)
    """Speaking rate in per cent of the voice's own."""
    notes: Literal["after", "skip"] = "after"
    """Footnotes read after the paragraph that cites them, or left out."""
    lexicon: tuple[Pronunciation, ...] = ()


URL_PATTERN = r"^https?://[^\s/?#]+(/[^\s?#]*)?$"
"""An absolute http(s) address with no query or fragment."""


class WebSettings(Model):
    """The web edition (`companion build --format web`)."""

    url: Annotated[str, StringConstraints(pattern=URL_PATTERN)] | None = None
    """Where the site will be published (its folder's address): for the sitemap and link previews."""
    sitemap: bool = True
    """Write robots.txt and (with `url`) sitemap.xml; off when the host has its own."""


class Book(Model):
    title: Text
    subtitle: str = ""
    slug: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    author: Text
    language: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]
    identifier: Text
    published: dt.date
    modified: dt.date | None = None
    publisher: str = ""
    rights: str = ""
    description: Text
    novel: Novel
    isbn: Annotated[str, StringConstraints(pattern=r"^[0-9][0-9 -]{11,18}[0-9]$")] | None = None
    """The print edition's ISBN-13 (hyphens and spaces allowed); validate.py checks its check digit.
    With one, the back cover carries its EAN-13 barcode (ean.py)."""
    isbn_addon: Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")] | None = None
    """The 5-digit price add-on printed beside the barcode (such as 51299: US$12.99)."""
    print: PrintSettings = PrintSettings()
    cover: CoverSettings = CoverSettings()
    narration: NarrationSettings = NarrationSettings()
    web: WebSettings = WebSettings()

    @property
    def full_title(self) -> str:
        return f"{self.title}: {self.subtitle}" if self.subtitle else self.title


class About(Model):
    overview: Text
    setting: Passage
    synopsis: Passage | None = None
    closing: str = ""


class Review(Spoilable):
    text: Text
    source: Text


class Quote(Spoilable):
    text: Text
    speaker: Text
    context: str = ""


class Faq(Spoilable):
    question: Text
    answer: Text


class Character(Spoilable):
    id: Ident
    name: Text
    role: str = ""
    description: Text


class Theme(Spoilable):
    id: Ident
    title: Text
    body: Text


QuestionTier = Literal["story", "ideas", "personal"]
"""How far a question reaches, for the host's kit: what happens, what it means, what it means to you."""


class Question(Spoilable):
    question: Text
    part: str = ""
    tier: QuestionTier = "story"


class Timing(Model):
    """One step of a meeting's plan (meetings.yaml): what happens, and for how many minutes."""

    what: Text
    minutes: int = Field(ge=1, le=600)


class Meeting(Model):
    """One book-club meeting of the host's kit (meetings.yaml): it discusses one part of the novel."""

    part: Ident
    """The id of the part the group has finished reading (meetings.py: parts)."""
    minutes: int = Field(ge=10, le=600)
    timings: tuple[Timing, ...] = ()
    warm_up: Text
    ahead: str = ""
    """Host only: what the next part reveals (never on a handout)."""


class Term(Spoilable):
    id: Ident
    term: Text
    definition: Text


class Event(Spoilable):
    when: Text
    event: Text
    place: str = ""


class Epigraph(Model):
    text: Text
    source: str = ""


class FrontMatter(Spoilable):
    """What a chapter's YAML front matter may hold."""

    title: Text
    id: Ident | None = None
    epigraph: Epigraph | None = None


@dataclass(frozen=True)
class Chapter:
    id: str
    title: str
    body: str
    spoilers: bool
    reveals: int
    """The rank of the part the chapter gives away (gating.py); its sections may reveal more."""
    epigraph: Epigraph | None
    path: str
    body_line: int
    """The 1-based line of the body's first line in `path`."""


@dataclass(frozen=True)
class SourceMap:
    """Where each value came from: (file, key, index, ...) -> Location."""

    places: Mapping[tuple[Any, ...], Location] = field(default_factory=lambda: MappingProxyType({}))

    def find(self, key: tuple[Any, ...]) -> Location:
        """The location of `key`, or of its nearest recorded parent."""
        while key:
            if key in self.places:
                return self.places[key]
            key = key[:-1]
        return Location("?")


@dataclass(frozen=True)
class Companion:
    """Everything in source/, validated: the input of the render stage."""

    root: str
    book: Book
    about: About
    reviews: tuple[Review, ...] = ()
    quotes: tuple[Quote, ...] = ()
    faq: tuple[Faq, ...] = ()
    characters: tuple[Character, ...] = ()
    themes: tuple[Theme, ...] = ()
    questions: tuple[Question, ...] = ()
    glossary: tuple[Term, ...] = ()
    timeline: tuple[Event, ...] = ()
    meetings: tuple[Meeting, ...] = ()
    chapters: tuple[Chapter, ...] = ()
    sources: SourceMap = field(default_factory=SourceMap, compare=False, repr=False)
