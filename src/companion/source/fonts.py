"""The bundled fonts: which files the style sheets declare, whether they can be used, their subsets.

The style sheets' `@font-face` rules are the one list of fonts a companion uses, for the EPUB and
for print alike (WeasyPrint sees no other font: printfonts.py). This module reads those rules with
tinycss2 (WeasyPrint's own CSS parser) and checks each font file with fontTools before any layout:
a missing, unreadable or damaged font is a C037 error at its rule, never a silent fallback. After a
layout, `foreign_fonts` reads the PDF back and names any font that is not one of the declared
families (C038), with the text that was set in it.

For the EPUB, `subset` keeps only the glyphs the book's text needs (with their small caps, figures
and ligatures), as calibre's `ebook-polish -f` does; the OFL allows it, and the result is
byte-reproducible.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import tinycss2

from companion.core import gate
from companion.core.errors import Diagnostic, Location, diagnostic

INTERIOR_SHEETS = ("base.css", "print.css")
"""Under styles/: the print interior's style sheets, in cascade order."""
COVER_SHEETS = ("cover.css",)
FONT_TYPES = {".otf": "font/otf", ".ttf": "font/ttf", ".woff2": "font/woff2", ".woff": "font/woff"}
ALWAYS_KEPT = "".join(chr(c) for c in range(0x20, 0x7F)) + "\u00a0‘’“”–—…•·×"
"""Kept in every subset whatever the text: what a reading system may set itself (list numbers,
generated punctuation, its own labels)."""


@dataclass(frozen=True)
class FontFace:
    """One `@font-face` rule: the family it declares and the font file it loads."""

    family: str
    style: str
    file: Path
    where: Location


def shown_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _declarations(rule: tinycss2.ast.AtRule) -> dict[str, list[tinycss2.ast.Node]]:
    found: dict[str, list[tinycss2.ast.Node]] = {}
    for item in tinycss2.parse_blocks_contents(rule.content or [], skip_whitespace=True):
        if isinstance(item, tinycss2.ast.Declaration):
            found[item.lower_name] = [t for t in item.value if t.type not in ("whitespace", "comment")]
    return found


def _first_string(tokens: Sequence[tinycss2.ast.Node]) -> str:
    for token in tokens:
        if token.type in ("string", "ident"):
            return str(token.value)
    return ""


def _src_url(tokens: Sequence[tinycss2.ast.Node]) -> tinycss2.ast.Node | None:
    for token in tokens:
        if token.type == "url" or (token.type == "function" and token.lower_name == "url"):
            return token
    return None


def _url_value(token: tinycss2.ast.Node) -> str:
    if token.type == "url":
        return str(token.value)
    return next((str(t.value) for t in token.arguments if t.type == "string"), "")


def font_faces(styles: Path, sheets: Iterable[str]) -> tuple[tuple[FontFace, ...], tuple[Diagnostic, ...]]:
    """The `@font-face` rules of these style sheets (names under `styles`), and the C037 problems of
    those whose font file cannot be used."""
    faces: list[FontFace] = []
    problems: list[Diagnostic] = []
    for name in sheets:
        sheet = styles / name
        if not sheet.is_file():
            continue
        try:  # through the reading gate (stylecheck reports a refused sheet)
            text = gate.read(sheet, styles, gate.FONT_LIMIT).decode("utf-8", errors="replace")
        except gate.Refused:
            continue
        for rule in tinycss2.parse_stylesheet(text, skip_whitespace=True, skip_comments=True):
            if not (isinstance(rule, tinycss2.ast.AtRule) and rule.lower_at_keyword == "font-face"):
                continue
            declared = _declarations(rule)
            where = Location(shown_path(sheet), rule.source_line, rule.source_column)
            family = _first_string(declared.get("font-family", []))
            token = _src_url(declared.get("src", []))
            if token is not None:
                where = Location(shown_path(sheet), token.source_line, token.source_column)
            url = _url_value(token) if token is not None else ""
            parts = urlsplit(url)
            if not family or not url or parts.scheme or parts.netloc:
                problems.append(
                    diagnostic(
                        where,
                        "C037",
                        f"@font-face `{family or '?'}` names no font file under styles/",
                        'give it a family and `src: url("fonts/NAME.otf")`',
                    )
                )
                continue
            file = styles / unquote(parts.path)
            problem = font_problem(file, styles)
            if problem:
                problems.append(
                    diagnostic(
                        where,
                        "C037",
                        f"the font `{url}` of @font-face `{family}` {problem}",
                        "put the font file in styles/fonts/ (fonts are never taken from the system)",
                    )
                )
                continue
            style = _first_string(declared.get("font-style", [])) or "normal"
            faces.append(FontFace(family, style, file, where))
    return tuple(faces), tuple(problems)


