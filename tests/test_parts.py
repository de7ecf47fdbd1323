"""The print interior laid out in parts: the same pages as one whole layout, the true page numbers put
in place, only the changed part laid out again after an edit, and the same bytes either way."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader

from companion import pipeline
from companion.core import parallel
from companion.printing import fontconfig as printfonts
from companion.printing import interior as pdf
from companion.printing import parts as pdfparts
from companion.printing import worker as pdfworker
from companion.printing.fetcher import RestrictedFetcher
from companion.printing.layout import PrintLayout
from companion.printing.merge import PART_LINK_SCHEME
from companion.render.render import Edition, print_document, render
from companion.source.load import load
from companion.source.model import PrintSettings
from companion.source.validate import validate

from .tinysource import laid_out, make_tiny

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bundled() -> tuple[str, PrintSettings]:
    validated = validate(load(ROOT / "source"), ROOT / "styles")
    images = {a.src: a.path.as_uri() for a in validated.assets}
    return print_document(render(validated, Edition(), "print", images)), validated.companion.book.print


@pytest.fixture
def inline() -> Iterator[None]:
    """The workers stay in this process, where a test can watch them."""
    with parallel.in_this_process():
        yield


def test_split_puts_the_front_matter_alone_then_runs_of_whole_sections(
    bundled: tuple[str, PrintSettings],
) -> None:
    interior = pdfparts.Interior.parse(bundled[0])
    parts = pdfparts.split(interior)
    assert [s.id for s in parts[0].sections] == ["halftitle", "titlepage", "copyright", "contents"]
    assert len(parts) >= 3  # front matter and at least two runs for the two cores
    assert [s.id for p in parts for s in p.sections] == [s.id for s in interior.sections]
    assert all(s.matter != "front" for p in parts[1:] for s in p.sections)
    assert pdfparts.split(interior, 1)[0].sections == interior.sections
    assert all(p.sections[0].on_right for p in parts)  # a part begins on a right-hand page
    assert [p.sections[0].id for p in pdfparts.split(interior, 5)[1:]] == [
        "about",
        "part-one",
        "running-a-session",  # the reference sections after the chapters run on: one part
    ]
    assert not any(s.on_right for s in interior.sections if s.id in ("characters", "glossary"))


def test_part_html_links_inside_keep_their_anchor_and_every_link_carries_its_number(
    bundled: tuple[str, PrintSettings],
) -> None:
    interior = pdfparts.Interior.parse(bundled[0])
    parts = pdfparts.split(interior)
    numbers = {ident: 100 + n for n, (ident, _) in enumerate(i for s in interior.sections for i in s.ids)}
    html = pdfparts.part_html(interior, parts[1], numbers)
    links = re.findall(r'<a [^>]*?href="([^"]+)" data-page="(\d+)"', html)
    inside = [href for href, _ in links if href.startswith("#")]
    outside = [href for href, _ in links if href.startswith(PART_LINK_SCHEME)]
    assert inside and outside
    assert all(href[1:] in parts[1].ids for href in inside)
    assert all(href[len(PART_LINK_SCHEME) :] not in parts[1].ids for href in outside)
    assert all(int(page) == numbers[href.rsplit(":", 1)[-1].lstrip("#")] for href, page in links)
    assert not re.search(r'<a (?![^>]*data-page)[^>]*href="#', html)


def test_part_css_carries_the_footnote_count_title_and_first_page_number() -> None:
    html = (
        '<html><body><section id="h" class="halftitle frontmatter"><p class="halftitle-title">A "Quoted" '
        'Title</p></section><section id="a" class="chapter bodymatter"><span class="footnote">x</span>'
        '<span class="footnote">y</span></section><section id="b" class="chapter bodymatter"></section>'
        "</body></html>"
    )
    interior = pdfparts.Interior.parse(html)
    parts = pdfparts.split(interior, 2)
    css = pdfparts.part_css(interior, parts[2], parts, 17)
    assert 'string-set: booktitle "A \\"Quoted\\" Title"' in css
    assert "counter-reset: footnote 2" in css
    assert "@page :first { counter-reset: page 17; }" in css
    assert pdfparts.part_css(interior, parts[0], parts, 1) == ""


def test_numbers_count_from_one_again_where_the_body_opens() -> None:
    html = (
        '<html><body><section id="f" class="x frontmatter"></section>'
        '<section id="a" class="x bodymatter"><p id="deep">.</p></section>'
        '<section id="b" class="x bodymatter"></section></body></html>'
    )
    interior = pdfparts.Interior.parse(html)
    parts = pdfparts.split(interior, 2)
    truth = pdfparts.number(interior, parts, [4, 6, 2], [[("f", 0)], [("a", 0), ("deep", 3)], [("b", 0)]])
    assert truth.page_count == 12
    assert dict(truth.page_starts) == {"f": 1, "a": 5, "deep": 8, "b": 11}
    assert truth.numbers == {"f": 1, "a": 1, "deep": 4, "b": 7}
    assert truth.starts == (1, 1, 7)
    assert truth.folio(3, "iii") == "iii" and truth.folio(8, "888") == "4" and truth.folio(9, "") == ""


def test_parts_give_the_same_pages_as_one_whole_layout(bundled: tuple[str, PrintSettings]) -> None:
    html, settings = bundled
    whole = laid_out(html, settings, ROOT / "styles", ROOT / "source", parts=1)
    split = laid_out(html, settings, ROOT / "styles", ROOT / "source", parts=4)
    assert split.page_count == whole.page_count
    assert split.page_starts == whole.page_starts
    assert split.folios == whole.folios
    assert _see_pages(split) == _see_pages(whole)
    assert _page_texts(split) == _page_texts(whole)


def _see_pages(layout: PrintLayout) -> list[str]:
    return re.findall(r"see\s+page\s+(\d+)", "".join(_page_texts(layout)))


def _page_texts(layout: PrintLayout) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(layout.pdf)).pages]


def _justified(number: str) -> str:
    words = " ".join(["word"] * 30)
    link = f'<a class="xref" href="#s" data-page="{number}">link</a>'
    return (
        f'<html lang="en"><body><section id="s" class="chapter bodymatter"><h1 class="section-title">S</h1>'
        f"<p>{words} {link} {words}</p></section></body></html>"
    )


def _line_ends(layout: pdfworker.PartLayout, index: int) -> list[float]:
    laid = layout._parts[index]
    return [
        max(b.position_x + b.width for b in line.descendants() if hasattr(b, "text"))
        for texts in laid.numbers.values()
        for _, line, _ in texts
    ]


def _part_layout() -> pdfworker.PartLayout:
    """A layout worker's handler, here in the test's process, for the bundled styles."""
    styles = ROOT / "styles"
    fetcher = RestrictedFetcher(styles, ROOT / "source")
    sheets, fonts = printfonts.stylesheets(styles, pdf.INTERIOR_SHEETS, fetcher)
    page = pdf.page_css(PrintSettings(), 0.7)
    return pdfworker.PartLayout(sheets, fetcher, str(ROOT / "source") + "/", page, {}, fonts)


def test_a_changed_number_is_put_in_place_and_its_line_stays_justified() -> None:
    layout = _part_layout()
    report = layout.lay_out([(0, _justified("888"), "")])[0]
    assert report.pages == 2
    before = _line_ends(layout, 0)
    assert layout.fits([(0, {"s": 7})]) == [True]
    assert layout.fits([(0, {"s": 88888888})]) == [False]  # far too wide to take up in the spaces
    layout.patch([(0, {}, {"s": 7})])
    assert _line_ends(layout, 0) == pytest.approx(before, abs=0.01)
    text = " ".join(PdfReader(io.BytesIO(layout.write([0], None)[0])).pages[0].extract_text().split())
    assert "link (see page 7)" in text and "888" not in text


def _bigger_book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny companion and six chapters of about 1,200 words, cut into parts of 600 words."""
    monkeypatch.setattr(pdfparts, "PART_WORDS", 600)
    source = make_tiny(tmp_path, styles=True)
    for n in range(1, 7):
        body = " ".join(f"Sentence {n}.{k} about the lanterns and the pond." for k in range(120))
        (source / "chapters" / f"5{n}-extra-{n}.md").write_text(
            f'---\ntitle: "Extra {n}"\n---\n\n{body}\n\nSee [the overview](#about).\n', encoding="utf-8"
        )
    return source


