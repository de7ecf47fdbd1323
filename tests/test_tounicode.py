"""The print files' text extracts as it was typed: every /ToUnicode entry against the font (issue 15).

outloud's TXT-004 warns when five or more codes of one font map to the same text. On our interior
they are the five glyphs EB Garamond draws for a lowercase f: `f`, its contextual alternates
`f._i`, `f._f` and `f._asc` (calt: an f before i, before f, before an ascender) and the small cap
`f.sc` (smcp). Each is an f, so the mapping is right and the warning a false alarm of the
heuristic; these tests hold WeasyPrint's mapping to what the font itself says each glyph stands
for (its cmap, followed through GSUB), so a wrong entry would fail here. The fonts' PDF names lose
the comma Pango leaves after "EB Garamond 12" (pdfx.tidy_font_name). The cover and the PDF/X
interiors pass outloud too: a tagged PDF/X says it is PDF/UA-1 as the default interior does
(pdfx.declare_ua), and the cover's empty ornament spans leave its structure (pdfx.drop_empty_spans).
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pikepdf
import pytest
from fontTools.ttLib import TTFont

from companion import pipeline
from companion.preflight.report import preflight
from companion.printing import pdfx

ROOT = Path(__file__).resolve().parent.parent
SLUG = "never-let-me-go"
FONTS = ROOT / "styles" / "fonts"


@cache
def _spellings(postscript_name: str) -> dict[str, frozenset[str]]:
    """Glyph name -> every text the glyph can stand for in the bundled font: the cmap's characters,
    then through GSUB's single, alternate and ligature substitutions (the components' texts joined)."""
    font = next(
        f
        for f in (TTFont(path) for path in FONTS.glob("*.otf"))
        if f["name"].getDebugName(6) == postscript_name
    )
    texts: dict[str, set[str]] = {}
    for code, glyph in font.getBestCmap().items():
        texts.setdefault(glyph, set()).add(chr(code))
    rules: list[tuple[str, tuple[str, ...]]] = []
    for lookup in font["GSUB"].table.LookupList.Lookup:
        for sub in lookup.SubTable:
            table = sub.ExtSubTable if lookup.LookupType == 7 else sub
            kind = table.LookupType if lookup.LookupType == 7 else lookup.LookupType
            if kind == 1:
                rules += [(out, (into,)) for into, out in table.mapping.items()]
            elif kind == 3:
                rules += [(out, (into,)) for into, outs in table.alternates.items() for out in outs]
            elif kind == 4:
                rules += [
                    (lig.LigGlyph, (first, *lig.Component))
                    for first, ligatures in table.ligatures.items()
                    for lig in ligatures
                ]
    changed = True
    while changed:
        changed = False
        for out, parts in rules:
            if not all(part in texts for part in parts):
                continue
            joined = {""}
            for part in parts:
                joined = {head + tail for head in joined for tail in sorted(texts[part])[:8]}
            if not joined <= texts.setdefault(out, set()):
                texts[out] |= joined
                changed = True
    return {glyph: frozenset(spelled) for glyph, spelled in texts.items()}


def _entries(pdf: pikepdf.Pdf) -> list[tuple[str, str, str, str]]:
    """(font /BaseFont, PostScript name, glyph name, mapped text) for every ToUnicode entry."""
    found = []
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        for font in page.obj.Resources.get("/Font", {}).values():
            if font.objgen in seen or "/ToUnicode" not in font:
                continue
            seen.add(font.objgen)
            program = TTFont(io.BytesIO(font.DescendantFonts[0].FontDescriptor.FontFile3.read_bytes()))
            order = program.getGlyphOrder()  # WeasyPrint's subsets keep the glyph ids (CID = GID)
            cmap = font.ToUnicode.read_bytes().decode("latin-1")
            for block in re.findall(r"beginbfchar(.*?)endbfchar", cmap, re.S):
                for code, text in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
                    found.append(
                        (
                            str(font.BaseFont),
                            program["name"].getDebugName(6),
                            order[int(code, 16)],
                            bytes.fromhex(text).decode("utf-16-be"),
                        )
                    )
    return found


def _wrong(pdf: pikepdf.Pdf) -> list[tuple[str, str, str, str]]:
    return [e for e in _entries(pdf) if e[3] not in _spellings(e[1]).get(e[2], frozenset())]


@pytest.mark.slow
def test_every_tounicode_entry_is_what_the_font_draws(built: Path) -> None:
    pdf = pikepdf.open(built / f"{SLUG}.pdf")
    entries = _entries(pdf)
    assert len(entries) > 300
    assert _wrong(pdf) == []
    # The glyphs behind outloud's TXT-004: five f's, each rightly "f".
    regular_f = {glyph for _, name, glyph, text in entries if name == "EBGaramond12-Regular" and text == "f"}
    assert regular_f == {"f", "f._i", "f._f", "f._asc", "f.sc"}
    # Ligatures of the italic map to their letters.
    italic = {glyph: text for _, name, glyph, text in entries if name == "EBGaramond12-Italic"}
    assert italic["f_f"] == "ff" and italic["uniFB01"] == "fi" and italic["f_t"] == "ft"


@pytest.mark.slow
def test_a_wrong_tounicode_entry_is_caught(built: Path) -> None:
    pdf = pikepdf.open(built / f"{SLUG}.pdf")
    f_i = b"<0bae> <0066>"  # glyph 2990, f._i, maps to "f"
    font = next(
        f for page in pdf.pages for f in page.obj.Resources.Font.values() if f_i in f.ToUnicode.read_bytes()
    )
    font.ToUnicode.write(
        font.ToUnicode.read_bytes().replace(f_i, b"<0bae> <00660069>")
    )  # "fi": but the i is drawn apart
    assert [(glyph, text) for _, _, glyph, text in _wrong(pdf)] == [("f._i", "fi")]


@pytest.mark.slow
def test_text_with_ligatures_and_alternates_extracts(built: Path) -> None:
    text = subprocess.run(
        ["pdftotext", "-layout", str(built / f"{SLUG}.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    for word in ("finished", "different", "often", "office", "reflect", "staff", "first"):
        assert re.search(rf"\b{word}\b", text), word


@pytest.mark.slow
def test_font_names_have_no_trailing_comma(built: Path) -> None:
    for name in (f"{SLUG}.pdf", f"{SLUG}-cover.pdf"):
        listed = subprocess.run(
            ["pdffonts", str(built / name)], capture_output=True, text=True, check=True
        ).stdout.splitlines()[2:]
        names = {line.split()[0] for line in listed}
        assert any(re.fullmatch(r"[A-Z]{6}\+EB-Garamond-12", n) for n in names), names
        assert not [n for n in names if n.endswith(",")]
        pdf = pikepdf.open(built / name)
        for font in (f for page in pdf.pages for f in page.obj.Resources.Font.values()):
            inner = font.DescendantFonts[0]
            assert str(font.BaseFont) == str(inner.BaseFont) == str(inner.FontDescriptor.FontName)


def test_tidy_font_name_keeps_the_subset_tag() -> None:
    assert pdfx.tidy_font_name("/ABCDEF+EB-Garamond-12,") == "/ABCDEF+EB-Garamond-12"
    assert pdfx.tidy_font_name("/ABCDEF+EB-Garamond-12-Italic") == "/ABCDEF+EB-Garamond-12-Italic"


def _outloud(path: Path) -> list[tuple[str, str]]:
    """(rule, severity) of every error and warning outloud reports on the PDF."""
    outloud = shutil.which("outloud", path=str(Path(sys.executable).parent))
    assert outloud is not None, "outloud is a dev dependency"
    run = subprocess.run([outloud, "--json", "-", str(path)], capture_output=True, text=True)
    found: list[tuple[str, str]] = []
    stack: list[object] = [json.loads(run.stdout)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("severity") in ("error", "warning") and "message" in node:
                found.append((str(node["rule"]), str(node["severity"])))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found)


@pytest.mark.slow
def test_the_cover_passes_outloud(built: Path) -> None:
    assert _outloud(built / f"{SLUG}-cover.pdf") == []  # DOC-012 and TAG-020 (4 empty spans) before


@pytest.mark.slow
def test_a_pdfx_interior_and_cover_pass_outloud_as_pdf_ua(tmp_path: Path) -> None:
    result = pipeline.build(
        pipeline.Project.at(ROOT / "source", ROOT / "styles"), ("pdf", "cover"), variant="pdf/x-1a"
    )
    pipeline.write(result, tmp_path)
    interior, cover = tmp_path / f"{SLUG}.pdf", tmp_path / f"{SLUG}-cover.pdf"
    assert _outloud(interior) == [("TXT-004", "warning")]  # the five f's: see the module's doc
    assert _outloud(cover) == []
    for path in (interior, cover):
        assert b"<pdfuaid:part" in pikepdf.open(path).Root.Metadata.read_bytes()
        report = preflight(path, ace=False, printer="default")
        assert report.findings == () and "PDF/X-1a:2003 + PDF/UA-1" in report.summary
