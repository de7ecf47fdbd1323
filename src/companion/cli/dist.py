"""Distribution commands: `companion send` (e-mail to a Send-to-Kindle address), `companion serve`
(an OPDS catalog for reading apps) and `companion push` (copy onto a mounted e-reader). Options only;
the work is in send.py, serve.py and push.py."""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import click

from companion.cli.errors import handle_errors
from companion.deliver import send as sending
from companion.deliver import serve as serving


def _address(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not sending.valid_address(value):
        raise click.BadParameter(f"{value!r} is not an e-mail address (name@example.com)", param=param)
    return value


def _server(_ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        sending.parse_server(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None
    return value


def _subject(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # C0, DEL and C1 controls, and the line and paragraph separators (email headers break lines there)
    if value is not None and any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        raise click.BadParameter("must be one line, without control characters", param=param)
    return value


def _timeout(_ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not math.isfinite(value) or value > 3600:
        raise click.BadParameter("must be a number of seconds from 1 to 3600", param=param)
    return value


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--to",
    "to",
    required=True,
    metavar="ADDRESS",
    callback=_address,
    help="Recipient, e.g. your Send-to-Kindle address (name@kindle.com).",
)
@click.option(
    "--from",
    "sender",
    required=True,
    metavar="ADDRESS",
    envvar="COMPANION_FROM",
    show_envvar=True,
    callback=_address,
    help="Sender; must be an address the recipient accepts (Amazon's approved list).",
)
@click.option(
    "--smtp",
    "server",
    default=sending.DEFAULT_SMTP,
    show_default=True,
    metavar="HOST:PORT",
    envvar="COMPANION_SMTP",
    show_envvar=True,
    callback=_server,
    help="The SMTP server.",
)
@click.option(
    "--user",
    metavar="NAME",
    envvar="COMPANION_SMTP_USER",
    show_envvar=True,
    help="Log in as NAME; the password comes from COMPANION_SMTP_PASSWORD or ~/.netrc.",
)
@click.option("--ssl", "implicit_tls", is_flag=True, help="Connect with implicit TLS (usually port 465).")
@click.option(
    "--starttls/--no-starttls",
    default=None,
    help="Require STARTTLS, or never use it (default: use it when the server offers it).",
)
@click.option(
    "--cafile",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="PATH",
    help="Also trust the CA certificates in PATH (PEM), for a server with a private or self-signed "
    "certificate. SSL_CERT_FILE=PATH instead replaces the system's CAs.",
)
@click.option("--subject", metavar="TEXT", callback=_subject, help="Subject line (default: the file name).")
@click.option(
    "--timeout",
    callback=_timeout,
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the server.",
)
@handle_errors
def send(
    file: Path,
    to: str,
    sender: str,
    server: str,
    user: str | None,
    implicit_tls: bool,
    starttls: bool | None,
    cafile: Path | None,
    subject: str | None,
    timeout: float,
) -> None:
    """E-mail FILE (an .epub, .kepub.epub or .pdf up to 50 MB) as an attachment to ADDRESS.

    The password is never a command-line option: set COMPANION_SMTP_PASSWORD or add
    `machine HOST login NAME password SECRET` to ~/.netrc (mode 600).
    """
    if implicit_tls and starttls is not None:
        raise click.UsageError("--ssl already encrypts the connection; drop --starttls/--no-starttls")
    sent = sending.send(
        file,
        to,
        sender,
        server,
        user=user,
        implicit_tls=implicit_tls,
        starttls=starttls,
        subject=subject,
        timeout=timeout,
        cafile=cafile,
    )
    how = ", encrypted" if sent.encrypted else ""
    click.echo(
        f"sent {sent.file.name} ({sent.size / 1024 / 1024:.1f} MB) to {sent.to} via {sent.server}{how}"
    )


@click.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("dist"), metavar="[DIR]")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; 0.0.0.0 makes the catalog visible on your network.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8080,
    show_default=True,
    help="Port to listen on; 0 picks a free one.",
)
@click.option("--verbose", is_flag=True, help="Log every request to stderr.")
@handle_errors
def serve(folder: Path, host: str, port: int, verbose: bool) -> None:
    """Serve DIR (default dist/) as an OPDS catalog for reading apps (KOReader, Thorium, Moon+ ...).

    The catalog is at the printed URL (OPDS 1.2, Atom; OPDS 2.0, JSON, at /catalog.json); add it in the
    app as an OPDS catalog. Downloads can be resumed. Ctrl-C stops.
    """
    serving.serve(folder, host, port, verbose, announce=click.echo)


@click.command()
@click.argument("folder", type=click.Path(path_type=Path), default=Path("dist"), metavar="[DIR]")
@click.option(
    "--device",
    type=click.Path(path_type=Path),
    metavar="PATH",
    help="The folder where the reader is mounted (default: the one e-reader found among the mounted drives).",
)
@click.option("--replace", is_flag=True, help="Overwrite a different book of the same name on the reader.")
@handle_errors
def push(folder: Path, device: Path | None, replace: bool) -> None:
    """Copy the books built in DIR (default dist/) onto a mounted e-reader.

    A Kobo gets the .kepub.epub, PocketBook, Tolino and other EPUB readers the .epub. A Kindle cannot
    read EPUB over USB: use `companion send` for it.
    """
    from companion.deliver import push as pushing

    reader = pushing.choose_device(device)
    for done in pushing.push(folder, reader, replace):
        size = f"{done.size / 1024 / 1024:.1f} MB"
        if done.state == "unchanged":
            click.echo(f"unchanged: {done.source.name} is already on the {reader.kind} at {done.target}")
        else:
            where = "to" if done.state == "copied" else "on"
            click.echo(f"{done.state} {done.source.name} ({size}) {where} the {reader.kind} at {done.target}")
    click.echo(f"eject the {reader.kind} before unplugging it")
