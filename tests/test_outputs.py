"""The one table of outputs: what each format needs and the names of the files it makes."""

from __future__ import annotations

import pytest

from companion.outputs import EXTRA_FORMATS, FORMATS, KINDS, Request
from companion.render.edition import Edition


def test_what_each_request_needs() -> None:
    assert Request(frozenset({"epub"})).needs_print  # the page list comes from the print layout
    assert not Request(frozenset({"epub"}), page_list=False).needs_print
    assert not Request(frozenset({"pdf"})).needs_epub and not Request(frozenset({"pdf"})).needs_front_cover
    cover = Request(frozenset({"cover"}))
    assert cover.needs_print and cover.needs_front_cover and not cover.needs_epub
    assert Request(frozenset({"read-along"})).needs_epub
    kit = Request(frozenset({"kit"}))  # the host's kit is laid out on its own
    assert not (kit.needs_print or kit.needs_epub or kit.needs_front_cover)


def test_file_names_follow_the_table_and_the_edition() -> None:
    both = Request(frozenset({"cover", "pdf"}), Edition(through="start"))
    assert [o.name for o in both.outputs("cover", "nlmg", b"pdf", b"jpg")] == [
        "nlmg-spoiler-free-cover.pdf",
        "nlmg-spoiler-free-cover.jpg",
    ]
    assert both.outputs("epub", "nlmg", b"epub") == []  # not asked for
    with pytest.raises(ValueError):
        both.outputs("cover", "nlmg", b"only one")


def test_formats_come_from_the_table() -> None:
    assert FORMATS == ("epub", "kepub", "pdf", "cover") and EXTRA_FORMATS == ("read-along", "kit", "web")
    assert len({k.format for k in KINDS}) == len(KINDS)
    with pytest.raises(ValueError, match="unknown format mobi"):
        Request(frozenset({"mobi"}))
