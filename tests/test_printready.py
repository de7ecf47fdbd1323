"""Print files the services accept: read back the built interior and cover (issue 15).

Colour operators per page, page sizes and boxes, page labels against the printed folios, the
cover's ink coverage through its output profile, heads and folios inside the live area, outloud's
PDF/UA verdict, PDF/X-1a rules, and the preflight catching each fault in deliberately wrong PDFs.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pikepdf
import pypdfium2 as pdfium
import pytest

from companion import pipeline
from companion.preflight.printer import check_printer, cover_tac
from companion.printing import inks, pdfx
from companion.source import ean, printers

ROOT = Path(__file__).resolve().parent.parent
SLUG = "never-let-me-go"
PT = 72.0
META = (
    '<meta name="dcterms.created" content="2026-01-01T00:00:00Z">'
    '<meta name="dcterms.modified" content="2026-01-01T00:00:00Z">'
)


def _painted(owner: pikepdf.Object, seen: set[tuple[int, int]]) -> list[tuple[str, list[object]]]:
    """Every (operator, operands) of a page or form and the forms it draws; images as ('Image', [cs])."""
    found: list[tuple[str, list[object]]] = []
    resources = owner.get("/Resources", pikepdf.Dictionary())
    for operands, operator in pikepdf.parse_content_stream(owner):
        found.append((str(operator), list(operands)))
        if str(operator) == "Do":
            xobject = resources.XObject[str(operands[0])]
            if xobject.Subtype == "/Image":
                found.append(("Image", [str(xobject.get("/ColorSpace"))]))
            elif xobject.objgen not in seen:
                seen.add(xobject.objgen)
                found += _painted(xobject, seen)
    return found


def _folios(path: Path) -> dict[int, str]:
    """The lowest text of each page, if it is in the bottom margin (0.8 in): the folio."""
    folios = {}
    document = pdfium.PdfDocument(path)
    for index in range(len(document)):
        textpage = document[index].get_textpage()
        rects = [textpage.get_rect(i) for i in range(textpage.count_rects())]
        low = [r for r in rects if r[3] < 0.75 * PT and textpage.get_text_bounded(*r).strip()]
        if low:
            folios[index + 1] = textpage.get_text_bounded(*min(low, key=lambda r: r[1])).strip()
    document.close()
    return folios


def _make(tmp_path: Path, name: str, body: str, css: str, **options: object) -> Path:
    from weasyprint import CSS, HTML

    html = f'<html lang="en"><head><title>t</title>{META}</head><body>{body}</body></html>'
    path = tmp_path / name
    path.write_bytes(HTML(string=html).render(stylesheets=[CSS(string=css)]).write_pdf(**options))
    return path


def test_interior_page_is_the_trim_and_nothing_is_rgb(built: Path) -> None:
    pdf = pikepdf.open(built / f"{SLUG}.pdf")
    cmyk_black = printed = 0
    for number, page in enumerate(pdf.pages, start=1):
        assert list(page.MediaBox) == list(page.TrimBox) == list(page.BleedBox) == [0, 0, 396, 612]
        painted = _painted(page.obj, set())
        rgb = [
            op
            for op, args in painted
            if op in ("rg", "RG") or (op in ("cs", "CS") and args[0] == "/DeviceRGB")
        ]
        assert not rgb, f"page {number}: {rgb[:3]}"
        assert all(args[0] in ("/DeviceGray", "None") for op, args in painted if op == "Image")
        black = sum(op == "scn" and [float(a) for a in args] == [0, 0, 0, 1] for op, args in painted)
        cmyk_black += black
        printed += any(op == "Tj" or op == "TJ" for op, _ in painted)
    assert cmyk_black >= printed > 30  # every page with text sets 100% K


def test_the_map_is_drawn_in_k_only(built: Path) -> None:
    """The SVG's navy dots and dashed path (#1f2f3a, #8a7a5a) come out K-only tints through littleCMS."""
    pdf = pikepdf.open(built / f"{SLUG}.pdf")
    tints = set()
    for page in pdf.pages:
        for op, args in _painted(page.obj, set()):
            if op in ("scn", "SCN") and len(args) == 4:
                c, m, y, k = (float(a) for a in args)
                assert c == m == y == 0
                tints.add(round(k, 3))
    navy = 1 - inks_lightness("#1f2f3a") / 100
    assert round(navy, 3) in tints and len(tints) >= 4


