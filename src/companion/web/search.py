"""render: the web edition's search index, built at build time with lunr.py for lunr.js in the browser.

Each reading stage gets its own index of its own pages only, so nothing a stage hides can be
found (or shown as a result's title or words) from it. The text is cut at every heading (h1-h3,
each of which has an id), so that a result opens at the place it was found. lunr.py writes
indexes that lunr.js 2.3.9 loads (its English stemmer and stop words, the same on both sides);
the page titles, addresses and a short excerpt travel with the index for the result list.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import html as lxml_html

_HEADINGS = {"h1", "h2", "h3"}
_BLOCKS = {
    "p",
    "li",
    "dt",
    "dd",
    "div",
    "section",
    "aside",
    "blockquote",
    "figure",
    "figcaption",
    "pre",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "dl",
    "br",
}
"""Where words are apart even with no space in the markup."""
EXCERPT = 160
"""Characters of a result's text shown under its title."""


@dataclass(frozen=True)
class Chunk:
    href: str
    """page.html#heading-id"""
    title: str
    text: str


def chunks(file: str, page_title: str, markup: str) -> list[Chunk]:
    """One page's text, cut at its headings; the first chunk is the page's own title."""
    root = lxml_html.fragment_fromstring(markup, create_parent="div")
    found: list[list[str]] = []  # [anchor, heading, text...]

    def visit(element: lxml_html.HtmlElement) -> None:
        if not isinstance(element.tag, str):
            return
        if element.tag in _HEADINGS:
            heading = " ".join(element.text_content().split())
            found.append([element.get("id") or "", heading])
            return
        gap = " " if element.tag in _BLOCKS else ""
        if found:
            found[-1].append(gap + (element.text or ""))
        for child in element:
            visit(child)
            if found:
                found[-1].append(child.tail or "")
        if found:
            found[-1].append(gap)

    visit(root)
    out = []
    for anchor, heading, *words in found:
        text = " ".join("".join(words).split())
        title = heading if heading == page_title else f"{page_title}: {heading}"
        out.append(Chunk(f"{file}#{anchor}" if anchor else file, title, text))
    return out


def index_script(found: Iterable[Chunk]) -> bytes:
    """The stage's index as a script that sets `window.companionSearch` (a script, not JSON to
    fetch, so that search works from the file system too)."""
    from lunr import lunr  # only a web build needs it: `companion check` starts without

    docs = list(found)
    index = lunr(
        ref="id",
        fields=({"field_name": "title", "boost": 5}, "body"),
        documents=[{"id": str(n), "title": c.title, "body": c.text} for n, c in enumerate(docs)],
    )
    data = {
        "index": index.serialize(),
        "docs": [[c.href, c.title, _excerpt(c.text)] for c in docs],
    }
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    safe = text.replace("</", "<\\/")  # never ends the script element it is read into
    return ("window.companionSearch=" + safe + ";\n").encode("utf-8")


def _excerpt(text: str) -> str:
    if len(text) <= EXCERPT:
        return text
    cut = text[:EXCERPT].rsplit(" ", 1)[0]
    return cut + "…"
