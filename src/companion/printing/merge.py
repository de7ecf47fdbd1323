"""Join the print PDF's parts, laid out separately, into one tagged PDF/UA-1 file.

A long book is laid out by WeasyPrint in parts, in parallel processes, each from a fresh page;
part 0 is the front matter. `merge` appends the later parts' pages to part 0 and rebuilds at the
document level what a whole-book `write_pdf` would have written once:

* one structure tree: the later parts' top-level elements join part 0's Document element, and
  the parent tree is renumbered (pages' /StructParents, annotations' /StructParent) so that keys
  never collide. Elements whose /P is a part's Document without being one of its kids (WeasyPrint
  tags running heads that way) are re-pointed too, so no second Document or tree root survives;
* one name tree per /Names entry (named destinations above all), keys in byte order as the spec
  requires. A name defined in two parts keeps its first definition; the later part's own links to
  it get an explicit destination on their own part's page;
* one outline: each part's top-level bookmarks appended in order;
* font names: the comma Pango leaves after "EB-Garamond-12," is dropped (pdfx.tidy_font_name);
* font subset tags: WeasyPrint derives the `ABCDEF+` tag from the font description alone, so
  every part names a *different* glyph subset with the *same* tag; later parts get new tags;
* structure element IDs: WeasyPrint builds table header IDs from object numbers, which repeat
  across parts, so later parts' /ID, /Headers and /IDTree keys get a `p<n>-` prefix;
* cross-part links: a process cannot resolve `href="#id"` to an element another one lays out, so
  the HTML says `href="companion-part:id"`, a URI link to WeasyPrint, which becomes a link to the
  named destination `id` here, like a same-part link.

The catalog (/Lang, /MarkInfo, /ViewerPreferences, XMP /Metadata, /OutputIntents) and /Info are
part 0's. qpdf copies the objects, streams still compressed (qpdf writes only the XMP packet
uncompressed), and the /ID derives from the content: the same parts give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

import pikepdf
from pikepdf import Array, Dictionary, Name, Object, String

from companion.printing import finish as pdfprint

PART_LINK_SCHEME = "companion-part:"
"""A link to an element in another part is written as href="companion-part:<id>"; merge() turns it into an internal link."""  # noqa: E501


def merge(parts: Sequence[bytes]) -> bytes:
    """One PDF from the part PDFs, in order. parts[0] gives the document-level metadata."""
    if not parts:
        raise ValueError("no parts to merge")
    merger = Merger(parts[0])
    for data in parts[1:]:
        merger.add(data)
    return merger.finish()


class Merger:
    """`merge`, one part at a time: so that parts can be joined as they are written."""

    def __init__(self, first: bytes) -> None:
        self._merger = _Merger(pikepdf.open(io.BytesIO(first)))
        self._count = 1

    def add(self, data: bytes) -> None:
        self._merger.append(self._count, pikepdf.open(io.BytesIO(data)))
        self._count += 1

    def finish(self, finishing: Finishing | None = None) -> bytes:
        return self._merger.finish(finishing or Finishing())


@dataclass(frozen=True)
class Finishing:
    """What pdfprint.py does to the merged interior: page labels from the page the body opens on
    (None: no labels), bleed on the outer edges (inches), the PDF variant's rules."""

    opening: int | None = None
    labels: bool = False
    bleed_in: float = 0.0
    variant: str | None = None


def _items(node: Object, leaf: str) -> Iterator[tuple[Object, Object]]:
    """(key, value) pairs of a name tree (leaf "/Names") or number tree (leaf "/Nums"), in order."""
    flat = list(node.get(leaf, ()))
    yield from zip(flat[::2], flat[1::2], strict=True)
    for kid in node.get("/Kids", ()):
        yield from _items(kid, leaf)


def _structure(pdf: pikepdf.Pdf) -> tuple[Object, Object]:
    """The structure tree root and the element that holds the top-level elements: the single
    Document element if there is one (WeasyPrint always writes one), else the root itself."""
    tree = pdf.Root.get("/StructTreeRoot")
    if not isinstance(tree, Dictionary):
        raise ValueError("part is not a tagged PDF (no /StructTreeRoot)")
    if not isinstance(tree.get("/K"), Array):
        tree.K = Array([] if tree.get("/K") is None else [tree.K])
    holder = tree.K[0] if len(tree.K) == 1 and tree.K[0].get("/S") == Name.Document else tree
    if not isinstance(holder.get("/K"), Array):
        holder.K = Array([] if holder.get("/K") is None else [holder.K])
    return tree, holder


