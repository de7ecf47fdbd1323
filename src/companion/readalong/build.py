"""The read-along edition: the EPUB with a media overlay for every spine document that has something
to read, narrated offline sentence by sentence, and the same narration as an `.m4b` audiobook with a
chapter per section.

    epub bytes -> readaloud.read (sentence spans, reading order) -> spoken.speakable (what is said)
               -> narration.synthesize (cached per sentence) -> audiobook (AAC) -> overlays (SMIL, OPF)
"""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from xml.sax.saxutils import quoteattr

from lxml import etree

from companion.core.cache import Cache
from companion.core.errors import CompanionError, Diagnostic
from companion.epub.package import OPF as OPF_NAME
from companion.epub.package import repack
from companion.readalong import audiobook, narration, overlays, readaloud
from companion.readalong.spoken import speakable
from companion.source import voices
from companion.source.model import Companion

SENTENCE_PAUSE = 0.35
PARAGRAPH_PAUSE = 0.7
"""Seconds of silence after a sentence, and after the last sentence of a paragraph or heading."""
MAX_SPEECH_CACHE = 2 * 1024**3
CSS = "EPUB/styles/epub.css"
NCX = "EPUB/toc.ncx"
OPF = overlays.OPF
XHTML = "http://www.w3.org/1999/xhtml"


@dataclass(frozen=True)
class ReadAlong:
    epub: bytes
    m4b: bytes
    stats: narration.Stats
    warnings: tuple[Diagnostic, ...]


