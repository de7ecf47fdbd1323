"""Write stage: the only code that writes outputs. Each file goes to a temporary file in the same
folder and is renamed into place, so a failed or interrupted build never leaves a partial file."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """`durable` off skips the fsyncs: for the build cache, whose entries carry a checksum."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make the rename itself durable (a crash right after a build keeps the new file)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_tree(folder: Path, files: dict[str, bytes], finish: Callable[[Path], object] | None = None) -> None:
    """Replace `folder` with one holding exactly `files` (path inside it -> bytes): they are written to
    a temporary folder beside it (then `finish(temporary folder)` adds what it derives from them),
    which then takes the old folder's place, so that a failed build leaves the old one whole."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    old = folder.parent / f".{folder.name}.old"
    try:
        for name, data in files.items():
            path = tmp / name
            if not path.resolve().is_relative_to(tmp.resolve()):
                raise ValueError(f"{name} is outside {folder}")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            os.chmod(path, 0o644)
        if finish is not None:
            finish(tmp)
        for sub in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
            os.chmod(sub, 0o755)
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            os.replace(folder, old)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    sync_folder(folder.parent)
