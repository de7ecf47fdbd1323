"""`companion preview`: the companion as live-reloading HTML on 127.0.0.1.

The pages are the EPUB's own documents (`render(..., "epub", ...)`, the same templates and
stylesheets), each at `/<section>.xhtml`, so cross-references between them work as in the e-book;
`/` is a contents page. Only preview pages get the injected bar and `<script>`: built outputs never do.

Live reload: a watcher thread (the `watchfiles` library) re-renders on every change under SOURCE or
styles/ and bumps a version number; `/events` is a Server-Sent Events stream that tells each open
page to reload once the version is newer than the one it was rendered at (`/events?since=N`, so an
edit made while a page loads is not missed). A source error becomes an HTML page listing every
diagnostic with its file and line (escaped); the next good save brings the pages back.

Nothing is joined onto a file-system path from a request: a request path must be a key of the
current allow-list (the pages, styles/base.css and epub.css, the fonts, the images the source uses).

This module holds the state (Preview), the watcher and `running`/`serve`; the HTML pages are in
pages.py, what one state serves in snapshot.py, and the HTTP server and event stream in server.py,
which knows the preview only as a `Site` (a Protocol), as MkDocs' LiveReloadServer gets a builder.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import watchfiles

from companion import pipeline
from companion.author.pages import COVER, error_page, pages, reload_script
from companion.author.server import HEARTBEAT, HOST, PreviewHandler, PreviewServer
from companion.author.snapshot import Snapshot
from companion.core.errors import CompanionError, diagnostic
from companion.core.http import listen
from companion.epub import package as epub
from companion.printing import cover
from companion.render.edition import Edition
from companion.render.render import render

__all__ = [
    "COVER",
    "HEARTBEAT",
    "HOST",
    "Preview",
    "PreviewHandler",
    "PreviewServer",
    "Snapshot",
    "error_page",
    "pages",
    "reload_script",
    "running",
    "serve",
]


class Preview:
    """The project, its current snapshot, and the condition event streams wait on."""

    def __init__(
        self,
        project: pipeline.Project,
        edition: Edition | None = None,
        on_rebuild: Callable[[Snapshot], None] | None = None,
    ) -> None:
        self.project = project
        self.edition = edition or Edition()
        self.on_rebuild = on_rebuild
        self.changed = threading.Condition()
        self.stopping = threading.Event()
        self.watching = threading.Event()
        self.snapshot = Snapshot(0)
        self._cover: tuple[int, bytes] | None = None
        self._cover_lock = threading.Lock()

    def rebuild(self) -> Snapshot:
        """Render the source again and wake every event stream."""
        snapshot = self._render(self.snapshot.version + 1)
        with self.changed:
            self.snapshot = snapshot
            self.changed.notify_all()
        if self.on_rebuild is not None:
            self.on_rebuild(snapshot)
        return snapshot

    def wait_newer(self, since: int, timeout: float) -> int:
        """The current version, once it is newer than `since`, or after `timeout` seconds, or on stop."""
        with self.changed:
            self.changed.wait_for(
                lambda: self.snapshot.version > since or self.stopping.is_set(), timeout=timeout
            )
            return self.snapshot.version

    def stop(self) -> None:
        self.stopping.set()
        with self.changed:
            self.changed.notify_all()

    def cover_jpeg(self) -> bytes | None:
        """The front cover for the current snapshot, made on first request (it takes a moment)."""
        snapshot = self.snapshot
        if snapshot.rendered is None:
            return None
        with self._cover_lock:
            if self._cover is None or self._cover[0] != snapshot.version:
                book = snapshot.rendered.validated.companion.book
                self._cover = (
                    snapshot.version,
                    cover.front_jpeg(book, self.project.styles, edition_note=self.edition.note),
                )
            return self._cover[1]

    def _render(self, version: int) -> Snapshot:
        files = self._style_files()
        try:
            validated = pipeline.check(self.project)
            images = {a.src: a.src for a in validated.assets} | {"@cover": COVER}
            rendered = render(validated, self.edition, "epub", images, stylesheets=epub.STYLESHEETS)
        except CompanionError as exc:
            problems = tuple(d.format() for d in exc.diagnostics)
            return Snapshot(
                version, files=files, error=error_page(exc.diagnostics, version), problems=problems
            )
        except Exception as exc:  # a bug in companion: show it in the page instead of stopping
            message = f"internal error: {type(exc).__name__}: {exc}"
            return Snapshot(
                version, files=files, error=error_page((), version, bug=message), problems=(message,)
            )
        assets = {f"/{asset.src}": (asset.data, asset.media_type) for asset in validated.assets}
        return Snapshot(
            version,
            pages=pages(rendered, version),
            files=files,
            assets=assets,
            rendered=rendered,
            problems=tuple(d.format() for d in validated.warnings),
        )

    def _style_files(self) -> dict[str, tuple[Path, str]]:
        styles = self.project.styles
        files = {
            f"/{name}": (styles / Path(name).name, "text/css; charset=utf-8") for name in epub.STYLESHEETS
        }
        fonts = styles / "fonts"
        if fonts.is_dir():
            for font in sorted(fonts.iterdir()):
                kind = epub.FONT_TYPES.get(font.suffix.lower())
                if kind and font.is_file():
                    files[f"/styles/fonts/{font.name}"] = (font, kind)
        return files


# ---------------------------------------------------------------------------------------------------
# Running


def _watch(preview: Preview) -> None:
    """Re-render on every change under SOURCE and styles/ until the preview stops."""
    roots = [p for p in (preview.project.source, preview.project.styles) if p.is_dir()]
    for changes in watchfiles.watch(
        *roots,
        stop_event=preview.stopping,
        debounce=400,
        step=50,
        rust_timeout=250,
        yield_on_timeout=True,
        raise_interrupt=False,
    ):
        preview.watching.set()  # the first (empty) yield: the watcher is running
        if changes and not preview.stopping.is_set():
            preview.rebuild()


@contextlib.contextmanager
def running(
    source: Path,
    port: int = 8000,
    *,
    styles: Path | None = None,
    edition: Edition | None = None,
    verbose: bool = False,
    on_rebuild: Callable[[Snapshot], None] | None = None,
) -> Iterator[PreviewServer]:
    """A serving preview (HTTP and watcher threads) for the `with` block; stopped and closed after."""
    project = pipeline.Project.at(source, styles)
    if not project.source.is_dir():
        raise CompanionError([diagnostic(str(source), "C001", "source folder not found")])
    preview = Preview(project, edition)
    preview.rebuild()
    preview.on_rebuild = on_rebuild
    server = listen(lambda: PreviewServer((HOST, port), preview, verbose), HOST, port)
    watcher = threading.Thread(target=_watch, args=(preview,), name="companion-preview-watch", daemon=True)
    http = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    watcher.start()
    http.start()
    preview.watching.wait(timeout=5)
    try:
        yield server
    finally:
        preview.stop()
        server.shutdown()
        server.server_close()
        http.join(timeout=5)
        watcher.join(timeout=5)


def serve(
    source: Path,
    port: int = 8000,
    *,
    edition: Edition | None = None,
    verbose: bool = False,
    announce: Callable[[str], None] = print,
    warn: Callable[[str], None] = lambda text: print(text, file=sys.stderr),
) -> None:
    """Serve until Ctrl-C; the diagnostics of each change go to `warn` as they would from `check`."""
    had_errors = False

    def report(snapshot: Snapshot) -> None:
        nonlocal had_errors
        for line in snapshot.problems:
            warn(line)
        if snapshot.error is not None:
            warn("The source has problems: the preview lists them until the next good save.")
        elif had_errors:
            warn("The source is good again.")
        had_errors = snapshot.error is not None

    with running(source, port, edition=edition, verbose=verbose, on_rebuild=report) as server:
        announce(f"Previewing {source} at {server.url} (reloads on every save; Ctrl-C stops)")
        report(server.preview.snapshot)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            announce("Stopped.")
