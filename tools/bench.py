"""`make bench`: companion against pandoc and pandoc + WeasyPrint on a 150,000-word companion.

The book is the bundled companion plus synthetic chapters in a temporary copy of source/chapters/.
Every build runs in its own process, so its wall time and peak memory are its own. Peak memory is
the larger of the biggest single process's max RSS and the highest sum, sampled every 100 ms, of the
proportional set sizes (PSS) of the build's whole process tree (companion's layout workers included).
This is a benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from companion.core.cache import Cache

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SAMPLE = """
the students remembered Hailsham as a place of small rules and large silences where guardians watched
over art exchanges tokens and the long walks by the pond while carers drove across England between
recovery centres thinking about memory love loss and what it means to be human when the future is
already decided by others who never ask
"""
WORDS = SAMPLE.split()
RUN = """
import json, os, resource, subprocess, sys, threading, time

def tree(root):
    # the build's process and every process it started (the layout workers, the cover)
    found = [root]
    for pid in found:
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    found += [int(child) for child in f.read().split()]
        except OSError:
            pass
    return found

def pss(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return sum(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024
    except OSError:
        return 0.0

t = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
peak_total = [0.0]

def sample():
    while p.poll() is None:
        peak_total[0] = max(peak_total[0], sum(pss(pid) for pid in tree(p.pid)))
        time.sleep(0.1)

sampler = threading.Thread(target=sample)
sampler.start()
stderr = p.communicate()[1]
dt = time.perf_counter() - t
sampler.join()
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps([p.returncode, dt, max(peak, peak_total[0]), stderr[-2000:]]))
"""
SAME_TRIM = """
@page { size: 5.5in 8.5in; margin: 0.7in 0.6in 0.75in 0.675in; }
html { font-size: 11pt !important; line-height: 1.38 !important; }
body { margin: 0 !important; padding: 0 !important; max-width: none !important; font-size: 11pt !important; }
"""
SPLIT = """
import sys, threading, time
# a second thread makes companion write the PDF inline, so that its time is counted here
threading.Thread(target=threading.Event().wait, daemon=True).start()
from pathlib import Path
import weasyprint
from weasyprint.document import Document
spent = {"render": 0.0, "parse": 0.0}
depth = [0]
def timed(function, kind):
    def wrapper(*args, **kwargs):
        depth[0] += 1
        t = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            depth[0] -= 1
            if not depth[0]:
                spent[kind] += time.perf_counter() - t
    return wrapper
weasyprint.HTML.render = timed(weasyprint.HTML.render, "render")
Document.write_pdf = timed(Document.write_pdf, "render")
weasyprint.HTML.__init__ = timed(weasyprint.HTML.__init__, "parse")
from companion import pipeline
t = time.perf_counter()
pipeline.build(pipeline.Project.at(Path(sys.argv[1])), ("pdf",))
total = time.perf_counter() - t
print(total, spent["render"], spent["parse"])
"""


READ_ALONG = """
import json, os, sys, time
from pathlib import Path
from companion import pipeline
started, cpu = time.perf_counter(), os.times()
result = pipeline.build(pipeline.Project.at(Path(sys.argv[1])), ("read-along",))
pipeline.write(result, Path(sys.argv[2]))
after, n = os.times(), result.narration
spent = sum(after[:4]) - sum(cpu[:4])
wall = time.perf_counter() - started
print(json.dumps([wall, spent, n.synthesized, n.cached, n.audio_seconds, n.cpu_seconds]))
"""
"""One read-along build in its own process: wall and CPU seconds, and what the narration did."""


def cold_cache(folder: Path) -> dict[str, str]:
    """The environment of a build whose caches start empty: the user cache folder (the narration's
    audio is kept there for every project, not per project) is one of its own under `folder`."""
    return {**os.environ, "XDG_CACHE_HOME": str((folder / "cache").resolve())}


def read_along(voice: str) -> list[str]:
    """The bundled companion's read-along edition narrated by `voice`: cold, nothing changed, one edit."""
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(ROOT / "source", folder / "source")
        shutil.copytree(ROOT / "styles", folder / "styles")
        book = folder / "source" / "book.yaml"
        text = book.read_text(encoding="utf-8")
        book.write_text(re.sub(r"(?m)^  voice: .*$", f"  voice: {voice}", text), encoding="utf-8")
        runs = {}
        for name in ("cold", "nothing changed", "one sentence edited"):
            if name == "one sentence edited":
                chapter = folder / "source" / "chapters" / "03-part-one.md"
                chapter.write_text(chapter.read_text(encoding="utf-8") + "\nOne more sentence.\n", "utf-8")
            done = subprocess.run(
                [sys.executable, "-c", READ_ALONG, str(folder / "source"), str(folder / "out")],
                cwd=folder, capture_output=True, text=True, check=True, env=cold_cache(folder),
            )  # fmt: skip
            runs[name] = json.loads(done.stdout.splitlines()[-1])
    cold = runs["cold"]
    lines.append(f"read-along ({voice}), bundled companion: {cold[4] / 60:.1f} min of audio")
    for name, (wall, cpu, made, cached, _audio, _synth_cpu) in runs.items():
        label = f"  {name}: wall s, CPU s, sentences synthesized / cached"
        lines.append(f"{label:56} {wall:8.1f} {cpu:8.1f} {made:6d} / {cached}")
    speed = cold[4] / cold[5] if cold[5] else 0.0
    lines.append(f"{'  synthesis: seconds of audio per CPU second':56} {speed:8.1f}")
    return lines


def synthetic_chapter(number: int, words: int, rng: random.Random) -> str:
    lines = ["---", f'title: "Synthetic Chapter {number}"', "spoilers: false", "---", ""]
    written = section = 0
    while written < words:
        if written and written % 400 < 80:
            section += 1
            lines += [f"## Section {number}.{section}", ""]
        length = rng.randint(60, 140)
        text = " ".join(rng.choice(WORDS) for _ in range(length))
        lines += [". ".join(part.capitalize() for part in text.split(" and ")) + ".", ""]
        written += length
    lines += [
        f"A last remark.[^n{number}]",
        "",
        f"[^n{number}]: A synthetic footnote for chapter {number}.",
        "",
    ]
    return "\n".join(lines)


def make_book(folder: Path, chapters: int, words_per_chapter: int) -> Path:
    shutil.copytree(ROOT / "source", folder / "source")
    shutil.copytree(ROOT / "styles", folder / "styles")
    rng = random.Random(1)
    for n in range(1, chapters + 1):
        path = folder / "source" / "chapters" / f"50-synthetic-{n:03d}.md"
        path.write_text(synthetic_chapter(n, words_per_chapter, rng), encoding="utf-8")
    return folder / "source"


def count_words(source: Path) -> int:
    return sum(
        len(p.read_text(encoding="utf-8").split()) for p in source.rglob("*") if p.suffix in {".md", ".yaml"}
    )


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of one build and the processes it starts."""
    out = subprocess.run(
        [sys.executable, "-c", RUN, *command], cwd=cwd, capture_output=True, text=True, check=True
    )
    code, seconds, peak, stderr = json.loads(out.stdout.strip().splitlines()[-1])
    if code:
        raise SystemExit(f"failed: {' '.join(command)}\n{stderr}")
    return seconds, peak


def pandoc_markdown(source: Path, folder: Path) -> Path:
    """All chapters as one Markdown file (front matter turned into a heading) for pandoc."""
    parts = []
    for path in sorted((source / "chapters").glob("*.md")):
        header, body = path.read_text(encoding="utf-8").split("\n---\n", 1)
        title = header.split("title:", 1)[1].splitlines()[0].strip().strip('"')
        parts.append(f"# {title}\n\n{body}")
    out = folder / "book.md"
    out.write_text("---\ntitle: Benchmark\nlang: en-GB\n---\n\n" + "\n\n".join(parts), encoding="utf-8")
    return out


def _pages(path: Path) -> str:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    return next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chapters", type=int, default=100)
    parser.add_argument("--words", type=int, default=1400, help="words per synthetic chapter")
    parser.add_argument(
        "--voice",
        action="append",
        help="narrate the read-along edition with this voice too (default espeak-ng:en-gb; repeatable, "
        "e.g. --voice piper:en_US-joe-medium)",
    )
    parser.add_argument("--read-along-only", action="store_true", help="only the read-along section")
    args = parser.parse_args()
    if args.read_along_only:
        for voice in args.voice or ["espeak-ng:en-gb"]:
            print("\n".join(read_along(voice)))
        return
    import pypandoc

    pandoc = pypandoc.get_pandoc_path()
    companion = [str(BIN / "companion")]
    rows: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = make_book(folder, args.chapters, args.words)
        words = count_words(source)
        md = pandoc_markdown(source, folder)

        def build(name: str, *options: str, cold: bool = True) -> None:
            if cold:
                Cache.for_project(folder).clear()
            rows[name] = timed([*companion, "build", str(source), "--out", "out", *options], folder)

        rows["pandoc: EPUB"] = timed([pandoc, str(md), "-o", "pandoc.epub"], folder)
        html = timed([pandoc, str(md), "-s", "-o", "pandoc.html"], folder)
        weasy = timed([str(BIN / "weasyprint"), "pandoc.html", "pandoc.pdf"], folder)
        rows["pandoc + WeasyPrint: PDF"] = (html[0] + weasy[0], max(html[1], weasy[1]))
        (folder / "trim.css").write_text(SAME_TRIM, encoding="utf-8")
        trimmed = timed([str(BIN / "weasyprint"), "-s", "trim.css", "pandoc.html", "pandoc-trim.pdf"], folder)
        rows["pandoc + WeasyPrint: PDF at our trim and type size"] = (html[0] + trimmed[0], trimmed[1])
        build("companion: EPUB, cold, no page list", "--format", "epub", "--no-page-list")
        build("companion: EPUB, cold, with print page list", "--format", "epub")
        build("companion: PDF, cold", "--format", "pdf")
        build("companion: all outputs, cold", "--format", "all")
        build("companion: all outputs, nothing changed", "--format", "all", cold=False)
        build(
            "companion: EPUB, no page list, nothing changed", "--format", "epub", "--no-page-list", cold=False
        )
        edit = source / "chapters" / "50-synthetic-050.md"
        edit.write_text(edit.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
        build(
            "companion: EPUB, one chapter edited, no page list",
            "--format",
            "epub",
            "--no-page-list",
            cold=False,
        )
        build("companion: PDF, one chapter edited", "--format", "pdf", cold=False)
        Cache.for_project(folder).clear()
        split = subprocess.run(
            [sys.executable, "-c", SPLIT, str(source)], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.split()
        total, inside, parsing = (float(x) for x in split[-3:])
        pages = {
            name: _pages(folder / name)
            for name in ("out/never-let-me-go.pdf", "pandoc.pdf", "pandoc-trim.pdf")
        }
        start = timed([*companion, "--version"], folder)
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp)
        shutil.copytree(ROOT / "source", small / "source")
        shutil.copytree(ROOT / "styles", small / "styles")
        rows["bundled companion: all outputs, cold"] = timed(
            [*companion, "build", str(small / "source"), "--out", "out"], small
        )
    subprocess.run(["make", "-s", "all"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    t = time.perf_counter()
    subprocess.run(["make", "-s", "all"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    noop = time.perf_counter() - t

    print(f"book: {words:,} words ({args.chapters} synthetic chapters + the bundled companion)")
    print("print pages: " + ", ".join(f"{name}: {count}" for name, count in pages.items()))
    print(f"{'build':56} {'seconds':>8} {'peak MB':>8}")
    for name, (seconds, peak) in rows.items():
        print(f"{name:56} {seconds:8.2f} {peak:8.0f}")
    print(f"{'companion --version (start-up)':56} {start[0]:8.2f} {start[1]:8.0f}")
    print(f"{'make all, nothing changed (this repository)':56} {noop:8.2f}")
    pandoc_epub, pandoc_pdf = rows["pandoc: EPUB"][0], rows["pandoc + WeasyPrint: PDF"][0]
    ratios = {
        "EPUB (no page list) / pandoc EPUB": rows["companion: EPUB, cold, no page list"][0] / pandoc_epub,
        "EPUB (print page list) / pandoc EPUB": rows["companion: EPUB, cold, with print page list"][0]
        / pandoc_epub,
        "PDF / (pandoc + WeasyPrint)": rows["companion: PDF, cold"][0] / pandoc_pdf,
        "PDF / (pandoc + WeasyPrint at our trim)": rows["companion: PDF, cold"][0]
        / rows["pandoc + WeasyPrint: PDF at our trim and type size"][0],
    }
    print()
    for name, ratio in ratios.items():
        print(f"{name + ':':56} {ratio:8.2f}")
    print(f"{'PDF build outside WeasyPrint render + write (%):':56} {100 * (total - inside) / total:8.1f}")
    outside = 100 * (total - inside - parsing) / total
    print(f"{'PDF build outside WeasyPrint parse + render + write (%):':56} {outside:8.1f}")
    edited = rows["companion: EPUB, one chapter edited, no page list"][0] - start[0]
    print(f"{'EPUB after one edit, seconds beyond start-up:':56} {edited:8.2f}")
    print()
    for voice in args.voice or ["espeak-ng:en-gb"]:
        print("\n".join(read_along(voice)))


if __name__ == "__main__":
    main()
