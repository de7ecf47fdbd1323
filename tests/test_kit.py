"""The host's kit (issue 18): host guide, handouts per meeting in A4 and Letter, question cards.

Built once for the bundled companion and read back as a reader would get it: the text (pdftotext),
page counts and sizes, fonts (pdffonts), colour operators, tags and metadata, preflight and outloud.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pikepdf
import pytest

from companion import pipeline
from companion.preflight.report import preflight
from companion.printing import kit
from companion.source import meetings
from companion.source.load import load
from companion.source.markdown import plain
from companion.source.model import Companion

ROOT = Path(__file__).resolve().parent.parent
SLUG = "never-let-me-go"
PAPER_PT = {"a4": (595.28, 841.89), "letter": (612.0, 792.0)}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def companion() -> Companion:
    return load(ROOT / "source").companion


@pytest.fixture(scope="session")
def kit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kit")
    result = pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles"), ("kit",))
    pipeline.write(result, out)
    return out


def text_of(path: Path) -> str:
    run = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return run.stdout


def key(text: str) -> str:
    """Letters and digits only: robust to line breaks, hyphenation and curly quotes."""
    return re.sub(r"[\W_]+", "", plain(text)).casefold()


def handouts(kit_dir: Path) -> list[Path]:
    return sorted(kit_dir.glob(f"{SLUG}-handout-*.pdf"))


def test_the_kit_is_a_guide_two_handouts_a_meeting_and_cards(kit_dir: Path, companion: Companion) -> None:
    planned = meetings.plan(companion)
    assert [p.part.id for p in planned] == ["part-one", "part-two", "part-three"]
    expected = {f"{SLUG}-host-guide.pdf", f"{SLUG}-question-cards.pdf"} | {
        f"{SLUG}-handout-{p.part.id}-{size}.pdf" for p in planned for size in ("a4", "letter")
    }
    assert {p.name for p in kit_dir.iterdir()} == expected
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("<slug>-host-guide.pdf", "<slug>-handout-<part-id>-a4.pdf", "<slug>-question-cards.pdf"):
        assert name in readme


def test_whole_novel_questions_wait_for_the_last_meeting(companion: Companion) -> None:
    planned = meetings.plan(companion)
    asked = {number: p.number for p in planned for number, _ in p.questions}
    assert sorted(asked) == list(range(1, len(companion.questions) + 1))  # each question once
    for number, question in enumerate(companion.questions, start=1):
        expected = {"Part One": 1, "Part Two": 2, "Part Three": 3, "The whole novel": 3}[question.part]
        assert asked[number] == expected, question.part


def test_handouts_are_one_sheet_of_a4_or_letter(kit_dir: Path) -> None:
    found = handouts(kit_dir)
    assert len(found) == 6
    for path in found:
        pdf = pikepdf.open(path)
        assert len(pdf.pages) in (1, 2), path.name
        size = path.stem.rsplit("-", 1)[1]
        for page in pdf.pages:
            box = [float(v) for v in page.MediaBox]
            assert (box[2] - box[0], box[3] - box[1]) == pytest.approx(PAPER_PT[size], abs=0.5), path.name


def test_a_handout_holds_its_questions_and_nothing_later(kit_dir: Path, companion: Companion) -> None:
    planned = meetings.plan(companion)
    for meeting in planned:
        own = {number for number, _ in meeting.questions}
        for size in ("a4", "letter"):
            text = key(text_of(kit_dir / f"{SLUG}-handout-{meeting.part.id}-{size}.pdf"))
            for number, question in enumerate(companion.questions, start=1):
                present = key(question.question) in text
                assert present == (number in own), (meeting.part.id, size, number)
                if meetings.needs(companion, question) > meeting.part.rank:
                    assert not present
            assert key("Notes") in text


def test_host_only_text_is_in_the_guide_and_on_no_handout_or_card(
    kit_dir: Path, companion: Companion
) -> None:
    guide = key(text_of(kit_dir / f"{SLUG}-host-guide.pdf"))
    others = [key(text_of(p)) for p in [*handouts(kit_dir), kit_dir / f"{SLUG}-question-cards.pdf"]]
    secrets = [p for m in companion.meetings for p in re.split(r"\n\s*\n", m.ahead) if p.strip()]
    assert len(secrets) >= 3
    for secret in secrets:
        assert key(secret) in guide
        assert all(key(secret) not in text for text in others)
    assert all(key("Host only") not in text for text in others)


def test_the_guide_plans_each_meeting_timings_warm_up_tiers(kit_dir: Path, companion: Companion) -> None:
    pdf = kit_dir / f"{SLUG}-host-guide.pdf"
    pages = [text_of_page(pdf, n) for n in range(1, len(pikepdf.open(pdf).pages) + 1)]
    assert len(pages) % 2 == 0
    for meeting in meetings.plan(companion):
        heading = f"Meeting {meeting.number}: {meeting.part.title}"
        page = next(t for t in pages if t.lstrip().startswith(heading))
        assert key(meeting.meeting.warm_up) in key(page)
        for step in meeting.meeting.timings:
            assert re.search(rf"{re.escape(step.what)}\s+{step.minutes}\b", page), step.what
        order = [page.index(title) for _, title, _ in kit.TIERS if title in page]
        assert len(order) == 3 and order == sorted(order)


def text_of_page(path: Path, number: int, *, layout: bool = True) -> str:
    run = subprocess.run(
        ["pdftotext", *(["-layout"] if layout else []), "-f", str(number), "-l", str(number), str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return re.sub(r"[ \t]+", " ", run.stdout)


def test_one_card_per_question_numbered_and_grouped_by_meeting(kit_dir: Path, companion: Companion) -> None:
    pdf = kit_dir / f"{SLUG}-question-cards.pdf"
    count = len(pikepdf.open(pdf).pages)
    fronts = " ".join(text_of_page(pdf, n) for n in range(1, count + 1, 2))
    backs = " ".join(text_of_page(pdf, n) for n in range(2, count + 1, 2))
    labels = re.findall(r"Meeting (\d) · Part \w+ · (?:The story|Ideas|Personal)", fronts)
    assert len(labels) == len(companion.questions)
    assert labels == sorted(labels)  # grouped by meeting
    numbers = [int(n) for n in re.findall(r"No\. (\d+)", backs)]
    assert sorted(numbers) == list(range(1, len(companion.questions) + 1))
    text = key(" ".join(text_of_page(pdf, n, layout=False) for n in range(1, count + 1, 2)))
    assert all(key(q.question) in text for q in companion.questions)


def test_every_kit_pdf_passes_preflight_in_bundled_fonts_and_k_only(kit_dir: Path) -> None:
    for path in sorted(kit_dir.glob("*.pdf")):
        report = preflight(path)
        # the layout lint's book rules (a section's short last page, a heading kept with two lines)
        # are warnings meant for book interiors; a handout ends with a page of lines by design
        errors = [d for d in report.findings if not d.code.startswith("L")]
        assert errors == [], [d.format() for d in errors]
        assert all(d.severity == "warning" for d in report.findings)
        fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
        rows = fonts.splitlines()[2:]
        assert rows and all(re.match(r"\S*EB-Garamond-12\S* .* yes yes yes ", row) for row in rows), fonts
        pdf = pikepdf.open(path)
        assert str(pdf.Root.Lang) == "en-GB" and pdf.Root.MarkInfo.Marked and "/StructTreeRoot" in pdf.Root
        assert str(pdf.docinfo.Title).startswith("Never Let Me Go: A Reader’s Companion: ")
        with pdf.open_metadata() as xmp:
            assert xmp.get("pdfuaid:part") == "1"
        for page in pdf.pages:
            for operands, operator in pikepdf.parse_content_stream(page):
                op = str(operator)
                assert op not in ("rg", "RG", "g", "G", "k", "K"), (path.name, op)
                if op in ("cs", "CS"):
                    assert str(operands[0]) == "/DeviceCMYK", (path.name, operands)
                if op in ("scn", "SCN"):
                    c, m, y, _k = (float(v) for v in operands)
                    assert c == m == y == 0, (path.name, operands)


def test_outloud_finds_nothing_in_the_kit(kit_dir: Path) -> None:
    outloud = shutil.which("outloud", path=str(Path(sys.executable).parent))
    assert outloud is not None, "outloud is a dev dependency"
    for path in sorted(kit_dir.glob("*.pdf")):
        run = subprocess.run([outloud, "--json", "-", str(path)], capture_output=True, text=True)
        found = [f for f in _walk(json.loads(run.stdout)) if f.get("severity") in ("error", "warning")]
        assert [f for f in found if "message" in f] == [], path.name


def _walk(node: object) -> list[dict[str, object]]:
    if isinstance(node, dict):
        return [node, *(x for v in node.values() for x in _walk(v))]
    if isinstance(node, list):
        return [x for v in node for x in _walk(v)]
    return []


def test_two_kit_builds_are_byte_identical(kit_dir: Path) -> None:
    again = pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles"), ("kit",))
    assert len(again.outputs) == 8
    for output in again.outputs:
        assert output.data == (kit_dir / output.name).read_bytes(), output.name


def test_the_paper_follows_the_books_region(companion: Companion) -> None:
    book = companion.book
    assert kit.paper(book) == "a4"
    assert kit.paper(book.model_copy(update={"language": "en-US"})) == "letter"
    assert kit.paper(book.model_copy(update={"language": "fr"})) == "a4"
    assert kit.paper(book.model_copy(update={"language": "en-Latn-CA"})) == "letter"


def test_a_question_is_never_asked_before_the_part_it_gives_away(companion: Companion) -> None:
    first = companion.questions[0]
    later = first.model_copy(update={"reveals": 2})
    moved = replace(companion, questions=(later, *companion.questions[1:]))
    assert meetings.needs(moved, later) == 2
    assert [p.number for p in meetings.plan(moved) for n, _ in p.questions if n == 1] == [2]
    only_first = replace(moved, meetings=companion.meetings[:1])
    planned = meetings.plan(only_first)  # no meeting reaches Part Two: its questions are left out
    assert [n for n, _ in planned[0].questions] == [2, 3, 4, 5, 6, 7]


def test_an_image_prints_gray_in_the_kit_and_through_the_interiors_fetcher(tmp_path: Path) -> None:
    """A raster image comes out as its gray (L*) level, not a black box: WeasyPrint 70 embeds a PNG
    from the file at its URL when the fetched response names one (grayscale.py, _Converted)."""
    import pypdfium2 as pdfium
    from PIL import Image
    from weasyprint import HTML

    from companion.printing.grayscale import GrayFetcher

    from .tinysource import make_tiny

    source = make_tiny(tmp_path)
    with (source / "book.yaml").open("a", encoding="utf-8") as book:
        book.write("  parts:\n    - id: part-one\n      title: Part One\n")
    (source / "images").mkdir()
    Image.new("RGB", (600, 400), (137, 137, 137)).save(source / "images" / "grey.png")
    (source / "questions.yaml").write_text("- question: One?\n  part: Part One\n", encoding="utf-8")
    warm_up = "  warm_up: |\n    Look at this.\n\n    ![a grey square](images/grey.png)\n"
    (source / "meetings.yaml").write_text(f"- part: part-one\n  minutes: 60\n{warm_up}", encoding="utf-8")
    result = pipeline.build(pipeline.Project.at(source), ("kit",))
    guide = next(o.data for o in result.outputs if o.name == "tiny-host-guide.pdf")
    expected = 146  # sRGB 137 is L* 57.3
    page = pdfium.PdfDocument(guide)[1].render(scale=1).to_pil().convert("L").histogram()
    assert sum(page[expected - 3 : expected + 4]) > 40_000  # the image (about 300 x 200 pt)
    assert sum(page[:60]) < 3_000  # only the text is black
    fetcher = GrayFetcher(source, images_root=source)
    html = HTML(string=f'<img src="{(source / "images" / "grey.png").as_uri()}">', url_fetcher=fetcher)
    interior = pdfium.PdfDocument(html.write_pdf())[0].render(scale=1).to_pil().convert("L")
    assert interior.getextrema() == (pytest.approx(expected, abs=3), 255)
