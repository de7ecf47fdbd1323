"""Validate stage: cross-checks the loaded content (ids, references, links, images, raw HTML).

Returns a Validated value with the assets the book uses; raises CompanionError with every problem.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel

from companion.core import gate
from companion.core.codes import CODES
from companion.core.errors import CompanionError, Diagnostic, Location, diagnostic, fail_if
from companion.source import fonts, gating, markdown, voices
from companion.source.bookcheck import check_cover_text, check_isbn
from companion.source.fontcoverage import font_coverage
from companion.source.images import ImageProblem, probe_image
from companion.source.load import SCHEMA, Loaded
from companion.source.model import Companion
from companion.source.stylecheck import check_styles
from companion.source.yamlfile import MAX_FILE_BYTES

SECTION_TARGETS = frozenset(
    {
        "about",
        "setting",
        "synopsis",
        "characters",
        "themes",
        "quotes",
        "reviews",
        "faq",
        "questions",
        "timeline",
        "closing",
        "glossary",
    }
)
"""Ids of the book's own sections that content may cross-reference (`[the setting](#setting)`)."""
RESERVED_IDS = SECTION_TARGETS | {
    "cover",
    "halftitle",
    "titlepage",
    "copyright",
    "contents",
    "toc",
    "nav",
    "ncx",
}
"""Ids content may not take for itself (sections of the book, and the package's own items)."""
GENERATED_ID = re.compile(r"(.*-b[0-9]+|.*-fn-[0-9]+|.*-ref-[0-9]+|page-.*|res-.*)")
"""The forms of the ids companion makes (block, footnote and page-break ids, manifest items), which an
author's id may not take: a cross-reference to it would land on another element."""
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
RESERVED_FOLDERS = ("cover/", "styles/")
"""Folders of the EPUB that companion fills itself."""
_FILE_OF_ATTR = {attr: name for name, (attr, _, _) in SCHEMA.items()}


@dataclass(frozen=True)
class Asset:
    """A file from source/ that goes into the outputs."""

    src: str
    """As written in the Markdown, relative to source/."""
    path: Path
    media_type: str
    width: int
    height: int
    data: bytes = b""
    """What ships: the bytes read through the gate (an SVG as written out again after its check)."""


@dataclass(frozen=True)
class Validated:
    companion: Companion
    assets: tuple[Asset, ...]
    warnings: tuple[Diagnostic, ...] = ()


def validate(loaded: Loaded, styles: Path | None = None) -> Validated:
    """Cross-check what was loaded; `styles` (default: styles/ beside the source folder) has the
    bundled fonts. Raises CompanionError with every problem, the loading's first."""
    companion = loaded.companion
    if loaded.problems:  # a file failed: report it with the Markdown problems of those that loaded
        raise CompanionError(
            [*loaded.problems, *content_problems(companion, ids_complete=loaded.ids_complete)]
        )
    problems: list[Diagnostic] = []
    assets = _check_content(companion, styles, problems, ids_complete=True)
    styles = styles or Path(companion.root).resolve().parent / "styles"
    check_styles(styles, problems)
    _check_fonts(styles, problems)
    problems += voices.settings_problems(companion)
    fail_if(problems)
    return Validated(companion, assets, tuple(dict.fromkeys(problems)))


def content_problems(companion: Companion, *, ids_complete: bool) -> list[Diagnostic]:
    """The problems in the Markdown of a partly loaded companion (some files failed to load), so that
    one run reports everything. Broken cross-references are reported only when `ids_complete`."""
    problems: list[Diagnostic] = []
    _check_content(companion, None, problems, ids_complete=ids_complete)
    return problems


