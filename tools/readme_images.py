"""Render the pictures the README shows: a spread of interior pages and the full cover.

Usage: .venv/bin/python tools/readme_images.py dist/never-let-me-go.pdf dist/never-let-me-go-cover.pdf
"""

from __future__ import annotations

import sys
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

DOCS = Path(__file__).resolve().parent.parent / "docs"


def page_image(pdf: pdfium.PdfDocument, index: int, scale: float) -> Image.Image:
    return pdf[index].render(scale=scale).to_pil().convert("RGB")


def interior(path: Path, pages: list[int]) -> None:
    pdf = pdfium.PdfDocument(str(path))
    images = [page_image(pdf, i, 0.9) for i in pages]
    width, height = images[0].size
    gap = 24
    sheet = Image.new("RGB", (len(images) * width + (len(images) + 1) * gap, height + 2 * gap), "#d8d4cc")
    for n, image in enumerate(images):
        sheet.paste(image, (gap + n * (width + gap), gap))
        left = gap + n * (width + gap)
        ImageDraw.Draw(sheet).rectangle([left - 1, gap - 1, left + width, gap + height], outline="#9a958c")
    sheet.save(DOCS / "interior.png", optimize=True)


def cover(path: Path) -> None:
    pdf = pdfium.PdfDocument(str(path))
    image = page_image(pdf, 0, 1.1)
    image.save(DOCS / "cover.png", optimize=True)


def main() -> None:
    interior_pdf, cover_pdf = Path(sys.argv[1]), Path(sys.argv[2])
    pdf = pdfium.PdfDocument(str(interior_pdf))
    texts = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    first = next(i for i, t in enumerate(texts) if t.strip().startswith("About the Novel"))
    contents = next(i for i, t in enumerate(texts) if t.strip().startswith("Contents"))
    characters = next(i for i, t in enumerate(texts) if t.strip().startswith("Characters"))
    interior(interior_pdf, [contents - 2, contents, first, characters, characters + 1])
    cover(cover_pdf)


if __name__ == "__main__":
    main()
