"""The print interior as a printer and a reader see it: trims, bleed, marks, gutter, folios,
running heads, cross-references that read "see page N" with the right N."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from companion import pipeline
from companion.epub.pagemap import page_labels
from companion.printing import interior as pdf
from companion.printing.layout import PrintLayout
from companion.render.render import Edition, print_document, render
from companion.source.load import load
from companion.source.validate import validate

from .seed import normal
from .tinysource import laid_out as lay_out_now
from .tinysource import make_tiny

ROOT = Path(__file__).resolve().parent.parent
PT = 72


@pytest.fixture(scope="module")
def laid_out() -> tuple[str, PrintLayout]:
    validated = validate(load(ROOT / "source"), ROOT / "styles")
    html = print_document(
        render(validated, Edition(), "print", {a.src: a.path.as_uri() for a in validated.assets})
    )
    return html, lay_out_now(html, validated.companion.book.print, ROOT / "styles", ROOT / "source")


def test_gutter_grows_with_the_page_count() -> None:
    pages = (24, 150, 151, 300, 301, 500, 501, 700, 701, 828)
    assert [pdf.inside_margin(n, "kdp") for n in pages] == [
        pytest.approx(x + pdf.GUTTER_EXTRA_IN)
        for x in (0.375, 0.375, 0.5, 0.5, 0.625, 0.625, 0.75, 0.75, 0.875, 0.875)
    ]
    css = pdf.page_css(pipeline.FULL_EDITION and load(ROOT / "source").companion.book.print, 0.8)
    assert "@page :left { margin-left: 0.6in; margin-right: 0.8in; }" in css
    assert "@page :right { margin-left: 0.8in; margin-right: 0.6in; }" in css


@pytest.mark.parametrize(
    ("trim", "size"),
    [("5x8", (5, 8)), ("5.25x8", (5.25, 8)), ("5.5x8.5", (5.5, 8.5)), ("6x9", (6, 9)), ("a5", (5.83, 8.27))],
)
def test_trim_sizes_text_only_page_is_the_trim(tmp_path: Path, trim: str, size: tuple[float, float]) -> None:
    source = make_tiny(tmp_path, styles=True)
    (source / "book.yaml").write_text((source / "book.yaml").read_text() + f"print:\n  trim: {trim}\n")
    result = pipeline.build(pipeline.Project.at(source), ("pdf",))
    reader = PdfReader(io.BytesIO(result.outputs[0].data))
    assert len(reader.pages) % 2 == 0
    for page in reader.pages:
        assert (round(float(page.mediabox.width) / PT, 2), round(float(page.mediabox.height) / PT, 2)) == size
        assert page.trimbox == page.mediabox == page.bleedbox


def test_bleed_on_request_is_on_the_outer_edges_only_and_mirrored(tmp_path: Path) -> None:
    """KDP's page size with bleed: trim + 0.125 in wide, + 0.25 in tall; none in the gutter."""
    source = make_tiny(tmp_path, styles=True)
    (source / "book.yaml").write_text(
        (source / "book.yaml").read_text() + "print:\n  trim: 6x9\n  bleed: true\n"
    )
    result = pipeline.build(pipeline.Project.at(source), ("pdf",))
    reader = PdfReader(io.BytesIO(result.outputs[0].data))
    for number, page in enumerate(reader.pages, start=1):
        media, trim = page.mediabox, page.trimbox
        assert (float(media.width) / PT, float(media.height) / PT) == (
            pytest.approx(6.125),
            pytest.approx(9.25),
        )
        assert (float(trim.width) / PT, float(trim.height) / PT) == (pytest.approx(6), pytest.approx(9))
        assert page.bleedbox == media
        assert float(trim.bottom - media.bottom) / PT == pytest.approx(0.125)
        assert float(media.top - trim.top) / PT == pytest.approx(0.125)
        gutter = trim.left - media.left if number % 2 else media.right - trim.right
        outside = media.right - trim.right if number % 2 else trim.left - media.left
        assert (float(gutter), float(outside) / PT) == (0, pytest.approx(0.125))


def test_crop_marks_on_request(tmp_path: Path) -> None:
    source = make_tiny(tmp_path, styles=True)
    plain = pipeline.build(pipeline.Project.at(source), ("pdf",)).outputs[0].data
    marked = pipeline.build(pipeline.Project.at(source), ("pdf",), marks=True).outputs[0].data
    plain_page, marked_page = PdfReader(io.BytesIO(plain)).pages[0], PdfReader(io.BytesIO(marked)).pages[0]
    assert marked != plain
    assert (marked_page.trimbox.width, marked_page.trimbox.height) == (
        plain_page.trimbox.width,
        plain_page.trimbox.height,
    )
    # the marks are drawn as extra path operations outside the trim
    assert len(marked_page.get_contents().get_data()) > len(plain_page.get_contents().get_data())


def test_folios_roman_then_arabic_and_none_on_openers_and_blanks(laid_out: tuple[str, PrintLayout]) -> None:
    html, layout = laid_out
    starts = dict(layout.page_starts)
    body = starts["about"]
    labels = page_labels(layout, body)
    chapters = re.findall(r'<section id="([^"]+)" class="[\w-]+ (?:bodymatter|backmatter)"', html)
    openers = {starts[f"{ident}-title"] for ident in chapters}
    assert len(openers) == len(chapters) >= 15
    for number, folio in enumerate(layout.folios, start=1):
        if number in openers or number < starts["contents"]:
            assert folio == "", (number, folio)
        elif folio:
            assert folio == labels[number - 1], (number, folio)
    assert layout.folios[starts["contents"] - 1] == "v"
    assert labels[body - 1] == "1"
    printed = [int(f) for f in layout.folios if f.isdigit()]
    assert printed == sorted(printed) and len(printed) >= 15


def test_running_heads(laid_out: tuple[str, PrintLayout]) -> None:
    """Book title on left-hand pages, section title on right-hand pages (painted last, after the text)."""
    _, layout = laid_out
    reader = PdfReader(io.BytesIO(layout.pdf))
    starts = dict(layout.page_starts)
    left = starts["characters"] + 1  # the page after a right-hand opener
    assert left % 2 == 0
    left_lines = reader.pages[left - 1].extract_text().splitlines()
    right_lines = reader.pages[left].extract_text().splitlines()
    assert normal(left_lines[-2]) == normal("Never Let Me Go") and left_lines[-1].strip().isdigit()
    assert normal(right_lines[-2]) == normal("Characters") and right_lines[-1].strip().isdigit()
    opener = reader.pages[starts["characters"] - 1].extract_text().splitlines()
    assert not opener[-1].strip().isdigit()  # no folio and no head on a chapter opener


def test_cross_references_read_see_page_n_with_the_right_n(laid_out: tuple[str, PrintLayout]) -> None:
    html, layout = laid_out
    starts = dict(layout.page_starts)
    labels = page_labels(layout, starts["about"])
    targets = re.findall(r'<a class="xref" href="#([^"]+)"', html)
    expected = sorted(int(labels[starts[target] - 1]) for target in targets)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(layout.pdf)).pages)
    found = sorted(int(n) for n in re.findall(r"see\s+page\s+(\d+)\)", text))
    assert len(targets) >= 10
    assert found == expected


def test_no_line_runs_past_its_measure_and_images_are_vector(laid_out: tuple[str, PrintLayout]) -> None:
    _, layout = laid_out
    assert layout.overflows == ()
    assert layout.image_dpi == ()  # the bundled route diagram is SVG
