"""Image checks: is it a real JPEG, PNG, GIF or clean SVG (svgclean.py), and how big is it."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFile, UnidentifiedImageError

from companion.core import gate
from companion.source.svgclean import Unsafe, clean_svg

MAX_PIXELS = 40_000_000
_TRUNCATED_REFUSED = threading.Lock()
"""Held while ImageFile.LOAD_TRUNCATED_IMAGES is switched off (a process-wide setting)."""
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}


@dataclass(frozen=True)
class ImageProblem:
    code: str
    message: str


@dataclass(frozen=True)
class Probed:
    media_type: str
    width: int
    height: int
    data: bytes
    """The bytes that ship: the file's own, or for an SVG the tree written out again."""


def probe_image(path: Path, root: Path | None = None) -> Probed | ImageProblem:
    """A usable image read through the gate (inside `root`, when given), or what is wrong with it."""
    try:
        data = gate.read(path, root, MAX_IMAGE_BYTES)
    except gate.Refused as exc:
        if exc.code == "C005":
            return ImageProblem("C005", f"{exc.message}; images are limited to {MAX_IMAGE_BYTES:,}")
        return ImageProblem(exc.code, exc.message)
    if not data:
        return ImageProblem("C032", "the file is empty")
    if path.suffix.lower() == ".svg":
        cleaned = clean_svg(data)
        if isinstance(cleaned, Unsafe):
            return ImageProblem(cleaned.code, cleaned.message)
        return Probed("image/svg+xml", cleaned.width, cleaned.height, cleaned.data)
    return _probe_raster(data)


def _probe_raster(data: bytes) -> Probed | ImageProblem:
    """JPEG (an MPO from a phone counts: its first frame is a baseline JPEG), PNG or GIF, decoded in full
    so that a damaged or cut-short file is refused here rather than in a reader."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = "JPEG" if image.format == "MPO" else image.format
            if kind not in _MEDIA_TYPES:
                return ImageProblem("C032", f"{image.format or 'unknown'} images are not supported")
            width, height = image.size
            if width * height > MAX_PIXELS:
                return ImageProblem(
                    "C032", f"{width}x{height} pixels is more than the {MAX_PIXELS:,} allowed"
                )
            image.verify()
        with _TRUNCATED_REFUSED, Image.open(io.BytesIO(data)) as image:
            # verify() checks chunks and checksums; load() decodes every pixel, and with WeasyPrint's
            # LOAD_TRUNCATED_IMAGES (set when it is imported) off for the while, a cut file fails here
            before, ImageFile.LOAD_TRUNCATED_IMAGES = ImageFile.LOAD_TRUNCATED_IMAGES, False
            try:
                image.load()
            finally:
                ImageFile.LOAD_TRUNCATED_IMAGES = before
            if image.format == "MPO":  # a phone's photo: its first frame, as a baseline JPEG
                out = io.BytesIO()
                image.convert("RGB").save(out, "JPEG", quality=95, subsampling=0, optimize=False)
                data = out.getvalue()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return ImageProblem("C032", "not a JPEG, PNG or GIF image, or a damaged one")
    return Probed(_MEDIA_TYPES[kind], width, height, data)
