"""Preflight of any EPUB: EPUBCheck, DAISY Ace, and the Kindle-ingestion traps EPUBCheck lets through.

Every EPUBCheck message (of any severity it reports) and every Ace violation is a finding. Our own
checks read the package straight from the zip (nothing is extracted), so a hostile file cannot
write anywhere; files over the size limit are reported, not read.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from lxml import etree

from companion.core.errors import Diagnostic, Location, diagnostic
from companion.preflight.validators import NS, epubcheck, opf_path, run_ace, xml_parser

FILE_LIMIT = 10 * 1024 * 1024
"""Send to Kindle: any single file inside the EPUB."""
EPUB_LIMIT = 50 * 1024 * 1024
"""Send to Kindle: the whole EPUB."""
VALIDATOR_TIMEOUT = 600

CORE_MEDIA_TYPES = frozenset(
    {
        # EPUB 3.3, section 3.2 (core media types)
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/svg+xml",
        "image/webp",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg",
        "text/css",
        "font/ttf",
        "application/font-sfnt",
        "font/otf",
        "application/vnd.ms-opentype",
        "font/woff",
        "application/font-woff",
        "font/woff2",
        "application/xhtml+xml",
        "application/javascript",
        "application/ecmascript",
        "text/javascript",
        "application/x-dtbncx+xml",
        "application/smil+xml",
        "application/pls+xml",
    }
)
A11Y_PROPERTIES = (
    "schema:accessMode",
    "schema:accessModeSufficient",
    "schema:accessibilityFeature",
    "schema:accessibilityHazard",
    "schema:accessibilitySummary",
    "dcterms:conformsTo",
)
XML_SUFFIXES = (".xhtml", ".html", ".htm", ".opf", ".ncx", ".xml", ".svg", ".smil")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_CUSTOM_PROPERTY = re.compile(r"(?<![\w-])--[A-Za-z_][\w-]*\s*:|\bvar\(")


def check_epub(path: Path, *, ace: bool = True, usage: bool = False) -> list[Diagnostic]:
    """EPUBCheck and Ace run side by side (each is a subprocess), then our own checks."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        checked = pool.submit(epubcheck, path, usage=usage)
        accessible = pool.submit(run_ace, path) if ace else None
        found = checked.result() + (accessible.result() if accessible else [])
    return found + traps(path)


def traps(path: Path) -> list[Diagnostic]:
    """`--` in comments, CSS custom properties, media types, language, sizes, accessibility metadata."""
    found: list[Diagnostic] = []
    if path.stat().st_size > EPUB_LIMIT:
        found.append(
            diagnostic(
                path, "P008", f"the EPUB is {path.stat().st_size / 2**20:.1f} MB (Send to Kindle: 50 MB)"
            )
        )
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [*found, diagnostic(path, "P015", f"cannot open the EPUB as a zip file: {exc}")]
    with archive:
        readable: dict[str, bytes] = {}
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.file_size > FILE_LIMIT:
                found.append(
                    diagnostic(
                        f"{path}/{info.filename}",
                        "P008",
                        f"{info.file_size / 2**20:.1f} MB inside the EPUB (Send to Kindle: 10 MB per file)",
                    )
                )
            elif info.filename.lower().endswith((*XML_SUFFIXES, ".css")):
                readable[info.filename] = archive.read(info)
        for name, data in sorted(readable.items()):
            text = data.decode("utf-8", errors="replace")
            found += _comment_dashes(path, name, text)
            if name.lower().endswith(".css"):
                found += _custom_properties(path, name, text)
        found += _package(path, archive, readable)
    return found


def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


MAX_FINDINGS = 100
"""Of one kind in one file: enough to fix them by, and a bound on the cost of a crafted file."""


def _delimited(text: str, opening: str, closing: str) -> list[tuple[int, int]]:
    """(start, end) of each `opening ... closing`, as a lazy regex finds them, in linear time (a regex
    tries again from every opener that is never closed: a file of `<!--` took minutes)."""
    found, at = [], 0
    while (start := text.find(opening, at)) >= 0:
        end = text.find(closing, start + len(opening))
        if end < 0:
            break
        found.append((start, end + len(closing)))
        at = end + len(closing)
    return found


