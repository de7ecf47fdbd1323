"""The command line: options, exit codes and messages (the pipeline itself is tested elsewhere)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import click
from click.testing import Result

from companion.cli import main


def all_commands(group: click.Group) -> list[str]:
    return sorted(group.commands)


def test_every_command_has_help(cli: Callable[..., Result]) -> None:
    result = cli("--help")
    assert result.exit_code == 0
    for name in all_commands(main):
        assert name in result.output
        sub = cli(name, "--help")
        assert sub.exit_code == 0, name
        assert main.commands[name].help, f"{name} has no help text"
        assert "Usage:" in sub.output


def test_contract_commands_exist() -> None:
    assert {"build", "check"} <= set(main.commands)


def test_check_ok(cli: Callable[..., Result], project: Path) -> None:
    result = cli("check", str(project / "source"))
    assert result.exit_code == 0
    assert result.stdout.strip().endswith(": ok")


def test_build_epub_only(cli: Callable[..., Result], project: Path) -> None:
    out = project / "dist"
    result = cli("build", str(project / "source"), "--format", "epub", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "catalog.json",
        "catalog.xml",
        "never-let-me-go-entry.xml",
        "never-let-me-go.epub",
    ]
    assert zipfile.ZipFile(out / "never-let-me-go.epub").namelist()[0] == "mimetype"


def test_bad_format_is_usage_error(cli: Callable[..., Result], project: Path) -> None:
    result = cli("build", str(project / "source"), "--format", "mobi")
    assert result.exit_code == 2
    assert "unknown format 'mobi'" in result.stderr


def test_missing_source_folder(cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("check", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"{tmp_path / 'nowhere'}: error C001: source folder not found"
    assert "Traceback" not in result.stderr


def test_bad_input_writes_nothing_and_names_the_line(cli: Callable[..., Result], project: Path) -> None:
    book = project / "source" / "book.yaml"
    book.write_text(book.read_text(encoding="utf-8").replace("language:", "langauge:"), encoding="utf-8")
    out = project / "dist"
    result = cli("build", str(project / "source"), "--out", str(out))
    assert result.exit_code == 1
    line = next(n for n, text in enumerate(book.read_text().splitlines(), 1) if text.startswith("langauge:"))
    assert f"book.yaml:{line}:1: error C012: unknown key `langauge`" in result.stderr
    assert "hint: did you mean `language`?" in result.stderr
    assert not out.exists()
