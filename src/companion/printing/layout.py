"""The result of laying out the print interior, as a plain value (no WeasyPrint needed to hold it)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from companion.core.errors import Diagnostic, Location, diagnostic


@dataclass(frozen=True)
class PrintLayout:
    pdf: bytes
    page_count: int
    page_starts: tuple[tuple[str, int], ...]
    """(element id, 1-based physical page) for every id, on the page where the element begins."""
    folios: tuple[str, ...]
    """The printed page number of each physical page ('' where none is printed)."""
    inside_margin: float
    overflows: tuple[tuple[int, str], ...] = ()
    """(page, text) of every line whose text runs past its measure."""
    image_dpi: tuple[tuple[str, int], ...] = ()
    """(src, effective dpi at the printed size) of every raster image."""
    lint: tuple[tuple[int, str, str], ...] = ()
    """(page, code, message) of every layout-lint finding (lint.py)."""

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "pdf_sha256": hashlib.sha256(self.pdf).hexdigest(),
                "page_count": self.page_count,
                "page_starts": self.page_starts,
                "folios": self.folios,
                "inside_margin": self.inside_margin,
                "overflows": self.overflows,
                "image_dpi": self.image_dpi,
                "lint": self.lint,
            }
        ).encode()

    @classmethod
    def from_json(cls, meta: bytes, pdf: bytes) -> PrintLayout:
        data = json.loads(meta)
        if data["pdf_sha256"] != hashlib.sha256(pdf).hexdigest():
            raise ValueError("the cached PDF does not match its layout record")
        return cls(
            pdf=pdf,
            page_count=int(data["page_count"]),
            page_starts=tuple((str(ident), int(page)) for ident, page in data["page_starts"]),
            folios=tuple(str(folio) for folio in data["folios"]),
            inside_margin=float(data["inside_margin"]),
            overflows=tuple((int(page), str(text)) for page, text in data["overflows"]),
            image_dpi=tuple((str(src), int(dpi)) for src, dpi in data["image_dpi"]),
            lint=tuple((int(page), str(code), str(text)) for page, code, text in data.get("lint", ())),
        )


MIN_DPI = 300


def print_warnings(layout: PrintLayout, assets: dict[str, str], slug: str) -> tuple[Diagnostic, ...]:
    """Images below 300 dpi at their printed size, lines that run past their measure, and the layout
    lint's findings. `assets` maps each image's file URI to its name in source/."""
    found = []
    paths = assets
    for src, dpi in layout.image_dpi:
        if dpi < MIN_DPI:
            shown = paths.get(src, src)
            found.append(
                diagnostic(
                    Location(f"source/{shown}"),
                    "C033",
                    f"image `{shown}` prints at {dpi} dpi; print needs {MIN_DPI} or more",
                    "use a larger image, or show it smaller",
                )
            )
    for page, text in layout.overflows:
        found.append(
            diagnostic(
                Location(f"{slug}.pdf"), "C036", f"page {page}: a line runs past its measure: `{text}`"
            )
        )
    found += [
        diagnostic(Location(f"{slug}.pdf"), code, f"page {page}: {text}") for page, code, text in layout.lint
    ]
    return tuple(found)
