"""The OPDS 2.0 feed (`application/opds+json`) of a folder of built books: the same publications,
images and acquisition links as the OPDS 1.2 feed (opds.py), in the JSON that Thorium and KOReader
prefer. It follows the OPDS 2.0 draft (drafts.opds.io) and the Readium Web Publication Manifest it
builds on; tests/test_opds2.py validates it against their JSON Schemas in ../shared/schemas/opds2/.
Links are relative to the feed; nothing reads the clock.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from companion.deliver import opds_books as shelf
from companion.deliver.opds_books import Book
from companion.deliver.opds_books import quote_name as _file

ACQUISITION = "http://opds-spec.org/acquisition"
BOOK_TYPE = "http://schema.org/Book"


def feed(found: Sequence[Book], number: int = 1, size: int | None = None) -> dict[str, Any]:
    """The feed as a JSON value: every book, or page `number` of `size` books."""
    pages = max(1, math.ceil(len(found) / size)) if size else 1
    number = min(max(number, 1), pages)
    shown = found[(number - 1) * size : number * size] if size else found
    metadata: dict[str, Any] = {
        "title": found[0].meta.title if len(found) == 1 else "Books",
        "modified": max((b.meta.updated for b in found), default=shelf.EPOCH),
        "numberOfItems": len(found),
    }
    if size:
        metadata |= {"itemsPerPage": size, "currentPage": number}
    links = [
        {"rel": "self", "href": _page(number), "type": shelf.JSON_FEED_TYPE},
        {"rel": "start", "href": shelf.CATALOG_JSON, "type": shelf.JSON_FEED_TYPE},
        {"rel": "alternate", "href": shelf.CATALOG_XML, "type": shelf.ATOM_FEED_TYPE},
    ]
    if size:
        for rel, target in (("first", 1), ("previous", number - 1), ("next", number + 1), ("last", pages)):
            if 1 <= target <= pages and (rel in ("first", "last") or target != number):
                links.append({"rel": rel, "href": _page(target), "type": shelf.JSON_FEED_TYPE})
    value: dict[str, Any] = {"metadata": metadata, "links": links}
    if shown:
        value["publications"] = [publication(book) for book in shown]
    else:  # a feed needs publications or navigation: point at the (equally empty) Atom catalog
        value["navigation"] = [
            {"href": shelf.CATALOG_XML, "title": "OPDS 1.2 catalog", "type": shelf.ATOM_FEED_TYPE}
        ]
    return value


def feed_json(found: Sequence[Book], number: int = 1, size: int | None = None) -> bytes:
    """The feed as UTF-8 JSON bytes, the same for the same books."""
    text = json.dumps(feed(found, number, size), ensure_ascii=False, indent=2, sort_keys=False)
    return (text + "\n").encode("utf-8")


def publication(book: Book) -> dict[str, Any]:
    meta, entry = book.meta, book.entry
    metadata: dict[str, Any] = {
        "@type": BOOK_TYPE,
        "title": meta.title,
        "identifier": meta.identifier,
        "modified": meta.updated,
    }
    if meta.authors:
        metadata["author"] = [{"name": name} for name in meta.authors]
    if meta.language:
        metadata["language"] = meta.language
    if meta.publisher:
        metadata["publisher"] = [{"name": meta.publisher}]
    if meta.published:
        metadata["published"] = meta.published
    if meta.summary:
        metadata["description"] = meta.summary
    if meta.subjects:
        metadata["subject"] = [{"name": subject} for subject in meta.subjects]
    links: list[dict[str, Any]] = [
        {
            "rel": ACQUISITION,
            "href": _file(name),
            "type": kind,
            "title": title,
            "size": book.sizes.get(name, 0),
        }
        for kind, name, title in entry.downloads()
    ]
    links.append(
        {"rel": "alternate", "href": _file(f"{entry.slug}{shelf.ENTRY_SUFFIX}"), "type": shelf.ENTRY_TYPE}
    )
    value: dict[str, Any] = {"metadata": metadata, "links": links}
    images = [{"href": _file(name), "type": "image/jpeg"} for name in (entry.cover, entry.thumbnail) if name]
    if images:
        value["images"] = images
    return value


def _page(number: int) -> str:
    return shelf.CATALOG_JSON if number == 1 else f"{shelf.CATALOG_JSON}?page={number}"
