"""`companion preview`: HTML from the same templates, an allow-list of files, live reload over
Server-Sent Events within a second of a save, readable error pages and recovery; checked with an HTTP
client and in a real headless Chromium."""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import Result

from companion.author import preview
from companion.author.scaffold import new_project
from companion.core.errors import CompanionError

CHAPTER = Path("source") / "chapters" / "01-introduction.md"
WAIT = 10.0
"""Upper bound of every wait, in seconds; the reload itself must come within one."""


def get(url: str) -> tuple[int, str, bytes]:
    """(status, content type, body), for any status."""
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def version_of(page: bytes) -> int:
    text = page.decode("utf-8")
    start = text.index("/events?since=") + len("/events?since=")
    return int(text[start : text.index("'", start)])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return new_project(tmp_path / "site", title="Preview Test").root


@pytest.fixture
def server(site: Path) -> Iterator[preview.PreviewServer]:
    with preview.running(site / "source", port=0) as running:
        yield running


def events(url: str) -> tuple[queue.Queue[str], Callable[[], None]]:
    """The lines of an event stream, read in a thread; and a function that closes it at once."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=WAIT)
    sock.sendall(f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
    stream = sock.makefile("rb")
    head = []
    while (line := stream.readline().decode("latin-1").strip()) != "":
        head.append(line.lower())
    assert head[0].split()[1] == "200" and "content-type: text/event-stream" in head
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        with contextlib.suppress(OSError, ValueError):
            for raw in stream:
                lines.put(raw.decode("utf-8").rstrip("\n"))

    def close() -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    threading.Thread(target=read, daemon=True).start()
    return lines, close


def wait_for_line(lines: queue.Queue[str], wanted: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if lines.get(timeout=max(0.01, deadline - time.monotonic())) == wanted:
                return True
        except queue.Empty:
            return False
    return False


def test_pages_from_the_templates(server: preview.PreviewServer) -> None:
    status, kind, body = get(server.url)
    assert (status, kind) == (200, "text/html; charset=utf-8")
    index = body.decode("utf-8")
    assert "Preview Test" in index and 'href="/introduction.xhtml"' in index
    assert "new EventSource('/events?since=" in index
    status, kind, body = get(server.url + "introduction.xhtml")
    page = body.decode("utf-8")
    assert status == 200 and kind.startswith("text/html")
    assert 'epub:type="chapter"' in page and "How to Use This Companion" in page
    assert 'href="styles/base.css"' in page and 'epub:type="footnote"' in page
    assert 'href="characters.xhtml#narrator"' in page  # cross-references as in the EPUB
    assert not page.startswith("<?xml")
    assert page.count("EventSource") == 1


def test_styles_fonts_and_cover_are_served(server: preview.PreviewServer, site: Path) -> None:
    status, kind, body = get(server.url + "styles/base.css")
    assert (status, kind) == (200, "text/css; charset=utf-8")
    assert body == (site / "styles" / "base.css").read_bytes()
    status, kind, body = get(server.url + "styles/fonts/EBGaramond12-Regular.otf")
    assert (status, kind) == (200, "font/otf") and body[:4] == b"OTTO"
    status, kind, body = get(server.url + "cover.jpg")
    assert (status, kind) == (200, "image/jpeg") and body[:2] == b"\xff\xd8"


@pytest.mark.parametrize(
    "path",
    [
        "source/book.yaml",
        "book.yaml",
        "../source/book.yaml",
        "%2e%2e/source/book.yaml",
        "styles/..%2fsource%2fbook.yaml",
        "styles/fonts/OFL.txt",
        "styles/print.css",
        "styles/fonts/../../source/book.yaml",
        "%2fetc%2fpasswd",
        "chapters/01-introduction.md",
    ],
)
def test_nothing_outside_the_allow_list(server: preview.PreviewServer, path: str) -> None:
    status, _, body = get(server.url + path)
    assert status == 404
    assert b"title:" not in body and b"root:" not in body


def test_a_save_sends_a_reload_within_a_second(server: preview.PreviewServer, site: Path) -> None:
    _, _, body = get(server.url + "introduction.xhtml")
    lines, close = events(f"{server.url}events?since={version_of(body)}")
    try:
        assert wait_for_line(lines, "retry: 500", WAIT)
        chapter = site / CHAPTER
        saved = time.monotonic()
        chapter.write_text(chapter.read_text().replace("How to Use", "How Not to Use"), encoding="utf-8")
        assert wait_for_line(lines, "event: reload", WAIT), "no reload event"
        assert time.monotonic() - saved < 1.0, "the reload came later than a second after the save"
    finally:
        close()
    _, _, body = get(server.url + "introduction.xhtml")
    assert "How Not to Use This Companion" in body.decode("utf-8")


def test_an_edit_while_the_page_loads_is_not_missed(server: preview.PreviewServer) -> None:
    lines, close = events(f"{server.url}events?since=0")  # a page rendered before the last change
    try:
        assert wait_for_line(lines, "event: reload", WAIT)
    finally:
        close()


def test_a_styles_edit_reloads(server: preview.PreviewServer, site: Path) -> None:
    _, _, body = get(server.url)
    lines, close = events(f"{server.url}events?since={version_of(body)}")
    try:
        with (site / "styles" / "epub.css").open("a", encoding="utf-8") as css:
            css.write("\nh1 { color: #123456; }\n")
        assert wait_for_line(lines, "event: reload", WAIT)
    finally:
        close()
    assert b"#123456" in get(server.url + "styles/epub.css")[2]


def test_errors_show_as_a_page_and_the_next_good_save_recovers(
    server: preview.PreviewServer, site: Path
) -> None:
    themes = site / "source" / "themes.yaml"
    good = themes.read_text(encoding="utf-8")
    themes.write_text(good.replace("title: Memory", "title: Memory\n  <b>colour</b>: red"), encoding="utf-8")
    chapter = site / CHAPTER
    chapter.write_text(chapter.read_text().replace("title:", "titel:", 1), encoding="utf-8")
    page = poll(server.url + "introduction.xhtml", lambda text: "themes.yaml" in text and "titel" in text)
    assert "The source has problems" in page and "3 errors" in page  # titel: unknown, title: missing
    assert "themes.yaml:4:" in page and "unknown key `&lt;b&gt;colour&lt;/b&gt;`" in page
    assert "<b>colour</b>" not in page
    assert "01-introduction.md:2:1" in page and "`titel`" in page and "did you mean `title`?" in page
    assert "new EventSource" in page
    assert get(server.url)[2].decode("utf-8") == page  # every page shows the problems
    themes.write_text(good, encoding="utf-8")
    chapter.write_text(chapter.read_text().replace("titel:", "title:", 1), encoding="utf-8")
    page = poll(server.url + "introduction.xhtml", lambda text: "The source has problems" not in text)
    assert "How to Use This Companion" in page


def poll(url: str, done: Callable[[str], bool]) -> str:
    deadline = time.monotonic() + WAIT
    while True:
        text = get(url)[2].decode("utf-8")
        if done(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def test_port_in_use_is_a_diagnostic(site: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CompanionError) as caught, preview.running(site / "source", port=port):
            pass
    assert caught.value.diagnostics[0].code == "D011"


def test_cli_missing_source(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("preview", str(tmp_path / "nowhere"), "--port", "0")
    assert result.exit_code == 1
    assert "error C001" in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------------
# A real browser: headless Chromium driven over the DevTools protocol.

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """Headless Chromium with one page, driven over the Chrome DevTools Protocol."""

    def __init__(self, profile: Path, *flags: str) -> None:
        import websocket  # websocket-client

        self.process = subprocess.Popen(
            [
                str(CHROMIUM),
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--remote-allow-origins=*",
                f"--user-data-dir={profile}",
                *flags,
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port_file = profile / "DevToolsActivePort"
            deadline = time.monotonic() + 60  # a cold start on a busy CI machine took over 5 s
            while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("chromium did not start")
                time.sleep(0.05)
            port = int(port_file.read_text().splitlines()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=WAIT) as response:
                targets = json.loads(response.read())
            page = next(t for t in targets if t.get("type") == "page")
            self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=WAIT)
            self.next_id = 0
        except BaseException:
            self.close()
            raise

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return dict(message.get("result", {}))

    def evaluate(self, expression: str) -> Any:
        """The value of `expression` in the page; None while the page is (re)loading."""
        try:
            result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        except RuntimeError:
            return None
        return result.get("result", {}).get("value")

    def wait(self, expression: str, timeout: float = WAIT) -> float:
        """Seconds until `expression` is true in the page; fails after `timeout`."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.evaluate(expression) is True:
                return time.monotonic() - start
            time.sleep(0.02)
        raise AssertionError(f"not true after {timeout} s: {expression}")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    pytest.importorskip("websocket", reason="websocket-client is not installed")
    instance = Browser(tmp_path / "profile")
    try:
        yield instance
    finally:
        instance.close()


