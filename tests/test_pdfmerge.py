"""companion.printing.merge: part PDFs laid out separately by WeasyPrint become one tagged PDF."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator

import pikepdf
import pytest
from pikepdf import Array, Dictionary, Name
from pypdf import PdfReader

from companion.printing.merge import PART_LINK_SCHEME, merge

PAGE_CSS = "@page { size: 300px 400px; bleed: 9px; @top-center { content: 'Running head' } }"
TABLE = "<table><tr><th>Key</th><th>Value</th></tr><tr><td>k</td><td>v</td></tr></table>"


def part(title: str, body: str) -> bytes:
    from weasyprint import CSS, HTML

    html = f'<html lang="en-GB"><head><title>{title}</title></head><body>{body}</body></html>'
    out = io.BytesIO()
    document = HTML(string=html).render(stylesheets=[CSS(string=PAGE_CSS)])
    document.write_pdf(out, pdf_tags=True, pdf_variant="pdf/ua-1")
    return out.getvalue()


FRONT = (
    '<h1 id="front">Front</h1><p>frontone: see <a href="companion-part:glossary">the glossary</a>'
    ' and <a href="#contents">the contents</a>.</p>'
    '<h2 id="contents" style="break-before: page">Contents</h2><p>fronttwo</p>'
)
ONE = (
    '<h1 id="one">Chapter One</h1><p>alphaone <a href="companion-part:front">back</a></p>'
    f'<p id="dup">first dup</p>{TABLE}<h2 id="one-a" style="break-before: page">Section</h2><p>alphatwo</p>'
)
TWO = (
    f'<h1 id="glossary">Glossary</h1><p>omegaone <a href="#dup">dup</a></p><p id="dup">second dup</p>{TABLE}'
)
MARKERS = ["frontone", "fronttwo", "alphaone", "alphatwo", "omegaone"]


@pytest.fixture(scope="module")
def parts() -> list[bytes]:
    return [part("The Book", FRONT), part("Part one", ONE), part("Part two", TWO)]


@pytest.fixture(scope="module")
def merged(parts: list[bytes]) -> bytes:
    return merge(parts)


@pytest.fixture
def pdf(merged: bytes) -> Iterator[pikepdf.Pdf]:
    with pikepdf.open(io.BytesIO(merged)) as opened:
        yield opened


def same(a: object, b: object) -> bool:
    """The same indirect object (or both absent)."""
    return getattr(a, "objgen", a) == getattr(b, "objgen", b)


def page_index(pdf: pikepdf.Pdf, dest: pikepdf.Object) -> int:
    """The page an explicit or named destination leads to."""
    if isinstance(dest, pikepdf.String):
        dest = dict(pikepdf.NameTree(pdf.Root.Names.Dests).items())[str(dest)]
    return [page.objgen for page in (p.obj for p in pdf.pages)].index(dest[0].objgen)


def test_pages_in_order_with_their_boxes(parts: list[bytes], merged: bytes) -> None:
    reader = PdfReader(io.BytesIO(merged))
    texts = [page.extract_text() for page in reader.pages]
    assert len(texts) == len(MARKERS)
    assert [next(m for m in MARKERS if m in text) for text in texts] == MARKERS
    originals = [page for data in parts for page in PdfReader(io.BytesIO(data)).pages]
    for page, original in zip(reader.pages, originals, strict=True):
        for box in ("/MediaBox", "/TrimBox", "/BleedBox", "/Tabs"):
            assert page[box] == original[box]


def test_document_metadata_from_part_zero(pdf: pikepdf.Pdf) -> None:
    assert str(pdf.docinfo["/Title"]) == "The Book"
    assert str(pdf.docinfo["/Producer"]).startswith("WeasyPrint")
    assert str(pdf.Root.Lang) == "en-GB"
    assert pdf.Root.MarkInfo.Marked is True
    assert pdf.Root.ViewerPreferences.DisplayDocTitle is True
    xmp = pdf.Root.Metadata.read_bytes()
    assert b'pdfuaid:part="1"' in xmp
    assert b"The Book" in xmp and b"Part one" not in xmp


def test_one_structure_tree_reaches_all_marked_content(pdf: pikepdf.Pdf) -> None:
    objects = [obj for obj in pdf.objects if isinstance(obj, Dictionary)]
    assert sum(obj.get("/Type") == Name.StructTreeRoot for obj in objects) == 1
    documents = [obj for obj in objects if obj.get("/S") == Name.Document]
    assert len(documents) == 1
    tree = pdf.Root.StructTreeRoot
    assert len(tree.K) == 1 and same(tree.K[0], documents[0]) and same(documents[0].P, tree)
    nums = list(tree.ParentTree.Nums)
    keys = nums[::2]
    assert keys == sorted(set(keys))
    entries = dict(zip(keys, nums[1::2], strict=True))
    page_ids = {page.obj.objgen for page in pdf.pages}
    used = []
    for page in pdf.pages:
        used.append(int(page.obj.StructParents))
        marked = entries[int(page.obj.StructParents)]
        mcids = [
            int(operands[1].MCID)
            for operands, op in pikepdf.parse_content_stream(page)
            if op == pikepdf.Operator("BDC")
            and isinstance(operands[1], Dictionary)
            and "/MCID" in operands[1]
        ]
        assert max(mcids, default=-1) < len(marked)  # blank pages have none
        for mcid in mcids:
            element = marked[mcid]
            assert mcid in [k for k in element.K if isinstance(k, int)] and same(element.Pg, page.obj)
            while element.get("/S") != Name.Document:  # every element hangs from the one Document
                element = element.P
            assert same(element, documents[0])
        for annot in page.obj.get("/Annots", ()):
            used.append(int(annot.StructParent))
            link = entries[int(annot.StructParent)]
            assert link.get("/S") == Name.Link
            assert any(isinstance(k, Dictionary) and same(k.get("/Obj"), annot) for k in link.K)
    assert sorted(used) == keys  # every key used once, by a page or an annotation
    stack = list(documents[0].K)
    while stack:  # every /Pg is a page of the merged file
        element = stack.pop()
        if isinstance(element, Dictionary):
            if "/Pg" in element:
                assert element.Pg.objgen in page_ids
            stack.extend(element.get("/K", ()) if isinstance(element.get("/K"), Array) else ())


def test_structure_ids_are_unique_and_headers_resolve() -> None:
    def cells(opened: pikepdf.Pdf) -> tuple[dict[bytes, pikepdf.Object], list[tuple[pikepdf.Object, bytes]]]:
        """Elements by /ID, and (cell, header ID) pairs."""
        ids, headers = {}, []
        for obj in opened.objects:
            if isinstance(obj, Dictionary) and "/S" in obj and "/P" in obj:
                if "/ID" in obj:
                    ids[bytes(obj.ID)] = obj
                if isinstance(obj.get("/A"), Dictionary) and "/Headers" in obj.A:
                    headers += [(obj, bytes(head)) for head in obj.A.Headers]
        return ids, headers

    def table(element: pikepdf.Object) -> tuple[int, int]:
        while element.get("/S") != Name.Table:
            element = element.P
        return element.objgen

    # Same structure, so WeasyPrint's header IDs (built from object numbers) are the same.
    one, two = part("A", f'<h1 id="a">A</h1>{TABLE}'), part("B", f'<h1 id="b">B</h1>{TABLE}')
    with pikepdf.open(io.BytesIO(one)) as first, pikepdf.open(io.BytesIO(two)) as second:
        assert cells(first)[0].keys() == cells(second)[0].keys()
    with pikepdf.open(io.BytesIO(merge([one, two]))) as opened:
        ids, headers = cells(opened)
        assert len(ids) == 4 and len(headers) == 4
        for cell, head in headers:
            assert ids[head].get("/S") == Name.TH and table(ids[head]) == table(cell)


def test_outline_in_order_and_consistent(pdf: pikepdf.Pdf) -> None:
    def check(parent: pikepdf.Object) -> tuple[list[tuple[str, int, list]], int]:
        """(title, page, children) per item, checking the links; and the count of open items."""
        items, previous, item, visible = [], None, parent.get("/First"), 0
        while item is not None:
            assert same(item.Parent, parent) and same(item.get("/Prev"), previous)
            children, below = check(item)
            assert int(item.get("/Count", 0)) == below
            items.append((str(item.Title), page_index(pdf, item.Dest), children))
            visible += 1 + below
            previous, item = item, item.get("/Next")
        assert same(parent.get("/Last"), previous)
        return items, visible

    items, visible = check(pdf.Root.Outlines)
    assert int(pdf.Root.Outlines.Count) == visible == 5
    assert items == [
        ("Front", 0, [("Contents", 1, [])]),
        ("Chapter One", 2, [("Section", 3, [])]),
        ("Glossary", 4, []),
    ]


def test_links_within_and_across_parts(pdf: pikepdf.Pdf) -> None:
    links = {}
    for number, page in enumerate(pdf.pages):
        for annot in page.obj.get("/Annots", ()):
            assert "/A" not in annot
            links[(number, str(annot.Contents))] = page_index(pdf, annot.Dest)
    assert links == {
        (0, "glossary"): 4,  # part 0 → part 2
        (0, "contents"): 1,  # within part 0
        (2, "front"): 0,  # part 1 → part 0
        (4, "dup"): 4,  # part 2's own #dup, though part 1 defined the name first
    }


def test_named_destinations_sorted_first_kept(pdf: pikepdf.Pdf) -> None:
    flat = list(pdf.Root.Names.Dests.Names)
    names = [bytes(name) for name in flat[::2]]
    assert names == sorted(names) == [b"contents", b"dup", b"front", b"glossary", b"one", b"one-a"]
    assert page_index(pdf, pikepdf.String("dup")) == 2


def test_no_part_link_scheme_left(parts: list[bytes], merged: bytes) -> None:
    def plain(data: bytes) -> bytes:
        out = io.BytesIO()
        with pikepdf.open(io.BytesIO(data)) as opened:
            opened.save(
                out,
                compress_streams=False,
                object_stream_mode=pikepdf.ObjectStreamMode.disable,
                stream_decode_level=pikepdf.StreamDecodeLevel.all,
            )
        return out.getvalue()

    assert PART_LINK_SCHEME.encode() in plain(parts[0])
    assert PART_LINK_SCHEME.encode() not in plain(merged)


def test_unknown_cross_part_target_raises(parts: list[bytes]) -> None:
    broken = part("Broken", '<p>x <a href="companion-part:nowhere">y</a></p>')
    with pytest.raises(ValueError, match="no destination for link to #nowhere"):
        merge([parts[0], broken, parts[2]])


def test_font_subset_tags_unique(parts: list[bytes], pdf: pikepdf.Pdf) -> None:
    def fonts(opened: pikepdf.Pdf) -> list[pikepdf.Object]:
        return [o for o in opened.objects if isinstance(o, Dictionary) and o.get("/Subtype") == Name.Type0]

    with pikepdf.open(io.BytesIO(parts[1])) as one, pikepdf.open(io.BytesIO(parts[2])) as two:
        shared = {str(f.BaseFont) for f in fonts(one)} & {str(f.BaseFont) for f in fonts(two)}
    assert shared  # WeasyPrint gives different subsets of a font the same tag in every part
    names = [str(font.BaseFont) for font in fonts(pdf)]
    assert len(names) == len(set(names)) >= 3 * len(shared)
    for font in fonts(pdf):
        assert re.fullmatch(r"/[A-Z]{6}\+.+", str(font.BaseFont))
        descendant = font.DescendantFonts[0]
        assert descendant.BaseFont == font.BaseFont == descendant.FontDescriptor.FontName


def test_deterministic_and_compressed(parts: list[bytes], merged: bytes, pdf: pikepdf.Pdf) -> None:
    time.sleep(1.1)  # qpdf's default /ID hashes the clock, to the second
    assert merge(list(parts)) == merged
    assert all(page.obj.Contents.get("/Filter") == Name.FlateDecode for page in pdf.pages)
    assert len(merged) < sum(len(data) for data in parts)
