"""Kobo kepub: the same EPUB with the markup Kobo's reading engine expects in every content document.

The rules are those of the two reference converters, kepubify (pgaskin/kepubify, kepub/transform.go)
and calibre's KoboTouchExtended driver (jgoguen/calibre-kobo-driver, container.py);
tests/test_kepub_rules.py encodes them case by case. For every XHTML document in the manifest, the nav
document included:
- text is cut into sentences after `.`, `!` or `?` (a run of them, then at most one closing quote or
  ellipsis) followed by ASCII white space, which stays with the sentence; every piece becomes a
  `<span class="koboSpan" id="kobo.P.S">`. P counts paragraphs: it goes up at each `p`, `ol`, `ul`,
  `table` and heading (once something in it gets a span) and at each image; S counts the segments in it
  from 1. Whitespace-only text is left as it is, except directly in a `p`;
- every `<img>` is wrapped in a koboSpan of its own that starts a new paragraph;
- the body's content moves into `<div id="book-columns"><div id="book-inner">`;
- a `<style class="kobostylehacks">` goes at the end of the head (kepubify's version of Kobo's own);
- script, style, pre, audio, video, SVG and MathML content is left alone;
- a footnote reference (`epub:type="noteref"`) names its document in its link, as Kobo's guidelines
  (kobolabs/epub-spec, "Footnotes/Endnotes") describe the links it shows as pop-ups;
- no element is written self-closed unless HTML calls it void: Kobo's engine reads a `<span/>` as an
  open tag that swallows what follows.
Where the two tools differ, kepubify is followed, because its rules were checked against Kobo's own
kepubs (its test "also increment paragraph counter on heading tags and don't split sentences after
colons or if there isn't any spaces after a period"): KoboTouchExtended also ends a sentence at a colon
and numbers paragraphs by text run. Two deliberate differences from kepubify: the first paragraph is
numbered 1 (as KoboTouchExtended does; kepubify gives text before the first `p` the number 0), and
nothing is put inside SVG or MathML (a span is not valid there). Everything else (OPF, NCX, CSS, fonts,
images) is copied unchanged, and the text of every document is unchanged, character for character.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile

from lxml import etree

from companion.epub.package import repack
from companion.epub.xhtml import NOT_PROSE, XHTML, SpanNumbers, tags

OPF = "http://www.idpf.org/2007/opf"
OPS = "http://www.idpf.org/2007/ops"
CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"
STYLE_HACKS = "div#book-inner { margin-top: 0; margin-bottom: 0;}"  # kepubify's text, byte for byte
# kepubify's sentence rule (its splitSentencesRegexp): anything up to a stop, at most one closing quote or
# ellipsis, and the white space after it, which must be there. Go's \s is ASCII only, so a no-break
# space ends nothing; a colon is no stop.
_SENTENCE_END = re.compile(r"[.!?]['\"\u201d\u2019\u201c\u2026]?[\t\n\f\r ]+")
"""Where a sentence ends. kepubify matches a whole sentence (`.*?` and this) from the previous end;
finding the ends alone gives the same pieces in linear time (text with no stop in it was quadratic:
50,000 letters took 20 s)."""
_SKIP = tags(*NOT_PROSE, "pre", "audio", "video")
_PARAGRAPHS = tags("p", "ol", "ul", "table", "h1", "h2", "h3", "h4", "h5", "h6")
# Elements whose content model has no room for a span: their (blank) text is left alone.
_NO_PHRASING = {
    f"{{{XHTML}}}{name}"
    for name in ("ol", "ul", "dl", "table", "thead", "tbody", "tfoot", "tr", "colgroup", "hgroup", "menu")
}
# The HTML elements that may (and must) be written as `<x/>`.
VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)
_P = f"{{{XHTML}}}p"
_IMG = f"{{{XHTML}}}img"
_SPAN = f"{{{XHTML}}}span"
_DIV = f"{{{XHTML}}}div"


def kepubify(epub_bytes: bytes) -> bytes:
    """The kepub's bytes, from a finished EPUB's bytes."""
    source = zipfile.ZipFile(io.BytesIO(epub_bytes))
    replaced = {name: convert(source.read(name), name) for name in content_documents(source)}
    return repack(epub_bytes, replaced)


def content_documents(source: zipfile.ZipFile) -> list[str]:
    """The zip names of every XHTML content document in the manifest, the nav document included."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    container = etree.fromstring(source.read("META-INF/container.xml"), parser)
    rootfile = container.find(f".//{{{CONTAINER}}}rootfile")
    opf_path = rootfile.get("full-path", "") if rootfile is not None else ""
    package = etree.fromstring(source.read(opf_path), parser)
    names = set(source.namelist())
    found = []
    for item in package.iterfind(f"{{{OPF}}}manifest/{{{OPF}}}item"):
        if item.get("media-type") != "application/xhtml+xml":
            continue
        name = posixpath.normpath(posixpath.join(posixpath.dirname(opf_path), item.get("href", "")))
        if name in names:
            found.append(name)
    return sorted(found)


