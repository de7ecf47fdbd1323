# ruff: noqa: E501  (expected diagnostics are kept whole, one per line, to read like the terminal)
"""Bad input through the real CLI: every problem at its line with its exact message, all in one run, exit 1.

Each test breaks a tiny valid companion in one way and runs `companion check source` from the project
folder, so paths print as the user would see them (`source/book.yaml:3:1: error C012: ...`).
"""

from __future__ import annotations

import os
import re
import shutil
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from companion.cli import main
from companion.core.codes import CODES, codes_table
from companion.core.errors import CompanionError
from companion.source.load import load
from companion.source.validate import validate

from .tinysource import make_tiny

Check = Callable[[], tuple[int, str]]

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def png(width: int = 1, height: int = 1) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


PNG_1PX = png()


@pytest.fixture
def src(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny valid companion; the working folder is its project folder."""
    monkeypatch.chdir(tmp_path)
    return make_tiny(tmp_path)


def run_check(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", *args], catch_exceptions=False)
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stderr


def problems(source: str = "source") -> str:
    """Run check, insist on exit 1, and return stderr."""
    code, err = run_check(source)
    assert code == 1, err
    assert re.search(r"\d+ errors?; nothing was written\.$", err.strip()), err
    return err


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def chapter(src: Path, body: str, name: str = "01-one.md", front: str = "title: One\n") -> None:
    write(src / "chapters" / name, f"---\n{front}---\n\n{body}")


def add(src: Path, name: str, text: str) -> None:
    with (src / name).open("a", encoding="utf-8") as handle:
        handle.write(text)


def test_valid_tiny_companion_passes(src: Path) -> None:
    assert run_check("source") == (0, "")


# --- files and folders --------------------------------------------------------------------------


def test_c001_missing_source_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert problems("nowhere").startswith(
        "nowhere: error C001: source folder not found\n"
        "    hint: run `companion new DIR` to start one, or pass the folder\n"
    )


def test_c001_source_is_a_file(src: Path) -> None:
    assert "source/book.yaml: error C001: source folder is a file, not a folder\n" in problems(
        "source/book.yaml"
    )


def test_c002_required_file_missing(src: Path) -> None:
    (src / "book.yaml").unlink()
    (src / "about.yaml").unlink()
    err = problems()
    assert "source/book.yaml: error C002: required file book.yaml is missing\n" in err
    assert "source/about.yaml: error C002: required file about.yaml is missing\n" in err
    assert err.endswith("2 errors; nothing was written.\n")


def test_c003_invalid_utf8_in_yaml_and_chapter(src: Path) -> None:
    (src / "about.yaml").write_bytes(b"overview: ok\nsetting: caf\xe9 au lait\n")
    (src / "chapters" / "02-two.md").write_bytes(b"---\ntitle: Two\n---\n\nFine.\nNot \xff fine.\n")
    err = problems()
    assert (
        "source/about.yaml:2:13: error C003: invalid UTF-8 byte 0xe9\n    hint: save the file as UTF-8\n"
        in err
    )
    assert "source/chapters/02-two.md:6:5: error C003: invalid UTF-8 byte 0xff\n" in err


def test_c004_empty_files(src: Path) -> None:
    write(src / "about.yaml", "")
    write(src / "characters.yaml", "\n\n   \n")
    write(src / "themes.yaml", "# nothing yet\n")
    chapter(src, "")
    err = problems()
    assert "source/about.yaml:1: error C004: file is empty\n" in err
    assert "source/characters.yaml:1: error C004: file is empty\n" in err
    assert "source/themes.yaml:1: error C004: file has only comments or blank lines\n" in err
    assert "source/chapters/01-one.md:4: error C004: chapter has no text after its front matter\n" in err


def test_c005_huge_file_refused_quickly(src: Path) -> None:
    (src / "chapters" / "02-big.md").write_bytes(b"---\ntitle: Big\n---\n\n" + b"word " * 430_000)
    started = time.perf_counter()
    err = problems()
    assert time.perf_counter() - started < 2
    assert re.search(
        r"^source/chapters/02-big\.md: error C005: file is 2,150,020 bytes; the limit is 2,097,152\n"
        r"    hint: source files are limited to 2 MB each$",
        err,
        re.MULTILINE,
    ), err


def test_c006_unreadable_file(src: Path) -> None:
    (src / "chapters" / "02-gone.md").symlink_to(src / "chapters" / "missing-target.md")
    assert (
        "source/chapters/02-gone.md: error C006: cannot read file: No such file or directory\n" in problems()
    )


def test_c007_deep_nesting_refused_quickly(src: Path) -> None:
    write(src / "faq.yaml", "[" * 500_000 + "]" * 500_000)
    started = time.perf_counter()
    err = problems()
    assert time.perf_counter() - started < 10
    assert (
        "source/faq.yaml:1:33: error C007: values are nested more than 32 levels deep\n"
        "    hint: YAML values may be nested at most 32 levels deep\n"
    ) in err


def test_c008_control_characters(src: Path) -> None:
    chapter(src, "A bell\x07 rings.\nAnd a form\x0cfeed.\n")
    add(src, "about.yaml", 'closing: "escaped \\0 null"\n')
    err = problems()
    assert (
        "source/chapters/01-one.md:5:7: error C008: control character U+0007 is not allowed\n"
        "    hint: delete it; invisible control characters cannot appear in an EPUB or PDF\n"
    ) in err
    assert "source/chapters/01-one.md:6:11: error C008: control character U+000C is not allowed\n" in err
    assert "source/about.yaml:3:10: error C008: control character U+0000 is not allowed\n" in err


# --- YAML and schema ----------------------------------------------------------------------------


def test_c010_yaml_syntax_error_at_line_and_column(src: Path) -> None:
    write(src / "book.yaml", "title: [Tiny\nslug: tiny\n")
    assert problems() == (
        "source/book.yaml:2:5: error C010: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence at line 1)\n"
        "1 error; nothing was written.\n"
    )


def test_c010_bad_indentation_and_duplicate_key(src: Path) -> None:
    write(src / "about.yaml", "overview: An overview.\n  setting: x\n")
    write(src / "faq.yaml", "- question: Q?\n  answer: A.\n  answer: B.\n")
    err = problems()
    assert "source/about.yaml:2:10: error C010: mapping values are not allowed here\n" in err
    assert "source/faq.yaml:3:3: error C010: key `answer` appears twice\n" in err


def test_c011_alias_bomb_refused_fast_with_bounded_memory(src: Path) -> None:
    write(src / "quotes.yaml", BOMB)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        err = problems()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 20_000_000
    assert (
        "source/quotes.yaml:1:4: error C011: anchors and aliases (& and *) are not allowed\n"
        "    hint: repeat the value instead of aliasing it\n"
    ) in err


def test_c012_unknown_key_with_did_you_mean(src: Path) -> None:
    write(src / "book.yaml", (src / "book.yaml").read_text().replace("author: Test", "autor: Test"))
    add(src, "book.yaml", "  yaer: 2001\nflavour: vanilla\n")
    err = problems()
    assert "source/book.yaml:3:1: error C012: unknown key `autor`\n    hint: did you mean `author`?\n" in err
    assert "source/book.yaml:12:3: error C012: unknown key `yaer`\n    hint: did you mean `year`?\n" in err
    assert re.search(
        r"^source/book.yaml:13:1: error C012: unknown key `flavour`\n    hint: known keys: ", err, re.M
    )


def test_c012_unknown_key_in_front_matter(src: Path) -> None:
    chapter(src, "Text.\n", front="title: One\nspoiler: true\n")
    assert (
        "source/chapters/01-one.md:3:1: error C012: unknown key `spoiler`\n    hint: did you mean `spoilers`?\n"
    ) in problems()


def test_c013_missing_required_field(src: Path) -> None:
    write(src / "book.yaml", (src / "book.yaml").read_text().replace("author: Test Author\n", ""))
    write(src / "characters.yaml", "- id: kathy\n  name: Kathy\n")
    err = problems()
    assert (
        "source/book.yaml:1:1: error C013: required field `author` is missing\n    hint: add `author: ...`\n"
        in err
    )
    assert "source/characters.yaml:1:3: error C013: required field `description` is missing\n" in err


def test_c014_wrong_types(src: Path) -> None:
    book = (src / "book.yaml").read_text()
    book = book.replace("year: 2000", "year: soon").replace("2024-01-01", "yesterday")
    book = book.replace("title: Tiny Companion", "title: 1984").replace("language: en", "language: english")
    write(src / "book.yaml", book)
    write(
        src / "characters.yaml",
        "- id: Kathy H\n  name: Kathy\n  description: The narrator.\n  spoilers: maybe\n",
    )
    write(src / "themes.yaml", "id: memory\n")
    err = problems()
    assert (
        'source/book.yaml:1:8: error C014: `title` must be text (found `1984`)\n    hint: put the value in quotes: "1984"\n'
        in err
    )
    assert "source/book.yaml:4:11: error C014: `language` is not valid (found `english`)\n" in err
    assert "    hint: write a language tag such as `en`, `en-GB` or `fr`\n" in err
    assert (
        "source/book.yaml:6:12: error C014: `published` must be a date (found `yesterday`)\n"
        "    hint: write it as YYYY-MM-DD, such as 2024-01-31\n"
    ) in err
    assert "source/book.yaml:11:9: error C014: `novel.year` must be a whole number (found `soon`)\n" in err
    assert "source/characters.yaml:1:7: error C014: `id` is not valid (found `Kathy H`)\n" in err
    assert (
        "source/characters.yaml:4:13: error C014: `spoilers` must be true or false (found `maybe`)\n" in err
    )
    assert (
        "source/themes.yaml:1:1: error C014: the file must be a list of entries, each starting with `- `"
        in err
    )


def test_c014_invalid_date(src: Path) -> None:
    text = (src / "book.yaml").read_text()
    write(src / "book.yaml", text.replace("2024-01-01", "2024-13-45"))
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "2024-01-01" in row)
    assert f"source/book.yaml:{line}:12: error C010: invalid date `2024-13-45`: month must be in 1..12\n" in (
        problems()
    )


def test_c015_bad_front_matter(src: Path) -> None:
    write(src / "chapters" / "02.md", "No front matter here.\n")
    write(src / "chapters" / "03.md", "---\ntitle: Never closed\n\nBody.\n")
    write(src / "chapters" / "04.md", "---\n---\n\nBody.\n")
    write(src / "chapters" / "05.md", "---\n- a list\n---\n\nBody.\n")
    write(src / "chapters" / "06.md", "---\ntitle: [x\n---\n\nBody.\n")
    write(src / "chapters" / "07.md", "---\nsubtitle: no title\n---\n\nBody.\n")
    err = problems()
    hint = "    hint: start the file with ---, then `title: ...`, then ---\n"
    assert "source/chapters/02.md:1:1: error C015: chapter has no front matter\n" + hint in err
    assert (
        "source/chapters/03.md:1:1: error C015: front matter is not closed\n"
        "    hint: end the front matter with a line holding only ---\n"
    ) in err
    assert "source/chapters/04.md:1:1: error C015: front matter is empty; it needs `title:`\n" in err
    assert "source/chapters/05.md:2:1: error C015: front matter must be `key: value` lines\n" in err
    assert "source/chapters/06.md:3:1: error C010: expected ',' or ']', but got '<stream end>'" in err
    assert "source/chapters/07.md:2:1: error C012: unknown key `subtitle`\n" in err
    assert "source/chapters/07.md:2:1: error C013: required field `title` is missing\n" in err


def test_c016_duplicate_and_reserved_ids(src: Path) -> None:
    write(
        src / "characters.yaml",
        "- id: kathy\n  name: Kathy\n  description: A.\n- id: kathy\n  name: Kathy H.\n  description: B.\n",
    )
    write(src / "themes.yaml", "- id: glossary\n  title: Words\n  body: Text.\n")
    chapter(src, "Text.\n", name="02-two.md", front="title: Two\nid: kathy\n")
    err = problems()
    assert (
        "source/characters.yaml:4:7: error C016: id `kathy` is already used at source/chapters/02-two.md:1\n"
        "    hint: every id must be unique across the companion\n"
    ) in err
    assert (
        "source/characters.yaml:1:7: error C016: id `kathy` is already used at source/chapters/02-two.md:1\n"
        in err
    )
    assert "source/themes.yaml:1:7: error C016: id `glossary` is reserved for a section of the book\n" in err


def test_c017_yaml_tags_refused(src: Path) -> None:
    add(src, "about.yaml", "closing: !!python/object:os.system echo\n")
    assert (
        "source/about.yaml:3:10: error C017: YAML tag `tag:yaml.org,2002:python/object:os.system` is not allowed\n"
        "    hint: remove the `!tag`; quote the value if it is text\n"
    ) in problems()


# --- Markdown content ---------------------------------------------------------------------------


def test_c020_raw_html_in_chapter_at_its_line_and_column(src: Path) -> None:
    chapter(
        src,
        'First paragraph.\n\nA line,\nthen <span onclick="steal()">this</span>.\n\n<script>alert(1)</script>\n',
    )
    err = problems()
    assert (
        'source/chapters/01-one.md:8:6: error C020: raw HTML `<span onclick="steal()">` is not allowed\n'
        "    hint: use Markdown instead of HTML\n"
    ) in err
    assert (
        "source/chapters/01-one.md:10:1: error C020: raw HTML `<script>alert(1)</script>` is not allowed\n"
        in err
    )
    assert err.endswith("2 errors; nothing was written.\n")  # the closing </span> is not reported again


def test_c020_raw_html_in_yaml_block_scalar_at_its_line(src: Path) -> None:
    write(
        src / "characters.yaml",
        "- id: kathy\n  name: Kathy\n  description: |\n    Line one.\n    Line <b>two</b>.\n\n"
        '    <iframe src="https://tracker.example/"></iframe>\n',
    )
    err = problems()
    assert "source/characters.yaml:5:10: error C020: raw HTML `<b>` is not allowed\n" in err
    assert (
        'source/characters.yaml:7:5: error C020: raw HTML `<iframe src="https://tracker.example/"></iframe>` is not allowed\n'
    ) in err


def test_c021_remote_and_file_links_refused_at_their_line(src: Path) -> None:
    chapter(
        src,
        "Intro.\n\nSee [a](http://example.com/a) and\n[b](https://example.com/b), [c](ftp://example.com/c).\n\n"
        "Also [d](file:///etc/passwd) and <https://autolink.example/>.\n",
    )
    err = problems()
    remote = "    hint: books must not reach the network; write the address as plain text\n"
    assert (
        "source/chapters/01-one.md:7:9: error C021: remote address `http://example.com/a` is not allowed\n"
        + remote
        in err
    )
    assert (
        "source/chapters/01-one.md:8:5: error C021: remote address `https://example.com/b` is not allowed\n"
        in err
    )
    assert (
        "source/chapters/01-one.md:8:33: error C021: remote address `ftp://example.com/c` is not allowed\n"
        in err
    )
    assert (
        "source/chapters/01-one.md:10:10: error C021: link to a file `file:///etc/passwd` is not allowed\n"
        "    hint: link to another part of the companion with #id\n"
    ) in err
    assert (
        "source/chapters/01-one.md:10:35: error C021: remote address `https://autolink.example/` is not allowed\n"
        in err
    )


def test_c021_image_paths_outside_source_refused(src: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(PNG_1PX)
    (src / "images").mkdir()
    (src / "images" / "link.png").symlink_to(tmp_path / "secret.png")
    chapter(
        src,
        "Intro.\n\n![up](../../etc/passwd)\n\n![abs](/etc/passwd)\n\n![sym](images/link.png)\n\n"
        "![remote](https://example.com/pixel.png)\n\n![file](file:///etc/passwd)\n\n![sneaky](images/../../secret.png)\n",
    )
    err = problems()
    outside = "    hint: only files under source/ may be used\n"
    assert (
        "source/chapters/01-one.md:7:7: error C021: image `../../etc/passwd` is outside the companion's source folder\n"
        + outside
        in err
    )
    assert (
        "source/chapters/01-one.md:9:8: error C021: image `/etc/passwd` is outside the companion's source folder\n"
        in err
    )
    assert (
        "source/chapters/01-one.md:11:8: error C021: image `images/link.png` is outside the companion's source folder\n"
        in err
    )
    assert (
        "source/chapters/01-one.md:13:11: error C021: image `https://example.com/pixel.png` is not a file under source/\n"
        "    hint: copy the image into source/images/ and use a relative path\n"
    ) in err
    assert (
        "source/chapters/01-one.md:15:9: error C021: image `file:///etc/passwd` is not a file under source/\n"
        in err
    )
    assert "source/chapters/01-one.md:17:11: error C021: image `images/../../secret.png` is outside" in err


def test_c022_broken_cross_reference_with_did_you_mean(src: Path) -> None:
    write(
        src / "characters.yaml",
        "- id: tommy\n  name: Tommy\n  description: |\n    Friend of\n    [Ruth](#ruth) and [Tommy](#tomy).\n",
    )
    err = problems()
    assert (
        "source/characters.yaml:5:12: error C022: no chapter, character, theme or term has id `ruth`\n" in err
    )
    assert (
        "source/characters.yaml:5:31: error C022: no chapter, character, theme or term has id `tomy`\n"
        "    hint: did you mean `#tommy`?\n"
    ) in err


def test_c023_unsafe_link_schemes(src: Path) -> None:
    chapter(
        src,
        "Intro.\n\nClick [me](javascript:alert(1)), [data](data:text/html,hi) or [vb](vbscript:x).\n\n[mail](mailto:a@example.com) is fine.\n",
    )
    err = problems()
    assert (
        "source/chapters/01-one.md:7:12: error C023: `javascript:` links are not allowed\n"
        "    hint: links may only point at #ids in the companion or at mailto: addresses\n"
    ) in err
    assert "source/chapters/01-one.md:7:41: error C023: `data:` links are not allowed\n" in err
    assert "source/chapters/01-one.md:7:68: error C023: `vbscript:` links are not allowed\n" in err
    assert "a@example.com" not in err


def test_c024_undefined_footnote(src: Path) -> None:
    chapter(src, "Intro.\n\nA claim.[^1] Another.[^2]\n\n[^1]: Defined.\n")
    assert problems() == (
        "source/chapters/01-one.md:7:22: error C024: footnote `[^2]` is used but never defined\n"
        "1 error; nothing was written.\n"
    )


def test_c025_characters_the_fonts_cannot_show_warn(src: Path, tmp_path: Path) -> None:
    make_tiny(tmp_path / "other", styles=True)
    project = tmp_path / "other"
    chapter(project / "source", "Intro.\n\nA smile 😀 and שלום.\n")
    code, err = run_check(str(project / "source"))
    assert code == 0
    assert err.endswith(
        "01-one.md:7:9: warning C025: the bundled fonts cannot show 😀 (U+1F600), ש (U+05E9), ל (U+05DC), "
        "ו (U+05D5), ם (U+05DD)\n"
        "    hint: print shows a box in its place, an e-reader its own font if it has one; consider rephrasing\n"
    )


# --- images -------------------------------------------------------------------------------------


def test_c030_c031_c032_images(src: Path) -> None:
    (src / "images").mkdir()
    (src / "images" / "fake.png").write_text("not an image")
    (src / "images" / "dot.png").write_bytes(PNG_1PX)
    chapter(
        src,
        "Intro.\n\n![A map](images/missing.png)\n\n![A photo](images/fake.png)\n\n![](images/dot.png)\n\n"
        "![A dot](images/dot.png) is fine. ![Spaced](images/my%20map.png)\n",
    )
    err = problems()
    assert "source/chapters/01-one.md:7:10: error C030: image `images/missing.png` not found\n" in err
    assert (
        "source/chapters/01-one.md:9:12: error C032: image `images/fake.png`: not a JPEG, PNG or GIF image, "
        "or a damaged one\n    hint: use JPEG, PNG, GIF or a clean SVG\n"
    ) in err
    assert (
        "source/chapters/01-one.md:11:5: error C031: image `images/dot.png` has no alt text\n"
        "    hint: write ![what the image shows](path)\n"
    ) in err
    assert "error C032: image path `images/my%20map.png` may use only letters, digits, . _ - and /\n" in err
    assert err.endswith("4 errors; nothing was written.\n")


def test_c034_svg_with_script(src: Path) -> None:
    write(
        src / "images" / "map.svg", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    )
    write(
        src / "images" / "pi.svg",
        '<?xml-stylesheet href="http://x/a.css"?><svg xmlns="http://www.w3.org/2000/svg"/>',
    )
    chapter(src, "Intro.\n\n![A map](images/map.svg) ![Styled](images/pi.svg)\n")
    err = problems()
    assert "source/chapters/01-one.md:7:10: error C034: image `images/map.svg`: <script> element\n" in err
    assert (
        "source/chapters/01-one.md:7:36: error C034: image `images/pi.svg`: processing instruction <?xml-stylesheet?>\n"
        in err
    )


# --- the whole picture --------------------------------------------------------------------------


def test_every_problem_in_every_file_in_one_run(src: Path) -> None:
    write(src / "book.yaml", (src / "book.yaml").read_text().replace("slug:", "slugg:"))
    write(src / "about.yaml", "overview: [oops\n")
    write(src / "quotes.yaml", "- text: A.\n")
    chapter(src, "See [nobody](#nobody) and <em>this</em>.\n")
    err = problems()
    codes = re.findall(r"^\S+: error (C\d{3}):", err, re.MULTILINE)
    assert sorted(codes) == ["C010", "C012", "C013", "C013", "C020", "C022"], err
    assert err.endswith("6 errors; nothing was written.\n")


def test_no_false_broken_references_when_a_file_with_ids_failed(src: Path) -> None:
    write(src / "characters.yaml", "- id: kathy\n  name: Kathy\n  description: The narrator.\n  age: 31\n")
    chapter(src, "About [Kathy](#kathy), <em>really</em>.\n")
    err = problems()
    assert "C022" not in err
    assert "source/chapters/01-one.md:5:24: error C020: raw HTML `<em>` is not allowed\n" in err


def test_lines_in_chapters_count_from_the_file_not_the_body(src: Path) -> None:
    front = "title: One\nepigraph:\n  text: Words.\n  source: Someone\n"
    chapter(src, "\n\nPara.\n\n> quoted\n> and <u>underlined</u>\n", front=front)
    assert "source/chapters/01-one.md:13:7: error C020: raw HTML `<u>` is not allowed\n" in problems()


def test_folded_and_quoted_yaml_scalars_point_at_the_right_line(src: Path) -> None:
    write(
        src / "themes.yaml",
        "- id: hope\n  title: Hope\n  body: >\n    folded text\n    that goes on\n    to [a link](https://x.example).\n"
        '- id: fear\n  title: "Fear <i>x</i>"\n  body: Plain.\n',
    )
    err = problems()
    assert "source/themes.yaml:6:17: error C021: remote address `https://x.example` is not allowed\n" in err
    assert "source/themes.yaml:8:16: error C020: raw HTML `<i>` is not allowed\n" in err


def test_no_traceback_for_garbage_files(src: Path) -> None:
    (src / "book.yaml").write_bytes(bytes(range(256)) * 4)
    (src / "about.yaml").write_bytes(b"\x00\x01\x02")
    (src / "faq.yaml").write_text("? [a, b]\n: c\n---\nsecond: doc\n")
    (src / "chapters" / "02.md").write_bytes(
        b"\xef\xbb\xbf---\r\ntitle: BOM and CRLF\r\n---\r\n\r\nFine.\r\n"
    )
    err = problems()
    assert "source/book.yaml:2:118: error C003: invalid UTF-8 byte 0x80\n" in err
    assert "source/about.yaml:1:1: error C008: control character U+0000 is not allowed\n" in err
    assert (
        "source/faq.yaml:1:3: error C047: a key that is itself a mapping or a list is not allowed\n"
    ) in err
    assert "02.md" not in err  # a byte-order mark and Windows line ends are fine


def test_check_writes_nothing(src: Path, tmp_path: Path) -> None:
    chapter(src, "<b>bold</b>\n")
    before = sorted(p for p in tmp_path.rglob("*"))
    problems()
    assert sorted(p for p in tmp_path.rglob("*")) == before


def test_odd_yaml_gives_problems_and_validate_raises_only_companion_errors(src: Path) -> None:
    for text in (
        "- a\n- b\n",
        "just a string\n",
        "1: 2\n",
        "title: {a: [b, {c: d}]}\n",
        "x: .nan\ny: 1e999\n",
    ):
        write(src / "book.yaml", text)
        loaded = load(src)  # load reports what it found; it never raises for bad content
        assert loaded.problems and loaded.companion.book is None
        with pytest.raises(CompanionError):
            validate(loaded)


# --- the catalogue ------------------------------------------------------------------------------


def test_codes_table_lists_every_code() -> None:
    table = codes_table()
    lines = table.strip().splitlines()
    assert lines[0] == "| code | severity | problem | what to do |"
    assert len(lines) == 2 + len(CODES)
    for name, code in CODES.items():
        assert f"| {name} | {code.severity} | {code.summary} |" in table


def test_every_code_used_in_the_source_is_catalogued_and_tested() -> None:
    src = Path(__file__).resolve().parent.parent / "src" / "companion"
    used = set()
    for path in src.glob("*.py"):
        if path.name == "codes.py":
            continue
        used |= set(re.findall(r'"([CP]\d{3})"', path.read_text(encoding="utf-8")))
    assert used <= set(CODES)
    tested = set(re.findall(r"error (C\d{3})|warning (C\d{3})", Path(__file__).read_text(encoding="utf-8")))
    tested_codes = {a or b for a, b in tested}
    emitted = {c for c in used if c.startswith("C")}
    assert emitted - tested_codes == set()


def test_c014_absurd_cover_text_refused_quickly(src: Path) -> None:
    write(
        src / "book.yaml",
        (src / "book.yaml").read_text().replace("title: Tiny Companion", "title: " + "Long" * 40),
    )
    started = time.perf_counter()
    err = problems()
    assert time.perf_counter() - started < 2
    assert (
        "source/book.yaml:1:8: error C014: `title` is too long for the cover (160 characters, longest word 160)\n"
        "    hint: keep it under 300 characters and words under 100\n"
    ) in err


def build_pdf(tmp_path: Path) -> tuple[int, str]:
    """Build the tiny companion's PDF through the CLI; the exit code and stderr."""
    if not (tmp_path / "styles").exists():
        shutil.copytree(Path(__file__).resolve().parent.parent / "styles", tmp_path / "styles")
    result = CliRunner().invoke(
        main, ["build", "source", "--format", "pdf", "--out", "dist"], catch_exceptions=False
    )
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stderr


@pytest.mark.slow
def test_c033_low_resolution_image_is_a_warning_naming_it(src: Path, tmp_path: Path) -> None:
    (src / "images").mkdir()
    (src / "images" / "small.png").write_bytes(png(120, 80))
    chapter(src, "Some text.\n\n![A small picture](images/small.png)\n")
    code, err = build_pdf(tmp_path)
    assert code == 0, err
    assert (
        "source/images/small.png: warning C033: image `images/small.png` prints at 96 dpi; print needs 300"
        in err
    )


@pytest.mark.slow
def test_c036_a_line_past_its_measure_is_reported(src: Path, tmp_path: Path) -> None:
    chapter(src, "Some text " + "x" * 300 + " and more.\n")
    code, err = build_pdf(tmp_path)
    assert code == 0, err
    assert "C036" not in err  # the bundled styles break a word too long for any line
    with (tmp_path / "styles" / "print.css").open("a", encoding="utf-8") as css:
        css.write("p { white-space: nowrap; overflow-wrap: normal; }\n")
    code, err = build_pdf(tmp_path)
    assert code == 0, err
    assert re.search(
        r"tiny\.pdf: warning C036: page \d+: a line runs past its measure: `Some text xxxxx", err
    )


# --- a project from a stranger (issue 13): the reading gate and styles/ ------------------------


def test_c040_chapter_linked_from_outside_the_project(src: Path, tmp_path: Path) -> None:
    secret = tmp_path.parent / f"{tmp_path.name}-secret.md"
    secret.write_text("---\ntitle: Secret\n---\n\nThe secret text.\n", encoding="utf-8")
    (src / "chapters" / "02-secret.md").symlink_to(secret)
    assert (
        "source/chapters/02-secret.md: error C040: the file is a link to a place outside source/\n"
        "    hint: copy the file into the project instead of linking to it\n"
    ) in problems()


def test_c040_chapters_folder_linked_from_outside(src: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path.parent / f"{tmp_path.name}-chapters"
    (src / "chapters").rename(elsewhere)
    (src / "chapters").symlink_to(elsewhere)
    err = problems()
    assert "source/chapters: error C040: the file is a link to a place outside source/\n" in err


def test_c041_fifo_named_like_a_chapter_is_refused_at_once(src: Path) -> None:
    os.mkfifo(src / "chapters" / "02-pipe.md")
    started = time.perf_counter()
    err = problems()
    assert time.perf_counter() - started < 10
    assert (
        "source/chapters/02-pipe.md: error C041: the file is a named pipe (FIFO), not a regular file\n"
        "    hint: replace the named pipe, device or socket with an ordinary file\n"
    ) in err


def test_c042_a_font_that_is_not_a_font(src: Path) -> None:
    (src.parent / "styles" / "fonts" / "x.ttf").write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\n")
    assert (
        "styles/fonts/x.ttf: error C042: x.ttf: not a font, or a damaged one\n"
        "    hint: put only real .otf, .ttf, .woff or .woff2 fonts in styles/fonts/\n"
    ) in problems()


def test_c040_c041_fonts_that_are_links_out_or_pipes(src: Path, tmp_path: Path) -> None:
    key = tmp_path.parent / f"{tmp_path.name}-id_rsa"
    key.write_text("PRIVATE KEY\n")
    fonts = src.parent / "styles" / "fonts"
    (fonts / "x.ttf").symlink_to(key)
    os.mkfifo(fonts / "y.otf")
    err = problems()
    assert "styles/fonts/x.ttf: error C040: the file is a link to a place outside styles/\n" in err
    assert "styles/fonts/y.otf: error C041: the file is a named pipe (FIFO), not a regular file\n" in err


@pytest.mark.parametrize("kind", ["link", "pipe"])
def test_c040_c041_a_font_licence_that_is_a_link_out_or_a_pipe(src: Path, tmp_path: Path, kind: str) -> None:
    """The licence travels into the EPUB beside the fonts: check refuses it as it does a font, and build
    says so (it used to pass check and end the build with exit 70, or to skip a pipe silently)."""
    licence = src.parent / "styles" / "fonts" / "OFL.txt"
    licence.unlink()
    if kind == "link":
        key = tmp_path.parent / f"{tmp_path.name}-id_rsa"
        key.write_text("PRIVATE KEY\n")
        licence.symlink_to(key)
        line = "styles/fonts/OFL.txt: error C040: the file is a link to a place outside styles/\n"
    else:
        os.mkfifo(licence)
        line = "styles/fonts/OFL.txt: error C041: the file is a named pipe (FIFO), not a regular file\n"
    assert line in problems()
    result = CliRunner().invoke(main, ["build", "--format", "epub", "--no-page-list"])
    assert (result.exit_code, "Traceback" in result.stderr) == (1, False), result.stderr
    assert line in result.stderr
    assert not (src.parent / "dist" / "tiny.epub").exists()


def test_c040_a_styles_folder_linked_from_outside_the_project(src: Path, tmp_path: Path) -> None:
    """styles/ itself may not lead out of the project folder (its fonts and sheets would ship)."""
    elsewhere = tmp_path.parent / f"{tmp_path.name}-styles"
    (src.parent / "styles").rename(elsewhere)
    (src.parent / "styles").symlink_to(elsewhere)
    assert f"styles: error C040: the file is a link to a place outside {tmp_path.name}/\n" in problems()
    result = CliRunner().invoke(main, ["build", "--format", "epub", "--no-page-list"])
    assert result.exit_code == 1, result.stderr
    assert not (src.parent / "dist" / "tiny.epub").exists()


def test_c043_styles_missing_or_of_the_wrong_kind(src: Path) -> None:
    styles = src.parent / "styles"
    (styles / "print.css").unlink()
    (styles / "cover.css").unlink()
    (styles / "cover.css").mkdir()
    shutil.rmtree(styles / "fonts")
    (styles / "fonts").write_text("not a folder")
    err = problems()
    assert (
        "styles/print.css: error C043: style sheet print.css is missing\n"
        "    hint: styles/ needs base.css, epub.css, print.css and cover.css as files, and fonts/ as a folder\n"
    ) in err
    assert "styles/cover.css: error C043: the file is a folder, not a regular file\n" in err
    assert "styles/fonts: error C043: fonts is not a regular file, not a folder\n" in err
    shutil.rmtree(styles)
    assert "styles: error C043: the styles folder is missing\n" in problems()


def test_c021_css_escapes_and_case_do_not_hide_a_remote_load(src: Path) -> None:
    add(
        src.parent / "styles",
        "epub.css",
        '\n@\\69mport "http://evil.example/a.css";\n'
        "p { background: u\\72l(http://evil.example/t.png) }\n"
        "/* a comment */ h1 { background: URL( 'https://evil.example/u.png' ) }\n",
    )
    err = problems()
    for target in ("http://evil.example/a.css", "http://evil.example/t.png", "https://evil.example/u.png"):
        assert f"error C021: style sheet loads `{target}`, which is outside styles/\n" in err


def test_c021_a_data_url_in_a_style_sheet(src: Path) -> None:
    """A data: URL would ship a font or an SVG no check has seen (and `<` in one is an EPUBCheck error)."""
    add(
        src.parent / "styles",
        "epub.css",
        '\np { background: url("data:image/svg+xml,<svg onload=alert(1)>") }\n'
        "@font-face { font-family: X; src: url(data:font/otf;base64,AAAA) }\n",
    )
    err = problems()
    assert err.count("error C021: style sheet embeds a `data:` URL; its contents would ship unchecked\n") == 2
    assert "    hint: put the file in styles/ (fonts in styles/fonts/) and name it in the url()\n" in err


@pytest.mark.parametrize(
    ("svg", "message"),
    [
        (
            '<!DOCTYPE svg SYSTEM "a>b" [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>',
            "a DOCTYPE (DTDs and entity declarations are not allowed)",
        ),
        (
            '<!DOCTYPE svg SYSTEM "http://evil.example/x.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>',
            "a DOCTYPE (DTDs and entity declarations are not allowed)",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:URL(http://evil.example/a)"/></svg>',
            "attribute `style` refers to `http://evil.example/a`, which is not in the image",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><style>/* x */ rect { fill: u\\72l(http://e/a) }'
            "</style></svg>",
            "style sheet refers to `http://e/a`, which is not in the image",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><a><set attributeName="href" to="javascript:x"/></a></svg>',
            "<a> element",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><g><iframe xmlns="http://www.w3.org/1999/xhtml"'
            ' src="http://e/"/></g></svg>',
            "<iframe> element from namespace http://www.w3.org/1999/xhtml",
        ),
        (
            '<svg xmlns="http://www.w3.org/2000/svg"><rect fill="url(http://e/p)"/></svg>',
            "attribute `fill` refers to `http://e/p`, which is not in the image",
        ),
    ],
)
def test_c034_svg_checked_on_its_parsed_tree(src: Path, svg: str, message: str) -> None:
    write(src / "images" / "x.svg", svg)
    chapter(src, "Intro.\n\n![A map](images/x.svg)\n")
    assert f"source/chapters/01-one.md:7:10: error C034: image `images/x.svg`: {message}\n" in problems()


def test_c034_utf16_svg_is_checked_too(src: Path) -> None:
    svg = '<?xml version="1.0" encoding="UTF-16"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'
    (src / "images").mkdir()
    (src / "images" / "x.svg").write_bytes(svg.encode("utf-16"))
    chapter(src, "Intro.\n\n![A map](images/x.svg)\n")
    assert "error C034: image `images/x.svg`: <script> element\n" in problems()


def test_c032_damaged_png_and_truncated_jpeg_are_refused(src: Path) -> None:
    import io

    from PIL import Image

    (src / "images").mkdir()
    good = png(64, 64)
    (src / "images" / "bad.png").write_bytes(good[:-30] + bytes(30))
    out = io.BytesIO()
    Image.new("RGB", (256, 256), "red").save(out, "JPEG")
    (src / "images" / "cut.jpg").write_bytes(out.getvalue()[: len(out.getvalue()) // 2])
    chapter(src, "Intro.\n\n![Bad](images/bad.png) ![Cut](images/cut.jpg)\n")
    err = problems()
    assert "image `images/bad.png`: not a JPEG, PNG or GIF image, or a damaged one\n" in err
    assert "image `images/cut.jpg`: not a JPEG, PNG or GIF image, or a damaged one\n" in err


def test_c044_output_that_cannot_be_written(src: Path, tmp_path: Path) -> None:
    (tmp_path / "dist" / "tiny.epub").mkdir(parents=True)
    result = CliRunner().invoke(main, ["build", "--format", "epub", "--no-page-list"])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(
        "dist/tiny.epub: error C044: cannot write the output: Is a directory\n"
        "    hint: name a folder you can write to (--out, `companion new DIR`); no output's name may be a folder\n"
    )
    (tmp_path / "afile").write_text("x")
    result = CliRunner().invoke(main, ["build", "--format", "epub", "--no-page-list", "--out", "afile/sub"])
    assert result.exit_code == 1
    assert "afile/sub: error C044: cannot write the output: Not a directory\n" in result.stderr
    result = CliRunner().invoke(main, ["new", "afile/project"])
    assert result.exit_code == 1
    assert "afile/project: error C044: cannot write the new project: Not a directory\n" in result.stderr


@pytest.mark.parametrize("epoch", ["99999999999999", "-5", "12abc", "1e9"])
def test_c045_source_date_epoch_out_of_range(src: Path, monkeypatch: pytest.MonkeyPatch, epoch: str) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    result = CliRunner().invoke(main, ["build", "--format", "epub", "--no-page-list"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"SOURCE_DATE_EPOCH: error C045: `{epoch}` is not a time companion can use\n"
        "    hint: set it to whole seconds since 1970 (before the year 10000), or unset it\n"
    )


def test_c046_markdown_nested_too_deeply(src: Path) -> None:
    deep = "".join(("*" if i % 2 else "_") + "a " for i in range(300)) + "b"
    deep += "".join(" c" + ("*" if i % 2 else "_") for i in range(299, -1, -1))
    chapter(src, f"Intro.\n\n{deep}\n")
    assert problems() == (
        "source/chapters/01-one.md:7: error C046: Markdown is nested more than 32 levels deep here\n"
        "    hint: emphasis, quotes and lists may be nested at most 32 levels deep\n"
        "1 error; nothing was written.\n"
    )


@pytest.mark.parametrize(
    "key",
    ["? ? ? ? ? ? ? ? ? ? ? ? ? ? ? ? ? ? ? a", "{" * 18 + "a: 1" + "}" * 18 + ": 1", "[a, b]: 1"],
)
def test_c047_complex_keys_refused_at_once(src: Path, key: str) -> None:
    chapter(src, "Text.\n", front=f"title: One\n{key}\n")
    started = time.perf_counter()
    err = problems()
    assert time.perf_counter() - started < 5
    assert (
        err.startswith("source/chapters/01-one.md:3:")
        and "error C047: a key that is itself a mapping or a list is not allowed\n" in err
    )
    assert "    hint: write each key as plain text before its colon (`name: value`)\n" in err


def test_c010_value_errors_at_their_own_line(src: Path) -> None:
    book = (src / "book.yaml").read_text(encoding="utf-8")
    write(src / "book.yaml", book.replace("published: 2024-01-01", "published: 2024-13-45"))
    line = next(n for n, text in enumerate(book.splitlines(), 1) if text.startswith("published:"))
    assert (
        f"source/book.yaml:{line}:12: error C010: invalid date `2024-13-45`: month must be in 1..12\n"
        in problems()
    )
    write(src / "book.yaml", book + "\nnumber: " + "9" * 5000 + "\n")
    last = len(book.splitlines()) + 2
    assert (
        f"source/book.yaml:{last}:9: error C010: a number of 5,000 digits is too long (at most 100); "
        "quote it if it is text\n"
    ) in problems()


def test_c048_ids_and_paths_companion_keeps_for_itself(src: Path) -> None:
    write(
        src / "themes.yaml",
        "- id: how-to-use-b1\n  title: Words\n  body: Text.\n- id: page-3\n  title: P\n  body: T.\n",
    )
    (src / "cover").mkdir()
    (src / "cover" / "cover.png").write_bytes(PNG_1PX)
    (src / "images").mkdir()
    (src / "images" / "map.xhtml").write_bytes(PNG_1PX)
    chapter(src, "Intro.\n\n![Cover](cover/cover.png) ![A map](images/map.xhtml)\n")
    err = problems()
    assert (
        "source/themes.yaml:1:7: error C048: id `how-to-use-b1` has the form of an id companion makes itself\n"
        "    hint: ids may not end in -b1, -fn-1 or -ref-1 (any number), nor start with page- or res-\n"
    ) in err
    assert (
        "source/themes.yaml:4:7: error C048: id `page-3` has the form of an id companion makes itself\n"
        in err
    )
    assert (
        "source/chapters/01-one.md:7:10: error C048: image path `cover/cover.png` is in a folder the e-book "
        "keeps for its own files\n    hint: put images in source/images/ (any folder but cover/ and styles/)\n"
    ) in err
    assert (
        "source/chapters/01-one.md:7:36: error C032: image `images/map.xhtml` must end in "
        ".png, .jpg, .jpeg, .gif, .svg\n"
    ) in err


@pytest.mark.parametrize(
    ("words", "figures"),
    [
        (" ".join(["memory"] * 6000), "6,000 words, longest word 6 characters"),
        ("x" * 30000, "1 word, longest word 30,000 characters"),  # it took 20-30 s to fail to fit
        (" ".join(["w" * 30] * 900), "900 words, longest word 30 characters"),
    ],
)
def test_c014_a_description_no_back_cover_can_hold_is_refused_at_once(
    src: Path, words: str, figures: str
) -> None:
    book = (src / "book.yaml").read_text(encoding="utf-8")
    write(src / "book.yaml", re.sub(r"(?m)^description:.*$", f"description: {words}", book))
    started = time.perf_counter()
    err = problems()
    assert time.perf_counter() - started < 10
    assert (
        f"error C014: the description (with the first review) is too long for the back cover ({figures})\n"
        "    hint: keep it under 1,000 words, 10,000 letters and 100 letters a word; the back cover holds a "
        "few hundred words\n"
    ) in err


def test_c016_a_chapter_named_like_a_package_item(src: Path) -> None:
    chapter(src, "Text.\n", name="07-ncx.md")
    assert (
        "source/chapters/07-ncx.md:1: error C016: id `ncx` is reserved for a section of the book\n"
        in problems()
    )


def test_c060_c061_isbn_must_be_an_isbn13_with_its_check_digit(src: Path) -> None:
    book = (src / "book.yaml").read_text()
    write(src / "book.yaml", book + "isbn: 978-1-4028-9462\n")
    err = problems()
    assert (
        "source/book.yaml:12:7: error C060: the ISBN `978-1-4028-9462` is not an ISBN-13 (12 digits)\n" in err
    )
    assert "    hint: write the 13 digits starting 978 or 979, such as 978-1-4028-9462-6\n" in err
    write(src / "book.yaml", book + "isbn: 978-1-4028-9462-7\n")
    err = problems()
    assert (
        "source/book.yaml:12:7: error C061: the ISBN `978-1-4028-9462-7` has the check digit 7; "
        "its first 12 digits call for 6\n"
    ) in err
    write(src / "book.yaml", book + "isbn: 978-1-4028-9462-6\nisbn_addon: '5129'\n")
    assert "source/book.yaml:13:13: error C014: `isbn_addon` is not valid (found `5129`)\n" in problems()


# --- fonts (styles/ @font-face rules; fonts in built files) -------------------------------------


def styled(src: Path) -> Path:
    """The bundled styles/ beside the tiny companion; returns the styles folder."""
    styles = src.parent / "styles"
    if not styles.exists():  # (make_tiny copies it already)
        shutil.copytree(Path(__file__).resolve().parent.parent / "styles", styles)
    return styles


def test_c037_missing_or_damaged_bundled_font(src: Path) -> None:
    styles = styled(src)
    (styles / "fonts" / "EBGaramond12-Italic.otf").unlink()
    (styles / "fonts" / "EBGaramond12-AllSC.otf").write_bytes(b"not a font at all")
    err = problems()
    assert (
        "styles/base.css:12:8: error C037: the font `fonts/EBGaramond12-Italic.otf` of @font-face `EB Garamond 12` does not exist\n"
        "    hint: put the font file in styles/fonts/ (fonts are never taken from the system)\n"
    ) in err
    assert (
        "styles/base.css:20:8: error C037: the font `fonts/EBGaramond12-AllSC.otf` of @font-face `EB Garamond 12 All SC` is not a font fontTools can read (damaged, or not a font)\n"
    ) in err
    assert "styles/cover.css:15:8: error C037: the font `fonts/EBGaramond12-Italic.otf`" in err


def test_c037_a_build_whose_font_is_missing_fails_instead_of_using_a_system_font(
    src: Path, tmp_path: Path
) -> None:
    styles = styled(src)
    (styles / "fonts" / "EBGaramond12-Regular.otf").unlink()
    code, err = build_pdf(tmp_path)
    assert code == 1, err
    assert (
        "styles/base.css:6:8: error C037: the font `fonts/EBGaramond12-Regular.otf` of @font-face `EB Garamond 12` does not exist\n"
    ) in err
    assert not (tmp_path / "dist" / "tiny.pdf").exists()


def test_c037_a_font_face_without_a_file(src: Path) -> None:
    styles = styled(src)
    sheet = styles / "epub.css"
    sheet.write_text(sheet.read_text() + '@font-face { font-family: "Other"; src: local("Other"); }\n')
    lines = sheet.read_text().count("\n")
    assert (
        f"styles/epub.css:{lines}:1: error C037: @font-face `Other` names no font file under styles/\n"
        '    hint: give it a family and `src: url("fonts/NAME.otf")`\n'
    ) in problems()


def test_c039_font_face_family_that_is_not_the_fonts_own_name(src: Path) -> None:
    styles = styled(src)
    sheet = styles / "epub.css"
    sheet.write_text(
        sheet.read_text()
        + '@font-face { font-family: "Garamond"; src: url("fonts/EBGaramond12-Regular.otf"); }\n'
    )
    lines = sheet.read_text().count("\n")
    code, err = run_check("source")
    assert code == 0, err
    assert (
        f"styles/epub.css:{lines}:44: warning C039: @font-face family `Garamond` is not the font's own name (EB Garamond 12, EB Garamond)\n"
        '    hint: use font-family: "EB Garamond 12"\n'
    ) in err


def test_c038_a_system_font_in_a_laid_out_pdf_is_named_with_its_text() -> None:
    """What the build says if anything but a bundled font ever set text: here a PDF laid out with
    WeasyPrint's default (system) fonts, which the build itself never uses."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    from companion.core.errors import Location
    from companion.source import fonts

    html = "<html lang=en><body style='font-family: sans-serif'><p>Set in a system font</p></body></html>"
    pdf = HTML(string=html).write_pdf(font_config=FontConfiguration())
    found = fonts.foreign_fonts(pdf, {"EB Garamond 12"}, Location("tiny.pdf"))
    assert len(found) == 1
    line = found[0].format()
    assert re.fullmatch(
        r"tiny\.pdf: error C038: the font `[^`]+` is not a bundled font, but set text on page 1: `Set in a system font`\n"
        r"    hint: declare every font with @font-face in styles/ and put its file in styles/fonts/",
        line,
    ), line


def test_c037_style_sheets_that_name_no_font_stop_the_layout(src: Path, tmp_path: Path) -> None:
    """With no @font-face rule there is no font at all (the system's are never used): an error, not
    a crash of the text engine."""
    styles = styled(src)
    for name in ("base.css", "print.css"):
        sheet = styles / name
        sheet.write_text(re.sub(r"@font-face\s*\{[^}]*\}", "", sheet.read_text()))
    code, err = build_pdf(tmp_path)
    assert code == 1, err
    assert (
        "styles/base.css: error C037: no @font-face rule names a bundled font\n"
        "    hint: put working OpenType or TrueType fonts in styles/fonts/ and name them with @font-face\n"
    ) in err


# --- narration (the read-along edition) ---------------------------------------------------------


def test_c070_unknown_narration_voice(src: Path) -> None:
    add(src, "book.yaml", "narration:\n  voice: piper:en_GB-nobody-medium\n")
    err = problems()
    assert "source/book.yaml:13:10: error C070: unknown narration voice `piper:en_GB-nobody-medium`\n" in err
    assert "hint: use `espeak-ng:en-gb`" in err


def test_c073_lexicon_entry_not_a_word(src: Path) -> None:
    add(src, "book.yaml", "narration:\n  lexicon:\n    - word: '<b>'\n      say: bold\n")
    err = problems()
    assert "source/book.yaml:14:13: error C073: lexicon entry `<b>` is not a word or phrase\n" in err


def test_c071_engine_not_installed(src: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from companion.source import voices

    monkeypatch.setattr(voices.shutil, "which", lambda _name: None)
    add(src, "book.yaml", "narration:\n  voice: espeak-ng:en-gb\n")
    result = CliRunner().invoke(main, ["build", "source", "--format", "read-along", "--no-page-list"])
    assert result.exit_code == 1, result.output
    assert "source/book.yaml:13:10: error C071: espeak-ng is not installed\n" in result.stderr
    assert "hint: apt-get install espeak-ng (Debian)" in result.stderr
    assert not (src.parent / "dist").exists()


def test_c072_voice_of_another_region() -> None:
    from companion.core.errors import Location
    from companion.source import voices

    voice = voices.parse("piper:en_US-joe-medium")
    assert voice is not None
    found = voices.language_warning(voice, "en-GB", Location("source/book.yaml", 13, 10))
    assert [d.format() for d in found] == [
        "source/book.yaml:13:10: warning C072: voice `piper:en_US-joe-medium` speaks en-US; the book is in "
        "en-GB\n    hint: no packaged voice matches the book's language: choose the nearest, or espeak-ng's "
        "voice for it"
    ]
    british = voices.parse("espeak-ng:en-gb-x-rp")
    assert british is not None and voices.language_warning(british, "en-GB", Location("x")) == []
    assert voices.language_warning(british, "en", Location("x")) == []


PARTS = "  parts:\n    - id: part-one\n      title: Part One\n    - id: part-two\n      title: Part Two\n"


def test_c080_reveals_names_no_part(src: Path) -> None:
    add(src, "book.yaml", PARTS)
    write(src / "themes.yaml", "- id: memory\n  title: Memory\n  body: Text.\n  reveals: part-nine\n")
    chapter(src, "Text.\n", front="title: One\nreveals: part-six\n")
    err = problems()
    assert (
        "source/themes.yaml:4:12: error C080: no part `part-nine`\n"
        "    hint: name one of `novel.parts` in book.yaml, or `start`\n"
    ) in err
    assert "source/chapters/01-one.md:3:10: error C080: no part `part-six`\n" in err


def test_c080_a_section_reveals_no_part(src: Path) -> None:
    add(src, "book.yaml", PARTS)
    chapter(src, "Before.\n\n::: reveals part-five\nLater.\n:::\n")
    assert (
        "source/chapters/01-one.md:7:13: error C080: no part `part-five`\n"
        "    hint: the parts are `part-one`, `part-two`\n"
    ) in problems()


def test_c081_spoilers_false_with_a_reveals(src: Path) -> None:
    add(src, "book.yaml", PARTS)
    write(
        src / "themes.yaml",
        "- id: memory\n  title: Memory\n  body: Text.\n  reveals: part-two\n  spoilers: false\n",
    )
    assert (
        "source/themes.yaml:5:13: error C081: `spoilers: false` says otherwise\n"
        "    hint: drop `spoilers:`; `reveals:` says how far it gives away\n"
    ) in problems()


def test_c082_a_part_id_used_twice(src: Path) -> None:
    add(src, "book.yaml", PARTS + "    - id: part-one\n      title: Part Three\n")
    err = problems()
    assert "error C082: part id `part-one` is used twice or reserved\n" in err
    assert "source/book.yaml:" in err.split("C082")[0].splitlines()[-1]


def test_c083_a_fence_that_is_not_a_gated_section(src: Path) -> None:
    chapter(src, "Before.\n\n::: warning\nText.\n:::\n")
    assert (
        "source/chapters/01-one.md:7:1: error C083: `::: warning` is not a section fence\n"
        "    hint: open a gated section with `::: reveals part-two` and close it with `:::`\n"
    ) in problems()


def test_c084_through_names_no_stage(src: Path) -> None:
    add(src, "book.yaml", PARTS)
    result = CliRunner().invoke(main, ["build", "source", "--through", "part-four", "--format", "epub"])
    assert result.exit_code == 1
    assert (
        "source/book.yaml: error C084: `--through part-four` names no stage of the novel\n"
        "    hint: choose one of `start`, `part-one`, `part-two`\n"
    ) in result.stderr
    assert "Traceback" not in result.stderr and not Path("dist").exists()


# --- the host's kit (meetings.yaml, `build --format kit`) ---------------------------------------

QUESTIONS = "- question: One?\n  part: Part One\n- question: Two?\n  part: Part Two\n  tier: personal\n"
PARTS = "  parts:\n    - id: part-one\n      title: Part One\n    - id: part-two\n      title: Part Two\n"
"""The novel's parts, at the end of the tiny book.yaml's `novel:`."""


def test_meetings_name_known_parts_once_with_timings_that_add_up(src: Path) -> None:
    add(src, "book.yaml", PARTS)
    write(src / "questions.yaml", QUESTIONS)
    write(
        src / "meetings.yaml",
        "- part: part-one\n  minutes: 60\n  warm_up: Hello.\n"
        "- part: part-one\n  minutes: 60\n  warm_up: Again.\n"
        "- part: part-four\n  minutes: 60\n  warm_up: Hello.\n"
        "- part: part-two\n  minutes: 60\n  timings:\n    - what: Talk\n      minutes: 40\n"
        "    - what: Tea\n      minutes: 10\n  warm_up: Hello.\n",
    )
    err = problems()
    assert "source/meetings.yaml:4:9: error C086: part `part-one` already has a meeting\n" in err
    assert (
        "source/meetings.yaml:7:9: error C085: no part of the novel has id `part-four`\n    hint: parts: `part-one`, `part-two`\n"
        in err
    )
    assert (
        "source/meetings.yaml:13:5: error C087: the timings add up to 50 minutes; the meeting lasts 60\n"
        in err
    )
    assert err.count("error C08") == 3


def test_meetings_and_tiers_are_checked_like_every_list(src: Path) -> None:
    add(src, "book.yaml", PARTS)
    write(src / "questions.yaml", QUESTIONS + "- question: Three?\n  tier: deep\n")
    write(src / "meetings.yaml", "- part: part-one\n  minutes: 5\n  warm_up: Hello.\n  secret: x\n")
    err = problems()
    assert (
        "source/questions.yaml:7:9: error C014: `tier` must be one of 'story', 'ideas' or 'personal' (found `deep`)\n"
        in err
    )
    assert "source/meetings.yaml:4:3: error C012: unknown key `secret`\n" in err
    assert "source/meetings.yaml:2:12: error C014:" in err


def build_kit() -> str:
    result = CliRunner().invoke(main, ["build", "source", "--format", "kit", "--out", "out"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr and not Path("out").exists()
    return result.stderr


def test_c088_a_kit_needs_meetings(src: Path) -> None:
    write(src / "questions.yaml", QUESTIONS)
    err = build_kit()
    assert err.startswith(
        "source/meetings.yaml: error C088: the host's kit needs a meeting for at least one part of the novel\n"
    )


def test_c089_a_question_too_long_for_its_card(src: Path) -> None:
    add(src, "book.yaml", PARTS)
    long = "A question that goes on about the novel, " * 10 + "and ends?"
    write(
        src / "questions.yaml", f"- question: One?\n  part: Part One\n- question: {long}\n  part: Part One\n"
    )
    write(src / "meetings.yaml", "- part: part-one\n  minutes: 60\n  warm_up: Hello.\n")
    err = build_kit()
    assert err.startswith("source/questions.yaml:3:13: error C089: question 2 is too long for its card\n")


def test_c089_a_handout_longer_than_one_sheet(src: Path) -> None:
    add(src, "book.yaml", PARTS)
    question = (
        "Why does Kathy tell it this way, and what does she leave out when she remembers Hailsham? " * 2
    )
    write(src / "questions.yaml", f"- question: {question}\n  part: Part One\n" * 40)
    write(src / "meetings.yaml", "- part: part-one\n  minutes: 60\n  warm_up: Hello.\n")
    err = build_kit()
    assert err.startswith(
        "source/meetings.yaml:1:9: error C089: the A4 handout for meeting 1 (Part One) runs to 4 pages\n"
    )
