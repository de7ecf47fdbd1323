"""What `companion serve` and `companion preview` share as HTTP servers: a threading server that stays
quiet unless verbose, a handler that answers GET and HEAD the same way (whole responses, or, for
`serve`, conditional and partial ones through httpcache), and binding with a diagnostic."""

from __future__ import annotations

import contextlib
import errno
import io
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from companion.core import httpcache
from companion.core.errors import CompanionError, diagnostic

S = TypeVar("S", bound=ThreadingHTTPServer)


MAX_CONNECTIONS = 32
"""Connections served at once (a thread each); one more is answered 503 and closed."""
REQUEST_TIMEOUT = 15.0
"""Seconds a connection may stay silent (idle keep-alive, or a request sent slowly) before it is closed."""
REQUEST_DEADLINE = 30.0
"""Seconds a request line and its headers may take to arrive in all, however they trickle in."""
_BUSY = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class QuietServer(ThreadingHTTPServer):
    """A threading HTTP server (IPv4 or IPv6) that reports handler errors only when verbose, with at
    most MAX_CONNECTIONS threads."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], verbose: bool = False
    ) -> None:
        self.verbose = verbose
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if self.verbose:
            super().handle_error(request, client_address)


class _Deadline(io.RawIOBase):
    """The connection's reading side, for the request: no read waits past `until` (a client sending a
    byte every few seconds is never silent for REQUEST_TIMEOUT, but may not hold a thread for ever)."""

    def __init__(self, connection: socket.socket, timeout: float | None) -> None:
        self.connection, self.timeout, self.until = connection, timeout, float("inf")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.until - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request took too long to arrive")
        self.connection.settimeout(min(left, self.timeout) if self.timeout is not None else left)
        try:
            return self.connection.recv_into(buffer)
        finally:
            self.connection.settimeout(self.timeout)  # the answer is written as before


class QuietHandler(BaseHTTPRequestHandler):
    """GET and HEAD both go to `_answer(body)`; requests are logged only when the server is verbose."""

    server: QuietServer
    sys_version = ""
    timeout = REQUEST_TIMEOUT  # (socketserver sets it on the connection)

    def setup(self) -> None:
        super().setup()
        self._reading = _Deadline(self.connection, self.connection.gettimeout())
        self.rfile = io.BufferedReader(self._reading)

    def handle_one_request(self) -> None:
        self._reading.until = time.monotonic() + REQUEST_DEADLINE
        super().handle_one_request()

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A bad request is the client's mistake, answered 4xx: a method other than GET and HEAD is 405
        (not the library's 501), an HTTP version we do not speak 400 (not 505)."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD"
        elif code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:  # also the client's request
            code = HTTPStatus.BAD_REQUEST
        if self.request_version == "HTTP/0.9":  # an unreadable request line: still answer with a status
            self.request_version = "HTTP/1.0"
            self.close_connection = True
        super().send_error(code, message, explain)

    def end_headers(self) -> None:
        if getattr(self, "_status", None) == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        super().end_headers()

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code
        super().send_response(code, message)

    def _answer(self, body: bool) -> None:
        raise NotImplementedError

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def start_response(
        self,
        status: HTTPStatus,
        content_type: str,
        length: int,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        """The status line and headers of a response of `length` bytes (never sniffed by browsers)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()

    def send_bytes(
        self,
        status: HTTPStatus,
        content_type: str,
        data: bytes,
        body: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        """A whole response; `data` is written only when `body` (not for HEAD). A client that hung up
        closes the connection instead of raising."""
        self.start_response(status, content_type, len(data), extra_headers)
        if body:
            try:
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

    def send_representation(
        self,
        content_type: str,
        size: int,
        validators: httpcache.Validators,
        read: Callable[[int, int], Iterable[bytes]],
        body: bool,
        extra_headers: Mapping[str, str] | None = None,
    ) -> None:
        """A response with ETag, Last-Modified and Accept-Ranges that answers If-None-Match,
        If-Modified-Since (304), Range and If-Range (206, 416). `read(start, end)` yields the bytes."""
        answer = httpcache.decide(dict(self.headers.items()), validators, size)
        headers = {**(extra_headers or {}), **dict(answer.headers)}
        if answer.status == HTTPStatus.NOT_MODIFIED:
            self.send_response(answer.status)
            for key, value in headers.items():
                if key != "Content-Disposition":
                    self.send_header(key, value)
            self.end_headers()
            return
        if answer.status == HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE:
            self.send_bytes(
                answer.status, "text/plain; charset=utf-8", b"range not satisfiable\n", body, headers
            )
            return
        self.start_response(answer.status, content_type, answer.length, headers)
        if not body:
            return
        try:
            for chunk in read(answer.start, answer.end):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def listen(make: Callable[[], S], host: str, port: int) -> S:
    """`make()` (a server binding host:port), with a failure to bind as diagnostic D011."""
    try:
        return make()
    except OSError as exc:
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise CompanionError(
            [diagnostic(f"{host}:{port}", "D011", f"cannot listen on {host}:{port}: {reason}")]
        ) from None
