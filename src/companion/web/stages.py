"""render: the reading stages of the web edition, and the edition each stage shows.

The one place that knows how far a reader can have read. Until the gating API (issue 18,
`gating.stages`) lands, there are two stages taken from the `spoilers` flag: "start" (nothing
revealed, rank 0) and "finished" (the whole companion, rank 1); an item's rank is 1 when it is
marked `spoilers: true`, else 0. A stage shows the items whose rank is at most its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.render.render import Edition
from companion.source.model import Companion, Spoilable


@dataclass(frozen=True)
class Stage:
    id: str
    """A slug, and the stage's folder in the site."""
    title: str
    rank: int


def stages(companion: Companion) -> tuple[Stage, ...]:
    """Every stage in reading order: before starting the novel first, the whole companion last."""
    del companion  # the parts of the novel come from book.yaml once the gating API is there
    return (Stage("start", "Before you start", 0), Stage("finished", "Finished the novel", 1))


def rank(item: Spoilable) -> int:
    """The rank of the stage a reader must have reached to see `item`."""
    return 1 if item.spoilers else 0


def edition(stage: Stage, every: tuple[Stage, ...]) -> Edition:
    """The edition that holds what a reader at `stage` may see."""
    return Edition(spoilers=stage.rank >= every[-1].rank)


def within(every: tuple[Stage, ...], limit: Edition) -> tuple[Stage, ...]:
    """The stages a build of edition `limit` may publish (a spoiler-free build: the first only)."""
    return every if limit.spoilers else every[:1]