def inks_lightness(colour: str) -> float:
    from companion.printing.grayscale import lightness

    return lightness(*(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)))


def test_gray_images_go_through_littlecms() -> None:
    from PIL import Image

    from companion.printing.grayscale import gray_raster, k_only

    image = Image.new("RGBA", (4, 2), (31, 47, 58, 255))
    image.putpixel((0, 0), (255, 0, 0, 0))  # transparent: flattened onto the white paper
    out = io.BytesIO()
    image.save(out, "PNG")
    with Image.open(io.BytesIO(gray_raster(out.getvalue(), ".png"))) as gray:
        assert gray.mode == "L"
        assert gray.getpixel((0, 0)) == 255
        assert gray.getpixel((1, 1)) == round(inks_lightness("#1f2f3a") * 255 / 100)
    assert k_only("#000000") == "device-cmyk(0 0 0 1.000)"
    assert k_only("white") == "device-cmyk(0 0 0 0.000)"
    assert k_only("none") is None


def test_heads_and_folios_half_an_inch_inside_the_trim(built: Path) -> None:
    document = pdfium.PdfDocument(built / f"{SLUG}.pdf")
    closest, heads = float("inf"), 0
    for index in range(len(document)):
        page = document[index]
        width, height = page.get_size()
        textpage = page.get_textpage()
        for i in range(textpage.count_rects()):
            left, bottom, right, top = textpage.get_rect(i)
            closest = min(closest, left, bottom, width - right, height - top)
            heads += height - top < 0.8 * PT  # in the top margin: a running head
    document.close()
    assert closest / PT >= 0.5
    assert heads > 20


def test_page_labels_are_the_folios(built: Path) -> None:
    path = built / f"{SLUG}.pdf"
    pdf = pikepdf.open(path)
    labels = [page.label for page in pdf.pages]
    folios = _folios(path)
    assert len(folios) > 20
    assert {n: labels[n - 1] for n in folios} == folios
    opening = labels.index("1")
    assert labels[:opening] == ["i", "ii", "iii", "iv", "v", "vi"][:opening]
    assert labels[opening:] == [str(n) for n in range(1, len(labels) - opening + 1)]


def test_heads_and_folios_are_artifacts_and_outloud_is_clean(built: Path) -> None:
    pdf = pikepdf.open(built / f"{SLUG}.pdf")
    artifacts = sum(
        page.Contents.read_bytes().count(b"/Artifact <</Type /Pagination>> BDC") for page in pdf.pages
    )
    assert artifacts > 40
    outloud = shutil.which("outloud", path=str(Path(sys.executable).parent))
    assert outloud is not None, "outloud is a dev dependency"
    run = subprocess.run([outloud, "--json", "-", str(built / f"{SLUG}.pdf")], capture_output=True, text=True)
    report = json.loads(run.stdout)
    findings = [
        (f["rule"], f["severity"], f["message"])
        for f in _walk_json(report)
        if isinstance(f, dict) and f.get("severity") in ("error", "warning") and "message" in f
    ]
    assert [f for f in findings if f[1] == "error"] == []
    # Pagination tagged as content, links outside Link elements or not printing, numbers read after
    # their text: what this work fixes. (TXT-004, several small-cap glyphs mapped to one letter by
    # the font's own small caps, is a heuristic about the font's Unicode mapping, not about tagging.)
    fixed = ("PAG-001", "LNK-001", "LNK-003", "LNK-004", "ORD-001")
    assert [f for f in findings if f[0] in fixed] == []