def _check_content(
    companion: Companion, styles: Path | None, problems: list[Diagnostic], *, ids_complete: bool
) -> tuple[Asset, ...]:
    ids = _check_ids(companion, problems)
    check_cover_text(companion, problems)
    check_isbn(companion, problems)
    assets: dict[str, Asset] = {}
    root = Path(companion.root).resolve()
    lines: dict[str, list[str]] = {}
    coverage = font_coverage((styles or root.parent / "styles") / "fonts")
    parts = gating.ranks(companion.book) if companion.book is not None else None
    for text, where in texts(companion):
        for ref in markdown.inspect(text):
            here = _pinpoint(where, ref.line, ref.needle, lines)
            if ref.kind == "nesting":
                message = f"Markdown is nested more than {ref.target} levels deep here"
                problems.append(diagnostic(here, "C046", message))
            elif ref.kind == "html":
                problems.append(diagnostic(here, "C020", f"raw HTML `{ref.target}` is not allowed"))
            elif ref.kind == "xref" and ref.target not in ids and ids_complete:
                close = difflib.get_close_matches(ref.target, list(ids), n=1)
                hint = f"did you mean `#{close[0]}`?" if close else ""
                message = f"no chapter, character, theme or term has id `{ref.target}`"
                problems.append(diagnostic(here, "C022", message, hint))
            elif ref.kind == "link":
                _check_link(ref.target, here, problems)
            elif ref.kind == "fence":
                message = f"`::: {ref.target}` is not a section fence" if ref.target else "a bare `:::` fence"
                problems.append(diagnostic(here, "C083", message, CODES["C083"].hint))
            elif ref.kind == "section" and parts is not None and ref.target not in parts:
                hint = f"the parts are {', '.join(f'`{p}`' for p in parts)}"
                problems.append(diagnostic(here, "C080", f"no part `{ref.target}`", hint))
            elif ref.kind == "footnote":
                message = f"footnote `[^{ref.target}]` is used but never defined"
                problems.append(diagnostic(here, "C024", message))
            elif ref.kind == "image":
                asset = _check_image(ref, root, here, problems)
                if asset is not None:
                    assets.setdefault(asset.src, asset)
        if coverage:
            _check_glyphs(text, where, coverage, lines, problems)
    return tuple(assets.values())


def _check_fonts(styles: Path, problems: list[Diagnostic]) -> None:
    """Every @font-face rule names a usable font file (C037), by the font's own name (C039)."""
    if not styles.is_dir():
        return
    faces, found = fonts.font_faces(styles, sorted(sheet.name for sheet in styles.glob("*.css")))
    problems += [*found, *fonts.misnamed(faces)]


def _pinpoint(where: Location, line: int, needle: str, cache: dict[str, list[str]]) -> Location:
    """Where `needle` is written in the file: searched from `line` lines below `where` (the start of
    the text it stands in). Falls back to that line when the text is not found as written (folded or
    escaped YAML strings)."""
    approx = where.shifted(line) if line else where
    if not where.line or not needle:
        return approx
    if where.path not in cache:
        try:
            data = gate.read(Path(where.path), None, MAX_FILE_BYTES)
            cache[where.path] = data.decode("utf-8", errors="replace").split("\n")
        except gate.Refused:
            cache[where.path] = []
    file_lines = cache[where.path]
    candidates = dict.fromkeys((needle, unquote(needle)))
    first = approx.line - 1
    for index in range(first, min(len(file_lines), first + 500)):
        start = where.col - 1 if index == where.line - 1 and where.col else 0
        for candidate in candidates:
            col = file_lines[index].find(candidate, start)
            if col >= 0:
                return Location(where.path, index + 1, col + 1)
    return approx


def _check_glyphs(
    text: str,
    where: Location,
    coverage: frozenset[int],
    cache: dict[str, list[str]],
    problems: list[Diagnostic],
) -> None:
    missing = [
        ch
        for ch in dict.fromkeys(text)
        if ord(ch) not in coverage and unicodedata.category(ch) not in _INVISIBLE
    ]
    if not missing:
        return
    shown = ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    line = text[: text.index(missing[0])].count("\n")
    here = _pinpoint(where, line, missing[0], cache)
    problems.append(diagnostic(here, "C025", f"the bundled fonts cannot show {shown}{more}"))


_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Mn", "Me"})
"""Control and format characters, and combining marks: shaped by the text engine, not looked up alone."""


def texts(companion: Companion) -> Iterator[tuple[str, Location]]:
    """Every string in the content with where it starts."""
    for attr, file_name in _FILE_OF_ATTR.items():
        yield from _strings(getattr(companion, attr), (file_name,), companion)
    for chapter in companion.chapters:
        yield chapter.title, Location(chapter.path, 2)
        yield chapter.body, Location(chapter.path, chapter.body_line)
        if chapter.epigraph:
            yield chapter.epigraph.text, Location(chapter.path, 2)