def _scan(pdf: pikepdf.Pdf, holder: Object, prefix: bytes) -> tuple[list[Object], list[Object]]:
    """One pass over the part's objects: the elements whose /P is `holder`, and the font
    dictionaries. Structure element IDs, and the /Headers naming them, get `prefix`."""
    kids: list[Object] = []
    fonts: list[Object] = []
    holder_id = holder.objgen
    for obj in pdf.objects:
        if not isinstance(obj, Dictionary):
            continue
        keys = obj.keys()  # one call: get() of a missing key is several times slower
        if "/P" not in keys:
            if "/Type" in keys and obj.Type in (Name.Font, Name.FontDescriptor):
                fonts.append(obj)
            continue
        if getattr(obj.P, "objgen", None) == holder_id:
            kids.append(obj)
        if prefix and "/S" in keys:
            if "/ID" in keys and isinstance(obj.ID, String):
                obj.ID = String(prefix + bytes(obj.ID))
            attributes = obj.A if "/A" in keys else Array()
            for attribute in attributes if isinstance(attributes, Array) else [attributes]:
                heads = attribute.get("/Headers") if isinstance(attribute, Dictionary) else None
                if isinstance(heads, Array):
                    attribute.Headers = Array([String(prefix + bytes(head)) for head in heads])
    return kids, fonts


def _tag(seed: str) -> str:
    """Six capital letters, as a subset tag, derived from the seed."""
    return "".join(chr(65 + byte % 26) for byte in hashlib.sha256(seed.encode()).digest()[:6])


