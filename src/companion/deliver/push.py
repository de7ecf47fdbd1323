"""`companion push`: copy the right built file onto a mounted e-reader.

A Kobo gets the `.kepub.epub` (its own reading engine), every other EPUB reader (PocketBook, Tolino, ...)
the `.epub`; a Kindle over USB cannot read EPUB at all, so it is refused with a pointer to
`companion send`. The reader is the one given with `--device PATH`, or the only one mounted
(devices.py). Every check runs before anything is written: a file of the same name that holds a
different book (another identifier, or no EPUB at all) is left alone unless `--replace` says otherwise;
an older copy of the same book is updated; an identical copy is left as it is. Each file is written to a
temporary file beside its place, flushed to the drive, then renamed, so an unplugged reader never
holds half a book, and the file gets the usual mode (0644) where the drive keeps modes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from companion.core.errors import CompanionError, Diagnostic, diagnostic
from companion.core.write import sync_folder
from companion.deliver import devices
from companion.deliver.devices import Device
from companion.deliver.opds_books import Entry, entries, listing, read_metadata

KEPUB, EPUB = "application/kepub+zip", "application/epub+zip"


@dataclass(frozen=True)
class Pushed:
    """One file put on the reader, for the command's report."""

    source: Path
    target: Path
    size: int
    state: str  # "copied", "updated", "replaced" (with --replace) or "unchanged"


def choose_device(path: Path | None, mounts: Path | None = None) -> Device:
    """The reader at `path`, or the one mounted reader; CompanionError when there is none or several."""
    if path is not None:
        if not path.is_dir():
            raise CompanionError([diagnostic(path, "D036", f"{path} is not a folder (a mounted reader)")])
        return devices.as_device(path)
    found = devices.find_readers(mounts)
    if not found:
        raise CompanionError([diagnostic("push", "D030", "no e-reader found among the mounted drives")])
    if len(found) > 1:
        listed = ", ".join(f"{d.kind} at {d.root}" for d in found)
        raise CompanionError([diagnostic("push", "D031", f"{len(found)} e-readers are mounted: {listed}")])
    return found[0]


def plan(folder: Path, device: Device) -> list[tuple[Path, Path]]:
    """(book file, place on the reader) for every book built in `folder`."""
    if not device.reads_epub:
        epub = next((folder / e.files[EPUB] for e in _books(folder) if EPUB in e.files), folder / "BOOK.epub")
        raise CompanionError(
            [
                diagnostic(
                    device.root,
                    "D032",
                    f"{device.root} is a Kindle, which cannot read EPUB copied over USB",
                    f"e-mail the book instead: companion send {epub} --to YOUR-NAME@kindle.com",
                )
            ]
        )
    found = []
    for entry in _books(folder):
        kind = KEPUB if device.wants_kepub and KEPUB in entry.files else EPUB
        if kind in entry.files:
            name = entry.files[kind]
            found.append((folder / name, device.books / name))
    if not found:
        raise CompanionError([diagnostic(folder, "D034", f"no EPUB to push in {folder}")])
    return found


def push(folder: Path, device: Device, replace: bool = False) -> list[Pushed]:
    """Copy every book in `folder` onto `device`; nothing is written when any check fails."""
    steps = plan(folder, device)
    problems: list[Diagnostic] = []
    states = []
    for source, target in steps:
        state = _state(source, target)
        if state == "different" and not replace:
            problems.append(
                diagnostic(
                    target,
                    "D033",
                    f"{target} already holds a different book; it was left as it is",
                )
            )
        states.append("replaced" if state == "different" else state)
    if problems:
        raise CompanionError(problems)
    done = []
    for (source, target), state in zip(steps, states, strict=True):
        if state != "unchanged":
            _copy(source, target)
        done.append(Pushed(source, target, source.stat().st_size, state))
    return done


def _books(folder: Path) -> list[Entry]:
    return entries(listing(folder)) if folder.is_dir() else []


def _state(source: Path, target: Path) -> str:
    """ "copied" (nothing there), "unchanged" (the same bytes), "updated" (an older copy of the same
    book) or "different" (another book, or something that is no EPUB)."""
    if not target.exists():
        return "copied"
    try:
        if target.stat().st_size == source.stat().st_size and target.read_bytes() == source.read_bytes():
            return "unchanged"
    except OSError:
        return "different"
    ours, theirs = read_metadata(source), read_metadata(target)
    if ours and theirs and ours.identifier and ours.identifier == theirs.identifier:
        return "updated"
    return "different"


def _copy(source: Path, target: Path) -> None:
    """Write `target` through a temporary file in its folder, flushed before the rename."""
    tmp = ""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle, source.open("rb") as data:
            while chunk := data.read(1024 * 1024):
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(OSError):  # a FAT drive may refuse; its files have no modes anyway
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the book from other users of a folder
        os.replace(tmp, target)
        sync_folder(target.parent)  # the rename itself reaches the drive before it is unplugged
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        raise CompanionError([diagnostic(target, "D035", f"cannot write {target}: {reason}")]) from None
