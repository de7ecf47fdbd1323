"""Speech synthesis, offline: Debian's espeak-ng (fast; what the tests use) or a Piper neural voice
shipped in a PyPI package. Each utterance's audio (16-bit mono PCM) is kept in the build cache under the
hash of its text, the voice, the settings and the engine's version, so a second build synthesizes nothing
and an edit synthesizes only the sentences it changed.
"""

from __future__ import annotations

import io
import subprocess
import time
import wave
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import import_module
from importlib.metadata import version
from typing import Any, Protocol

from companion.core.cache import Cache, digest
from companion.core.errors import CompanionError, Location, diagnostic
from companion.source.model import NarrationSettings
from companion.source.voices import ESPEAK, PIPER_VOICES, Voice

SAMPLE_RATE = 22050
"""Both engines speak at 22.05 kHz; every utterance is kept at this rate."""
Count = Callable[[int, int, float], None]
"""count(done, total, seconds_left): progress through the utterances to synthesize."""


class Engine(Protocol):
    ident: str
    """What the audio depends on besides the text (engine, its version, voice, settings)."""
    workers: int

    def speak(self, text: str) -> bytes:
        """16-bit mono PCM at SAMPLE_RATE."""
        ...


@dataclass
class Espeak:
    voice: str
    rate: int
    ident: str = ""
    workers: int = 2  # one process an utterance: two at a time keep both cores busy

    def __post_init__(self) -> None:
        self.ident = digest(ESPEAK, _espeak_version(), self.voice, self.words_per_minute)

    @property
    def words_per_minute(self) -> int:
        return round(165 * self.rate / 100)

    def speak(self, text: str) -> bytes:
        command = ["espeak-ng", "-v", self.voice, "-s", str(self.words_per_minute), "--stdout"]
        done = subprocess.run(command, input=text.encode(), capture_output=True, check=False)
        if done.returncode != 0 or not done.stdout:
            message = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
            raise CompanionError(
                [diagnostic(Location("source/book.yaml"), "C071", f"espeak-ng failed: {message}")]
            )
        with wave.open(io.BytesIO(done.stdout)) as audio:
            frames = audio.readframes(audio.getnframes())
            if audio.getframerate() != SAMPLE_RATE or audio.getsampwidth() != 2 or audio.getnchannels() != 1:
                return _resample(frames, audio.getframerate(), audio.getnchannels())
        return frames


@lru_cache(maxsize=1)
def _espeak_version() -> str:
    done = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def _resample(frames: bytes, rate: int, channels: int) -> bytes:
    """16-bit PCM at another rate or with more channels, as mono at SAMPLE_RATE (ffmpeg)."""
    command = ["ffmpeg", "-v", "error", "-f", "s16le", "-ar", str(rate), "-ac", str(channels), "-i", "-"]
    command += ["-ar", str(SAMPLE_RATE), "-ac", "1", "-f", "s16le", "-"]
    return subprocess.run(command, input=frames, capture_output=True, check=True).stdout


@dataclass
class Piper:
    voice: str
    rate: int
    ident: str = ""
    workers: int = 1  # onnxruntime uses every core itself
    _model: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.ident = digest("piper", version("piper-tts"), self.voice, self.rate, "noise 0")

    def speak(self, text: str) -> bytes:
        from piper import PiperVoice, SynthesisConfig

        if self._model is None:
            package = import_module(PIPER_VOICES[self.voice].module)
            self._model = PiperVoice.load(package.model_path())
        # No noise: the same text gives the same samples, so two cold builds are byte-identical.
        config = SynthesisConfig(length_scale=100 / self.rate, noise_scale=0.0, noise_w_scale=0.0)
        chunks = list(self._model.synthesize(text, config))
        rate = chunks[0].sample_rate if chunks else SAMPLE_RATE
        data = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return data if rate == SAMPLE_RATE else _resample(data, rate, 1)


def engine(voice: Voice, settings: NarrationSettings) -> Engine:
    if voice.engine == ESPEAK:
        return Espeak(voice.name, settings.rate)
    return Piper(voice.name, settings.rate)


@dataclass
class Stats:
    """What a narration did: utterances synthesized (cache misses) and from the cache, seconds of audio
    synthesized and the CPU seconds it took."""

    synthesized: int = 0
    cached: int = 0
    audio_seconds: float = 0.0
    cpu_seconds: float = 0.0


def synthesize(
    texts: Sequence[str], speaker: Engine, cache: Cache, stats: Stats, count: Count | None = None
) -> dict[str, bytes]:
    """The PCM of every text (each distinct text once), from the cache or synthesized now."""
    audio: dict[str, bytes] = {}
    missing = []
    for text in dict.fromkeys(texts):
        found = cache.get("speech", digest(speaker.ident, text), ".pcm")
        if found is None:
            missing.append(text)
        else:
            audio[text] = found
    stats.cached += len(audio)
    if not missing:
        return audio
    started, cpu = time.monotonic(), _cpu()
    done_chars, total_chars = 0, sum(len(text) for text in missing)

    def one(text: str) -> tuple[str, bytes]:
        return text, speaker.speak(text)

    with ThreadPoolExecutor(max_workers=speaker.workers) as pool:
        for index, (text, pcm) in enumerate(pool.map(one, missing), start=1):
            cache.put("speech", digest(speaker.ident, text), ".pcm", pcm)
            audio[text] = pcm
            stats.audio_seconds += len(pcm) / 2 / SAMPLE_RATE
            done_chars += len(text)
            if count is not None:
                elapsed = time.monotonic() - started
                count(index, len(missing), elapsed / done_chars * (total_chars - done_chars))
    stats.synthesized += len(missing)
    stats.cpu_seconds += _cpu() - cpu
    return audio


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (espeak-ng runs as one)."""
    import os

    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
