"""`companion send`: e-mail a built book to a Send-to-Kindle style address over SMTP.

The message is built with the standard `email` package, one attachment with the book's MIME type.
Everything that can be checked locally (the file exists, its type, the 50 MB limit, the --cafile) is
checked before any connection is made. The connection uses implicit TLS (`ssl=True`), STARTTLS when the
server offers it (or when required), and logs in when a user is known; the password comes from the
environment (COMPANION_SMTP_PASSWORD) or ~/.netrc, never from the command line, and is never sent over
an unencrypted connection except to a loopback address. The server's certificate is checked against the
system's CAs (OpenSSL's, which SSL_CERT_FILE and SSL_CERT_DIR replace) plus any --cafile; a refused
certificate is reported with its reason (expired, self-signed, unknown CA, another host name) and what
to do about it; for another host name, the names on the certificate, read through a second handshake
that checks the chain but not the name and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import netrc
import os
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from companion.core import gate
from companion.core.errors import CompanionError, Diagnostic, diagnostic

MAX_BYTES = 50 * 1024 * 1024
"""Send to Kindle's limit for one e-mailed document."""

DEFAULT_SMTP = "localhost:25"
MEDIA_TYPES = (
    (".kepub.epub", "application/epub+zip"),
    (".epub", "application/epub+zip"),
    (".pdf", "application/pdf"),
)
PASSWORD_ENV = "COMPANION_SMTP_PASSWORD"


@dataclass(frozen=True)
class Sent:
    """What was sent, for the command's one-line report."""

    file: Path
    size: int
    to: str
    server: str
    encrypted: bool
    logged_in: bool


def media_type(path: Path) -> str | None:
    """The attachment's MIME type for a book file, or None for a file we do not send."""
    name = path.name.lower()
    return next((kind for suffix, kind in MEDIA_TYPES if name.endswith(suffix)), None)


def parse_server(text: str, default_port: int = 25) -> tuple[str, int]:
    """`host`, `host:port`, `[v6]:port` -> (host, port); ValueError when malformed."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"expected HOST:PORT, got {text!r}")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
        if ":" in host:  # a bare IPv6 address, or a typo
            try:
                ipaddress.IPv6Address(host)
            except ValueError:
                raise ValueError(f"expected HOST:PORT or [IPv6]:PORT, got {text!r}") from None
    if not host or any(ch.isspace() for ch in host):
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"port must be a number from 1 to 65535, got {port_text!r}")
    return host, int(port_text)


def valid_address(address: str) -> bool:
    """A plain addr-spec: something@somewhere, no spaces, brackets, separators or control characters."""
    if any(ch.isspace() or ch in '<>,;"\\()[]' or ord(ch) < 32 or ord(ch) == 127 for ch in address):
        return False
    local, at, domain = address.rpartition("@")
    return bool(at and local and domain)


def build_message(path: Path, data: bytes, to: str, sender: str, subject: str | None = None) -> EmailMessage:
    """The e-mail: a short text part and the book as an attachment with its MIME type and file name."""
    kind = media_type(path) or "application/octet-stream"
    maintype, subtype = kind.split("/", 1)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject if subject is not None else path.name
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(f"{path.name} is attached, sent by companion.\n")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=path.name)
    return message


def check_file(path: Path) -> int:
    """The file's size; CompanionError when it is missing, not a book, or over the limit."""
    try:
        size = path.stat().st_size if path.is_file() else -1
    except OSError as exc:
        raise CompanionError([diagnostic(path, "D001", f"cannot read {path}: {exc.strerror}")]) from None
    if size < 0:
        what = "is not a file" if path.exists() else "does not exist"
        raise CompanionError([diagnostic(path, "D001", f"{path} {what}")])
    if media_type(path) is None:
        raise CompanionError([diagnostic(path, "D003", f"{path.name} is not an EPUB, kepub or PDF")])
    if size > MAX_BYTES:
        raise CompanionError(
            [diagnostic(path, "D002", f"{path.name} is {size / 1024 / 1024:.1f} MB; the limit is 50 MB")]
        )
    return size


