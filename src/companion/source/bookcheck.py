"""What the cover needs of book.yaml, checked before any layout: text that can fit (C014) and an
ISBN-13 with the right check digit (C060, C061)."""

from __future__ import annotations

from companion.core.errors import Diagnostic, diagnostic
from companion.source import ean
from companion.source.model import Companion

MAX_COVER_TEXT = 300
MAX_COVER_WORD = 100


MAX_BACK_WORDS = 1000
"""More than the back cover holds at its smallest type on the largest trim (about 400 words at 5.5 x 8.5
in): refused before the cover layout tries every size, each costing time in proportion to the text."""
MAX_BACK_CHARACTERS = 10 * MAX_BACK_WORDS
"""The same bound on the letters, so that long words cannot take the time that many words would."""


def check_cover_text(companion: Companion, problems: list[Diagnostic]) -> None:
    """Absurd cover text is refused at once, before the cover layout tries to fit it at every size."""
    book = companion.book
    if book is None:
        return
    review = next(iter(companion.reviews or ()), None)
    words = book.description.split() + (review.text.split() if review is not None else [])
    longest = max((len(word) for word in words), default=0)
    if len(words) > MAX_BACK_WORDS or sum(map(len, words)) > MAX_BACK_CHARACTERS or longest > MAX_COVER_WORD:
        problems.append(
            diagnostic(
                companion.sources.find(("book.yaml", "description")),
                "C014",
                "the description (with the first review) is too long for the back cover "
                f"({len(words):,} word{'s' if len(words) != 1 else ''}, longest word {longest:,} characters)",
                f"keep it under {MAX_BACK_WORDS:,} words, {MAX_BACK_CHARACTERS:,} letters and "
                f"{MAX_COVER_WORD} letters a word; the back cover holds a few hundred words",
            )
        )
    for name in ("title", "subtitle", "author"):
        text = getattr(book, name)
        longest = max((len(word) for word in text.split()), default=0)
        if len(text) > MAX_COVER_TEXT or longest > MAX_COVER_WORD:
            where = companion.sources.find(("book.yaml", name))
            problems.append(
                diagnostic(
                    where,
                    "C014",
                    f"`{name}` is too long for the cover ({len(text)} characters, longest word {longest})",
                    f"keep it under {MAX_COVER_TEXT} characters and words under {MAX_COVER_WORD}",
                )
            )


def check_isbn(companion: Companion, problems: list[Diagnostic]) -> None:
    """An ISBN-13: 13 digits, starting 978 or 979, with the right check digit."""
    book = companion.book
    if book is None or book.isbn is None:
        return
    where = companion.sources.find(("book.yaml", "isbn"))
    digits = ean.normalise(book.isbn)
    if len(digits) != 13 or not digits.isdigit() or digits[:3] not in ("978", "979"):
        problems.append(
            diagnostic(
                where,
                "C060",
                f"the ISBN `{book.isbn}` is not an ISBN-13 ({len(digits)} digits)",
                "write the 13 digits starting 978 or 979, such as 978-1-4028-9462-6",
            )
        )
    elif (expected := ean.check_digit(digits[:12])) != int(digits[12]):
        problems.append(
            diagnostic(
                where,
                "C061",
                f"the ISBN `{book.isbn}` has the check digit {digits[12]}; "
                f"its first 12 digits call for {expected}",
                "copy the ISBN again from your ISBN agency's record",
            )
        )
