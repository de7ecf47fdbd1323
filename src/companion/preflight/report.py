"""`companion preflight FILE`: check any built EPUB or PDF (ours or not) before it goes out.

EPUBs: EPUBCheck, DAISY Ace, Kindle-ingestion traps and accessibility metadata (preflight_epub).
PDFs: boxes, fonts, parity, tags and metadata, image resolution, variant, live area (preflight_pdf);
an interior's pages through the layout lint (preflight/layout.py).
Every finding is a Diagnostic; the caller prints them and exits 1 if there is any.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from companion.core import gate
from companion.core.errors import Diagnostic, diagnostic
from companion.preflight.epub import check_epub
from companion.preflight.pdf import check_pdf


@dataclass(frozen=True)
class Report:
    path: Path
    kind: str  # "epub", "pdf" or "unknown"
    findings: tuple[Diagnostic, ...] = ()
    summary: str = ""
    checks: tuple[str, ...] = field(default=())


def kind_of(path: Path) -> str:
    with gate.open_regular(path, None) as handle:
        head = handle.read(1024)
    if head.startswith(b"%PDF-") or b"%PDF-" in head:
        return "pdf"
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                if archive.read("mimetype").strip() == b"application/epub+zip":
                    return "epub"
        except (KeyError, zipfile.BadZipFile, OSError):
            pass
        return "epub" if path.name.lower().endswith(".epub") else "unknown"
    return "unknown"


def preflight(
    path: Path, *, ace: bool = True, any_fonts: bool = False, usage: bool = False, printer: str | None = None
) -> Report:
    """Every finding for the EPUB or PDF at `path`; a PDF is also judged by the `printer`'s rules."""
    if not path.exists():
        return Report(path, "unknown", (diagnostic(path, "P015", "no such file"),))
    try:
        kind = kind_of(path)
    except gate.Refused as exc:
        return Report(path, "unknown", (diagnostic(path, "P015", f"cannot read the file: {exc}"),))
    except OSError as exc:
        return Report(path, "unknown", (diagnostic(path, "P015", f"cannot read the file: {exc.strerror}"),))
    try:
        if kind == "epub":
            checks = ("EPUBCheck", *(("DAISY Ace",) if ace else ()), "Kindle traps", "accessibility metadata")
            return Report(path, kind, tuple(check_epub(path, ace=ace, usage=usage)), "EPUB", checks)
        if kind == "pdf":
            findings, summary = check_pdf(path, any_fonts=any_fonts)
            done: tuple[str, ...] = ("PDF preflight",)
            if summary is not None and not summary.cover:
                from companion.preflight.layout import check_layout

                findings += check_layout(path)
                done += ("layout lint",)
            if printer is not None and summary is not None:
                from companion.preflight.printer import check_printer
                from companion.source.printers import printer as profile

                findings += check_printer(path, profile(printer))
                done += (f"printer: {profile(printer).label}",)
            return Report(path, kind, tuple(findings), str(summary or ""), done)
    except Exception as exc:  # any file at all: pypdf, pdfium, zipfile and lxml fail in many ways
        reason = f"{type(exc).__name__}: {exc}"[:200]
        return Report(path, kind, (diagnostic(path, "P030", f"the {kind.upper()} is malformed ({reason})"),))
    return Report(path, kind, (diagnostic(path, "P015", "not a PDF (%PDF-) or an EPUB (zip with mimetype)"),))
