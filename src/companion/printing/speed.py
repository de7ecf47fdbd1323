"""Two measured speed fixes for the PDF writer, applied when pdf.py is imported.

- pydyf 0.13's `PDF.page_references` rebuilds the tuple of every page reference on each access, and
  WeasyPrint's tagging reads it once per tagged element: quadratic in the page count (measured on a
  660-page interior: 15 million generator steps, about 3.5 s of a 6 s write). The patched property
  returns the same tuple, rebuilt only when the page list has changed.
- pydyf compresses every stream at zlib level 9, which costs about twice the time of level 6 for
  page content (1.0 s of CPU on that interior) for a file about 1% smaller. Level 6, zlib's own
  default, is used instead.
"""

from __future__ import annotations

import zlib
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


class _Zlib:
    """pydyf's view of zlib: the same, except that level 9 compression is done at level 6."""

    compress = staticmethod(zlib.compress)
    decompress = staticmethod(zlib.decompress)

    @staticmethod
    def compressobj(level: int = -1, *args: Any, **kwargs: Any) -> Any:
        return zlib.compressobj(min(level, COMPRESSION_LEVEL), *args, **kwargs)


COMPRESSION_LEVEL = 6


def install() -> None:
    if pydyf.__version__ != "0.13.0":  # the fixes are measured for this version only
        return
    pydyf.PDF.page_references = property(_page_references)
    pydyf.zlib = _Zlib  # type: ignore[attr-defined,assignment]
