"""The bundled companion loads into the typed model, and every value knows where it came from."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.core.errors import CompanionError, Location
from companion.source.load import load
from companion.source.model import Companion
from companion.source.validate import validate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def companion() -> Companion:
    return load(ROOT / "source").companion


def test_bundled_companion_has_every_content_kind(companion: Companion) -> None:
    assert companion.book.slug == "never-let-me-go"
    assert companion.book.novel.author == "Kazuo Ishiguro"
    assert len(companion.reviews) == 3
    assert len(companion.quotes) == 3
    assert len(companion.faq) >= 3
    names = {c.name for c in companion.characters}
    assert {"Kathy H.", "Ruth", "Tommy", "Miss Emily", "Madame", "Miss Lucy"} <= names
    theme_ids = {t.id for t in companion.themes}
    assert {"memory", "identity", "love", "mortality", "ethics-of-science", "art-and-the-soul"} <= theme_ids
    assert len(companion.questions) >= 12
    terms = {t.term.lower() for t in companion.glossary}
    for word in ("carer", "donor", "guardian", "deferral"):
        assert any(word in term for term in terms), word
    assert len(companion.timeline) >= 10
    assert [c.id for c in companion.chapters][:2] == ["how-to-use", "about-the-author"]


def test_spoilers_are_marked_in_the_source(companion: Companion) -> None:
    assert companion.about.setting.spoilers and companion.about.setting.reveals == 1
    assert any(c.spoilers for c in companion.chapters)
    assert any(not c.spoilers for c in companion.chapters)
    assert any(q.spoilers for q in companion.quotes)


def test_values_keep_file_and_line(companion: Companion) -> None:
    where = companion.sources.find(("characters.yaml", 0, "name"))
    assert where.path.endswith("characters.yaml")
    line = (ROOT / "source" / "characters.yaml").read_text().splitlines()[where.line - 1]
    assert companion.characters[0].name in line
    chapter = companion.chapters[0]
    text = (ROOT / "source" / "chapters").glob("01-*.md").__next__().read_text().splitlines()
    assert text[chapter.body_line - 1 :][0:1] == chapter.body.splitlines()[0:1]


def test_model_is_immutable(companion: Companion) -> None:
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError, dataclasses FrozenInstanceError
        companion.book.title = "x"  # type: ignore[misc]
    with pytest.raises(Exception):  # noqa: B017
        companion.chapters[0].title = "x"  # type: ignore[misc]


def test_all_problems_reported_together(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text("title: T\nslug: t\nauthr: A\nlanguage: en\n", encoding="utf-8")
    (tmp_path / "about.yaml").write_text("overview: x\nsetting: [1, 2\n", encoding="utf-8")
    loaded = load(tmp_path)  # load hands on every problem; validate raises them
    with pytest.raises(CompanionError) as caught:
        validate(loaded)
    assert set(loaded.problems) <= set(caught.value.diagnostics)
    found = {(d.where.path.rsplit("/", 1)[-1], d.where.line, d.code) for d in caught.value.diagnostics}
    assert ("book.yaml", 3, "C012") in found
    assert ("book.yaml", 1, "C013") in found
    assert any(code == "C010" and path == "about.yaml" for path, _, code in found)
    hint = next(d for d in caught.value.diagnostics if d.code == "C012").hint
    assert hint == "did you mean `author`?"


def test_location_format() -> None:
    assert str(Location("a.yaml", 3, 7)) == "a.yaml:3:7"
    assert str(Location("a.yaml", 3)) == "a.yaml:3"
    assert str(Location("a.yaml")) == "a.yaml"