def font_problem(file: Path, styles: Path | None = None) -> str:
    """Why this font file cannot be used ('' when it can): missing, not a file, outside `styles`
    (the reading gate), not a font."""
    if not file.exists():
        return "does not exist"
    if not file.is_file():
        return "is not a file"
    try:
        gate.read(file, styles, gate.FONT_LIMIT)
    except gate.Refused as exc:
        return f"cannot be used: {exc}"
    try:
        _names(str(file), file.stat().st_mtime_ns, file.stat().st_size)
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    except Exception:  # fontTools raises many kinds for a damaged file
        return "is not a font fontTools can read (damaged, or not a font)"
    return ""


@lru_cache(maxsize=32)
def _names(path: str, _mtime: int, _size: int) -> tuple[str, ...]:
    """The font's own family names (name IDs 1 and 16); raises on a file that is not a font."""
    from fontTools.ttLib import TTFont

    with TTFont(path, lazy=True) as font:
        if not font.getBestCmap():
            raise ValueError("no character map")
        names = font["name"]
        found = [names.getDebugName(1), names.getDebugName(16)]
    return tuple(dict.fromkeys(name for name in found if name))


def family_names(face: FontFace) -> tuple[str, ...]:
    """The family names the font file gives itself."""
    stat = face.file.stat()
    return _names(str(face.file), stat.st_mtime_ns, stat.st_size)


def misnamed(faces: Iterable[FontFace]) -> tuple[Diagnostic, ...]:
    """C039 warnings: a rule whose family is not one of its font's own names (calibre's checker and
    some reading systems match fonts by their own names)."""
    found = []
    for face in faces:
        own = family_names(face)
        if own and face.family not in own:
            found.append(
                diagnostic(
                    face.where,
                    "C039",
                    f"@font-face family `{face.family}` is not the font's own name ({', '.join(own)})",
                    f'use font-family: "{own[0]}"',
                )
            )
    return tuple(found)


def subset(data: bytes, text: str) -> bytes:
    """The font with only the glyphs `text` needs (and what the font's features reach from them:
    small caps, old-style figures, ligatures), every name kept (the licence is name ID 13).

    HarfBuzz's subsetter (uharfbuzz, which bundles its own HarfBuzz, so every machine gives the same
    bytes) takes 20 ms a font where fontTools' takes 2 s; it keeps the head table's dates as they are.
    """
    import uharfbuzz as hb

    wanted = set(text) | set(ALWAYS_KEPT)
    wanted |= {c.upper() for c in wanted if len(c.upper()) == 1} | {c.lower() for c in wanted}
    keep = hb.SubsetInput()
    for char in sorted(wanted):
        keep.unicode_set.add(ord(char))
    for kind in (
        hb.SubsetInputSets.LAYOUT_FEATURE_TAG,
        hb.SubsetInputSets.NAME_ID,
        hb.SubsetInputSets.NAME_LANG_ID,
    ):
        keep.sets(kind).clear()
        keep.sets(kind).invert()  # all of them
    face = hb.subset(hb.Face(data), keep)
    if face is None:
        raise ValueError("HarfBuzz could not subset the font")
    return bytes(face.blob.data)