def test_browser_reloads_on_save_shows_errors_and_recovers(
    browser: Browser, server: preview.PreviewServer, site: Path
) -> None:
    browser.call("Page.enable")
    browser.call("Page.navigate", url=server.url + "introduction.xhtml")
    browser.wait("document.title === 'How to Use This Companion' && window.companionPreviewLive === true")
    assert browser.evaluate("getComputedStyle(document.body).fontFamily").startswith('"EB Garamond 12"')
    browser.wait("document.fonts.status === 'loaded'")  # a busy machine may still be fetching them
    assert browser.evaluate("document.fonts.check('16px \"EB Garamond 12\"')") is True
    chapter = site / CHAPTER
    good = chapter.read_text(encoding="utf-8")

    chapter.write_text(good.replace("title: How to Use", "title: How Best to Use"), encoding="utf-8")
    took = browser.wait("document.title === 'How Best to Use This Companion'")
    assert took < 1.0, f"the page reloaded {took:.2f} s after the save"

    chapter.write_text(good.replace("---\ntitle:", "---\ntitel:", 1), encoding="utf-8")
    browser.wait("document.body.innerText.includes('The source has problems')")
    text = browser.evaluate("document.body.innerText")
    assert "01-introduction.md:2:1" in text and "C012" in text and "did you mean `title`?" in text

    browser.wait("window.companionPreviewLive === true")
    chapter.write_text(good, encoding="utf-8")
    browser.wait("document.title === 'How to Use This Companion'")
    assert "The source has problems" not in browser.evaluate("document.body.innerText")


def test_other_host_names_are_refused(server: preview.PreviewServer) -> None:
    request = urllib.request.Request(server.url, headers={"Host": f"evil.example:{server.server_address[1]}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=WAIT)
    assert caught.value.code == 403
    localhost = server.url.replace("127.0.0.1", "localhost")
    assert get(localhost)[0] == 200


def test_the_command_serves_reports_problems_and_stops_on_ctrl_c(site: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "companion", "preview", "source", "--port", str(port)],
        cwd=site,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(3 * WAIT, process.kill)  # bounds the blocking readline below
    watchdog.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # until the server is up
        assert f"http://127.0.0.1:{port}/" in line
        assert "Preview Test" in get(f"http://127.0.0.1:{port}/")[2].decode("utf-8")
        chapter = site / CHAPTER
        chapter.write_text(chapter.read_text().replace("title:", "titel:", 1), encoding="utf-8")
        poll(f"http://127.0.0.1:{port}/", lambda text: "titel" in text)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=WAIT)
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=WAIT)
    assert process.returncode == 0
    assert "01-introduction.md:2:1: error C012: unknown key `titel`" in err
    assert "Traceback" not in err
