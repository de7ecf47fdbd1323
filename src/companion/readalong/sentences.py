"""Sentences in XHTML for the read-along edition: every non-blank text node of a body split into
sentences, each in a span with an id (one span per sentence that is read aloud). The kepub keeps
kepubify's own rule (epub/kepub.py), which Kobo's reader expects.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from lxml import etree

from companion.epub.xhtml import NOT_PROSE, XHTML, SpanNumbers, tags

_SENTENCE = re.compile(r"(?<=[.!?…])(?<!\u00a0[A-Z]\.)[\u201d\u2019\"')\]]*[^\S\u00a0\u202f]+")
"""A sentence ends at . ! ? or … (closing quotes and brackets kept with it) before a space; a
no-break space does not end one (it follows honorifics: "Miss Emily. "), nor does an initial after one
("Kathy H. is")."""
_CONTINUES = re.compile(
    r"(?:(?<![\w.])[A-HJ-Z]|(?<!\w)(?:Mr|Mrs|Ms|Mx|Dr|St|Prof|Rev|e\.g|i\.e|cf|viz))\.\s*$"
)
"""Text that ends with an initial (not "I"), an honorific or "e.g.": the sentence goes on."""
_BEFORE_NUMBER = re.compile(r"(?<!\w)(?:p|pp|ch|chap|vol|No|fig|para)\.\s*$")
"""An abbreviation that goes on when a number follows ("p. 12", "No. 5")."""
SKIP = tags(*NOT_PROSE)
BLOCKS = {
    f"{{{XHTML}}}{name}"
    for name in (
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "li",
        "dt",
        "dd",
        "figcaption",
        "blockquote",
        "div",
        "td",
        "th",
        "caption",
        "pre",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "nav",
        "figure",
        "ol",
        "ul",
        "dl",
        "table",
        "tr",
        "address",
        "details",
        "summary",
        "hr",
        "body",
    )
}
# Elements whose content model has no room for a span: text there is blank and left alone.
NO_PHRASING = {
    f"{{{XHTML}}}{name}"
    for name in ("ol", "ul", "dl", "table", "thead", "tbody", "tfoot", "tr", "colgroup", "hgroup", "menu")
}
IMG = f"{{{XHTML}}}img"
SVG = "{http://www.w3.org/2000/svg}svg"
IMAGES = {IMG, SVG}
"""Each is one piece of its own (an inline SVG figure reads its aria-label, as an image its alt)."""
SPAN = f"{{{XHTML}}}span"


class Spanner(SpanNumbers):
    """Numbers spans as Kobo does: <prefix>.<paragraph>.<segment>, a new paragraph at each block
    element. `skip(element)` leaves an element and its content without spans (the read-along leaves
    out what is not read aloud); `spans` lists every span made, in document order."""

    def __init__(
        self,
        css_class: str = "koboSpan",
        prefix: str = "kobo",
        skip: Callable[[etree._Element], bool] = lambda _element: False,
    ) -> None:
        super().__init__()
        self.css_class = css_class
        self.prefix = prefix
        self.skip = skip
        self.spans: list[tuple[int, etree._Element]] = []

    def _span(self) -> etree._Element:
        span = etree.Element(SPAN, {"class": self.css_class, "id": f"{self.prefix}.{self.next_number()}"})
        self.spans.append((self.para, span))
        return span

    def _text_spans(self, text: str) -> list[etree._Element]:
        out = []
        for piece in split(text):
            span = self._span()
            span.text = piece
            out.append(span)
        return out

    def visit(self, element: etree._Element) -> None:
        tag = element.tag
        if not isinstance(tag, str) or tag in SKIP or not tag.startswith(f"{{{XHTML}}}"):
            return  # comments, processing instructions, SVG, MathML, scripts
        if self.skip(element):
            return
        if tag in BLOCKS:
            self.new_para = True
        phrasing = tag not in NO_PHRASING
        children = list(element)  # before any span is added
        if phrasing and element.text and element.text.strip():
            for index, span in enumerate(self._text_spans(element.text)):
                element.insert(index, span)
            element.text = None
        for child in children:
            if child.tag in IMAGES and phrasing and not self.skip(child):
                wrapper = self._span()
                child.addprevious(wrapper)
                wrapper.append(child)  # moves the image, its tail with it
                wrapper.tail, child.tail = child.tail, None
                child = wrapper
            else:
                self.visit(child)
            if child.tag in BLOCKS:
                self.new_para = True
            tail = child.tail
            if phrasing and tail and tail.strip():
                child.tail = None
                anchor = child
                for span in self._text_spans(tail):
                    anchor.addnext(span)
                    anchor = span


def continues(text: str, following: str) -> bool:
    """Whether `text`, which ends with a full stop, ends an abbreviation or an initial rather than a
    sentence ("Kathy H. is", "e.g. the", "p. 12", with an ordinary space, as YAML prose has it)."""
    return bool(_CONTINUES.search(text)) or (
        bool(_BEFORE_NUMBER.search(text)) and following.lstrip()[:1].isdigit()
    )


def split(text: str) -> list[str]:
    """Sentences, each keeping its trailing space, so that joining them gives the text back."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE.finditer(text):
        piece = text[start : match.end()]
        if parts and continues(parts[-1], piece):
            parts[-1] += piece
        else:
            parts.append(piece)
        start = match.end()
    if start < len(text):
        if parts and continues(parts[-1], text[start:]):
            parts[-1] += text[start:]
        else:
            parts.append(text[start:])
    return [p for p in parts if p]
