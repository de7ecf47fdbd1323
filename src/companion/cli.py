"""The command line: options only. Each command calls the pipeline and turns errors into exit codes."""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import __version__, pipeline
from .codes import codes_table
from .errors import CompanionError
from .progress import reporter
from .render import Edition

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


def _handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print diagnostics (exit 1) or, for a bug, one line (exit 70); a traceback only with --debug."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            with _stoppable():
                return command(*args, **kwargs)
        except Stopped as exc:
            sys.exit(128 + exc.number)
        except CompanionError as exc:
            for item in exc.diagnostics:
                click.echo(item.format(), err=True)
            errors = sum(1 for d in exc.diagnostics if d.severity == "error")
            if click.get_current_context().info_name in {"build", "check", "new"}:
                click.echo(f"{errors} error{'s' if errors != 1 else ''}; nothing was written.", err=True)
            sys.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"internal error: {type(exc).__name__}: {exc}", err=True)
            click.echo("    hint: this is a bug in companion; run again with --debug for details", err=True)
            sys.exit(EXIT_BUG)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="companion")
@click.option("--debug", is_flag=True, help="Show a Python traceback for internal errors.")
def main(debug: bool) -> None:
    """Build a reader's companion as an EPUB 3 and a print-ready PDF from structured source files."""


@main.command()
@click.argument("source", type=click.Path(path_type=Path), default=Path("source"))
@click.option(
    "--format",
    "formats",
    default="all",
    show_default=True,
    help="Comma-separated outputs: epub, kepub, pdf, cover, or all (those four); read-along (the "
    "narrated EPUB and the .m4b audiobook) and web (the static site in DIR/web/) only when named.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("dist"),
    show_default=True,
    help="Folder for the outputs.",
)
@click.option("--no-spoilers", is_flag=True, help="Build the spoiler-free edition (<slug>-spoiler-free.*).")
@click.option(
    "--page-list/--no-page-list",
    default=True,
    show_default=True,
    help="Give the EPUB the print edition's page numbers (lays out the print interior, or reuses the "
    "cached layout). --no-page-list is faster for drafts.",
)
@click.option("--marks", is_flag=True, help="Add crop marks to the print interior.")
@click.option(
    "--pdf-variant",
    type=click.Choice(["pdf/ua-1", "pdf/x-1a", "pdf/x-3", "pdf/x-4", "pdf/a-3b", "tagged"]),
    default="pdf/ua-1",
    show_default=True,
    help="The PDF variant: PDF/UA-1 (tagged, accessible; the interior's default), PDF/X-1a, X-3 or X-4 "
    "for printers that ask for it (interior and cover), PDF/A-3b for archiving, or a plain tagged PDF 1.7. "
    "The cover is a PDF/X always when the printer asks for one (PDF/X-1a by default).",
)
@click.option(
    "--printer",
    type=click.Choice(["default", "kdp", "ingramspark"]),
    default=None,
    help="The print-on-demand service to build for (overrides print.printer in book.yaml); "
    "default: both KDP and IngramSpark.",
)
@_handle_errors
def build(
    source: Path,
    formats: str,
    out_dir: Path,
    no_spoilers: bool,
    page_list: bool,
    marks: bool,
    pdf_variant: str | None,
    printer: str | None,
) -> None:
    """Build the companion in SOURCE (default source/) into DIR (default dist/)."""
    wanted = (
        pipeline.FORMATS if formats == "all" else tuple(f.strip() for f in formats.split(",") if f.strip())
    )
    unknown = [f for f in wanted if f not in pipeline.FORMATS + pipeline.EXTRA_FORMATS]
    if unknown or not wanted:
        raise click.BadParameter(
            f"unknown format {', '.join(unknown) or formats!r}; "
            f"choose from {', '.join(pipeline.FORMATS + pipeline.EXTRA_FORMATS)} or all",
            param_hint="--format",
        )
    project = pipeline.Project.at(source)
    with reporter(sys.stderr.isatty()) as progress:
        result = pipeline.build(
            project,
            wanted,
            Edition(spoilers=not no_spoilers),
            marks=marks,
            variant=None if pdf_variant == "tagged" else pdf_variant,
            page_list=page_list,
            progress=progress,
            printer=printer,
        )
    for warning in result.warnings:
        click.echo(warning.format(), err=True)
    for note in result.notes:
        click.echo(note, err=True)
    for path in pipeline.write(result, out_dir, warn=lambda d: click.echo(d.format(), err=True)):
        click.echo(str(path))


@main.command()
def codes() -> None:
    """List every diagnostic code with its severity, meaning and hint (Markdown)."""
    click.echo(codes_table(), nl=False)


@main.command()
@click.argument("source", type=click.Path(path_type=Path), default=Path("source"))
@_handle_errors
def check(source: Path) -> None:
    """Validate the source in SOURCE without writing anything."""
    validated = pipeline.check(pipeline.Project.at(source))
    for warning in validated.warnings:
        click.echo(warning.format(), err=True)
    click.echo(f"{source}: ok")


from .commands_dist import push, send, serve  # noqa: E402

main.add_command(send)
main.add_command(serve)
main.add_command(push)

from .commands_author import new, preview  # noqa: E402

main.add_command(new)
main.add_command(preview)

from .commands_check import preflight  # noqa: E402

main.add_command(preflight)
