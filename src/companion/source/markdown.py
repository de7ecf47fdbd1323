"""The one configured Markdown parser: CommonMark, footnotes, typographic quotes and dashes.

Two entry points share one parser:
- `inspect(text)` lists what a text refers to (cross-references, images, links, raw HTML) with line
  offsets, for the validate stage;
- `to_html(text, ...)` renders it for one output (EPUB or print), resolving cross-references,
  images and footnotes the way that output wants them.
Raw HTML is never passed through: the validate stage refuses it, and the renderer escapes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.footnote import footnote_plugin

from companion.core.cache import memo
from companion.source import gating

Target = Literal["epub", "print"]

_HONORIFIC = re.compile(r"\b(Miss|Mrs?|Ms|Mx|Dr|St|Sir|Madame|No|p|pp)(\.?) (?=[A-Z0-9])")
_INITIAL = re.compile(r"\b([A-Z])\. (?=[A-Z][a-z])")


@dataclass(frozen=True)
class Reference:
    """Something a text points at, `line` lines below its first line."""

    kind: Literal["xref", "image", "link", "html", "footnote", "nesting", "section", "fence"]
    target: str
    line: int
    alt: str = ""
    needle: str = ""
    """The text as written in the source, to find its exact line and column."""


@dataclass(frozen=True)
class Fragment:
    html: str
    notes: tuple[str, ...] = field(default=())
    """EPUB footnotes as <aside> elements, to be placed after the text."""


def _nbsp(state: Any) -> None:
    """Core rule: no-break spaces after honorifics and initials (Miss Emily, Kathy H. says)."""
    for block in state.tokens:
        for child in block.children or ():
            if child.type == "text":
                child.content = _INITIAL.sub("\\1.\u00a0", _HONORIFIC.sub("\\1\\2\u00a0", child.content))


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"typographer": True, "html": True, "xhtmlOut": True, "linkify": False})
    md.enable(["replacements", "smartquotes"])
    # Parse every link and image, whatever its scheme (markdown-it would leave `javascript:` and
    # `file:` links as plain text): validate then refuses each at its line, and the renderer never
    # writes an address that is not a #cross-reference or mailto:.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    md.use(footnote_plugin, inline=False)
    # A chapter's gated section (gating.py): `::: reveals part-two` ... `:::`. Every `:::` fence is
    # parsed as one, so that validate can refuse any other words at their line; an edition that may
    # not see the section drops its tokens before rendering, and the fences themselves render nothing.
    md.use(container_plugin, name=gating.FENCE, validate=lambda *_: True, render=lambda *_: "")
    md.core.ruler.push("nbsp", _nbsp)
    md.add_render_rule("html_block", lambda self, tokens, idx, options, env: _escape_html(tokens[idx]))
    md.add_render_rule("html_inline", lambda self, tokens, idx, options, env: _escape_html(tokens[idx]))
    md.add_render_rule("link_open", _render_link_open)
    md.add_render_rule("link_close", _render_link_close)
    md.add_render_rule("image", _render_image)
    md.add_render_rule("footnote_ref", _render_footnote_ref)
    md.add_render_rule("text", _render_text)
    return md


MIN_HYPHENATED = 6
"""Words shorter than this are never hyphenated (print.css: `hyphenate-limit-chars: 6 3 3`)."""
_CAPITALISED = re.compile(rf"(?<![.!?:]\s)(?<!^)\b[A-Z][a-z’'-]{{{MIN_HYPHENATED - 1},}}\b")
"""A capitalised word that does not open a sentence (or the text): a name."""
_LAST_WORD = re.compile(rf"((?:[^\s<>]+ )?\w{{{MIN_HYPHENATED},}}[.,;:!?’”)]*)\s*$")
"""A paragraph's last word, with the word before it: a break between them falls inside the span.
With the break before the span, WeasyPrint on Pango 1.50 (Debian 12) broke the line before one word
too early, which stood alone ("But I / don’t / go along with that": L008, printing/lint.py)."""


LONGEST_UNBROKEN = 50
"""In print a run of more letters than this (longer than any word, about what a line holds) gets a
line-break opportunity every half that many. WeasyPrint's `overflow-wrap: break-word` lays out the
rest of a paragraph again at each break it forces inside a word: 250 words of 200 letters took
minutes."""
_UNBROKEN = re.compile(rf"\S{{{LONGEST_UNBROKEN + 1},}}")


def _breakable(text: str) -> str:
    step = LONGEST_UNBROKEN // 2
    return _UNBROKEN.sub(lambda m: "\u200b".join(m[0][i : i + step] for i in range(0, len(m[0]), step)), text)


def _render_text(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    """Text, escaped. In print, words the layout must not hyphenate are marked `nohyphen`: a
    capitalised word inside a sentence (a name: Morn-/ingdale, Nor-/folk) and a paragraph's last
    word (a last line of half a word, `literat-/ure.`, is a typesetting fault)."""
    if env.get("target") != "print":
        return html.escape(tokens[idx].content, quote=False)
    text = html.escape(_breakable(tokens[idx].content), quote=False)
    text = _CAPITALISED.sub(r'<span class="nohyphen">\g<0></span>', text)
    if not any(token.type == "text" for token in tokens[idx + 1 :]):
        text = (
            _LAST_WORD.sub(r'<span class="nohyphen">\1</span>', text)
            if "nohyphen" not in text[-40:]
            else text
        )
    return text


def _escape_html(token: Token) -> str:
    return html.escape(token.content, quote=False)


def _render_link_open(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    token = tokens[idx]
    href = str(token.attrs.get("href", ""))
    closers = env.setdefault("closers", [])
    if href.startswith("#"):
        resolved = env.get("links", {}).get(href[1:])
        if resolved is None:  # a target this edition leaves out: keep the words, drop the link
            closers.append("</span>")
            return '<span class="xref-unlinked">'
        closers.append("</a>")
        return f'<a class="xref" href="{html.escape(resolved)}">'
    closers.append("</a>")
    if href[:7].lower() == "mailto:":  # the scheme is case-insensitive (RFC 3986); written lower case
        return f'<a href="mailto:{html.escape(href[7:])}">'
    return '<a class="refused">'  # validate refuses these; never emit the address


def _render_link_close(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    closers = env.get("closers") or ["</a>"]
    return str(closers.pop())


def _render_image(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    token = tokens[idx]
    src = str(token.attrs.get("src", ""))
    alt = self.renderInlineAsText(token.children or [], options, env)
    resolved = env.get("images", {}).get(src)
    if resolved is None:
        return ""
    return f'<img src="{html.escape(resolved)}" alt="{html.escape(alt)}" />'


def _render_footnote_ref(self: Any, tokens: list[Token], idx: int, options: Any, env: dict[str, Any]) -> str:
    ident = tokens[idx].meta["id"]
    number = env.get("numbers", {}).get(ident, ident + 1)
    prefix = env["prefix"]
    if env["target"] == "print":
        note = env["notes"].get(ident, "")
        return f'<span class="footnote">{note}</span>'
    return (
        f'<a class="noteref" epub:type="noteref" role="doc-noteref" id="{prefix}-ref-{number}" '
        f'href="#{prefix}-fn-{number}">{number}</a>'
    )


@lru_cache(maxsize=16384)
def _parsed(text: str) -> tuple[tuple[Token, ...], tuple[str, ...]]:
    """The token stream of `text` and its defined footnote labels, parsed once per process
    (validate inspects what render then renders). Nothing downstream mutates the tokens."""
    env: dict[str, Any] = {}
    tokens = tuple(parser().parse(text, env))
    return tokens, tuple(env.get("footnotes", {}).get("refs", {}))


def inspect(text: str) -> tuple[Reference, ...]:
    """Everything `text` refers to, with the line offset of the block it stands in (remembered across
    builds by the text's hash when a build cache is active)."""
    remembered = memo("inspect")
    if remembered is None:
        return _inspect(text)
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    hit = remembered.get(key)
    if hit is not None:
        return tuple(Reference(*fields) for fields in hit)
    found = _inspect(text)
    remembered.put(key, [dataclasses.astuple(ref) for ref in found])
    return found


MAX_NESTING = 32
"""How deep Markdown may nest (emphasis in emphasis, quotes in quotes, lists in lists...): the XHTML
and the layout have their own limits, and no real text comes near this."""


def _too_deep(tokens: tuple[Token, ...]) -> tuple[int, int] | None:
    """(line, depth) where block and inline nesting together first pass MAX_NESTING, or None."""
    line = 0
    for token in tokens:
        if token.map:
            line = token.map[0]
        depth = token.level
        if depth > MAX_NESTING:
            return line, depth
        for child in token.children or ():
            depth += child.nesting
            if depth > MAX_NESTING:
                return line, depth
    return None


def _inspect(text: str) -> tuple[Reference, ...]:
    found: list[Reference] = []
    line = 0
    tokens, defined = _parsed(text)
    deep = _too_deep(tokens)
    if deep is not None:
        return (Reference("nesting", str(MAX_NESTING), deep[0]),)
    for token in tokens:
        if token.map:
            line = token.map[0]
        if token.type == SECTION_OPEN:
            part = gating.section_part(token.info)
            if part is None:
                found.append(Reference("fence", token.info.strip(), line, needle=token.markup))
            else:
                found.append(Reference("section", part, line, needle=part))
        if token.type == "html_block":
            first = token.content.strip().splitlines()[0] if token.content.strip() else ""
            found.append(Reference("html", _short(token.content.strip()), line, needle=first[:40]))
        opened = False
        for child in token.children or ():
            if child.type == "html_inline":
                closing = child.content.startswith("</")
                if not (closing and opened):
                    found.append(
                        Reference("html", _short(child.content), line, needle=_first_line(child.content))
                    )
                opened = opened or not closing
            elif child.type == "link_open":
                href = str(child.attrs.get("href", ""))
                if href.startswith("#"):
                    found.append(Reference("xref", href[1:], line, needle=href))
                else:
                    found.append(Reference("link", href, line, needle=href))
            elif child.type == "image":
                alt = "".join(c.content for c in child.children or ())
                src = str(child.attrs.get("src", ""))
                found.append(Reference("image", src, line, alt.strip(), needle=src))
    for label in _undefined_footnotes(text, defined):
        found.append(Reference("footnote", label, _line_of(text, f"[^{label}]"), needle=f"[^{label}]"))
    return tuple(found)


def _short(markup: str) -> str:
    text = " ".join(markup.split())
    return text if len(text) <= 60 else text[:59] + "…"


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0][:40]


