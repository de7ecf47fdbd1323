"""The README documents what the code does: every diagnostic code, every command, the two set-up commands."""

from __future__ import annotations

from pathlib import Path

from companion.cli import main
from companion.core.codes import codes_table

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_commands() -> None:
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make all" in first_block and "make test" in first_block


def test_readme_codes_table_is_the_catalogue() -> None:
    between = README.split("<!-- codes:start -->", 1)[1].split("<!-- codes:end -->", 1)[0]
    assert between.strip() == codes_table().strip(), "run `companion codes` and paste it into the README"


def test_readme_lists_every_command() -> None:
    for name in main.commands:
        assert f"`companion {name}" in README, name
