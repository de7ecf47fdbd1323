"""render: the web edition, `dist/web/`: a static site of the companion, one folder per reading stage.

Built from the render stage like the EPUB: every stage's sections are rendered by `render()` for the
EPUB (the same templates and style sheets) and set in the one page shell (webpages.py); print page
numbers come from the same page map as the EPUB's page list. What the site holds:

    index.html              the chooser: how far has the reader read?
    <stage>/index.html      the stage's contents page, then one page per section, search.html and
    <stage>/search-index.js its own search index (websearch.py)
    styles/, assets/        the EPUB's style sheets and subset fonts, the shell's CSS and JS, lunr.js
    cover.jpg, images/      the cover (the pages' Open Graph image; cover-small.jpg on the contents
                            pages) and the source's images
    downloads/              the EPUB, kepub and PDF of this build (their OPDS catalogs are added on write)
    sw.js                   a network-first service worker: pages once read, read again offline
    robots.txt, sitemap.xml unless book.yaml says `web: {sitemap: false}`

A stage's folder holds only what its edition keeps: no heading, link text, title, search entry or
sitemap line of anything it hides.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import io
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from xml.sax.saxutils import escape as xml_escape

from companion.core.cache import Cache, code_digest, digest
from companion.core.errors import Diagnostic, Location, diagnostic
from companion.deliver import opds
from companion.deliver.opds_books import thumbnail_jpeg
from companion.epub import package as epub
from companion.epub.pagemap import PageMap
from companion.render.render import Document, Edition, RenderedBook, block_ids, number_blocks, render
from companion.source import markdown
from companion.source.validate import Validated
from companion.web.pages import Link, Shell, content, page, web_documents
from companion.web.search import chunks, index_script
from companion.web.stages import Stage, edition, label, stages, within

ASSETS = ("web.css", "web.js", "sw.js", "lunr.min.js")
"""The shell's own files (templates/web/), copied as they are; lunr.min.js is npm lunr 2.3.9's."""
COVER_SIZE = (480, 720)
"""The contents page's cover (cover.jpg, the full front cover, is the link previews' image)."""
CATALOGS = (
    (opds.CATALOG_NAME, "OPDS catalog, to add the books to a reading app"),
    (opds.CATALOG_JSON, "OPDS 2 catalog (JSON)"),
)
"""Written into downloads/ beside the books when the site is written (pipeline.write)."""
_PAGEBREAK = re.compile(r'<span id="page-[^"]*" class="pagebreak"[^>]*></span>')
_BLOCK_ID = re.compile(r'\sid="[^"]*"')


@dataclass(frozen=True)
class Site:
    files: dict[str, bytes]
    """Path inside dist/web/ -> bytes."""
    warnings: tuple[Diagnostic, ...]
    index_sizes: dict[str, int]
    """Stage id -> bytes of its search index."""


def build(
    validated: Validated,
    limit: Edition,
    pages: PageMap | None,
    front: bytes,
    styles_folder: Callable[[str], list[epub.Resource]],
    downloads: Sequence[tuple[str, str, bytes]],
    cache: Cache | None = None,
) -> Site:
    """The whole site in memory. `pages` is the page map of edition `limit`'s print layout;
    `styles_folder(text)` gives the EPUB's style sheets with fonts subset to `text`; `downloads`:
    (file name, link text, bytes)."""
    companion = validated.companion
    book = companion.book
    known = stages(book)
    every = within(known, limit)
    images = {a.src: "../" + a.src for a in validated.assets} | {"@cover": "../cover.jpg"}
    renders: dict[str, RenderedBook] = {}
    for stage in every:
        own = edition(stage, book, limit)
        breaks = pages.breaks if pages is not None and own == limit else None
        renders[stage.id] = render(validated, own, "epub", images, page_breaks=breaks, cache=cache)
    if pages is not None:
        reference = renders[every[-1].id]
        for stage in every[:-1]:
            renders[stage.id] = _with_breaks(renders[stage.id], reference, pages.breaks)
    base = (book.web.url.rstrip("/") + "/") if book.web.url else ""
    cover_alt = f"Cover of {markdown.plain(book.full_title)}"
    shell = Shell(book, "cover.jpg", base, cover_alt)
    small = _cached(
        cache,
        "web",
        digest(code_digest(), hashlib.sha256(front).hexdigest()),
        ".jpg",
        lambda: thumbnail_jpeg(front, COVER_SIZE),
    )
    files: dict[str, bytes] = {"cover-small.jpg": small}
    sizes: dict[str, int] = {}
    listed = [{"href": name, "title": label} for name, label, _ in downloads if label] + [
        {"href": name, "title": label} for name, label in CATALOGS
    ]
    for stage in every:
        stage_files = _stage(
            shell, stage, renders[stage.id], listed, _size(small), hidden=stage.rank > 0, cache=cache
        )
        sizes[stage.id] = len(stage_files[f"{stage.id}/search-index.js"])
        files.update(stage_files)
    choices = [{"id": s.id, "title": label(s), "note": _note(s, known)} for s in every]
    files["index.html"] = page(
        shell, kind="chooser", title=markdown.plain(book.title), path="index.html", stages=choices
    )
    text = "".join(data.decode("utf-8") for name, data in files.items() if name.endswith((".html", ".js")))
    assets = {name: resources.files("companion.web").joinpath("static", name).read_bytes() for name in ASSETS}
    text += assets["web.js"].decode("utf-8")
    for resource in styles_folder(text):
        files[resource.name] = resource.data
    files.update({"assets/" + name: data for name, data in assets.items() if name != "sw.js"})
    files["sw.js"] = assets["sw.js"]
    files["cover.jpg"] = front
    for asset in validated.assets:
        files[asset.src] = asset.data
    for name, _, data in downloads:
        files["downloads/" + name] = data
    warnings = []
    if book.web.sitemap:
        files["robots.txt"] = _robots(base)
        if base:
            files["sitemap.xml"] = _sitemap(base, every[0], files, book.modified or book.published)
        else:
            warnings.append(
                diagnostic(
                    Location("source/book.yaml"),
                    "D051",
                    "no `web.url` in book.yaml: the site has no sitemap.xml, and its link previews "
                    "name the cover by a relative address",
                )
            )
    if not book.language.lower().startswith("en"):
        warnings.append(
            diagnostic(
                Location("source/book.yaml"),
                "D050",
                f"the web edition's search knows English word forms only: in `{book.language}` "
                "text it finds a word as written, not always its other forms",
            )
        )
    return Site(dict(sorted(files.items())), tuple(warnings), sizes)


def _stage(
    shell: Shell,
    stage: Stage,
    rendered: RenderedBook,
    downloads: list[dict[str, str]],
    cover: tuple[int, int],
    *,
    hidden: bool,
    cache: Cache | None,
) -> dict[str, bytes]:
    """One stage's folder: contents, sections, search."""
    documents = web_documents(rendered)
    order = [Link("index.html", "Contents")] + [
        Link(f"{d.section.id}.html", d.section.title) for d in documents
    ]
    out: dict[str, bytes] = {}
    found = []
    for number, document in enumerate(documents, start=1):
        body = content(document)
        link = order[number]
        found += chunks(link.href, markdown.plain(document.section.title), body)
        out[f"{stage.id}/{link.href}"] = page(
            shell,
            kind="section",
            title=markdown.plain(document.section.title),
            body=body,
            path=f"{stage.id}/{link.href}",
            stage=stage,
            prev=order[number - 1],
            next_=order[number + 1] if number + 1 < len(order) else None,
            noindex=hidden,
        )
    out[f"{stage.id}/index.html"] = page(
        shell,
        kind="contents",
        title="Contents",
        path=f"{stage.id}/index.html",
        stage=stage,
        next_=order[1] if len(order) > 1 else None,
        noindex=hidden,
        entries=[{"href": link.href, "title": link.title} for link in order[1:]],
        downloads=downloads,
        edition_note=rendered.edition.note,
        cover_size=cover,
    )
    out[f"{stage.id}/search.html"] = page(
        shell,
        kind="search",
        title="Search",
        path=f"{stage.id}/search.html",
        stage=stage,
        scripts=("../assets/lunr.min.js", "search-index.js"),
        noindex=True,
    )
    key = digest(code_digest(), repr(found))  # the index, remembered: lunr takes most of the time here
    out[f"{stage.id}/search-index.js"] = _cached(cache, "web", key, ".js", lambda: index_script(found))
    return out


