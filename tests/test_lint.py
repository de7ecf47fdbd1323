"""The layout lint: each rule on crafted lines, the lines read off real WeasyPrint pages, and the
bundled companion free of the faults the print style sheet now prevents."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion.printing import fontconfig as printfonts
from companion.printing import interior as pdf
from companion.printing import lines as pdflines
from companion.printing import lint
from companion.printing.fetcher import RestrictedFetcher
from companion.printing.lint import Line

ROOT = Path(__file__).resolve().parent.parent


def _text(page: int, block: int, text: str, **extra: object) -> Line:
    return Line(page, "s", block, "text", text, **extra)  # type: ignore[arg-type]


def _codes(lines: list[Line], full: int = 30) -> list[str]:
    return [f.code for f in lint.check(lines, full)]


def test_l001_a_heading_with_one_line_under_it_at_the_page_foot() -> None:
    lines = [_text(0, 1, "a line")] * 3 + [
        Line(0, "s", 2, "heading", "Things to watch for"),
        _text(0, 3, "one line"),
    ]
    lines.append(_text(1, 3, "the rest of the list"))
    found = lint.check(lines, 2)  # a short book: no page is short
    assert [(f.page, f.code) for f in found] == [(0, "L001")]
    assert found[0].message == "heading `Things to watch for` has 1 line(s) under it at the page foot"
    assert "L001" not in _codes([*lines[:4], _text(0, 3, "one"), _text(0, 3, "two"), lines[-1]], 2)


def test_l002_a_very_short_last_page() -> None:
    lines = [_text(0, 1, "full")] * 30 + [_text(1, 1, "end")] * 4
    found = lint.check(lines, 30)
    assert [(f.page, f.code, f.message) for f in found] == [
        (1, "L002", "section `s` ends with a page of 4 line(s) of 30")
    ]
    assert "L002" not in _codes([_text(0, 1, "full")] * 30 + [_text(1, 1, "end")] * 6)


def test_l003_a_hyphen_ladder() -> None:
    lines = [_text(0, 1, f"line {n} care‐", hyphen=True) for n in range(3)] + [_text(0, 1, "ful words end")]
    assert _codes(lines).count("L003") == 1
    assert "L003" not in _codes([lines[0], lines[1], _text(0, 1, "no hyphen"), lines[2], lines[3]])


def test_l004_a_last_line_of_half_a_word() -> None:
    lines = [_text(0, 1, "a paragraph that ends in literat‐", hyphen=True), _text(0, 1, "ure.")]
    found = lint.check(lines, 30)
    assert [(f.code, f.message) for f in found] == [("L004", "a paragraph ends on half a word: `ure.`")]
    assert "L004" not in _codes([lines[0], _text(0, 1, "ure, and more words.")])


def test_l005_a_hyphenated_name_but_not_a_sentence_start() -> None:
    found = lint.check([_text(0, 1, "the school at Morn‐", hyphen=True), _text(0, 1, "ingdale, where")], 30)
    assert [(f.code, f.message) for f in found] == [("L005", "a name is hyphenated: `Morningdale`")]
    assert "L005" not in _codes([_text(0, 1, "an end. Care‐", hyphen=True), _text(0, 1, "ful words")])


def test_l006_loose_lines_against_the_texts_normal_spacing() -> None:
    usual = [_text(0, 1, "usual words", spacing=1.2)] * 5
    found = lint.check(
        [*usual, _text(0, 1, "very loose", spacing=3.0), _text(0, 1, "tight", spacing=1.1)], 30
    )
    assert [(f.code, f.message) for f in found] == [("L006", "word spaces 2.5 times normal in `very loose`")]
    assert "L006" not in _codes([*usual, _text(0, 1, "a little loose", spacing=2.3)])


def test_l008_a_word_alone_on_a_line_inside_a_paragraph() -> None:
    found = lint.check(
        [
            _text(0, 1, "quickly. But I"),
            _text(0, 1, "don’t"),
            _text(0, 1, "go along with that."),
            _text(0, 2, "End"),
        ],
        30,
    )
    assert [(f.code, f.message) for f in found] == [
        ("L008", "a line of one word inside a paragraph: `don’t`")
    ]
    assert "L008" not in _codes([_text(0, 1, "extraordinari‐", hyphen=True), _text(0, 1, "ly broken")])
    assert "L008" not in _codes([_text(0, 1, "a last line of"), _text(0, 1, "one")])  # its paragraph's last


def test_l007_a_leader_short_of_its_number() -> None:
    found = lint.check([Line(0, "toc", 1, "leader", "Themes . . . 27", gap=4.5)], 30)
    assert [(f.code, f.message) for f in found] == [
        ("L007", "the leader stops 4.5 pt short of its number in `Themes . . . 27`")
    ]
    assert not lint.check([Line(0, "toc", 1, "leader", "Characters . . 21", gap=1.0)], 30)


def test_lines_round_trip_through_json_lists() -> None:
    line = Line(3, "about", 7, "text", "word‐", True, 2.25, 0.0)
    assert Line.from_list(line.to_list()) == line


def _laid_out(body: str, css: str = "") -> list[Line]:
    from weasyprint import CSS, HTML

    fetcher = RestrictedFetcher(ROOT / "styles")
    sheets, config = printfonts.stylesheets(ROOT / "styles", pdf.INTERIOR_SHEETS, fetcher)
    page = CSS(string="@page { size: 3in 3in; margin: 0.3in }" + css, font_config=config)
    html = f"<html lang=en><body>{body}</body></html>"
    document = HTML(string=html, url_fetcher=fetcher).render(stylesheets=[*sheets, page], font_config=config)
    return pdflines.lines_of(document.pages)


def test_lines_are_read_off_real_pages() -> None:
    words = " ".join(["extraordinarily", "unbelievable", "circumstances"] * 12)
    lines = _laid_out(
        f'<section id="one"><h2>A heading</h2><p>{words}</p><ul><li>an item</li></ul></section>'
        '<footer class="footnote">no</footer>'
    )
    assert lines[0].kind == "heading" and lines[0].text == "A heading"
    assert {line.section for line in lines} == {"one", ""}  # the footer is in no section
    body = [line for line in lines if line.kind == "text" and line.section == "one"]
    assert any(line.hyphen for line in body)
    assert all(line.text.endswith("\u2010") for line in body if line.hyphen)
    assert len({line.block for line in body}) == 2  # the paragraph and the list item
    assert body[-1].text == "–\u00a0\u00a0an item"  # print.css sets the dash as text before the item
    assert any(line.spacing > 1.0 for line in body)


@pytest.mark.slow
def test_the_bundled_interior_has_no_stranded_heading_half_word_broken_name_or_short_leader(
    built: Path,
) -> None:
    """Headings keep two lines (print.css), names and a paragraph's last word are never hyphenated
    (markdown.py marks them, the last with the word before it: L008 on Debian 12 otherwise), and every
    contents leader ends where its number begins (pdfworker)."""
    from companion import pipeline

    result = pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles"), ("pdf",))
    codes = [w.code for w in result.warnings]
    assert {"L001", "L004", "L005", "L007", "L008"}.isdisjoint(codes), [w.format() for w in result.warnings]
