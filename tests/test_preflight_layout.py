"""The layout lint in `companion preflight`, from a PDF's text (preflight/layout.py, issue 16).

The same rules (lint.py) judge the lines the build reads off WeasyPrint's boxes and the lines read
back from the PDF: a crafted document gets the same findings both ways, and so does the bundled
interior built without the two print.css rules that keep it clean.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from companion import pipeline
from companion.preflight.layout import check_layout, lines_of
from companion.preflight.report import preflight
from companion.printing import lines as pdflines
from companion.printing import lint

ROOT = Path(__file__).resolve().parent.parent
SLUG = "never-let-me-go"
LADDER = " ".join(["extraordinarily", "unbelievable", "circumstances"] * 2)
CRAFTED = f"""<section id="one"><h1>Opening</h1>
<p>Kathy remembers the school as it was, and the friends she kept there, and what they learned.</p>
<p>The students <span style="white-space: nowrap">never-quite-ordinary-lives-of-the-students</span>
went on.</p>
<div style="height: 0.3in"></div>
<h2>Things to watch for</h2>
<p>One line under the heading here on this page and then the paragraph runs on over to the next
page where it ends.</p>
<p class="narrow">{LADDER}</p>
</section>"""
"""A heading left with one line at the foot of page 1, a loose line (a word that cannot break
follows two short ones), and a narrow paragraph whose hyphens ladder and whose last line is half
a word."""


def _crafted(tmp_path: Path) -> tuple[list[lint.Line], Path, Path]:
    """The crafted page's lines as the build reads them, and the PDF written tagged and untagged."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    config = FontConfiguration()
    css = CSS(
        string="@font-face { font-family: G; src: url(fonts/EBGaramond12-Regular.otf) }"
        "html { font: 11pt/1.35 G } @page { size: 3.5in 4in; margin: 0.4in }"
        "p { margin: 0; text-align: justify; hyphens: auto; widows: 1; orphans: 1 }"
        "h2 { margin: 0.5em 0 0.2em } .narrow { width: 0.8in }",
        base_url=str(ROOT / "styles") + "/",
        font_config=config,
    )
    html = HTML(string=f"<html lang=en><head><title>t</title></head><body>{CRAFTED}</body></html>")
    document = html.render(stylesheets=[css], font_config=config)
    tagged, untagged = tmp_path / "tagged.pdf", tmp_path / "untagged.pdf"
    tagged.write_bytes(document.write_pdf(pdf_variant="pdf/ua-1", pdf_tags=True))
    untagged.write_bytes(document.write_pdf())
    return pdflines.lines_of(document.pages), tagged, untagged


def _as_preflight(lines: list[lint.Line]) -> list[tuple[str, str]]:
    return [
        (f.code, f"page {f.page + 1}: {f.message}") for f in lint.check(lines, lint.full_page_lines(lines))
    ]


def test_a_crafted_pdf_gets_the_findings_the_build_gets(tmp_path: Path) -> None:
    built, tagged, _ = _crafted(tmp_path)
    expected = _as_preflight(built)
    assert [code for code, _ in expected] == ["L001", "L006", "L003", "L004"]
    assert expected[0] == (
        "L001",
        "page 1: heading `Things to watch for` has 1 line(s) under it at the page foot",
    )
    assert expected[2] == ("L003", "page 2: 3 hyphens in a row, from `extraordinar‐`")
    assert expected[3] == ("L004", "page 2: a paragraph ends on half a word: `stances`")
    assert expected[1][1].startswith("page 1: word spaces ") and expected[1][1].endswith("in `The students`")
    found = [(d.code, d.message) for d in check_layout(tagged)]
    assert [code for code, _ in found] == [code for code, _ in expected]
    assert [m for c, m in found if c != "L006"] == [m for c, m in expected if c != "L006"]
    # The loose line's ratio is measured against each source's own space (0.2 em, or the font's).
    loose = next(m for c, m in found if c == "L006")
    assert loose.startswith("page 1: word spaces ") and loose.endswith("in `The students`")


