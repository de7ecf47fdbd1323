"""The second-core helper gives the same result as running inline, and passes errors back."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from companion import parallel


def child_pid(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def fails() -> None:
    raise ValueError("from the child")


def test_runs_in_a_forked_child_when_single_threaded() -> None:
    """In a fresh interpreter (one thread), the work runs in another process."""
    code = (
        "import os; from companion import parallel; from tests.test_parallel import child_pid; "
        "pid, value = parallel.start(child_pid, 21)(); print(pid != os.getpid(), value)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "42"]


def test_errors_come_back() -> None:
    with pytest.raises(ValueError, match="from the child"):
        parallel.start(fails)()


def test_inline_when_threads_are_running() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        pid, value = parallel.start(child_pid, 1)()
    finally:
        stop.set()
        thread.join()
    assert (pid, value) == (os.getpid(), 2)
