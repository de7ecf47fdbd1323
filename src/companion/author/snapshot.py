"""What the preview serves for one state of the source (built by preview.py, read by server.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from companion.render.render import RenderedBook


@dataclass(frozen=True)
class Snapshot:
    """What the server answers with, for one state of the source. Replaced whole on every change."""

    version: int
    pages: dict[str, bytes] = field(default_factory=dict)
    """Request path -> HTML page."""
    files: dict[str, tuple[Path, str]] = field(default_factory=dict)
    """Request path -> (file, media type): the allow-list of static files."""
    assets: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    """Request path -> (bytes as checked, media type): the source's images (an SVG as written out again)."""
    error: bytes | None = None
    """The error page, when the source has problems."""
    rendered: RenderedBook | None = None
    problems: tuple[str, ...] = ()
    """Each diagnostic as the command line prints it (errors, or warnings of a good build)."""
