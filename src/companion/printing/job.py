"""Lay out the print interior in parts on both cores, settle its page numbers, write and merge it.

pdfparts.py says why the interior can be laid out in parts. The steps:

1. Every part is laid out with the same placeholder page numbers, so that its layout depends on
   nothing outside it (or its report comes from the cache, by its own content).
2. The true numbers follow from the parts' page counts. A part whose lines cannot take its true
   numbers in place (`PartLayout.fits`) is laid out again with them; that may change its page count
   and so the numbers: repeat until they hold.
3. Each part gets its true numbers put in place and is written on the worker that laid it out (or
   comes whole from the cache); `Printing.result` merges the parts.

A part's PDF depends only on its content and its true numbers, whichever way it was reached, so two
builds of the same source give the same bytes, with or without a cache.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from companion.core import parallel
from companion.core.cache import digest
from companion.printing import lint
from companion.printing import merge as pdfmerge
from companion.printing import parts as pdfparts
from companion.printing.layout import PrintLayout
from companion.printing.worker import PartLayout, PartReport

PLACEHOLDER_DIGIT = "8"
"""Placeholder page numbers are this digit, as many times as the book's page count has digits."""
MAX_ROUNDS = 4
WORKERS = 2


class PartStore(Protocol):
    """Where laid-out parts are kept between builds (the build cache)."""

    def get(self, key: str) -> tuple[PartReport, bytes] | None: ...

    def put(self, key: str, report: PartReport, pdf: bytes) -> None: ...


@dataclass
class _Part:
    part: pdfparts.Part
    key: str
    """Of its placeholder layout: its content, the styles, the page geometry."""
    report: PartReport
    worker: parallel.Worker | None = None
    """The worker holding its layout, if laid out in this build."""
    numbered: str | None = None
    """The true numbers it was laid out with, if it was (else it shows placeholders)."""
    final: tuple[str, bytes] | None = None
    """(true numbers, PDF) from the cache."""


