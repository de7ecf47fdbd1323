"""`companion preflight`: clean on every output we build, and one exact diagnostic per kind of problem.

Bad files are made here: EPUBs repacked from ours with one trap added, PDFs written by WeasyPrint or by
hand with pypdf. EPUBCheck and Ace are slow (about 10 s a file), so they run on our EPUB and kepub only;
our own EPUB checks run on the bad files directly.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject
from weasyprint import HTML

from companion import pipeline
from companion.preflight import epub as preflight_epub
from companion.preflight import validators
from companion.preflight.report import preflight
from companion.printing.fetcher import RestrictedFetcher

ROOT = Path(__file__).resolve().parent.parent
SLUG = "never-let-me-go"

pytestmark = pytest.mark.slow


def first_lines(result: Result) -> list[str]:
    """The diagnostic lines (without hints and the closing count)."""
    return [line for line in result.stderr.splitlines() if ": error P" in line or ": warning P" in line]


def lines(findings: object) -> list[str]:
    return [d.format().splitlines()[0] for d in findings]  # type: ignore[attr-defined]


# Our outputs are clean -----------------------------------------------------------------------------


def test_our_pdf_and_cover_are_clean(cli: Callable[..., Result], built: Path) -> None:
    result = cli("preflight", str(built / f"{SLUG}.pdf"), str(built / f"{SLUG}-cover.pdf"))
    assert result.exit_code == 0, result.stderr
    assert f"{built / SLUG}.pdf: ok (" in result.stdout
    assert f"{built / SLUG}-cover.pdf: ok (cover, " in result.stdout


@pytest.mark.skipif(not validators.ace_available(), reason="DAISY Ace or Chromium not installed")
def test_our_epub_is_clean_with_epubcheck_and_ace(cli: Callable[..., Result], built: Path) -> None:
    result = cli("preflight", str(built / f"{SLUG}.epub"))
    assert result.exit_code == 0, result.stderr
    assert "EPUBCheck, DAISY Ace" in result.stdout


def test_our_kepub_is_clean(cli: Callable[..., Result], built: Path) -> None:
    result = cli("preflight", "--no-ace", str(built / f"{SLUG}.kepub.epub"))
    assert result.exit_code == 0, result.stderr


def test_our_epub_has_no_kindle_traps(built: Path) -> None:
    for name in (f"{SLUG}.epub", f"{SLUG}.kepub.epub"):
        assert preflight_epub.traps(built / name) == []


# EPUB findings ---------------------------------------------------------------------------------------


def repack(source: Path, target: Path, change: Callable[[str, bytes], bytes]) -> Path:
    """Our EPUB with `change(name, data)` applied to every entry (mimetype first and stored)."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            kind = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            new.writestr(info.filename, data, compress_type=kind)
    return target


def css_name(epub: Path) -> str:
    with zipfile.ZipFile(epub) as archive:
        return next(n for n in archive.namelist() if n.endswith(".css"))


def opf_name(epub: Path) -> str:
    with zipfile.ZipFile(epub) as archive:
        return next(n for n in archive.namelist() if n.endswith(".opf"))


def test_dashes_in_a_comment(built: Path, tmp_path: Path) -> None:
    ours = built / f"{SLUG}.epub"
    css = css_name(ours)

    def change(name: str, data: bytes) -> bytes:
        return b"/* a -- b */\n" + data if name == css else data

    bad = repack(ours, tmp_path / "bad.epub", change)
    assert lines(preflight_epub.traps(bad)) == [f"{bad}/{css}:1:1: error P004: `--` inside a comment"]


def test_dashes_in_an_xml_comment(built: Path, tmp_path: Path) -> None:
    ours = built / f"{SLUG}.epub"
    opf = opf_name(ours)

    def change(name: str, data: bytes) -> bytes:
        return data.replace(b"<metadata", b"<!-- built -- today -->\n<metadata", 1) if name == opf else data

    bad = repack(ours, tmp_path / "bad.epub", change)
    found = lines(preflight_epub.traps(bad))
    assert len(found) == 1 and re.fullmatch(
        rf"{re.escape(str(bad))}/{re.escape(opf)}:\d+:\d+: error P004: `--` inside a comment", found[0]
    ), found


def test_css_custom_property(built: Path, tmp_path: Path) -> None:
    ours = built / f"{SLUG}.epub"
    css = css_name(ours)

    def change(name: str, data: bytes) -> bytes:
        return b":root { --ink: #111; }\np { color: var(--ink); }\n" + data if name == css else data

    bad = repack(ours, tmp_path / "bad.epub", change)
    assert lines(preflight_epub.traps(bad)) == [
        f"{bad}/{css}:1:9: error P005: CSS custom property --ink",
        f"{bad}/{css}:2:12: error P005: CSS custom property var()",
    ]


