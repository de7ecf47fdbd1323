"""A black-and-white interior: every image the print layout loads comes back gray, ink K only.

Printers ask for B&W interiors in grayscale, text in 100% K: an RGB colour separates into all four
inks (RGB black to 301% through FOGRA39) and prints as a dotted grey. Text and rules are K-only in
print.css (`device-cmyk(0 0 0 k)`, which WeasyPrint writes as DeviceCMYK). Images are converted as
WeasyPrint fetches them (`GrayFetcher`):

* raster images go through littleCMS (Pillow's ImageCms) from their embedded ICC profile, or sRGB,
  to CIELAB; the L* channel becomes a DeviceGray image (a gray value of L*/100 prints as a tint
  of the same lightness). Transparency is flattened onto the white paper (no soft masks, which
  PDF/X-1a and X-3 forbid).
* SVG colours (fill, stroke, stop-color, flood-color, color, in attributes and style) become
  `device-cmyk(0 0 0 k)` with k = 1 - L*/100, L* from the same littleCMS transform.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path

import tinycss2.color3
from lxml import etree
from PIL import Image, ImageCms
from weasyprint.urls import URLFetcherResponse

from companion.printing.fetcher import RestrictedFetcher

_RASTER = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "PNG"}
_PAINT = ("fill", "stroke", "stop-color", "flood-color", "lighting-color", "color")
_STYLE_PAINT = re.compile(r"\b(fill|stroke|stop-color|flood-color|lighting-color|color)\s*:\s*([^;]+)")


@functools.lru_cache(maxsize=1)
def _to_lab() -> ImageCms.ImageCmsTransform:
    return ImageCms.buildTransform(
        ImageCms.createProfile("sRGB"),
        ImageCms.createProfile("LAB"),
        "RGB",
        "LAB",
        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
    )


def lightness(red: float, green: float, blue: float) -> float:
    """CIELAB L* (0 to 100) of an sRGB colour (components 0 to 1), through littleCMS."""
    pixel = Image.new("RGB", (1, 1), tuple(round(255 * c) for c in (red, green, blue)))
    lab = ImageCms.applyTransform(pixel, _to_lab())
    assert lab is not None
    value = lab.getpixel((0, 0))
    assert isinstance(value, tuple)
    return float(value[0]) * 100 / 255


def k_only(css_colour: str) -> str | None:
    """The CSS colour as a K-only `device-cmyk()` of the same lightness; None when it is not a colour
    (none, currentColor, url(...), or already device-cmyk)."""
    parsed = tinycss2.color3.parse_color(css_colour.strip())
    if parsed is None or isinstance(parsed, str):
        return None
    k = 1 - lightness(parsed.red, parsed.green, parsed.blue) / 100
    alpha = f" / {parsed.alpha:g}" if parsed.alpha < 1 else ""
    return f"device-cmyk(0 0 0 {max(0.0, min(1.0, k)):.3f}{alpha})"


def gray_svg(data: bytes) -> bytes:
    """The SVG with every colour K-only."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False)
    root = etree.fromstring(data, parser)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        for name in _PAINT:
            value = element.get(name)
            if value is not None and (new := k_only(value)) is not None:
                element.set(name, new)
        style = element.get("style")
        if style:
            element.set(
                "style",
                _STYLE_PAINT.sub(lambda m: f"{m[1]}: {k_only(m[2]) or m[2]}", style),
            )
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))


def gray_raster(data: bytes, suffix: str) -> bytes:
    """The image as 8-bit gray (L* through littleCMS), flattened onto white."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        profile = image.info.get("icc_profile")
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    source = ImageCms.ImageCmsProfile(io.BytesIO(profile)) if profile else ImageCms.createProfile("sRGB")
    try:
        lab = ImageCms.profileToProfile(
            rgb,
            source,
            ImageCms.createProfile("LAB"),
            outputMode="LAB",
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
        )
    except ImageCms.PyCMSError:  # a profile littleCMS cannot use with RGB data: take the pixels as sRGB
        lab = ImageCms.applyTransform(rgb, _to_lab())
    assert lab is not None
    gray = lab.getchannel("L")
    out = io.BytesIO()
    kind = _RASTER.get(suffix, "PNG")
    if kind == "JPEG":
        gray.save(out, "JPEG", quality=95, optimize=False, progressive=False)
    else:
        gray.save(out, "PNG", optimize=False)
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def _converted(path: Path, mtime_ns: int, size: int) -> bytes:
    data = path.read_bytes()
    suffix = path.suffix.lower()
    return gray_svg(data) if suffix == ".svg" else gray_raster(data, suffix)


class GrayFetcher(RestrictedFetcher):
    """RestrictedFetcher for the B&W print interior: images under `images_root` come back gray."""

    def __init__(self, *roots: Path, images_root: Path) -> None:
        super().__init__(*roots)
        self.images_root = images_root.resolve()

    def fetch(self, url: str, headers: object = None) -> URLFetcherResponse:
        response = super().fetch(url, headers)
        path = _local(url)
        if path is None or not path.is_relative_to(self.images_root):
            return response
        suffix = path.suffix.lower()
        if suffix != ".svg" and suffix not in _RASTER:
            return response
        stat = path.stat()
        return URLFetcherResponse(url, _converted(path, stat.st_mtime_ns, stat.st_size))


def _local(url: str) -> Path | None:
    from urllib.parse import unquote, urlsplit
    from urllib.request import url2pathname

    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        return None
    return Path(url2pathname(unquote(parts.path))).resolve()
