"""build(project, formats) -> BuildResult: load -> validate -> render -> package; then write.

Everything is computed in memory first; `write()` is the only step that touches dist/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import epub, kepub, opds
from .cache import Cache, code_digest, digest, tree_digest
from .errors import Diagnostic
from .fetcher import refusals_as_errors
from .layout import PrintLayout
from .load import load
from .pagemap import page_map
from .render import Edition, print_document, render
from .validate import Validated, validate
from .write import write_atomic

FORMATS = ("epub", "kepub", "pdf", "cover")
FULL_EDITION = Edition()
DEFAULT_VARIANT = "pdf/ua-1"
"""Tagged, with the XMP title and PDF/UA identification accessibility checkers look for."""
Progress = Callable[[str], None]


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


def check(project: Project) -> Validated:
    """Load and validate only."""
    return validate(load(project.source), project.styles)


def modified_time(validated: Validated) -> dt.datetime:
    """dcterms:modified: SOURCE_DATE_EPOCH when set, else the book's modified (or published) date."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).replace(tzinfo=None)
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
    progress: Progress = lambda _stage: None,
) -> BuildResult:
    progress("load")
    validated = check(project)
    book = validated.companion.book
    slug = book.slug + edition.suffix
    cache = Cache.for_project(project.source.parent)
    wanted = set(formats)
    outputs: list[Output] = []
    progress("render print")
    print_images = {a.src: a.path.as_uri() for a in validated.assets}
    item = getattr(progress, "item", None)
    printed = render(validated, edition, "print", print_images, progress=item)
    progress("lay out PDF")
    layout = _print_layout(project, cache, validated, print_document(printed), marks=marks, variant=variant)
    if "pdf" in wanted:
        outputs.append(Output(f"{slug}.pdf", layout.pdf))
    front = b""
    if {"epub", "kepub", "cover"} & wanted:
        progress("cover")
        front = _cached(
            cache,
            "cover",
            digest(_cover_key(project, validated, edition), "front"),
            ".jpg",
            lambda: _cover().front_jpeg(book, project.styles, edition_note=edition.note),
        )
    if "cover" in wanted:
        review = next((r for r in validated.companion.reviews if edition.spoilers or not r.spoilers), None)
        wrap_key = digest(
            _cover_key(project, validated, edition),
            "wrap",
            layout.page_count,
            review.model_dump() if review else None,
        )
        outputs.append(
            Output(
                f"{slug}-cover.pdf",
                _cached(
                    cache,
                    "cover",
                    wrap_key,
                    ".pdf",
                    lambda: _cover().wrap_pdf(
                        book, review, layout.page_count, project.styles, edition_note=edition.note
                    ),
                ),
            )
        )
        outputs.append(Output(f"{slug}-cover.jpg", front))
    if {"epub", "kepub"} & wanted:
        progress("render EPUB")
        pages = page_map(printed, layout)
        images = {a.src: a.src for a in validated.assets} | {"@cover": "cover/cover.jpg"}
        rendered = render(
            validated,
            edition,
            "epub",
            images,
            stylesheets=epub.STYLESHEETS,
            page_breaks=pages.breaks,
            progress=item,
        )
        resources = [
            epub.Resource("cover/cover.jpg", "image/jpeg", front, ("cover-image",)),
            *epub.styles_resources(project.styles),
            *(epub.Resource(a.src, a.media_type, a.path.read_bytes()) for a in validated.assets),
        ]
        progress("package EPUB")
        data = epub.package(rendered, resources, modified=modified_time(validated), page_list=pages.page_list)
        if "epub" in wanted:
            outputs.append(Output(f"{slug}.epub", data))
        if "kepub" in wanted:
            outputs.append(Output(f"{slug}.kepub.epub", kepub.kepubify(data)))
    return BuildResult(tuple(outputs), validated.warnings, layout.page_count)


def _cover() -> Any:
    from . import cover  # WeasyPrint is imported only when a cover is really drawn

    return cover


def _cover_key(project: Project, validated: Validated, edition: Edition) -> str:
    return digest(
        code_digest(),
        tree_digest(project.styles),
        validated.companion.book.model_dump(mode="json"),
        edition.note,
    )


def _cached(cache: Cache, kind: str, key: str, suffix: str, make: Callable[[], bytes]) -> bytes:
    data = cache.get(kind, key, suffix)
    if data is None:
        with refusals_as_errors():
            data = make()
        cache.put(kind, key, suffix, data)
    return data


def _print_layout(
    project: Project, cache: Cache, validated: Validated, html: str, *, marks: bool, variant: str | None
) -> PrintLayout:
    """The laid-out interior, from the cache when nothing that shapes it has changed."""
    assets = [(a.src, hashlib.sha256(a.path.read_bytes()).hexdigest()) for a in validated.assets]
    key = digest(
        code_digest(),
        tree_digest(project.styles),
        html,
        validated.companion.book.print.model_dump(),
        marks,
        variant,
        assets,
    )
    meta, data = cache.get("layout", key, ".json"), cache.get("layout", key, ".pdf")
    if meta is not None and data is not None:
        try:
            return PrintLayout.from_json(meta, data)
        except (ValueError, KeyError, TypeError):
            pass
    from . import pdf

    with refusals_as_errors():
        layout = pdf.layout(
            html, validated.companion.book.print, project.styles, project.source, marks=marks, variant=variant
        )
    cache.put("layout", key, ".pdf", layout.pdf)
    cache.put("layout", key, ".json", layout.to_json())
    return layout


def write(result: BuildResult, out_dir: Path) -> list[Path]:
    """Write every output atomically, then the folder's OPDS catalog; the only step that writes."""
    written = []
    for output in result.outputs:
        path = out_dir / output.name
        write_atomic(path, output.data)
        written.append(path)
    if any(output.name.endswith(".epub") for output in result.outputs):
        written += opds.write_catalog(out_dir)
    return written
