"""The one reading gate: every file companion reads from a project (source/, styles/) or serves goes
through here.

A file is read only when it is a regular file whose real path (every symlink resolved) lies inside the
folder it belongs to. FIFOs, devices, sockets and folders are refused on their `stat`, before anything
opens them; the file is then opened with O_NOFOLLOW and O_NONBLOCK and checked again on the open
descriptor, so that a swap between the check and the open cannot hand us something else. Reads are
bounded. Fonts are parsed as fonts before they are embedded (`font_problem`).
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC


@dataclass(frozen=True)
class Refused(Exception):
    """Why a file was not read: a diagnostic code and a message without the file's name."""

    code: str
    message: str

    def __str__(self) -> str:
        return self.message


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def inside(path: Path, root: Path) -> Path:
    """`path` with every symlink resolved, when that lies inside `root` (resolved too); else Refused."""
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise Refused("C006", "cannot read file: No such file or directory") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long
        raise Refused("C006", f"cannot read file: {getattr(exc, 'strerror', None) or exc}") from None
    if not real.is_relative_to(root.resolve()):
        raise Refused("C040", f"the file is a link to a place outside {root.name}/")
    return real


def open_regular(path: Path, root: Path | None) -> BinaryIO:
    """The regular file `path` (inside `root`, when given), opened for reading; Refused (C006 unreadable,
    C040 outside `root`, C041 not a regular file). Nothing but a regular file is ever opened. Without a
    `root` (a file named on the command line) the links in its name are followed, as any command does."""
    real = inside(path, root if root is not None else Path("/"))
    try:
        before = os.stat(real)
        if not stat.S_ISREG(before.st_mode):
            raise Refused("C041", f"the file is {_kind(before.st_mode)}, not a regular file")
        fd = os.open(real, _FLAGS)
    except OSError as exc:
        raise Refused("C006", f"cannot read file: {exc.strerror or exc}") from None
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (before.st_dev, before.st_ino):
            raise Refused("C041", "the file changed into something else while it was being opened")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read(path: Path, root: Path | None, limit: int) -> bytes:
    """The bytes of the regular file `path` (inside `root`, when given), at most `limit` of them;
    Refused (C005 too large, or as `open_regular`)."""
    handle = open_regular(path, root)
    fd = handle.fileno()
    try:
        now = os.fstat(fd)
        if now.st_size > limit:
            raise Refused("C005", f"file is {now.st_size:,} bytes; the limit is {limit:,}")
        chunks = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise Refused("C006", f"cannot read file: {exc.strerror or exc}") from None
    finally:
        handle.close()
    data = b"".join(chunks)
    if len(data) > limit:
        raise Refused("C005", f"file is over the limit of {limit:,} bytes")
    return data


def folder(path: Path, root: Path) -> Path | None:
    """`path` resolved, if it is a folder inside `root` (None if it does not exist); else Refused."""
    if not path.exists() and not path.is_symlink():
        return None
    real = inside(path, root)
    mode = os.stat(real).st_mode
    if not stat.S_ISDIR(mode):
        raise Refused("C041", f"{path.name} is {_kind(mode)}, not a folder")
    return real


def entries(path: Path) -> Iterator[Path]:
    """The names in a folder, sorted (a folder that cannot be listed has none)."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return iter(())
    return iter(path / name for name in names)


FONT_LIMIT = 20 * 1024 * 1024


def font_problem(data: bytes) -> str | None:
    """None when `data` parses as an OpenType, TrueType, WOFF or WOFF2 font with a character map;
    otherwise what is wrong with it."""
    from fontTools.ttLib import TTFont

    try:
        with TTFont(io.BytesIO(data), lazy=False, fontNumber=0) as font:
            if "cmap" not in font or font.getBestCmap() is None:
                return "the font has no character map"
            for table in ("head", "maxp", "name"):
                if table not in font:
                    return f"the font has no `{table}` table"
                font[table]  # decoded now: a damaged table fails here, not in a reader
    except Exception:  # fontTools raises many kinds (TTLibError, struct.error, KeyError...) on bad input
        return "not a font, or a damaged one"
    return None


def styles_file(styles: Path, name: str, *, font: bool = False) -> bytes:
    """A file under styles/ for an output (a font parsed as a font first); CompanionError if refused."""
    from companion.core.errors import CompanionError, diagnostic

    path = styles / name
    try:
        data = read(path, styles, FONT_LIMIT)
    except Refused as exc:
        raise CompanionError([diagnostic(str(path), exc.code, exc.message)]) from None
    problem = font_problem(data) if font else None
    if problem is not None:
        raise CompanionError([diagnostic(str(path), "C042", f"{path.name}: {problem}")])
    return data
