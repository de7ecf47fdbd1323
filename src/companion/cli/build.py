"""`companion build`, `check` and `codes`. The pipeline is imported inside each command's body, so
that `check` and `codes` start without WeasyPrint, pikepdf or ebooklib."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from companion.cli.errors import handle_errors
from companion.cli.progress import reporter
from companion.core.codes import codes_table
from companion.render.edition import LAYOUTS, Edition
from companion.source import gating


@click.command()
@click.argument("source", type=click.Path(path_type=Path), default=Path("source"))
@click.option(
    "--format",
    "formats",
    default="all",
    show_default=True,
    help="Comma-separated outputs: epub, kepub, pdf, cover, or all (those four); read-along (the "
    "narrated EPUB and the .m4b audiobook), kit (the host's kit: host guide, handouts, question "
    "cards) and web (the static site in DIR/web/) only when named.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("dist"),
    show_default=True,
    help="Folder for the outputs.",
)
@click.option(
    "--through",
    metavar="STAGE",
    default=None,
    help="Build the edition for readers who have read the novel through STAGE: `start` (nothing yet: "
    "<slug>-spoiler-free.*) or a part's id from novel.parts (<slug>-through-<part>.*).",
)
@click.option("--no-spoilers", is_flag=True, help="The spoiler-free edition: the same as --through start.")
@click.option(
    "--edition",
    "layout",
    type=click.Choice(sorted(LAYOUTS)),
    default="standard",
    show_default=True,
    help="The layout: standard, or large-print (<slug>-large-print.*: clear-print type on a 7 x 10 in page).",
)
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
@handle_errors
def build(
    source: Path,
    formats: str,
    out_dir: Path,
    through: str | None,
    no_spoilers: bool,
    layout: str,
    page_list: bool,
    marks: bool,
    pdf_variant: str | None,
    printer: str | None,
) -> None:
    """Build the companion in SOURCE (default source/) into DIR (default dist/)."""
    from companion.core import parallel

    parallel.warm()  # the fork server imports WeasyPrint on the other core while this process does
    from companion import pipeline

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
    if no_spoilers and through not in {None, gating.START}:
        raise click.BadParameter(f"--no-spoilers is --through start, not {through}", param_hint="--through")
    project = pipeline.Project.at(source)
    with reporter(sys.stderr.isatty()) as progress:
        result = pipeline.build(
            project,
            wanted,
            Edition(through=gating.START if no_spoilers else through, layout=layout),
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


@click.command()
def codes() -> None:
    """List every diagnostic code with its severity, meaning and hint (Markdown)."""
    click.echo(codes_table(), nl=False)


@click.command()
@click.argument("source", type=click.Path(path_type=Path), default=Path("source"))
@handle_errors
def check(source: Path) -> None:
    """Validate the source in SOURCE without writing anything."""
    from companion import pipeline

    validated = pipeline.check(pipeline.Project.at(source))
    for warning in validated.warnings:
        click.echo(warning.format(), err=True)
    click.echo(f"{source}: ok")
