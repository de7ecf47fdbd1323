"""The cover: spine maths, wrap boxes, spine text rule, fonts, JPEG size, determinism, escaping."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader

from companion.core.errors import CompanionError
from companion.printing import cover
from companion.source.load import load
from companion.source.model import Book, Review

ROOT = Path(__file__).resolve().parent.parent
STYLES = ROOT / "styles"
NOTE = "Spoiler-free edition: safe to read before finishing the novel."
HOSTILE = '<script>alert(1)</script> & "quotes"'


@pytest.fixture(scope="module")
def content():
    return load(ROOT / "source").companion


@pytest.fixture(scope="module")
def book(content) -> Book:
    return content.book


@pytest.fixture(scope="module")
def review(content) -> Review:
    return content.reviews[0]


@pytest.fixture(scope="module")
def wrap200(book, review) -> bytes:
    return cover.wrap_pdf(book, review, 200, STYLES, edition_note=NOTE)


@pytest.fixture(scope="module")
def wrap40(book, review) -> bytes:
    return cover.wrap_pdf(book, review, 40, STYLES)


@pytest.fixture(scope="module")
def jpeg(book) -> bytes:
    return cover.front_jpeg(book, STYLES, edition_note=NOTE)


def _page(pdf: bytes):
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0]


def _fragments(pdf: bytes) -> list[tuple[float, float, str]]:
    """Every shown text with its position in PDF points (origin at the trim's bottom left)."""
    found: list[tuple[float, float, str]] = []

    def visit(text, cm, tm, _font, _size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((x, y, text))

    _page(pdf).extract_text(visitor_text=visit)
    return found


def _spine_text(pdf: bytes, book: Book, page_count: int) -> str:
    trim_w = book.print.size[0] * 72
    spine = cover.spine_width(page_count, book.print.paper) * 72
    return " ".join(text for x, _, text in _fragments(pdf) if trim_w - 1 < x < trim_w + spine + 1)


def test_spine_width_per_paper():
    assert cover.spine_width(200, "white") == pytest.approx(0.4504)
    assert cover.spine_width(200, "cream") == pytest.approx(0.5)
    assert cover.spine_width(0, "cream") == 0
    with pytest.raises(ValueError):
        cover.spine_width(100, "glossy")


def test_spine_text_rule():
    assert cover.has_spine_text(200, "cream")
    assert cover.has_spine_text(100, "cream")  # exactly 0.25 in
    assert not cover.has_spine_text(79, "cream")  # 0.1975 in: too thin although >= 79 pages
    assert not cover.has_spine_text(78, "cream")
    assert not cover.has_spine_text(111, "white")  # 0.2500 - 0.0003 in
    assert cover.has_spine_text(112, "white")


def test_wrap_page_size_and_boxes(wrap200, book):
    page = _page(wrap200)
    trim_w, trim_h = book.print.size
    spine = cover.spine_width(200, book.print.paper)
    media, trim, bleed = page.mediabox, page.trimbox, page.bleedbox
    assert float(media.width) == pytest.approx((2 * trim_w + spine + 0.25) * 72, abs=0.01)
    assert float(media.height) == pytest.approx((trim_h + 0.25) * 72, abs=0.01)
    assert [float(v) for v in bleed] == pytest.approx([float(v) for v in media])
    assert float(trim.left) - float(media.left) == pytest.approx(9)
    assert float(trim.bottom) - float(media.bottom) == pytest.approx(9)
    assert float(media.right) - float(trim.right) == pytest.approx(9)
    assert float(media.top) - float(trim.top) == pytest.approx(9)
    assert float(trim.width) == pytest.approx((2 * trim_w + spine) * 72, abs=0.01)


def test_spine_text_only_when_thick_enough(wrap200, wrap40, book):
    assert book.title in _spine_text(wrap200, book, 200)
    assert book.author in _spine_text(wrap200, book, 200)
    assert _spine_text(wrap40, book, 40) == ""
    # The title is on the front too (the front starts after the spine).
    front_x = (book.print.size[0] + cover.spine_width(200, book.print.paper)) * 72
    front = " ".join(text for x, _, text in _fragments(wrap200) if x > front_x).replace("\u00a0", " ")
    assert "Never" in front and "Let Me Go" in front and NOTE in front  # "Let Me Go" kept together


def test_back_text_and_barcode_area_clear(wrap200, book, review):
    fragments = _fragments(wrap200)
    trim_w = book.print.size[0] * 72
    back = " ".join(text for x, _, text in fragments if x < trim_w)
    assert "haunting and emotionally charged" in back
    assert f"— {review.source}" in back
    assert book.publisher in back
    # Nothing is written in the barcode area: 2 x 1.2 in, 0.25 in from the bottom and the spine fold.
    left, right, top = trim_w - 0.25 * 72 - 2 * 72, trim_w - 0.25 * 72, 0.25 * 72 + 1.2 * 72
    assert not [t for x, y, t in fragments if left - 2 < x < right and y < top]


def test_only_eb_garamond_embedded(wrap200):
    page = _page(wrap200)
    names = [str(font.get_object()["/BaseFont"]) for font in page["/Resources"]["/Font"].values()]
    assert names
    assert all("EBGaramond" in name.replace("-", "") for name in names), names


def test_metadata_and_tags(wrap200):
    reader = PdfReader(io.BytesIO(wrap200))
    assert reader.metadata.title == "Cover: Never Let Me Go"
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    assert str(reader.trailer["/Root"]["/Lang"]) == "en-GB"


def test_front_jpeg_size(jpeg, book):
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert image.height == 2560
    trim_w, trim_h = book.print.size
    assert abs(image.width - 2560 * trim_w / trim_h) <= 2
    assert "exif" not in image.info


def test_deterministic(wrap200, jpeg, book, review):
    assert cover.wrap_pdf(book, review, 200, STYLES, edition_note=NOTE) == wrap200
    assert cover.front_jpeg(book, STYLES, edition_note=NOTE) == jpeg


def test_hostile_title_is_escaped(book, review):
    hostile = book.model_copy(update={"title": HOSTILE})
    pdf = cover.wrap_pdf(hostile, review, 200, STYLES)
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    assert "<script>alert(1)</script>" in text  # on the spine, on one line
    assert "&" in text and "quotes" in text
    assert reader.metadata.title.startswith("Cover: <script>alert(1)</script> &")
    image = Image.open(io.BytesIO(cover.front_jpeg(hostile, STYLES)))
    assert image.height == 2560


def test_long_review_is_set_smaller_and_fits(book):
    long = Review(
        text=" ".join(["Ishiguro’s prose is beautifully crafted and quietly devastating."] * 12),
        source="The Long Review",
    )
    pdf = cover.wrap_pdf(book, long, 200, STYLES)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert "The Long Review" in _page(pdf).extract_text()


def test_text_that_cannot_fit_is_an_error(book):
    endless = Review(text=" ".join(["A review that goes on and on and on."] * 120), source="Nobody")
    with pytest.raises(CompanionError, match="does not fit the back panel"):
        cover.wrap_pdf(book, endless, 200, STYLES)


def _sizes(pdf: bytes) -> dict[str, float]:
    """The font size (pt) each word of the front panel is set in (its largest), read by pdfium."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    document = pdfium.PdfDocument(pdf)
    try:
        text = document[0].get_textpage()
        sizes: dict[str, float] = {}
        word, size = "", 0.0
        for index in range(text.count_chars()):
            char = text.get_text_range(index, 1)
            if char.isalpha() or char == "’":
                word += char
                size = max(size, raw.FPDFText_GetFontSize(text, index))
            else:
                if word:
                    sizes[word] = max(size, sizes.get(word, 0.0))
                word, size = "", 0.0
        if word:
            sizes[word] = max(size, sizes.get(word, 0.0))
        return sizes
    finally:
        document.close()


THUMBNAIL_PX = 160


def test_the_front_says_companion_as_large_as_the_novels_title_at_thumbnail_size(built: Path) -> None:
    """A store shows the front about 160 px tall: the companion's own title must read there, and
    be at least as prominent as the novel's title, so the book is not taken for the novel."""
    pdf = (built / "never-let-me-go-cover.pdf").read_bytes()
    sizes = _sizes(pdf)
    trim_pt = 8.5 * 72
    companion, novel = sizes["Companion"], sizes["Never"]
    assert companion >= novel
    assert companion * THUMBNAIL_PX / trim_pt >= 9  # px to the em in the thumbnail
    assert sizes["Reader’s"] == companion


def test_the_back_says_what_is_inside_and_whose_review_it_is(built: Path) -> None:
    text = " ".join(
        PdfReader(io.BytesIO((built / "never-let-me-go-cover.pdf").read_bytes()))
        .pages[0]
        .extract_text()
        .split()
    )
    assert "Inside: 20 discussion questions, 13 character profiles, 8 themes" in text
    assert "ON THE NOVEL" in text.upper()
