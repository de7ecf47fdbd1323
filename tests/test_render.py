"""Rendering: typography, escaping, cross-references, footnotes, and golden XHTML/OPF files.

Regenerate the golden files with `pytest --update-golden` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from companion.epub import package as epub
from companion.render.render import Edition, environment, plan, print_document, render
from companion.source import markdown
from companion.source.load import load
from companion.source.validate import Validated, validate

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.fixture(scope="module")
def validated() -> Validated:
    return validate(load(ROOT / "source"))


@pytest.fixture(scope="module")
def epub_bytes(validated: Validated) -> bytes:
    images = {"@cover": "cover/cover.jpg"}
    rendered = render(validated, Edition(), "epub", images, stylesheets=epub.STYLESHEETS)
    resources = [
        epub.Resource("cover/cover.jpg", "image/jpeg", b"\xff\xd8 not a real jpeg", ("cover-image",)),
        *epub.styles_resources(ROOT / "styles", "", lambda data, _text: data),
    ]
    return epub.package(rendered, resources, modified=dt.datetime(2026, 11, 23))


def test_typography() -> None:
    html = markdown.to_html(
        '"Hello," she said -- it\'s Miss Emily... p. 12', target="epub", prefix="x", links={}, images={}
    ).html
    assert "“Hello,”" in html
    assert "it’s" in html
    assert "…" in html
    assert "–" in html
    assert "Miss\u00a0Emily" in html
    assert "p.\u00a012" in html


def test_autoescape_everywhere() -> None:
    env = environment()
    assert env.autoescape is True
    out = env.from_string("{{ x }} {{ x | inline }}").render(x="<b>&</b>")
    assert "<b>" not in out
    assert "&amp;" in out


def test_raw_html_is_escaped_by_the_renderer() -> None:
    html = markdown.to_html(
        "a <script>alert(1)</script> b", target="print", prefix="x", links={}, images={}
    ).html
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_cross_references_differ_by_target() -> None:
    text = "See [Tommy](#tommy)."
    assert (
        'href="characters.xhtml#tommy"'
        in markdown.to_html(
            text, target="epub", prefix="x", links={"tommy": "characters.xhtml#tommy"}, images={}
        ).html
    )
    assert (
        'href="#tommy"'
        in markdown.to_html(text, target="print", prefix="x", links={"tommy": "#tommy"}, images={}).html
    )


def test_footnotes_are_popup_notes_in_epub_and_page_notes_in_print() -> None:
    text = "Text.[^1]\n\n[^1]: The note.\n"
    fragment = markdown.to_html(text, target="epub", prefix="ch", links={}, images={})
    assert 'epub:type="noteref"' in fragment.html and 'href="#ch-fn-1"' in fragment.html
    assert 'epub:type="footnote"' in fragment.notes[0] and 'id="ch-fn-1"' in fragment.notes[0]
    assert 'href="#ch-ref-1"' in fragment.notes[0]
    printed = markdown.to_html(text, target="print", prefix="ch", links={}, images={})
    assert '<span class="footnote">The note.</span>' in printed.html
    assert printed.notes == ()


def test_plan_orders_sections_and_spoiler_free_edition_drops_spoilers(validated: Validated) -> None:
    full = plan(validated.companion, Edition())
    ids = [s.id for s in full]
    assert ids.index("titlepage") < ids.index("about") < ids.index("how-to-use") < ids.index("glossary")
    safe = plan(validated.companion, Edition(through="start"))
    safe_ids = {s.id for s in safe}
    assert "part-two" not in safe_ids and "part-three" not in safe_ids and "how-to-use" in safe_ids
    for section in safe:
        assert not any(getattr(item, "spoilers", False) for item in section.items)
    one = plan(validated.companion, Edition(through="part-one").bind(validated.companion.book))
    one_ids = {s.id for s in one}
    assert {"part-one", "part-two"} <= one_ids and "part-three" not in one_ids
    ranks = {getattr(item, "reveals", 0) for section in one for item in section.items}
    assert ranks == {0, 1}


def test_print_document_is_one_html_with_metadata(validated: Validated) -> None:
    html = print_document(render(validated, Edition(), "print", {}))
    assert html.count('<section id="about"') == 1
    assert '<html lang="en-GB">' in html
    assert '<meta name="author" content="Hailsham Reading Circle" />' in html
    assert "<title>Never Let Me Go: A Reader’s Companion</title>" in html


def test_every_epub_document_is_well_formed_xhtml(epub_bytes: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(epub_bytes)) as archive:
        assert archive.namelist()[0] == "mimetype"
        assert archive.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
        for name in archive.namelist():
            if name.endswith((".xhtml", ".opf", ".ncx")):
                root = etree.fromstring(archive.read(name))
                if name.endswith(".xhtml") and "/fonts/" not in name:  # the fonts' licence is English
                    assert root.get("lang") == "en-GB", name


@pytest.mark.parametrize(
    "name",
    [
        "EPUB/content.opf",
        "EPUB/toc.ncx",
        "EPUB/nav.xhtml",
        "EPUB/characters.xhtml",
        "EPUB/how-to-use.xhtml",
        "EPUB/titlepage.xhtml",
    ],
)
def test_golden(epub_bytes: bytes, name: str, update_golden: bool) -> None:
    with zipfile.ZipFile(io.BytesIO(epub_bytes)) as archive:
        text = archive.read(name).decode("utf-8")
    golden = GOLDEN / name.replace("/", "__")
    if update_golden or not golden.exists():
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{name} changed; review and run pytest --update-golden"
    )


def test_the_glossary_is_in_alphabetical_order_whatever_the_source_order() -> None:
    from companion.render.render import glossary_key

    rendered = render(validate(load(ROOT / "source")), Edition(), "epub", {"@cover": "c.jpg"})
    page = next(d.html for d in rendered.documents if d.section.id == "glossary")
    terms = [re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<dfn[^>]*>(.*?)</dfn>", page)]
    assert len(terms) > 10
    assert terms == sorted(terms, key=glossary_key)
    assert terms != [t.term for t in load(ROOT / "source").companion.glossary]  # the source is not in order
    assert [glossary_key(t)[0] for t in ("the Gallery", "Exchanges", "an apple")] == [
        "gallery",
        "exchanges",
        "apple",
    ]


def test_a_large_title_keeps_its_short_words_with_their_neighbours() -> None:
    from companion.render.render import _keep_short_words

    assert (
        _keep_short_words("Never Let Me Go") == "Never Let\u00a0Me\u00a0Go"
    )  # breaks only as Never / Let Me Go
    assert _keep_short_words("A Reader’s Companion") == "A\u00a0Reader’s Companion"
    assert _keep_short_words("<em>The Remains</em> of the Day") == "<em>The Remains</em> of\u00a0the Day"


def test_the_back_cover_line_counts_what_each_edition_holds() -> None:
    from companion.render.render import inside

    companion = load(ROOT / "source").companion
    full, free = inside(companion, Edition()), inside(companion, Edition(through="start"))
    assert full == (
        f"Inside: {len(companion.questions)} discussion questions, {len(companion.characters)} character "
        f"profiles, {len(companion.themes)} themes, {len(companion.glossary)} glossary terms, "
        f"{len(companion.timeline)} timeline events and reading notes on each part of the novel."
    )
    kept = sum(1 for q in companion.questions if not q.spoilers)
    assert free.startswith(f"Inside: {kept} discussion questions,") and kept < len(companion.questions)
