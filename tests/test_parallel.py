"""The second-core helper gives the same result as running inline, passes errors back, and can be
cancelled without leaving a process or thread behind."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from companion import pipeline
from companion.core import parallel

from .tinysource import laid_out, make_tiny


def child_pid(value: int) -> tuple[int, int]:
    return os.getpid(), value * 2


def fails() -> None:
    raise ValueError("from the child")


def slow() -> int:
    time.sleep(30)
    return 1


def test_runs_in_a_forked_child_when_single_threaded() -> None:
    """In a fresh interpreter (one thread), the work runs in another process."""
    code = (
        "import os; from companion.core import parallel; from tests.test_parallel import child_pid; "
        "pid, value = parallel.start(child_pid, 21).result(); print(pid != os.getpid(), value)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "42"]


def test_errors_come_back() -> None:
    with pytest.raises(ValueError, match="from the child"):
        parallel.start(fails).result()


def test_cancel_stops_the_child_at_once() -> None:
    import multiprocessing

    before = set(multiprocessing.active_children())
    pending = parallel.start(slow)
    started = time.perf_counter()
    pending.cancel()
    assert time.perf_counter() - started < 5  # the 30 s sleep was cut short
    assert set(multiprocessing.active_children()) <= before


def test_a_child_is_never_forked_from_the_build_even_with_threads_running() -> None:
    """The children come from the fork server (its process is their parent, not the build's), so
    threads in the build, Python's or a C library's, cannot leave a child waiting on a lock."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        pid, parent = parallel.start(parent_pid).result()
    finally:
        stop.set()
        thread.join()
    assert pid != os.getpid() and parent != os.getpid()


def parent_pid() -> tuple[int, int]:
    return os.getpid(), os.getppid()


def test_a_child_lays_out_after_the_build_has_made_fonts_of_its_own(tmp_path: Path) -> None:
    """Pango 1.52+ (Debian 13) runs a thread for each font map: a child forked from a process that
    had one hung at its first line of text. Here the parent lays out first, then a worker does."""
    code = (
        "import sys; from pathlib import Path; from companion.core import parallel\n"
        "from weasyprint import HTML; from weasyprint.text.fonts import FontConfiguration\n"
        "HTML(string='<p>the parent sets a line</p>').render(font_config=FontConfiguration())\n"
        "from tests.test_parallel import pages\n"
        "print(parallel.start(pages).result())\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["1"], out.stderr


def pages() -> int:
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    html = HTML(string='<p style="font: italic 17px serif">a line the parent never set</p>')
    return len(html.render(font_config=FontConfiguration()).pages)


def test_a_failed_build_leaves_nothing_running(tmp_path: Path) -> None:
    source = make_tiny(tmp_path, styles=True)
    (source / "about.yaml").write_text("overview: x\nsetting: [1, 2\n", encoding="utf-8")
    before = {t.ident for t in threading.enumerate()}
    with pytest.raises(pipeline.CompanionError):
        pipeline.build(pipeline.Project.at(source))
    assert {t.ident for t in threading.enumerate()} <= before
    assert not multiprocessing_children()


def multiprocessing_children() -> list[object]:
    import multiprocessing

    return [p for p in multiprocessing.active_children() if p.is_alive()]


def test_pdf_written_in_a_child_is_the_pdf_written_inline(tmp_path: Path) -> None:
    """A fresh interpreter (one thread, so the PDF is written by a forked child) gives the same bytes
    as writing it in this process."""
    source = make_tiny(tmp_path, styles=True)
    code = (
        "import sys, os; from pathlib import Path; from companion import pipeline; "
        "os.environ['COMPANION_NO_CACHE'] = '1'; "
        "r = pipeline.build(pipeline.Project.at(Path(sys.argv[1])), ('pdf',)); "
        "sys.stdout.buffer.write(r.outputs[0].data)"
    )
    child = subprocess.run([sys.executable, "-c", code, str(source)], capture_output=True, check=True).stdout
    from companion.render.render import Edition, print_document, render
    from companion.source.load import load
    from companion.source.validate import validate

    validated = validate(load(source), tmp_path / "styles")
    html = print_document(render(validated, Edition(), "print", {}))
    inline = laid_out(html, validated.companion.book.print, tmp_path / "styles", source, variant="pdf/ua-1")
    assert child.startswith(b"%PDF-1.7")
    assert child == inline.pdf


class Counter:
    """A worker's handler: state that stays in the worker between calls."""

    def __init__(self) -> None:
        self.total = 0

    def add(self, amount: int) -> tuple[int, int]:
        self.total += amount
        return os.getpid(), self.total

    def fail(self) -> None:
        raise ValueError("from the worker")

    def sleep(self) -> None:
        time.sleep(30)

    def nap(self, seconds: float) -> None:
        time.sleep(seconds)


def test_a_worker_keeps_its_state_in_a_forked_child() -> None:
    code = (
        "import os; from companion.core import parallel; from tests.test_parallel import Counter; "
        "w = parallel.Worker(Counter); w.call('add', 2); w.call('add', 3); "
        "(a, x), (b, y) = w.result(), w.result(); w.cancel(); print(a == b != os.getpid(), x, y)"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "2", "5"]


def test_a_worker_passes_errors_back_with_threads_running() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        worker = parallel.Worker(Counter)
        worker.call("add", 4)
        worker.call("fail")
        pid, total = worker.result()
        with pytest.raises(ValueError, match="from the worker"):
            worker.result()
        worker.cancel()
    finally:
        stop.set()
        thread.join()
    assert pid != os.getpid() and total == 4


def test_a_worker_that_cannot_start_answers_every_call_with_its_error() -> None:
    worker = parallel.Worker(fails)
    worker.call("add", 1)
    worker.call("add", 2)
    for _ in range(2):
        with pytest.raises(ValueError, match="from the child"):
            worker.result()
    worker.cancel()


def test_a_worker_gets_the_builds_environment_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fork server may have started long before (another build, another folder): a child still
    sees what the build sees now."""
    parallel.start(child_pid, 0).result()  # the fork server is running from here on
    monkeypatch.setenv("COMPANION_PARALLEL_TEST", "now")
    monkeypatch.chdir(tmp_path)
    assert parallel.start(environment).result() == ("now", str(tmp_path))


def environment() -> tuple[str | None, str]:
    return os.environ.get("COMPANION_PARALLEL_TEST"), os.getcwd()


def test_a_busy_worker_is_stopped_at_once() -> None:
    """In a fresh interpreter (one thread), so that the worker really is a busy child process."""
    code = (
        "import time; from companion.core import parallel; from tests.test_parallel import Counter\n"
        "worker = parallel.Worker(Counter); worker.call('sleep'); time.sleep(0.2)\n"
        "pid = worker._process.pid; started = time.perf_counter(); worker.cancel()\n"
        "import os\n"
        "try:\n"
        "    os.kill(pid, 0); alive = True\n"
        "except ProcessLookupError:\n"
        "    alive = False\n"
        "print(time.perf_counter() - started < 5, alive)\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["True", "False"], out.stderr


def test_wait_gives_the_worker_whose_result_is_ready_first() -> None:
    code = (
        "from companion.core import parallel; from tests.test_parallel import Counter\n"
        "slow, fast = parallel.Worker(Counter), parallel.Worker(Counter)\n"
        "slow.call('nap', 1.0); fast.call('add', 1)\n"
        "first = parallel.wait([slow, fast])\n"
        "print(first == [fast], fast.result()[1]); slow.result()\n"
        "slow.cancel(); fast.cancel()\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert out.stdout.split()[:2] == ["True", "1"], out.stderr


def test_a_companion_error_survives_the_trip_between_processes() -> None:
    import pickle

    from companion.core.errors import CompanionError, diagnostic

    error = CompanionError([diagnostic("styles/print.css", "C021", "a message", "a hint")])
    again = pickle.loads(pickle.dumps(error))
    assert again.diagnostics == error.diagnostics and str(again) == str(error)


def test_a_script_that_builds_at_its_top_level_runs_once(tmp_path: Path) -> None:
    """No `if __name__ == "__main__":` needed: a child is not made to run the main script again."""
    script = tmp_path / "script.py"
    script.write_text(
        "import os\nfrom companion.core import parallel\nprint('ran', flush=True)\n"
        "print(parallel.start(os.getpid).result() != os.getpid())\n",
        encoding="utf-8",
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["ran", "True"], out.stderr
