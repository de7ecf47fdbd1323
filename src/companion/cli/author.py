"""Authoring commands: `companion new` (scaffold a project) and `companion preview` (live HTML preview).
Options only; the work is in scaffold.py and preview.py."""

from __future__ import annotations

from pathlib import Path

import click

from companion.author import scaffold
from companion.cli.errors import handle_errors
from companion.render.edition import Edition
from companion.source import gating


@click.command()
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False), metavar="DIR")
@click.option(
    "--title",
    default="Your Novel",
    show_default=True,
    help="The companion's title (also the novel's, until you change it); the slug comes from it.",
)
@click.option("--author", default="Your Name", show_default=True, help="The companion's author.")
@handle_errors
def new(folder: Path, title: str, author: str) -> None:
    """Start a new companion project in DIR (a new or empty folder).

    DIR gets source/ with one example of every content kind (book.yaml, about.yaml, reviews,
    quotes, FAQ, characters, themes, questions, glossary, timeline and two chapters), styles/ with
    the bundled fonts, a Makefile and a README. It builds as is: `cd DIR && make all`.
    book.yaml gets the title, the author, a slug from the title, a fresh urn:uuid identifier and
    today's date.
    """
    made = scaffold.new_project(folder, title=title, author=author)
    click.echo(f"created {made.root} ({len(made.files)} files; outputs will be named {made.slug}.*)")
    click.echo(f"next: cd {made.root} && companion preview   (or: make all)")


@click.command()
@click.argument("source", type=click.Path(path_type=Path), default=Path("source"))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port on 127.0.0.1 to listen on; 0 picks a free one.",
)
@click.option("--no-spoilers", is_flag=True, help="Preview the spoiler-free edition.")
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
@handle_errors
def preview(source: Path, port: int, no_spoilers: bool, verbose: bool) -> None:
    """Serve SOURCE (default source/) as live-reloading HTML on 127.0.0.1.

    The pages come from the same templates and stylesheets as the EPUB (styles/ beside SOURCE).
    Every save under SOURCE or styles/ reloads the open page within a second; while the source has
    problems the page lists each of them with its file and line, and the next good save brings
    the companion back. Ctrl-C stops.
    """
    from companion.author import preview as previewing  # WeasyPrint and the watcher load only for a preview

    previewing.serve(
        source,
        port,
        edition=Edition(through=gating.START if no_spoilers else None),
        verbose=verbose,
        announce=click.echo,
        warn=lambda text: click.echo(text, err=True),
    )
