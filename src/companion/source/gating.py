"""source package: gating by reading progress. The novel's parts are declared once (`novel.parts` in
book.yaml); every item may say how far a reader must have read to see it (`reveals: <part id>`), and an
edition keeps the items a reader who has finished its stage may see.

A stage is "before you start" (rank 0) or the end of one part (rank 1..n, reading order). An item's
`reveals` is the rank of the part it gives away (0: nothing); `spoilers: true` is a synonym for the last
part (the end), `spoilers: false` for nothing. A book that declares no parts has one, the whole novel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic_core import PydanticCustomError

START = "start"
"""The stage before a reader has begun the novel: the spoiler-free edition."""
WHOLE = "end"
"""The one part of a book that declares none: the whole novel."""
FENCE = "reveals"
"""A chapter's gated section opens with `::: reveals <part id>` and closes with `:::`."""


@dataclass(frozen=True)
class Stage:
    id: str
    title: str
    rank: int


def stages(book: Any) -> tuple[Stage, ...]:
    """Before you start, then the end of each part in reading order."""
    parts = tuple(book.novel.parts) if book is not None else ()
    listed = [Stage(p.id, p.title, rank) for rank, p in enumerate(parts, start=1)]
    return (Stage(START, "Before you start", 0), *(listed or [Stage(WHOLE, "The whole novel", 1)]))


def ranks(book: Any) -> dict[str, int]:
    """Part id -> rank, for every part of `book` (the context the loader validates items with)."""
    return {stage.id: stage.rank for stage in stages(book)[1:]}


def visible(reveals: int, through: int) -> bool:
    """An item that reveals part `reveals` is seen by a reader who has finished part `through`."""
    return reveals <= through


def find(book: Any, ident: str) -> Stage | None:
    """The stage called `ident`, or None."""
    return next((stage for stage in stages(book) if stage.id == ident), None)


def resolve(value: Any, context: Mapping[str, Any] | None) -> Any:
    """An item's fields as written -> as modelled: `reveals: part-two` becomes the part's rank, and
    `spoilers` is true when the item gives anything away (the "(spoilers)" mark). `context["parts"]` maps
    part ids to ranks; without one (a model built in code, or book.yaml failed to load) any part id is
    taken as revealing nothing, the book's own problem being reported elsewhere. `spoilers: true` with a
    `reveals` is redundant but agrees; `spoilers: false` with one that gives something away is refused."""
    if not isinstance(value, dict):
        return value
    parts = (context or {}).get("parts")
    last = max(parts.values(), default=1) if parts else 1
    written = value.get("reveals")
    spoilers = value.get("spoilers")
    if written is None:
        rank = last if spoilers is True else 0
    elif isinstance(written, bool) or not isinstance(written, str):
        raise PydanticCustomError(
            "unknown_part", "`reveals` must name a part of the novel", {"part": written}
        )
    elif parts is None or written == START:
        rank = 0
    elif written not in parts:
        raise PydanticCustomError("unknown_part", "no part `{part}`", {"part": written})
    else:
        rank = parts[written]
    if written is not None and spoilers is False and rank > 0:
        raise PydanticCustomError("spoilers_disagree", "`spoilers: false` says otherwise", {})
    if spoilers is not None and not isinstance(spoilers, bool):
        return {**value, "reveals": rank}  # pydantic reports the value as it stands
    return {**value, "reveals": rank, "spoilers": rank > 0}


def section_part(params: str) -> str | None:
    """The part id of a section fence's words (`reveals part-two`), or None when they are not that."""
    words = params.split()
    return words[1] if len(words) == 2 and words[0] == FENCE else None
