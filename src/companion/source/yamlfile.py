"""Reading source files: bounded size, strict UTF-8, YAML with the line and column of every value.

Absurd input is refused before it costs time or memory: files over 2 MB, YAML anchors and aliases
(the "billion laughs"), explicit tags, nesting deeper than MAX_DEPTH, and characters that XML
(hence EPUB and PDF metadata) cannot carry.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from companion.core import gate
from companion.core.cache import memo
from companion.core.errors import CompanionError, Diagnostic, Location, diagnostic

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 32
MAX_REPORTED = 10
"""At most this many bad characters are reported per file."""

FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
"""Characters XML 1.0 cannot hold (and DEL): they would break the EPUB, so they are refused at load."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PAIR = re.compile("([\ud800-\udbff])([\udc00-\udfff])")

Places = dict[tuple[Any, ...], Location]


def _join_pair(match: re.Match[str]) -> str:
    high, low = (ord(ch) for ch in match.groups())
    return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


@dataclass(frozen=True)
class Parsed:
    data: Any
    places: Places
    """(key, index, ...) below the file's root -> where the value starts."""


def read_text(path: Path, shown: str, root: Path | None = None) -> str:
    """The file's text, or a CompanionError naming the file (and line, for bad UTF-8 or characters).
    With `root`, the file must be inside it (gate.read)."""
    try:
        raw = gate.read(path, root, MAX_FILE_BYTES)
    except gate.Refused as exc:
        raise CompanionError([diagnostic(shown, exc.code, exc.message)]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise CompanionError(
            [diagnostic(Location(shown, line, col), "C003", f"invalid UTF-8 byte 0x{raw[exc.start]:02x}")]
        ) from exc
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise CompanionError([diagnostic(Location(shown, 1), "C004", "file is empty")])
    bad = control_characters(text, Location(shown, 1, 1))
    if bad:
        raise CompanionError(bad)
    return text


def control_characters(text: str, start: Location) -> list[Diagnostic]:
    """A C008 diagnostic for each character of `text` that XML cannot hold (`start`: where text begins)."""
    found: list[Diagnostic] = []
    for match in FORBIDDEN_CHARS.finditer(text):
        if len(found) == MAX_REPORTED:
            break
        before = text[: match.start()]
        lines = before.count("\n")
        col = match.start() - (before.rfind("\n") + 1) + 1
        if lines == 0 and start.col:
            col += start.col - 1
        where = Location(start.path, start.line + lines if start.line else 0, col if start.line else 0)
        found.append(
            diagnostic(where, "C008", f"control character U+{ord(match.group()):04X} is not allowed")
        )
    return found


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def _mark(shown: str, mark: Any, offset: int) -> Location:
    return Location(shown, mark.line + 1 + offset, mark.column + 1) if mark is not None else Location(shown)


def _needs_screening(text: str) -> bool:
    """Whether the text could hold an anchor (&), an alias (*), a tag (!), a complex key (?, [, {)
    or nesting deeper than MAX_DEPTH (every collection needs a `:`, `-`, `[` or `{`). Most files, like
    a chapter's front matter, cannot, and are spared the extra pass."""
    if any(mark in text for mark in "&*!?[{"):  # ? [ {: a key could be a collection
        return True
    return sum(text.count(mark) for mark in ":-[{") >= MAX_DEPTH


def _refuse(shown: str, mark: Any, offset: int, code: str, message: str) -> CompanionError:
    return CompanionError([diagnostic(_mark(shown, mark, offset), code, message)])


def _screen(yaml: YAML, text: str, shown: str, offset: int, *, values: bool = False) -> None:
    """Walk the events once: refuse anchors, aliases, tags, complex keys (a mapping or list as a key,
    which ruamel composes in exponential time) and deep nesting before anything is built. With
    `values`, also find the scalar that cannot be built (an invalid date, an absurdly long number)."""
    frames: list[list[int]] = []  # per open collection: [1 if a mapping else 0, nodes seen]
    for event in yaml.parse(text):
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
            raise _refuse(
                shown, event.start_mark, offset, "C011", "anchors and aliases (& and *) are not allowed"
            )
        tag = getattr(event, "tag", None)
        if isinstance(event, NodeEvent) and tag is not None:
            raise _refuse(shown, event.start_mark, offset, "C017", f"YAML tag `{tag}` is not allowed")
        if isinstance(event, NodeEvent) and frames:
            is_key = frames[-1][0] == 1 and frames[-1][1] % 2 == 0
            frames[-1][1] += 1
            if is_key and isinstance(event, CollectionStartEvent):
                raise _refuse(
                    shown,
                    event.start_mark,
                    offset,
                    "C047",
                    "a key that is itself a mapping or a list is not allowed",
                )
        if isinstance(event, CollectionStartEvent):
            frames.append([1 if isinstance(event, MappingStartEvent) else 0, 0])
            if len(frames) > MAX_DEPTH:
                raise _refuse(
                    shown,
                    event.start_mark,
                    offset,
                    "C007",
                    f"values are nested more than {MAX_DEPTH} levels deep",
                )
        elif isinstance(event, CollectionEndEvent):
            frames.pop()
        elif values and isinstance(event, ScalarEvent) and event.style is None:
            problem = _scalar_problem(event.value)
            if problem:
                raise _refuse(shown, event.start_mark, offset, "C010", problem)


_INTEGER = re.compile(r"[-+]?[0-9][0-9_]*")
_DATE_LIKE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?")
MAX_DIGITS = 100


def _scalar_problem(value: str) -> str:
    """Why an unquoted scalar cannot be built as the value YAML reads it as ('' if it can)."""
    if _INTEGER.fullmatch(value) and len(value) > MAX_DIGITS:
        return f"a number of {len(value):,} digits is too long (at most {MAX_DIGITS}); quote it if it is text"
    if _DATE_LIKE.fullmatch(value):
        try:
            _check_timestamp(value)
        except (ValueError, TypeError, OverflowError) as exc:
            return f"invalid date `{value[:40]}`: {exc}"
    return ""


def _check_timestamp(value: str) -> None:
    day = value[:10].split("-")
    dt.date(int(day[0]), int(day[1]), int(day[2]))
    if len(value) > 10:
        dt.datetime.fromisoformat(value.replace("t", "T").replace("z", "+00:00").replace("Z", "+00:00"))


def parse_yaml(text: str, shown: str, first_line: int = 1) -> Parsed:
    """Parse YAML text that starts at `first_line` of file `shown`; refuse anchors, aliases and tags.

    A successful parse is remembered across builds (by the text's hash) when a build cache is active."""
    remembered = memo("yaml")
    if remembered is None:
        return _parse_yaml(text, shown, first_line)
    key = hashlib.sha256(f"{shown}\0{first_line}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
    hit = remembered.get(key)
    if hit is not None:
        with contextlib.suppress(KeyError, TypeError, ValueError, IndexError):
            return Parsed(
                _thaw(hit["data"]),
                {tuple(k): Location(*where) for k, where in hit["places"]},
            )
    parsed = _parse_yaml(text, shown, first_line)
    remembered.put(
        key,
        {
            "data": _freeze(parsed.data),
            "places": [[list(k), [w.path, w.line, w.col]] for k, w in parsed.places.items()],
        },
    )
    return parsed


_DATE, _DATETIME = "\u0000date", "\u0000datetime"


def _freeze(value: Any) -> Any:
    """Plain YAML data as JSON (dates tagged)."""
    if isinstance(value, dict):
        return {k: _freeze(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_freeze(v) for v in value]
    if isinstance(value, dt.datetime):
        return {_DATETIME: value.isoformat()}
    if isinstance(value, dt.date):
        return {_DATE: value.isoformat()}
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_DATE}:
            return dt.date.fromisoformat(value[_DATE])
        if set(value) == {_DATETIME}:
            return dt.datetime.fromisoformat(value[_DATETIME])
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_thaw(v) for v in value]
    return value


def _parse_yaml(text: str, shown: str, first_line: int) -> Parsed:
    offset = first_line - 1
    yaml = _yaml()
    try:
        if _needs_screening(text):
            _screen(yaml, text, shown, offset)
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in str(exc):
            name = str(exc).split('found duplicate key "', 1)[-1].split('"', 1)[0]
            problem = f"key `{name}` appears twice"
        elif exc.context and problem.startswith("but "):
            problem = f"{exc.context.strip()}, {problem}"
        elif exc.context and exc.context_mark is not None and exc.problem_mark is not None:
            problem += f" ({exc.context.strip()} at line {exc.context_mark.line + 1 + offset})"
        raise CompanionError([diagnostic(_mark(shown, mark, offset), "C010", problem)]) from exc
    except YAMLError as exc:
        raise CompanionError([diagnostic(Location(shown, first_line), "C010", str(exc))]) from exc
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. a date like 2024-13-45
        _screen(yaml, text, shown, offset, values=True)  # raises at the value's own line, if it finds it
        raise CompanionError(
            [diagnostic(Location(shown, first_line), "C010", f"invalid value: {exc}")]
        ) from exc
    places: Places = {(): Location(shown, first_line, 1)}
    problems: list[Diagnostic] = []
    plain = _plain(data, (), places, shown, offset, problems)
    if problems:
        raise CompanionError(problems)
    return Parsed(plain, places)


def _plain(
    node: Any, key: tuple[Any, ...], places: Places, shown: str, offset: int, problems: list[Diagnostic]
) -> Any:
    """Convert ruamel's round-trip nodes to plain Python, recording each value's place."""
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for name, value in node.items():
            vline, vcol = node.lc.value(name)
            kline, kcol = node.lc.key(name)
            block = isinstance(value, LiteralScalarString | FoldedScalarString)
            here = (*key, str(name))
            places[here] = (
                Location(shown, vline + 2 + offset, 1)
                if block
                else Location(shown, vline + 1 + offset, vcol + 1)
            )
            places[("key", *here)] = Location(shown, kline + 1 + offset, kcol + 1)
            out[str(name)] = _plain(value, here, places, shown, offset, problems)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            line, col = node.lc.item(index)
            places[(*key, index)] = Location(shown, line + 1 + offset, col + 1)
            items.append(_plain(value, (*key, index), places, shown, offset, problems))
        return items
    if isinstance(node, str):
        if _SURROGATE.search(node):  # "\ud83d\ude00" escapes: join the pairs, as JSON does
            node = _SURROGATE_PAIR.sub(_join_pair, node)
            if _SURROGATE.search(node):
                where = places.get(key, Location(shown, offset + 1))
                problems.append(
                    diagnostic(where, "C008", "an unpaired surrogate escape (\\ud800-\\udfff) is not allowed")
                )
                return str(node)
        if FORBIDDEN_CHARS.search(node):  # written as an escape (\0, \x01, \u0000) in a quoted string
            where = places.get(key, Location(shown, offset + 1))
            char = FORBIDDEN_CHARS.search(node)
            assert char is not None
            problems.append(
                diagnostic(where, "C008", f"control character U+{ord(char.group()):04X} is not allowed")
            )
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
