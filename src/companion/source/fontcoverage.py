"""Which characters the bundled fonts can show (for C025), remembered across builds."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from companion.core import gate
from companion.core.cache import digest, memo


@lru_cache(maxsize=4)
def _coverage(folder: str, stamp: tuple[tuple[str, int], ...]) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    points: set[int] = set()
    for name, _ in stamp:
        try:
            data = gate.read(Path(folder) / name, Path(folder).parent, gate.FONT_LIMIT)
            with TTFont(io.BytesIO(data), lazy=True) as font:
                points.update(font.getBestCmap() or {})
        except Exception:  # refused or damaged: the styles check (C040-C042) reports it
            continue
    return frozenset(points)


def font_coverage(folder: Path) -> frozenset[int]:
    """Every code point some bundled font in `folder` can show (empty when there are no fonts);
    remembered across builds, by the fonts' names and sizes and times, when a build cache is active."""
    if not folder.is_dir():
        return frozenset()
    found_fonts = []
    for font in gate.entries(folder):
        if font.suffix.lower() in {".otf", ".ttf", ".woff", ".woff2"}:
            try:
                info = font.stat()
            except OSError:
                continue
            found_fonts.append((font.name, info.st_mtime_ns, info.st_size))
    stamp = tuple((name, time) for name, time, _ in found_fonts)
    if not stamp:
        return frozenset()
    remembered = memo("fonts")
    key = digest(str(folder), found_fonts)
    hit = remembered.get(key) if remembered is not None else None
    if hit is not None:
        return frozenset(hit)
    found = _coverage(str(folder), stamp)
    if remembered is not None:
        remembered.put(key, sorted(found))
    return found
