"""`companion new DIR`: a complete small companion project that builds as is.

What is copied, from where:
- `source/`, `Makefile`, `README.md` and `.gitignore` (shipped as `gitignore`) come from the package
  data folder `scaffold/` beside this module; `source/book.yaml` is then filled in (title, author,
  slug, a fresh `urn:uuid:` identifier, today's date) with ruamel.yaml, so any title quotes safely
  and the file's comments stay.
- `styles/` (base.css, epub.css, print.css, cover.css, kit.css, fonts/ with OFL.txt, icc/) is copied from the
  project's own `styles/`, found from this file: `<repo>/src/companion/scaffold.py` -> `<repo>/styles`.
  That is where it is in a checkout and an editable install (`pip install -e .`, what `make` does),
  so the styles are never duplicated in git. A wheel built for a non-editable install must carry a
  copy at `companion/scaffold/styles/` (copied there at build time); that copy is used when present.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from ruamel.yaml import YAML

from companion.core.errors import CompanionError, diagnostic
from companion.core.paths import PROJECT

TEMPLATE = Path(__file__).resolve().parent / "scaffold"
STYLE_FILES = ("base.css", "epub.css", "print.css", "cover.css", "kit.css")
LAYOUT_FILES = ("large-print.css",)
"""Copied when the styles have them: the large-print edition's layer (edition.py)."""

NOT_EMPTY = "N001"
"""The diagnostic for a folder `companion new` will not write into."""


@dataclass(frozen=True)
class Scaffolded:
    root: Path
    title: str
    slug: str
    files: tuple[Path, ...]


def styles_folder() -> Path:
    """The styles to copy: the repository's styles/ (checkout, editable install), else the packaged copy."""
    for candidate in (PROJECT / "styles", TEMPLATE / "styles"):
        if all((candidate / name).is_file() for name in STYLE_FILES) and (candidate / "fonts").is_dir():
            return candidate
    raise FileNotFoundError(f"no styles to copy: neither {PROJECT / 'styles'} nor {TEMPLATE / 'styles'}")


def slugify(title: str) -> str:
    """`[a-z0-9-]`, at most 64 characters; "companion" when nothing is left."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:64].strip("-")
    return slug or "companion"


def new_project(
    root: Path, title: str = "Your Novel", author: str = "Your Name", today: dt.date | None = None
) -> Scaffolded:
    """Write a new companion project into `root` (created if missing; refused unless empty)."""
    title, author = title.strip(), author.strip()
    problems = []
    try:
        if root.exists() and not root.is_dir():
            problems.append(diagnostic(str(root), NOT_EMPTY, "is a file, not a folder for a new project"))
        elif root.is_dir() and any(root.iterdir()):
            problems.append(
                diagnostic(
                    str(root),
                    NOT_EMPTY,
                    "folder is not empty; `companion new` writes only into a new or empty folder",
                )
            )
    except OSError as exc:  # a name too long, a folder that cannot be listed
        problems.append(diagnostic(str(root), "C044", f"cannot write the new project: {exc.strerror or exc}"))
    if not title:
        problems.append(diagnostic(str(root), "C014", "--title must not be empty"))
    if not author:
        problems.append(diagnostic(str(root), "C014", "--author must not be empty"))
    if problems:
        raise CompanionError(problems)
    try:
        return _write_project(root, title, author, today or dt.date.today())
    except OSError as exc:
        raise CompanionError(
            [diagnostic(str(root), "C044", f"cannot write the new project: {exc.strerror or exc}")]
        ) from None


def _markdown_text(text: str) -> str:
    """`text` as Markdown that shows exactly these characters (markup characters backslash-escaped)."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIAL else ch for ch in text)


MARKDOWN_SPECIAL = frozenset("\\`*_[]<>&!~|")


def _write_project(root: Path, title: str, author: str, today: dt.date) -> Scaffolded:
    styles = styles_folder()
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TEMPLATE / "source", root / "source", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Makefile", "README.md"):
        shutil.copyfile(TEMPLATE / name, root / name)
    shutil.copyfile(TEMPLATE / "gitignore", root / ".gitignore")
    (root / "styles" / "fonts").mkdir(parents=True)
    for name in STYLE_FILES + tuple(n for n in LAYOUT_FILES if (styles / n).is_file()):
        shutil.copyfile(styles / name, root / "styles" / name)
    for font in sorted((styles / "fonts").iterdir()):
        if font.is_file() and font.suffix.lower() in {".otf", ".ttf", ".woff", ".woff2", ".txt"}:
            shutil.copyfile(font, root / "styles" / "fonts" / font.name)
    (root / "styles" / "icc").mkdir()  # the CMYK output profiles of the cover and PDF/X (inks.py)
    for profile in sorted((styles / "icc").iterdir()):
        if profile.is_file() and profile.suffix.lower() in {".icc", ".md"}:
            shutil.copyfile(profile, root / "styles" / "icc" / profile.name)
    slug = slugify(title)
    _fill_book(root / "source" / "book.yaml", title, author, slug, today)
    files = tuple(sorted(p for p in root.rglob("*") if p.is_file()))
    return Scaffolded(root, title, slug, files)


def _fill_book(path: Path, title: str, author: str, slug: str, today: dt.date) -> None:
    """Set the new project's metadata in book.yaml, keeping its comments; ruamel quotes as needed."""
    yaml = YAML(typ="rt")
    yaml.width = 100
    yaml.preserve_quotes = True
    data = yaml.load(path.read_text(encoding="utf-8"))
    title, author = _markdown_text(title), _markdown_text(author)  # every text field is Markdown
    data["title"] = title
    data["slug"] = slug
    data["author"] = author
    data["publisher"] = author
    data["identifier"] = f"urn:uuid:{uuid.uuid4()}"
    # Two date objects: one object twice would be dumped as an anchor and an alias, which load refuses.
    data["published"] = dt.date(today.year, today.month, today.day)
    data["modified"] = dt.date(today.year, today.month, today.day)
    stop = "" if author.endswith(".") else "."
    data["rights"] = (
        f"Text © {today.year} {author}{stop} Quotations from the novel are quoted for criticism and review."
    )
    data["novel"]["title"] = title
    out = io.StringIO()
    yaml.dump(data, out)
    path.write_text(out.getvalue(), encoding="utf-8")
