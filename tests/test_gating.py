"""The gating API (gating.py, edition.py): stages, `reveals`, chapter sections, and what an edition keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.render.edition import Edition
from companion.render.render import plan, render
from companion.source import gating, markdown
from companion.source.load import load
from companion.source.model import Question
from companion.source.validate import validate

ROOT = Path(__file__).resolve().parent.parent
RANKS = {"part-one": 1, "part-two": 2, "part-three": 3}


def test_the_bundled_novel_has_three_parts_and_four_stages() -> None:
    book = load(ROOT / "source").companion.book
    assert gating.stages(book) == (
        gating.Stage("start", "Before you start", 0),
        gating.Stage("part-one", "Part One", 1),
        gating.Stage("part-two", "Part Two", 2),
        gating.Stage("part-three", "Part Three", 3),
    )
    assert gating.ranks(book) == RANKS


def test_a_book_without_parts_is_one_part() -> None:
    book = load(ROOT / "source").companion.book
    bare = book.model_copy(update={"novel": book.novel.model_copy(update={"parts": ()})})
    assert [s.id for s in gating.stages(bare)] == ["start", "end"]


@pytest.mark.parametrize(
    ("written", "reveals", "spoilers"),
    [
        ({}, 0, False),
        ({"spoilers": False}, 0, False),
        ({"spoilers": True}, 3, True),  # the end
        ({"reveals": "part-two"}, 2, True),
        ({"reveals": "part-one", "spoilers": True}, 1, True),
        ({"reveals": "start"}, 0, False),
    ],
)
def test_reveals_becomes_the_parts_rank(written: dict[str, object], reveals: int, spoilers: bool) -> None:
    question = Question.model_validate({"question": "Why?", **written}, context={"parts": RANKS})
    assert (question.reveals, question.spoilers) == (reveals, spoilers)


def test_visible_is_reveals_at_most_through() -> None:
    assert gating.visible(0, 0) and gating.visible(2, 2) and gating.visible(1, 3)
    assert not gating.visible(3, 2) and not gating.visible(1, 0)


def test_editions_are_named_by_one_rule() -> None:
    book = load(ROOT / "source").companion.book
    names = {
        (through, layout): Edition(through=through, layout=layout).bind(book).name
        for through in (None, "start", "part-one", "part-three")
        for layout in ("standard", "large-print")
    }
    assert names == {
        (None, "standard"): "",
        ("start", "standard"): "spoiler-free",
        ("part-one", "standard"): "through-part-one",
        ("part-three", "standard"): "",  # through the last part is the whole novel
        (None, "large-print"): "large-print",
        ("start", "large-print"): "spoiler-free-large-print",
        ("part-one", "large-print"): "through-part-one-large-print",
        ("part-three", "large-print"): "large-print",
    }


TEXT = """Open.[^a]

::: reveals part-two
Hidden [Tommy](#tommy).[^b]
:::

::: reveals part-one
Shown.[^c]
:::

[^a]: Note a.
[^b]: Note b, only after Part Two.
[^c]: Note c.
"""


def test_a_section_is_left_out_with_its_notes_and_the_rest_renumbered() -> None:
    early = markdown.to_html(TEXT, target="epub", prefix="x", links={}, images={}, through=1, parts=RANKS)
    assert "Hidden" not in early.html and "Shown." in early.html
    assert "".join(early.notes).count("<aside") == 2 and "Note b" not in "".join(early.notes)
    assert 'href="#x-fn-2">2</a>' in early.html and "Note c." in early.notes[1]
    late = markdown.to_html(TEXT, target="print", prefix="x", links={}, images={}, through=2, parts=RANKS)
    assert "Hidden" in late.html and "Note b, only after Part Two." in late.html
    full = markdown.to_html(TEXT, target="epub", prefix="x", links={}, images={})
    assert "Hidden" in full.html and len(full.notes) == 3
    assert ":::" not in full.html and "reveals" not in full.html


def test_a_link_to_an_item_of_a_later_part_keeps_its_words() -> None:
    """Part Two's notes link to the glossary's `deferral`, which reveals Part Three: in the edition through
    Part Two the words stay and the link goes, as for every left-out target."""
    validated = validate(load(ROOT / "source"))
    edition = Edition(through="part-two").bind(validated.companion.book)
    assert "deferral" not in {
        getattr(item, "id", "") for section in plan(validated.companion, edition) for item in section.items
    }
    rendered = render(validated, edition, "epub", {"@cover": "c.jpg"})
    deferral = next(
        d for d in rendered.documents if d.section.id == "part-two"
    )  # links to #deferral (Part Three)
    assert '<span class="xref-unlinked">deferral</span>' in deferral.html
    assert "#deferral" not in deferral.html


def test_an_unbound_stage_keeps_nothing_by_mistake() -> None:
    """A part's stage means nothing until the book says what its parts are."""
    with pytest.raises(ValueError, match="bind"):
        Edition(through="part-one").keeps(0)
    assert Edition(through="start").keeps(0) and not Edition(through="start").keeps(1)