@dataclass(frozen=True)
class Job:
    interior: pdfparts.Interior
    parts: tuple[pdfparts.Part, ...]
    make: Callable[[], PartLayout]
    salt: str
    """Everything else that shapes a layout: code, styles, images, trim, inside margin, marks."""
    page_estimate: int
    inside: float
    store: PartStore | None
    variant: str | None
    bleed_in: float = 0.0
    """Bleed on the outer edges (pdfprint.bleed_boxes)."""

    def run(self) -> tuple[PrintLayout, Printing]:
        workers = [parallel.Worker(self.make) for _ in range(min(WORKERS, len(self.parts)))]
        try:
            return self._run(workers)
        except BaseException:
            for worker in workers:
                worker.cancel()
            raise

    def _inputs(self, part: pdfparts.Part, numbers: Mapping[str, int], start: int) -> tuple[str, str, str]:
        html = pdfparts.part_html(self.interior, part, numbers)
        css = pdfparts.part_css(self.interior, part, self.parts, start)
        return digest(self.salt, html, css), html, css

    def _run(self, workers: list[parallel.Worker]) -> tuple[PrintLayout, Printing]:
        placeholder = int(PLACEHOLDER_DIGIT * len(str(max(1, self.page_estimate))))
        fake = {target: placeholder for part in self.parts for target in part.targets}
        state: dict[int, _Part] = {}
        fresh, keys = [], {}
        for part in self.parts:
            keys[part.index], html, css = self._inputs(part, fake, placeholder)
            hit = self._stored(keys[part.index])
            if hit is None:
                fresh.append((part.index, html, css))
            else:
                state[part.index] = _Part(part, keys[part.index], hit[0])
        for index, worker, report in _lay_out(fresh, workers):
            state[index] = _Part(self.parts[index], keys[index], report, worker)
            if self.store is not None:
                self.store.put(keys[index], report, b"")

        truth = self._numbering(state)
        for _ in range(MAX_ROUNDS):
            again, unlaid = [], []
            for item in state.values():
                numbers = self._numbers(item.part, truth)
                if item.numbered == numbers or (item.final and item.final[0] == numbers):
                    continue
                item.final = None  # made for other numbers
                hit = self._stored(digest(item.key, numbers))
                if hit is not None and item.numbered is None:
                    item.report, item.final = hit[0], (numbers, hit[1])
                elif item.numbered is not None:
                    again.append(item)
                elif item.worker is None:
                    unlaid.append(item)
            for index, worker, report in _lay_out(
                [(i.part.index, *self._inputs(i.part, fake, placeholder)[1:]) for i in unlaid],
                workers,
            ):
                state[index].worker, state[index].report = worker, report
            checks = [i for i in state.values() if i.numbered is None and i.final is None]
            true_numbers = dict(truth.numbers)
            for item, fits in _call(workers, checks, "fits", functools.partial(_with, true_numbers)):
                if not fits:
                    again.append(item)
            redo = [
                (i.part.index, *self._inputs(i.part, truth.numbers, truth.starts[i.part.index])[1:])
                for i in again
            ]
            for index, worker, report in _lay_out(redo, workers):
                item = state[index]
                item.worker, item.report, item.final = worker, report, None
                item.numbered = self._numbers(item.part, truth)
            settled = self._numbering(state)
            if settled == truth:
                break
            truth = settled
        return self._finish(state, truth, workers)

    def _stored(self, key: str) -> tuple[PartReport, bytes] | None:
        return self.store.get(key) if self.store is not None else None

    def _numbering(self, state: Mapping[int, _Part]) -> pdfparts.Numbering:
        reports = [state[p.index].report for p in self.parts]
        return pdfparts.number(
            self.interior, self.parts, [r.pages for r in reports], [r.anchors for r in reports]
        )

    def _numbers(self, part: pdfparts.Part, truth: pdfparts.Numbering) -> str:
        """The true numbers a part prints, as a key."""
        shown = sorted((t, truth.numbers[t]) for t in part.targets if t in truth.numbers)
        return digest(truth.starts[part.index], shown)

    def _finish(
        self, state: dict[int, _Part], truth: pdfparts.Numbering, workers: list[parallel.Worker]
    ) -> tuple[PrintLayout, Printing]:
        folios: list[str] = []
        patches: dict[int, dict[int, str]] = {}
        for item in (state[p.index] for p in self.parts):
            offset = truth.offsets[item.part.index]
            true = [truth.folio(offset + n + 1, f) for n, f in enumerate(item.report.folios)]
            if item.final is None and item.numbered is None:  # shows placeholders: put the truth in
                patches[item.part.index] = {n: f for n, f in enumerate(true) if f != item.report.folios[n]}
            item.report = replace(item.report, folios=tuple(true))
            folios.extend(true)
        numbers = dict(truth.numbers)
        patched = [state[i] for i in patches]
        for _ in _call(workers, patched, "patch", lambda i: (i.part.index, patches[i.part.index], numbers)):
            pass
        held = [item for item in state.values() if item.final is None]
        for item, found in _call(workers, held, "leaders", lambda i: i.part.index):
            assert isinstance(found, list | tuple)
            item.report = replace(item.report, lint=item.report.lint + tuple(found))
        plan = PrintLayout(
            b"",
            truth.page_count,
            truth.page_starts,
            tuple(folios),
            self.inside,
            overflows=tuple(
                (truth.offsets[i] + page + 1, text)
                for i in range(len(self.parts))
                for page, text in state[i].report.overflows
            ),
            image_dpi=_lowest(image for item in state.values() for image in item.report.images),
            lint=_lint(self.parts, state, truth),
        )
        writes: dict[parallel.Worker, list[int]] = {}
        for item in state.values():
            if item.final is None:
                assert item.worker is not None
                writes.setdefault(item.worker, []).append(item.part.index)
                item.worker.call("write", [item.part.index], self.variant)  # one message a part
        keys = {i: digest(item.key, self._numbers(item.part, truth)) for i, item in state.items()}
        stored = {i: item.final[1] for i, item in state.items() if item.final is not None}
        reports = {i: item.report for i, item in state.items()}
        finishing = pdfmerge.Finishing(truth.opening, True, self.bleed_in, self.variant)
        printing = Printing(len(self.parts), writes, workers, stored, self.store, keys, reports, finishing)
        return plan, printing


