"""Render stage: the one Jinja2 environment, and content -> XHTML (EPUB) or HTML (print) sections.

`plan()` decides which sections the book has and in what order; `render()` turns each section into
markup for one target. Both outputs use the same templates; only `target` differs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from markupsafe import Markup

from companion.core.cache import Cache, code_digest, digest
from companion.render.edition import Edition
from companion.source import gating, markdown
from companion.source.markdown import Target
from companion.source.model import Companion, Question, Spoilable
from companion.source.validate import Validated


@dataclass(frozen=True)
class Section:
    id: str
    kind: str
    """The template that renders it."""
    title: str
    matter: str
    """frontmatter, bodymatter or backmatter (EPUB 3 structural semantics)."""
    epub_type: str = ""
    role: str = ""
    targets: tuple[Target, ...] = ("epub", "print")
    in_toc: bool = True
    items: tuple[Any, ...] = ()
    chapter: Any = None

    @property
    def file(self) -> str:
        return f"{self.id}.xhtml"

    @property
    def labelled(self) -> bool:
        return self.kind not in {"cover", "halftitle"}


@dataclass(frozen=True)
class Document:
    section: Section
    html: str


@dataclass(frozen=True)
class RenderedBook:
    validated: Validated
    edition: Edition
    target: Target
    sections: tuple[Section, ...]
    documents: tuple[Document, ...]
    links: Mapping[str, str] = field(repr=False)


_LISTS = (
    ("characters", "Characters", "characters"),
    ("themes", "Themes", "themes"),
    ("quotes", "Key Quotes", "quotes"),
    ("reviews", "Critical Reception", "reviews"),
    ("faq", "Frequently Asked Questions", "faq"),
    ("questions", "Discussion Questions", "questions"),
    ("timeline", "Timeline", "timeline"),
)


def plan(companion: Companion, edition: Edition) -> tuple[Section, ...]:
    """The book's sections in reading order, for this edition."""

    def keep(items: Iterable[Spoilable]) -> tuple[Any, ...]:
        return tuple(item for item in items if edition.keeps(item.reveals))

    sections = [
        Section("cover", "cover", "Cover", "frontmatter", "cover", targets=("epub",), in_toc=False),
        Section(
            "halftitle",
            "halftitle",
            companion.book.title,
            "frontmatter",
            "halftitlepage",
            targets=("print",),
            in_toc=False,
        ),
        Section("titlepage", "titlepage", "Title Page", "frontmatter", "titlepage", in_toc=False),
        Section("copyright", "copyright", "Copyright", "frontmatter", "copyright-page", in_toc=False),
        Section(
            "contents",
            "contents",
            "Contents",
            "frontmatter",
            "toc",
            "doc-toc",
            targets=("print",),
            in_toc=False,
        ),
        Section("about", "about", "About the Novel", "bodymatter", "chapter", "doc-chapter"),
    ]
    for chapter in companion.chapters:
        if edition.keeps(chapter.reveals):
            sections.append(
                Section(
                    chapter.id,
                    "chapter",
                    chapter.title,
                    "bodymatter",
                    "chapter",
                    "doc-chapter",
                    chapter=chapter,
                )
            )
    for attr, title, kind in _LISTS:
        items = keep(getattr(companion, attr))
        if items:
            sections.append(Section(attr, kind, title, "bodymatter", "chapter", "doc-chapter", items=items))
    if companion.about.closing:
        sections.append(
            Section("closing", "closing", "In Closing", "bodymatter", "conclusion", "doc-conclusion")
        )
    terms = tuple(sorted(keep(companion.glossary), key=lambda term: glossary_key(term.term)))
    if terms:
        sections.append(
            Section("glossary", "glossary", "Glossary", "backmatter", "glossary", "doc-glossary", items=terms)
        )
    return tuple(sections)