def _cached(cache: Cache | None, kind: str, key: str, suffix: str, make: Callable[[], bytes]) -> bytes:
    found = cache.get(kind, key, suffix) if cache is not None else None
    if found is None:
        found = make()
        if cache is not None:
            cache.put(kind, key, suffix, found)
    return found


def _with_breaks(rendered: RenderedBook, reference: RenderedBook, breaks: Mapping[str, str]) -> RenderedBook:
    """`rendered` with the print page markers of `reference` (the edition whose layout was paged,
    `breaks`: its block id -> page label) carried over to the same blocks: a block keeps its page when
    its markup is the same and in the same order among the section's blocks, so that "page 45" means
    the same in every stage. A block that the paged edition does not have gets no marker."""
    theirs = {d.section.id: d.html for d in reference.documents}
    documents = []
    for document in rendered.documents:
        other = theirs.get(document.section.id)
        carried: dict[str, str] = {}
        if other is not None:
            mine_ids, mine_keys = _blocks(document.html)
            their_ids, their_keys = _blocks(other)
            matcher = difflib.SequenceMatcher(None, their_keys, mine_keys, autojunk=False)
            for a, b, size in matcher.get_matching_blocks():
                for offset in range(size):
                    label = breaks.get(their_ids[a + offset])
                    if label is not None:
                        carried[mine_ids[b + offset]] = label
        html = number_blocks(document.html, document.section.id, carried) if carried else document.html
        documents.append(Document(document.section, html))
    return replace(rendered, documents=tuple(documents))