def test_the_lines_read_from_a_tagged_pdf_are_the_builds(tmp_path: Path) -> None:
    built, tagged, _ = _crafted(tmp_path)
    read = lines_of(tagged)
    assert [(line.page, line.kind, line.text, line.hyphen) for line in read] == [
        (line.page, line.kind, line.text, line.hyphen) for line in built
    ]
    starts = [n for n, line in enumerate(built) if n == 0 or built[n - 1].block != line.block]
    assert [n for n, line in enumerate(read) if n == 0 or read[n - 1].block != line.block] == starts
    assert {line.section for line in read} == {"Opening"}  # the top-level bookmark
    for ours, theirs in zip(read, built, strict=True):
        assert ours.spacing == pytest.approx(theirs.spacing, rel=0.1, abs=0.05)


def test_an_untagged_pdf_still_gets_the_heading_the_ladder_and_the_loose_line(tmp_path: Path) -> None:
    _, _, untagged = _crafted(tmp_path)
    found = [(d.code, d.message) for d in check_layout(untagged)]
    codes = [code for code, _ in found]
    assert ("L001", "page 1: heading `Things to watch for` has 1 line(s) under it at the page foot") in found
    assert ("L003", "page 2: 3 hyphens in a row, from `extraordinar‐`") in found
    assert "L006" in codes
    # Without tags, each line of a narrow ragged column may read as a paragraph of its own, so a
    # short line there can be taken for a paragraph's half-word end (README: the PDF's limits).
    assert set(codes) == {"L001", "L003", "L004", "L006"}


def test_preflight_reports_them_as_warnings_with_the_page(tmp_path: Path) -> None:
    _, tagged, _ = _crafted(tmp_path)
    report = preflight(tagged, ace=False)
    lints = [d for d in report.findings if d.code.startswith("L")]
    assert [d.code for d in lints] == ["L001", "L006", "L003", "L004"]
    assert all(d.severity == "warning" for d in lints)
    assert lints[0].format().startswith(f"{tagged}: warning L001: page 1: heading `Things to watch for`")
    assert "layout lint" in report.checks


@pytest.mark.slow
def test_the_bundled_interior_is_clean_both_ways(built: Path) -> None:
    assert check_layout(built / f"{SLUG}.pdf") == []
    result = pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles"), ("pdf",))
    assert [w.format() for w in result.warnings if w.code.startswith("L")] == []


@pytest.mark.slow
def test_the_bundled_interior_without_its_fixes_gets_the_same_findings_both_ways(tmp_path: Path) -> None:
    """print.css's rules for character paragraphs and FAQ answers taken out: the build and the
    preflight both find the short last page of the characters and the loose FAQ line."""
    styles = tmp_path / "styles"
    shutil.copytree(ROOT / "styles", styles)
    css = (styles / "print.css").read_text()
    for rule in (".character p { widows: 3; orphans: 3; }", ".faq-entry p { word-spacing: -0.02em; }"):
        assert rule in css
        css = css.replace(rule, "")
    (styles / "print.css").write_text(css)
    result = pipeline.build(pipeline.Project.at(ROOT / "source", styles), ("pdf",))
    path = tmp_path / f"{SLUG}.pdf"
    path.write_bytes(result.outputs[0].data)
    by_build = [w for w in result.warnings if w.code.startswith("L")]
    by_pdf = check_layout(path)
    assert [w.code for w in by_build] == ["L002", "L006"]
    assert [(d.code, d.message.split(":")[0]) for d in by_pdf] == [
        (w.code, w.message.split(":")[0]) for w in by_build
    ]
    # L002 names the section by its id in the build and by its bookmark in a PDF; L006 quotes the line.
    assert by_build[0].message.endswith("section `characters` ends with a page of 6 line(s) of 31")
    assert by_pdf[0].message.endswith("section `Characters` ends with a page of 6 line(s) of 31")
    assert by_build[1].message.split("`")[1] == by_pdf[1].message.split("`")[1]


def test_a_raised_note_call_stays_on_its_line() -> None:
    """PDFium ends a line where the baseline moves (after "spoiler.¹"): the next word, beside it on
    the right, goes on the same line; a word below and back at the left does not."""
    from companion.preflight.layout import _Char, _continues

    call = _Char("1", 100.0, 103.0, 506.0, 514.0, False)  # raised 3 pt above a 500-511 line
    assert _continues(call, _Char("I", 105.0, 108.0, 500.0, 511.0, False))
    assert not _continues(call, _Char("t", 40.0, 44.0, 486.0, 497.0, False))
