"""`companion preflight FILE...`: options only; the checks are in preflight.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from companion.cli.errors import handle_errors
from companion.cli.progress import reporter


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path), metavar="FILE...")
@click.option("--no-ace", is_flag=True, help="Skip DAISY Ace (EPUB accessibility) instead of requiring it.")
@click.option("--any-fonts", is_flag=True, help="Accept any embedded font, not only the bundled EB Garamond.")
@click.option("--usage", is_flag=True, help="Also report EPUBCheck's USAGE messages (EPUBCheck -u).")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON on stdout.")
@click.option(
    "--printer",
    type=click.Choice(["default", "kdp", "ingramspark"]),
    default=None,
    help="Also judge PDFs as this print service does (default: KDP and IngramSpark at once).",
)
@handle_errors
def preflight(
    files: tuple[Path, ...], no_ace: bool, any_fonts: bool, usage: bool, as_json: bool, printer: str | None
) -> None:
    """Check built EPUBs and PDFs, ours or not, and list every finding.

    EPUB: EPUBCheck (every message it reports), DAISY Ace (every violation), Kindle-ingestion traps
    (`--` in comments, CSS custom properties, non-core media types, missing language, files over the
    Send-to-Kindle limits) and the EPUB Accessibility metadata.

    PDF: TrimBox and BleedBox on every page, fonts embedded (and only the bundled EB Garamond in files
    companion made), an even page count (not for a one-page cover), tags, language, title, author and
    outline, images at 300 dpi or more as printed, the declared variant's OutputIntent, and no text
    within 0.25 in of the trim.

    With --printer: as that service judges it (page size and boxes, no RGB in a B&W interior, the
    cover's ink coverage through its output profile, CMYK cover, text incl. heads and folios inside
    the live area, hairlines, PDF/X fonts, transparency and annotations, page labels, page count).

    Exits 1 when anything is found, 0 when every file is clean.
    """
    from companion.preflight.report import preflight as run_preflight  # pypdf, pypdfium2: only when needed

    reports = []
    with reporter() as progress:
        for path in files:
            progress(f"preflight {path}")
            reports.append(
                run_preflight(path, ace=not no_ace, any_fonts=any_fonts, usage=usage, printer=printer)
            )
    findings = [d for report in reports for d in report.findings]
    if as_json:
        payload = [
            {
                "file": str(report.path),
                "kind": report.kind,
                "summary": report.summary,
                "findings": [
                    {
                        "path": d.where.path,
                        "line": d.where.line,
                        "col": d.where.col,
                        "severity": d.severity,
                        "code": d.code,
                        "message": d.message,
                    }
                    for d in report.findings
                ],
            }
            for report in reports
        ]
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    else:
        for report in reports:
            for item in report.findings:
                click.echo(item.format(), err=True)
            if not report.findings:
                checked = f"; {', '.join(report.checks)}" if report.checks else ""
                click.echo(f"{report.path}: ok ({report.summary}{checked})")
        if findings:
            count = len(findings)
            click.echo(f"{count} finding{'s' if count != 1 else ''}.", err=True)
    if findings:
        sys.exit(1)