def _blocks(html: str) -> tuple[list[str], list[str]]:
    """The section's numbered blocks: their ids, and their markup up to the next one without ids
    or page markers (what makes two blocks the same in two editions)."""
    ids = block_ids(html)
    starts = [html.index(f' id="{ident}"') for ident in ids] + [len(html)]
    keys = [_BLOCK_ID.sub("", _PAGEBREAK.sub("", html[a:b])) for a, b in itertools.pairwise(starts)]
    return ids, keys


def _size(jpeg: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(jpeg)) as image:
        return image.size


def _note(stage: Stage, every: Sequence[Stage]) -> str:
    if stage.rank == 0:
        return "Nothing from the novel is given away."
    if stage.rank == every[-1].rank:
        return "Everything, the ending included."
    return f"Nothing from after {stage.title}."


def _robots(base: str) -> bytes:
    lines = ["User-agent: *", "Allow: /"]
    if base:
        lines.append(f"Sitemap: {base}sitemap.xml")
    return ("\n".join(lines) + "\n").encode("ascii")


def _sitemap(base: str, first: Stage, files: Mapping[str, bytes], day: dt.date) -> bytes:
    """The chooser and the first stage's pages only: what a search engine may show anyone. The
    later stages' pages say `noindex`, so that no result's title or excerpt gives the novel away."""
    names = ["index.html"] + [
        n
        for n in files
        if n.startswith(f"{first.id}/") and n.endswith(".html") and n != f"{first.id}/search.html"
    ]
    lastmod = f"<lastmod>{day.isoformat()}</lastmod>"
    urls = "".join(
        f"<url><loc>{xml_escape(base + n.removesuffix('index.html'))}</loc>{lastmod}</url>" for n in names
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n'
    ).encode()