def convert(document: bytes, name: str = "") -> bytes:
    """One content document as Kobo wants it (unchanged when it has no body or is already converted)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(document, parser)
    body = root.find(f"{{{XHTML}}}body")
    if body is None or body.find(f".//{_SPAN}[@class='koboSpan']") is not None:
        return document
    _style_hacks(root)
    _Spanner().visit(body)
    _wrap(body)
    _noterefs(body, posixpath.basename(name))
    return serialize(root)


def serialize(root: etree._Element) -> bytes:
    """XHTML bytes that an HTML parser reads as the same tree: only void elements are self-closed."""
    for element in root.iter(f"{{{XHTML}}}*"):
        if len(element) == 0 and element.text is None and etree.QName(element).localname not in VOID:
            element.text = ""  # lxml then writes <x></x>
    body = root.find(f"{{{XHTML}}}body")
    if body is not None:
        body.tail = None  # an HTML parser would move text after </body> into the body
    return etree.tostring(root, xml_declaration=True, encoding="utf-8", doctype="<!DOCTYPE html>")


def _style_hacks(root: etree._Element) -> None:
    head = root.find(f"{{{XHTML}}}head")
    if head is None or head.find(f"{{{XHTML}}}style[@class='kobostylehacks']") is not None:
        return
    style = etree.SubElement(head, f"{{{XHTML}}}style", {"type": "text/css", "class": "kobostylehacks"})
    style.text = STYLE_HACKS
    if len(head) > 1:
        style.tail, head[-2].tail = head[-2].tail, "\n"


def _wrap(body: etree._Element) -> None:
    """Move the body's content into div#book-columns > div#book-inner (unless it is there already)."""
    if body.find(f"{_DIV}[@id='book-columns']/{_DIV}[@id='book-inner']") is not None:
        return
    inner = etree.Element(_DIV, id="book-inner")
    columns = etree.Element(_DIV, id="book-columns")
    inner.text, body.text = body.text, None
    for child in list(body):
        inner.append(child)
    columns.append(inner)
    body.append(columns)


def _noterefs(body: etree._Element, name: str) -> None:
    """`href="#n"` on a footnote reference becomes `href="this.xhtml#n"`."""
    if not name:
        return
    for link in body.iter(f"{{{XHTML}}}a"):
        href = link.get("href", "")
        if "noteref" in (link.get(f"{{{OPS}}}type") or "").split() and href.startswith("#"):
            link.set("href", name + href)


class _Spanner(SpanNumbers):
    """Numbers spans as Kobo does: kobo.<paragraph>.<segment>."""

    def _span(self) -> etree._Element:
        return etree.Element(_SPAN, {"class": "koboSpan", "id": f"kobo.{self.next_number()}"})

    def _text_spans(self, text: str, in_p: bool) -> list[etree._Element | str]:
        """The pieces of `text`: spans, and blank pieces left as text (except directly in a p)."""
        out: list[etree._Element | str] = []
        for piece in split(text):
            if piece.isspace() and not in_p:
                out.append(piece)
                continue
            span = self._span()
            span.text = piece
            out.append(span)
        return out

    def _image(self, image: etree._Element) -> etree._Element:
        self.new_para = True
        wrapper = self._span()
        image.addprevious(wrapper)
        wrapper.append(image)  # moves the image, its tail with it
        wrapper.tail, image.tail = image.tail, None
        self.new_para = False  # what follows the image, up to the next paragraph, continues it
        return wrapper

    def visit(self, element: etree._Element) -> None:
        tag = element.tag
        if not isinstance(tag, str) or tag in _SKIP or not tag.startswith(f"{{{XHTML}}}"):
            return  # comments, processing instructions, SVG, MathML, scripts
        if tag in _PARAGRAPHS:
            self.new_para = True
        phrasing = tag not in _NO_PHRASING
        in_p = tag == _P
        children = list(element)  # before any span is added
        if phrasing and element.text:
            _place(element, None, self._text_spans(element.text, in_p))
        for child in children:
            if child.tag == _IMG and phrasing:
                child = self._image(child)
            else:
                self.visit(child)
            if phrasing and child.tail:
                _place(element, child, self._text_spans(child.tail, in_p))


def _place(parent: etree._Element, after: etree._Element | None, pieces: list[etree._Element | str]) -> None:
    """Put `pieces` where the text was: at the start of `parent` (after=None) or after `after`."""
    if after is None:
        parent.text = None
        index = 0
    else:
        after.tail = None
        index = parent.index(after) + 1
    previous = after
    for piece in pieces:
        if isinstance(piece, str):
            if previous is None:
                parent.text = (parent.text or "") + piece
            else:
                previous.tail = (previous.tail or "") + piece
            continue
        parent.insert(index, piece)
        index += 1
        previous = piece


def split(text: str) -> list[str]:
    """kepubify's sentences, each keeping its trailing space, so that joining them gives the text back."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        parts.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        parts.append(text[start:])
    return parts
