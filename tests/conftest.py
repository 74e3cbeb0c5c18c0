"""Fixtures: an editor instance built once from data/ into a temporary folder; KB_HOME always points there.

Readers' tests use ``built_db`` (the current release file) and ``con`` (a read-only connection to it), as the app's
reader pages do. Tests that write use the private instances of ``editing_fixtures.py``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="kbtest-"))
# Set before any test imports the app: no test may touch the repository's kb_home/.
os.environ["KB_HOME"] = str(_SESSION_DIR / "home")
for _name in ("KB_DB", "KB_RELEASES", "KB_READ_ONLY"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def built_db() -> Path:
    """The current release of the session's instance (store built from data/ and published once)."""
    from kb.rebuild import ensure_ready

    return ensure_ready(quiet=True).path


@pytest.fixture(scope="session")
def con(built_db):
    """A read-only connection to the session's current release (what reader pages query)."""
    from kb.db import connect

    connection = connect(built_db)
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
