"""styles/ checks for `check` and `build`: the style sheets and fonts the outputs need are there, are
regular files inside styles/, load nothing from outside it (read on tinycss2's tokens), and every
font parses as a font. Each problem is a diagnostic, so a broken styles/ never reaches WeasyPrint."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from companion.core import gate
from companion.core.errors import Diagnostic, Location, diagnostic
from companion.source.csscheck import stylesheet_references

SHEETS = ("base.css", "epub.css", "print.css", "cover.css")
"""Every build uses these (print.css for the PDF, cover.css for the cover, the others everywhere)."""
FONT_SUFFIXES = frozenset({".otf", ".ttf", ".woff", ".woff2"})
MAX_CSS_BYTES = 2 * 1024 * 1024
LICENCES = ("OFL.txt", "LICENSE.txt", "LICENCE.txt")
"""A font licence file in styles/fonts/ travels with the fonts (the OFL asks for it)."""


def shown(path: Path) -> str:
    """A path relative to the working folder when it is below it."""
    try:
        return str(path.absolute().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def check_styles(styles: Path, problems: list[Diagnostic]) -> None:
    """Append a diagnostic for each problem in `styles/`."""
    if styles.is_symlink():
        try:  # styles/ itself may not lead out of the project folder it sits in
            gate.inside(styles, styles.parent)
        except gate.Refused as exc:
            problems.append(diagnostic(shown(styles), exc.code, exc.message))
            return
    if not styles.is_dir():
        what = "is not a folder" if styles.exists() else "is missing"
        problems.append(
            diagnostic(
                shown(styles),
                "C043",
                f"the styles folder {what}",
                f"a companion needs styles/ beside source/, with {', '.join(SHEETS)} and fonts/",
            )
        )
        return
    root = styles.resolve()
    for name in SHEETS:
        if not (styles / name).exists() and not (styles / name).is_symlink():
            problems.append(diagnostic(shown(styles / name), "C043", f"style sheet {name} is missing"))
    for sheet in gate.entries(styles):
        if sheet.suffix == ".css" and not sheet.name.startswith("."):
            _check_sheet(sheet, root, problems)
    fonts = styles / "fonts"
    try:
        folder = gate.folder(fonts, root)
    except gate.Refused as exc:
        problems.append(diagnostic(shown(fonts), exc.code if exc.code != "C041" else "C043", exc.message))
        return
    if folder is None:
        return
    for font in gate.entries(fonts):
        if font.suffix.lower() in FONT_SUFFIXES:
            try:
                problem = gate.font_problem(gate.read(font, root, gate.FONT_LIMIT))
            except gate.Refused as exc:
                problems.append(diagnostic(shown(font), exc.code, exc.message))
                continue
            if problem is not None:
                problems.append(diagnostic(shown(font), "C042", f"{font.name}: {problem}"))
    for name in LICENCES:
        licence = fonts / name
        if licence.exists() or licence.is_symlink():
            try:
                gate.read(licence, root, gate.FONT_LIMIT)
            except gate.Refused as exc:
                problems.append(diagnostic(shown(licence), exc.code, exc.message))


def _check_sheet(sheet: Path, root: Path, problems: list[Diagnostic]) -> None:
    try:
        text = gate.read(sheet, root, MAX_CSS_BYTES).decode("utf-8", errors="replace")
    except gate.Refused as exc:
        code = "C043" if exc.code == "C041" else exc.code
        problems.append(diagnostic(shown(sheet), code, exc.message))
        return
    for ref in stylesheet_references(text):
        parts = urlsplit(ref.target)
        if ref.target.startswith("#"):
            continue
        if parts.scheme.lower() == "data":  # unchecked bytes (a font, an SVG) and often not a valid URL
            problems.append(
                diagnostic(
                    Location(shown(sheet), ref.line, ref.col),
                    "C021",
                    "style sheet embeds a `data:` URL; its contents would ship unchecked",
                    "put the file in styles/ (fonts in styles/fonts/) and name it in the url()",
                )
            )
            continue
        path = root / unquote(parts.path)
        try:
            within = path.resolve().is_relative_to(root)
        except (OSError, RuntimeError, ValueError):
            within = False
        if parts.scheme or parts.netloc or ref.target.startswith(("/", "\\")) or not within or not ref.target:
            problems.append(
                diagnostic(
                    Location(shown(sheet), ref.line, ref.col),
                    "C021",
                    f"style sheet loads `{ref.target[:80]}`, which is outside styles/",
                    "style sheets may use only files inside styles/, such as fonts/",
                )
            )
