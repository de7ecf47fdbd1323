"""`make bench`: build a 150,000-word companion with companion and with pandoc (+ WeasyPrint), side by side.

The book is the bundled companion plus synthetic chapters in a temporary copy of source/chapters/.
Prints wall times, ratios and peak memory (each build runs in its own process so that its peak RSS
is its own). Not a test: it asserts nothing; the figures go into the README's performance section.
"""

from __future__ import annotations

import argparse
import json
import random

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("the students remembered Hailsham as a place of small rules and large silences where guardians "
         "watched over art exchanges tokens and the long walks by the pond while carers drove across "
         "England between recovery centres thinking about memory love loss and what it means to be "
         "human when the future is already decided by others who never ask").split()


def synthetic_chapter(number: int, words: int, rng: random.Random) -> str:
    lines = ["---", f'title: "Synthetic Chapter {number}"', "spoilers: false", "---", ""]
    written = 0
    section = 0
    while written < words:
        if written and written % 400 < 80:
            section += 1
            lines += [f"## Section {number}.{section}", ""]
        length = rng.randint(60, 140)
        sentence_words = [rng.choice(WORDS) for _ in range(length)]
        text = " ".join(sentence_words)
        text = ". ".join(part.capitalize() for part in text.split(" and "))
        lines += [text + ".", ""]
        written += length
    lines += [f"A last remark.[^n{number}]", "", f"[^n{number}]: A synthetic footnote for chapter {number}.", ""]
    return "\n".join(lines)


def make_book(folder: Path, chapters: int, words_per_chapter: int) -> Path:
    shutil.copytree(ROOT / "source", folder / "source")
    shutil.copytree(ROOT / "styles", folder / "styles")
    rng = random.Random(1)
    for n in range(1, chapters + 1):
        (folder / "source" / "chapters" / f"50-synthetic-{n:03d}.md").write_text(
            synthetic_chapter(n, words_per_chapter, rng), encoding="utf-8")
    return folder / "source"


def count_words(source: Path) -> int:
    return sum(len(p.read_text(encoding="utf-8").split()) for p in source.rglob("*") if p.suffix in {".md", ".yaml"})


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a child process."""
    code = ("import resource, subprocess, sys, time, json; t = time.perf_counter(); "
            "p = subprocess.run(sys.argv[1:]); dt = time.perf_counter() - t; "
            "print(json.dumps([p.returncode, dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024]))")
    out = subprocess.run([sys.executable, "-c", code, *command], cwd=cwd, capture_output=True, text=True)
    returncode, seconds, peak = json.loads(out.stdout.strip().splitlines()[-1])
    if returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{out.stderr}")
    return seconds, peak


def pandoc_inputs(source: Path, folder: Path) -> Path:
    """All chapters concatenated as one Markdown file (front matter stripped) for pandoc."""
    parts = []
    for path in sorted((source / "chapters").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        header, body = text.split("\n---\n", 1)
        title = header.split("title:", 1)[1].splitlines()[0].strip().strip('"')
        parts.append(f"# {title}\n\n{body}")
    out = folder / "book.md"
    out.write_text("---\ntitle: Benchmark\nlang: en-GB\n---\n\n" + "\n\n".join(parts), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chapters", type=int, default=100)
    parser.add_argument("--words", type=int, default=1400, help="words per synthetic chapter")
    args = parser.parse_args()
    import pypandoc

    pandoc = pypandoc.get_pandoc_path()
    companion = [str(Path(sys.executable).parent / "companion")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = make_book(folder, args.chapters, args.words)
        words = count_words(source)
        md = pandoc_inputs(source, folder)
        rows: dict[str, tuple[float, float]] = {}
        rows["companion epub"] = timed([*companion, "build", str(source), "--format", "epub", "--out", "out"], folder)
        rows["companion pdf"] = timed([*companion, "build", str(source), "--format", "pdf", "--out", "out"], folder)
        rows["companion all"] = timed([*companion, "build", str(source), "--out", "out"], folder)
        rows["pandoc epub"] = timed([pandoc, str(md), "-o", "pandoc.epub"], folder)
        html_time = timed([pandoc, str(md), "-s", "-o", "pandoc.html"], folder)
        weasy = timed([sys.executable, "-m", "weasyprint", "pandoc.html", "pandoc.pdf"], folder)
        rows["pandoc + weasyprint pdf"] = (html_time[0] + weasy[0], max(html_time[1], weasy[1]))
        edit = source / "chapters" / "50-synthetic-050.md"
        edit.write_text(edit.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
        rows["companion epub, one chapter edited"] = timed(
            [*companion, "build", str(source), "--format", "epub", "--out", "out"], folder)
        rows["companion pdf, one chapter edited"] = timed(
            [*companion, "build", str(source), "--format", "pdf", "--out", "out"], folder)
        pages = subprocess.run(["pdfinfo", "out/" + "never-let-me-go.pdf"], cwd=folder, capture_output=True,
                               text=True).stdout
        page_count = next((line.split()[-1] for line in pages.splitlines() if line.startswith("Pages:")), "?")
    print(f"book: {words:,} words, {args.chapters} synthetic chapters, {page_count} print pages")
    print(f"{'build':40} {'seconds':>8} {'peak MB':>8}")
    for name, (seconds, peak) in rows.items():
        print(f"{name:40} {seconds:8.2f} {peak:8.0f}")
    print(f"EPUB ratio (companion / pandoc):             {rows['companion epub'][0] / rows['pandoc epub'][0]:.2f}"
          " (target <= 0.5)")
    print(f"PDF ratio (companion / pandoc + WeasyPrint):  "
          f"{rows['companion pdf'][0] / rows['pandoc + weasyprint pdf'][0]:.2f} (target <= 1.0)")



if __name__ == "__main__":
    main()
