"""Validate stage: cross-checks the loaded content (ids, references, links, images, raw HTML).

Returns a Validated value with the assets the book uses; raises CompanionError with every problem.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel

from . import markdown
from .errors import CompanionError, Diagnostic, Location, diagnostic, fail_if
from .images import ImageProblem, probe_image
from .load import SCHEMA
from .model import Companion

RESERVED_IDS = frozenset(
    {"cover", "halftitle", "titlepage", "copyright", "contents", "toc", "nav", "about", "characters", "themes",
     "quotes", "reviews", "faq", "questions", "timeline", "closing", "glossary", "setting", "synopsis"}
)
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


@dataclass(frozen=True)
class Validated:
    companion: Companion
    assets: tuple[Asset, ...]
    warnings: tuple[Diagnostic, ...] = ()


def validate(companion: Companion) -> Validated:
    problems: list[Diagnostic] = []
    ids = _check_ids(companion, problems)
    assets: dict[str, Asset] = {}
    root = Path(companion.root).resolve()
    for text, where in texts(companion):
        for ref in markdown.inspect(text):
            here = where.shifted(ref.line) if ref.line else where
            if ref.kind == "html":
                problems.append(diagnostic(here, "C020", f"raw HTML `{ref.target}` is not allowed"))
            elif ref.kind == "xref" and ref.target not in ids:
                close = difflib.get_close_matches(ref.target, list(ids), n=1)
                hint = f"did you mean `#{close[0]}`?" if close else ""
                problems.append(diagnostic(here, "C022", f"no chapter, character, theme or term has id `{ref.target}`", hint))
            elif ref.kind == "link":
                _check_link(ref.target, here, problems)
            elif ref.kind == "footnote":
                problems.append(diagnostic(here, "C024", f"footnote `[^{ref.target}]` is used but never defined"))
            elif ref.kind == "image":
                asset = _check_image(ref, root, here, problems)
                if asset is not None:
                    assets.setdefault(asset.src, asset)
    fail_if(problems)
    return Validated(companion, tuple(assets.values()), tuple(problems))


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
    if isinstance(value, str):
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
        for index, item in enumerate(getattr(companion, attr)):
            owners.append((item.id, companion.sources.find((_FILE_OF_ATTR[attr], index, "id"))))
    for ident, where in owners:
        if ident in RESERVED_IDS:
            problems.append(diagnostic(where, "C016", f"id `{ident}` is reserved for a section of the book"))
        elif ident in seen:
            problems.append(diagnostic(where, "C016", f"id `{ident}` is already used at {seen[ident]}"))
        else:
            seen[ident] = where
    return set(seen) | {"setting", "synopsis"} | {
        "about", "characters", "themes", "quotes", "reviews", "faq", "questions", "timeline", "glossary"
    }


def _check_link(href: str, where: Location, problems: list[Diagnostic]) -> None:
    scheme = urlsplit(href).scheme.lower()
    if scheme == "mailto":
        return
    if scheme in {"http", "https", "ftp", "ftps", "ws", "wss"} or href.startswith("//"):
        problems.append(diagnostic(where, "C021", f"remote address `{href}` is not allowed",
                                   "books must not reach the network; write the address as plain text"))
    elif scheme == "file" or not scheme:
        problems.append(diagnostic(where, "C021", f"link to a file `{href}` is not allowed",
                                   "link to another part of the companion with #id"))
    else:
        problems.append(diagnostic(where, "C023", f"`{scheme}:` links are not allowed"))


def _check_image(ref: markdown.Reference, root: Path, where: Location, problems: list[Diagnostic]) -> Asset | None:
    src = ref.target
    scheme = urlsplit(src).scheme.lower()
    if scheme or src.startswith("//"):
        problems.append(diagnostic(where, "C021", f"image `{src}` is not a file under source/",
                                   "copy the image into source/images/ and use a relative path"))
        return None
    if not ref.alt:
        problems.append(diagnostic(where, "C031", f"image `{src}` has no alt text"))
    path = (root / unquote(src)).resolve()
    if not path.is_relative_to(root) or src.startswith("/"):
        problems.append(diagnostic(where, "C021", f"image `{src}` is outside the companion's source folder"))
        return None
    if not re.fullmatch(r"[A-Za-z0-9._/-]+", src):
        problems.append(diagnostic(where, "C032", f"image path `{src}` may use only letters, digits, . _ - and /"))
        return None
    if not path.is_file():
        problems.append(diagnostic(where, "C030", f"image `{src}` not found"))
        return None
    probed = probe_image(path)
    if isinstance(probed, ImageProblem):
        problems.append(diagnostic(where, probed.code, f"image `{src}`: {probed.message}"))
        return None
    media_type, width, height = probed
    return Asset(src, path, media_type, width, height)

