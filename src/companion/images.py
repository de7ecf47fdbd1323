"""Image checks: is it a real JPEG, PNG, GIF or clean SVG, and how big is it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from PIL import Image, UnidentifiedImageError

MAX_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 20 * 1024 * 1024
_MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif"}
_SVG_NS = "{http://www.w3.org/2000/svg}"
_XLINK_HREF = "{http://www.w3.org/1999/xlink}href"


@dataclass(frozen=True)
class ImageProblem:
    code: str
    message: str


def probe_image(path: Path) -> tuple[str, int, int] | ImageProblem:
    """(media type, width, height) of a usable image, or what is wrong with it."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        return ImageProblem("C006", f"cannot read file: {exc.strerror or exc}")
    if size > MAX_IMAGE_BYTES:
        return ImageProblem("C005", f"the file is {size:,} bytes; images are limited to {MAX_IMAGE_BYTES:,}")
    if not head:
        return ImageProblem("C032", "the file is empty")
    if path.suffix.lower() == ".svg":
        return _probe_svg(path)
    try:
        with Image.open(path) as image:
            if image.format not in _MEDIA_TYPES:
                return ImageProblem("C032", f"{image.format or 'unknown'} images are not supported")
            width, height = image.size
            if width * height > MAX_PIXELS:
                return ImageProblem(
                    "C032", f"{width}x{height} pixels is more than the {MAX_PIXELS:,} allowed"
                )
            image.verify()
            return _MEDIA_TYPES[image.format], width, height
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        return ImageProblem("C032", "not a JPEG, PNG or GIF image, or a damaged one")


def _probe_svg(path: Path) -> tuple[str, int, int] | ImageProblem:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.parse(str(path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        return ImageProblem("C032", f"not well-formed SVG ({exc.msg})")
    if re.search(rb"<!DOCTYPE[^>\[]*\[", path.read_bytes(), re.IGNORECASE):
        return ImageProblem("C034", "DOCTYPE with its own declarations (entities or attributes)")
    for sibling in root.itersiblings(preceding=True):
        if isinstance(sibling, etree._ProcessingInstruction):
            return ImageProblem("C034", f"processing instruction <?{sibling.target}?>")
    if root.tag != f"{_SVG_NS}svg":
        return ImageProblem("C032", "the file's root element is not <svg>")
    for element in root.iter():
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag.endswith(("}script", "}foreignObject")) or tag in {"script", "foreignObject"}:
            return ImageProblem("C034", f"<{etree.QName(tag).localname}> element")
        for name, value in element.attrib.items():
            local = etree.QName(name).localname.lower()
            if local.startswith("on"):
                return ImageProblem("C034", f"event handler attribute `{local}`")
            if "javascript:" in value.lower().replace(" ", ""):
                return ImageProblem("C034", f"`javascript:` in attribute `{local}`")
            if local == "href" and not value.strip().startswith("#"):
                return ImageProblem("C034", f"external reference `{value[:60]}`")
            if re.search(r"url\(\s*['\"]?(?!#)", value) or "@import" in value:
                return ImageProblem("C034", "style that loads an external resource")
        if (
            tag.endswith("}style")
            and element.text
            and re.search(r"url\(\s*['\"]?(?!#)|@import", element.text)
        ):
            return ImageProblem("C034", "style sheet that loads an external resource")
    width = _svg_length(root.get("width")) or 300
    height = _svg_length(root.get("height")) or 150
    return "image/svg+xml", width, height


def _svg_length(value: str | None) -> int:
    match = re.match(r"\s*([0-9.]+)", value or "")
    return int(float(match.group(1))) if match else 0
