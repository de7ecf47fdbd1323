"""render: the web edition's pages, from the EPUB's rendered sections and the one page shell.

A section is rendered for the EPUB (`render(..., "epub", ...)`, the same templates as every
output); its `<section>` element is taken out of the XHTML document, its `epub:type` attributes
(not HTML) dropped and its links to other documents pointed at the site's `.html` pages, then set
in `web/page.html`. Nothing here sees a section that the stage's edition left out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from companion.render.render import Document, RenderedBook, environment
from companion.source import markdown
from companion.web.stages import Stage, label

SKIPPED = {"cover", "titlepage"}
"""Sections the contents page stands in for (cover, title and edition note)."""
LAST = ("copyright",)
"""Front matter that a web reader looks for at the end."""
STYLESHEETS = ("styles/base.css", "styles/epub.css", "assets/web.css")

_EPUB_TYPE = re.compile(r'\sepub:type="[^"]*"')
_PAGEBREAK = re.compile(r'<span id="page-([^"]+)" class="pagebreak"[^>]*></span>')
_FOOTNOTE = re.compile(r'<aside ([^>]*role="doc-footnote"[^>]*)>')
_XHTML_LINK = re.compile(r'href="([A-Za-z0-9_.-]+)\.xhtml(#[^"]*)?"')


@dataclass(frozen=True)
class Link:
    href: str
    title: str


@dataclass(frozen=True)
class Shell:
    """What every page of one site shares."""

    book: Any
    og_image: str
    base_url: str
    """The site's address with a closing slash, or "" when book.yaml gives none."""
    cover_alt: str


def content(document: Document) -> str:
    """The section element of an EPUB document, as HTML for the site."""
    html = document.html
    start = html.index(f'<section id="{document.section.id}"')
    end = html.rindex("</section>") + len("</section>")
    body = _EPUB_TYPE.sub("", html[start:end])
    # The print page, shown in the margin by web.css (read as "Page 9"): DPUB's doc-pagebreak role
    # is for reading systems, and no web page's role.
    body = _PAGEBREAK.sub(r'<span id="page-\1" class="pagebreak" data-page="\1"></span>', body)
    # Each footnote is named, so that two on a page are two distinct regions to a screen reader.
    numbers = iter(range(1, 1000))
    body = _FOOTNOTE.sub(lambda m: f'<aside {m.group(1)} aria-label="Note {next(numbers)}">', body)
    return _XHTML_LINK.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', body)


def web_documents(rendered: RenderedBook) -> list[Document]:
    """The sections that become pages, in the site's reading order."""
    kept = [d for d in rendered.documents if d.section.id not in SKIPPED]
    return [d for d in kept if d.section.id not in LAST] + [d for d in kept if d.section.id in LAST]


def page(
    shell: Shell,
    *,
    kind: str,
    title: str,
    path: str,
    body: str = "",
    stage: Stage | None = None,
    prev: Link | None = None,
    next_: Link | None = None,
    scripts: Sequence[str] = (),
    noindex: bool = False,
    **extra: Any,
) -> bytes:
    """One page of the site; `path` is its place in the site (for its address and the way back to
    the root). `kind` is "section", "contents", "chooser" or "search"; `extra` goes to the template."""
    root = "../" * path.count("/")
    book = shell.book
    name = markdown.plain(book.title)
    full = f"{title} · {name}" if title != name else title
    if stage is not None:
        full += f" ({label(stage)})"
    html = (
        environment()
        .get_template("web/page.html")
        .render(
            book=book,
            title=full,
            description=markdown.plain(book.description).split("\n")[0],
            noindex=noindex,
            og_image=shell.base_url + shell.og_image if shell.base_url else root + shell.og_image,
            og_url=shell.base_url + path.removesuffix("index.html") if shell.base_url else "",
            cover_alt=shell.cover_alt,
            stylesheets=STYLESHEETS,
            scripts=[root + "assets/web.js", *scripts],
            kind=kind,
            stage=stage,
            stage_label=label(stage) if stage is not None else "",
            root=root,
            home="index.html" if stage is not None else root + "index.html",
            content=Markup(body),
            prev=prev,
            next=next_,
            links={},
            **extra,
        )
    )
    return html.encode("utf-8")