def credentials(host: str, user: str | None, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(user, password) for the server, or None when no login is configured.

    The user comes from `user` (the --user option or COMPANION_SMTP_USER), else from a ~/.netrc entry for
    the host; the password from COMPANION_SMTP_PASSWORD, else from ~/.netrc (`machine HOST`).
    """
    env = os.environ if env is None else env
    entry: tuple[str, str | None, str] | None = None
    netrc_file = Path.home() / ".netrc"
    if netrc_file.is_file():
        try:  # netrc's own default lookup, with its check that the file is private to the user
            entry = netrc.netrc().authenticators(host)
        except (netrc.NetrcParseError, OSError) as exc:
            raise CompanionError(
                [diagnostic(netrc_file, "D005", f"cannot use {netrc_file}: {exc}")]
            ) from None
    password = env.get(PASSWORD_ENV)
    if user is None:
        if entry is None or not entry[0]:
            return None
        user = entry[0]
    if password is None and entry is not None and entry[0] in ("", user):
        password = entry[2]
    if password is None:
        raise CompanionError(
            [
                diagnostic(
                    host,
                    "D005",
                    f"no password for {user} at {host}: set {PASSWORD_ENV} or add it to {netrc_file}",
                )
            ]
        )
    return user, password


def trusted_context(cafile: Path | None = None) -> ssl.SSLContext:
    """The system's trusted CAs (SSL_CERT_FILE / SSL_CERT_DIR when set), plus the CAs in `cafile`."""
    context = ssl.create_default_context()
    if cafile is not None:
        try:
            context.load_verify_locations(cafile=str(cafile))
        except FileNotFoundError:
            raise CompanionError([diagnostic(cafile, "D041", f"{cafile} does not exist")]) from None
        except (ssl.SSLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
            raise CompanionError(
                [diagnostic(cafile, "D041", f"{cafile} holds no usable CA certificate ({reason})")]
            ) from None
    return context


# OpenSSL's X509_V_ERR_* codes that a user can act on, with the sentence and the hint for each.
_NOT_YET_VALID, _EXPIRED = 9, 10
_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN = 18, 19
_UNKNOWN_ISSUER, _UNKNOWN_ISSUER_LEAF = 20, 21
_HOST_MISMATCH, _IP_MISMATCH = 62, 64
_TRUST_HINT = (
    "if you trust this server, pass its CA certificate (PEM) with --cafile PATH, or set SSL_CERT_FILE"
)


def certificate_problem(
    exc: ssl.SSLCertVerificationError, where: str, host: str, names: Sequence[str] = ()
) -> Diagnostic:
    """Diagnostic D040 for a refused certificate: the reason in words, and what to do about it
    (`names`: the host names the certificate is good for, when they could be read)."""
    code = exc.verify_code
    today = dt.date.today().isoformat()
    if code == _EXPIRED:
        text = f"the certificate of {where} has expired"
        hint = f"its administrator must renew it; or, if this computer's date ({today}) is wrong, correct it"
    elif code == _NOT_YET_VALID:
        text = f"the certificate of {where} is not valid yet"
        hint = f"check this computer's date and time (it says {today})"
    elif code in (_SELF_SIGNED, _SELF_SIGNED_IN_CHAIN):
        text = f"{where} presented a self-signed certificate"
        hint = _TRUST_HINT
    elif code in (_UNKNOWN_ISSUER, _UNKNOWN_ISSUER_LEAF):
        text = f"the certificate of {where} is signed by a CA this computer does not trust"
        hint = _TRUST_HINT
    elif code in (_HOST_MISMATCH, _IP_MISMATCH):
        text = f"the certificate of {where} is not valid for {host}"
        hint = "give --smtp the host name the certificate is for, as your mail provider spells it"
        if names:
            text += f" (it is for {', '.join(names)})"
            hint = f"give --smtp {names[0]}:{where.rsplit(':', 1)[1]}, the name on the certificate"
    else:
        text = f"the certificate of {where} was refused: {exc.verify_message or exc.reason}"
        hint = ""
    return diagnostic(where, "D040", text, hint)


def certificate_names(
    host: str, port: int, implicit_tls: bool, context: ssl.SSLContext, timeout: float
) -> list[str]:
    """The names on a certificate refused only for its host name: a second handshake that still checks
    the chain but not the name, then nothing sent. [] when that fails too."""
    context.check_hostname = False  # the chain is still verified (CERT_REQUIRED)
    client: smtplib.SMTP | None = None
    try:
        if implicit_tls:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
            client.starttls(context=context)
        peer = client.sock.getpeercert() if isinstance(client.sock, ssl.SSLSocket) else None
    except (smtplib.SMTPException, OSError):
        return []
    finally:
        if client is not None:
            client.close()
    alt: Sequence[tuple[str, str]] = (peer or {}).get("subjectAltName", ())  # type: ignore[assignment]
    return [str(pair[1]) for pair in alt if pair[0] in ("DNS", "IP Address")]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def send(
    path: Path,
    to: str,
    sender: str,
    server: str = DEFAULT_SMTP,
    *,
    user: str | None = None,
    implicit_tls: bool = False,
    starttls: bool | None = None,
    subject: str | None = None,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    tls_context: ssl.SSLContext | None = None,
    cafile: Path | None = None,
) -> Sent:
    """Send `path` to `to`; CompanionError (one diagnostic) for every problem, local or remote.

    `starttls`: None uses STARTTLS when the server offers it, True requires it, False never uses it.
    """
    size = check_file(path)
    host, port = parse_server(server, 465 if implicit_tls else 25)
    where = f"{host}:{port}"
    login = credentials(host, user, env)
    try:
        data = gate.read(path, None, MAX_BYTES)  # a regular file only, read at most to the limit
    except gate.Refused as exc:
        raise CompanionError([diagnostic(path, "D001", f"cannot read {path}: {exc}")]) from None
    message = build_message(path, data, to, sender, subject)
    context = tls_context or trusted_context(cafile)
    client: smtplib.SMTP | None = None
    encrypted = implicit_tls

    def fail(code: str, text: str, hint: str = "") -> CompanionError:
        return CompanionError([diagnostic(where, code, text, hint)])

    try:
        if implicit_tls:
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        client.ehlo_or_helo_if_needed()
        if not implicit_tls and starttls is not False:
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
                encrypted = True
            elif starttls:
                raise fail("D007", f"the mail server at {where} does not offer STARTTLS")
        if login is not None:
            if not encrypted and not _is_loopback(host):
                raise fail(
                    "D007",
                    f"refusing to send the password for {login[0]} unencrypted to {where}",
                    "drop --no-starttls so that the password goes over STARTTLS, or use --ssl (port 465)"
                    if starttls is False
                    else "use --ssl (port 465), or a server that offers STARTTLS",
                )
            client.login(*login)
        client.send_message(message, from_addr=sender, to_addrs=[to])
    except CompanionError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise fail(
            "D005",
            f"{where} refused the login for {login[0] if login else '?'}: {_reply(exc)}",
            f"check the user name and the password ({PASSWORD_ENV} or ~/.netrc); "
            "Gmail, Outlook and most providers want an app password",
        ) from None
    except smtplib.SMTPNotSupportedError:
        if starttls is False and not encrypted:
            hint = "it may offer login only after STARTTLS: drop --no-starttls"
        else:
            hint = "drop --user (and COMPANION_SMTP_USER) if the server needs no login, or try --ssl"
        who = login[0] if login else "?"
        raise fail("D005", f"{where} offers no login on this connection (for {who})", hint) from None
    except smtplib.SMTPRecipientsRefused as exc:
        reasons = "; ".join(f"{rcpt}: {_reply(err)}" for rcpt, err in exc.recipients.items())
        raise fail("D006", f"{where} refused the recipient {reasons}") from None
    except smtplib.SMTPSenderRefused as exc:
        raise fail("D006", f"{where} refused the sender {exc.sender}: {_reply(exc)}") from None
    except smtplib.SMTPDataError as exc:
        raise fail("D006", f"{where} refused the message: {_reply(exc)}") from None
    except smtplib.SMTPResponseException as exc:
        raise fail("D006", f"{where} answered {_reply(exc)}") from None
    except ssl.SSLCertVerificationError as exc:
        names: list[str] = []
        if exc.verify_code in (_HOST_MISMATCH, _IP_MISMATCH) and tls_context is None:
            names = certificate_names(host, port, implicit_tls, trusted_context(cafile), timeout)
        raise CompanionError([certificate_problem(exc, where, host, names)]) from None
    except ssl.SSLError as exc:
        raise fail("D007", f"TLS with {where} failed: {exc.reason or exc}") from None
    except smtplib.SMTPServerDisconnected as exc:
        raise fail("D004", f"{where} closed the connection: {exc or 'no reason given'}") from None
    except smtplib.SMTPException as exc:
        raise fail("D006", f"{where}: {exc}") from None
    except TimeoutError:
        raise fail("D004", f"no answer from {where} within {timeout:g} s") from None
    except socket.gaierror as exc:
        raise fail("D004", f"cannot resolve {host}: {exc.strerror}") from None
    except OSError as exc:
        raise fail("D004", f"cannot connect to {where}: {exc.strerror or exc}") from None
    finally:
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
    return Sent(path, size, to, where, encrypted, login is not None)


def _reply(exc: smtplib.SMTPResponseException | tuple[int, bytes]) -> str:
    code, text = (exc.smtp_code, exc.smtp_error) if isinstance(exc, smtplib.SMTPResponseException) else exc
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(str(text).split())}"
