"""Make WeasyPrint 70's PDF/X-1a and X-3 files valid for their variant (interior and cover).

WeasyPrint writes PDF 1.4 for both, with three things that version and the PDF/X rules forbid:

* font programs as FontFile3 /OpenType (a PDF 1.6 feature): the bare CFF table is embedded
  instead, made CID-keyed (ROS Adobe-Identity-0, CIDs = glyph ids, one FDArray entry) as a
  CIDFontType0 needs, with fontTools;
* transparency groups around centred SVG text (PDF/X-1a and X-3 allow no transparency): dropped;
  they hold opaque paint only, so the page looks the same;
* ICCBased and Lab colour spaces in the resources (X-1a allows device CMYK and gray only): the
  content paints in /DeviceCMYK directly, so entries no content stream names are dropped.

Annotations inside the BleedBox (links) are not allowed either; finish.py drops them from the
interior, and the cover has none. PDF/X-4 allows all of these and is left alone.

What every variant of the cover, and the merged interior (merge.py), get here besides: the fonts'
names without Pango's trailing comma (`tidy_font_names`), a tagged PDF/X's PDF/UA-1 identification
(`declare_ua`), the cover's empty Span elements dropped (`drop_empty_spans`), and a PDF/X-4's random
xmpMM:DocumentID replaced by one hashed from the file (`blank_document_id`, `set_document_id`).
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf import Dictionary, Name, Object

STRICT = ("pdf/x-1a", "pdf/x-3")
_DID = re.compile(rb"xmp\.did:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_BLANK_DID = b"xmp.did:00000000-0000-0000-0000-000000000000"


def finish(data: bytes, variant: str) -> bytes:
    """The PDF bytes made valid for `variant` (fonts, groups and colour spaces changed only for
    PDF/X-1a and X-3), the fonts' names tidied (`tidy_font_names`), and a PDF/X-4's random document
    id replaced by one hashed from the file, so that the same input gives the same bytes."""
    pdf = pikepdf.open(io.BytesIO(data))
    tidy_font_names(pdf)
    drop_empty_spans(pdf)
    conform(pdf, variant)
    declare_ua(pdf, variant)
    if blank_document_id(pdf):  # a PDF/X-4: WeasyPrint's xmpMM:DocumentID is a uuid4
        set_document_id(pdf, hashlib.sha256(save(pdf, variant)).digest())
    return save(pdf, variant)


def blank_document_id(pdf: pikepdf.Pdf) -> bool:
    """Zero the xmpMM:DocumentID WeasyPrint 70 writes into a PDF/X-4 (a uuid4), and drop the file
    /ID made from it (qpdf keeps an existing /ID's first half even with deterministic_id); False if
    there is none."""
    metadata = pdf.Root.get("/Metadata")
    if not isinstance(metadata, pikepdf.Stream) or not _DID.search(data := metadata.read_bytes()):
        return False
    metadata.write(_DID.sub(_BLANK_DID, data))
    if "/ID" in pdf.trailer:
        del pdf.trailer["/ID"]
    return True


def set_document_id(pdf: pikepdf.Pdf, digest: bytes) -> None:
    """The zeroed DocumentID becomes a uuid made from `digest` (of the file saved with it zeroed)."""
    document_id = f"xmp.did:{uuid.UUID(bytes=digest[:16], version=4)}".encode()
    pdf.Root.Metadata.write(pdf.Root.Metadata.read_bytes().replace(_BLANK_DID, document_id))


def save(pdf: pikepdf.Pdf, variant: str | None) -> bytes:
    """The file's bytes, reproducible; PDF 1.4 without object streams for PDF/X-1a and X-3."""
    out = io.BytesIO()
    if variant in STRICT:
        pdf.save(out, deterministic_id=True, force_version="1.4")
    else:
        pdf.save(out, deterministic_id=True, object_stream_mode=pikepdf.ObjectStreamMode.generate)
    return out.getvalue()


UA_NS = "http://www.aiim.org/pdfua/ns/id/"


def declare_ua(pdf: pikepdf.Pdf, variant: str | None) -> None:
    """A tagged PDF/X (interior or cover) says it is PDF/UA-1 too, as the pdf/ua-1 interior does:
    WeasyPrint writes the same tags, language and title for every variant, and only its pdf/ua-1
    variant puts `pdfuaid:part` in the XMP (outloud's DOC-012 without it)."""
    if not (variant or "").startswith("pdf/x"):
        return
    marked = pdf.Root.get("/MarkInfo", Dictionary()).get("/Marked", False)
    if "/StructTreeRoot" not in pdf.Root or "/Lang" not in pdf.Root or not marked:
        return
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as metadata:
        metadata.register_xml_namespace(UA_NS, "pdfuaid")
        metadata[f"{{{UA_NS}}}part"] = "1"


def drop_empty_spans(pdf: pikepdf.Pdf) -> None:
    """Structure elements WeasyPrint writes for empty inline boxes (the cover's ornament rules are
    borders of empty spans) hold no content: a Span with no kids, /Alt or /ActualText goes."""
    tree = pdf.Root.get("/StructTreeRoot")
    stack = [tree] if isinstance(tree, Dictionary) else []
    while stack:
        element = stack.pop()
        kids = element.get("/K")
        if not isinstance(kids, pikepdf.Array):
            if isinstance(kids, Dictionary):
                stack.append(kids)
            continue
        kept = [kid for kid in kids if not _empty_span(kid)]
        if len(kept) != len(kids):
            element.K = pikepdf.Array(kept)
        stack.extend(kid for kid in kept if isinstance(kid, Dictionary) and "/S" in kid)


def _empty_span(element: Object) -> bool:
    if not isinstance(element, Dictionary) or element.get("/S") != Name.Span:
        return False
    kids = element.get("/K")
    empty = kids is None or (isinstance(kids, pikepdf.Array) and not len(kids))
    return empty and "/Alt" not in element and "/ActualText" not in element


def tidy_font_name(name: str) -> str:
    """A font's PDF name (`/ABCDEF+EB-Garamond-12,`) without the comma Pango leaves after a family
    whose last word is a number: WeasyPrint names a font by Pango's font description, and Pango
    writes "EB Garamond 12," so that the "12" is not read back as a size. The subset tag stays."""
    return name.rstrip(",")


def tidy_font_names(pdf: pikepdf.Pdf) -> None:
    """`tidy_font_name` on every font's /BaseFont and descriptor's /FontName, together, so that a
    descriptor's /FontName stays equal to its font's /BaseFont as ISO 32000-1 (9.8.1) requires."""
    for obj in pdf.objects:
        if isinstance(obj, Dictionary) and obj.get("/Type") in (Name.Font, Name.FontDescriptor):
            for key in ("/BaseFont", "/FontName"):
                if isinstance(name := obj.get(key), Name) and str(name) != tidy_font_name(str(name)):
                    obj[key] = Name(tidy_font_name(str(name)))


def output_intent(
    profile: str, styles: Path, fetcher: Any, profiles: dict[str, object], fonts: Any
) -> list[Any]:
    """The style sheet that declares `profile` (under styles/) as the CMYK output profile: without it,
    WeasyPrint writes no OutputIntent. `profiles` must be the dict later passed to
    `render(color_profiles=...)`."""
    from weasyprint import CSS

    rule = f"@color-profile device-cmyk {{ src: url({profile}); components: c, m, y, k; }}"
    return [
        CSS(
            string=rule,
            base_url=str(styles) + "/",
            url_fetcher=fetcher,
            color_profiles=profiles,
            font_config=fonts,
        )
    ]


def conform(pdf: pikepdf.Pdf, variant: str | None) -> None:
    """Fonts, transparency groups and colour spaces as `variant` allows (see the module's doc)."""
    if variant not in STRICT:
        return
    seen: set[tuple[int, int]] = set()
    for page in pdf.pages:
        _resources(page.obj, variant, seen)
    for obj in pdf.objects:
        if isinstance(obj, Dictionary) and obj.get("/Type") == Name.FontDescriptor:
            program = obj.get("/FontFile3")
            if program is not None and program.get("/Subtype") == Name.OpenType:
                program.write(cid_cff(program.read_bytes()))
                program.Subtype = Name.CIDFontType0C


def _resources(owner: Object, variant: str, seen: set[tuple[int, int]]) -> None:
    resources = owner.get("/Resources")
    if not isinstance(resources, Dictionary):
        return
    spaces = resources.get("/ColorSpace")
    if variant == "pdf/x-1a" and isinstance(spaces, Dictionary):
        content = _content(owner)
        for name in list(spaces.keys()):
            if name.encode() + b" " not in content and name.encode() + b"\n" not in content:
                del spaces[name]
        if not len(spaces.keys()):
            del resources["/ColorSpace"]
    for xobject in resources.get("/XObject", Dictionary()).values():
        if xobject.objgen in seen or xobject.get("/Subtype") != Name.Form:
            continue
        seen.add(xobject.objgen)
        group = xobject.get("/Group")
        if isinstance(group, Dictionary) and group.get("/S") == Name.Transparency:
            del xobject["/Group"]
        _resources(xobject, variant, seen)


def _content(owner: Object) -> bytes:
    if isinstance(owner, pikepdf.Stream):
        return owner.read_bytes()
    contents = owner.get("/Contents")
    if contents is None:
        return b""
    streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
    return b"\n".join(s.read_bytes() for s in streams)


def cid_cff(otf: bytes) -> bytes:
    """The CFF table of an OpenType (CFF) font program, CID-keyed."""
    from fontTools.cffLib import FDArrayIndex, FDSelect, FontDict
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(otf))
    cff = font["CFF "].cff
    top = cff.topDictIndex[0]
    if not hasattr(top, "ROS"):
        charstrings = top.CharStrings
        order = list(top.charset)
        private = top.Private
        fd = FontDict()
        fd.setCFF2(False)
        fd.Private = private
        fd.rawDict["FontName"] = fd.FontName = cff.fontNames[0]
        fdarray = FDArrayIndex()
        fdarray.append(fd)
        fdselect = FDSelect()
        fdselect.gidArray = [0] * len(order)
        names = {name: f"cid{n:05d}" if n else ".notdef" for n, name in enumerate(order)}
        charstrings.charStrings = {names[name]: gid for name, gid in charstrings.charStrings.items()}
        charstrings.fdArray, charstrings.fdSelect = fdarray, fdselect
        top.charset = [names[name] for name in order]
        top.FDArray, top.FDSelect = fdarray, fdselect
        top.ROS = ("Adobe", "Identity", 0)
        top.CIDCount = len(order)
        for key in ("Private", "Encoding"):
            top.rawDict.pop(key, None)
            if hasattr(top, key):
                delattr(top, key)
    out = io.BytesIO()
    cff.compile(out, font)
    return out.getvalue()
