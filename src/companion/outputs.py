"""What a build is asked for and what it hands back: the one table of outputs (each format, the files it
makes and what it needs), the request built from it, and the in-memory result `write()` writes.

`pipeline.build` asks the request (`needs_print`, `needs_epub`, `wants("cover")`), never a set of
format names, so a new output is one row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from companion.core.errors import Diagnostic
from companion.render.edition import Edition

if TYPE_CHECKING:
    from companion.readalong.narration import Stats


@dataclass(frozen=True)
class Kind:
    """One output format, as `--format` names it."""

    format: str
    files: tuple[str, ...]
    """The file names it makes, after the slug (and the edition's suffix)."""
    needs_print: bool = False
    """Needs the laid-out print interior (the PDF, or the cover's spine width)."""
    needs_epub: bool = False
    """Built from the packaged EPUB."""
    needs_front_cover: bool = False
    """Shows the front cover JPEG."""
    by_default: bool = True
    """Part of `--format all`; read-along synthesizes speech, so it is built only when named."""


KINDS = (
    Kind("epub", (".epub",), needs_epub=True, needs_front_cover=True),
    Kind("kepub", (".kepub.epub",), needs_epub=True, needs_front_cover=True),
    Kind("pdf", (".pdf",), needs_print=True),
    Kind("cover", ("-cover.pdf", "-cover.jpg"), needs_print=True, needs_front_cover=True),
    Kind(
        "read-along", ("-read-along.epub", ".m4b"), needs_epub=True, needs_front_cover=True, by_default=False
    ),
    # The host's kit: its files follow meetings.yaml, so printing/kit.py names them (`-host-guide.pdf`,
    # `-handout-<part id>-a4.pdf` and `-letter.pdf` for each meeting, `-question-cards.pdf`).
    Kind("kit", (), by_default=False),
    # The static site, dist/web/ (web/site.py): pages from the EPUB render, the EPUB, kepub and PDF
    # among its downloads, the print layout for its page numbers.
    Kind("web", (), needs_print=True, needs_epub=True, needs_front_cover=True, by_default=False),
)
BY_FORMAT = {kind.format: kind for kind in KINDS}
FORMATS = tuple(kind.format for kind in KINDS if kind.by_default)
"""What `--format all` (and `make all`) builds."""
EXTRA_FORMATS = tuple(kind.format for kind in KINDS if not kind.by_default)
FULL_EDITION = Edition()
DEFAULT_VARIANT = "pdf/ua-1"
"""Tagged, with the XMP title and PDF/UA identification accessibility checkers look for."""


@dataclass(frozen=True)
class Project:
    source: Path
    styles: Path

    @classmethod
    def at(cls, source: Path, styles: Path | None = None) -> Project:
        """The project whose source folder is `source`; styles/ beside it by default."""
        source = source.resolve() if source.exists() else source
        if styles is None:
            styles = source.parent / "styles"
            if styles.is_symlink() and not styles.resolve().is_relative_to(source.parent):
                return cls(source, styles)  # it links out of the project: the check refuses it (C040)
        return cls(source, styles.resolve())


@dataclass(frozen=True)
class Request:
    """One build: which formats, of which edition, with which print options."""

    formats: frozenset[str]
    edition: Edition = FULL_EDITION
    marks: bool = False
    variant: str | None = DEFAULT_VARIANT
    page_list: bool = True
    """Give the EPUB the print edition's page numbers (so the print layout is needed)."""
    printer: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(self.formats - set(BY_FORMAT))
        if unknown:
            raise ValueError(f"unknown format {', '.join(unknown)}")

    def wants(self, format: str) -> bool:
        return format in self.formats

    def _any(self, need: str) -> bool:
        return any(getattr(BY_FORMAT[name], need) for name in self.formats)

    @property
    def needs_epub(self) -> bool:
        return self._any("needs_epub")

    @property
    def needs_print(self) -> bool:
        return self._any("needs_print") or (self.needs_epub and self.page_list)

    @property
    def needs_front_cover(self) -> bool:
        return self._any("needs_front_cover")

    def outputs(self, format: str, slug: str, *data: bytes) -> list[Output]:
        """The files `format` makes, named by the table; [] when the format was not asked for."""
        kind = BY_FORMAT[format]
        if not self.wants(format):
            return []
        return [
            Output(slug + self.edition.suffix + name, item)
            for name, item in zip(kind.files, data, strict=True)
        ]


@dataclass(frozen=True)
class Output:
    name: str
    data: bytes


@dataclass(frozen=True)
class BuildResult:
    outputs: tuple[Output, ...]
    warnings: tuple[Diagnostic, ...]
    page_count: int = 0
    notes: tuple[str, ...] = ()
    """What the build wants the author to know that is not a problem (printed on stderr)."""
    narration: Stats | None = None
