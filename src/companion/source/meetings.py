"""The host's kit's meetings, one per part of the novel, and the questions each discusses.

A book club reads the novel over several meetings, one part at a time. The parts are the gating
API's (`novel.parts` in book.yaml, gating.py); `source/meetings.yaml` plans a meeting for a part (its
length, the timings, a warm-up, and for the host alone what the next part reveals); `plan()` gives
each meeting its questions. A question belongs to the part its `part` names (by title or id; one
that names no part of the novel, such as the bundled companion's "The whole novel", to the last
part), and never to one before the part it `reveals`. It is asked at the first meeting for that part
or a later one, so that no meeting asks about a part its readers have not reached; a question no
meeting reaches is left out of the kit.
"""

from __future__ import annotations

from dataclasses import dataclass

from companion.core.errors import Diagnostic, diagnostic
from companion.source import gating
from companion.source.markdown import plain
from companion.source.model import Companion, Meeting, Question

Part = gating.Stage
"""A part of the novel, in reading order (rank 1 is the first)."""


@dataclass(frozen=True)
class Planned:
    """A meeting with what it discusses: the part, the part after it (for the host), its questions."""

    meeting: Meeting
    number: int
    part: Part
    next_part: Part | None
    questions: tuple[tuple[int, Question], ...]
    """(number in the companion, question), in the companion's order."""


def parts(companion: Companion) -> tuple[Part, ...]:
    """The novel's parts, in reading order (the gating API's stages after "before you start")."""
    return gating.stages(companion.book)[1:]


def needs(companion: Companion, question: Question) -> int:
    """The rank of the part a reader must have finished to be asked `question` (see the module's doc)."""
    every = parts(companion)
    named = plain(question.part).casefold()
    part = next((p for p in every if named in (plain(p.title).casefold(), p.id)), None)
    return max(part.rank if part is not None else every[-1].rank, question.reveals)


def problems(companion: Companion) -> list[Diagnostic]:
    """C085 a meeting for a part the novel does not have, C086 two meetings for one part, C087
    timings that do not add up to the meeting's length."""
    known = {part.id for part in parts(companion)}
    found: list[Diagnostic] = []
    seen: set[str] = set()
    for index, meeting in enumerate(companion.meetings or ()):
        where = companion.sources.find(("meetings.yaml", index, "part"))
        if meeting.part not in known:
            listed = ", ".join(f"`{part.id}`" for part in parts(companion))
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
    asked: list[list[tuple[int, Question]]] = [[] for _ in meetings]
    for number, question in enumerate(companion.questions, start=1):
        rank = needs(companion, question)
        at = next((i for i, m in enumerate(meetings) if by_id[m.part].rank >= rank), None)
        if at is not None:
            asked[at].append((number, question))
    planned = []
    for i, meeting in enumerate(meetings):
        part = by_id[meeting.part]
        later = by_id[meetings[i + 1].part] if i + 1 < len(meetings) else None
        planned.append(Planned(meeting, i + 1, part, later, tuple(asked[i])))
    return tuple(planned)
