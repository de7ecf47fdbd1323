"""Property tests: arbitrary Unicode in the text fields gives a book or a clean diagnostic, never a crash.

The text goes into the book title, a character's description and a chapter's title and body of a tiny
companion. `companion check` must succeed or raise CompanionError (fast, many examples); a build must
give an EPUB and a PDF or raise CompanionError (slow, few examples); every text that built is then put
into one companion whose EPUB must pass EPUBCheck (one JVM start for the lot).
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from companion import pipeline
from companion.core.errors import CompanionError

from .tinysource import make_tiny

EPUBCHECK = Path(__import__("epubcheck").__file__).parent / "epubcheck.jar"

SPECIAL = [
    "שלום עולם, מה שלומך?",  # Hebrew, right to left
    "مرحبا بالعالم",  # Arabic, joined and right to left
    "e\u0301\u0302\u0303\u0304 a\u0308\u0308\u0308",  # stacked combining marks
    "👩\u200d👩\u200d👧\u200d👦 🇬🇧 👍🏽",  # emoji sequences
    "\u202eevil\u202c and \u2066isolate\u2069",  # bidi overrides
    "Pneumonoultramicroscopicsilicovolcanoconiosis" * 40,  # a very long word
    "\x00nul",
    "bell\x07",
    "form\x0cfeed",
    "\ufeffbom",
    "line\u2028separator",
    "& < > \" ' &amp; &lt;b&gt;",
    "*emph* _under_ `code` **strong**",
    "tab\there",
    "\U0010fffd private use",
    "noncharacter \ufffe",
    "C1 control \x85 and \x9f",
    "漢字かなカナ 한국어",
]

TEXT = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60),
    st.sampled_from(SPECIAL),
    st.lists(st.sampled_from(SPECIAL), min_size=2, max_size=3).map(" ".join),
)


def _quoted(text: str) -> str:
    """`text` as a YAML double-quoted scalar (JSON is YAML): every character arrives as written."""
    return json.dumps(text, ensure_ascii=True)


def write_companion(root: Path, texts: list[str]) -> Path:
    """A tiny companion with `texts[0]` as the book title and each text as a character and a chapter."""
    src = make_tiny(root)  # with a copy of styles/ (a link out of the project is refused: C040)
    book = (src / "book.yaml").read_text().replace("title: Tiny Companion", f"title: {_quoted(texts[0])}")
    (src / "book.yaml").write_text(book)
    characters = "".join(
        f"- id: person-{i}\n  name: Person {i}\n  description: {_quoted(text)}\n"
        for i, text in enumerate(texts)
    )
    (src / "characters.yaml").write_text(characters)
    for i, text in enumerate(texts):
        (src / "chapters" / f"{i + 2:02d}-text.md").write_text(
            f"---\ntitle: {_quoted(text)}\nid: text-{i}\n---\n\n{text}\n", encoding="utf-8"
        )
    return src


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXT)
def test_check_gives_a_result_or_a_clean_diagnostic(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = write_companion(Path(tmp), [text])
        try:
            pipeline.check(pipeline.Project.at(src))
        except CompanionError as exc:
            assert exc.diagnostics
            assert all(d.format() for d in exc.diagnostics)


@given(data=st.binary(max_size=300))
@settings(max_examples=40, deadline=None)
def test_any_bytes_as_book_yaml_give_a_clean_diagnostic(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = make_tiny(Path(tmp))
        (src / "book.yaml").write_bytes(data)
        with pytest.raises(CompanionError):
            pipeline.check(pipeline.Project.at(src))


@given(text=st.text(st.characters(exclude_categories=("Cs",)), max_size=200))
@settings(max_examples=40, deadline=None)
def test_any_text_as_a_chapter_file_gives_a_result_or_a_clean_diagnostic(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = make_tiny(Path(tmp))
        (src / "chapters" / "01-one.md").write_text(text, encoding="utf-8")
        try:
            pipeline.check(pipeline.Project.at(src))
        except CompanionError as exc:
            assert exc.diagnostics


def _assert_sound_epub(data: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist()[0] == "mimetype"
        for name in archive.namelist():
            if name.endswith((".xhtml", ".opf", ".ncx")):
                etree.fromstring(archive.read(name))


@pytest.mark.slow
def test_builds_give_an_epub_and_a_pdf_or_a_clean_diagnostic_and_pass_epubcheck(tmp_path: Path) -> None:
    built: list[str] = []

    @settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        database=None,
    )
    @given(text=TEXT)
    def build_one(text: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            src = write_companion(Path(tmp), [text])
            try:
                result = pipeline.build(pipeline.Project.at(src), ("epub", "pdf"))
            except CompanionError as exc:
                assert exc.diagnostics
                return
        outputs = {o.name: o.data for o in result.outputs}
        assert outputs["tiny.pdf"].startswith(b"%PDF-")
        _assert_sound_epub(outputs["tiny.epub"])
        built.append(text)

    build_one()
    texts = [*dict.fromkeys(built)][:12] or ["plain"]
    # The special texts that load cleanly go in too: EPUBCheck always sees RTL, marks, emoji, long words.
    texts += [s for s in SPECIAL if not any(0 <= ord(c) < 32 and c not in "\t\n" for c in s)][:8]
    src = write_companion(tmp_path / "all", [t for t in texts if "\ufffe" not in t and "\x85" not in t])
    result = pipeline.build(pipeline.Project.at(src), ("epub", "pdf"))
    outputs = {o.name: o.data for o in result.outputs}
    assert outputs["tiny.pdf"].startswith(b"%PDF-")
    epub = tmp_path / "all.epub"
    epub.write_bytes(outputs["tiny.epub"])
    run = subprocess.run(
        ["java", "-jar", str(EPUBCHECK), str(epub)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