def _walk_json(node: object) -> list[object]:
    if isinstance(node, dict):
        return [node, *(x for v in node.values() for x in _walk_json(v))]
    if isinstance(node, list):
        return [x for v in node for x in _walk_json(v)]
    return []


def test_cover_is_cmyk_pdfx1a_under_the_ink_limit(built: Path) -> None:
    path = built / f"{SLUG}-cover.pdf"
    pdf = pikepdf.open(path)
    assert str(pdf.trailer.Info.GTS_PDFXVersion) == "PDF/X-1a:2003"
    intent = pdf.Root.OutputIntents[0]
    assert str(intent.OutputConditionIdentifier) == "FOGRA39L coated, TAC 240%"
    painted = _painted(pdf.pages[0].obj, set())
    assert not [op for op, _ in painted if op in ("rg", "RG")]
    measured = cover_tac(path, intent.DestOutputProfile.read_bytes())
    assert 200 < measured <= inks.TAC_LIMIT  # the navy: 64/41/22/82
    assert inks.tac(inks.to_cmyk("#1f2f3a", ROOT / "styles")) == pytest.approx(measured, abs=1)


def test_cover_colours_through_the_ink_limited_profile() -> None:
    styles = ROOT / "styles"
    assert inks.tac(inks.to_cmyk("#000000", styles)) <= inks.TAC_LIMIT
    assert inks.to_cmyk("device-cmyk(0.1 20% 0 1)", styles) == (0.1, 0.2, 0, 1)
    assert inks.css_rgb("device-cmyk(0 0 0 0)", styles) == "#ffffff"


@pytest.mark.parametrize("name", ["default", "kdp", "ingramspark"])
def test_default_files_pass_every_printer(built: Path, name: str) -> None:
    for output in (f"{SLUG}.pdf", f"{SLUG}-cover.pdf"):
        assert check_printer(built / output, printers.printer(name)) == []


def test_default_profile_is_the_stricter_of_both() -> None:
    kdp, ingram, both = (printers.printer(n) for n in ("kdp", "ingramspark", "default"))
    assert both.pagination_in == both.margin_in == 0.5
    assert both.cover_tac == 240 and both.cover_cmyk and both.variants == ("pdf/x-1a", "pdf/x-3")
    assert [printers.least_gutter(both, n) for n in (24, 151, 301)] == [0.5, 0.5, 0.625]
    assert printers.least_gutter(kdp, 24) == 0.375 < printers.least_gutter(ingram, 24)


@pytest.mark.slow
def test_pdfx1a_interior_and_cover_are_valid_and_reproducible(project: Path) -> None:
    source = pipeline.Project.at(project / "source")
    first = pipeline.build(source, ("pdf", "cover"), variant="pdf/x-1a")
    shutil.rmtree(project / ".cache", ignore_errors=True)
    again = pipeline.build(source, ("pdf", "cover"), variant="pdf/x-1a")
    assert [o.data for o in first.outputs] == [o.data for o in again.outputs]
    for output in first.outputs:
        if not output.name.endswith(".pdf"):
            continue
        assert output.data.startswith(b"%PDF-1.4")
        assert b"/ObjStm" not in output.data
        pdf = pikepdf.open(io.BytesIO(output.data))
        assert str(pdf.trailer.Info.GTS_PDFXVersion) == "PDF/X-1a:2003" and len(pdf.Root.OutputIntents) == 1
        for obj in pdf.objects:
            if isinstance(obj, pikepdf.Dictionary):
                assert obj.get("/S") != "/Transparency"
                if obj.get("/Type") == "/FontDescriptor" and "/FontFile3" in obj:
                    assert obj.FontFile3.Subtype == "/CIDFontType0C"
        for page in pdf.pages:
            assert "/Annots" not in page.obj
            spaces = page.Resources.get("/ColorSpace", {})
            assert all(s[0] not in ("/ICCBased", "/Lab") for s in spaces.values())
        path = project / output.name
        path.write_bytes(output.data)
        assert check_printer(path, printers.printer("ingramspark")) == []


