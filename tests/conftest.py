"""Fixtures: a real database built once from data/ into a temporary folder; KB_DB always points there."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="kbtest-"))
# Set before any test imports the app: no test may touch the repository's brainmets.duckdb.
os.environ["KB_DB"] = str(_SESSION_DIR / "kb.duckdb")
os.environ.pop("KB_READ_ONLY", None)


@pytest.fixture(scope="session")
def built_db() -> Path:
    """The KB built from data/ (once per session) at $KB_DB."""
    from kb.build import build

    path = Path(os.environ["KB_DB"])
    if not path.exists():
        build(path)
    return path


@pytest.fixture(scope="session")
def con(built_db):
    """A read connection to the session database."""
    from kb.db import connect

    connection = connect(built_db, read_only_=False)
    yield connection
    connection.close()


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A private copy of data/ that a test may break."""
    target = tmp_path / "data"
    shutil.copytree(ROOT / "data", target, ignore=shutil.ignore_patterns("staging"))
    return target


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