def build(
    epub: bytes,
    companion: Companion,
    cache: Cache,
    *,
    progress: Callable[[str], None] = lambda _stage: None,
    count: narration.Count | None = None,
) -> ReadAlong:
    book = companion.book
    settings = book.narration
    where = companion.sources.find(("book.yaml", "narration", "voice"))
    voice = require(companion)
    warnings = tuple(voices.language_warning(voice, book.language, where))
    source = zipfile.ZipFile(io.BytesIO(epub))
    documents = _spine(source)
    readings = {name: readaloud.read(source.read(name), notes=settings.notes) for name in documents}
    spoken = {
        (name, index): speakable(text, settings.lexicon)
        for name, reading in readings.items()
        for index, text in enumerate(reading.utterances)
    }
    progress("narrate")
    speech = cache.beside("speech")
    stats = narration.Stats()
    pcm = narration.synthesize(
        [text for text in spoken.values() if text], narration.engine(voice, settings), speech, stats, count
    )
    speech.prune(MAX_SPEECH_CACHE)
    progress("encode audio")
    replaced: dict[str, bytes] = {}
    made: list[overlays.Overlay] = []
    chapters: list[audiobook.Chapter] = []
    book_audio: list[bytes] = []
    encodes: dict[str, bytes] = {}
    position = 0
    for name in documents:
        reading = readings[name]
        if not reading.sentences:
            continue
        audio, clips = _assemble(
            reading, [pcm.get(spoken[name, i], b"") for i in range(len(reading.utterances))]
        )
        href = posixpath.relpath(name, posixpath.dirname(OPF_NAME))
        overlay = overlays.Overlay(
            href, posixpath.splitext(posixpath.basename(name))[0], clips, len(audio) // 2
        )
        made.append(overlay)
        replaced[name] = reading.xhtml
        replaced[posixpath.join("EPUB", overlay.smil_href)] = overlays.smil(overlay)
        encodes[posixpath.join("EPUB", overlay.audio_href)] = audio
        chapters.append(audiobook.Chapter(_title(reading.xhtml), position, position + len(audio) // 2))
        position += len(audio) // 2
        book_audio.append(audio)
    summary = (
        f"Every part of this read-along edition is narrated by a synthetic voice ({voice.spec}) "
        "with the text highlighted sentence by sentence (EPUB 3 Media Overlays)."
    )
    replaced[OPF_NAME] = overlays.package(source.read(OPF_NAME), made, narrator=voice.spec, summary=summary)
    replaced[CSS] = source.read(CSS) + overlays.ACTIVE_STYLE.encode()
    old = f"content={quoteattr(book.identifier)}"
    new = f"content={quoteattr(overlays.edition_identifier(book.identifier))}"
    replaced[NCX] = source.read(NCX).replace(old.encode(), new.encode())
    tags = {"title": book.full_title, "artist": book.author, "album": book.full_title, "genre": "Audiobook"}
    tags |= {"comment": f"Narrated by {voice.spec}", "date": str(book.published.year)}
    with ThreadPoolExecutor(max_workers=2) as pool:  # one ffmpeg a core: the audiobook beside the documents
        m4b = pool.submit(audiobook.m4b, b"".join(book_audio), chapters, _plain(tags), cache)
        encoded = pool.map(lambda pcm: audiobook.m4a(pcm, cache), encodes.values())
        replaced |= dict(zip(encodes, encoded, strict=True))
        return ReadAlong(repack(epub, replaced), m4b.result(), stats, warnings)


def require(companion: Companion) -> voices.Voice:
    """The book's voice, when it and the encoder can be used on this machine (C070, C071 otherwise)."""
    voice = voices.parse(companion.book.narration.voice)
    if voice is None:  # validate() refuses it first; kept for callers that skip validation
        raise CompanionError(voices.settings_problems(companion))
    where = companion.sources.find(("book.yaml", "narration", "voice"))
    missing = voices.availability(voice, where) + audiobook.available(where)
    if missing:
        raise CompanionError(missing)
    return voice


def _assemble(reading: readaloud.Reading, utterances: list[bytes]) -> tuple[bytes, tuple[overlays.Clip, ...]]:
    """The document's audio (each utterance, then a pause) and each sentence's clip. Sentences that share
    an utterance (one sentence in pieces) share its time by their length in characters."""
    rate = narration.SAMPLE_RATE
    parts: list[bytes] = []
    clips: list[overlays.Clip] = []
    position = 0
    sentences = reading.sentences
    index = 0
    while index < len(sentences):
        run = [sentences[index]]
        while index + len(run) < len(sentences) and sentences[index + len(run)].utterance == run[0].utterance:
            run.append(sentences[index + len(run)])
        index += len(run)
        following = sentences[index] if index < len(sentences) else None
        same = following is not None and following.paragraph == run[-1].paragraph
        pause = round((SENTENCE_PAUSE if same else PARAGRAPH_PAUSE) * rate)
        audio = utterances[run[0].utterance] or b""
        length = len(audio) // 2 + pause
        parts += [audio[: len(audio) // 2 * 2], bytes(2 * pause)]
        total_chars = sum(max(len(s.text), 1) for s in run)
        begin, chars = position, 0
        for sentence in run:
            chars += max(len(sentence.text), 1)
            end = position + length * chars // total_chars
            clips.append(overlays.Clip(sentence.id, begin, end))
            begin = end
        position += length
    return b"".join(parts), tuple(clips)


def _spine(source: zipfile.ZipFile) -> list[str]:
    """The zip names of the spine's XHTML documents, in reading order."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    package = etree.fromstring(source.read(OPF_NAME), parser)
    hrefs = {
        item.get("id"): item.get("href", "")
        for item in package.iterfind(f"{{{OPF}}}manifest/{{{OPF}}}item")
        if item.get("media-type") == "application/xhtml+xml"
    }
    names = []
    for ref in package.iterfind(f"{{{OPF}}}spine/{{{OPF}}}itemref"):
        href = hrefs.get(ref.get("idref"))
        if href is not None:
            names.append(posixpath.normpath(posixpath.join(posixpath.dirname(OPF_NAME), href)))
    return names


def _title(xhtml: bytes) -> str:
    root = etree.fromstring(xhtml, etree.XMLParser(resolve_entities=False, no_network=True))
    title = root.find(f"{{{XHTML}}}head/{{{XHTML}}}title")
    return "".join(title.itertext()).strip() if title is not None else ""


def _plain(tags: dict[str, str]) -> dict[str, str]:
    from companion.source import markdown

    return {name: markdown.plain(value) for name, value in tags.items()}
