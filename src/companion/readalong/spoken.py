"""What a sentence sounds like: the text handed to the speech engine, with the book's pronunciation
lexicon applied and abbreviations, page references, ranges and years written as a reader says them."""

from __future__ import annotations

import re
from collections.abc import Sequence

from companion.source.model import Pronunciation

_DECADES = {
    "1": "tens",
    "2": "twenties",
    "3": "thirties",
    "4": "forties",
    "5": "fifties",
    "6": "sixties",
    "7": "seventies",
    "8": "eighties",
    "9": "nineties",
}
_ABBREVIATIONS = (
    (re.compile(r"(?<!\w)pp\.\s*(?=\d)"), "pages "),
    (re.compile(r"(?<!\w)p\.\s*(?=\d)"), "page "),
    (re.compile(r"(?<!\w)ch\.\s*(?=\d)"), "chapter "),
    (re.compile(r"(?<!\w)vol\.\s*(?=\d)"), "volume "),
    (re.compile(r"(?<!\w)No\.\s*(?=\d)"), "number "),
    (re.compile(r"(?<!\w)e\.g\.,?"), "for example"),
    (re.compile(r"(?<!\w)i\.e\.,?"), "that is"),
    (re.compile(r"(?<!\w)etc\."), "et cetera"),
    (re.compile(r"(?<!\w)cf\."), "compare"),
    (re.compile(r"\s&\s"), " and "),
    (re.compile(r"(?<=\d)\s*–\s*(?=\d)"), " to "),  # an en dash between numbers: a range
    (re.compile(r"(?<![\w.])([A-Z])\.(?=\s|$)"), r"\1"),  # an initial: "Kathy H." is not a full stop
)
_DECADE = re.compile(r"(?<![\d,.])(1[1-9]|20)(\d)0s(?!\w)")
_YEAR = re.compile(r"(?<![\d,.£$€])(1[1-9]|20)(\d\d)(?!\d|[,.]\d)")
_SPACE = re.compile(r"\s+")
_UUID = re.compile(r"(?i)(?<![\w:])urn:uuid:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(?![\w-])")
"""An identifier no reader reads out (twelve seconds of letters and digits); "Identifier:" alone is then
a label with nothing after it, which is not read either."""
_LABEL_ONLY = re.compile(r"^[^\W\d][\w ]*:$")


def _year(match: re.Match[str]) -> str:
    century, rest = match.group(1), match.group(2)
    if rest == "00":
        return f"{century} hundred"
    if century == "20" and rest.startswith("0"):
        return match.group(0)  # "two thousand and five"
    if rest.startswith("0"):
        return f"{century} oh {rest[1]}"
    return f"{century} {rest}"


def speakable(text: str, lexicon: Sequence[Pronunciation] = ()) -> str:
    """`text` as the engine should read it (empty when there is nothing to say)."""
    said = _SPACE.sub(" ", _UUID.sub("", text)).strip()
    if _LABEL_ONLY.match(said):
        return ""
    for entry in sorted(lexicon, key=lambda e: -len(e.word)):  # "Kathy H." before "Kathy"
        said = re.sub(rf"(?<!\w){re.escape(entry.word)}(?!\w)", entry.say, said)
    for pattern, replacement in _ABBREVIATIONS:
        said = pattern.sub(replacement, said)
    said = _DECADE.sub(lambda m: f"{m.group(1)} {_DECADES.get(m.group(2), 'hundreds')}", said)
    said = _YEAR.sub(_year, said)
    return said if any(ch.isalnum() for ch in said) else ""