def inside(companion: Companion, edition: Edition) -> str:
    """What this edition holds, for its back cover: "Inside: 20 discussion questions, ..."."""

    def count(items: Iterable[Spoilable]) -> int:
        return sum(1 for item in items if edition.keeps(item.reveals))

    counts = (
        (count(companion.questions), "discussion question"),
        (count(companion.characters), "character profile"),
        (count(companion.themes), "theme"),
        (count(companion.glossary), "glossary term"),
        (count(companion.timeline), "timeline event"),
    )
    parts = [f"{n} {name}{'' if n == 1 else 's'}" for n, name in counts if n]
    revealing = [chapter for chapter in companion.chapters if chapter.reveals]
    kept = [chapter for chapter in revealing if edition.keeps(chapter.reveals)]
    if kept:
        which = "each part of the novel" if kept == revealing else "the parts read so far"
        parts.append(f"reading notes on {which}")
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"Inside: {listed}."


_ARTICLE = re.compile(r"^(?:the|an?)\s+", re.IGNORECASE)


def glossary_key(term: str) -> tuple[str, str]:
    """A glossary's order: alphabetical, letters only, ignoring case and a leading article
    ("the Gallery" goes under G), as dictionaries and indexes sort."""
    plain = markdown.plain(term)
    letters = re.sub(r"[^\w\s]", "", _ARTICLE.sub("", plain)).casefold()
    return letters, plain.casefold()


def link_targets(sections: tuple[Section, ...], target: Target) -> dict[str, str]:
    """id -> href for every cross-reference target, for one output."""
    links: dict[str, str] = {}
    for section in sections:
        if target not in section.targets:
            continue
        base = section.file if target == "epub" else ""
        links[section.id] = base or f"#{section.id}"
        for item in section.items:
            if getattr(item, "id", None):
                links[item.id] = f"{base}#{item.id}"
        if section.kind == "about":
            links["setting"] = f"{base}#setting"
            links["synopsis"] = f"{base}#synopsis"
    return links


