"""One measured speed fix for the PDF writer, applied when pdf.py is imported.

pydyf 0.13's `PDF.page_references` rebuilds the tuple of every page reference on each access, and
WeasyPrint's tagging reads it once per tagged element: quadratic in the page count (measured on a
660-page interior: 15 million generator steps, about 3.5 s of a 6 s write). The patched property
returns the same tuple, rebuilt only when the page list has changed.
"""

from __future__ import annotations

from typing import Any

import pydyf

_ORIGINAL = pydyf.PDF.page_references


def _page_references(self: Any) -> tuple[bytes, ...]:
    kids = self.pages["Kids"]
    signature = (id(kids), len(kids), kids[-3] if kids else None)
    cached = self.__dict__.get("_companion_page_references")
    if cached is None or cached[0] != signature:
        cached = (signature, _ORIGINAL.fget(self))
        self.__dict__["_companion_page_references"] = cached
    return cached[1]


def install() -> None:
    if pydyf.__version__ != "0.13.0":  # the fix is measured for this version only
        return
    pydyf.PDF.page_references = property(_page_references)