def test_missing_language(built: Path, tmp_path: Path) -> None:
    ours = built / f"{SLUG}.epub"
    opf = opf_name(ours)

    def change(name: str, data: bytes) -> bytes:
        if name == opf:
            return re.sub(rb"<dc:language[^>]*>[^<]*</dc:language>\s*", b"", data)
        if name.endswith("about.xhtml"):
            return re.sub(
                rb'(<html[^>]*?) (xml:)?lang="[^"]*"', rb"\1", re.sub(rb' lang="[^"]*"', b"", data, count=1)
            )
        return data

    bad = repack(ours, tmp_path / "bad.epub", change)
    about = next(n for n in zipfile.ZipFile(bad).namelist() if n.endswith("about.xhtml"))
    assert lines(preflight_epub.traps(bad)) == [
        f"{bad}/{opf}: error P007: no dc:language in the package metadata",
        f"{bad}/{about}: error P007: the document has no lang (or xml:lang) on <html>",
    ]


def test_unexpected_media_type_and_missing_accessibility_metadata(built: Path, tmp_path: Path) -> None:
    ours = built / f"{SLUG}.epub"
    opf = opf_name(ours)

    def change(name: str, data: bytes) -> bytes:
        if name != opf:
            return data
        data = re.sub(rb'media-type="image/jpeg"', b'media-type="image/bmp"', data, count=1)
        return re.sub(rb'<meta property="schema:accessibilitySummary">[^<]*</meta>\s*', b"", data)

    bad = repack(ours, tmp_path / "bad.epub", change)
    found = lines(preflight_epub.traps(bad))
    assert f"{bad}/{opf}: error P009: no schema:accessibilitySummary in the package metadata" in found
    assert any(
        line.startswith(f"{bad}/{opf}: error P006: ")
        and line.endswith(" has media type image/bmp, not an EPUB core media type")
        for line in found
    ), found
    assert len(found) == 2, found


