"""build(project, formats) -> BuildResult: load -> validate -> render -> lay out -> package; then write.

The composition root: `build()` lists the stages in order and nothing else. Each stage is a pure
function in its package; the cache, the child processes and their cancelling are one layer around
them (steps.py); what to build is one table (outputs.py). Everything is computed in memory first;
`write()` is the only step that touches dist/.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from companion.core import parallel
from companion.core.cache import Cache, memos
from companion.core.errors import CompanionError, Diagnostic, diagnostic
from companion.core.write import write_atomic, write_tree
from companion.deliver import opds
from companion.epub import kepub
from companion.epub import package as epub
from companion.epub.pagemap import page_map
from companion.outputs import (
    DEFAULT_VARIANT,
    EXTRA_FORMATS,
    FORMATS,
    FULL_EDITION,
    BuildResult,
    Output,
    Project,
    Request,
)
from companion.printing import kit
from companion.printing.layout import print_warnings
from companion.readalong import build as readalong
from companion.render.edition import Edition
from companion.render.render import print_document
from companion.source import printers
from companion.source.fonts import INTERIOR_SHEETS
from companion.source.load import load, load_book
from companion.source.validate import Validated, validate
from companion.steps import Steps

__all__ = ["EXTRA_FORMATS", "FULL_EDITION", "BuildResult", "Output", "Project", "build", "check", "write"]

Progress = Callable[[str], None]
NO_ISBN = (
    "note: no `isbn` in book.yaml: the barcode area on the back cover is left clear "
    "(KDP and IngramSpark can place their own barcode there)"
)


def check(project: Project, *, save_memos: bool = False) -> Validated:
    """Load and validate only; remembered parses from earlier builds are used, and saved only when
    `save_memos` (a build) asks for it, so that `companion check` writes nothing."""
    with memos(Cache.for_project(project.source.parent), save=save_memos):
        return validate(load(project.source), project.styles)


def build(
    project: Project,
    formats: tuple[str, ...] = FORMATS,
    edition: Edition = FULL_EDITION,
    *,
    marks: bool = False,
    variant: str | None = DEFAULT_VARIANT,
    page_list: bool = True,
    progress: Progress = lambda _stage: None,
    printer: str | None = None,
) -> BuildResult:
    """Every requested output, in memory. `printer` overrides book.yaml's `print.printer`."""
    layout = edition.look  # the edition's layout: its style sheet layer and its print settings
    layout.require(project.styles)
    with Steps(project, progress) as steps:
        progress("load")
        asked = Request(frozenset(formats), page_list=page_list)
        if asked.needs_print or asked.needs_front_cover:
            parallel.warm()  # the fork server starts its imports now, on the other core
        if asked.needs_front_cover:  # starts before validation, on the other core
            early = layout.book(load_book(project.source))
            with contextlib.suppress(CompanionError):  # an unknown stage is reported after validation
                steps.start_front_cover(early, edition.bind(early) if early is not None else edition)
        validated = layout.apply(printers.for_printer(check(project, save_memos=True), printer))
        book = validated.companion.book
        edition = edition.bind(book)  # the stage found among the novel's parts (C084 when it is not)
        request = Request(frozenset(formats), edition, marks, variant, page_list, printer)
        if request.needs_front_cover:  # drawn again if book.yaml changed meanwhile
            steps.start_front_cover(book, edition)
        if request.wants("read-along"):
            readalong.require(validated.companion)  # before any work: the voice can speak here

        printed = interior = None
        if request.needs_print:  # the interior is laid out (or cached) when only the EPUB is wanted, too
            printed = steps.render(
                validated, edition, "print", {a.src: a.path.as_uri() for a in validated.assets}
            )
            steps.front_cover(stage=False)  # its child is collected before the layout's workers start
            html = print_document(printed)
            sheets = layout.sheets(INTERIOR_SHEETS)
            interior = steps.lay_out(validated, html, marks=marks, variant=variant, sheets=sheets)

        outputs: list[Output] = []
        rendered = pages = None
        if request.needs_epub:
            pages = page_map(printed, interior.plan) if printed is not None and interior is not None else None
            images = {a.src: a.src for a in validated.assets} | {"@cover": "cover/cover.jpg"}
            breaks = pages.breaks if pages else None
            rendered = steps.render(
                validated, edition, "epub", images, stylesheets=epub.STYLESHEETS, page_breaks=breaks
            )
        front = steps.front_cover()  # drawn on the other core meanwhile

        if request.wants("cover") and interior is not None:
            cover_variant = printers.cover_variant(variant, validated, DEFAULT_VARIANT)
            wrap = steps.wrap_cover(validated, edition, interior.plan, cover_variant)
            outputs += request.outputs("cover", book.slug, wrap, front)
        read_along = None
        data = b""
        if rendered is not None:
            progress("package EPUB")
            resources = steps.epub_resources(rendered, validated, front)
            modified = epub.modified_time(validated)
            data = epub.package(
                rendered, resources, modified=modified, page_list=pages.page_list if pages else ()
            )
            outputs += request.outputs("epub", book.slug, data)
            if request.wants("kepub"):
                outputs += request.outputs("kepub", book.slug, kepub.kepubify(data))
            if request.wants("read-along"):
                bar = getattr(progress, "bar", None)
                read_along = readalong.build(
                    data, validated.companion, steps.cache, progress=progress, count=bar
                )
                outputs += request.outputs("read-along", book.slug, read_along.epub, read_along.m4b)

        if request.wants("kit"):  # its files follow meetings.yaml (kit.py names them)
            progress("host's kit")
            outputs += [Output(name, data) for name, data in kit.build(validated, project.styles)]

        warnings = validated.warnings
        pdf = b""
        if interior is not None:
            progress("write PDF")
            pdf = interior.pdf()  # written on the other cores meanwhile; cached even when not wanted
            outputs = request.outputs("pdf", book.slug, pdf) + outputs
            assets = {a.path.as_uri(): a.src for a in validated.assets}
            warnings += print_warnings(interior.plan, assets, book.slug + edition.suffix)
        if request.wants("web") and data:
            progress("web edition")
            web = steps.web_site(validated, edition, pages, front, book.slug + edition.suffix, data, pdf)
            outputs += [Output(f"{WEB}/{name}", content) for name, content in web.files.items()]
            warnings += web.warnings
        steps.prune()
    notes = (NO_ISBN,) if request.wants("cover") and book.isbn is None else ()
    if read_along is not None:
        warnings += read_along.warnings
    page_count = interior.plan.page_count if interior is not None else 0
    return BuildResult(tuple(outputs), warnings, page_count, notes, read_along.stats if read_along else None)


