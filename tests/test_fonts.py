"""The bundled fonts: WeasyPrint sees no other; the EPUB carries subsets; small caps and the map's
labels use the text font.

The hermetic tests ask for fonts every Debian machine with Pango has (fontconfig depends on a
default font such as DejaVu): they would pass only by accident if a system font could stand in.
"""

from __future__ import annotations

import html
import io
import re
import shutil
import zipfile
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from lxml import etree

from companion.epub import package as epub
from companion.printing import fontconfig as printfonts
from companion.printing.fetcher import RestrictedFetcher
from companion.source import fonts

ROOT = Path(__file__).resolve().parent.parent
STYLES = ROOT / "styles"
BUNDLED = {"EB Garamond 12", "EB Garamond 12 All SC"}
ORIGINAL_FONTS = sum(p.stat().st_size for p in (STYLES / "fonts").glob("*.otf"))


def _print(body: str, css: str = "") -> bytes:
    """A page laid out as the interior is: the bundled style sheets and their font configuration."""
    from weasyprint import CSS, HTML

    fetcher = RestrictedFetcher(STYLES)
    sheets, config = printfonts.stylesheets(STYLES, fonts.INTERIOR_SHEETS, fetcher)
    extra = CSS(string=css, url_fetcher=fetcher, font_config=config)
    document = HTML(string=f"<html lang=en><body>{body}</body></html>", url_fetcher=fetcher).render(
        stylesheets=[*sheets, extra], font_config=config
    )
    return bytes(document.write_pdf())


def test_a_system_family_asked_for_by_name_is_not_used() -> None:
    pdf = _print(
        '<p class="a">DejaVu Sans, asked for</p><p class="b">any sans-serif</p><p class="c">monospace</p>',
        '.a { font-family: "DejaVu Sans" } .b { font-family: sans-serif } .c { font-family: monospace }',
    )
    assert set(fonts.pdf_font_families(pdf)) <= BUNDLED


def test_a_character_the_bundled_fonts_lack_does_not_pull_in_a_system_font() -> None:
    pdf = _print("<p>Snow ☃, a han character 漢 and an interrobang ‽</p>")
    assert set(fonts.pdf_font_families(pdf)) <= BUNDLED


def test_fontconfig_is_left_as_it_was() -> None:
    import os

    before = os.environ.get("FONTCONFIG_FILE")
    _print("<p>x</p>")
    assert os.environ.get("FONTCONFIG_FILE") == before


@pytest.mark.slow
def test_the_built_pdfs_embed_only_the_bundled_families(built: Path) -> None:
    for name in ("never-let-me-go.pdf", "never-let-me-go-cover.pdf"):
        families = fonts.pdf_font_families((built / name).read_bytes())
        assert set(families) == {"EB Garamond 12"}, (name, families)


@pytest.mark.slow
def test_small_caps_come_from_the_text_font(built: Path) -> None:
    """Labels and running heads use the text font's own small caps (font-variant-caps), so the
    All SC family is not needed in print, and a reading system's font override keeps them."""
    families = fonts.pdf_font_families((built / "never-let-me-go.pdf").read_bytes())
    assert "EB Garamond 12 All SC" not in families
    css = (STYLES / "base.css").read_text()
    assert "font-variant-caps: all-small-caps" in css
    rules, fallback = css, (STYLES / "epub.css").read_text().split("@supports not (font-variant-caps")[1]
    rules = re.sub(r"/\*.*?\*/|@font-face\s*\{[^}]*\}", "", rules, flags=re.DOTALL)
    assert "All SC" not in rules
    assert "All SC" in fallback


def _epub_files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.slow
def test_epub_fonts_are_subset_and_still_cover_every_character(built: Path) -> None:
    files = _epub_files(built / "never-let-me-go.epub")
    subset = {name: data for name, data in files.items() if name.endswith(".otf")}
    assert sum(len(d) for d in subset.values()) < 0.4 * ORIGINAL_FONTS
    covered: set[int] = set()
    for data in subset.values():
        font = TTFont(io.BytesIO(data))
        covered |= set(font.getBestCmap())
        assert "SIL Open Font License" in font["name"].getDebugName(13)  # the licence travels inside
        assert {"smcp", "c2sc", "onum"} <= {
            r.FeatureTag for r in font["GSUB"].table.FeatureList.FeatureRecord
        } or "AllSC" in str(font["name"].getDebugName(6))
    for name, data in files.items():
        if name.endswith(".xhtml"):
            text = "".join(etree.fromstring(data).itertext())
            missing = {c for c in text if ord(c) not in covered and not c.isspace() and ord(c) > 0x20}
            assert not missing, (name, missing)
    assert "EPUB/styles/fonts/OFL.xhtml" in files
    assert b"SIL OPEN FONT LICENSE" in files["EPUB/styles/fonts/OFL.xhtml"]


@pytest.mark.slow
def test_epub_is_more_than_a_third_smaller_than_with_whole_fonts(built: Path) -> None:
    files = _epub_files(built / "never-let-me-go.epub")
    saved = ORIGINAL_FONTS - sum(len(d) for n, d in files.items() if n.endswith(".otf"))
    size = (built / "never-let-me-go.epub").stat().st_size
    assert size <= 0.65 * (size + saved), (size, saved)


def test_subset_is_reproducible_and_keeps_features() -> None:
    data = (STYLES / "fonts" / "EBGaramond12-Regular.otf").read_bytes()
    one, two = fonts.subset(data, "Hailsham 1990"), fonts.subset(data, "Hailsham 1990")
    assert one == two
    font = TTFont(io.BytesIO(one))
    assert {ord(c) for c in "Hailsham 1990HAILSHAM"} <= set(font.getBestCmap())
    assert len(one) < len(data) / 4
    assert font["head"].modified == TTFont(io.BytesIO(data))["head"].modified


def test_css_family_names_are_the_fonts_own(tmp_path: Path) -> None:
    faces, problems = fonts.font_faces(STYLES, sorted(p.name for p in STYLES.glob("*.css")))
    assert not problems
    assert faces
    assert not fonts.misnamed(faces)


def test_epub_fonts_are_only_those_the_style_sheets_declare(tmp_path: Path) -> None:
    styles = tmp_path / "styles"
    shutil.copytree(STYLES, styles)
    (styles / "fonts" / "Stray.otf").write_bytes((styles / "fonts" / "EBGaramond12-Regular.otf").read_bytes())
    names = [r.name for r in epub.styles_resources(styles, "text", lambda data, _text: data)]
    assert "styles/fonts/Stray.otf" not in names
    assert "styles/fonts/EBGaramond12-Regular.otf" in names


@pytest.mark.slow
def test_the_map_is_inline_in_the_epub_with_its_labels_in_the_book_font(built: Path) -> None:
    files = _epub_files(built / "never-let-me-go.epub")
    opf = files["EPUB/content.opf"].decode()
    page = next(data.decode() for name, data in files.items() if name.endswith(".xhtml") and b"<svg" in data)
    name = next(n for n, d in files.items() if d.decode("utf-8", "ignore") == page)
    assert re.search(rf'href="{re.escape(name.removeprefix("EPUB/"))}"[^>]*properties="svg"', opf)
    svg = re.search(r"<svg[^>]*>", page)
    assert svg is not None
    assert 'role="img"' in svg.group(0)
    label = re.search(r'aria-label="([^"]+)"', svg.group(0))
    assert label is not None and "Hailsham (Part One)" in html.unescape(label.group(1))
    assert "<text" in page and "Hailsham" in page
    assert 'font-family="EB Garamond 12, serif"' in page
    assert "journey.svg" not in page
