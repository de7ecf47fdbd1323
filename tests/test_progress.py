"""Progress: a transient status line on a terminal, and nothing but results and errors otherwise."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from companion.cli.progress import Reporter, reporter

ROOT = Path(__file__).resolve().parent.parent


def test_disabled_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    with reporter(False, out) as progress:
        for stage in ("load", "render print", "lay out PDF", "cover", "render EPUB", "package EPUB"):
            progress(stage)
            progress.item("Part One", 1, 3)
    assert out.getvalue() == ""
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_not_a_terminal_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    # pytest captures stderr, so it is not a terminal here
    with reporter() as progress:
        assert progress.enabled is False
        progress("load")
    assert capsys.readouterr().err == ""


def test_enabled_shows_stages_and_chapters_then_clears() -> None:
    out = io.StringIO()
    with Reporter(True, out) as progress:
        progress("load")
        time.sleep(0.3)  # the line is redrawn a dozen times a second
        progress("render print")
        progress.item("Part [One]: Hailsham", 2, 5)
    shown = out.getvalue()
    assert "load…" in shown
    assert "render print: 2/5 Part [One]: Hailsham" in shown  # markup-like text shown as is
    assert shown.rstrip().endswith("\x1b[2K")  # the transient line is erased at the end


def test_build_not_on_a_terminal_prints_only_results(cli: Callable[..., Result], project: Path) -> None:
    result = cli("build", str(project / "source"), "--format", "epub", "--out", str(project / "dist"))
    assert result.exit_code == 0
    warnings = result.stderr.splitlines()  # only the layout lint's, which test_lint covers
    assert all(w.startswith(("never-let-me-go.pdf: warning L", "    hint: ")) for w in warnings), warnings
    lines = result.stdout.splitlines()
    assert str(project / "dist" / "never-let-me-go.epub") in lines
    assert all(Path(line).is_file() for line in lines), "stdout holds only the written files"


def test_check_in_a_pipe_prints_only_the_result(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "companion", "check", "source"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert (proc.stdout, proc.stderr) == ("source: ok\n", "")


def test_bar_shows_sentences_done_and_time_left() -> None:
    out = io.StringIO()
    with Reporter(True, out) as progress:
        progress("narrate")
        progress.bar(120, 480, 65.4)
        time.sleep(0.2)
    shown = out.getvalue()
    assert "narrate: ━━━━━━╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌╌ 120/480 sentences, 1 min 05 s left" in shown
