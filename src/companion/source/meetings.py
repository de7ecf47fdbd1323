"""The host's kit's meetings, one per part of the novel, and the questions each discusses.

A book club reads the novel over several meetings, one part at a time. `parts()` is the one place
that says what the parts are; `source/meetings.yaml` plans a meeting for a part (its length, the
timings, a warm-up, and for the host alone what the next part reveals); `plan()` gives each meeting
its questions. A question is asked at the meeting for its `part`; one whose part has no meeting (the
bundled companion's "The whole novel") waits for the last meeting, when everyone has finished the
book, so that no meeting ever asks about a part its readers have not reached. (Until the parts are
declared in book.yaml the last meeting cannot tell the novel's end from a part without a meeting:
plan the last meeting for the last part.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from companion.core.errors import Diagnostic, diagnostic
from companion.source.markdown import plain
from companion.source.model import Companion, Meeting, Question


@dataclass(frozen=True)
class Part:
    """A part of the novel, in reading order (rank 1 is the first); the gating API's `Stage`."""

    id: str
    title: str
    rank: int


@dataclass(frozen=True)
class Planned:
    """A meeting with what it discusses: the part, the part after it (for the host), its questions."""

    meeting: Meeting
    number: int
    part: Part
    next_part: Part | None
    questions: tuple[tuple[int, Question], ...]
    """(number in the companion, question), in the companion's order."""


def slug(title: str) -> str:
    """A part's id from its title: "Part One" -> "part-one"."""
    return re.sub(r"[^a-z0-9]+", "-", plain(title).casefold()).strip("-") or "part"


def parts(companion: Companion) -> tuple[Part, ...]:
    """The novel's parts, in reading order.

    Until the parts are declared in book.yaml (the gating API, `gating.stages(book)[1:]`), they are
    the distinct `part` values of the questions, in the order they first appear."""
    titles = dict.fromkeys(q.part for q in companion.questions if q.part)
    return tuple(Part(slug(title), title, rank) for rank, title in enumerate(titles, start=1))


def problems(companion: Companion) -> list[Diagnostic]:
    """C085 a meeting for a part the novel does not have, C086 two meetings for one part, C087
    timings that do not add up to the meeting's length."""
    known = {part.id for part in parts(companion)}
    found: list[Diagnostic] = []
    seen: set[str] = set()
    for index, meeting in enumerate(companion.meetings or ()):
        where = companion.sources.find(("meetings.yaml", index, "part"))
        if meeting.part not in known:
            listed = ", ".join(f"`{ident}`" for ident in sorted(known)) or "none (no question names a part)"
            found.append(
                diagnostic(where, "C085", f"no part of the novel has id `{meeting.part}`", f"parts: {listed}")
            )
        elif meeting.part in seen:
            found.append(diagnostic(where, "C086", f"part `{meeting.part}` already has a meeting"))
        seen.add(meeting.part)
        total = sum(step.minutes for step in meeting.timings)
        if meeting.timings and total != meeting.minutes:
            where = companion.sources.find(("meetings.yaml", index, "timings"))
            message = f"the timings add up to {total} minutes; the meeting lasts {meeting.minutes}"
            found.append(diagnostic(where, "C087", message))
    return found


def plan(companion: Companion) -> tuple[Planned, ...]:
    """The meetings in reading order, each with its questions (see the module's doc)."""
    every = parts(companion)
    by_id = {part.id: part for part in every}
    first = {m.part: m for m in reversed(companion.meetings) if m.part in by_id}  # C086 keeps the first
    meetings = sorted(first.values(), key=lambda m: by_id[m.part].rank)
    if not meetings:
        return ()
    met = {by_id[m.part].title: i for i, m in enumerate(meetings)}
    asked: list[list[tuple[int, Question]]] = [[] for _ in meetings]
    for number, question in enumerate(companion.questions, start=1):
        at = met.get(question.part, len(meetings) - 1)
        reveals = getattr(question, "reveals", 0)  # the gating API's rank, once it lands (0 until then)
        while at < len(meetings) and by_id[meetings[at].part].rank < reveals:
            at += 1  # never before the part it gives away
        if at < len(meetings):
            asked[at].append((number, question))
    planned = []
    for i, meeting in enumerate(meetings):
        part = by_id[meeting.part]
        later = by_id[meetings[i + 1].part] if i + 1 < len(meetings) else None
        planned.append(Planned(meeting, i + 1, part, later, tuple(asked[i])))
    return tuple(planned)


def rank_of(companion: Companion, question: Question) -> int:
    """How far a reader must have read to be asked `question`: its meeting's part (the last
    meeting's for a question whose part has no meeting)."""
    for planned in plan(companion):
        if any(q is question for _, q in planned.questions):
            return planned.part.rank
    return 0
