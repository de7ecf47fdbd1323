"""Cover colours in CMYK through an ink-limited output profile (littleCMS, via Pillow's ImageCms).

The author gives the cover's colours in book.yaml as `#rrggbb` (sRGB) or as `device-cmyk(c m y k)`.
The print wrap is CMYK: an sRGB colour is converted through `COVER_PROFILE`, an ICC output profile
with a total ink limit of 240% (styles/icc/README.md says how it was built), with the relative
colorimetric intent. The bundled FOGRA39 profile has no ink limit and maps RGB black to 353%; this
one gives 227% for black and 209% for the default navy. A `device-cmyk` colour is used as given;
for the front-cover JPEG (a screen image) it is converted back to sRGB through the same profile.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from PIL import Image, ImageCms

COVER_PROFILE = "icc/FOGRA39L-coated-tac240.icc"
"""Under styles/: the cover's output profile (OutputIntent of a PDF/X cover)."""
TAC_LIMIT = 240.0
_CMYK = re.compile(r"^device-cmyk\(\s*([0-9.]+%?)\s+([0-9.]+%?)\s+([0-9.]+%?)\s+([0-9.]+%?)\s*\)$")


def parse_cmyk(colour: str) -> tuple[float, float, float, float] | None:
    """The components (0 to 1) of a `device-cmyk(c m y k)` colour; None for any other colour."""
    match = _CMYK.match(colour.strip())
    if not match:
        return None
    values = [float(v[:-1]) / 100 if v.endswith("%") else float(v) for v in match.groups()]
    return values[0], values[1], values[2], values[3]


@functools.lru_cache(maxsize=4)
def _transform(profile: Path, to_cmyk: bool) -> ImageCms.ImageCmsTransform:
    srgb, cmyk = ImageCms.createProfile("sRGB"), ImageCms.getOpenProfile(str(profile))
    return ImageCms.buildTransform(
        srgb if to_cmyk else cmyk,
        cmyk if to_cmyk else srgb,
        "RGB" if to_cmyk else "CMYK",
        "CMYK" if to_cmyk else "RGB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )


def to_cmyk(colour: str, styles: Path) -> tuple[float, float, float, float]:
    """The colour's CMYK components (0 to 1) on the cover."""
    given = parse_cmyk(colour)
    if given is not None:
        return given
    rgb = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    pixel = ImageCms.applyTransform(Image.new("RGB", (1, 1), rgb), _transform(styles / COVER_PROFILE, True))
    assert pixel is not None
    value = pixel.getpixel((0, 0))
    assert isinstance(value, tuple)
    c, m, y, k = (v / 255 for v in value)
    return c, m, y, k


def css_cmyk(colour: str, styles: Path) -> str:
    """The colour as CSS `device-cmyk()` (WeasyPrint writes it as DeviceCMYK)."""
    return "device-cmyk({:.4f} {:.4f} {:.4f} {:.4f})".format(*to_cmyk(colour, styles))


def css_rgb(colour: str, styles: Path) -> str:
    """The colour as `#rrggbb` for the screen (front-cover JPEG)."""
    given = parse_cmyk(colour)
    if given is None:
        return colour
    cmyk = tuple(round(v * 255) for v in given)
    pixel = ImageCms.applyTransform(
        Image.new("CMYK", (1, 1), cmyk), _transform(styles / COVER_PROFILE, False)
    )
    assert pixel is not None
    value = pixel.getpixel((0, 0))
    assert isinstance(value, tuple)
    return "#{:02x}{:02x}{:02x}".format(*value[:3])


def tac(cmyk: tuple[float, float, float, float]) -> float:
    """Total area coverage, %."""
    return 100 * sum(cmyk)
