"""`companion push` onto fake reader drives laid out as the real ones are (the files each reader keeps on
its drive, as calibre's drivers look for them), found through a fake /proc/mounts."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from companion.core.errors import CompanionError
from companion.deliver import devices, push

SLUG = "never-let-me-go"


@pytest.fixture
def dist(tmp_path: Path, built: Path) -> Path:
    out = tmp_path / "dist"
    out.mkdir()
    for name in (f"{SLUG}.epub", f"{SLUG}.kepub.epub", f"{SLUG}.pdf", f"{SLUG}-cover.jpg", "catalog.xml"):
        shutil.copy(built / name, out / name)
    return out


def drive(root: Path, kind: str) -> Path:
    """An empty drive of that reader, as it looks when mounted."""
    layouts = {
        "kobo": [".kobo/KoboReader.sqlite", ".kobo/version"],
        "pocketbook": ["system/config/book_ext.cfg", "system/profiles/default/config/x", "books/.keep"],
        "tolino": [".tolino", "Books/.keep"],
        "kindle": ["documents/.keep", "system/version.txt"],
        "stick": ["photos/a.jpg"],
    }
    for name in layouts[kind]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def failure(caught: pytest.ExceptionInfo[CompanionError]) -> str:
    return "\n".join(d.format() for d in caught.value.diagnostics)


def test_kobo_gets_the_kepub(tmp_path: Path, dist: Path) -> None:
    kobo = drive(tmp_path / "KOBOeReader", "kobo")
    device = push.choose_device(kobo)
    assert (device.kind, device.books) == ("Kobo", kobo)
    [done] = push.push(dist, device)
    assert done.target == kobo / f"{SLUG}.kepub.epub" and done.state == "copied"
    assert done.target.read_bytes() == (dist / f"{SLUG}.kepub.epub").read_bytes()
    assert not list(kobo.glob(".*.tmp")) and not (kobo / f"{SLUG}.epub").exists()
    assert push.push(dist, device)[0].state == "unchanged"


def test_pocketbook_and_tolino_get_the_epub(tmp_path: Path, dist: Path) -> None:
    pocketbook = drive(tmp_path / "PB632", "pocketbook")
    tolino = drive(tmp_path / "READER", "tolino")
    for root, books in ((pocketbook, pocketbook / "books"), (tolino, tolino / "Books")):
        device = push.choose_device(root)
        [done] = push.push(dist, device)
        assert done.target == books / f"{SLUG}.epub"
        assert done.target.read_bytes() == (dist / f"{SLUG}.epub").read_bytes()


def test_a_drive_labelled_tolino_is_a_tolino(tmp_path: Path) -> None:
    root = tmp_path / "tolino"
    root.mkdir()
    assert devices.detect(root) == devices.Device("Tolino", root, root / "Books")


def test_any_other_folder_is_an_epub_reader(tmp_path: Path, dist: Path) -> None:
    stick = drive(tmp_path / "stick", "stick")
    assert devices.detect(stick) is None
    device = push.choose_device(stick)
    assert device.kind == "EPUB reader"
    assert push.push(dist, device)[0].target == stick / f"{SLUG}.epub"


def test_kindle_is_refused_with_a_pointer_to_send(tmp_path: Path, dist: Path) -> None:
    kindle = drive(tmp_path / "Kindle", "kindle")
    with pytest.raises(CompanionError) as caught:
        push.push(dist, push.choose_device(kindle))
    assert failure(caught) == (
        f"{kindle}: error D032: {kindle} is a Kindle, which cannot read EPUB copied over USB\n"
        "    hint: e-mail the book instead: "
        f"companion send {dist / (SLUG + '.epub')} --to YOUR-NAME@kindle.com"
    )
    assert not list((kindle / "documents").glob("*.epub"))


def test_a_different_book_of_the_same_name_is_kept(tmp_path: Path, dist: Path) -> None:
    kobo = drive(tmp_path / "KOBOeReader", "kobo")
    theirs = kobo / f"{SLUG}.kepub.epub"
    theirs.write_bytes(b"someone else's book")
    with pytest.raises(CompanionError) as caught:
        push.push(dist, push.choose_device(kobo))
    assert failure(caught) == (
        f"{theirs}: error D033: {theirs} already holds a different book; it was left as it is\n"
        "    hint: rename or delete it on the reader, or pass --replace to overwrite it"
    )
    assert theirs.read_bytes() == b"someone else's book"
    [done] = push.push(dist, push.choose_device(kobo), replace=True)
    assert done.state == "replaced" and theirs.read_bytes() == (dist / f"{SLUG}.kepub.epub").read_bytes()


def test_an_older_copy_of_the_same_book_is_updated(tmp_path: Path, dist: Path) -> None:
    kobo = drive(tmp_path / "KOBOeReader", "kobo")
    shutil.copy(dist / f"{SLUG}.epub", kobo / f"{SLUG}.kepub.epub")  # same identifier, other bytes
    [done] = push.push(dist, push.choose_device(kobo))
    assert done.state == "updated"


def test_readers_are_found_among_the_mounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media = tmp_path / "media" / "reader"
    kobo = drive(media / "KOBO eReader", "kobo")
    drive(media / "KINGSTON", "stick")
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "proc /proc proc rw 0 0\n"
        f"/dev/sda1 {tmp_path}/root ext4 rw 0 0\n"
        f"/dev/sdb1 {str(kobo).replace(' ', chr(92) + '040')} vfat rw,nosuid 0 0\n"
        f"/dev/sdc1 {media}/KINGSTON vfat rw 0 0\n"
    )
    monkeypatch.setattr(devices, "MOUNTS", mounts)
    monkeypatch.setattr(devices, "REMOVABLE", (f"{tmp_path}/media/",))
    assert devices.mount_points() == [kobo, media / "KINGSTON"]
    assert push.choose_device(None) == devices.Device("Kobo", kobo, kobo)
    drive(media / "PB", "pocketbook")
    mounts.write_text(mounts.read_text() + f"/dev/sdd1 {media}/PB vfat rw 0 0\n")
    with pytest.raises(CompanionError) as caught:
        push.choose_device(None)
    assert failure(caught) == (
        f"push: error D031: 2 e-readers are mounted: Kobo at {kobo}, PocketBook at {media}/PB\n"
        "    hint: choose one with --device PATH"
    )
    mounts.write_text("")
    with pytest.raises(CompanionError) as caught:
        push.choose_device(None)
    assert failure(caught) == (
        "push: error D030: no e-reader found among the mounted drives\n"
        "    hint: connect the reader by USB, choose to connect on its screen, "
        "or give its folder with --device PATH"
    )


def test_nothing_to_push_and_no_such_device(tmp_path: Path) -> None:
    kobo = drive(tmp_path / "KOBOeReader", "kobo")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CompanionError) as caught:
        push.push(empty, push.choose_device(kobo))
    assert failure(caught) == (
        f"{empty}: error D034: no EPUB to push in {empty}\n    hint: build it first with `companion build`"
    )
    with pytest.raises(CompanionError) as caught:
        push.choose_device(tmp_path / "gone")
    assert failure(caught) == (
        f"{tmp_path / 'gone'}: error D036: {tmp_path / 'gone'} is not a folder (a mounted reader)\n"
        "    hint: give the folder where the reader is mounted"
    )


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, dist: Path) -> None:
    tolino = drive(tmp_path / "READER", "tolino")
    shutil.rmtree(tolino / "Books")
    (tolino / "Books").write_bytes(b"")  # a file where the folder should be: the write fails
    with pytest.raises(CompanionError) as caught:
        push.push(dist, push.choose_device(tolino))
    target = tolino / "Books" / f"{SLUG}.epub"
    assert failure(caught).startswith(f"{target}: error D035: cannot write {target}: ")
    assert failure(caught).endswith("    hint: check that it is mounted writable and has room")
    assert sorted(p.name for p in tolino.iterdir()) == [".tolino", "Books"]


def test_cli_reports_what_it_wrote(cli: Callable[..., Result], tmp_path: Path, dist: Path) -> None:
    kobo = drive(tmp_path / "KOBOeReader", "kobo")
    result = cli("push", str(dist), "--device", str(kobo))
    assert result.exit_code == 0, result.stderr
    size = (dist / f"{SLUG}.kepub.epub").stat().st_size / 1024 / 1024
    assert result.stdout == (
        f"copied {SLUG}.kepub.epub ({size:.1f} MB) to the Kobo at {kobo / (SLUG + '.kepub.epub')}\n"
        "eject the Kobo before unplugging it\n"
    )
    result = cli("push", str(dist), "--device", str(kobo))
    assert result.stdout.startswith(
        f"unchanged: {SLUG}.kepub.epub is already on the Kobo at {kobo / (SLUG + '.kepub.epub')}\n"
    )
    kindle = drive(tmp_path / "Kindle", "kindle")
    result = cli("push", str(dist), "--device", str(kindle))
    assert result.exit_code == 1 and "error D032" in result.stderr and "companion send" in result.stderr


def test_a_tolino_on_kobos_software_gets_the_epub(tmp_path: Path, dist: Path) -> None:
    """calibre's KoboTouch driver serves the Tolino Shine 5, Shine Color and Vision Color (Kobo's
    software, a `.kobo/` folder) but sends them the EPUB: no kepubify for a Tolino."""
    tolino = drive(tmp_path / "tolino", "kobo")
    device = push.choose_device(tolino)
    assert device == devices.Device("Tolino", tolino, tolino)
    [done] = push.push(dist, device)
    assert done.target == tolino / f"{SLUG}.epub"
    assert not (tolino / f"{SLUG}.kepub.epub").exists()
    assert devices.detect(drive(tmp_path / "KOBOeReader", "kobo")).kind == "Kobo"  # type: ignore[union-attr]


def test_the_copy_is_readable_by_everyone(tmp_path: Path, dist: Path) -> None:
    """A temporary file is created 0600; the book on the reader gets the usual 0644."""
    stick = drive(tmp_path / "stick", "stick")
    [done] = push.push(dist, push.choose_device(stick))
    assert done.target.stat().st_mode & 0o777 == 0o644