def _undefined_footnotes(text: str, refs: tuple[str, ...]) -> list[str]:
    used = re.findall(r"\[\^([^\]\s]+)\](?!:)", text)
    return sorted({label for label in used if f":{label}" not in refs})


def _line_of(text: str, needle: str) -> int:
    index = text.find(needle)
    return text.count("\n", 0, index) if index >= 0 else 0


def to_html(
    text: str,
    *,
    target: Target,
    prefix: str,
    links: Mapping[str, str],
    images: Mapping[str, str],
    through: int | None = None,
    parts: Mapping[str, int] | None = None,
) -> Fragment:
    """Render block Markdown for `target`; footnote ids start with `prefix`. With `through` (a stage's
    rank, gating.py), the sections that reveal a later part of `parts` are left out, with their notes."""
    md = parser()
    env: dict[str, Any] = {"links": links, "images": images, "prefix": prefix, "target": target, "notes": {}}
    tokens, _ = _parsed(text)
    body, notes = _split_footnotes(_gated(tokens, through, parts or {}))
    cited = dict.fromkeys(
        child.meta["id"] for token in body for child in token.children or () if child.type == "footnote_ref"
    )
    env["numbers"] = {ident: number for number, ident in enumerate(cited, start=1)}
    rendered_notes = {
        env["numbers"][ident] - 1: md.renderer.render(note_tokens, md.options, env).strip()
        for ident, note_tokens in notes.items()
        if ident in env["numbers"]
    }
    if target == "print":
        old = {number - 1: ident for ident, number in env["numbers"].items()}
        env["notes"] = {old[n]: _inline_note(h) for n, h in rendered_notes.items()}
        return Fragment(md.renderer.render(body, md.options, env))
    asides = tuple(
        f'<aside class="footnote" epub:type="footnote" role="doc-footnote" id="{prefix}-fn-{n + 1}">'
        + _numbered(note, f'<a href="#{prefix}-ref-{n + 1}" role="doc-backlink">{n + 1}.</a>')
        + "</aside>"
        for n, note in sorted(rendered_notes.items())
    )
    return Fragment(md.renderer.render(body, md.options, env), asides)