WEB = "web"
"""The web edition's folder in dist/: its files are written together (`write_tree`)."""


def write(
    result: BuildResult, out_dir: Path, warn: Callable[[Diagnostic], None] = lambda _d: None
) -> list[Path]:
    """Write every output atomically, then the folder's OPDS catalog; the only step that writes.
    Someone else's file in the folder that the catalog cannot use is skipped, with a warning."""
    written = []
    skipped: list[Path] = []
    web = {o.name.removeprefix(f"{WEB}/"): o.data for o in result.outputs if o.name.startswith(f"{WEB}/")}
    try:
        for output in result.outputs:
            if output.name.startswith(f"{WEB}/"):
                continue
            path = out_dir / output.name
            write_atomic(path, output.data)
            written.append(path)
        if web:  # the whole folder at once; the downloads get their own OPDS catalogs
            write_tree(out_dir / WEB, web, lambda folder: opds.write_catalog(folder / "downloads"))
            written.append(out_dir / WEB)
        if any(o.name.endswith(".epub") and not o.name.startswith(f"{WEB}/") for o in result.outputs):
            written += opds.write_catalog(out_dir, skipped)
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) else str(out_dir)
        if ".tmp" in Path(where).name and exc.filename2:  # the rename: the output's own name is at fault
            where = str(exc.filename2)
        raise CompanionError(
            [diagnostic(where, "C044", f"cannot write the output: {exc.strerror or exc}")]
        ) from None
    for path in skipped:
        warn(opds.skipped_warning(path))
    return written
