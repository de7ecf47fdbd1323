"""Load stage: read source/ into a Companion, keeping the file and line of every value.

Every problem in every file is collected and handed on with what did load (`Loaded`); the validate
stage decides to fail, adding the problems in the Markdown of the files that did load, so that one run
reports everything. This module never imports validate.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from companion.core import gate
from companion.core.errors import CompanionError, Diagnostic, Location, diagnostic
from companion.source import gating
from companion.source import model as m
from companion.source.yamlfile import Parsed, Places, parse_yaml, read_text

SCHEMA: dict[str, tuple[str, Any, bool]] = {
    # file name: (Companion field, type, required)
    "book.yaml": ("book", m.Book, True),
    "about.yaml": ("about", m.About, True),
    "reviews.yaml": ("reviews", tuple[m.Review, ...], False),
    "quotes.yaml": ("quotes", tuple[m.Quote, ...], False),
    "faq.yaml": ("faq", tuple[m.Faq, ...], False),
    "characters.yaml": ("characters", tuple[m.Character, ...], False),
    "themes.yaml": ("themes", tuple[m.Theme, ...], False),
    "questions.yaml": ("questions", tuple[m.Question, ...], False),
    "glossary.yaml": ("glossary", tuple[m.Term, ...], False),
    "timeline.yaml": ("timeline", tuple[m.Event, ...], False),
    "meetings.yaml": ("meetings", tuple[m.Meeting, ...], False),
}

_ADAPTERS = {name: (TypeAdapter(kind), kind) for name, (_, kind, _) in SCHEMA.items()}
_FRONT_MATTER = (TypeAdapter(m.FrontMatter), m.FrontMatter)
_FENCE = re.compile(r"^---[ \t\r]*$", re.MULTILINE)


@dataclass(frozen=True)
class Loaded:
    """What load read: the companion (a partial one, its book or about None, when files failed) and
    every problem found reading it."""

    companion: m.Companion
    problems: tuple[Diagnostic, ...] = ()

    @property
    def ids_complete(self) -> bool:
        """Whether every file that defines ids loaded, so that a broken cross-reference is real."""
        failed = {Path(d.where.path).name for d in self.problems}
        md_failed = any(d.where.path.endswith(".md") for d in self.problems)
        return not (failed & {"characters.yaml", "themes.yaml", "glossary.yaml"}) and not md_failed


def load(source: Path) -> Loaded:
    """Read the typed content of `source`, with every problem in every file."""
    if not source.is_dir():
        what = "is a file, not a folder" if source.exists() else "not found"
        return _partial(source, {}, [], {}, [diagnostic(str(source), "C001", f"source folder {what}")])
    problems: list[Diagnostic] = []
    places: dict[tuple[Any, ...], Location] = {}
    values: dict[str, Any] = {}
    for name, (attr, _, required) in SCHEMA.items():
        path = source / name
        shown = _shown(source, path)
        if not path.exists() and not path.is_symlink():
            if required:
                problems.append(diagnostic(shown, "C002", f"required file {name} is missing"))
            continue
        try:
            parsed = parse_yaml(read_text(path, shown, source), shown)
            if parsed.data is None:
                problems.append(
                    diagnostic(Location(shown, 1), "C004", "file has only comments or blank lines")
                )
                continue
            context = {"parts": gating.ranks(values["book"])} if values.get("book") else None
            values[attr] = _validate(_ADAPTERS[name], parsed, problems, context)
        except CompanionError as exc:
            problems.extend(exc.diagnostics)
            continue
        places.update({(name, *key): loc for key, loc in parsed.places.items()})
    chapters = []
    context = {"parts": gating.ranks(values["book"])} if values.get("book") else None
    for path in _chapter_files(source, problems):
        try:
            chapter = _chapter(path, _shown(source, path), source, problems, context)
        except CompanionError as exc:
            problems.extend(exc.diagnostics)
            continue
        if chapter is not None:
            chapters.append(chapter)
    if problems or "book" not in values or "about" not in values:
        return _partial(source, values, chapters, places, problems)
    companion = m.Companion(
        root=str(source),
        chapters=tuple(chapters),
        sources=m.SourceMap(MappingProxyType(places)),
        **values,
    )
    return Loaded(companion)


def _partial(
    source: Path,
    values: dict[str, Any],
    chapters: list[m.Chapter],
    places: dict[tuple[Any, ...], Location],
    problems: list[Diagnostic],
) -> Loaded:
    """What did load, with the problems: the files that failed are None or left out."""
    loaded = {attr: value for attr, value in values.items() if value is not None}
    partial = m.Companion(
        root=str(source),
        book=loaded.pop("book", None),
        about=loaded.pop("about", None),
        chapters=tuple(chapters),
        sources=m.SourceMap(MappingProxyType(places)),
        **loaded,
    )
    return Loaded(partial, tuple(problems))


def _chapter_files(source: Path, problems: list[Diagnostic]) -> list[Path]:
    """source/chapters/*.md, in name order; the folder itself must be a folder inside source/."""
    folder = source / "chapters"
    try:
        if gate.folder(folder, source) is None:
            return []
    except gate.Refused as exc:
        problems.append(diagnostic(_shown(source, folder), exc.code, exc.message))
        return []
    return [p for p in gate.entries(folder) if p.suffix == ".md" and not p.name.startswith(".")]


def _shown(source: Path, path: Path) -> str:
    """The path as the user would write it: relative to the working folder when possible."""
    try:
        return str((path.parent.resolve() / path.name).relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_book(source: Path) -> m.Book | None:
    """Just book.yaml, quietly: None on any problem (the full load reports it). Lets a build start
    drawing the cover before the rest of the source is read."""
    path = source / "book.yaml"
    try:
        parsed = parse_yaml(read_text(path, str(path), source), str(path))
    except CompanionError:
        return None
    book: m.Book | None = _validate(_ADAPTERS["book.yaml"], parsed, [])
    return book


def _validate(
    schema: tuple[TypeAdapter[Any], Any],
    parsed: Parsed,
    problems: list[Diagnostic],
    context: dict[str, Any] | None = None,
) -> Any:
    """`context["parts"]`: the novel's part ids and ranks, which `reveals` is checked against."""
    adapter, kind = schema
    try:
        return adapter.validate_python(parsed.data, context=context)
    except ValidationError as exc:
        problems.extend(_diagnostics(exc, kind, parsed.places))
        return None


def _found(value: Any) -> str:
    """What a wrongly typed value is, in YAML words."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else f"`{_shown_value(value)}`"


def _diagnostics(exc: ValidationError, kind: Any, places: Places) -> list[Diagnostic]:
    out = []
    for error in exc.errors(include_url=False):
        loc = tuple(
            part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-"))
        )
        error_type = error["type"]
        if error_type == "extra_forbidden":
            where = places.get(("key", *loc)) or _find(places, loc)
            name = str(loc[-1])
            known = _known_fields(kind, loc[:-1])
            close = difflib.get_close_matches(name, known, n=1)
            hint = (
                f"did you mean `{close[0]}`?"
                if close
                else (f"known keys: {', '.join(known)}" if known else "")
            )
            out.append(Diagnostic(where, "C012", f"unknown key `{name}`", hint))
        elif error_type == "missing":
            where = _find(places, loc[:-1])
            out.append(
                Diagnostic(
                    where, "C013", f"required field `{_field(loc)}` is missing", f"add `{loc[-1]}: ...`"
                )
            )
        elif error_type in _GATING:
            code, key, hint = _GATING[error_type]
            out.append(Diagnostic(_find(places, (*loc, key)), code, str(error["msg"]), hint))
        else:
            message, hint = _explain(error, loc)
            out.append(Diagnostic(_find(places, loc), "C014", message, hint))
    return out


_GATING = {
    # pydantic error type (gating.py, model.py): code, the key it is about, hint
    "unknown_part": ("C080", "reveals", "name one of `novel.parts` in book.yaml, or `start`"),
    "spoilers_disagree": ("C081", "spoilers", "drop `spoilers:`; `reveals:` says how far it gives away"),
    "duplicate_part": ("C082", "parts", "give each part its own id (`start` and `end` are taken)"),
}

_PATTERNS = {
    r"^[a-z][a-z0-9-]{0,63}$": "an id: lowercase letters, digits and -, starting with a letter (64 at most)",
    r"^[a-z0-9][a-z0-9-]{0,63}$": "lowercase letters, digits and - (64 at most), such as `my-companion`",
    r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$": "a language tag such as `en`, `en-GB` or `fr`",
    r"^#[0-9a-fA-F]{6}$": "a colour written #rrggbb, such as `#1f2f3a`",
    m.COLOUR_PATTERN: "a colour written #rrggbb, such as `#1f2f3a`, or device-cmyk(c m y k), such as "
    "`device-cmyk(0.64 0.41 0.22 0.82)`",
    r"^[0-9][0-9 -]{11,18}[0-9]$": "an ISBN-13 such as `978-1-4028-9462-6`",
    r"^[0-9]{5}$": "five digits, such as `51299`",
    m.URL_PATTERN: "the site's address, starting http:// or https://, such as `https://example.org/guide/`",
}


def _field(loc: tuple[Any, ...]) -> str:
    """A field's dotted name without list indexes (the line already says which entry)."""
    return ".".join(str(part) for part in loc if not isinstance(part, int))


def _shown_value(value: Any) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= 40 else text[:39] + "…"


def _explain(error: Any, loc: tuple[Any, ...]) -> tuple[str, str]:
    """A wrong value's message and hint, in the words of the YAML file rather than of pydantic."""
    kind = error["type"]
    value = error.get("input")
    name = f"`{_field(loc)}`" if _field(loc) else "the file"
    scalar = isinstance(value, str | int | float | bool | dt.date) and not isinstance(value, dict | list)
    got = f" (found `{_shown_value(value)}`)" if scalar else ""
    if kind in {"model_type", "dict_type"}:
        return f"{name} must be a set of `key: value` lines, not {_found(value)}", ""
    if kind in {"tuple_type", "list_type"}:
        found = _found(value)
        return f"{name} must be a list of entries, each starting with `- `, not {found}", ""
    if kind == "string_type":
        hint = f'put the value in quotes: "{value}"' if scalar else ""
        return f"{name} must be text{got}", hint
    if kind == "string_too_short":
        return f"{name} must not be empty", ""
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        return f"{name} is not valid{got}", f"write {_PATTERNS.get(pattern, f'text matching {pattern}')}"
    if kind.startswith(("int_", "float_")):
        return f"{name} must be a whole number{got}", ""
    if kind.startswith(("date_", "datetime_")):
        return f"{name} must be a date{got}", "write it as YYYY-MM-DD, such as 2024-01-31"
    if kind.startswith("bool_"):
        return f"{name} must be true or false{got}", ""
    if kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"{name} must be one of {expected}{got}", ""
    return f"{name}: {error['msg']}{got}", ""


def _find(places: Places, key: tuple[Any, ...]) -> Location:
    while key not in places:
        key = key[:-1]
    return places[key]


def _known_fields(kind: Any, loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at `loc` inside values of type `kind`."""
    current: Any = _model_in(kind)
    for part in loc:
        if current is None or isinstance(part, int):
            continue
        field = current.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        current = _model_in(annotation)
    return sorted(current.model_fields) if current is not None else []


def _model_in(annotation: Any) -> Any:
    """The first pydantic model inside a type annotation (tuple[X, ...], X | None, X)."""
    return next((a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, BaseModel)), None)


def _flatten(annotation: Any) -> list[Any]:
    args = getattr(annotation, "__args__", None)
    if not args:
        return [annotation]
    return [leaf for arg in args for leaf in _flatten(arg)]


def _chapter(
    path: Path, shown: str, source: Path, problems: list[Diagnostic], context: dict[str, Any] | None
) -> m.Chapter | None:
    text = read_text(path, shown, source)
    fences = list(_FENCE.finditer(text))
    if not fences or fences[0].start() != 0:
        problems.append(diagnostic(Location(shown, 1, 1), "C015", "chapter has no front matter"))
        return None
    if len(fences) < 2:
        problems.append(
            diagnostic(
                Location(shown, 1, 1),
                "C015",
                "front matter is not closed",
                "end the front matter with a line holding only ---",
            )
        )
        return None
    header = text[fences[0].end() + 1 : fences[1].start()]
    body = text[fences[1].end() + 1 :]
    body_line = text.count("\n", 0, fences[1].end()) + 2
    if not header.strip():
        problems.append(diagnostic(Location(shown, 1, 1), "C015", "front matter is empty; it needs `title:`"))
        return None
    parsed = parse_yaml(header, shown, first_line=2)
    if not isinstance(parsed.data, dict):
        problems.append(diagnostic(Location(shown, 2, 1), "C015", "front matter must be `key: value` lines"))
        return None
    front = _validate(_FRONT_MATTER, parsed, problems, context)
    if front is None:
        return None
    if not body.strip():
        problems.append(
            diagnostic(Location(shown, body_line), "C004", "chapter has no text after its front matter")
        )
        return None
    stem = re.sub(r"^[0-9]+[-_ .]*", "", path.stem).lower()
    ident = front.id or re.sub(r"[^a-z0-9]+", "-", stem).strip("-") or "chapter"
    if not ident[0].isalpha():
        ident = "ch-" + ident
    return m.Chapter(
        id=ident,
        title=front.title,
        body=body,
        spoilers=front.spoilers,
        reveals=front.reveals,
        epigraph=front.epigraph,
        path=shown,
        body_line=body_line,
    )
