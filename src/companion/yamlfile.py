"""Reading source files: bounded size, strict UTF-8, YAML with the line and column of every value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from .errors import CompanionError, Location, diagnostic

MAX_FILE_BYTES = 2 * 1024 * 1024

Places = dict[tuple[Any, ...], Location]


@dataclass(frozen=True)
class Parsed:
    data: Any
    places: Places
    """(key, index, ...) below the file's root -> where the value starts."""


def read_text(path: Path, shown: str) -> str:
    """The file's text, or a CompanionError naming the file (and line, for bad UTF-8)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CompanionError(
                [diagnostic(shown, "C005", f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")]
            )
        raw = path.read_bytes()
    except OSError as exc:
        raise CompanionError([diagnostic(shown, "C006", f"cannot read file: {exc.strerror}")]) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise CompanionError(
            [diagnostic(Location(shown, line, col), "C003", f"invalid UTF-8 byte 0x{raw[exc.start]:02x}")]
        ) from exc
    if not text.strip():
        raise CompanionError([diagnostic(Location(shown, 1), "C004", "file is empty")])
    return text.removeprefix("\ufeff")


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.allow_duplicate_keys = False
    return yaml


def parse_yaml(text: str, shown: str, first_line: int = 1) -> Parsed:
    """Parse YAML text that starts at `first_line` of file `shown`; refuse anchors and aliases."""
    offset = first_line - 1
    yaml = _yaml()
    try:
        for event in yaml.parse(text):
            anchor = getattr(event, "anchor", None)
            if isinstance(event, AliasEvent) or (
                isinstance(event, ScalarEvent | CollectionStartEvent) and anchor
            ):
                mark = event.start_mark
                where = Location(shown, mark.line + 1 + offset, mark.column + 1)
                raise CompanionError([diagnostic(where, "C011", "anchors and aliases (& and *) are not allowed")])
        data = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(shown, mark.line + 1 + offset, mark.column + 1) if mark else Location(shown)
        problem = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in str(exc):
            problem = "duplicate key " + str(exc).split('found duplicate key "', 1)[-1].split('"', 1)[0]
        raise CompanionError([diagnostic(where, "C010", problem)]) from exc
    except YAMLError as exc:
        raise CompanionError([diagnostic(Location(shown, first_line), "C010", str(exc))]) from exc
    places: Places = {(): Location(shown, first_line, 1)}
    return Parsed(_plain(data, (), places, shown, offset), places)


def _plain(node: Any, key: tuple[Any, ...], places: Places, shown: str, offset: int) -> Any:
    """Convert ruamel's round-trip nodes to plain Python, recording each value's place."""
    if isinstance(node, CommentedMap):
        out: dict[Any, Any] = {}
        for name, value in node.items():
            vline, vcol = node.lc.value(name)
            kline, kcol = node.lc.key(name)
            block = isinstance(value, LiteralScalarString | FoldedScalarString)
            here = key + (str(name),)
            places[here] = (
                Location(shown, vline + 2 + offset, 1) if block else Location(shown, vline + 1 + offset, vcol + 1)
            )
            places[("key", *here)] = Location(shown, kline + 1 + offset, kcol + 1)
            out[str(name)] = _plain(value, here, places, shown, offset)
        return out
    if isinstance(node, CommentedSeq):
        items = []
        for index, value in enumerate(node):
            line, col = node.lc.item(index)
            places[key + (index,)] = Location(shown, line + 1 + offset, col + 1)
            items.append(_plain(value, key + (index,), places, shown, offset))
        return items
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
