"""E-readers on USB drives: which kind a mounted folder is, from the files the reader keeps on its drive,
and which mounted folders are readers.

The markers are the ones calibre's device drivers rely on once a drive is mounted
(src/calibre/devices/kobo/driver.py, eb600/driver.py, kindle/driver.py) and that the readers create
themselves:
- Kobo: a `.kobo/` folder with `KoboReader.sqlite` or `version` (Kobo's library database and firmware
  file); books go anywhere, calibre puts them at the top;
- PocketBook: a `system/config/` folder (its settings) beside `system/`; books go in `books/` when the
  reader has one (calibre's PocketBook drivers), else at the top;
- Tolino: a `.tolino` marker, or a drive labelled "tolino"; books go in `Books/` (calibre's TOLINO driver
  uploads there because the Vision only shows that folder). The newest Tolinos run Kobo's software and
  keep a `.kobo/` folder; such a drive labelled tolino is a Tolino with books at the top, and gets the
  EPUB (calibre's KoboTouch driver does not kepubify for them);
- Kindle: `documents/` and `system/` without PocketBook's `system/config/` (calibre's KINDLE driver
  keeps books in `documents/`), or an `amazon-cover-bug` / `.kindle` folder.
Mounted drives on Linux come from /proc/self/mounts, kept to removable-media places (/media, /run/media,
/mnt); on macOS every folder in /Volumes is looked at.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

KOBO, POCKETBOOK, TOLINO, KINDLE, EPUB_READER = "Kobo", "PocketBook", "Tolino", "Kindle", "EPUB reader"
MOUNTS = Path("/proc/self/mounts")
REMOVABLE = ("/media/", "/run/media/", "/mnt/")


@dataclass(frozen=True)
class Device:
    kind: str  # one of the names above
    root: Path
    books: Path  # the folder new books go in

    @property
    def wants_kepub(self) -> bool:
        return self.kind == KOBO

    @property
    def reads_epub(self) -> bool:
        return self.kind != KINDLE


def detect(root: Path) -> Device | None:
    """The reader whose drive is mounted at `root`, or None when it carries no reader's markers."""

    def has(*parts: str) -> bool:
        try:
            return root.joinpath(*parts).exists()
        except OSError:
            return False

    tolino = has(".tolino") or "tolino" in root.name.lower()
    if has(".kobo") and (has(".kobo", "KoboReader.sqlite") or has(".kobo", "version")):
        # The Tolino Shine 5, Shine Color and Vision Color run Kobo's software (a `.kobo/` folder);
        # calibre's KoboTouch driver sends them the plain EPUB (no kepubify for a Tolino), at the top.
        return Device(TOLINO if tolino else KOBO, root, root)
    if has("system", "config"):
        books = next((root / name for name in ("books", "Books") if has(name)), root)
        return Device(POCKETBOOK, root, books)
    if tolino:
        return Device(TOLINO, root, root / "Books")
    if (has("documents") and has("system")) or has("amazon-cover-bug") or has(".kindle"):
        return Device(KINDLE, root, root / "documents")
    return None


def as_device(root: Path) -> Device:
    """`root` as the reader it is, or as a plain EPUB reader (books at the top) when it shows no markers."""
    return detect(root) or Device(EPUB_READER, root, root)


def mount_points(mounts: Path | None = None, removable: tuple[str, ...] | None = None) -> list[Path]:
    """Mounted folders in removable-media places (Linux), and the volumes of a Mac."""
    found: list[Path] = []
    removable = REMOVABLE if removable is None else removable
    try:
        text = (mounts or MOUNTS).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2:
            point = _unescape(fields[1])
            if point.startswith(removable):
                found.append(Path(point))
    volumes = Path("/Volumes")
    if sys.platform == "darwin" and volumes.is_dir():
        found += sorted(p for p in volumes.iterdir() if p.is_dir() and not p.is_symlink())
    return list(dict.fromkeys(found))


def find_readers(mounts: Path | None = None, removable: tuple[str, ...] | None = None) -> list[Device]:
    """Every mounted e-reader, in mount order."""
    return [device for point in mount_points(mounts, removable) if (device := detect(point))]


def _unescape(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash in a path as octal escapes (\\040 ...)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
