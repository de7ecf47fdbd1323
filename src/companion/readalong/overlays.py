"""EPUB 3 Media Overlays: a SMIL 3.0 document per narrated content document (a `<par>` per sentence, its
`text` the sentence's id, its `audio` a clip of the document's narration), and the package changes
that go with them: manifest items, `media-overlay` on each document, `media:duration` per overlay and
for the whole book, `media:active-class` with its style, and the accessibility metadata.
"""

from __future__ import annotations

import posixpath
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

from companion.readalong.narration import SAMPLE_RATE

OPF = "http://www.idpf.org/2007/opf"
DC = "http://purl.org/dc/elements/1.1/"
SMIL = "http://www.w3.org/ns/SMIL"
OPS = "http://www.idpf.org/2007/ops"
ACTIVE_CLASS = "read-along-active"
ACTIVE_STYLE = (
    f"\n/* The sentence being read aloud (media:active-class of the read-along edition). */\n"
    f".{ACTIVE_CLASS} {{ background-color: #fff1a8; color: #1a1a1a; border-radius: 0.15em; }}\n"
)


@dataclass(frozen=True)
class Clip:
    id: str
    begin: int
    """In samples from the start of the document's audio."""
    end: int


@dataclass(frozen=True)
class Overlay:
    document: str
    """The content document's href, relative to the OPF."""
    stem: str
    clips: tuple[Clip, ...]
    samples: int

    @property
    def smil_href(self) -> str:
        return f"overlays/{self.stem}.smil"

    @property
    def audio_href(self) -> str:
        return f"audio/{self.stem}.m4a"

    @property
    def milliseconds(self) -> int:
        return round(self.samples * 1000 / SAMPLE_RATE)


def seconds(samples: int) -> str:
    """A SMIL timecount, to the millisecond."""
    return f"{samples / SAMPLE_RATE:.3f}s"


def clock(milliseconds: int) -> str:
    """A SMIL full clock value, h:mm:ss.fff."""
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    return f"{hours}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


def smil(overlay: Overlay) -> bytes:
    relative = posixpath.relpath(overlay.document, posixpath.dirname(overlay.smil_href))
    audio = posixpath.relpath(overlay.audio_href, posixpath.dirname(overlay.smil_href))
    root = etree.Element(f"{{{SMIL}}}smil", nsmap={None: SMIL, "epub": OPS}, version="3.0")
    body = etree.SubElement(root, f"{{{SMIL}}}body")
    seq = etree.SubElement(body, f"{{{SMIL}}}seq", id=f"seq-{overlay.stem}")
    seq.set(f"{{{OPS}}}textref", relative)
    for number, clip in enumerate(overlay.clips, start=1):
        par = etree.SubElement(seq, f"{{{SMIL}}}par", id=f"par-{number}")
        etree.SubElement(par, f"{{{SMIL}}}text", src=f"{relative}#{clip.id}")
        etree.SubElement(
            par,
            f"{{{SMIL}}}audio",
            src=audio,
            clipBegin=seconds(clip.begin),
            clipEnd=seconds(clip.end),
        )
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def package(opf: bytes, overlays: Sequence[Overlay], *, narrator: str, summary: str) -> bytes:
    """The OPF of the read-along edition."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    root = etree.fromstring(opf, parser)
    metadata = root.find(f"{{{OPF}}}metadata")
    manifest = root.find(f"{{{OPF}}}manifest")
    assert metadata is not None and manifest is not None
    items = {item.get("href"): item for item in manifest.iterfind(f"{{{OPF}}}item")}
    for overlay in overlays:
        smil_id, audio_id = f"mo-{overlay.stem}", f"audio-{overlay.stem}"
        items[overlay.document].set("media-overlay", smil_id)
        _item(manifest, smil_id, overlay.smil_href, "application/smil+xml")
        _item(manifest, audio_id, overlay.audio_href, "audio/mp4")
        _meta(metadata, "media:duration", clock(overlay.milliseconds), refines=f"#{smil_id}")
    _meta(metadata, "media:duration", clock(sum(o.milliseconds for o in overlays)))
    _meta(metadata, "media:narrator", narrator)
    _meta(metadata, "media:active-class", ACTIVE_CLASS)
    _meta(metadata, "schema:accessMode", "auditory")
    _meta(metadata, "schema:accessibilityFeature", "synchronizedAudioText")
    for meta in metadata.iterfind(f"{{{OPF}}}meta[@property='schema:accessibilitySummary']"):
        meta.text = f"{meta.text} {summary}"
    for title in metadata.iterfind(f"{{{DC}}}title"):
        title.text = f"{title.text} (Read-Along Edition)"
    for identifier in metadata.iterfind(f"{{{DC}}}identifier"):  # another edition, another identifier
        identifier.text = edition_identifier(identifier.text or "")
    etree.indent(root, space="  ")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def edition_identifier(identifier: str) -> str:
    """The read-along edition's identifier: a UUID derived from the book's (the same every build)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{identifier}#read-along").urn


def _item(manifest: etree._Element, ident: str, href: str, media_type: str) -> None:
    etree.SubElement(manifest, f"{{{OPF}}}item", id=ident, href=href, attrib={"media-type": media_type})


def _meta(metadata: etree._Element, prop: str, value: str, refines: str | None = None) -> None:
    meta = etree.SubElement(metadata, f"{{{OPF}}}meta", property=prop)
    if refines:
        meta.set("refines", refines)
    meta.text = value
