"""The second-core helper gives the same result as running inline, and passes errors back."""

from __future__ import annotations

import os
import threading

import pytest

from companion import parallel


def child_pid(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def fails() -> None:
    raise ValueError("from the child")


def test_runs_in_a_forked_child_when_single_threaded() -> None:
    if threading.active_count() > 1:
        pytest.skip("another thread is running in this test process")
    pid, value = parallel.start(child_pid, 21)()
    assert value == 42
    assert pid != os.getpid()


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
