"""The read-along edition: what is read aloud, the media overlays, the audio, the cache, determinism.

The whole bundled companion is narrated once per session with espeak-ng (the `narrated` fixture, slow);
the rest uses small documents and the tiny companion.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from companion import pipeline
from companion.preflight import validators
from companion.readalong import readaloud
from companion.readalong.spoken import speakable
from companion.source.model import Pronunciation

from .tinysource import ROOT, make_tiny

X = "{http://www.w3.org/1999/xhtml}"
SMIL = "{http://www.w3.org/ns/SMIL}"
OPF = "{http://www.idpf.org/2007/opf}"
ESPEAK = shutil.which("espeak-ng") is not None and shutil.which("ffmpeg") is not None
needs_espeak = pytest.mark.skipif(not ESPEAK, reason="espeak-ng and ffmpeg are needed")
SLUG = "never-let-me-go"


def page(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">'
        f"<head><title>t</title></head><body>{body}</body></html>"
    ).encode()


# --- what is said --------------------------------------------------------------------------------


def test_speakable_reads_abbreviations_numbers_and_the_lexicon() -> None:
    lexicon = (Pronunciation(word="Ishiguro", say="Ishi-gooro"),)
    assert speakable("Ishiguro, p.\u00a012 and pp. 3–5.", lexicon) == "Ishi-gooro, page 12 and pages 3 to 5."
    said = speakable("Kathy\u00a0H. is a carer, e.g. for Ruth.")
    assert said == "Kathy H is a carer, for example for Ruth."
    assert speakable("In the late 1990s, in 1996, in 2005, in 1900.") == (
        "In the late 19 nineties, in 19 96, in 2005, in 19 hundred."
    )
    assert speakable(" — ") == ""
    assert speakable("Identifier: urn:uuid:285a89df-c20a-4931-8edc-cd028b30e30e") == ""
    assert speakable("Set in EB Garamond: a serif.") == "Set in EB Garamond: a serif."


def test_a_sentence_through_a_link_is_one_span_and_text_is_unchanged() -> None:
    doc = page(
        '<h1>Part One</h1><p>It is told by <a href="x.xhtml#k">Kathy</a>, a carer. Then <em>she</em> drives.'
        '<span id="page-3" epub:type="pagebreak" role="doc-pagebreak" aria-label="3"></span> Miss\u00a0Lucy'
        " speaks.</p>"
    )
    reading = readaloud.read(doc)
    root = etree.fromstring(reading.xhtml)
    before = etree.fromstring(doc).find(f"{X}body")
    assert "".join(root.find(f"{X}body").itertext()) == "".join(before.itertext())
    spans = {
        s.get("id"): "".join(s.itertext()) for s in root.iter(f"{X}span") if s.get("class") == "sentence"
    }
    assert list(spans.values()) == [
        "Part One",
        "It is told by Kathy, a carer. ",
        "Then she drives.",
        " Miss\u00a0Lucy speaks.",
    ]
    assert [s.id for s in reading.sentences] == list(spans)
    assert root.find(f".//{X}span[@id='page-3']") is not None  # the marker stays, and is not read


def test_notes_are_read_after_their_paragraph_or_skipped() -> None:
    doc = page(
        '<p>First.<a epub:type="noteref" role="doc-noteref" href="#fn-1">1</a></p><p>Second.</p>'
        '<aside epub:type="footnote" role="doc-footnote" id="fn-1"><p><a role="doc-backlink" href="#r">1.</a>'
        "</p><p>The note.</p></aside>"
        '<nav epub:type="landmarks" hidden="hidden"><ol><li><a href="c.xhtml">Cover</a></li></ol></nav>'
        '<p><img src="a.jpg" alt="A map"/></p>'
    )
    after = [s.text for s in readaloud.read(doc).sentences]
    assert after == ["First.", "The note.", "Second.", "Image: A map"]
    skipped = [s.text for s in readaloud.read(doc, notes="skip").sentences]
    assert skipped == ["First.", "Second.", "Image: A map"]


def test_a_sentence_that_ends_inside_an_emphasis_keeps_its_pieces() -> None:
    reading = readaloud.read(page("<p>She reads <em>a book. Then</em> sleeps.</p>"))
    texts = [(s.text, s.utterance) for s in reading.sentences]
    assert texts == [("She reads ", 0), ("a book. ", 0), ("Then", 1), (" sleeps.", 1)]
    assert reading.utterances == ("She reads a book. ", "Then sleeps.")


def test_initials_honorifics_and_page_references_do_not_end_a_sentence() -> None:
    # YAML prose has ordinary spaces ("Kathy H. is"), not the no-break space the Markdown gets.
    reading = readaloud.read(
        page(
            "<p>Kathy H. is thirty-one; see p. 12 and pp. 3\u20135, e.g. the Cottages, where Mr. Keffers"
            " grumbles. So did I. Then <strong>Kathy H.</strong> drives on. She said No. Done.</p>"
        )
    )
    assert [s.text for s in reading.sentences] == [
        "Kathy H. is thirty-one; see p. 12 and pp. 3\u20135, e.g. the Cottages, where Mr. Keffers grumbles. ",
        "So did I. ",
        "Then Kathy H. drives on. ",
        "She said No. ",
        "Done.",
    ]
    lexicon = (Pronunciation(word="Kathy H.", say="Kathy Aitch"),)
    said = [speakable(u, lexicon) for u in reading.utterances]
    assert said[0] == (
        "Kathy Aitch is thirty-one; see page 12 and pages 3 to 5, for example the Cottages, where Mr. Keffers"
        " grumbles."
    )
    assert said[2] == "Then Kathy Aitch drives on."


def test_a_line_break_parts_the_words_it_sits_between() -> None:
    reading = readaloud.read(
        page(
            "<p>A companion to <cite>Never Let Me Go</cite><br/>by Kazuo Ishiguro</p>"
            "<p>One<br/><em>two</em></p>"
        )
    )
    assert [speakable(u) for u in reading.utterances] == [
        "A companion to Never Let Me Go by Kazuo Ishiguro",
        "One two",
    ]


def test_an_inline_svg_figure_is_read_as_its_label_a_hidden_one_not_at_all() -> None:
    svg = '<svg xmlns="http://www.w3.org/2000/svg" '
    reading = readaloud.read(
        page(
            f'<p>{svg}role="img" aria-label="A map of the places"><title>Map</title><text>Hailsham</text>'
            f'</svg></p><p>{svg}aria-hidden="true"><text>x</text></svg>After.</p>'
            f"<p>{svg}><title>Only a title</title></svg></p>"
        )
    )
    said = [s.text for s in reading.sentences]
    assert said == ["Image: A map of the places", "After.", "Image: Only a title"]
    root = etree.fromstring(reading.xhtml)
    wrapped = root.find(f".//{X}span[@id='rs-1']")
    assert wrapped is not None and wrapped[0].get("aria-label") == "A map of the places"


def test_a_note_is_read_once_after_the_paragraph_that_first_cites_it() -> None:
    def ref(n: int) -> str:
        return f'<a epub:type="noteref" role="doc-noteref" href="#fn-{n}">{n}</a>'

    def note(n: int, text: str) -> str:
        return (
            f'<aside epub:type="footnote" role="doc-footnote" id="fn-{n}"><p><a role="doc-backlink"'
            f' href="#r-{n}">{n}.</a></p><p>{text}</p></aside>'
        )

    notes = note(1, "Note one.") + note(2, "Note two.")
    later_first = readaloud.read(page(f"<p>First.{ref(2)}</p><p>Second.{ref(1)}</p><p>Third.</p>{notes}"))
    expected = ["First.", "Note two.", "Second.", "Note one.", "Third."]
    assert [s.text for s in later_first.sentences] == expected
    twice = readaloud.read(page(f"<p>First.{ref(1)}</p><p>Second.{ref(1)}</p><p>Third.{ref(2)}</p>{notes}"))
    assert [s.text for s in twice.sentences] == ["First.", "Note one.", "Second.", "Third.", "Note two."]
    assert len({s.id for s in twice.sentences}) == len(twice.sentences)


# --- the tiny companion: cache and determinism ------------------------------------------------------


def tiny(root: Path, body: str = "Kathy H. remembers Hailsham. She drives at night. Ruth is gone.") -> Path:
    source = make_tiny(root, styles=True)
    chapter = source / "chapters" / "01-one.md"
    chapter.write_text(chapter.read_text().replace("Some text.", body), encoding="utf-8")
    return source


@needs_espeak
def test_cold_builds_are_identical_a_second_synthesizes_nothing_an_edit_one_sentence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    projects = [pipeline.Project.at(tiny(tmp_path / name)) for name in ("a", "b")]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-b"))  # the speech cache is per user
    other = pipeline.build(projects[1], ("read-along",), page_list=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache-a"))
    first = pipeline.build(projects[0], ("read-along",), page_list=False)
    assert {o.name for o in first.outputs} == {"tiny-read-along.epub", "tiny.m4b"}
    assert first.narration is not None and first.narration.synthesized > 7  # the chapter, and every page
    assert other.narration is not None and other.narration.synthesized == first.narration.synthesized
    assert first.outputs == other.outputs  # two cold builds (each synthesized everything), byte for byte
    again = pipeline.build(projects[0], ("read-along",), page_list=False)
    assert again.narration is not None and again.narration.synthesized == 0
    assert again.outputs == first.outputs
    chapter = projects[0].source / "chapters" / "01-one.md"
    chapter.write_text(chapter.read_text().replace("at night", "by day"), encoding="utf-8")
    edited = pipeline.build(projects[0], ("read-along",), page_list=False)
    assert edited.narration is not None and edited.narration.synthesized == 1
    assert edited.narration.cached == first.narration.synthesized - 1


def test_bench_narrates_the_cold_build_with_an_empty_speech_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The narration's audio is cached for every project in the user's cache folder, so `make bench`'s
    "cold" read-along build gets a cache folder of its own (else it synthesized nothing after any other
    build of the book)."""
    import importlib.util
    import types

    spec = importlib.util.spec_from_file_location("bench", ROOT / "tools" / "bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    seen: list[tuple[str, str]] = []

    def run(command: list[str], **kwargs: object) -> types.SimpleNamespace:
        env = kwargs.get("env")
        assert isinstance(env, dict), "the build inherits the caller's cache folder"
        seen.append((env["XDG_CACHE_HOME"], str(kwargs["cwd"])))
        return types.SimpleNamespace(stdout=json.dumps([1.0, 1.0, 1, 0, 10.0, 1.0]))

    monkeypatch.setattr(bench.subprocess, "run", run)
    lines = bench.read_along("espeak-ng:en-gb")
    assert len(seen) == 3 and len({cache for cache, _ in seen}) == 1  # cold, then warm from that cache
    cache, cwd = seen[0]
    assert Path(cache).is_absolute() and Path(cache).resolve().is_relative_to(Path(cwd).resolve())
    assert cache != os.environ.get("XDG_CACHE_HOME")
    assert "synthesis: seconds of audio per CPU second" in lines[-1]


# --- the bundled companion, narrated once ---------------------------------------------------------------


@dataclass(frozen=True)
class Narrated:
    dist: Path
    again: pipeline.BuildResult
    first: pipeline.BuildResult

    @property
    def epub(self) -> Path:
        return self.dist / f"{SLUG}-read-along.epub"


@pytest.fixture(scope="session")
def narrated(tmp_path_factory: pytest.TempPathFactory) -> Narrated:
    """The bundled companion's read-along edition, narrated by espeak-ng (then built again)."""
    if not ESPEAK:
        pytest.skip("espeak-ng and ffmpeg are needed")
    root = tmp_path_factory.mktemp("read-along")
    shutil.copytree(ROOT / "source", root / "source")
    shutil.copytree(ROOT / "styles", root / "styles")
    book = root / "source" / "book.yaml"
    book.write_text(re.sub(r"(?m)^  voice: .*$", "  voice: espeak-ng:en-gb", book.read_text()), "utf-8")
    project = pipeline.Project.at(root / "source")
    first = pipeline.build(project, ("read-along",), page_list=False)
    pipeline.write(first, root / "dist")
    again = pipeline.build(project, ("read-along",), page_list=False)
    return Narrated(root / "dist", again, first)


def overlays(epub: Path) -> dict[str, tuple[str, list[tuple[str, str, float, float]]]]:
    """Each SMIL's content document and its pars: (document, [(fragment, audio, begin, end)])."""
    found = {}
    with zipfile.ZipFile(epub) as archive:
        for name in sorted(n for n in archive.namelist() if n.endswith(".smil")):
            root = etree.fromstring(archive.read(name))
            seq = root.find(f"{SMIL}body/{SMIL}seq")
            pars = []
            for par in root.iter(f"{SMIL}par"):
                text, audio = par.find(f"{SMIL}text"), par.find(f"{SMIL}audio")
                begin, end = (float(audio.get(k, "").rstrip("s")) for k in ("clipBegin", "clipEnd"))
                pars.append((text.get("src").split("#")[1], audio.get("src"), begin, end))
            found[name] = (seq.get("{http://www.idpf.org/2007/ops}textref"), pars)
    return found


def duration(data: bytes, tmp_path: Path) -> float:
    path = tmp_path / "audio.m4a"
    path.write_bytes(data)
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout)