SECTION_OPEN = f"container_{gating.FENCE}_open"
SECTION_CLOSE = f"container_{gating.FENCE}_close"


def _gated(tokens: tuple[Token, ...], through: int | None, parts: Mapping[str, int]) -> list[Token]:
    """The tokens an edition through stage `through` may show: a section fenced `::: reveals <part>`
    whose part comes later is dropped whole (nested fences included)."""
    if through is None:
        return list(tokens)
    kept: list[Token] = []
    skipping: int | None = None
    for token in tokens:
        if skipping is not None:
            if token.type == SECTION_CLOSE and token.level == skipping:
                skipping = None
            continue
        if token.type == SECTION_OPEN:
            part = gating.section_part(token.info) or ""
            if not gating.visible(parts.get(part, 0), through):
                skipping = token.level
                continue
        kept.append(token)
    return kept


def _split_footnotes(tokens: list[Token]) -> tuple[list[Token], dict[int, list[Token]]]:
    """The text's tokens without the footnote block, and each footnote's own tokens."""
    body: list[Token] = []
    notes: dict[int, list[Token]] = {}
    current: list[Token] | None = None
    in_block = False
    for token in tokens:
        if token.type == "footnote_block_open":
            in_block = True
        elif token.type == "footnote_block_close":
            in_block = False
        elif token.type == "footnote_open":
            current = notes.setdefault(token.meta["id"], [])
        elif token.type == "footnote_close":
            current = None
        elif token.type == "footnote_anchor":
            continue
        elif current is not None:
            current.append(token)
        elif not in_block:
            body.append(token)
    return body, notes


def _numbered(note: str, number: str) -> str:
    """The note with its number at the start of its first paragraph: a reading system's popup shows
    the note's content, and a number in a paragraph of its own stood on a line alone."""
    if note.startswith("<p>"):
        return f'<p><span class="note-number">{number}</span> {note[3:]}'
    return f'<p class="note-number">{number}</p>{note}'


def _inline_note(rendered: str) -> str:
    """A footnote's paragraphs as inline content for a print `float: footnote` span."""
    text = re.sub(r"</p>\s*<p>", " ", rendered)
    return re.sub(r"</?p>", "", text).strip()


def inline(text: str, links: Mapping[str, str] | None = None) -> str:
    """Inline Markdown (a title, a name, a question) as HTML, with typography."""
    md = parser()
    env: dict[str, Any] = {"links": links or {}, "images": {}, "prefix": "x", "target": "epub", "notes": {}}
    return md.renderInline(text, env).strip()


def plain(text: str) -> str:
    """Inline Markdown as plain text with typography (for metadata and <title>)."""
    return html.unescape(re.sub(r"<[^>]+>", "", inline(text)))
