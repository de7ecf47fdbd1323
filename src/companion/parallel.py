"""Use the second core: run one slow, independent step in a forked child while the build goes on.

Only when forking is safe: a platform with fork and a process with a single thread (a build inside
the preview server, which has threads, runs the step inline instead).
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def start(function: Callable[..., T], *args: Any) -> Callable[[], T]:
    """Start `function(*args)`; the returned callable waits for and returns its result (or raises).
    Inline, the function runs only when its result is asked for."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return lambda: function(*args)  # inline, and only if the build gets as far as asking
    pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
    future = pool.submit(function, *args)

    def wait() -> T:
        try:
            return future.result()
        finally:
            pool.shutdown()

    return wait