@pytest.mark.slow
def test_every_sentence_of_every_spine_document_has_a_clip(narrated: Narrated, tmp_path: Path) -> None:
    found = overlays(narrated.epub)
    with zipfile.ZipFile(narrated.epub) as archive:
        package = etree.fromstring(archive.read("EPUB/content.opf"))
        items = {i.get("id"): i for i in package.iter(f"{OPF}item")}
        spine = [items[ref.get("idref")] for ref in package.iter(f"{OPF}itemref")]
        assert len(spine) > 15
        for item in spine:  # every spine document has an overlay, and every sentence in it a clip
            overlay = items[item.get("media-overlay")]
            document = etree.fromstring(archive.read(f"EPUB/{item.get('href')}"))
            ids = [s.get("id") for s in document.iter(f"{X}span") if s.get("class") == "sentence"]
            textref, pars = found[f"EPUB/{overlay.get('href')}"]
            assert textref == f"../{item.get('href')}"
            assert ids and sorted(ids) == sorted(p[0] for p in pars)
            audio = archive.read(f"EPUB/overlays/{pars[0][1]}".replace("overlays/../", ""))
            length = duration(audio, tmp_path)
            for (_, _, begin, end), (_, _, following, _) in itertools.pairwise(pars):
                assert begin < end and end == following  # in order, no gap, no overlap
            assert pars[0][2] == 0 and abs(pars[-1][3] - length) < 0.05  # the clips cover the audio
            assert all(end - begin < 60 for _, _, begin, end in pars)