def test_an_edit_lays_out_only_its_part_again_and_gives_a_cold_build_s_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inline: None
) -> None:
    source = _bigger_book(tmp_path, monkeypatch)
    project = pipeline.Project.at(source)
    laid: list[str] = []
    original = pdfworker.PartLayout._lay_out

    def spy(self: pdfworker.PartLayout, index: int, html: str, css: str) -> pdfworker.PartReport:
        laid.append(re.findall(r'<section id="([^"]+)"', html)[0])
        return original(self, index, html, css)

    monkeypatch.setattr(pdfworker.PartLayout, "_lay_out", spy)
    pipeline.build(project, ("pdf",))
    parts = len(laid)
    assert parts >= 5
    edited = source / "chapters" / "53-extra-3.md"
    edited.write_text(edited.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
    laid.clear()
    after = pipeline.build(project, ("pdf",)).outputs[0].data
    assert laid == ["extra-3"]  # only the part holding the edited chapter
    monkeypatch.setenv("COMPANION_NO_CACHE", "1")
    assert pipeline.build(project, ("pdf",)).outputs[0].data == after


def test_a_contents_number_keeps_its_right_edge_and_the_dots_run_up_to_it() -> None:
    layout = _part_layout()
    html = (
        '<html lang="en"><body><section id="s" class="contents frontmatter"><ol class="toc-list">'
        '<li class="toc-entry"><a href="#s" data-page="888">An entry</a></li></ol></section></body></html>'
    )
    layout.lay_out([(0, html, "")])

    def number_and_dots() -> tuple[float, float, int]:
        texts = next(iter(layout._parts[0].numbers.values()))
        box, line, _ = next(t for t in texts if any(c.isdigit() for c in t[0].text))
        dots = [b for b in line.descendants() if getattr(b, "text", "") == ". "]
        return (
            box.position_x + box.width,
            box.position_x - max(d.position_x + d.width for d in dots),
            len(dots),
        )

    right, gap, dots = number_and_dots()
    assert layout.fits([(0, {"s": 7})]) == [True]
    layout.patch([(0, {}, {"s": 7})])
    new_right, new_gap, new_dots = number_and_dots()
    assert new_right == pytest.approx(right, abs=0.01)
    assert new_dots > dots  # the narrower number leaves room for more dots
    dot = 6.2
    assert 0 <= new_gap < gap + dot


def test_an_edit_that_adds_pages_renumbers_the_parts_after_it_as_a_cold_build_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, inline: None
) -> None:
    source = _bigger_book(tmp_path, monkeypatch)
    project = pipeline.Project.at(source)
    before = pipeline.build(project, ("pdf",))
    edited = source / "chapters" / "52-extra-2.md"
    more = "\n\n".join(f"A new paragraph {n} about the lanterns and the pond." for n in range(150))
    edited.write_text(edited.read_text(encoding="utf-8") + "\n" + more + "\n", encoding="utf-8")
    after = pipeline.build(project, ("pdf",))
    assert after.page_count > before.page_count  # the parts after it open on later pages
    monkeypatch.setenv("COMPANION_NO_CACHE", "1")
    assert pipeline.build(project, ("pdf",)).outputs[0].data == after.outputs[0].data
