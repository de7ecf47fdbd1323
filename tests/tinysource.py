"""A minimal valid companion (book.yaml, about.yaml, one chapter) for tests that need a small source."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from companion.printing import interior
from companion.printing.layout import PrintLayout

ROOT = Path(__file__).resolve().parent.parent

BOOK = """\
title: Tiny Companion
slug: tiny
author: Test Author
language: en
identifier: urn:uuid:00000000-0000-4000-8000-000000000000
published: 2024-01-01
description: A tiny companion.
novel:
  title: A Novel
  author: Someone
  year: 2000
"""

ABOUT = """\
overview: An overview.
setting: A setting.
"""

CHAPTER = """\
---
title: One
---

Some text.
"""


def make_tiny(root: Path, *, styles: bool = True) -> Path:
    """Write a tiny valid companion into root/source and a copy of styles/ (a companion needs both, and
    `check` says so); return root/source."""
    source = root / "source"
    (source / "chapters").mkdir(parents=True)
    (source / "book.yaml").write_text(BOOK, encoding="utf-8")
    (source / "about.yaml").write_text(ABOUT, encoding="utf-8")
    (source / "chapters" / "01-one.md").write_text(CHAPTER, encoding="utf-8")
    if styles and not (root / "styles").exists():
        shutil.copytree(ROOT / "styles", root / "styles")
    return source


def laid_out(html: str, settings: Any, styles: Path, source: Path, **options: Any) -> PrintLayout:
    """The interior laid out and written at once (the build keeps writing while it packages)."""
    plan, printing = interior.lay_out(html, settings, styles, source, **options)
    return dataclasses.replace(plan, pdf=printing.result())