def _strings(value: Any, key: tuple[Any, ...], companion: Companion) -> Iterator[tuple[str, Location]]:
    if isinstance(value, str):  # (None, for a file that failed to load, has no strings)
        yield value, companion.sources.find(key)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _strings(getattr(value, name), (*key, name), companion)
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _strings(item, (*key, index), companion)


def _check_ids(companion: Companion, problems: list[Diagnostic]) -> set[str]:
    seen: dict[str, Location] = {}
    owners: list[tuple[str, Location]] = [(c.id, Location(c.path, 1)) for c in companion.chapters]
    for attr in ("characters", "themes", "glossary"):
        for index, item in enumerate(getattr(companion, attr) or ()):
            owners.append((item.id, companion.sources.find((_FILE_OF_ATTR[attr], index, "id"))))
    for ident, where in owners:
        if ident in RESERVED_IDS:
            problems.append(diagnostic(where, "C016", f"id `{ident}` is reserved for a section of the book"))
        elif GENERATED_ID.fullmatch(ident):
            problems.append(
                diagnostic(
                    where,
                    "C048",
                    f"id `{ident}` has the form of an id companion makes itself",
                    "ids may not end in -b1, -fn-1 or -ref-1 (any number), nor start with page- or res-",
                )
            )
        elif ident in seen:
            problems.append(diagnostic(where, "C016", f"id `{ident}` is already used at {seen[ident]}"))
        else:
            seen[ident] = where
    return set(seen) | SECTION_TARGETS


def _check_link(href: str, where: Location, problems: list[Diagnostic]) -> None:
    scheme = urlsplit(href).scheme.lower()
    if scheme == "mailto":
        return
    if scheme in {"http", "https", "ftp", "ftps", "ws", "wss"} or href.startswith("//"):
        problems.append(
            diagnostic(
                where,
                "C021",
                f"remote address `{href}` is not allowed",
                "books must not reach the network; write the address as plain text",
            )
        )
    elif scheme == "file" or not scheme:
        problems.append(
            diagnostic(
                where,
                "C021",
                f"link to a file `{href}` is not allowed",
                "link to another part of the companion with #id",
            )
        )
    else:
        problems.append(diagnostic(where, "C023", f"`{scheme}:` links are not allowed"))


def _check_image(
    ref: markdown.Reference, root: Path, where: Location, problems: list[Diagnostic]
) -> Asset | None:
    src = ref.target
    scheme = urlsplit(src).scheme.lower()
    if scheme or src.startswith("//"):
        problems.append(
            diagnostic(
                where,
                "C021",
                f"image `{src}` is not a file under source/",
                "copy the image into source/images/ and use a relative path",
            )
        )
        return None
    if not ref.alt:
        problems.append(diagnostic(where, "C031", f"image `{src}` has no alt text"))
    path = (root / unquote(src)).resolve()
    if src.startswith(("/", "\\")) or not path.is_relative_to(root) or ".." in re.split(r"[/\\]", src):
        problems.append(diagnostic(where, "C021", f"image `{src}` is outside the companion's source folder"))
        return None
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", src) or posixpath.normpath(src) != src:
        problems.append(
            diagnostic(
                where,
                "C032",
                f"image path `{src}` may use only letters, digits, . _ - and /",
                "write the path from source/, such as images/map.png",
            )
        )
        return None
    if not src.lower().endswith(IMAGE_SUFFIXES):
        problems.append(diagnostic(where, "C032", f"image `{src}` must end in {', '.join(IMAGE_SUFFIXES)}"))
        return None
    if src.startswith(RESERVED_FOLDERS):
        problems.append(
            diagnostic(
                where,
                "C048",
                f"image path `{src}` is in a folder the e-book keeps for its own files",
                "put images in source/images/ (any folder but cover/ and styles/)",
            )
        )
        return None
    if not path.exists():
        problems.append(diagnostic(where, "C030", f"image `{src}` not found"))
        return None
    if path.is_dir():
        problems.append(diagnostic(where, "C030", f"image `{src}` is a folder"))
        return None
    probed = probe_image(path, root)
    if isinstance(probed, ImageProblem):
        problems.append(diagnostic(where, probed.code, f"image `{src}`: {probed.message}"))
        return None
    return Asset(src, path, probed.media_type, probed.width, probed.height, probed.data)
