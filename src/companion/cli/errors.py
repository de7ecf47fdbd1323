"""How a command ends: diagnostics on stderr and exit 1, a bug as one line and exit 70 (a traceback
only with --debug), SIGTERM and SIGHUP as Ctrl-C. Every command module imports `handle_errors` from
here, and this module imports nothing of the commands (Sphinx's _cli/util/errors.py)."""

from __future__ import annotations

import errno
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

import click

from companion.core import parallel
from companion.core.errors import CompanionError, diagnostic

EXIT_BUG = 70


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that the same clean-up runs (workers are cancelled)."""

    def __init__(self, number: int) -> None:
        super().__init__(signal.Signals(number).name)
        self.number = number


def _stop(number: int, _frame: Any) -> None:
    raise Stopped(number)


@contextmanager
def _stoppable() -> Iterator[None]:
    """SIGTERM and SIGHUP end the command as Ctrl-C does, for its duration (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {number: signal.signal(number, _stop) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print diagnostics (exit 1) or, for a bug, one line (exit 70); a traceback only with --debug."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            with _stoppable():
                return command(*args, **kwargs)
        except Stopped as exc:
            parallel.stop()
            sys.exit(128 + exc.number)
        except CompanionError as exc:
            _report(exc)
        except KeyboardInterrupt:
            parallel.stop()
            raise
        except (click.ClickException, click.exceptions.Exit):
            raise
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG and exc.filename:
                # a path on the command line (or below it) longer than the system allows: the input's fault
                _report(
                    CompanionError(
                        [diagnostic(str(exc.filename), "C006", f"cannot read file: {exc.strerror}")]
                    )
                )
            if debug:
                traceback.print_exc()
            click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
            click.echo("    hint: this is a bug in companion; run again with --debug for details", err=True)
            sys.exit(EXIT_BUG)

    return wrapper


def _report(exc: CompanionError) -> None:
    """The diagnostics, one line each, and the exit code (1 for problems in the input)."""
    for item in exc.diagnostics:
        click.echo(item.format(), err=True)
    errors = sum(1 for d in exc.diagnostics if d.severity == "error")
    if click.get_current_context().info_name in {"build", "check", "new"}:
        click.echo(f"{errors} error{'s' if errors != 1 else ''}; nothing was written.", err=True)
    sys.exit(exc.exit_code)
