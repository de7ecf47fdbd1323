"""The command line: options only. Each command lives in a module of this package by what it is for
(build, author, check, dist), and imports the stages it runs inside its body."""

from __future__ import annotations

import click

from companion import __version__
from companion.cli.author import new, preview
from companion.cli.build import build, check, codes
from companion.cli.dist import push, send, serve
from companion.cli.preflight import preflight


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="companion")
@click.option("--debug", is_flag=True, help="Show a Python traceback for internal errors.")
def main(debug: bool) -> None:
    """Build a reader's companion as an EPUB 3 and a print-ready PDF from structured source files."""


for command in (build, check, codes, send, serve, push, new, preview, preflight):
    main.add_command(command)