def test_opentype_fonts_become_cid_keyed_cff_and_print_the_same(tmp_path: Path) -> None:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    css = CSS(
        string="@font-face { font-family: G; src: url(fonts/EBGaramond12-Regular.otf) } html { font: 30pt G }"
        "@page { size: 6in 2in }",
        base_url=str(ROOT / "styles") + "/",
        font_config=fonts,
    )
    html = HTML(
        string=f'<html lang="en"><head><title>t</title>{META}</head><body>Kathy — fi ffl 1984</body></html>'
    )
    before = html.render(stylesheets=[css], font_config=fonts).write_pdf(pdf_variant="pdf/x-1a")
    after = pdfx.finish(before, "pdf/x-1a")
    assert b"/OpenType" in before and b"/OpenType" not in after and b"/CIDFontType0C" in after
    renders = []
    for name, data in (("before", before), ("after", after)):
        (tmp_path / f"{name}.pdf").write_bytes(data)
        subprocess.run(
            ["pdftoppm", "-r", "50", "-png", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)], check=True
        )
        renders.append((tmp_path / f"{name}-1.png").read_bytes())
    assert renders[0] == renders[1]
    fonts_listed = subprocess.run(
        ["pdffonts", str(tmp_path / "after.pdf")], capture_output=True, text=True
    ).stdout
    assert "CID Type 0C " in fonts_listed and "(OT)" not in fonts_listed


# ISBN -----------------------------------------------------------------------------------------


def test_ean13_from_the_standard_tables() -> None:
    assert ean.check_digit("978140289462") == 6
    modules = ean.ean13_modules("9781402894626")
    assert len(modules) == 95 and modules.startswith("101") and modules.endswith("101")
    assert modules[45:50] == "01010"
    assert len(ean.addon_modules("51299")) == 48  # start 01011, 5 digits of 7, 4 separators 01