def pdf_font_families(pdf: bytes) -> dict[str, tuple[int, ...]]:
    """Every font a PDF uses, by family (the FontDescriptor's /FontFamily, else the /BaseFont without
    its subset tag), with the 1-based pages that use it; form XObjects (drawn SVG) included."""
    import pikepdf

    found: dict[str, set[int]] = {}
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        for number, page in enumerate(doc.pages, 1):
            stack, seen = [page.obj.get("/Resources")], set()
            while stack:
                resources = stack.pop()
                if not isinstance(resources, pikepdf.Dictionary) or resources.objgen in seen:
                    continue
                if resources.objgen != (0, 0):
                    seen.add(resources.objgen)
                for font in (resources.get("/Font") or {}).values():
                    found.setdefault(_family(font), set()).add(number)
                for xobject in (resources.get("/XObject") or {}).values():
                    if isinstance(xobject, pikepdf.Stream) and xobject.get("/Subtype") == "/Form":
                        stack.append(xobject.get("/Resources"))
    return {family: tuple(sorted(pages)) for family, pages in sorted(found.items())}


def _family(font: object) -> str:
    import pikepdf

    assert isinstance(font, pikepdf.Dictionary)
    descendants = font.get("/DescendantFonts")
    inner = descendants[0] if isinstance(descendants, pikepdf.Array) and len(descendants) else font
    descriptor = inner.get("/FontDescriptor") if isinstance(inner, pikepdf.Dictionary) else None
    family = descriptor.get("/FontFamily") if isinstance(descriptor, pikepdf.Dictionary) else None
    if family is not None:
        return str(family)
    base = str(font.get("/BaseFont", "/?"))[1:]
    return base.partition("+")[2] if "+" in base[:7] else base


def _text_in(pdf: bytes, page: int, family: str, limit: int = 60) -> str:
    """Some of the text on `page` (1-based) that is set in `family` (pdfium's per-character font)."""
    import ctypes

    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    wanted = {family.replace(" ", "").lower(), family.replace(" ", "-").lower()}
    doc = pdfium.PdfDocument(pdf)
    try:
        text = doc[page - 1].get_textpage()
        chars = []
        buffer = ctypes.create_string_buffer(256)
        flags = ctypes.c_int()
        for index in range(text.count_chars()):
            size = raw.FPDFText_GetFontInfo(text, index, buffer, len(buffer), ctypes.byref(flags))
            name = buffer.raw[: max(size - 1, 0)].decode("utf-8", "replace").lower()
            if any(w in name.replace(" ", "") for w in wanted) or any(w in name for w in wanted):
                chars.append(text.get_text_range(index, 1))
            if len(chars) >= limit:
                break
        return " ".join("".join(chars).split())
    finally:
        doc.close()


def foreign_fonts(pdf: bytes, families: Iterable[str], where: Location) -> tuple[Diagnostic, ...]:
    """C038 errors: each font the PDF uses that is not one of the bundled `families`, named with
    the pages and some of the text set in it."""
    allowed = set(families)
    found = []
    for family, pages in pdf_font_families(pdf).items():
        if family in allowed:
            continue
        shown = ", ".join(str(p) for p in pages[:8]) + (" ..." if len(pages) > 8 else "")
        sample = _text_in(pdf, pages[0], family)
        found.append(
            diagnostic(
                where,
                "C038",
                f"the font `{family}` is not a bundled font, but set text on page {shown}"
                + (f": `{sample}`" if sample else ""),
                "declare every font with @font-face in styles/ and put its file in styles/fonts/",
            )
        )
    return tuple(found)


def require_bundled(pdf: bytes, styles: Path, sheets: Sequence[str], where: Location) -> None:
    """Raise C038 unless every font in the laid-out `pdf` is one the `sheets` declare."""
    from companion.core.errors import CompanionError

    faces, _ = font_faces(styles, sheets)
    found = foreign_fonts(pdf, {face.family for face in faces}, where)
    if found:
        raise CompanionError(list(found))
