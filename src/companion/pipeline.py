"""build(project, formats) -> BuildResult: load -> validate -> render -> package; then write.

Everything is computed in memory first; `write()` is the only step that touches dist/.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import epub, fonts, kepub, opds, parallel, printers, readalong
from .cache import Cache, code_digest, digest, memos, tree_digest
from .errors import CompanionError, Diagnostic, Location, diagnostic
from .layout import PrintLayout
from .load import load, load_book
from .model import Book
from .pagemap import page_map
from .render import Edition, inside, print_document, render
from .validate import Validated, validate
from .write import write_atomic

if TYPE_CHECKING:
    from .pdf import Written

FORMATS = ("epub", "kepub", "pdf", "cover")
"""What `--format all` (and `make all`) builds."""
EXTRA_FORMATS = ("read-along",)
"""Built only when asked for: the read-along EPUB and the audiobook synthesize speech."""
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
    early = load_book(project.source) if {"epub", "kepub", "cover", "read-along"} & set(formats) else None
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
        ebooks = {"epub", "kepub", "read-along"} & wanted
        if {"pdf", "cover"} & wanted or (ebooks and page_list):
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
            data = interior.pdf()  # written on the other core meanwhile; cached even when not wanted
            if "pdf" in wanted:
                outputs.insert(0, Output(f"{slug}.pdf", data))
        cache.prune()
        warnings = validated.warnings + (_print_warnings(validated, layout, slug) if layout else ())
        notes = (NO_ISBN,) if "cover" in wanted and validated.companion.book.isbn is None else ()
        if read_along is not None:
            warnings += read_along.warnings
        return BuildResult(
            tuple(outputs),
            warnings,
            layout.page_count if layout else 0,
            notes,
            read_along.stats if read_along is not None else None,
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


@dataclass
class _FrontCover:
    """The front cover JPEG: from the cache, or being drawn on the second core."""

    cache: Cache
    key: str
    pending: parallel.Pending[bytes | tuple[Diagnostic, ...]] | None = None
    data: bytes | None = None

    def result(self) -> bytes:
        if self.data is None and self.pending is not None:
            outcome = self.pending.result()
            if isinstance(outcome, tuple):
                raise CompanionError(outcome)
            self.data = outcome
            self.cache.put("cover", self.key, ".jpg", outcome)
        assert self.data is not None
        return self.data

    def cancel(self) -> None:
        if self.pending is not None:
            self.pending.cancel()


def _front_cover(project: Project, cache: Cache, book: Book, edition: Edition) -> _FrontCover:
    key = digest(_cover_key(project, book, edition), "front")
    job = _FrontCover(cache, key, data=cache.get("cover", key, ".jpg"))
    if job.data is None:
        job.pending = parallel.start(_draw_front, book, project.styles, edition.note)
    return job


def _draw_front(book: Any, styles: Path, note: str) -> bytes | tuple[Diagnostic, ...]:
    """Runs in the child: the JPEG, or the diagnostics of a refused resource (picklable either way)."""
    from .fetcher import refusals_as_errors

    try:
        with refusals_as_errors():
            return bytes(_cover().front_jpeg(book, styles, edition_note=note))
    except CompanionError as exc:
        return exc.diagnostics


def _wrap_cover(
    project: Project,
    cache: Cache,
    validated: Validated,
    edition: Edition,
    layout: PrintLayout,
    variant: str,
) -> bytes:
    book = validated.companion.book
    review = next((r for r in validated.companion.reviews if edition.spoilers or not r.spoilers), None)
    holds = inside(validated.companion, edition)
    key = digest(
        _cover_key(project, validated.companion.book, edition),
        "wrap",
        variant,
        layout.page_count,
        review.model_dump() if review else None,
        holds,
    )
    return _cached(
        cache,
        "cover",
        key,
        ".pdf",
        lambda: _cover().wrap_pdf(
            book,
            review,
            layout.page_count,
            project.styles,
            edition_note=edition.note,
            inside=holds,
            variant=variant,
        ),
    )


def _subsetter(cache: Cache) -> Callable[[bytes, str], bytes]:
    """fonts.subset, remembered by the font and the set of characters (an edit that brings no new
    character subsets nothing)."""

    def subset(data: bytes, text: str) -> bytes:
        key = digest(code_digest(), hashlib.sha256(data).hexdigest(), "".join(sorted(set(text))))
        found = cache.get("font", key, ".otf")
        if found is None:
            found = fonts.subset(data, text)
            cache.put("font", key, ".otf", found)
        return found

    return subset


def _cover() -> Any:
    from . import cover  # WeasyPrint is imported only when a cover is really drawn

    return cover


def _cover_key(project: Project, book: Book, edition: Edition) -> str:
    return digest(
        code_digest(),
        tree_digest(project.styles),
        book.model_dump(mode="json"),
        edition.note,
    )


def _cached(cache: Cache, kind: str, key: str, suffix: str, make: Callable[[], bytes]) -> bytes:
    data = cache.get(kind, key, suffix)
    if data is None:
        from .fetcher import refusals_as_errors  # WeasyPrint loads only when something is drawn

        with refusals_as_errors():
            data = make()
        cache.put(kind, key, suffix, data)
    return data


@dataclass
class _Interior:
    """The laid-out interior; its PDF bytes may still be being written on the other cores."""

    plan: PrintLayout
    cache: Cache
    key: str
    printing: Written | None = None
    """While the parts are being written."""
    styles: Path | None = None
    where: Location | None = None

    def pdf(self) -> bytes:
        if self.printing is not None:
            from .fetcher import refusals_as_errors

            with refusals_as_errors():  # writing fetches too (attachments)
                data = self.printing.result()
            self.printing = None
            if self.styles is not None and self.where is not None:  # laid out now, not from the cache
                fonts.require_bundled(data, self.styles, fonts.INTERIOR_SHEETS, self.where)
            self.plan = dataclasses.replace(self.plan, pdf=data)
            self.cache.put("layout", self.key, ".pdf", data)
            self.cache.put("layout", self.key, ".json", self.plan.to_json())
        return self.plan.pdf

    def cancel(self) -> None:
        if self.printing is not None:
            self.printing.cancel()


@dataclass(frozen=True)
class _PartStore:
    """Laid-out parts of the interior in the build cache (see pdf.lay_out)."""

    cache: Cache

    def get(self, key: str) -> tuple[Any, bytes] | None:
        from .pdfworker import PartReport

        meta, data = self.cache.get("part", key, ".json"), self.cache.get("part", key, ".pdf")
        if meta is None or data is None:
            return None
        try:
            return PartReport.from_json(meta), data
        except (ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, report: Any, pdf: bytes) -> None:
        self.cache.put("part", key, ".pdf", pdf)
        self.cache.put("part", key, ".json", report.to_json())


def _print_layout(
    project: Project, cache: Cache, validated: Validated, html: str, *, marks: bool, variant: str | None
) -> _Interior:
    """The laid-out interior, from the cache when nothing that shapes it has changed. Otherwise it is
    laid out in parts (only the parts that changed, when the cache has the others), and its PDF is
    written on the other cores while the parent goes on with the EPUB and the cover."""
    assets = [(a.src, hashlib.sha256(a.data).hexdigest()) for a in validated.assets]
    settings = validated.companion.book.print
    salt = digest(code_digest(), tree_digest(project.styles), settings.model_dump(), assets)
    key = digest(salt, html, marks, variant)
    meta, data = cache.get("layout", key, ".json"), cache.get("layout", key, ".pdf")
    if meta is not None and data is not None:
        try:
            return _Interior(PrintLayout.from_json(meta, data), cache, key)
        except (ValueError, KeyError, TypeError):
            pass
    from . import pdf
    from .fetcher import refusals_as_errors

    with refusals_as_errors():
        plan, printing = pdf.lay_out(
            html,
            settings,
            project.styles,
            project.source,
            marks=marks,
            variant=variant,
            store=_PartStore(cache),
            salt=salt,
        )
    where = Location(f"{validated.companion.book.slug}.pdf")
    return _Interior(plan, cache, key, printing, project.styles, where)


def write(
    result: BuildResult, out_dir: Path, warn: Callable[[Diagnostic], None] = lambda _d: None
) -> list[Path]:
    """Write every output atomically, then the folder's OPDS catalog; the only step that writes.
    Someone else's file in the folder that the catalog cannot use is skipped, with a warning."""
    written = []
    skipped: list[Path] = []
    try:
        for output in result.outputs:
            path = out_dir / output.name
            write_atomic(path, output.data)
            written.append(path)
        if any(output.name.endswith(".epub") for output in result.outputs):
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
