"""Kobo kepub: the same EPUB with koboSpan elements around each sentence and the book-columns /
book-inner wrappers Kobo's reader uses for pagination, highlights and reading statistics.

This follows what Kobo's own conversion (and kepubify) does to each XHTML content document of the
spine, the nav document excepted:
- every non-blank text node in the body becomes one `<span class="koboSpan" id="kobo.P.S">` per
  sentence, where P counts paragraphs (block elements that received a span) and S the segments in it;
  text in headings, list items, table cells, links and emphasis is covered the same way;
- every `<img>` is wrapped in a koboSpan of its own;
- the body's content is moved into `<div id="book-columns"><div id="book-inner">`;
- script, style, SVG and MathML content is left alone, and everything else (OPF, nav, NCX, CSS,
  fonts, images) is copied unchanged. The text of every document is unchanged, character for character.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile

from lxml import etree

from .epub import repack

XHTML = "http://www.w3.org/1999/xhtml"
OPF = "http://www.idpf.org/2007/opf"
CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"
_SENTENCE = re.compile(r"(?<=[.!?…])[\u201d\u2019\"')\]]*\s+")
_SKIP = {
    f"{{{XHTML}}}{name}"
    for name in (
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
}
_BLOCKS = {
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
_NO_PHRASING = {
    f"{{{XHTML}}}{name}"
    for name in ("ol", "ul", "dl", "table", "thead", "tbody", "tfoot", "tr", "colgroup", "hgroup", "menu")
}
_IMG = f"{{{XHTML}}}img"
_SPAN = f"{{{XHTML}}}span"
_DIV = f"{{{XHTML}}}div"


def kepubify(epub_bytes: bytes) -> bytes:
    """The kepub's bytes, from a finished EPUB's bytes."""
    source = zipfile.ZipFile(io.BytesIO(epub_bytes))
    replaced = {name: _spans(source.read(name)) for name in _content_documents(source)}
    return repack(epub_bytes, replaced)


def _content_documents(source: zipfile.ZipFile) -> list[str]:
    """The zip names of the XHTML content documents in the manifest, the nav document excepted."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    container = etree.fromstring(source.read("META-INF/container.xml"), parser)
    rootfile = container.find(f".//{{{CONTAINER}}}rootfile")
    opf_path = rootfile.get("full-path", "") if rootfile is not None else ""
    package = etree.fromstring(source.read(opf_path), parser)
    names = set(source.namelist())
    found = []
    for item in package.iterfind(f"{{{OPF}}}manifest/{{{OPF}}}item"):
        if (
            item.get("media-type") != "application/xhtml+xml"
            or "nav" in (item.get("properties") or "").split()
        ):
            continue
        name = posixpath.normpath(posixpath.join(posixpath.dirname(opf_path), item.get("href", "")))
        if name in names:
            found.append(name)
    return sorted(found)


def _spans(document: bytes) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(document, parser)
    body = root.find(f"{{{XHTML}}}body")
    if body is None or body.find(f".//{_SPAN}[@class='koboSpan']") is not None:
        return document  # not a body document, or already a kepub
    _Spanner().visit(body)
    inner = etree.Element(_DIV, id="book-inner")
    columns = etree.Element(_DIV, id="book-columns")
    inner.text, body.text = body.text, None
    for child in list(body):
        inner.append(child)
    columns.append(inner)
    body.append(columns)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", doctype="<!DOCTYPE html>")


class _Spanner:
    """Numbers spans as Kobo does: kobo.<paragraph>.<segment>, a new paragraph at each block element."""

    def __init__(self) -> None:
        self.para = 0
        self.segment = 0
        self.new_para = True

    def _span(self) -> etree._Element:
        if self.new_para:
            self.para += 1
            self.segment = 0
            self.new_para = False
        self.segment += 1
        return etree.Element(_SPAN, {"class": "koboSpan", "id": f"kobo.{self.para}.{self.segment}"})

    def _text_spans(self, text: str) -> list[etree._Element]:
        out = []
        for piece in _split(text):
            span = self._span()
            span.text = piece
            out.append(span)
        return out

    def visit(self, element: etree._Element) -> None:
        tag = element.tag
        if not isinstance(tag, str) or tag in _SKIP or not tag.startswith(f"{{{XHTML}}}"):
            return  # comments, processing instructions, SVG, MathML, scripts
        if tag in _BLOCKS:
            self.new_para = True
        phrasing = tag not in _NO_PHRASING
        children = list(element)  # before any span is added
        if phrasing and element.text and element.text.strip():
            for index, span in enumerate(self._text_spans(element.text)):
                element.insert(index, span)
            element.text = None
        for child in children:
            if child.tag == _IMG and phrasing:
                wrapper = self._span()
                child.addprevious(wrapper)
                wrapper.append(child)  # moves the image, its tail with it
                wrapper.tail, child.tail = child.tail, None
                child = wrapper
            else:
                self.visit(child)
            if child.tag in _BLOCKS:
                self.new_para = True
            tail = child.tail
            if phrasing and tail and tail.strip():
                child.tail = None
                anchor = child
                for span in self._text_spans(tail):
                    anchor.addnext(span)
                    anchor = span


def _split(text: str) -> list[str]:
    """Sentences, each keeping its trailing space, so that joining them gives the text back."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE.finditer(text):
        parts.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        parts.append(text[start:])
    return [p for p in parts if p]
