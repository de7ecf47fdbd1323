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
"""

from __future__ import annotations

import contextlib
import errno
import html
import re
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import watchfiles

from . import cover, epub, pipeline
from .codes import CODES
from .errors import CompanionError, Diagnostic, diagnostic
from .markdown import plain
from .render import Edition, RenderedBook, render

HOST = "127.0.0.1"
COVER = "cover.jpg"
HEARTBEAT = 10.0
"""Seconds between keep-alive comments on an idle event stream (finds closed connections)."""
_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>\s*")


@dataclass(frozen=True)
class Snapshot:
    """What the server answers with, for one state of the source. Replaced whole on every change."""

    version: int
    pages: dict[str, bytes] = field(default_factory=dict)
    """Request path -> HTML page."""
    files: dict[str, tuple[Path, str]] = field(default_factory=dict)
    """Request path -> (file, media type): the allow-list of static files."""
    error: bytes | None = None
    """The error page, when the source has problems."""
    rendered: RenderedBook | None = None
    problems: tuple[str, ...] = ()
    """Each diagnostic as the command line prints it (errors, or warnings of a good build)."""


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
        for asset in validated.assets:
            files[f"/{asset.src}"] = (asset.path, asset.media_type)
        return Snapshot(
            version,
            pages=pages(rendered, version),
            files=files,
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
# Pages


def reload_script(version: int) -> str:
    """The live-reload client, injected into preview pages only."""
    return (
        "<script data-companion-preview>(function(){"
        f"var es=new EventSource('/events?since={version}');"
        "es.onopen=function(){window.companionPreviewLive=true;};"
        "es.addEventListener('reload',function(){es.close();location.reload();});"
        "})();</script>"
    )


_BAR_STYLE = (
    "<style data-companion-preview>"
    ".companion-preview-bar{font:14px/1.4 system-ui,sans-serif;margin:2em 0 0;padding:.6em 1em;"
    "border-top:1px solid #ccc;display:flex;gap:1.5em;justify-content:center}"
    ".companion-preview-bar a{color:#1f4f7a}"
    "</style>"
)


def _bar(links: list[tuple[str, str]]) -> str:
    items = "".join(f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for href, text in links)
    return f'<nav class="companion-preview-bar" aria-label="Preview">{items}</nav>'


def _inject(document: str, bar: str, version: int) -> bytes:
    """An EPUB document as an HTML page with the preview bar and the reload script."""
    page = _PROLOG.sub("", document, count=1)
    page = page.replace("</head>", f"{_BAR_STYLE}</head>", 1)
    head, sep, tail = page.rpartition("</body>")
    page = f"{head}{bar}{reload_script(version)}{sep}{tail}" if sep else page + bar + reload_script(version)
    return page.encode("utf-8")


def pages(rendered: RenderedBook, version: int) -> dict[str, bytes]:
    """Request path -> page: one per section, and the contents at `/`."""
    book = rendered.validated.companion.book
    out: dict[str, bytes] = {}
    documents = rendered.documents
    for index, document in enumerate(documents):
        links = [("/", "Contents")]
        if index > 0:
            links.insert(
                0, (f"/{documents[index - 1].section.file}", "← " + plain(documents[index - 1].section.title))
            )
        if index + 1 < len(documents):
            links.append(
                (f"/{documents[index + 1].section.file}", plain(documents[index + 1].section.title) + " →")
            )
        out[f"/{document.section.file}"] = _inject(document.html, _bar(links), version)
    items = "".join(
        f'<li><a href="/{html.escape(d.section.file)}">{html.escape(plain(d.section.title))}</a></li>'
        for d in documents
    )
    title = html.escape(plain(book.full_title))
    edition = f"<p>{html.escape(rendered.edition.note)}</p>" if rendered.edition.note else ""
    index_page = (
        f'<!DOCTYPE html>\n<html lang="{html.escape(book.language)}"><head><meta charset="utf-8" />'
        f"<title>{title} (preview)</title>"
        '<link rel="stylesheet" href="/styles/base.css" /><link rel="stylesheet" href="/styles/epub.css" />'
        f"</head><body><section><h1>{title}</h1>{edition}<ol>{items}</ol></section></body></html>"
    )
    out["/"] = _inject(index_page, "", version)
    out["/index.html"] = out["/"]
    return out


def error_page(diagnostics: tuple[Diagnostic, ...] | list[Diagnostic], version: int, bug: str = "") -> bytes:
    """Every problem, one per item, with file and line; escaped."""
    errors = sum(1 for d in diagnostics if d.severity == "error")
    rows = []
    for item in diagnostics:
        hint = item.hint or CODES[item.code].hint
        where = html.escape(str(item.where))
        rows.append(
            f'<li class="{html.escape(item.severity)}"><code class="where">{where}</code> '
            f"<b>{html.escape(item.severity)} {html.escape(item.code)}</b>: {html.escape(item.message)}"
            + (f'<br /><span class="hint">hint: {html.escape(hint)}</span>' if hint else "")
            + "</li>"
        )
    if bug:
        rows.append(
            f'<li class="error">{html.escape(bug)}<br /><span class="hint">hint: this is a bug in '
            "companion; run `companion --debug build` for details</span></li>"
        )
    count = f"{errors} error{'s' if errors != 1 else ''}" if not bug else "An internal error"
    them = "it" if errors == 1 and not bug else "them"
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8" />'
        "<title>Preview: the source has problems</title><style>"
        "body{font:16px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#222}"
        "h1{color:#a00;font-size:1.4em}li{margin:.6em 0}code.where{font-weight:bold}"
        ".hint{color:#555}li.warning b{color:#a60}li.error b{color:#a00}"
        "</style></head><body><h1>The source has problems</h1>"
        f"<p>{count}. Fix {them} and save: this page reloads by itself.</p>"
        f'<ul class="diagnostics">{"".join(rows)}</ul></body></html>'
    )
    return _inject(page, "", version)


# ---------------------------------------------------------------------------------------------------
# Server


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], preview: Preview, verbose: bool = False) -> None:
        self.preview = preview
        self.verbose = verbose
        super().__init__(address, PreviewHandler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class PreviewHandler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "companion-preview"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _answer(self, body: bool) -> None:
        port = self.server.server_address[1]
        if (self.headers.get("Host") or "").lower() not in {f"{HOST}:{port}", f"localhost:{port}"}:
            # only pages opened as 127.0.0.1 or localhost: another site's name (DNS rebinding) gets nothing
            self._send(HTTPStatus.FORBIDDEN, b"forbidden\n", "text/plain; charset=utf-8", body)
            return
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        preview = self.server.preview
        snapshot = preview.snapshot
        if path == "/events":
            since = parse_qs(parts.query).get("since", ["0"])[0]
            self._events(int(since) if since.isdigit() else 0)
            return
        if path in snapshot.files:
            file, kind = snapshot.files[path]
            try:
                data = file.read_bytes()
            except OSError:
                self._send(
                    HTTPStatus.NOT_FOUND, _not_found(snapshot.version), "text/html; charset=utf-8", body
                )
                return
            self._send(HTTPStatus.OK, data, kind, body)
            return
        if path == f"/{COVER}":
            jpeg = preview.cover_jpeg()
            if jpeg is not None:
                self._send(HTTPStatus.OK, jpeg, "image/jpeg", body)
                return
        if snapshot.error is not None and (path == "/" or path.endswith((".xhtml", ".html"))):
            self._send(HTTPStatus.OK, snapshot.error, "text/html; charset=utf-8", body)
            return
        if path in snapshot.pages:
            self._send(HTTPStatus.OK, snapshot.pages[path], "text/html; charset=utf-8", body)
            return
        self._send(HTTPStatus.NOT_FOUND, _not_found(snapshot.version), "text/html; charset=utf-8", body)

    def _send(self, status: HTTPStatus, data: bytes, kind: str, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if body:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)

    def _events(self, since: int) -> None:
        """A Server-Sent Events stream: `event: reload` once the source is newer than `since`."""
        preview = self.server.preview
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"retry: 500\n\n")
            self.wfile.flush()
            while not preview.stopping.is_set():
                version = preview.wait_newer(since, HEARTBEAT)
                if preview.stopping.is_set():
                    return
                if version > since:
                    self.wfile.write(f"event: reload\ndata: {version}\n\n".encode())
                    since = version
                else:
                    self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return


def _not_found(version: int) -> bytes:
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8" /><title>Not found</title></head>'
        '<body><h1>Not found</h1><p><a href="/">Contents</a></p></body></html>'
    )
    return _inject(page, "", version)


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
    try:
        server = PreviewServer((HOST, port), preview, verbose)
    except OSError as exc:
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise CompanionError(
            [diagnostic(f"{HOST}:{port}", "D011", f"cannot listen on {HOST}:{port}: {reason}")]
        ) from None
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