@pytest.mark.parametrize(
    ("isbn", "code", "message"),
    [
        (
            "978-1-4028-9462-7",
            "C061",
            "the ISBN `978-1-4028-9462-7` has the check digit 7; its first 12 digits call for 6",
        ),
        ("123-4-5678-9012-8", "C060", "the ISBN `123-4-5678-9012-8` is not an ISBN-13 (13 digits)"),
        ("978-1-4028-9462", "C060", "the ISBN `978-1-4028-9462` is not an ISBN-13 (12 digits)"),
    ],
)
def test_isbn_is_validated(project: Path, isbn: str, code: str, message: str) -> None:
    book = project / "source" / "book.yaml"
    book.write_text(book.read_text() + f"isbn: {isbn}\n")
    with pytest.raises(Exception) as raised:
        pipeline.check(pipeline.Project.at(project / "source"))
    found = [(d.code, d.message) for d in raised.value.diagnostics]  # type: ignore[attr-defined]
    assert found == [(code, message)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools (Debian) is installed by .ci/run")
def test_barcode_decodes_to_the_isbn_and_add_on(project: Path) -> None:
    book = project / "source" / "book.yaml"
    book.write_text(book.read_text() + "isbn: 978-1-4028-9462-6\nisbn_addon: '51299'\n")
    result = pipeline.build(pipeline.Project.at(project / "source"), ("cover",))
    assert result.notes == ()
    cover = project / "cover.pdf"
    cover.write_bytes(next(o.data for o in result.outputs if o.name.endswith("-cover.pdf")))
    subprocess.run(["pdftoppm", "-r", "300", "-png", str(cover), str(project / "cover")], check=True)
    decoded = subprocess.run(
        ["zbarimg", "-q", "--set", "ean5.enable=1", str(project / "cover-1.png")],
        capture_output=True,
        text=True,
    ).stdout.split()
    assert sorted(decoded) == ["EAN-13:9781402894626", "EAN-5:51299"]
    pdf = pikepdf.open(cover)
    painted = _painted(pdf.pages[0].obj, set())
    fills = [[float(a) for a in args] for op, args in painted if op == "scn"]
    assert [0, 0, 0, 1] in fills  # the bars: 100% K
    assert check_printer(cover, printers.printer("default")) == []


@pytest.mark.slow
def test_without_an_isbn_the_build_says_the_area_is_left_clear(project: Path, cli: Any) -> None:
    run = cli("build", str(project / "source"), "--format", "cover", "--out", str(project / "dist"))
    assert run.exit_code == 0
    assert pipeline.NO_ISBN in run.stderr.splitlines()
    pdf = pikepdf.open(project / "dist" / f"{SLUG}-cover.pdf")
    painted = _painted(pdf.pages[0].obj, set())
    assert [0, 0, 0, 1] not in [[float(a) for a in args] for op, args in painted if op == "scn"]


# The preflight catches each fault ----------------------------------------------------------------


def test_preflight_catches_a_wrong_interior(tmp_path: Path) -> None:
    path = _make(
        tmp_path,
        "interior.pdf",
        '<p>Words near the edge.</p><p style="break-before: page; border-top: 0.1pt solid black">More.</p>',
        "@page { size: 5.5in 8.5in; bleed: 0.125in; margin: 0.2in;"
        " @bottom-center { content: counter(page) } }"
        "html { color: black }",
    )
    found = {d.code: d.message for d in check_printer(path, printers.printer("default"))}
    # the folio's glyph box, 0.2 in margin box: its exact distance depends on the font drawn
    found["P044"] = re.sub(r'"1" 0\.0\d\d in', '"1" 0.0XX in', found.get("P044", ""))
    assert found == {
        "P040": "pages 1–2: page 5.750 in x 8.750 in: bleed 0.125 in on the gutter edge "
        "(KDP and IngramSpark: none there)",
        "P041": "pages 1–2: 5 RGB colour operators (a B&W interior is gray or K only)",
        "P048": "no page labels (/PageLabels): a viewer's page numbers are not the folios",
        "P049": "2 pages (KDP and IngramSpark: 24 to 828)",
        "P044": 'text within 0.5 in of the trim on pages 1–2 (closest: page 1, "1" 0.0XX in from the trim; '
        "KDP and IngramSpark: 0.5 in, running heads and folios included)",
        "P045": "lines thinner than 0.25 pt on page 2 (thinnest: 0.10 pt on page 2; "
        "KDP and IngramSpark: 0.25 pt at least)",
    }


def test_preflight_catches_labels_that_are_not_the_folios(built: Path, tmp_path: Path) -> None:
    pdf = pikepdf.open(built / f"{SLUG}.pdf")
    pdf.Root.PageLabels = pikepdf.Dictionary(Nums=[0, pikepdf.Dictionary(S=pikepdf.Name.D)])
    pdf.save(tmp_path / "labels.pdf")
    found = [(d.code, d.message) for d in check_printer(tmp_path / "labels.pdf", printers.printer("kdp"))]
    assert len(found) == 1 and found[0][0] == "P048"
    pattern = (
        r"page labels differ from the printed folios on pages [0-9, –]+ "
        r'\(page 5 prints "v", its label is "5"\)'
    )
    assert re.fullmatch(pattern, found[0][1]), found


def test_preflight_catches_an_rgb_cover_not_pdfx(tmp_path: Path) -> None:
    path = _make(
        tmp_path,
        "cover.pdf",
        "<p>Cover</p>",
        "@page { size: 11.25in 8.5in; bleed: 0.125in; margin: 1in; background: #1f2f3a }"
        "html { color: #f4ede0 }",
    )
    found = [(d.code, d.message) for d in check_printer(path, printers.printer("ingramspark"))]
    assert found == [
        ("P043", "page 1: 2 RGB colour operators or images (IngramSpark: CMYK only)"),
        ("P046", "page 1: colour spaces /DeviceRGB (PDF/X-1a: CMYK and gray)"),
        ("P047", "the cover is not a PDF/X (for IngramSpark: PDF/X-1a or PDF/X-3)"),
    ]
    assert [d.code for d in check_printer(path, printers.printer("kdp"))] == []


def test_preflight_catches_ink_transparency_fonts_and_links_in_a_pdfx_cover(tmp_path: Path) -> None:
    path = _make(
        tmp_path,
        "ink.pdf",
        '<p style="opacity: 0.5">Cover</p><a style="color: device-cmyk(0 0 0 1)" href="https://example.org">link</a>',
        "@page { size: 11.25in 8.5in; bleed: 0.125in; margin: 1in; background: device-cmyk(1 1 1 1) }"
        "html { color: device-cmyk(0 0 0 0) }",
        pdf_variant="pdf/x-1a",
    )
    found = [(d.code, d.message) for d in check_printer(path, printers.printer("default"))]
    assert found == [
        (
            "P042",
            "page 1: total area coverage up to 400% through FOGRA39L-coated-tac240.icc (the file has no "
            "OutputIntent) (KDP and IngramSpark: 240% at most)",
        ),
        ("P046", "page 1: 3 transparency groups or soft masks (PDF/X-1a)"),
        ("P046", "page 1: annotations inside the BleedBox (PDF/X-1a)"),
    ]


def test_preflight_catches_opentype_fonts_in_pdfx(tmp_path: Path) -> None:
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    css = CSS(
        string="@font-face { font-family: G; src: url(fonts/EBGaramond12-Regular.otf) }"
        "html { font-family: G; color: device-cmyk(0 0 0 1) }"
        "@page { size: 11.25in 8.5in; bleed: 0.125in; margin: 1in }",
        base_url=str(ROOT / "styles") + "/",
        font_config=fonts,
    )
    html = HTML(string=f'<html lang="en"><head><title>t</title>{META}</head><body>Cover</body></html>')
    path = tmp_path / "font.pdf"
    path.write_bytes(html.render(stylesheets=[css], font_config=fonts).write_pdf(pdf_variant="pdf/x-1a"))
    found = [(d.code, d.message) for d in check_printer(path, printers.printer("kdp"))]
    assert found == [("P046", "OpenType font programs (G): not allowed in PDF/X-1a")]


def test_preflight_cli_takes_a_printer(built: Path, cli: Any) -> None:
    run = cli("preflight", "--no-ace", "--printer", "ingramspark", str(built / f"{SLUG}-cover.pdf"))
    assert not re.search(r"error P04\d", run.stderr)
    if run.exit_code == 0:  # with the bundled fonts embedded (issue 12)
        assert "printer: IngramSpark" in run.stdout


def test_printer_option_picks_the_profile_and_the_cover_variant() -> None:
    validated = pipeline.check(pipeline.Project.at(ROOT / "source"))
    assert validated.companion.book.print.printer == "default"
    kdp = printers.for_printer(validated, "kdp")
    assert kdp.companion.book.print.printer == "kdp" and printers.for_printer(validated, None) is validated
    assert printers.cover_variant(None, validated, "pdf/ua-1") == "pdf/x-1a"
    assert printers.cover_variant("pdf/ua-1", kdp, "pdf/ua-1") == "pdf/ua-1"  # KDP takes any PDF
    assert printers.cover_variant("pdf/x-3", kdp, "pdf/ua-1") == "pdf/x-3"
    with pytest.raises(ValueError, match="unknown printer 'lulu'"):
        printers.printer("lulu")


def test_preflight_names_a_cover_variant_the_printer_does_not_take(tmp_path: Path) -> None:
    path = _make(
        tmp_path,
        "x4.pdf",
        "<p>Cover</p>",
        "@page { size: 11.25in 8.5in; bleed: 0.125in; margin: 1in; background: device-cmyk(0.5 0.3 0.2 0.5) }"
        "html { color: device-cmyk(0 0 0 0) }",
        pdf_variant="pdf/x-4",
    )
    found = [(d.code, d.message) for d in check_printer(path, printers.printer("ingramspark"))]
    assert found == [("P047", "the cover is a PDF/X-4 (for IngramSpark: PDF/X-1a or PDF/X-3)")]
    assert check_printer(path, printers.printer("kdp")) == []
