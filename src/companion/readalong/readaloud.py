"""What a content document reads aloud, sentence by sentence.

Every text node that is read is split into sentences by the kepub's splitter (sentences.py); a
sentence that runs through a link or an emphasis is then wrapped in one `<span class="sentence"
id="rs-N">`, so that a reading system highlights it whole. Left out: the `hidden` navs, page-break
markers, note references and their back-links; footnotes are read after the paragraph that cites
them (`notes: after`) or not at all (`notes: skip`). Images are read as their alt text.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass

from lxml import etree

from companion.readalong.sentences import IMAGES, IMG, SPAN, XHTML, Spanner, continues

EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
_UNSPOKEN_TYPES = {"pagebreak", "noteref"}
_UNSPOKEN_ROLES = {"doc-pagebreak", "doc-noteref", "doc-backlink"}
_ENDS = re.compile(r"[.!?…][\u201d\u2019\"')\]]*\s*$")
_NOTE = re.compile(r"footnote|endnote|rearnote")
_LINK = f"{{{XHTML}}}a"
_BREAK = f"{{{XHTML}}}br"


@dataclass(frozen=True)
class Sentence:
    """One highlight: the span's id and its text; `utterance` indexes the text synthesized for it
    (a sentence that could not be wrapped whole keeps its pieces, which share one utterance)."""

    id: str
    text: str
    utterance: int
    paragraph: int


@dataclass(frozen=True)
class Reading:
    """A document marked up for the read-along, and what it reads, in reading order."""

    xhtml: bytes
    sentences: tuple[Sentence, ...]
    utterances: tuple[str, ...]
    """The displayed text of each utterance (speakable() makes it what the engine reads)."""


def _unspoken(element: etree._Element) -> bool:
    types = set((element.get(EPUB_TYPE) or "").split())
    return (
        element.get("hidden") is not None
        or element.get("aria-hidden") == "true"
        or bool(types & _UNSPOKEN_TYPES)
        or element.get("role") in _UNSPOKEN_ROLES
    )


def _text(span: etree._Element) -> str:
    image = next((child for child in span if child.tag in IMAGES), None)
    if image is not None and len(span) == 1 and not (span.text or "").strip():
        return _described(image)
    return "".join(span.itertext())


def _described(image: etree._Element) -> str:
    """An image as it is read: "Image: " and its alt text (an SVG's aria-label, else its title)."""
    if image.tag == IMG:
        alt = image.get("alt") or ""
    else:
        title = image.find("{http://www.w3.org/2000/svg}title")
        alt = image.get("aria-label") or ("".join(title.itertext()) if title is not None else "")
    alt = alt.strip()
    return f"Image: {alt}" if alt else ""


def read(document: bytes, *, notes: str = "after") -> Reading:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(document, parser)
    body = root.find(f"{{{XHTML}}}body")
    if body is None:
        return Reading(document, (), ())
    asides = {
        aside.get("id"): aside
        for aside in body.iter(f"{{{XHTML}}}aside")
        if _NOTE.search(aside.get(EPUB_TYPE) or "") and aside.get("id")
    }
    note_ids = {id(aside) for aside in asides.values()}
    spanner = Spanner("sentence", "rs", lambda e: _unspoken(e) or (notes == "skip" and id(e) in note_ids))
    spanner.visit(body)
    spans = [(para, span) for para, span in spanner.spans if _text(span).strip()]
    for _, span in spanner.spans:  # an empty piece (an image without alt text) reads nothing
        if not _text(span).strip():
            _unwrap(span)
    groups = _groups(spans)
    said = _Joiner(body)
    sentences: list[Sentence] = []
    utterances: list[str] = []
    number = 0
    for para, pieces in groups:
        whole = _wrap(pieces) if len(pieces) > 1 else pieces[0]
        members = [whole] if whole is not None else pieces
        utterance = len(utterances)
        utterances.append(said.join(pieces))
        for member in members:
            number += 1
            member.set("id", f"rs-{number}")
            member.set("class", "sentence")
            sentences.append(Sentence(f"rs-{number}", _text(member), utterance, para))
    ordered = _notes_after_citations(sentences, body, asides) if notes == "after" else sentences
    xhtml = etree.tostring(root, xml_declaration=True, encoding="utf-8", doctype="<!DOCTYPE html>")
    return Reading(xhtml, tuple(ordered), tuple(utterances))


def _groups(spans: list[tuple[int, etree._Element]]) -> list[tuple[int, list[etree._Element]]]:
    """Consecutive pieces of one paragraph up to the one that ends a sentence."""
    groups: list[tuple[int, list[etree._Element]]] = []
    open_group = False
    for index, (para, span) in enumerate(spans):
        if open_group and groups[-1][0] == para:
            groups[-1][1].append(span)
        else:
            groups.append((para, [span]))
        text = _text(span)
        following = _text(spans[index + 1][1]) if index + 1 < len(spans) else ""
        open_group = not _ENDS.search(text) or continues(text, following)  # "<b>Kathy H.</b> is"
    return groups


class _Joiner:
    """An utterance's text from its pieces, with a space where a line break (`<br/>`) parts two of them:
    "Never Let Me Go<br/>by Kazuo Ishiguro" is not "Goby"."""

    def __init__(self, body: etree._Element) -> None:
        self.position = {element: index for index, element in enumerate(body.iter())}
        self.breaks = sorted(self.position[br] for br in body.iter(_BREAK))

    def join(self, pieces: list[etree._Element]) -> str:
        text = _text(pieces[0])
        for before, piece in itertools.pairwise(pieces):
            start, end = self.position[before], self.position[piece]
            parted = bisect.bisect_left(self.breaks, end) > bisect.bisect_right(self.breaks, start)
            text += (" " if parted else "") + _text(piece)
        return text


def _wrap(pieces: list[etree._Element]) -> etree._Element | None:
    """One span around the pieces of a sentence (which then lose their own), or None when the sentence
    shares an element with another one (it starts or ends inside an emphasis, say)."""
    first_chain = list(pieces[0].iterancestors())
    last_ancestors = set(pieces[-1].iterancestors())
    common = next((a for a in first_chain if a in last_ancestors), None)
    if common is None:
        return None
    top = [_child_of(common, p) for p in (pieces[0], pieces[-1])]
    children = list(common)
    start, end = children.index(top[0]), children.index(top[1])
    covered = children[start : end + 1]
    members = {id(p) for p in pieces}
    for child in covered:
        if any(s.get("class") == "sentence" and id(s) not in members for s in child.iter(SPAN)):
            return None
    wrapper = etree.Element(SPAN, {"class": "sentence"})
    top[0].addprevious(wrapper)
    for child in covered:
        wrapper.append(child)  # each keeps its tail
    wrapper.tail, covered[-1].tail = covered[-1].tail, None
    for piece in pieces:
        _unwrap(piece)
    return wrapper


def _child_of(ancestor: etree._Element, element: etree._Element) -> etree._Element:
    while (parent := element.getparent()) is not ancestor and parent is not None:
        element = parent
    return element


def _unwrap(span: etree._Element) -> None:
    """Put the span's content (text, children, tail) in its place."""
    parent = span.getparent()
    assert parent is not None  # a sentence span is never the root
    index = parent.index(span)
    children = list(span)
    _add_text(parent, index, span.text)
    for offset, child in enumerate(children):
        parent.insert(index + offset, child)  # each keeps its tail
    _add_text(parent, index + len(children), span.tail)
    span.tail = None
    parent.remove(span)


def _add_text(parent: etree._Element, index: int, text: str | None) -> None:
    """`text` just before the parent's child at `index`."""
    if not text:
        return
    if index == 0:
        parent.text = (parent.text or "") + text
    else:
        previous = parent[index - 1]
        previous.tail = (previous.tail or "") + text


def _notes_after_citations(
    sentences: list[Sentence], body: etree._Element, asides: dict[str | None, etree._Element]
) -> list[Sentence]:
    """Reading order: each note's sentences after the paragraph whose sentence cites it (a note that is
    never cited stays where it is)."""
    note_of: dict[str, etree._Element] = {}
    for aside in asides.values():
        for span in aside.iter(SPAN):
            if span.get("class") == "sentence":
                note_of[span.get("id", "")] = aside
    paragraph = {s.id: s.paragraph for s in sentences}
    cited: dict[int, list[etree._Element]] = {}
    placed: set[int] = set()
    last = ""
    for element in body.iter(SPAN, _LINK):
        if element.tag == SPAN and element.get("class") == "sentence":
            last = element.get("id", "")
        elif element.tag == _LINK and "noteref" in (element.get(EPUB_TYPE) or "").split():
            cited_note = asides.get((element.get("href") or "").lstrip("#"))
            if (
                cited_note is not None
                and last in paragraph
                and last not in note_of
                and id(cited_note) not in placed  # a note cited twice is read once, after the first
            ):
                cited.setdefault(paragraph[last], []).append(cited_note)
                placed.add(id(cited_note))
    final = {s.paragraph: s.id for s in sentences if s.id not in note_of}
    out: list[Sentence] = []
    for sentence in sentences:
        note = note_of.get(sentence.id)
        if note is not None and id(note) in placed:
            continue
        out.append(sentence)
        if final.get(sentence.paragraph) == sentence.id:
            for cited_note in cited.get(sentence.paragraph, []):
                out.extend(s for s in sentences if note_of.get(s.id) is cited_note)
    return out
