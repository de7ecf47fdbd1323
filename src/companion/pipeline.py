"""build(project, formats) -> BuildResult: load -> validate -> render -> package; then write.

Everything is computed in memory first; `write()` is the only step that touches dist/.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import epub, kepub, opds, printers, readalong, web
from .cache import Cache, memos
from .errors import CompanionError, Diagnostic, Location, diagnostic
from .layout import PrintLayout
from .load import load, load_book
from .pagemap import PageMap, page_map
from .render import Edition, print_document, render
from .steps import _front_cover, _print_layout, _subsetter, _wrap_cover
from .validate import Validated, validate
from .write import write_atomic, write_tree

if TYPE_CHECKING:
    pass

FORMATS = ("epub", "kepub", "pdf", "cover")
"""What `--format all` (and `make all`) builds."""
EXTRA_FORMATS = ("read-along", "web")
"""Built only when asked for: the read-along EPUB and the audiobook synthesize speech; the web
edition (dist/web/) is a folder of its own."""
FULL_EDITION = Edition()
DEFAULT_VARIANT = "pdf/ua-1"
"""Tagged, with the XMP title and PDF/UA identification accessibility checkers look for."""
Progress = Callable[[str], None]
NO_ISBN = (
    "note: no `isbn` in book.yaml: the barcode area on the back cover is left clear "
    "(KDP and IngramSpark can place their own barcode there)"
)


@dataclass(frozen=True)
class Project:
    source: Path
    styles: Path

    @classmethod
    def at(cls, source: Path, styles: Path | None = None) -> Project:
        """The project whose source folder is `source`; styles/ beside it by default."""
        source = source.resolve() if source.exists() else source
        return cls(source, (styles or source.parent / "styles").resolve())


@dataclass(frozen=True)
class Output:
    name: str
    data: bytes


@dataclass(frozen=True)
class BuildResult:
    outputs: tuple[Output, ...]
    warnings: tuple[Diagnostic, ...]
    page_count: int = 0
    notes: tuple[str, ...] = ()
    """What the build wants the author to know that is not a problem (printed on stderr)."""
    narration: readalong.narration.Stats | None = None


def check(project: Project, *, save_memos: bool = False) -> Validated:
    """Load and validate only; remembered parses from earlier builds are used, and saved only when
    `save_memos` (a build) asks for it, so that `companion check` writes nothing."""
    with memos(Cache.for_project(project.source.parent), save=save_memos):
        return validate(load(project.source), project.styles)


def modified_time(validated: Validated) -> dt.datetime:
    """dcterms:modified: SOURCE_DATE_EPOCH when set, else the book's modified (or published) date."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch:
        try:
            if not (epoch.isascii() and epoch.isdigit()):
                raise ValueError(epoch)
            return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).replace(tzinfo=None)
        except (ValueError, OverflowError, OSError):
            shown = epoch if len(epoch) <= 40 else epoch[:39] + "…"
            raise CompanionError(
                [diagnostic("SOURCE_DATE_EPOCH", "C045", f"`{shown}` is not a time companion can use")]
            ) from None
    book = validated.companion.book
    day = book.modified or book.published
    return dt.datetime(day.year, day.month, day.day)


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
    """Every requested output, in memory. The EPUB's print page list needs the print layout, so it is
    laid out (or taken from the cache) whenever an EPUB is wanted, unless `page_list` is off.
    `printer` overrides book.yaml's `print.printer` (printers.py)."""
    progress("load")
    cache = Cache.for_project(project.source.parent)
    early = load_book(project.source) if {"epub", "kepub", "cover", "read-along", "web"} & set(formats) else None
    front_cover = _front_cover(project, cache, early, edition) if early is not None else None
    with contextlib.ExitStack() as stack:  # a build that stops early leaves no child process behind
        if front_cover is not None:
            stack.callback(front_cover.cancel)
        validated = printers.for_printer(check(project, save_memos=True), printer)
        if front_cover is not None and early != validated.companion.book:  # book.yaml changed meanwhile
            front_cover.cancel()
            front_cover = _front_cover(project, cache, validated.companion.book, edition)
            stack.callback(front_cover.cancel)
        slug = validated.companion.book.slug + edition.suffix
        wanted = set(formats)
        if "read-along" in wanted:
            readalong.require(validated.companion)  # before any work: the voice can speak here
        item = getattr(progress, "item", None)
        outputs: list[Output] = []
        printed = layout = interior = None
        ebooks = {"epub", "kepub", "read-along", "web"} & wanted  # the site offers the EPUB
        if {"pdf", "cover", "web"} & wanted or (ebooks and page_list):
            progress("render print")
            print_images = {a.src: a.path.as_uri() for a in validated.assets}
            printed = render(validated, edition, "print", print_images, progress=item, cache=cache)
            if front_cover is not None:  # collected now, so that its process is gone before the layout's
                front_cover.result()
            progress("lay out PDF")
            interior = _print_layout(
                project, cache, validated, print_document(printed), marks=marks, variant=variant
            )
            stack.callback(interior.cancel)
            layout = interior.plan
        rendered = pages = None
        epub_data = pdf_data = b""
        web_warnings: tuple[Diagnostic, ...] = ()
        if ebooks:
            progress("render EPUB")
            pages = page_map(printed, layout) if printed is not None and layout is not None else None
            images = {a.src: a.src for a in validated.assets} | {"@cover": "cover/cover.jpg"}
            rendered = render(
                validated,
                edition,
                "epub",
                images,
                stylesheets=epub.STYLESHEETS,
                page_breaks=pages.breaks if pages else None,
                progress=item,
                cache=cache,
            )
        front = b""
        read_along = None
        if front_cover is not None:
            progress("cover")
            front = front_cover.result()  # drawn on the other core meanwhile
        if "cover" in wanted and layout is not None:
            cover_variant = printers.cover_variant(variant, validated, DEFAULT_VARIANT)
            wrap = _wrap_cover(project, cache, validated, edition, layout, cover_variant)
            outputs.append(Output(f"{slug}-cover.pdf", wrap))
            outputs.append(Output(f"{slug}-cover.jpg", front))
        if rendered is not None:
            resources = [
                epub.Resource("cover/cover.jpg", "image/jpeg", front, ("cover-image",)),
                *epub.styles_resources(project.styles, epub.used_text(rendered), _subsetter(cache)),
                *(epub.Resource(a.src, a.media_type, a.data) for a in validated.assets),
            ]
            progress("package EPUB")
            data = epub.package(
                rendered,
                resources,
                modified=modified_time(validated),
                page_list=pages.page_list if pages else (),
            )
            epub_data = data
            if "epub" in wanted:
                outputs.append(Output(f"{slug}.epub", data))
            if "kepub" in wanted:
                outputs.append(Output(f"{slug}.kepub.epub", kepub.kepubify(data)))
            if "read-along" in wanted:
                narrated = readalong.build(
                    data, validated.companion, cache, progress=progress, count=getattr(progress, "bar", None)
                )
                outputs += [
                    Output(f"{slug}-read-along.epub", narrated.epub),
                    Output(f"{slug}.m4b", narrated.m4b),
                ]
                read_along = narrated
        if interior is not None:
            progress("write PDF")
            pdf_data = interior.pdf()  # written on the other core meanwhile; cached even when not wanted
            if "pdf" in wanted:
                outputs.insert(0, Output(f"{slug}.pdf", pdf_data))
        if "web" in wanted:
            progress("web edition")
            site = _web(project, cache, validated, edition, pages, front, slug, epub_data, pdf_data)
            outputs += [Output(f"{WEB}/{name}", site_data) for name, site_data in site.files.items()]
            web_warnings = site.warnings
        cache.prune()
        warnings = validated.warnings + (_print_warnings(validated, layout, slug) if layout else ())
        notes = (NO_ISBN,) if "cover" in wanted and validated.companion.book.isbn is None else ()
        if read_along is not None:
            warnings += read_along.warnings
        warnings += web_warnings
        return BuildResult(
            tuple(outputs),
            warnings,
            layout.page_count if layout else 0,
            notes,
            read_along.stats if read_along is not None else None,
        )


