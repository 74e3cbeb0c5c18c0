"""Documentation keeps up with the code: every table and column is in data/README.md; README has the commands."""

import re

import pytest

from kb.config import DATA_DIR, ROOT, TABLES
from kb.schema import tables

DATA_README = (DATA_DIR / "README.md").read_text(encoding="utf-8")
DOCUMENTED = set(re.findall(r"`([a-z0-9_]+)`", DATA_README))


@pytest.mark.parametrize("table", TABLES)
def test_every_table_and_column_is_in_the_data_dictionary(table):
    missing = [c for c in [table, *tables()[table].column_names] if c not in DOCUMENTED]
    assert missing == []


def test_readme_shows_the_two_commands_and_the_disclaimer():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make run" in readme and "make test" in readme
    assert "not medical advice" in readme.lower()
