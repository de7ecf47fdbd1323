"""A word space before an inline element goes inside it, in every HTML that WeasyPrint lays out.

Why: with the break opportunity between a text and the inline element that follows it, WeasyPrint
on Pango 1.50 (Debian 12, Ubuntu 22.04) sometimes breaks the line before one word too early, and
that word stands alone on a line of its own: "But I / don't / go along with that" in a Key Quote,
"Why is this small / moment / so moving" on a question card (before a glossary term's span). Pango
1.56 (Debian 13) sets the same HTML correctly. With the space inside the element the lines are the
same on both; a space at the start of a line is removed as usual, so nothing else changes. The
layout lint's L008 (printing/lint.py) finds such a line if another form of it turns up.
"""

from __future__ import annotations

import re

_BEFORE_INLINE = re.compile(r" <(a|abbr|b|cite|em|i|q|small|span|strong)(\s[^<>]*)?>")


def spaces_into_inline(html: str) -> str:
    """`text <span>word</span>` → `text<span> word</span>` (only plain spaces, only inline elements)."""
    return _BEFORE_INLINE.sub(lambda m: f"<{m[1]}{m[2] or ''}> ", html)