WEB = "web"
"""The web edition's folder in dist/."""


def _web(
    project: Project,
    cache: Cache,
    validated: Validated,
    edition: Edition,
    pages: PageMap | None,
    front: bytes,
    slug: str,
    epub_data: bytes,
    pdf_data: bytes,
) -> web.Site:
    downloads = [
        (f"{slug}.epub", "EPUB, for most e-readers and apps", epub_data),
        (f"{slug}.kepub.epub", "Kobo EPUB (kepub)", kepub.kepubify(epub_data)),
        (f"{slug}.pdf", "PDF, the print edition", pdf_data),
        (f"{slug}-cover.jpg", "", front),  # for the catalogs' cover and thumbnail; not listed
    ]
    return web.build(
        validated,
        edition,
        pages,
        front,
        lambda text: epub.styles_resources(project.styles, text, _subsetter(cache)),
        downloads,
        cache,
    )


MIN_DPI = 300


def _print_warnings(validated: Validated, layout: PrintLayout, slug: str) -> tuple[Diagnostic, ...]:
    """Images below 300 dpi at their printed size, and lines that run past their measure."""
    found = []
    paths = {a.path.as_uri(): a.src for a in validated.assets}
    for src, dpi in layout.image_dpi:
        if dpi < MIN_DPI:
            shown = paths.get(src, src)
            found.append(
                diagnostic(
                    Location(f"source/{shown}"),
                    "C033",
                    f"image `{shown}` prints at {dpi} dpi; print needs {MIN_DPI} or more",
                    "use a larger image, or show it smaller",
                )
            )
    for page, text in layout.overflows:
        found.append(
            diagnostic(
                Location(f"{slug}.pdf"), "C036", f"page {page}: a line runs past its measure: `{text}`"
            )
        )
    found += [
        diagnostic(Location(f"{slug}.pdf"), code, f"page {page}: {text}") for page, code, text in layout.lint
    ]
    return tuple(found)


def write(
    result: BuildResult, out_dir: Path, warn: Callable[[Diagnostic], None] = lambda _d: None
) -> list[Path]:
    """Write every output atomically, then the folder's OPDS catalog; the only step that writes.
    Someone else's file in the folder that the catalog cannot use is skipped, with a warning."""
    written = []
    skipped: list[Path] = []
    site = {o.name.removeprefix(f"{WEB}/"): o.data for o in result.outputs if o.name.startswith(f"{WEB}/")}
    try:
        for output in result.outputs:
            if output.name.startswith(f"{WEB}/"):
                continue
            path = out_dir / output.name
            write_atomic(path, output.data)
            written.append(path)
        if site:  # the whole folder at once; the downloads get their own OPDS catalogs
            write_tree(out_dir / WEB, site, lambda folder: opds.write_catalog(folder / "downloads"))
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
        warn(diagnostic(str(path), "D020", "not a readable image; the catalog shows no thumbnail for it"))
    return written