@pytest.mark.slow
def test_package_metadata(narrated: Narrated) -> None:
    with zipfile.ZipFile(narrated.epub) as archive:
        opf = archive.read("EPUB/content.opf").decode()
        css = archive.read("EPUB/styles/epub.css").decode()
        names = archive.namelist()
    assert '<opf:meta property="media:active-class">read-along-active</opf:meta>' in opf
    assert ".read-along-active {" in css
    assert '<opf:meta property="schema:accessMode">auditory</opf:meta>' in opf
    assert '<opf:meta property="schema:accessibilityFeature">synchronizedAudioText</opf:meta>' in opf
    assert "highlighted sentence by sentence (EPUB 3 Media Overlays)" in opf
    refined = r'<opf:meta property="media:duration" refines="#mo-[^"]+">(\d+):(\d\d):(\d\d\.\d{3})</opf:meta>'
    each = [int(h) * 3600 + int(m) * 60 + float(s) for h, m, s in re.findall(refined, opf)]
    total = re.search(r'<opf:meta property="media:duration">(\d+):(\d\d):(\d\d\.\d{3})</opf:meta>', opf)
    assert total is not None and each
    assert abs(int(total[1]) * 3600 + int(total[2]) * 60 + float(total[3]) - sum(each)) < 0.001
    assert all(n.endswith(".m4a") for n in names if n.startswith("EPUB/audio/"))
    assert 'media-type="audio/mp4"' in opf and 'media-type="application/smil+xml"' in opf