def test_epubcheck_messages_are_findings(
    monkeypatch: pytest.MonkeyPatch, built: Path, tmp_path: Path
) -> None:
    """Every EPUBCheck message, USAGE and INFO included, becomes one line (parsed from its JSON)."""
    report = {
        "messages": [
            {
                "ID": "CSS-028",
                "severity": "USAGE",
                "message": "Use of Font-face declaration.",
                "locations": [
                    {"path": "EPUB/styles/base.css", "line": 3, "column": 3},
                    {"path": "EPUB/styles/base.css", "line": 9, "column": 3},
                ],
            }
        ]
    }

    def fake_run(*_args: object, **_kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess([], 0, json.dumps(report), "")

    monkeypatch.setattr(validators.subprocess, "run", fake_run)
    epub = built / f"{SLUG}.epub"
    assert lines(validators.epubcheck(epub)) == [
        f"{epub}/EPUB/styles/base.css:3:3: error P001: EPUBCheck USAGE CSS-028: "
        "Use of Font-face declaration. (and 1 more place)"
    ]


def test_ace_missing_is_a_finding(monkeypatch: pytest.MonkeyPatch, built: Path) -> None:
    monkeypatch.setattr(validators, "ace_command", lambda: None)
    epub = built / f"{SLUG}.epub"
    assert lines(validators.run_ace(epub)) == [
        f"{epub}: error P003: DAISY Ace is not installed, so accessibility was not checked"
    ]


def test_ace_waits_two_minutes_for_chromium(monkeypatch: pytest.MonkeyPatch, built: Path) -> None:
    """Ace's own 5 s start-up limit failed CI's first run twice; ours is passed in its environment."""
    monkeypatch.delenv("ACE_TIMEOUT_INITIAL", raising=False)
    seen: list[str] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(kwargs["env"]["ACE_TIMEOUT_INITIAL"])  # type: ignore[index]
        return subprocess.CompletedProcess(command, 1, "", "")

    monkeypatch.setattr(validators, "ace_command", lambda: ["ace"])
    monkeypatch.setattr(validators, "browser", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(validators.subprocess, "run", fake_run)
    assert lines(validators.run_ace(built / f"{SLUG}.epub"))[0].endswith("DAISY Ace failed: no report")
    assert seen == ["120000"] * validators.ACE_ATTEMPTS


@pytest.mark.skipif(not validators.ace_available(), reason="DAISY Ace or Chromium not installed")
def test_ace_failure_names_its_cause(monkeypatch: pytest.MonkeyPatch, built: Path) -> None:
    monkeypatch.setenv("ACE_TIMEOUT_INITIAL", "1")  # no Chromium starts in 1 ms
    assert lines(validators.run_ace(built / f"{SLUG}.epub")) == [
        f"{built / SLUG}.epub: error P003: DAISY Ace failed: Ace processing error: "
        "Timed out after 1 ms while waiting for the WS endpoint URL to appear in stdout!"
    ]


def test_not_a_book(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    result = cli("preflight", str(path))
    assert result.exit_code == 1
    assert first_lines(result) == [f"{path}: error P015: not a PDF (%PDF-) or an EPUB (zip with mimetype)"]


# PDF findings ----------------------------------------------------------------------------------------

PAGE = "@page { size: 5in 8in; margin: 0.75in; bleed: 0.125in; }"


def weasy(
    tmp_path: Path, name: str, body: str, css: str = PAGE, *, head: str = "", tags: bool = True
) -> Path:
    """A small PDF from HTML (title, author, lang, headings for the outline), files under tmp_path only."""
    html = (
        f'<html lang="en"><head><title>T</title><meta name="author" content="A">{head}'
        f"<style>{css} body {{ font-family: 'EB Garamond', serif; }}</style></head><body>{body}</body></html>"
    )
    path = tmp_path / name
    fetcher = RestrictedFetcher(tmp_path)
    HTML(string=html, base_url=str(tmp_path) + "/", url_fetcher=fetcher).write_pdf(path, pdf_tags=tags)
    return path


def two_pages(text: str = "Text") -> str:
    return f"<h1>One</h1><p>{text}</p><h1 style='break-before: page'>Two</h1><p>{text}</p>"


def test_small_clean_pdf(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = weasy(tmp_path, "ok.pdf", two_pages())
    result = cli("preflight", str(path))
    assert result.exit_code == 0, result.stderr


def test_no_trimbox(cli: Callable[..., Result], tmp_path: Path) -> None:
    source = weasy(tmp_path, "ok.pdf", two_pages())
    writer = PdfWriter(clone_from=source)
    del writer.pages[0][NameObject("/TrimBox")]
    path = tmp_path / "no-trim.pdf"
    writer.write(path)
    result = cli("preflight", str(path))
    assert result.exit_code == 1
    assert first_lines(result) == [f"{path}: error P010: page 1: no TrimBox"]


def test_bleed_too_small(cli: Callable[..., Result], tmp_path: Path) -> None:
    """A cover needs its bleed; an interior may go without (a text-only book: page = trim)."""
    cover = "@page { size: 11in 8in; margin: 0.75in; bleed: 0.05in; }"
    path = weasy(tmp_path, "thin.pdf", "<h1>Cover</h1>", cover)
    result = cli("preflight", str(path))
    assert first_lines(result) == [
        f"{path}: error P010: page 1: BleedBox only 0.050 in beyond the TrimBox (0.125 in needed)"
    ]
    interior = weasy(tmp_path, "trim.pdf", two_pages(), PAGE.replace("bleed: 0.125in;", ""))
    assert cli("preflight", str(interior)).exit_code == 0


def test_odd_page_count(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = weasy(tmp_path, "odd.pdf", two_pages() + "<h1 style='break-before: page'>Three</h1>")
    result = cli("preflight", str(path))
    assert first_lines(result) == [f"{path}: error P012: 3 pages: a print interior needs an even count"]


def test_font_not_embedded_and_untagged(cli: Callable[..., Result], tmp_path: Path) -> None:
    writer = PdfWriter()
    page = writer.add_blank_page(360, 576)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 12 Tf 72 288 Td (Hello) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(content)
    path = tmp_path / "helvetica.pdf"
    writer.write(path)
    result = cli("preflight", str(path))
    assert result.exit_code == 1
    assert first_lines(result) == [
        f"{path}: error P010: page 1: no TrimBox",
        f"{path}: error P010: page 1: no BleedBox",
        f"{path}: error P011: font Helvetica is not embedded (page 1)",
        f"{path}: error P012: 1 pages: a print interior needs an even count",
        f"{path}: error P016: no /MarkInfo /Marked true and /StructTreeRoot",
        f"{path}: error P013: no document language (/Lang)",
        f"{path}: error P013: no title",
        f"{path}: error P013: no author",
    ]


def test_only_bundled_fonts_in_our_files(cli: Callable[..., Result], tmp_path: Path) -> None:
    css = PAGE + " p { font-family: 'DejaVu Sans', sans-serif; }"
    path = weasy(tmp_path, "ours.pdf", two_pages(), css, head="<meta name='generator' content='companion'>")
    result = cli("preflight", str(path))
    assert any(
        re.fullmatch(
            rf"{re.escape(str(path))}: error P011: font \S+ is not one of the bundled EB Garamond .*", line
        )
        for line in first_lines(result)
    ), result.stderr
    assert cli("preflight", "--any-fonts", str(path)).exit_code == 0


def test_low_resolution_image(cli: Callable[..., Result], tmp_path: Path) -> None:
    Image.new("RGB", (72, 72), (90, 120, 160)).save(tmp_path / "small.png")
    body = two_pages() + '<p><img src="small.png" alt="A blue square" style="width: 3in; height: 3in"></p>'
    path = weasy(tmp_path, "image.pdf", body)
    result = cli("preflight", str(path))
    assert result.exit_code == 1
    assert first_lines(result) == [
        f'{path}: warning P014: page 2: image "A blue square" (72x72 px) printed at 3.00 x 3.00 in is 24 dpi'
    ]


def test_text_outside_the_live_area(cli: Callable[..., Result], tmp_path: Path) -> None:
    css = PAGE + " @page :first { margin: 0.1in; }"
    path = weasy(tmp_path, "edge.pdf", two_pages("Edge"), css)
    result = cli("preflight", str(path))
    assert first_lines(result) == [
        f'{path}: error P018: text within 0.25 in of the trim edge on page 1 (page 1: "One")'
    ]


def test_json_output(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = weasy(tmp_path, "odd.pdf", "<h1>One</h1>")
    result = cli("preflight", "--json", str(path))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report[0]["kind"] == "pdf"
    assert [(f["code"], f["severity"]) for f in report[0]["findings"]] == [("P012", "error")]


# PDF variants ----------------------------------------------------------------------------------------


def test_pdf_x3_has_an_output_intent_and_is_reproducible(tmp_path: Path) -> None:
    project = pipeline.Project.at(ROOT / "source", ROOT / "styles")
    first = pipeline.build(project, ("pdf",), variant="pdf/x-3").outputs[0].data
    intents = PdfReader(io.BytesIO(first)).trailer["/Root"]["/OutputIntents"]
    intent = intents[0].get_object()
    assert intent["/S"] == "/GTS_PDFX"
    assert intent["/DestOutputProfile"].get_object()["/N"] == 4  # CMYK
    path = tmp_path / "x3.pdf"
    path.write_bytes(first)
    report = preflight(path)
    assert report.findings == (), lines(report.findings)
    assert "PDF/X-3:2003" in report.summary
    assert pipeline.build(project, ("pdf",), variant="pdf/x-3").outputs[0].data == first


def test_pdf_x4_interior_is_reproducible_from_a_cold_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WeasyPrint writes a random xmpMM:DocumentID into a PDF/X-4; the merged interior gets one made
    from its own bytes (two cold builds differed in 36 bytes before)."""
    built = []
    for cold in ("one", "two"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / cold))
        project = pipeline.Project.at(ROOT / "source", ROOT / "styles")
        built.append(pipeline.build(project, ("pdf",), variant="pdf/x-4").outputs[0].data)
    assert built[0] == built[1]
    ids = re.findall(rb"xmp\.did:[0-9a-f-]{36}", built[0])
    assert len(ids) == 1 and ids[0] != b"xmp.did:00000000-0000-0000-0000-000000000000"


def test_pdf_x4_document_id_is_reproducible() -> None:
    """pdfx.finish (the cover's last step) replaces WeasyPrint's random xmpMM:DocumentID."""
    from companion.printing import pdfx

    dates = (
        '<meta name="dcterms.created" content="2026-01-01T00:00:00Z">'
        '<meta name="dcterms.modified" content="2026-01-01T00:00:00Z">'
    )
    html = HTML(string=f"<html lang=en><head><title>t</title>{dates}</head><body>x</body></html>")
    one, two = (html.write_pdf(pdf_variant="pdf/x-4") for _ in range(2))
    assert one != two  # WeasyPrint 70's uuid4
    assert pdfx.finish(one, "pdf/x-4") == pdfx.finish(two, "pdf/x-4")
    assert b"xmp.did:00000000" not in pdfx.finish(one, "pdf/x-4")


def test_missing_output_intent_is_reported(tmp_path: Path) -> None:
    source = weasy(tmp_path, "ok.pdf", two_pages())
    writer = PdfWriter(clone_from=source)
    writer.add_metadata({"/GTS_PDFXVersion": "PDF/X-3:2003"})
    path = tmp_path / "x.pdf"
    writer.write(path)
    assert lines(preflight(path).findings) == [
        f"{path}: error P017: declares PDF/X-3:2003 but has no PDF/X OutputIntent with a profile"
    ]


def test_ace_node_modules_are_ignored_by_git() -> None:
    assert "node_modules/" in (ROOT / ".gitignore").read_text().split()
    assert json.loads((ROOT / "package.json").read_text())["devDependencies"]["@daisy/ace-cli"] == "1.4.6"
    assert shutil.which("java") is not None
