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
import zipfile

from lxml import etree

from .epub import repack
from .sentences import SPAN, XHTML, Spanner

OPF = "http://www.idpf.org/2007/opf"
CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"
_DIV = f"{{{XHTML}}}div"


def kepubify(epub_bytes: bytes) -> bytes:
    """The kepub's bytes, from a finished EPUB's bytes."""
    source = zipfile.ZipFile(io.BytesIO(epub_bytes))
    replaced = {name: _spans(source.read(name)) for name in content_documents(source)}
    return repack(epub_bytes, replaced)


def content_documents(source: zipfile.ZipFile) -> list[str]:
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
    if body is None or body.find(f".//{SPAN}[@class='koboSpan']") is not None:
        return document  # not a body document, or already a kepub
    Spanner().visit(body)
    inner = etree.Element(_DIV, id="book-inner")
    columns = etree.Element(_DIV, id="book-columns")
    inner.text, body.text = body.text, None
    for child in list(body):
        inner.append(child)
    columns.append(inner)
    body.append(columns)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", doctype="<!DOCTYPE html>")