def render(
    validated: Validated,
    edition: Edition,
    target: Target,
    images: Mapping[str, str],
    stylesheets: tuple[str, ...] = (),
    page_breaks: Mapping[str, str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    cache: Cache | None = None,
) -> RenderedBook:
    """Every section of the book as markup for `target`."""
    companion = validated.companion
    sections = tuple(s for s in plan(companion, edition) if target in s.targets)
    links = link_targets(sections, target)
    toc = [{"href": links[s.id], "title": s.title, "matter": s.matter} for s in sections if s.in_toc]
    about = companion.about
    if edition.gated:
        synopsis = about.synopsis
        about = about.model_copy(
            update={
                "setting": about.setting if edition.keeps(about.setting.reveals) else None,
                "synopsis": synopsis if synopsis and edition.keeps(synopsis.reveals) else None,
            }
        )
    common = {
        "book": companion.book,
        "about": about,
        "target": target,
        "links": links,
        "images": images,
        "toc": toc,
        "edition_note": edition.note,
        "through": edition.rank,
        "parts": gating.ranks(companion.book),
        "stylesheets": stylesheets,
        "standalone": target == "epub",
        "cover_image": images.get("@cover", ""),
    }
    shared = digest(code_digest(), repr(common), repr(sorted((page_breaks or {}).items())))
    documents = []
    for number, s in enumerate(sections, start=1):
        if progress is not None:
            progress(markdown.plain(s.title), number, len(sections))
        key = digest(shared, repr(s))
        cached = cache.get("sections", key, ".html") if cache is not None else None
        if cached is not None:
            documents.append(Document(s, cached.decode("utf-8")))
            continue
        html = (
            environment()
            .get_template(f"{s.kind}.html")
            .render(section=s, items=s.items, chapter=s.chapter, note_prefixes={}, **common)
        )
        html = number_blocks(html, s.id, page_breaks)
        if cache is not None:
            cache.put("sections", key, ".html", html.encode("utf-8"))
        documents.append(Document(s, html))
    return RenderedBook(validated, edition, target, sections, tuple(documents), links)


_BLOCK = re.compile(r"<(p|li|h[1-6]|dt|dd|blockquote|figure|pre)(\s[^>]*)?>")
_ID = re.compile(r'\sid="([^"]+)"')
_ASIDE = re.compile(r"(<aside\b.*?</aside>)", re.DOTALL)


def number_blocks(html: str, section_id: str, page_breaks: Mapping[str, str] | None = None) -> str:
    """Give every block element outside footnote asides a stable id (`<section>-b<n>`), the same in
    the EPUB and the print document, so that print pages can be located in the EPUB; and put a
    `doc-pagebreak` marker before each element where a print page begins (`page_breaks`: id -> label)."""
    breaks = page_breaks or {}
    counter = 0

    def tag(match: re.Match[str]) -> str:
        nonlocal counter
        attrs = match.group(2) or ""
        found = _ID.search(attrs)
        if found:
            ident = found.group(1)
            opening = match.group(0)
        else:
            counter += 1
            ident = f"{section_id}-b{counter}"
            opening = f'<{match.group(1)} id="{ident}"{attrs}>'
        label = breaks.get(ident)
        if label is None:
            return opening
        marker = (
            f'<span id="page-{label}" class="pagebreak" epub:type="pagebreak" role="doc-pagebreak" '
            f'aria-label="{label}"></span>'
        )
        return marker + opening if match.group(1) not in {"li", "dt", "dd"} else opening + marker

    parts = _ASIDE.split(html)
    return "".join(part if part.startswith("<aside") else _BLOCK.sub(tag, part) for part in parts)


def block_ids(html: str) -> list[str]:
    """The ids of the block elements `number_blocks` can mark, in document order."""
    found = []
    for part in _ASIDE.split(html):
        if part.startswith("<aside"):
            continue
        for match in _BLOCK.finditer(part):
            ident = _ID.search(match.group(2) or "")
            if ident:
                found.append(ident.group(1))
    return found


@pass_context
def _inline(context: Any, text: str) -> Markup:
    """Inline Markdown with cross-references resolved for this output (plain `#id` where none are known)."""
    return Markup(markdown.inline(text, context.get("links", {})))


@pass_context
def _md(context: Any, text: str, prefix: str = "") -> Markup:
    """Block Markdown; its footnote ids start with `prefix` (the section's id by default), and a prefix
    used again in the same section gets `_2`, `_3`... (an underscore, which no author id can hold), so
    that two FAQ answers, or an epigraph and its chapter, never share a footnote id."""
    base = prefix or context["section"].id
    used = context.get("note_prefixes")
    if used is not None:
        used[base] = used.get(base, 0) + 1
        if used[base] > 1:
            base = f"{base}_{used[base]}"
    fragment = markdown.to_html(
        text,
        target=context["target"],
        prefix=base,
        links=context["links"],
        images=context["images"],
        through=context.get("through"),
        parts=context.get("parts"),
    )
    return Markup(fragment.html + "".join(fragment.notes))


def _groupby_part(questions: tuple[Question, ...]) -> list[tuple[str, list[tuple[int, Question]]]]:
    """Questions grouped by consecutive `part`, numbered across the whole list."""
    numbered = list(enumerate(questions, start=1))
    return [(part, list(group)) for part, group in itertools.groupby(numbered, key=lambda pair: pair[1].part)]


def _keep_short_words(html: str) -> Markup:
    """A title set large: no line break beside a word of one or two letters, so that it breaks as
    "Never / Let Me Go" and not "Never Let / Me Go"."""

    def glue(text: str) -> str:
        words = text.split(" ")
        out = words[:1]
        for before, word in itertools.pairwise(words):
            short = min(len(before.strip(".,;:!?’'")), len(word.strip(".,;:!?’'"))) <= 2
            out.append(("\u00a0" if short and before and word else " ") + word)
        return "".join(out)

    return Markup("".join(p if p.startswith("<") else glue(p) for p in re.split(r"(<[^>]+>)", str(html))))


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The one Jinja2 environment: autoescape on, strict undefined, filters registered here."""
    env = Environment(
        loader=PackageLoader("companion.render", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _md
    env.filters["inline"] = _inline
    env.filters["plain"] = markdown.plain
    env.filters["groupby_part"] = _groupby_part
    env.filters["keep_short_words"] = _keep_short_words
    return env


def print_document(rendered: RenderedBook) -> str:
    """The whole print interior as one HTML document."""
    book = rendered.validated.companion.book
    modified = book.modified or book.published
    return (
        environment()
        .get_template("print.html")
        .render(
            book=book,
            documents=rendered.documents,
            created=f"{book.published.isoformat()}T00:00:00Z",
            modified=f"{modified.isoformat()}T00:00:00Z",
        )
    )
