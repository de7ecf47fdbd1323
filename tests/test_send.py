"""`companion send` against a real SMTP server (aiosmtpd) on 127.0.0.1: what it receives, byte for byte."""

from __future__ import annotations

import email
import shutil
import smtplib
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from companion.cli import main
from companion.core.errors import CompanionError
from companion.deliver import send as sending

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# The test server allows AUTH without TLS on loopback on purpose; aiosmtpd warns about that.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
USER, PASSWORD = "reader", "correct horse battery staple"


class Recorder:
    """An aiosmtpd handler that keeps every envelope, and whether it arrived encrypted."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage, bool]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(message, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message, session.ssl is not None))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == USER.encode()
            and data.password == PASSWORD.encode()
        )
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., tuple[Recorder, str]]]:
    """Start an aiosmtpd server on 127.0.0.1 with the given SMTP options; returns (recorder, "host:port")."""
    started: list[Controller] = []

    def start(**options: Any) -> tuple[Recorder, str]:
        recorder = Recorder()
        if options.pop("auth", False):
            options["authenticator"] = recorder.authenticate
        options.setdefault("auth_require_tls", False)
        port = free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=5, **options)
        controller.start()
        started.append(controller)
        return recorder, f"127.0.0.1:{port}"

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No settings from the developer's environment, and a HOME without ~/.netrc."""
    for name in ("COMPANION_SMTP", "COMPANION_FROM", "COMPANION_SMTP_USER", "COMPANION_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundled companion's EPUB and kepub, and a small PDF, built once for this module."""
    from companion import pipeline

    out = tmp_path_factory.mktemp("books")
    result = pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles"), ("epub", "kepub"))
    pipeline.write(result, out)
    pdf = out / "never-let-me-go.pdf"
    pdf.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 64 + b"\n%%EOF\n")
    return {"epub": out / "never-let-me-go.epub", "kepub": out / "never-let-me-go.kepub.epub", "pdf": pdf}


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), or skip."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, timeout=30, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate: {done.stderr.decode(errors='replace')[:200]}")
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run_send(file: Path, smtp: str, *extra: str) -> Result:
    """`companion send FILE --to me@kindle.com --from me@example.com --smtp SMTP EXTRA...`."""
    return run("send", str(file), "--to", "me@kindle.com", "--from", "me@example.com", "--smtp", smtp, *extra)


def attachment(message: EmailMessage) -> EmailMessage:
    parts = list(message.iter_attachments())
    assert len(parts) == 1
    part = parts[0]
    assert isinstance(part, EmailMessage)
    return part


def test_epub_arrives_byte_for_byte(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path]
) -> None:
    recorder, where = smtp_server()
    result = run_send(books["epub"], where, "--timeout", "10")
    assert result.exit_code == 0, result.output
    assert "sent never-let-me-go.epub" in result.stdout
    [(mail_from, rcpt_tos, message, encrypted)] = recorder.messages
    assert (mail_from, rcpt_tos, encrypted) == ("me@example.com", ["me@kindle.com"], False)
    assert message["To"] == "me@kindle.com" and message["From"] == "me@example.com"
    part = attachment(message)
    assert part.get_content_type() == "application/epub+zip"
    assert part.get_filename() == "never-let-me-go.epub"
    assert part.get_content_disposition() == "attachment"
    assert part.get_payload(decode=True) == books["epub"].read_bytes()


@pytest.mark.parametrize(
    ("kind", "media_type"), [("pdf", "application/pdf"), ("kepub", "application/epub+zip")]
)
def test_media_types(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path], kind: str, media_type: str
) -> None:
    recorder, where = smtp_server()
    sending.send(books[kind], "me@kindle.com", "me@example.com", where, timeout=10)
    part = attachment(recorder.messages[0][2])
    assert part.get_content_type() == media_type
    assert part.get_filename() == books[kind].name
    assert part.get_payload(decode=True) == books[kind].read_bytes()


