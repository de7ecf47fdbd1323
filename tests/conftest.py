"""Shared fixtures: a copy of the bundled companion in a temp project, and a CLI runner."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from companion.cli import main

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Builds keep their cache in the user's cache folder: a folder of this test run's own, not ~/.cache."""
    if "COMPANION_TEST_CACHE" not in os.environ:
        folder = tempfile.mkdtemp(prefix="companion-test-cache-")
        os.environ["COMPANION_TEST_CACHE"] = os.environ["XDG_CACHE_HOME"] = folder


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite tests/golden/* from current output"
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the bundled companion (source/ and styles/) in a temp folder; returns its root."""
    shutil.copytree(ROOT / "source", tmp_path / "source")
    shutil.copytree(ROOT / "styles", tmp_path / "styles")
    return tmp_path


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every output of the bundled companion, built once per test session; returns dist/."""
    from companion import pipeline

    out = tmp_path_factory.mktemp("dist")
    result = pipeline.build(pipeline.Project.at(ROOT / "source", ROOT / "styles"))
    pipeline.write(result, out)
    return out


@pytest.fixture
def cli() -> Callable[..., Result]:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run
