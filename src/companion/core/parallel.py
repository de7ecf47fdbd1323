"""Use the other core: forked children for slow, independent work while the build goes on.

`start` runs one step (the front cover) and hands back its result; a `Worker` is a long-lived child
that keeps state between calls (the print interior's laid-out parts, see pdfjob.py).

Only when forking is safe: a platform with fork and a process with a single thread (a build inside
the preview server, which has threads, runs the work inline instead, when its result is asked for).
A build that stops early (bad input) cancels the children; nothing is left running.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Pending(Generic[T]):
    """The result of `function(*args)`, computed in a child process or, failing that, on demand."""

    def __init__(self, function: Callable[..., T], args: tuple[Any, ...]) -> None:
        self._function, self._args = function, args
        self._process: Any = None
        self._receiver: Connection | None = None
        if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
            context = multiprocessing.get_context("fork")
            self._receiver, sender = context.Pipe(duplex=False)
            self._process = context.Process(target=_child, args=(sender, function, args), daemon=True)
            self._process.start()
            sender.close()

    def result(self) -> T:
        """Wait for the child (or run inline) and return the value, or raise what the function raised."""
        if self._process is None:
            return self._function(*self._args)
        assert self._receiver is not None
        try:
            ok, value = self._receiver.recv()
        except EOFError:  # the child died without an answer: do the work here
            self.cancel()
            return self._function(*self._args)
        except BaseException:  # Ctrl-C, SIGTERM: stop the child rather than wait for it
            self.cancel()
            raise
        self._close()
        if ok:
            return value  # type: ignore[no-any-return]
        raise value

    def cancel(self) -> None:
        """Stop the child if it is still working."""
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
        self._close()

    def _close(self) -> None:
        if self._process is not None:
            self._process.join()
            self._process = None
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None


def _as_child() -> None:
    """In a forked child: the default signal dispositions (the parent's handlers turn SIGTERM into an
    exception, which a child must not catch), and on Linux, a SIGTERM of its own when the parent dies
    however it dies (even by SIGKILL), so that no helper is ever left behind."""
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # the parent died before the prctl
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _child(sender: Connection, function: Callable[..., Any], args: tuple[Any, ...]) -> None:
    _as_child()
    try:
        sender.send((True, function(*args)))
    except BaseException as exc:  # sent back and raised in the parent
        sender.send((False, exc))
    finally:
        sender.close()


def start(function: Callable[..., T], *args: Any) -> Pending[T]:
    """Start `function(*args)` on the other core when that is safe."""
    return Pending(function, args)


class Worker:
    """A long-lived helper on another core that keeps state between calls (laid-out pages, which
    cannot leave the process that made them). `call` sends a method call; `result` waits for it.

    Where forking is unsafe, the handler lives here and each call runs when its result is asked for.
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._handler: Any = None
        self._queued: list[tuple[str, tuple[Any, ...]]] = []
        self._process: Any = None
        self._connection: Connection | None = None
        if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
            context = multiprocessing.get_context("fork")
            self._connection, theirs = context.Pipe()
            self._process = context.Process(target=_serve, args=(theirs, make), daemon=True)
            gc.freeze()  # the child's collector leaves what it inherits alone: no copy-on-write
            try:
                self._process.start()
            finally:
                gc.unfreeze()  # (only here: the child keeps it frozen)
            theirs.close()
        else:
            self._handler = make()

    def call(self, method: str, *args: Any) -> None:
        if self._connection is not None:
            self._connection.send((method, args))
        else:
            self._queued.append((method, args))

    def result(self) -> Any:
        """The value of the oldest call not yet collected (raising what it raised)."""
        if self._connection is None:
            method, args = self._queued.pop(0)
            return getattr(self._handler, method)(*args)
        try:
            ok, value = self._connection.recv()
        except EOFError:
            self.cancel()
            raise RuntimeError("the layout worker stopped unexpectedly") from None
        if ok:
            return value
        raise value

    @property
    def ready(self) -> bool:
        """Whether `result` would return without waiting (a helper running here always would)."""
        return self._connection is None or self._connection.poll()

    def cancel(self) -> None:
        """Stop the helper (at once, whatever it is doing)."""
        if self._process is not None:
            if self._process.is_alive():
                self._process.terminate()
            self._process.join()
            self._process = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._handler = None


def wait(workers: list[Worker]) -> list[Worker]:
    """The workers whose next result is ready, waiting until one is."""
    ready = [w for w in workers if w.ready]
    if ready:
        return ready
    connections = {w._connection: w for w in workers if w._connection is not None}
    return [connections[c] for c in multiprocessing.connection.wait(list(connections))]  # type: ignore[index]


_IN_WORKER = False


def in_worker() -> bool:
    """Whether this process is a forked Worker (short-lived: its memory goes when the build ends)."""
    return _IN_WORKER


def _serve(connection: Connection, make: Callable[[], Any]) -> None:
    global _IN_WORKER
    _IN_WORKER = True
    _as_child()
    handler = make()
    while True:
        try:
            method, args = connection.recv()
        except EOFError:
            return
        try:
            connection.send((True, getattr(handler, method)(*args)))
        except BaseException as exc:  # sent back and raised in the parent
            connection.send((False, exc))