@pytest.mark.slow
def test_a_second_build_synthesizes_nothing_and_is_byte_identical(narrated: Narrated) -> None:
    assert narrated.first.narration is not None and narrated.first.narration.synthesized > 300
    assert narrated.again.narration is not None and narrated.again.narration.synthesized == 0
    assert narrated.again.outputs == narrated.first.outputs


@pytest.mark.slow
def test_audiobook_chapters_read_back(narrated: Narrated) -> None:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_chapters", "-show_format", "-of", "json",
         str(narrated.dist / f"{SLUG}.m4b")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    probe = json.loads(done.stdout)
    titles = [c["tags"]["title"] for c in probe["chapters"]]
    assert titles[:3] == ["Cover", "Title Page", "Copyright"] and "Part One: Hailsham" in titles
    assert len(titles) == len(overlays(narrated.epub))
    ends = [float(c["end_time"]) for c in probe["chapters"]]
    assert abs(ends[-1] - float(probe["format"]["duration"])) < 0.1
    assert probe["format"]["tags"]["title"] == "Never Let Me Go: A Reader’s Companion"
    assert "encoder" not in probe["format"]["tags"]  # bit-exact: no encoder version in the file


@pytest.mark.slow
@pytest.mark.skipif(validators.epubcheck_jar() is None or shutil.which("java") is None, reason="no EPUBCheck")
def test_epubcheck_reports_nothing(narrated: Narrated) -> None:
    assert validators.epubcheck(narrated.epub) == []


