"""Use the other core: child processes for slow, independent work while the build goes on.

`start` runs one step (the front cover) and hands back its result; a `Worker` is a long-lived child
that keeps state between calls (the print interior's laid-out parts, see printing/job.py).

The children come from a fork server (multiprocessing's "forkserver"): a fresh interpreter, started
once per process, that has imported WeasyPrint and never laid anything out, forks each child. They are
never forked from the build itself, because the build is not a single-threaded process as far as
the C libraries are concerned: Pango 1.52 and later (Debian 13 has 1.56) starts a "[pango]
fontconfig" thread for every font map, and a child forked from a process with that thread waits
forever on a condition only the missing thread would signal (reproduced on Debian 13: the first
layout in a forked child hangs in pango_layout_get_line_readonly). Python 3.14 made the fork server
Linux's default for the same reason. A child therefore gets everything by value: the function and
its arguments are pickled, and it is given the build's environment and working folder.

Where no fork server exists (Windows), the work runs inline, when its result is asked for.
A build that stops early (bad input) cancels the children; nothing is left running.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_PRELOAD = ["companion.printing.interior", "companion.steps"]
"""What the fork server imports before it forks anyone (WeasyPrint among them), so that no child
imports it again: each child starts in milliseconds."""


_HERE = threading.local()


@contextlib.contextmanager
def in_this_process() -> Iterator[None]:
    """Within this, the work runs inline in this thread (where a profiler or a test can watch it)."""
    _HERE.inline = True
    try:
        yield
    finally:
        _HERE.inline = False


def _context() -> Any:
    """The fork server's context, or None where there is none (or the work is to stay here)."""
    if getattr(_HERE, "inline", False) or "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def warm() -> None:
    """Start the fork server now (it imports its modules while the build loads and renders), so the
    first child is quick when it is wanted. Does nothing where there is no fork server."""
    if _context() is not None:
        from multiprocessing import forkserver

        with _STARTING, _main_kept_out():
            forkserver.ensure_running()


def stop() -> None:
    """End the fork server now, as the build stops on a signal or Ctrl-C (the workers are cancelled
    already). Left alone it would go only once it noticed that the build had gone, which it cannot
    while it is still importing; its children would go with it (they get SIGTERM when it ends)."""
    if _context() is None:
        return
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver  # type: ignore[attr-defined]
    pid = getattr(server, "_forkserver_pid", None)
    if pid:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            server._stop()


@contextlib.contextmanager
def _main_kept_out() -> Iterator[None]:
    """While a child is started: multiprocessing would have the child run the build's main script
    again (to find what it defines); nothing we send is defined there, and a script that calls
    `pipeline.build` at its top level would start building again in every child. So the child is
    not told where the main module came from."""
    main = sys.modules.get("__main__")
    saved = {k: main.__dict__.pop(k) for k in ("__file__",) if main is not None and k in main.__dict__}
    spec = getattr(main, "__spec__", None)
    if main is not None and spec is not None:
        main.__spec__ = None
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)
            if spec is not None:
                main.__spec__ = spec


_STARTING = threading.Lock()
"""One child is started at a time (`_main_kept_out` changes the main module while it starts)."""


def _start(process: Any) -> None:
    with _STARTING, _main_kept_out():
        process.start()


def _settings() -> tuple[dict[str, str], str]:
    """What a child must share with the build (the fork server was started earlier, maybe elsewhere)."""
    return dict(os.environ), os.getcwd()


class Pending(Generic[T]):
    """The result of `function(*args)`, computed in a child process or, failing that, on demand."""

    def __init__(self, function: Callable[..., T], args: tuple[Any, ...]) -> None:
        self._function, self._args = function, args
        self._process: Any = None
        self._receiver: Connection | None = None
        self._starting: threading.Thread | None = None
        self._started = False
        context = _context()
        if context is not None:
            self._receiver, sender = context.Pipe(duplex=False)
            target_args = (sender, _settings(), function, args)
            self._process = context.Process(target=_child, args=target_args, daemon=True)
            # Started from a thread: the first child waits for the fork server's imports (about
            # 0.6 s), which the build need not wait for.
            self._starting = threading.Thread(target=self._start, args=(sender,), daemon=True)
            self._starting.start()

    def _start(self, sender: Connection) -> None:
        try:
            _start(self._process)
            self._started = True
        finally:
            sender.close()  # (if the start failed, the receiver sees the end and the work runs here)

    def _wait_started(self) -> None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None

    def result(self) -> T:
        """Wait for the child (or run inline) and return the value, or raise what the function raised."""
        self._wait_started()
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
        self._wait_started()
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
        self._close()

    def _close(self) -> None:
        if self._process is not None:
            if self._started:
                self._process.join()
            self._process = None
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None


def _as_child(settings: tuple[dict[str, str], str]) -> None:
    """In a child: the build's environment and folder; the default signal dispositions (a child must
    not turn SIGTERM into an exception); and on Linux, a SIGTERM of its own when the fork server goes,
    which it does as soon as the build's process ends however it ends (even by SIGKILL), so that no
    helper is ever left behind."""
    environment, folder = settings
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(folder)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is not None and not parent.is_alive():  # the build ended before the prctl
        os._exit(1)


_PR_SET_PDEATHSIG = 1


def _child(
    sender: Connection,
    settings: tuple[dict[str, str], str],
    function: Callable[..., Any],
    args: tuple[Any, ...],
) -> None:
    _as_child(settings)
    try:
        sender.send((True, function(*args)))
    except BaseException as exc:  # sent back and raised in the parent
        sender.send((False, exc))
    finally:
        sender.close()


def start(function: Callable[..., T], *args: Any) -> Pending[T]:
    """Start `function(*args)` on the other core (both must pickle: a top-level function)."""
    return Pending(function, args)


class Worker:
    """A long-lived helper on another core that keeps state between calls (laid-out pages, which
    cannot leave the process that made them). `call` sends a method call; `result` waits for it.
    `make` (which must pickle) makes the handler in the child.

    Its temporary files (WeasyPrint's copies of the fonts) go in a folder of its own, which is
    removed with it even when it is stopped mid-work.

    Where there is no fork server, the handler lives here and each call runs when its result is
    asked for.
    """

    def __init__(self, make: Callable[[], Any]) -> None:
        self._handler: Any = None
        self._queued: list[tuple[str, tuple[Any, ...]]] = []
        self._process: Any = None
        self._connection: Connection | None = None
        self._scratch: str | None = None
        context = _context()
        if context is not None:
            self._connection, theirs = context.Pipe()
            self._scratch = tempfile.mkdtemp(prefix="companion-worker-")
            target_args = (theirs, _settings(), self._scratch, make)
            self._process = context.Process(target=_serve, args=target_args, daemon=True)
            _start(self._process)
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
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
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
    """Whether this process is a Worker (short-lived: its memory goes when the build ends)."""
    return _IN_WORKER


def _serve(
    connection: Connection, settings: tuple[dict[str, str], str], scratch: str, make: Callable[[], Any]
) -> None:
    global _IN_WORKER
    _IN_WORKER = True
    _as_child(settings)
    tempfile.tempdir = scratch  # removed by the parent with the worker
    handler, failure = None, None
    try:
        handler = make()
    except BaseException as exc:  # every call answers with it: raised in the parent
        failure = exc
    while True:
        try:
            method, args = connection.recv()
        except EOFError:
            return
        try:
            if failure is not None:
                raise failure
            connection.send((True, getattr(handler, method)(*args)))
        except BaseException as exc:  # sent back and raised in the parent
            connection.send((False, exc))
