"""web package: the reading stages of the web edition, and the edition each stage shows.

The stages are the gating API's (source/gating.py): "before you start" (rank 0), then the end of
each part of the novel in reading order; the last is the whole companion. A stage's folder holds
the edition `Edition(through=<stage>)` keeps: every item whose `reveals` rank is at most the stage's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from companion.render.edition import Edition
from companion.source import gating
from companion.source.gating import Stage

__all__ = ["Stage", "edition", "label", "stages", "within"]


def stages(book: Any) -> tuple[Stage, ...]:
    """Every stage in reading order: before starting the novel first, the whole companion last."""
    return gating.stages(book)


def edition(stage: Stage, book: Any, limit: Edition) -> Edition:
    """The edition a reader at `stage` may see, in the layout of the build's edition `limit`."""
    return dataclasses.replace(Edition(through=stage.id), layout=limit.layout).bind(book)


def within(every: tuple[Stage, ...], limit: Edition) -> tuple[Stage, ...]:
    """The stages a build of edition `limit` may publish: none beyond its own (`--through`)."""
    return every if limit.rank is None else tuple(s for s in every if s.rank <= limit.rank)


def label(stage: Stage) -> str:
    """How the chooser and the pages name a stage: "Before you start", "Finished Part One"."""
    if stage.rank == 0:
        return stage.title
    return "Finished the novel" if stage.id == gating.WHOLE else f"Finished {stage.title}"