@pytest.mark.slow
@pytest.mark.skipif(not validators.ace_available(), reason="DAISY Ace is not installed")
def test_ace_reports_no_violation(narrated: Narrated) -> None:
    assert validators.run_ace(narrated.epub) == []


# --- in a reading system: foliate-js in headless Chromium ----------------------------------------------

FOLIATE = ROOT / "node_modules" / "foliate-js" / "view.js"
ACTIVE = """(() => {
  const doc = view.renderer.getContents()[0].doc, active = doc.querySelector('.read-along-active')
  const last = report.events.at(-1)
  return Boolean(active && last && last.text.endsWith('#' + active.id))
})()"""


@pytest.mark.slow
@pytest.mark.skipif(not FOLIATE.is_file(), reason="foliate-js is not installed (npm ci)")
def test_foliate_plays_the_overlay_and_highlights_each_sentence(narrated: Narrated, tmp_path: Path) -> None:
    import http.server
    import threading
    from functools import partial

    from .test_preview import CHROMIUM, Browser

    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    pytest.importorskip("websocket", reason="websocket-client is not installed")
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(ROOT / "tests" / "reader" / "index.html", site / "index.html")
    shutil.copytree(FOLIATE.parent, site / "foliate-js")
    shutil.copy(narrated.epub, site / "book.epub")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    browser = Browser(tmp_path / "profile", "--autoplay-policy=no-user-gesture-required", "--mute-audio")
    try:
        browser.call("Page.navigate", url=f"http://127.0.0.1:{server.server_port}/?section=part-one.xhtml")
        ready = "window.report !== undefined && (report.events.length >= 4 || report.error !== null)"
        browser.wait(ready, 90)
        report = browser.evaluate("report")
        assert report["error"] is None, report["error"]
        assert report["activeClass"] == "read-along-active"
        assert report["overlays"] == report["sections"] == len(overlays(narrated.epub))
        browser.wait(ACTIVE, 20)  # the sentence being read is highlighted in the page
        events = browser.evaluate("report.events")
    finally:
        browser.close()
        server.shutdown()
    _, pars = overlays(narrated.epub)["EPUB/overlays/part-one.smil"]
    expected = [(f"part-one.xhtml#{text}", begin, end) for text, _, begin, end in pars]
    heard = [(e["text"].split("/")[-1], e["begin"], e["end"]) for e in events]
    assert len(heard) >= 4 and heard == expected[: len(heard)]  # each highlight is its sentence's clip
