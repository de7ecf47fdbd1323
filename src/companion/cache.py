"""A content-addressed build cache in <project>/.cache/companion/.

Entries are keyed by a SHA-256 of everything that determines them (inputs, settings, styles, and the
code and templates of this package), so a hit is always the same bytes a fresh build would give.
A damaged or missing entry is simply recomputed. `COMPANION_NO_CACHE=1` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .write import write_atomic

PACKAGE = Path(__file__).resolve().parent


def digest(*parts: Any) -> str:
    """A stable hash of strings, bytes and JSON-able values."""
    h = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode()
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()


def tree_digest(folder: Path, suffixes: Iterable[str] | None = None) -> str:
    """A hash of every file's name and bytes below `folder`."""
    wanted = set(suffixes) if suffixes else None
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        if wanted is not None and path.suffix not in wanted:
            continue
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """This package's code and templates, and the versions of the libraries that lay out pages."""
    from importlib.metadata import version

    return digest(
        tree_digest(PACKAGE, {".py", ".html", ".xhtml"}),
        version("weasyprint"),
        version("pypdfium2"),
        version("pillow"),
        version("ebooklib"),
    )


@dataclass(frozen=True)
class Cache:
    folder: Path | None

    @classmethod
    def for_project(cls, root: Path) -> Cache:
        if os.environ.get("COMPANION_NO_CACHE", "").strip() not in ("", "0"):
            return cls(None)
        return cls(root / ".cache" / "companion")

    def get(self, kind: str, key: str, suffix: str) -> bytes | None:
        if self.folder is None:
            return None
        path = self.folder / kind / f"{key}{suffix}"
        try:
            return path.read_bytes()
        except OSError:
            return None

    def put(self, kind: str, key: str, suffix: str, data: bytes) -> None:
        if self.folder is None:
            return
        with contextlib.suppress(OSError):  # a read-only or full disk only costs speed
            write_atomic(self.folder / kind / f"{key}{suffix}", data)
