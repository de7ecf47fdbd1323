"""Where the package and the project folder are, computed once from this file's place (core/paths.py).

PACKAGE is src/companion/ (its code digest keys the cache); PROJECT is the folder holding
pyproject.toml, styles/ and node_modules/ in a source checkout (src layout: two levels above PACKAGE).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
PROJECT = PACKAGE.parents[1]
