"""A content-addressed build cache in the user's cache folder, one folder per project:
`$XDG_CACHE_HOME/companion/<hash of the project's path>/` (default `~/.cache/companion/...`), as pip
and pre-commit keep theirs. Never inside the project: a project from someone else could otherwise bring
entries of its own and get past every check; a `.cache/` folder in a project is ignored.

Entries are keyed by a SHA-256 of everything that determines them (inputs, settings, styles, and the
code and templates of this package), so a hit is always the same bytes a fresh build would give.
A damaged or missing entry is simply recomputed. `COMPANION_NO_CACHE=1` turns the cache off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from companion.core.paths import PACKAGE
from companion.core.write import write_atomic

MAX_CACHE_BYTES = 100 * 1024 * 1024
"""The cache keeps the most recently used entries up to this size."""


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
    from companion.core import gate

    wanted = set(suffixes) if suffixes else None
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        if wanted is not None and path.suffix not in wanted:
            continue
        h.update(str(path.relative_to(folder)).encode() + b"\0")
        try:  # through the gate: no link out of the folder is followed, no pipe is opened
            h.update(hashlib.sha256(gate.read(path, folder, MAX_CACHE_BYTES)).digest())
        except gate.Refused as exc:
            h.update(f"refused {exc.code}".encode())  # the styles check reports it
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """This package's code and templates, and the versions of the libraries that lay out pages."""
    from importlib.metadata import version

    return digest(
        tree_digest(PACKAGE, {".py", ".html", ".xhtml", ".conf"}),
        version("weasyprint"),
        version("pypdfium2"),
        version("pillow"),
        version("ebooklib"),
    )


def user_cache_folder() -> Path:
    """$XDG_CACHE_HOME/companion, or ~/.cache/companion (XDG_CACHE_HOME counts only when absolute)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    folder = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return folder / "companion"


_CHECK = 32
"""Each entry starts with the SHA-256 of the rest."""


@dataclass(frozen=True)
class Cache:
    folder: Path | None

    @classmethod
    def for_project(cls, root: Path) -> Cache:
        if os.environ.get("COMPANION_NO_CACHE", "").strip() not in ("", "0"):
            return cls(None)
        return cls(user_cache_folder() / hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24])

    def clear(self) -> None:
        """Delete every entry of this project."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def beside(self, name: str) -> Cache:
        """A cache of its own next to this one, pruned on its own (the narration's audio is too big to
        share the 100 MB of the others)."""
        return Cache(self.folder.parent / f"companion-{name}" if self.folder is not None else None)

    def get(self, kind: str, key: str, suffix: str) -> bytes | None:
        if self.folder is None:
            return None
        path = self.folder / kind / f"{key}{suffix}"
        try:
            data = path.read_bytes()
            if hashlib.sha256(data[_CHECK:]).digest() != data[:_CHECK]:
                return None  # cut short or damaged: computed again
            os.utime(path)  # recently used entries survive prune()
            return data[_CHECK:]
        except OSError:
            return None

    def prune(self, max_bytes: int = MAX_CACHE_BYTES) -> None:
        """Delete the least recently used entries until the cache holds at most `max_bytes`."""
        if self.folder is None or not self.folder.is_dir():
            return
        with contextlib.suppress(OSError):
            files = [p for p in self.folder.rglob("*") if p.is_file()]
            entries = [(p.stat().st_mtime, p.stat().st_size, p) for p in files]
            total = sum(size for _, size, _ in entries)
            for _, size, path in sorted(entries, key=lambda entry: (entry[0], str(entry[2]))):
                if total <= max_bytes:
                    break
                path.unlink(missing_ok=True)
                total -= size

    def put(self, kind: str, key: str, suffix: str, data: bytes) -> None:
        if self.folder is None:
            return
        with contextlib.suppress(OSError):  # a read-only or full disk only costs speed
            # no fsync: an entry that a crash leaves cut short fails its checksum and is recomputed
            entry = hashlib.sha256(data).digest() + data
            write_atomic(self.folder / kind / f"{key}{suffix}", entry, durable=False)


class Memo:
    """Remembered results of a pure function of text, kept in one JSON file per kind.

    Only the entries used by a build are saved back, so the file never grows past one book."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, Any] = {}
        self.used: dict[str, Any] = {}
        self.added = False
        if path is not None:
            with contextlib.suppress(OSError, ValueError):
                loaded = json.loads(path.read_bytes())
                if isinstance(loaded, dict):
                    self.entries = loaded

    def get(self, key: str) -> Any:
        value = self.entries.get(key)
        if value is not None:
            self.used[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        self.entries[key] = self.used[key] = value
        self.added = True

    def save(self) -> None:
        if self.path is not None and (self.added or len(self.used) != len(self.entries)):
            with contextlib.suppress(OSError):
                write_atomic(self.path, json.dumps(self.used, sort_keys=True).encode())


_MEMOS: ContextVar[dict[str, Memo] | None] = ContextVar("companion_memos", default=None)


def memo(kind: str) -> Memo | None:
    """The memo for `kind` in the build that is running, or None outside one."""
    memos = _MEMOS.get()
    if memos is None:
        return None
    if kind not in memos:
        folder = _MEMO_FOLDER.get()
        memos[kind] = Memo(folder / f"{kind}.json" if folder is not None else None)
    return memos[kind]


_MEMO_FOLDER: ContextVar[Path | None] = ContextVar("companion_memo_folder", default=None)


@contextlib.contextmanager
def memos(cache: Cache, *, save: bool = True) -> Iterator[None]:
    """Make memos available to the code below (markdown inspection, YAML parsing); save them after
    (`save=False` for commands that promise to write nothing)."""
    # remembered results belong to this version of the code: another version starts afresh
    folder_token = _MEMO_FOLDER.set(
        cache.folder / "memo" / code_digest()[:16] if cache.folder is not None else None
    )
    token = _MEMOS.set({})
    try:
        yield
        if save:
            for item in (_MEMOS.get() or {}).values():
                item.save()
    finally:
        _MEMOS.reset(token)
        _MEMO_FOLDER.reset(folder_token)