def _with(numbers: dict[str, int], item: _Part) -> tuple[int, dict[str, int]]:
    return item.part.index, numbers


def _call(
    workers: list[parallel.Worker],
    items: list[_Part],
    method: str,
    argument: Callable[[_Part], object],
) -> Iterable[tuple[_Part, object]]:
    """Call `method` on each item's worker, one message per worker, and pair the answers up."""
    batches: dict[parallel.Worker, list[_Part]] = {}
    for item in items:
        assert item.worker is not None
        batches.setdefault(item.worker, []).append(item)
    for worker, batch in batches.items():
        worker.call(method, [argument(item) for item in batch])
    for worker, batch in batches.items():
        yield from zip(batch, worker.result(), strict=True)


def _lay_out(
    work: list[tuple[int, str, str]], workers: list[parallel.Worker]
) -> list[tuple[int, parallel.Worker, PartReport]]:
    """Lay the parts out, in book order, each going to the next worker that is free (so that the
    workers finish together, and write their parts in about the order they are merged)."""
    queue = list(work)
    busy: dict[parallel.Worker, int] = {}
    done: list[tuple[int, parallel.Worker, PartReport]] = []

    def give(worker: parallel.Worker) -> None:
        if queue:
            item = queue.pop(0)
            worker.call("lay_out", [item])  # one part a message: sent only to an idle worker
            busy[worker] = item[0]

    for worker in workers:
        give(worker)
    while busy:
        for worker in parallel.wait(list(busy)):
            (report,) = worker.result()
            done.append((busy.pop(worker), worker, report))
            give(worker)
    return sorted(done, key=lambda item: item[0])


def _lowest(images: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    lowest: dict[str, int] = {}
    for src, dpi in images:
        lowest[src] = min(dpi, lowest.get(src, dpi))
    return tuple(sorted(lowest.items()))


class Printing:
    """The interior's PDF, being written part by part on the workers; `result` merges the parts."""

    def __init__(
        self,
        count: int,
        writes: dict[parallel.Worker, list[int]],
        workers: list[parallel.Worker],
        stored: dict[int, bytes],
        store: PartStore | None,
        keys: dict[int, str],
        reports: dict[int, PartReport],
        finishing: pdfmerge.Finishing,
    ) -> None:
        self._count, self._writes, self._workers, self._stored = count, writes, workers, stored
        self._store, self._keys, self._reports = store, keys, reports
        self._finishing = finishing

    def result(self) -> bytes:
        """The merged PDF; each part is joined as soon as it and the parts before it are written."""
        written = dict(self._stored)
        waiting = {worker: list(indices) for worker, indices in self._writes.items() if indices}
        merger: pdfmerge.Merger | None = None
        try:
            for index in range(self._count):
                while index not in written:
                    for worker in parallel.wait(list(waiting)):
                        done = waiting[worker].pop(0)
                        (written[done],) = worker.result()
                        if self._store is not None:
                            self._store.put(self._keys[done], self._reports[done], written[done])
                        if not waiting[worker]:
                            del waiting[worker]
                if merger is None:
                    merger = pdfmerge.Merger(written.pop(index))
                else:
                    merger.add(written.pop(index))
        finally:
            self.cancel()
        assert merger is not None
        return merger.finish(self._finishing)

    def cancel(self) -> None:
        for worker in self._workers:
            worker.cancel()


def _lint(
    parts: Sequence[pdfparts.Part], state: Mapping[int, _Part], truth: pdfparts.Numbering
) -> tuple[tuple[int, str, str], ...]:
    """(1-based page, code, message) of the parts' layout-lint findings, with L002 judged against
    the whole book's full page (the most lines any page of any part holds)."""
    reports = [(truth.offsets[i], state[i].report) for i in range(len(parts))]
    full = max((report.full_page for _, report in reports), default=0)
    last = [
        lint.LastPage(offset + page, section, count)
        for offset, report in reports
        for page, section, count in report.last_pages
    ]
    found = [(offset + page, code, text) for offset, report in reports for page, code, text in report.lint]
    found += [(f.page, f.code, f.message) for f in lint.short_last_pages(last, full)]
    return tuple(sorted((page + 1, code, text) for page, code, text in found))
