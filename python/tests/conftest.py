"""Fixtures: a fresh home folder per test, and the TypeScript side for the parity tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import CLI, REPO, TypeScript

from datatools_license import license_path


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def lic_path(home: Path) -> str:
    return license_path(home)


@pytest.fixture(scope="session")
def ts() -> TypeScript:
    """The TypeScript side. Without it the parity tests fail, never skip: run them from a
    clone where ``npm ci`` built dist/, or deselect them with ``-m "not parity"``."""
    node = shutil.which("node")
    if node is None:
        pytest.fail('node is not on PATH: the parity tests need it (or run pytest -m "not parity")')
    if not CLI.exists():
        pytest.fail(
            f"{CLI} is missing: run npm ci (or npm run build) in {REPO} first "
            '(or run pytest -m "not parity")'
        )
    return TypeScript(node)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "ts" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.parity)