def _comment_dashes(path: Path, name: str, text: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    spans = [(start, end, 4, 3) for start, end in _delimited(text, "<!--", "-->")]
    if name.lower().endswith(".css"):
        spans += [(start, end, 2, 2) for start, end in _delimited(text, "/*", "*/")]
    for start, end, before, after in sorted(spans):
        if "--" in text[start + before : end - after] and len(found) < MAX_FINDINGS:
            line, col = _line_col(text, start)
            found.append(Diagnostic(Location(f"{path}/{name}", line, col), "P004", "`--` inside a comment"))
    return found


def _custom_properties(path: Path, name: str, text: str) -> list[Diagnostic]:
    blanked = list(text)
    for start, end in _delimited(text, "/*", "*/"):
        blanked[start:end] = [ch if ch == "\n" else " " for ch in text[start:end]]
    plain = "".join(blanked)
    found: list[Diagnostic] = []
    for match in _CUSTOM_PROPERTY.finditer(plain):
        if len(found) >= MAX_FINDINGS:
            break
        line, col = _line_col(plain, match.start())
        what = "var()" if match.group(0).startswith("var") else match.group(0).rstrip(": \t\n")
        found.append(Diagnostic(Location(f"{path}/{name}", line, col), "P005", f"CSS custom property {what}"))
    return found


def _package(path: Path, archive: zipfile.ZipFile, readable: dict[str, bytes]) -> list[Diagnostic]:
    opf_name = opf_path(path)
    if opf_name is None or opf_name not in readable:
        return [diagnostic(path, "P015", "no package document (META-INF/container.xml → OPF) found")]
    where = f"{path}/{opf_name}"
    error = ""
    try:
        opf = etree.fromstring(readable[opf_name], xml_parser())
    except etree.XMLSyntaxError as exc:
        opf, error = None, str(exc)
    if opf is None:
        return [diagnostic(where, "P015", f"the package document cannot be read as XML: {error or 'empty'}")]
    found = []
    languages = [el.text for el in opf.iterfind(".//opf:metadata/dc:language", NS) if (el.text or "").strip()]
    if not languages:
        found.append(diagnostic(where, "P007", "no dc:language in the package metadata"))
    found += _accessibility(where, opf)
    base = PurePosixPath(opf_name).parent
    for item in opf.iterfind(".//opf:manifest/opf:item", NS):
        href = item.get("href", "")
        media_type = item.get("media-type", "")
        bare = media_type.split(";")[0].strip().lower()
        if bare not in CORE_MEDIA_TYPES:
            found.append(
                diagnostic(
                    where,
                    "P006",
                    f"{href} has media type {media_type or '(none)'}, not an EPUB core media type",
                )
            )
        if bare == "application/xhtml+xml":
            inner = posixpath.normpath(str(base / href.split("#")[0]))
            found += _document_language(path, inner, readable.get(inner))
    return found


def _document_language(path: Path, inner: str, data: bytes | None) -> list[Diagnostic]:
    if data is None:
        return []  # missing or oversized: EPUBCheck and the size check report it
    try:
        root = etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError:
        return []  # EPUBCheck reports it
    if root is None:
        return []
    if not (root.get("lang") or root.get(XML_LANG) or "").strip():
        return [diagnostic(f"{path}/{inner}", "P007", "the document has no lang (or xml:lang) on <html>")]
    return []


def _accessibility(where: str, opf: etree._Element) -> list[Diagnostic]:
    present = set()
    for meta in opf.iterfind(".//opf:metadata/opf:meta", NS):
        name = meta.get("property") or meta.get("name") or ""
        value = (meta.text or meta.get("content") or "").strip()
        if value:
            present.add(name)
    for link in opf.iterfind(".//opf:metadata/opf:link", NS):
        if "dcterms:conformsTo" in (link.get("rel") or "").split() and link.get("href"):
            present.add("dcterms:conformsTo")
    return [
        diagnostic(where, "P009", f"no {prop} in the package metadata")
        for prop in A11Y_PROPERTIES
        if prop not in present
    ]
