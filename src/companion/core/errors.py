"""Diagnostics: where a problem is, what it is, and how the command line reports it."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from companion.core.codes import CODES


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file; line and col are 1-based, 0 when unknown."""

    path: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        text = one_line(self.path)
        if self.line:
            text += f":{self.line}"
            if self.col:
                text += f":{self.col}"
        return text

    def shifted(self, lines: int) -> Location:
        """The same file, `lines` further down (column unknown)."""
        return Location(self.path, self.line + lines if self.line else 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the input, printed as `path:line:col: error CODE: message`."""

    where: Location
    code: str
    message: str
    hint: str = ""

    def __post_init__(self) -> None:
        if self.code not in CODES:  # pragma: no cover - guards the catalogue itself
            raise ValueError(f"unknown diagnostic code {self.code}")

    @property
    def severity(self) -> str:
        return CODES[self.code].severity

    def format(self) -> str:
        """One line (and a hint line): file names and user text are escaped so they cannot add lines."""
        text = f"{self.where}: {self.severity} {self.code}: {one_line(self.message)}"
        hint = self.hint or CODES[self.code].hint
        if hint:
            text += f"\n    hint: {one_line(hint)}"
        return text


_BREAKS = frozenset(
    "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Line and paragraph breaks, and the bidirectional controls that could make a line read as another."""


_ESCAPED = frozenset({"Cc", "Cs"})


def one_line(text: str) -> str:
    """`text` with line breaks and control characters but the tab written as escapes (\\n, \\x1b)."""
    if text.isprintable() or not any(ch in _BREAKS or unicodedata.category(ch) in _ESCAPED for ch in text):
        return text
    out = []
    for ch in text:
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch != "\t" and (ch in _BREAKS or unicodedata.category(ch) in _ESCAPED):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


class CompanionError(Exception):
    """Raised with every problem found; the CLI prints them and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        unique = dict.fromkeys(diagnostics)  # the same problem found twice is reported once
        self.diagnostics = tuple(sorted(unique, key=lambda d: (d.where, d.code, d.message)))
        super().__init__("\n".join(d.format() for d in self.diagnostics))

    def __reduce__(self) -> tuple[type[CompanionError], tuple[tuple[Diagnostic, ...]]]:
        return type(self), (self.diagnostics,)  # raised in a worker process, re-raised in the build


def diagnostic(where: Location | Path | str, code: str, message: str, hint: str = "") -> Diagnostic:
    """Shorthand for a Diagnostic at a location or a whole file."""
    if not isinstance(where, Location):
        where = Location(str(where))
    return Diagnostic(where, code, message, hint)


def fail_if(diagnostics: Iterable[Diagnostic]) -> None:
    """Raise CompanionError when any diagnostic is an error (warnings pass)."""
    found = list(diagnostics)
    if any(d.severity == "error" for d in found):
        raise CompanionError(found)
