"""The cached and parallel layer around the pure stages: each step wraps a stage (the render, a cover,
a font subset, the print layout) with the build cache or a child process, so that `pipeline.build`
reads as the list of stages and none of them knows about caching (a cached step wraps a pure
function, as a make rule does). `Steps` holds one build's cache, progress callback and children, and
cancels the children when the build ends early. Ordering facts are commented in pipeline.build, where
they are enforced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from companion.core import parallel
from companion.core.cache import Cache, code_digest, digest, tree_digest
from companion.core.errors import CompanionError, Diagnostic, Location
from companion.epub import kepub
from companion.epub import package as epub
from companion.epub.pagemap import PageMap
from companion.printing.layout import PrintLayout
from companion.render.edition import Edition
from companion.render.render import RenderedBook, Target, inside, render
from companion.source import fonts
from companion.source.model import Book
from companion.source.validate import Validated
from companion.web import site

if TYPE_CHECKING:
    from companion.printing.job import Printing


class Project(Protocol):
    """What a step needs of pipeline.Project (a Protocol, so that steps never imports pipeline)."""

    @property
    def source(self) -> Path: ...

    @property
    def styles(self) -> Path: ...


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
        note, badge = edition.content_note, edition.look.label
        job.pending = parallel.start(_draw_front, book, project.styles, note, badge)
    return job


def _draw_front(book: Any, styles: Path, note: str, badge: str = "") -> bytes | tuple[Diagnostic, ...]:
    """Runs in the child: the JPEG, or the diagnostics of a refused resource (picklable either way)."""
    from companion.printing.fetcher import refusals_as_errors

    try:
        with refusals_as_errors():
            return bytes(_cover().front_jpeg(book, styles, edition_note=note, badge=badge))
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
    review = next((r for r in validated.companion.reviews if edition.keeps(r.reveals)), None)
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
            edition_note=edition.content_note,
            inside=holds,
            variant=variant,
            badge=edition.look.label,
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
    from companion.printing import cover  # WeasyPrint is imported only when a cover is really drawn

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
        from companion.printing.fetcher import (
            refusals_as_errors,  # WeasyPrint loads only when something is drawn
        )

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
    printing: Printing | None = None
    """While the parts are being written."""
    styles: Path | None = None
    where: Location | None = None

    def pdf(self) -> bytes:
        if self.printing is not None:
            from companion.printing.fetcher import refusals_as_errors

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
        from companion.printing.worker import PartReport

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


class Steps:
    """One build's steps: its cache, its progress callback, and the children it started."""

    def __init__(self, project: Project, progress: Callable[[str], None]) -> None:
        self.project = project
        self.cache = Cache.for_project(project.source.parent)
        self.progress = progress
        self._children = contextlib.ExitStack()
        self._front: _FrontCover | None = None
        self._front_of: tuple[Book, Edition] | None = None

    def __enter__(self) -> Steps:
        self._children.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._children.__exit__(kind, error, trace)  # a build that stops early leaves no child behind

    def start_front_cover(self, book: Book | None, edition: Edition) -> None:
        """Draw the front cover on the other core (or take it from the cache); again if `book` is not
        the book it was started for."""
        if book is None or self._front_of == (book, edition):
            return
        if self._front is not None:
            self._front.cancel()
        self._front, self._front_of = _front_cover(self.project, self.cache, book, edition), (book, edition)
        self._children.callback(self._front.cancel)

    def front_cover(self, *, stage: bool = True) -> bytes:
        """The front cover JPEG (b"" when none was started), waiting for its child."""
        if self._front is None:
            return b""
        if stage:
            self.progress("cover")
        return self._front.result()

    def render(
        self,
        validated: Validated,
        edition: Edition,
        target: Target,
        images: dict[str, str],
        **options: Any,
    ) -> RenderedBook:
        """The render stage, each section's markup remembered in the cache."""
        self.progress("render EPUB" if target == "epub" else f"render {target}")
        item = getattr(self.progress, "item", None)
        return render(validated, edition, target, images, progress=item, cache=self.cache, **options)

    def lay_out(
        self,
        validated: Validated,
        html: str,
        *,
        marks: bool,
        variant: str | None,
        sheets: tuple[str, ...] = fonts.INTERIOR_SHEETS,
    ) -> _Interior:
        """The interior laid out with the style sheets `sheets` (an edition's layout adds its layer):
        from the cache when nothing that shapes it has changed. Otherwise it is laid out in parts
        (only the parts that changed, when the cache has the others), and its PDF is written on the
        other cores while the parent goes on with the EPUB and the cover."""
        self.progress("lay out PDF")
        assets = [(a.src, hashlib.sha256(a.data).hexdigest()) for a in validated.assets]
        settings = validated.companion.book.print
        salt = digest(code_digest(), tree_digest(self.project.styles), settings.model_dump(), assets, sheets)
        key = digest(salt, html, marks, variant)
        meta, data = self.cache.get("layout", key, ".json"), self.cache.get("layout", key, ".pdf")
        if meta is not None and data is not None:
            try:
                return _Interior(PrintLayout.from_json(meta, data), self.cache, key)
            except (ValueError, KeyError, TypeError):
                pass
        from companion.printing import interior as pdf
        from companion.printing.fetcher import refusals_as_errors

        with refusals_as_errors():
            plan, printing = pdf.lay_out(
                html,
                settings,
                self.project.styles,
                self.project.source,
                marks=marks,
                variant=variant,
                store=_PartStore(self.cache),
                salt=salt,
                sheets=sheets,
            )
        where = Location(f"{validated.companion.book.slug}.pdf")
        interior = _Interior(plan, self.cache, key, printing, self.project.styles, where)
        self._children.callback(interior.cancel)
        return interior

    def wrap_cover(self, validated: Validated, edition: Edition, layout: PrintLayout, variant: str) -> bytes:
        return _wrap_cover(self.project, self.cache, validated, edition, layout, variant)

    def epub_resources(
        self, rendered: RenderedBook, validated: Validated, front: bytes
    ) -> list[epub.Resource]:
        """The cover, the style sheets with their fonts subset to the text, and the source's images."""
        return [
            epub.Resource("cover/cover.jpg", "image/jpeg", front, ("cover-image",)),
            *epub.styles_resources(self.project.styles, epub.used_text(rendered), _subsetter(self.cache)),
            *(epub.Resource(a.src, a.media_type, a.data) for a in validated.assets),
        ]

    def web_site(
        self,
        validated: Validated,
        edition: Edition,
        pages: PageMap | None,
        front: bytes,
        slug: str,
        epub_data: bytes,
        pdf: bytes,
    ) -> site.Site:
        """The web edition (web/site.py): its downloads from this build, its fonts subset through the
        cache, its search indexes cached."""
        downloads = [
            (f"{slug}.epub", "EPUB, for most e-readers and apps", epub_data),
            (f"{slug}.kepub.epub", "Kobo EPUB (kepub)", kepub.kepubify(epub_data)),
            (f"{slug}.pdf", "PDF, the print edition", pdf),
            (f"{slug}-cover.jpg", "", front),  # for the catalogs' cover and thumbnail; not listed
        ]
        subset = _subsetter(self.cache)
        return site.build(
            validated,
            edition,
            pages,
            front,
            lambda text: epub.styles_resources(self.project.styles, text, subset),
            downloads,
            self.cache,
        )

    def prune(self) -> None:
        self.cache.prune()