class _Merger:
    """Part 0, open for writing, and the document-level trees gathered for it."""

    def __init__(self, pdf: pikepdf.Pdf) -> None:
        self.pdf = pdf
        self.tree, self.holder = _structure(pdf)
        self.nums = [
            (int(key), value) for key, value in _items(self.tree.get("/ParentTree", Dictionary()), "/Nums")
        ]
        self.next_key = max([key + 1 for key, _ in self.nums] + [int(self.tree.get("/ParentTreeNextKey", 0))])
        self.names: dict[str, dict[bytes, Object]] = {}
        pdf.Root.Names = pdf.Root.get("/Names", Dictionary())
        for tree, node in pdf.Root.Names.items():
            self._add_names(tree, _items(node, "/Names"))
        self._add_names("/IDTree", _items(self.tree.get("/IDTree", Dictionary()), "/Names"))
        self.tags: set[str] = set()
        kids, fonts = _scan(pdf, self.holder, b"")
        self._retag(0, fonts)
        self.pagination = pdfprint.orphans(self.holder, kids)
        """Running heads and folios (pdfprint.artifacts)."""

    def _add_names(self, tree: str, items: Iterable[tuple[Object, Object]]) -> dict[bytes, Object]:
        """Adds the (name, value) pairs to the tree, first come first kept; returns the others."""
        known, clashes = self.names.setdefault(tree, {}), dict[bytes, Object]()
        for key, value in items:
            (clashes if bytes(key) in known else known)[bytes(key)] = value
        return clashes

    def _retag(self, index: int, fonts: list[Object]) -> None:
        """Records part 0's subset tags; gives a later part's fonts new tags, unique in the file."""
        renamed: dict[str, str] = {}
        for font, key in ((font, key) for font in fonts for key in ("/BaseFont", "/FontName")):
            tag, plus, rest = str(font.get(key, ""))[1:].partition("+")
            if plus and len(tag) == 6 and tag.isalpha() and tag.isupper():
                if index and tag not in renamed:
                    tags = (_tag(f"{index}:{tag}:{n}") for n in itertools.count())
                    renamed[tag] = next(new for new in tags if new not in self.tags)
                self.tags.add(renamed.get(tag, tag))
                font[key] = Name(pdfprint.pdfx.tidy_font_name(f"/{renamed.get(tag, tag)}+{rest}"))

    def append(self, index: int, src: pikepdf.Pdf) -> None:
        """Appends the part's pages, structure, names and outline."""
        tree, holder = _structure(src)
        prefix = f"p{index}-".encode()
        kids, fonts = _scan(src, holder, prefix)
        self._retag(index, fonts)
        heads = {kid.objgen for kid in pdfprint.orphans(holder, kids)}
        head_positions = [n for n, kid in enumerate(kids) if kid.objgen in heads]
        for kid in kids:
            del kid["/P"]  # so that the part's own Document and tree root are not copied
        nums = list(_items(tree.get("/ParentTree", Dictionary()), "/Nums"))
        names = {
            key: list(_items(node, "/Names")) for key, node in src.Root.get("/Names", Dictionary()).items()
        }
        ids = list(_items(tree.get("/IDTree", Dictionary()), "/Names"))
        first_page = len(self.pdf.pages)
        with warnings.catch_warnings():  # that names and outlines are left behind: merged below
            warnings.simplefilter("ignore", pikepdf.PageCopyWarning)
            self.pdf.pages.extend(src.pages)
        bundle = Dictionary(
            Tops=holder.K,
            Kids=Array(kids),
            Nums=Array([value for _, value in nums]),
            Names=Dictionary({key: Array([value for _, value in items]) for key, items in names.items()}),
            IDs=Array([value for _, value in ids]),
            Outlines=src.Root.get("/Outlines", Dictionary()),
            RoleMap=tree.get("/RoleMap", Dictionary()),
            ClassMap=tree.get("/ClassMap", Dictionary()),
            Namespaces=tree.get("/Namespaces", Array()),
        )
        copied = self.pdf.copy_foreign(src.make_indirect(bundle))  # /Pg and page refs lead to the copies
        for kid in copied.Kids:
            kid.P = self.holder
        self.pagination += [copied.Kids[n] for n in head_positions]
        self.holder.K.extend(copied.Tops)
        offset = self.next_key
        self.nums += [(int(key) + offset, value) for (key, _), value in zip(nums, copied.Nums, strict=True)]
        ends = [int(key) + 1 for key, _ in nums] + [int(tree.get("/ParentTreeNextKey", 0))]
        self.next_key = offset + max(ends)
        shadowed: dict[bytes, Object] = {}
        for key, items in names.items():
            clashes = self._add_names(key, zip([name for name, _ in items], copied.Names[key], strict=True))
            shadowed.update(clashes if key == "/Dests" else {})
        self._add_names(
            "/IDTree", zip([String(prefix + bytes(key)) for key, _ in ids], copied.IDs, strict=True)
        )
        for page in self.pdf.pages[first_page:]:
            if "/StructParents" in page.obj:
                page.obj.StructParents = int(page.obj.StructParents) + offset
            for annot in page.obj.get("/Annots", ()):
                if "/StructParent" in annot:
                    annot.StructParent = int(annot.StructParent) + offset
                if isinstance(dest := annot.get("/Dest"), String) and bytes(dest) in shadowed:
                    own = shadowed[bytes(dest)]  # the part's own target, not the earlier part's
                    annot.Dest = own.D if isinstance(own, Dictionary) else own
        self._append_outline(copied.Outlines)
        for key in ("/RoleMap", "/ClassMap"):
            if merged := {**dict(copied[key].items()), **dict(self.tree.get(key, {}).items())}:
                self.tree[key] = Dictionary(merged)
        namespaces = self.tree.get("/Namespaces", Array())
        known = {bytes(namespace.get("/NS", b"")) for namespace in namespaces}
        namespaces.extend(ns for ns in copied.Namespaces if bytes(ns.get("/NS", b"")) not in known)
        if len(namespaces):
            self.tree.Namespaces = namespaces

    def _append_outline(self, outline: Object) -> None:
        """Appends the top-level items of a part's outline to the document's."""
        if "/First" not in outline:
            return
        root = self.pdf.Root.get("/Outlines")
        if root is None:
            root = self.pdf.Root.Outlines = self.pdf.make_indirect(Dictionary())
        item: Object | None = outline.First
        while item is not None:
            item.Parent = root
            item = item.get("/Next")
        if "/Last" in root:
            root.Last.Next, outline.First.Prev = outline.First, root.Last
        else:
            root.First = outline.First
        root.Last = outline.Last
        if count := int(root.get("/Count", 0)) + abs(int(outline.get("/Count", 0))):
            root.Count = count  # the open items at all levels

    def _resolve_part_links(self) -> None:
        """Turns URI links into other parts into links to the named destination."""
        dests = {str(String(name)): String(name) for name in self.names.get("/Dests", {})}
        for page in self.pdf.pages:
            for annot in page.obj.get("/Annots", ()):
                action = annot.get("/A")
                if not isinstance(action, Dictionary) or action.get("/S") != Name.URI:
                    continue
                uri = str(action.get("/URI", ""))
                if not uri.startswith(PART_LINK_SCHEME):
                    continue
                name = unquote(uri[len(PART_LINK_SCHEME) :])
                if name not in dests:
                    raise ValueError(f"no destination for link to #{name}")
                del annot["/A"]
                annot.Dest = dests[name]
                annot.Contents = String(name)  # as WeasyPrint describes a same-part link

    def finish(self, finishing: Finishing) -> bytes:
        """Writes the gathered trees into part 0, finishes it for print (pdfprint.py) and saves it."""
        self._resolve_part_links()
        parents = dict(self.nums)
        pdfprint.artifacts(self.pdf, self.pagination, parents)
        pdfprint.link_parents(self.pdf, parents)
        self.nums = list(parents.items())
        if finishing.labels:
            pdfprint.labels(self.pdf, finishing.opening)
        pdfprint.bleed_boxes(self.pdf, finishing.bleed_in)
        pdfprint.finish_annotations_and_groups(self.pdf, finishing.variant)
        for tree, entries in self.names.items():
            if entries:  # flat, like WeasyPrint's: a few thousand names need no /Kids
                flat = Array([x for name in sorted(entries) for x in (String(name), entries[name])])
                (self.tree if tree == "/IDTree" else self.pdf.Root.Names)[tree] = Dictionary(Names=flat)
        self.nums.sort(key=lambda pair: pair[0])
        nums = Array([item for pair in self.nums for item in pair])
        self.tree.ParentTree = self.pdf.make_indirect(Dictionary(Nums=nums))
        if "/ParentTreeNextKey" in self.tree:
            self.tree.ParentTreeNextKey = self.next_key
        if pdfprint.pdfx.blank_document_id(self.pdf):  # a PDF/X-4: WeasyPrint's xmpMM:DocumentID is random
            pdfprint.pdfx.set_document_id(self.pdf, hashlib.sha256(self._save(finishing)).digest())
        return self._save(finishing)

    def _save(self, finishing: Finishing) -> bytes:
        return pdfprint.pdfx.save(self.pdf, finishing.variant)
