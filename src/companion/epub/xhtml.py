"""XHTML names shared by the passes that walk our documents' text (kepub's spans, the read-along's
sentences)."""

from __future__ import annotations

XHTML = "http://www.w3.org/1999/xhtml"
NOT_PROSE = (
    "script",
    "style",
    "title",
    "head",
    "textarea",
    "select",
    "option",
    "noscript",
    "template",
    "picture",
    "rp",
)
"""Elements whose text is never read as running text."""


def tags(*names: str) -> frozenset[str]:
    """The lxml tags (`{namespace}name`) of these XHTML elements."""
    return frozenset(f"{{{XHTML}}}{name}" for name in names)


class SpanNumbers:
    """Numbers spans as Kobo does, <paragraph>.<segment>: the paragraph counts from 1 at the first span
    after `new_para` is set (KoboTouchExtended's numbering; kepubify's would start at 0)."""

    def __init__(self) -> None:
        self.para = 0
        self.segment = 0
        self.new_para = True

    def next_number(self) -> str:
        if self.new_para:
            self.para += 1
            self.segment = 0
            self.new_para = False
        self.segment += 1
        return f"{self.para}.{self.segment}"
