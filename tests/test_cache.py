"""The build cache: a hit gives exactly what a fresh build gives, damage is recomputed, and it is bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from companion import pipeline
from companion.core.cache import Cache

from .tinysource import make_tiny


def test_cached_build_equals_fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_tiny(tmp_path, styles=True)
    project = pipeline.Project.at(source)
    first = pipeline.build(project)
    folder = Cache.for_project(tmp_path).folder
    assert folder is not None and (folder / "layout").is_dir()
    assert not (tmp_path / ".cache").exists()  # nothing is written into the project
    cached = pipeline.build(project)
    monkeypatch.setenv("COMPANION_NO_CACHE", "1")
    fresh = pipeline.build(project)
    assert (
        [o.data for o in first.outputs] == [o.data for o in cached.outputs] == [o.data for o in fresh.outputs]
    )


def test_an_edit_is_seen_through_the_cache(tmp_path: Path) -> None:
    source = make_tiny(tmp_path, styles=True)
    project = pipeline.Project.at(source)
    before = {o.name: o.data for o in pipeline.build(project, ("epub", "pdf")).outputs}
    chapter = next((source / "chapters").glob("*.md"))
    chapter.write_text(
        chapter.read_text(encoding="utf-8") + "\nA new sentence about lanterns.\n", encoding="utf-8"
    )
    after = {o.name: o.data for o in pipeline.build(project, ("epub", "pdf")).outputs}
    assert before["tiny.epub"] != after["tiny.epub"] and before["tiny.pdf"] != after["tiny.pdf"]


def test_damaged_entries_are_recomputed(tmp_path: Path) -> None:
    source = make_tiny(tmp_path, styles=True)
    project = pipeline.Project.at(source)
    first = pipeline.build(project, ("pdf",)).outputs[0].data
    folder = Cache.for_project(tmp_path).folder
    assert folder is not None
    layout = folder / "layout"
    for path in layout.glob("*.pdf"):
        path.write_bytes(b"%PDF-truncated")  # the record is intact, the PDF is not
    assert pipeline.build(project, ("pdf",)).outputs[0].data == first
    for path in layout.glob("*.json"):
        path.write_bytes(b"{not json")
    assert pipeline.build(project, ("pdf",)).outputs[0].data == first


def test_prune_keeps_the_most_recent_entries(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    for number in range(10):
        cache.put("kind", f"k{number}", ".bin", bytes(1000))
    cache.get("kind", "k0", ".bin")  # recently used again
    cache.prune(max_bytes=3200)  # three entries of 1,000 bytes and their checksums
    left = sorted(p.name for p in (tmp_path / "kind").iterdir())
    assert len(left) == 3 and "k0.bin" in left


def test_an_entry_cut_short_is_a_miss(tmp_path: Path) -> None:
    """Cache entries are written without fsync; one that a crash leaves cut short is not used."""
    cache = Cache(tmp_path)
    cache.put("kind", "k", ".bin", b"the whole of the entry")
    assert cache.get("kind", "k", ".bin") == b"the whole of the entry"
    path = tmp_path / "kind" / "k.bin"
    path.write_bytes(path.read_bytes()[:-4])
    assert cache.get("kind", "k", ".bin") is None


def test_a_cache_shipped_inside_a_project_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A project passed around with its cache (the old `.cache/companion/`, or a copy of the user's)
    cannot put a section of its own into the EPUB: the cache lives in the user's cache folder."""
    import io
    import shutil
    import zipfile

    source = make_tiny(tmp_path, styles=True)
    project = pipeline.Project.at(source)
    pipeline.build(project, ("epub",), page_list=False)
    mine = Cache.for_project(tmp_path).folder
    assert mine is not None and not mine.is_relative_to(tmp_path)
    planted = tmp_path / ".cache" / "companion"
    shutil.copytree(mine, planted)
    for section in (planted / "sections").glob("*.html"):
        data = section.read_bytes()
        body = data[32:].replace(b"Some text.", b"Some text.<script>alert(1)</script>")
        section.write_bytes(__import__("hashlib").sha256(body).digest() + body)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "elsewhere"))
    epub = pipeline.build(project, ("epub",), page_list=False).outputs[0].data
    with zipfile.ZipFile(io.BytesIO(epub)) as archive:
        assert not any(b"<script" in archive.read(n) for n in archive.namelist())
