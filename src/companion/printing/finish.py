"""What WeasyPrint 70 leaves undone in a print interior, put right with pikepdf as the parts merge.

* Running heads and folios: WeasyPrint tags them as content (issue #1836), as a NonStruct element
  whose /P is the Document element without being one of its kids. `artifacts` turns their marked
  content into `/Artifact <</Type /Pagination>>` sequences and drops them from the parent tree, so
  a screen reader skips them and PDF/UA checkers see pagination artifacts.
* Page labels (`labels`): roman folios for the front matter, arabic from the page the body opens
  on, as printed, so that a viewer's "page 45" is the folio 45.
* Bleed (`bleed_boxes`): with bleed, the page is the trim plus the bleed on the top, bottom and
  outside edges; each page's TrimBox leaves out the bleed on its own outside edge (left on a
  left-hand page, right on a right-hand one).
* Links print (/F 4) as PDF/UA asks; a PDF/X-1a or X-3 loses its annotations (not allowed inside
  the BleedBox) and the transparency groups WeasyPrint wraps around centred SVG text (PDF/X-1a and
  X-3 allow no transparency; the groups hold opaque paint only, so the page looks the same).

Each step costs one pass over the pages' dictionaries; only pages with a head or folio have their
content stream rewritten (a regular-expression substitution on the decoded bytes).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

import pikepdf
from pikepdf import Array, Dictionary, Name, Object

from companion.printing import pdfx

PT_PER_IN = 72.0
PRINT_FLAG = 4
_BDC = re.compile(rb"/[A-Za-z0-9_.]+\s*<<\s*/MCID\s+(\d+)\s*>>\s*BDC")


def orphans(holder: Object, kids: Iterable[Object]) -> list[Object]:
    """Of the elements whose /P is `holder`, those that are not among its kids: heads and folios."""
    listed = {kid.objgen for kid in holder.get("/K", ()) if isinstance(kid, Dictionary)}
    return [kid for kid in kids if kid.objgen not in listed]


def _marked(element: Object) -> Iterable[tuple[tuple[int, int], int]]:
    """(page objgen, MCID) of every marked-content sequence under `element`."""
    stack: list[tuple[Object, Object | None]] = [(element, None)]
    while stack:
        node, page = stack.pop()
        if isinstance(node, int):
            if page is not None:
                yield page.objgen, node
            continue
        if isinstance(node, Array):
            stack.extend((child, page) for child in node)
        elif isinstance(node, Dictionary):
            page = node.get("/Pg", page)
            if "/MCID" in node and not isinstance(node.get("/K"), (Array, Dictionary)):
                if page is not None:
                    yield page.objgen, int(node.MCID)
            elif "/K" in node:
                stack.append((node.K, page))


def artifacts(pdf: pikepdf.Pdf, elements: Iterable[Object], parent_tree: dict[int, Object]) -> None:
    """Make the marked content of `elements` pagination artifacts; `parent_tree` (number tree key ->
    array of elements by MCID) loses them."""
    wanted: dict[tuple[int, int], set[int]] = defaultdict(set)
    for element in elements:
        for where, mcid in _marked(element):
            wanted[where].add(mcid)
    if not wanted:
        return
    for page in pdf.pages:
        mcids = wanted.get(page.obj.objgen)
        if not mcids:
            continue
        contents = page.obj.Contents
        streams = list(contents) if isinstance(contents, Array) else [contents]
        for stream in streams:
            data = stream.read_bytes()

            def swap(match: re.Match[bytes], mcids: set[int] = mcids) -> bytes:
                if int(match[1]) in mcids:
                    return b"/Artifact <</Type /Pagination>> BDC"
                return match[0]

            new = _BDC.sub(swap, data)
            if new != data:
                stream.write(new)
        key = page.obj.get("/StructParents")
        entry = parent_tree.get(int(key)) if key is not None else None
        if isinstance(entry, Array):
            for mcid in mcids:
                if mcid < len(entry):
                    entry[mcid] = None


def link_parents(pdf: pikepdf.Pdf, parent_tree: dict[int, Object]) -> None:
    """A link broken over two lines gets an annotation for each piece; WeasyPrint 70 hangs the
    second one's object reference on a Span inside the Link. PDF/UA wants every link annotation in
    a Link element: the reference moves up to the Link, and the parent tree says so."""
    for page in pdf.pages:
        for annot in page.obj.get("/Annots", ()):
            key = annot.get("/StructParent")
            element = parent_tree.get(int(key)) if key is not None else None
            if not isinstance(element, Dictionary):
                continue
            if element.get("/S") == Name.Link:
                _fold_empty_link(element, parent_tree)
                continue
            link = element.get("/P")
            while isinstance(link, Dictionary) and link.get("/S") not in (Name.Link, None):
                link = link.get("/P")
            if not isinstance(link, Dictionary) or link.get("/S") != Name.Link:
                continue
            kids = element.get("/K")
            if isinstance(kids, Array):
                kept = [k for k in kids if not (isinstance(k, Dictionary) and k.get("/Obj") == annot)]
                element.K = Array(kept)
            reference = Dictionary(Type=Name.OBJR, Obj=annot, Pg=page.obj)
            if not isinstance(link.get("/K"), Array):
                link.K = Array([] if link.get("/K") is None else [link.K])
            link.K.append(reference)
            parent_tree[int(annot.StructParent)] = link


def _has_content(element: Object) -> bool:
    """Does the element hold marked content (an MCID) anywhere below it?"""
    stack = [element.get("/K")]
    while stack:
        node = stack.pop()
        if isinstance(node, int):
            return True
        if isinstance(node, Array):
            stack.extend(node)
        elif isinstance(node, Dictionary) and node.get("/Type") != Name.OBJR:
            if "/MCID" in node:
                return True
            stack.append(node.get("/K"))
    return False


def _fold_empty_link(link: Object, parent_tree: dict[int, Object]) -> None:
    """A Link with no text inside another Link (the piece of a broken link that starts a line):
    its annotations join the outer Link, and it goes."""
    outer = link.get("/P")
    if not isinstance(outer, Dictionary) or outer.get("/S") != Name.Link or _has_content(link):
        return
    kids = link.get("/K")
    references = [k for k in (kids if isinstance(kids, Array) else [kids]) if isinstance(k, Dictionary)]
    if not isinstance(outer.get("/K"), Array):
        outer.K = Array([] if outer.get("/K") is None else [outer.K])
    siblings = [k for k in outer.K if not (isinstance(k, Dictionary) and k.objgen == link.objgen)]
    outer.K = Array(siblings + references)
    for reference in references:
        key = reference.get("/Obj", Dictionary()).get("/StructParent")
        if key is not None:
            parent_tree[int(key)] = outer


def labels(pdf: pikepdf.Pdf, opening: int | None) -> None:
    """/PageLabels: lower-roman from 1, and arabic from 1 on page `opening` (1-based)."""
    nums: list[object] = [0, Dictionary(S=Name.r)]
    if opening is not None and opening > 1:
        nums += [opening - 1, Dictionary(S=Name.D)]
    elif opening == 1:
        nums = [0, Dictionary(S=Name.D)]
    pdf.Root.PageLabels = Dictionary(Nums=Array(nums))


def bleed_boxes(pdf: pikepdf.Pdf, bleed_in: float) -> None:
    """TrimBox inside the bleed on the top, bottom and outside edge; BleedBox = MediaBox."""
    if not bleed_in:
        return
    bleed = bleed_in * PT_PER_IN
    for number, page in enumerate(pdf.pages, start=1):
        x0, y0, x1, y1 = (float(v) for v in page.obj.MediaBox)
        right_hand = number % 2 == 1
        trim = (
            [x0, y0 + bleed, x1 - bleed, y1 - bleed]
            if right_hand
            else [x0 + bleed, y0 + bleed, x1, y1 - bleed]
        )
        page.obj.TrimBox = Array(trim)
        page.obj.BleedBox = Array([x0, y0, x1, y1])


def finish_annotations_and_groups(pdf: pikepdf.Pdf, variant: str | None) -> None:
    """Links print (PDF/UA); a PDF/X-1a or X-3 loses its annotations, and is made valid for its
    variant (pdfx.conform: fonts, transparency groups, colour spaces); a PDF/X says it is PDF/UA-1
    too (pdfx.declare_ua)."""
    strict = variant in pdfx.STRICT
    for page in pdf.pages:
        annots = page.obj.get("/Annots")
        if annots is None:
            continue
        if strict:
            del page.obj["/Annots"]
        else:
            for annot in annots:
                annot.F = int(annot.get("/F", 0)) | PRINT_FLAG
    if strict:
        _drop_link_objrs(pdf)
        pdfx.conform(pdf, variant)
    pdfx.declare_ua(pdf, variant)


def _drop_link_objrs(pdf: pikepdf.Pdf) -> None:
    """Without annotations, the structure's object references to them go too."""
    tree = pdf.Root.get("/StructTreeRoot")
    if tree is None:
        return
    stack: list[Object] = [tree]
    seen: set[tuple[int, int]] = set()
    while stack:
        node = stack.pop()
        if isinstance(node, Dictionary):
            if node.is_indirect:
                if node.objgen in seen:
                    continue
                seen.add(node.objgen)
            kids = node.get("/K")
            if isinstance(kids, Array):
                keep = [k for k in kids if not (isinstance(k, Dictionary) and k.get("/Type") == Name.OBJR)]
                if len(keep) != len(kids):
                    node.K = Array(keep)
                stack.extend(keep)
            elif isinstance(kids, Dictionary):
                if kids.get("/Type") == Name.OBJR:
                    node.K = Array()
                else:
                    stack.append(kids)
