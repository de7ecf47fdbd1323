"""The preview's HTML pages: the EPUB's own documents with a navigation bar and the live-reload script
injected (preview pages only: built outputs never get them), the contents page, the error page and the
not-found page."""

from __future__ import annotations

import html
import re

from companion.core.codes import CODES
from companion.core.errors import Diagnostic
from companion.render.render import RenderedBook
from companion.source.markdown import plain

COVER = "cover.jpg"
_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>\s*")


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


def not_found(version: int) -> bytes:
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8" /><title>Not found</title></head>'
        '<body><h1>Not found</h1><p><a href="/">Contents</a></p></body></html>'
    )
    return _inject(page, "", version)
