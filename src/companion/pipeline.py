"""build(project, formats) -> BuildResult: load -> validate -> render -> package; then write.

Everything is computed in memory first; `write()` is the only step that touches dist/.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import cover, epub, kepub, opds, pdf
from .errors import Diagnostic
from .load import load
from .pagemap import page_map
from .render import Edition, print_document, render
from .validate import Validated, validate
from .write import write_atomic

FORMATS = ("epub", "kepub", "pdf", "cover")
FULL_EDITION = Edition()
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
    return validate(load(project.source))


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
    variant: str | None = None,
    progress: Progress = lambda _stage: None,
) -> BuildResult:
    progress("load")
    validated = check(project)
    book = validated.companion.book
    slug = book.slug + edition.suffix
    outputs: list[Output] = []
    page_count = 0
    layout = None
    printed = None
    if {"pdf", "cover", "epub", "kepub"} & set(formats):
        progress("render print")
        print_images = {a.src: a.path.as_uri() for a in validated.assets}
        printed = render(validated, edition, "print", print_images)
        html = print_document(printed)
        progress("lay out PDF")
        layout = pdf.layout(html, book.print, project.styles, project.source, marks=marks, variant=variant)
        page_count = layout.page_count
        if "pdf" in formats:
            outputs.append(Output(f"{slug}.pdf", layout.pdf))
    front = None
    if {"epub", "kepub", "cover"} & set(formats):
        progress("cover")
        front = cover.front_jpeg(book, project.styles, edition_note=edition.note)
    if "cover" in formats and layout is not None and front is not None:
        safe = (r for r in validated.companion.reviews if edition.spoilers or not r.spoilers)
        review = next(safe, None)
        outputs.append(
            Output(
                f"{slug}-cover.pdf",
                cover.wrap_pdf(book, review, page_count, project.styles, edition_note=edition.note),
            )
        )
        outputs.append(Output(f"{slug}-cover.jpg", front))
    if {"epub", "kepub"} & set(formats) and front is not None and printed is not None and layout is not None:
        progress("render EPUB")
        pages = page_map(printed, layout)
        images = {a.src: a.src for a in validated.assets} | {"@cover": "cover/cover.jpg"}
        rendered = render(
            validated, edition, "epub", images, stylesheets=epub.STYLESHEETS, page_breaks=pages.breaks
        )
        resources = [
            epub.Resource("cover/cover.jpg", "image/jpeg", front, ("cover-image",)),
            *epub.styles_resources(project.styles),
            *(epub.Resource(a.src, a.media_type, a.path.read_bytes()) for a in validated.assets),
        ]
        progress("package EPUB")
        data = epub.package(rendered, resources, modified=modified_time(validated), page_list=pages.page_list)
        if "epub" in formats:
            outputs.append(Output(f"{slug}.epub", data))
        if "kepub" in formats:
            outputs.append(Output(f"{slug}.kepub.epub", kepub.kepubify(data)))
    return BuildResult(tuple(outputs), validated.warnings, page_count)


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
