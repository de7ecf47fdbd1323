"""Make WeasyPrint 70's PDF/X-1a and X-3 files valid for their variant (interior and cover).

WeasyPrint writes PDF 1.4 for both, with three things that version and the PDF/X rules forbid:

* font programs as FontFile3 /OpenType (a PDF 1.6 feature): the bare CFF table is embedded
  instead, made CID-keyed (ROS Adobe-Identity-0, CIDs = glyph ids, one FDArray entry) as a
  CIDFontType0 needs, with fontTools;
* transparency groups around centred SVG text (PDF/X-1a and X-3 allow no transparency): dropped;
  they hold opaque paint only, so the page looks the same;
* ICCBased and Lab colour spaces in the resources (X-1a allows device CMYK and gray only): the
  content paints in /DeviceCMYK directly, so entries no content stream names are dropped.

Annotations inside the BleedBox (links) are not allowed either; pdfprint.py drops them from the
interior, and the cover has none. PDF/X-4 allows all of these and is left alone.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid

import pikepdf
from pikepdf import Dictionary, Name, Object

STRICT = ("pdf/x-1a", "pdf/x-3")


def finish(data: bytes, variant: str) -> bytes:
    """The PDF bytes made valid for `variant` (unchanged for any but PDF/X-1a and X-3; a PDF/X-4
    gets a reproducible document id)."""
    if variant in ("pdf/x-4", "pdf/x-5g"):
        return fixed_document_id(data)
    if variant not in STRICT:
        return data
    pdf = pikepdf.open(io.BytesIO(data))
    conform(pdf, variant)
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True, force_version="1.4")
    return out.getvalue()


_DOCUMENT_ID = re.compile(rb"xmp\.did:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_FILE_ID = re.compile(rb"/ID \[\(([0-9a-f]{32})\) \(([0-9a-f]{32})\)\]")


def fixed_document_id(data: bytes) -> bytes:
    """Make a PDF/X-4 reproducible: WeasyPrint 70.0 writes a random xmpMM:DocumentID (uuid4).

    Replace it, and the /ID derived from it, with values hashed from the rest of the file. The
    replacements have the same length, so every byte offset (and the xref table) stays valid.
    """
    did, fid = _DOCUMENT_ID.search(data), _FILE_ID.search(data)
    if did is None or fid is None:
        return data
    blank = _DOCUMENT_ID.sub(
        b"xmp.did:" + b"0" * 36, _FILE_ID.sub(b"/ID [(" + b"0" * 32 + b") (" + b"0" * 32 + b")]", data)
    )
    digest = hashlib.sha256(blank).digest()
    document_id = b"xmp.did:" + str(uuid.UUID(bytes=digest[:16], version=4)).encode()
    file_id = hashlib.md5(blank, usedforsecurity=False).hexdigest().encode()
    data = data[: did.start()] + document_id + data[did.end() :]
    return data[: fid.start()] + b"/ID [(" + file_id + b") (" + file_id + b")]" + data[fid.end() :]


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
