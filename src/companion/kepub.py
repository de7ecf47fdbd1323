"""Kobo kepub: the same EPUB with koboSpan elements around each sentence and the book-columns /
book-inner wrappers Kobo's reader uses for pagination and reading statistics."""

from __future__ import annotations

import io
import re
import zipfile

from lxml import etree

from .epub import repack

XHTML = "http://www.w3.org/1999/xhtml"
_SENTENCE = re.compile(r"(?<=[.!?…])[\u201d\u2019\"')\]]*\s+")
_SKIP = {f"{{{XHTML}}}{name}" for name in ("script", "style", "title", "head")}
_BLOCKS = {f"{{{XHTML}}}{name}" for name in
           ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "figcaption", "blockquote", "div", "td", "th")}


def kepubify(epub_bytes: bytes) -> bytes:
    """The kepub's bytes, from a finished EPUB's bytes."""
    source = zipfile.ZipFile(io.BytesIO(epub_bytes))
    replaced = {}
    for name in source.namelist():
        if name.endswith(".xhtml") and not name.endswith("nav.xhtml"):
            replaced[name] = _spans(source.read(name))
    return repack(epub_bytes, replaced)


def _spans(document: bytes) -> bytes:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(document, parser)
    body = root.find(f"{{{XHTML}}}body")
    if body is None:
        return document
    counter = {"para": 0}
    for block in body.iter(*_BLOCKS):
        if any(child.tag in _BLOCKS for child in block):
            continue
        counter["para"] += 1
        _wrap_block(block, counter["para"])
    inner = etree.Element(f"{{{XHTML}}}div", id="book-inner")
    columns = etree.Element(f"{{{XHTML}}}div", id="book-columns")
    for child in list(body):
        inner.append(child)
    columns.append(inner)
    body.append(columns)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", doctype="<!DOCTYPE html>")


def _wrap_block(block: etree._Element, para: int) -> None:
    segment = 0

    def spans(text: str) -> list[etree._Element]:
        nonlocal segment
        out = []
        for piece in _split(text):
            segment += 1
            span = etree.Element(f"{{{XHTML}}}span", {"class": "koboSpan", "id": f"kobo.{para}.{segment}"})
            span.text = piece
            out.append(span)
        return out

    def visit(element: etree._Element) -> None:
        if element.tag in _SKIP or element.get("class") == "koboSpan":
            return
        children = list(element)
        if element.text and element.text.strip():
            new = spans(element.text)
            element.text = None
            for index, span in enumerate(new):
                element.insert(index, span)
        for child in children:
            visit(child)
            if child.tail and child.tail.strip():
                new = spans(child.tail)
                child.tail = None
                position = element.index(child) + 1
                for offset, span in enumerate(new):
                    element.insert(position + offset, span)

    visit(block)


def _split(text: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for match in _SENTENCE.finditer(text):
        parts.append(text[start:match.end()])
        start = match.end()
    if start < len(text):
        parts.append(text[start:])
    return [p for p in parts if p]
