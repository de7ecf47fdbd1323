"""`companion send` against a real SMTP server (aiosmtpd) with TLS, and certificates made here with the
`cryptography` package: a private CA and its server certificate, a self-signed one, an expired one and
one for another host. Each refusal names its reason and what to do; --cafile makes the private CA and
the self-signed certificate work."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from companion.cli import main

aiosmtpd = pytest.importorskip("aiosmtpd")
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
NOW = dt.datetime.now(dt.UTC)
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        [part] = list(message.iter_attachments())  # type: ignore[attr-defined]
        self.messages.append((part.get_payload(decode=True), session.ssl is not None))
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        return AuthResult(success=isinstance(data, LoginPassword) and data.password == b"secret")


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def issue(
    folder: Path,
    stem: str,
    subject: str,
    *,
    signer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    ca: bool = False,
    host: str | None = "127.0.0.1",
    valid: tuple[dt.datetime, dt.datetime] = (NOW - DAY, NOW + 30 * DAY),
) -> tuple[Issued, x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(signer[0].subject if signer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid[0])
        .not_valid_after(valid[1])
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        # What a real CA writes, and what Python 3.13's strict verification (Debian 13) requires.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                signer[0].public_key() if signer else key.public_key()  # type: ignore[arg-type]
            ),
            critical=False,
        )
    )
    if ca:
        usage = dict.fromkeys(
            ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement"), False
        )
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
                **usage,
            ),
            critical=True,
        )
    if host:
        try:
            alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            alt = x509.DNSName(host)
        builder = builder.add_extension(x509.SubjectAlternativeName([alt]), critical=False)
    cert = builder.sign(signer[1] if signer else key, hashes.SHA256())
    paths = Issued(folder / f"{stem}.pem", folder / f"{stem}.key")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths, cert, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Issued]:
    folder = tmp_path_factory.mktemp("pki")
    ca, ca_cert, ca_key = issue(folder, "ca", "Example Private CA", ca=True, host=None)
    signer = (ca_cert, ca_key)
    return {
        "ca": ca,
        "server": issue(folder, "server", "127.0.0.1", signer=signer)[0],
        "self-signed": issue(folder, "self-signed", "127.0.0.1")[0],
        "expired": issue(folder, "expired", "127.0.0.1", signer=signer, valid=(NOW - 30 * DAY, NOW - DAY))[0],
        "other-host": issue(folder, "other-host", "mail.example.com", signer=signer, host="mail.example.com")[
            0
        ],
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server() -> Iterator[Callable[..., tuple[Inbox, str]]]:
    started: list[Controller] = []

    def start(issued: Issued | None = None, implicit: bool = False, **options: Any) -> tuple[Inbox, str]:
        inbox = Inbox()
        if issued is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(issued.cert, issued.key)
            options["ssl_context" if implicit else "tls_context"] = context
        if options.pop("auth", False):
            options["authenticator"] = inbox.authenticate
        port = _free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=5, **options)
        controller.start()
        started.append(controller)
        return inbox, f"127.0.0.1:{port}"

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("COMPANION_SMTP", "COMPANION_FROM", "COMPANION_SMTP_USER", "COMPANION_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "book.epub"
    path.write_bytes(b"PK\x03\x04 an EPUB's bytes " * 100)
    return path


def send(book: Path, where: str, *extra: str) -> Result:
    args = ["send", str(book), "--to", "me@kindle.com", "--from", "me@example.com", "--smtp", where]
    return CliRunner().invoke(main, [*args, "--timeout", "10", *extra], catch_exceptions=False)


def test_private_ca_needs_cafile(
    server: Callable[..., tuple[Inbox, str]], pki: dict[str, Issued], book: Path
) -> None:
    inbox, where = server(pki["server"])
    result = send(book, where)
    assert result.exit_code == 1
    assert result.stderr == (
        f"{where}: error D040: the certificate of {where} is signed by a CA this computer does not trust\n"
        "    hint: if you trust this server, pass its CA certificate (PEM) with --cafile PATH, "
        "or set SSL_CERT_FILE\n"
    )
    assert inbox.messages == []
    result = send(book, where, "--cafile", str(pki["ca"].cert))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(f"to me@kindle.com via {where}, encrypted\n")
    assert inbox.messages == [(book.read_bytes(), True)]


def test_ssl_cert_file_trusts_the_ca(
    server: Callable[..., tuple[Inbox, str]],
    pki: dict[str, Issued],
    book: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, where = server(pki["server"], implicit=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(pki["ca"].cert))
    result = send(book, where, "--ssl")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(", encrypted\n")  # aiosmtpd marks only STARTTLS sessions as TLS
    assert [data for data, _tls in inbox.messages] == [book.read_bytes()]


def test_self_signed(server: Callable[..., tuple[Inbox, str]], pki: dict[str, Issued], book: Path) -> None:
    inbox, where = server(pki["self-signed"], implicit=True)
    result = send(book, where, "--ssl")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{where}: error D040: {where} presented a self-signed certificate\n")
    assert "--cafile PATH" in result.stderr
    result = send(book, where, "--ssl", "--cafile", str(pki["self-signed"].cert))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith(", encrypted\n")
    assert [data for data, _tls in inbox.messages] == [book.read_bytes()]


def test_expired(server: Callable[..., tuple[Inbox, str]], pki: dict[str, Issued], book: Path) -> None:
    inbox, where = server(pki["expired"])
    result = send(book, where, "--cafile", str(pki["ca"].cert))
    assert result.exit_code == 1
    assert result.stderr == (
        f"{where}: error D040: the certificate of {where} has expired\n"
        "    hint: its administrator must renew it; or, if this computer's date "
        f"({dt.date.today().isoformat()}) is wrong, correct it\n"
    )
    assert inbox.messages == []


def test_other_host_name(
    server: Callable[..., tuple[Inbox, str]], pki: dict[str, Issued], book: Path
) -> None:
    inbox, where = server(pki["other-host"])
    result = send(book, where, "--cafile", str(pki["ca"].cert))
    assert result.exit_code == 1
    port = where.rsplit(":", 1)[1]
    assert result.stderr == (
        f"{where}: error D040: the certificate of {where} is not valid for 127.0.0.1 "
        "(it is for mail.example.com)\n"
        f"    hint: give --smtp mail.example.com:{port}, the name on the certificate\n"
    )
    assert inbox.messages == []


def test_other_host_name_on_implicit_tls(
    server: Callable[..., tuple[Inbox, str]], pki: dict[str, Issued], book: Path
) -> None:
    inbox, where = server(pki["other-host"], implicit=True)
    result = send(book, where, "--ssl", "--cafile", str(pki["ca"].cert))
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"{where}: error D040: the certificate of {where} is not valid for 127.0.0.1 "
        "(it is for mail.example.com)\n"
    )
    assert inbox.messages == []


def test_wrong_host_and_unknown_ca_lists_no_names(
    server: Callable[..., tuple[Inbox, str]], pki: dict[str, Issued], book: Path
) -> None:
    """The names are read only through a verified chain: an untrusted certificate says nothing more."""
    _inbox, where = server(pki["other-host"])
    result = send(book, where)
    assert result.exit_code == 1 and "does not trust" in result.stderr and "it is for" not in result.stderr


def test_unusable_cafile(server: Callable[..., tuple[Inbox, str]], book: Path, tmp_path: Path) -> None:
    _inbox, where = server()
    missing = tmp_path / "missing.pem"
    result = send(book, where, "--cafile", str(missing))
    assert result.exit_code == 1
    assert result.stderr == (
        f"{missing}: error D041: {missing} does not exist\n    hint: give a PEM file of CA certificates\n"
    )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    result = send(book, where, "--cafile", str(junk))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"{junk}: error D041: {junk} holds no usable CA certificate (")


def test_no_starttls_with_a_user_says_why_login_failed(
    server: Callable[..., tuple[Inbox, str]],
    pki: dict[str, Issued],
    book: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The server offers AUTH only after STARTTLS (aiosmtpd's default); the password is set.
    inbox, where = server(pki["server"], auth=True)
    monkeypatch.setenv("COMPANION_SMTP_PASSWORD", "secret")
    result = send(book, where, "--user", "reader", "--no-starttls")
    assert result.exit_code == 1
    assert result.stderr == (
        f"{where}: error D005: {where} offers no login on this connection (for reader)\n"
        "    hint: it may offer login only after STARTTLS: drop --no-starttls\n"
    )
    assert "COMPANION_SMTP_PASSWORD" not in result.stderr
    result = send(book, where, "--user", "reader", "--cafile", str(pki["ca"].cert))
    assert result.exit_code == 0, result.stderr
    assert inbox.messages == [(book.read_bytes(), True)]
