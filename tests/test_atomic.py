"""Nothing lost: failed, killed and concurrent builds never leave a truncated output.

And two builds of the same source are byte-identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from companion import pipeline
from companion.cli import main
from companion.core.write import write_atomic

from .tinysource import make_tiny

NAMES = {"tiny.epub", "tiny.kepub.epub", "tiny.pdf", "tiny-cover.pdf", "tiny-cover.jpg"}


def _project(root: Path, text: str) -> Path:
    src = make_tiny(root)  # with a copy of styles/ (a link out of the project is refused: C040)
    (src / "chapters" / "01-one.md").write_text(f"---\ntitle: One\n---\n\n{text}\n")
    return src


def _outputs(src: Path) -> dict[str, bytes]:
    result = pipeline.build(pipeline.Project.at(src))
    return {o.name: o.data for o in result.outputs}


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Every output of an old and a new version of the tiny companion, built in this process."""
    old = _outputs(_project(tmp_path_factory.mktemp("old"), "Old text."))
    new = _outputs(_project(tmp_path_factory.mktemp("new"), "New text, a little longer than the old one."))
    assert set(old) == set(new) == NAMES
    assert all(old[name] != new[name] for name in ("tiny.epub", "tiny.pdf"))
    return old, new


def _visible(dist: Path) -> dict[str, bytes]:
    """The book files in `dist`; other files (an OPDS catalog, a thumbnail) must at least be complete."""
    found = {p.name: p.read_bytes() for p in dist.iterdir() if not p.name.startswith(".")}
    for name in set(found) - NAMES:
        data = found.pop(name)
        if name.endswith(".xml"):
            etree.fromstring(data)
        elif name.endswith(".jpg"):
            assert data.startswith(b"\xff\xd8") and data.rstrip(b"\0").endswith(b"\xff\xd9"), name
    return found


def _command(src: Path, dist: Path) -> list[str]:
    return [sys.executable, "-m", "companion", "build", str(src), "--out", str(dist)]


def test_two_builds_are_byte_identical(
    tmp_path: Path, versions: tuple[dict[str, bytes], dict[str, bytes]]
) -> None:
    _, new = versions
    again = _outputs(_project(tmp_path, "New text, a little longer than the old one."))
    for name in NAMES:
        assert again[name] == new[name], name


def test_failed_build_leaves_previous_outputs_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    src = _project(tmp_path, "Old text.")
    runner = CliRunner()
    assert (
        runner.invoke(main, ["build", "source", "--format", "epub,pdf"], catch_exceptions=False).exit_code
        == 0
    )
    before = {p.name: p.read_bytes() for p in (tmp_path / "dist").iterdir()}
    assert {"tiny.epub", "tiny.pdf"} <= set(before)
    (src / "chapters" / "01-one.md").write_text("---\ntitle: One\n---\n\nNew <b>text</b>.\n")
    result = runner.invoke(main, ["build", "source", "--format", "epub,pdf"], catch_exceptions=False)
    assert result.exit_code == 1
    assert {p.name: p.read_bytes() for p in (tmp_path / "dist").iterdir()} == before


def test_write_atomic_failing_rename_leaves_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "book.epub"
    target.write_bytes(b"old")

    def broken(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        write_atomic(target, b"new" * 1000)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["book.epub"]


def test_write_atomic_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "book.pdf"
    write_atomic(target, b"first")
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert oct(target.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in target.parent.iterdir()] == ["book.pdf"]


@pytest.mark.slow
def test_killed_builds_leave_old_or_new_complete_files(
    tmp_path: Path, versions: tuple[dict[str, bytes], dict[str, bytes]]
) -> None:
    old, new = versions
    src = _project(tmp_path, "New text, a little longer than the old one.")
    dist = tmp_path / "dist"
    dist.mkdir()
    for name, data in old.items():
        (dist / name).write_bytes(data)
    # Time one whole build, then kill at points spread across it (start, layout, packaging, writing).
    started = time.perf_counter()
    subprocess.run(_command(src, tmp_path / "timing"), check=True, capture_output=True, timeout=300)
    whole = time.perf_counter() - started
    seen_new = False
    for fraction in (0.55, 0.75, 0.85, 0.92, 0.97):
        for name, data in old.items():  # back to the old outputs before each attempt
            write_atomic(dist / name, data)
        process = subprocess.Popen(_command(src, dist), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole * fraction)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        visible = _visible(dist)
        assert set(visible) == NAMES
        for name, data in visible.items():
            assert data in (old[name], new[name]), (
                f"{name} is neither the old nor the new file (killed at {fraction})"
            )
            seen_new |= data == new[name]
        for stray in (p for p in dist.iterdir() if p.name.startswith(".")):
            assert stray.name.endswith(".tmp")  # a killed process cannot clean up; `make clean` does
            stray.unlink()
    assert _visible(tmp_path / "timing") == new


@pytest.mark.slow
def test_concurrent_builds_into_one_folder_both_succeed(
    tmp_path: Path, versions: tuple[dict[str, bytes], dict[str, bytes]]
) -> None:
    _, new = versions
    src = _project(tmp_path, "New text, a little longer than the old one.")
    dist = tmp_path / "dist"
    processes = [
        subprocess.Popen(
            _command(src, dist),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ | {"PYTHONHASHSEED": seed},
        )
        for seed in ("1", "2")
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err.decode()
    assert not [p.name for p in dist.iterdir() if p.name.startswith(".")]  # no temp files left behind
    assert _visible(dist) == new  # and the same bytes as an in-process build, whatever the hash seed