def test_env_defaults(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, where = smtp_server()
    monkeypatch.setenv("COMPANION_SMTP", where)
    monkeypatch.setenv("COMPANION_FROM", "club@example.org")
    result = run("send", str(books["pdf"]), "--to", "me@kindle.com", "--subject", "convert")
    assert result.exit_code == 0, result.output
    assert recorder.messages[0][0] == "club@example.org"
    assert recorder.messages[0][2]["Subject"] == "convert"


def test_too_large_is_refused_before_connecting(
    smtp_server: Callable[..., tuple[Recorder, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, where = smtp_server()
    big = tmp_path / "huge.epub"
    with big.open("wb") as handle:  # sparse: no 50 MB actually written
        handle.truncate(sending.MAX_BYTES + 1)

    def no_connection(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("connected although the file is too large")

    monkeypatch.setattr(smtplib, "SMTP", no_connection)
    monkeypatch.setattr(smtplib, "SMTP_SSL", no_connection)
    result = run_send(big, where, "--timeout", "5")
    assert result.exit_code == 1
    assert "error D002" in result.stderr and "50 MB" in result.stderr
    assert "Traceback" not in result.output
    assert recorder.messages == []


def test_exactly_the_limit_is_accepted_locally(tmp_path: Path) -> None:
    edge = tmp_path / "edge.pdf"
    with edge.open("wb") as handle:
        handle.truncate(sending.MAX_BYTES)
    assert sending.check_file(edge) == sending.MAX_BYTES


@pytest.mark.parametrize(
    ("name", "code"), [("missing.epub", "D001"), ("notes.txt", "D003")]
)  # fmt: skip
def test_file_problems(tmp_path: Path, name: str, code: str) -> None:
    if name.endswith(".txt"):
        (tmp_path / name).write_text("hello")
    result = run_send(tmp_path / name, f"127.0.0.1:{free_port()}")
    assert result.exit_code == 1
    assert f"error {code}" in result.stderr
    assert "Traceback" not in result.output


def test_connection_refused(books: dict[str, Path]) -> None:
    where = f"127.0.0.1:{free_port()}"  # nothing listens there
    result = run_send(books["epub"], where, "--timeout", "5")
    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{where}: error D004: cannot connect to {where}")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--to", "not-an-address", "--from", "me@example.com"],
        ["--to", "me@kindle.com", "--from", "me@example.com\r\nBcc: x@evil.test"],
        ["--to", "me@kindle.com"],  # no --from and no COMPANION_FROM
        ["--to", "me@kindle.com", "--from", "me@example.com", "--smtp", "host:port"],
        ["--to", "me@kindle.com", "--from", "me@example.com", "--password", "secret"],
        ["--to", "me@kindle.com", "--from", "me@example.com", "--ssl", "--starttls"],
    ],
)
def test_usage_errors(books: dict[str, Path], args: list[str]) -> None:
    result = run("send", str(books["epub"]), *args)
    assert result.exit_code == 2, result.output


def test_help_has_no_password_option() -> None:
    result = run("send", "--help")
    assert result.exit_code == 0
    assert "--password" not in result.stdout and "COMPANION_SMTP_PASSWORD" in result.stdout


def test_login_with_password_from_env(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, where = smtp_server(auth=True, auth_required=True)
    monkeypatch.setenv("COMPANION_SMTP_PASSWORD", PASSWORD)
    result = run_send(books["epub"], where, "--user", USER, "--timeout", "5")
    assert result.exit_code == 0, result.output
    assert recorder.logins == [USER]
    assert len(recorder.messages) == 1


@pytest.mark.parametrize("give_user", [True, False])
def test_login_with_password_from_netrc(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path], clean_env: Path, give_user: bool
) -> None:
    recorder, where = smtp_server(auth=True, auth_required=True)
    netrc = clean_env / ".netrc"
    netrc.write_text(f'machine 127.0.0.1 login {USER} password "{PASSWORD}"\n')
    netrc.chmod(0o600)
    extra = ["--user", USER] if give_user else []
    result = run_send(books["epub"], where, *extra)
    assert result.exit_code == 0, result.output
    assert recorder.logins == [USER]
    assert len(recorder.messages) == 1


def test_wrong_password(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder, where = smtp_server(auth=True, auth_required=True)
    monkeypatch.setenv("COMPANION_SMTP_USER", USER)
    monkeypatch.setenv("COMPANION_SMTP_PASSWORD", "wrong")
    result = run_send(books["epub"], where, "--timeout", "5")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{where}: error D005: {where} refused the login for {USER}: 535")
    assert "wrong" not in result.stderr and "Traceback" not in result.output
    assert recorder.messages == []


def test_user_without_password(books: dict[str, Path]) -> None:
    result = run_send(books["epub"], f"127.0.0.1:{free_port()}", "--user", USER)
    assert result.exit_code == 1
    assert "error D005: no password for reader at 127.0.0.1" in result.stderr


def test_starttls_with_login(
    smtp_server: Callable[..., tuple[Recorder, str]],
    books: dict[str, Path],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server only allows AUTH after STARTTLS (aiosmtpd's default) and insists on STARTTLS.
    recorder, where = smtp_server(
        auth=True, auth_required=True, auth_require_tls=True, require_starttls=True,
        tls_context=server_context(certificate),
    )  # fmt: skip
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test certificate
    monkeypatch.setenv("COMPANION_SMTP_PASSWORD", PASSWORD)
    result = run_send(books["epub"], where, "--user", USER, "--starttls")
    assert result.exit_code == 0, result.output
    assert "encrypted" in result.stdout
    [(_from, _to, message, encrypted)] = recorder.messages
    assert encrypted and recorder.logins == [USER]
    assert attachment(message).get_payload(decode=True) == books["epub"].read_bytes()


def test_untrusted_certificate_is_refused(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path], certificate: tuple[Path, Path]
) -> None:
    recorder, where = smtp_server(tls_context=server_context(certificate))
    with pytest.raises(CompanionError) as caught:
        sending.send(
            books["epub"],
            "me@kindle.com",
            "me@example.com",
            where,
            timeout=10,
            tls_context=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
        )  # verifies, trusts nothing
    assert caught.value.diagnostics[0].code == "D040"
    assert "presented a self-signed certificate" in caught.value.diagnostics[0].message
    assert recorder.messages == []


def test_starttls_required_but_not_offered(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path]
) -> None:
    recorder, where = smtp_server()
    with pytest.raises(CompanionError) as caught:
        sending.send(books["epub"], "me@kindle.com", "me@example.com", where, starttls=True, timeout=10)
    assert caught.value.diagnostics[0].code == "D007"
    assert "does not offer STARTTLS" in caught.value.diagnostics[0].message
    assert recorder.messages == []


def test_implicit_tls(
    smtp_server: Callable[..., tuple[Recorder, str]], books: dict[str, Path], certificate: tuple[Path, Path]
) -> None:
    recorder, where = smtp_server(ssl_context=server_context(certificate))
    client = ssl.create_default_context(cafile=str(certificate[0]))
    sent = sending.send(books["pdf"], "me@kindle.com", "me@example.com", where, implicit_tls=True,
                        tls_context=client, timeout=10)  # fmt: skip
    assert sent.encrypted
    part = attachment(recorder.messages[0][2])
    assert part.get_payload(decode=True) == books["pdf"].read_bytes()


def test_loopback_detection() -> None:  # a password goes unencrypted to loopback only
    assert not sending._is_loopback("mail.example.com")
    assert (
        sending._is_loopback("127.0.0.1")
        and sending._is_loopback("::1")
        and sending._is_loopback("localhost")
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("smtp.example.com", ("smtp.example.com", 25)), ("smtp.example.com:587", ("smtp.example.com", 587)),
     ("[::1]:2525", ("::1", 2525)), ("127.0.0.1:1", ("127.0.0.1", 1))],
)  # fmt: skip
def test_parse_server(text: str, expected: tuple[str, int]) -> None:
    assert sending.parse_server(text) == expected


@pytest.mark.parametrize("text", ["", ":25", "host:0", "host:65536", "host:x", "a:b:c", "[::1]x"])
def test_parse_server_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        sending.parse_server(text)
