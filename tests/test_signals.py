"""SIGTERM and SIGHUP end a build as Ctrl-C does: the layout workers and the cover's child go too."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    """Every descendant: the layout workers are the fork server's children, the build's grandchildren."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except OSError:
            continue
    for child in list(found):
        found |= _children(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_during_a_pdf_build_leaves_no_process(tmp_path: Path, number: int) -> None:
    shutil.copytree(ROOT / "source", tmp_path / "source")
    shutil.copytree(ROOT / "styles", tmp_path / "styles")
    env = {**os.environ, "COMPANION_NO_CACHE": "1"}
    build = subprocess.Popen(
        [sys.executable, "-m", "companion", "build", "--format", "pdf,cover", "--out", "dist"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    children: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not children and build.poll() is None:
        children |= _children(build.pid)
        time.sleep(0.05)
    assert children, "the build never started a helper process"
    for _ in range(40):  # two seconds into the layout, collecting every helper seen
        time.sleep(0.05)
        children |= _children(build.pid)
    build.send_signal(number)
    assert build.wait(timeout=30) == 128 + number
    deadline = time.monotonic() + 1  # they are gone with the build, not once their work is done
    while time.monotonic() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.05)
    assert not [pid for pid in children if _alive(pid)]
    assert not (tmp_path / "dist").exists()
