"""The inputs of an edit form: every column of a table with its label, help, type, choices and kind of text.

Choices come from the vocabularies and from the ``CHECK (col IN (...))`` lists of schema.sql (``enumerations``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import duckdb

from kb.edits.kinds import KINDS, q
from kb.schema import create_schema, tables

LONG_TEXT = {"note", "description", "key_result", "finding", "summary", "recommendation", "sequencing_guidance",
             "authors", "title", "population", "scope", "size_note", "population_note", "concurrency_window",
             "primary_endpoint", "risk_endpoint"}


@lru_cache(maxsize=1)
def _check_constraints() -> list[tuple[str, str, tuple[str, ...]]]:
    """(table, expression, columns) of every CHECK in schema.sql."""
    con = duckdb.connect()
    create_schema(con, runtime=False)
    rows = con.execute("SELECT table_name, expression, constraint_column_names FROM duckdb_constraints() "
                       "WHERE constraint_type = 'CHECK'").fetchall()
    con.close()
    return [(t, e, tuple(dict.fromkeys(c))) for t, e, c in rows]


@lru_cache(maxsize=1)
def enumerations() -> dict[tuple[str, str], tuple[str, ...]]:
    """Allowed values of every column with a ``CHECK (col IN (...))`` in schema.sql.

    >>> enumerations()[("outcomes", "unit")][:3]
    ('%', 'pct_change', 'months')
    """
    found = {}
    for table, expr, _cols in _check_constraints():
        m = re.fullmatch(r"\(\(?\"?(\w+)\"? IN \((.*)\)\)?\)", expr or "")
        if m and " OR " not in expr:
            found[(table, m.group(1))] = tuple(re.findall(r"'((?:[^']|'')*)'", m.group(2)))
    return found


@dataclass(frozen=True)
class Field:
    """One input of an edit form."""

    name: str
    label: str
    sql_type: str
    required: bool
    choices: tuple[str, ...] | None = None   # allowed values (a vocabulary or a CHECK list)
    long: bool = False                       # multi-line text
    key: bool = False                        # the record's id
    references: str | None = None            # an editable table this column points to (pick from its records)
    help: str | None = None                  # one or two sentences for the form (kb.field_words)
    choice_labels: tuple[tuple[str, str], ...] = ()  # (value, what a reader calls it) for ``choices``

    def choice_label(self, value: str) -> str:
        """A choice by name, not id: 'rct' -> 'Randomized controlled trial'; '' -> 'not set'."""
        if value in (None, ""):
            return "not set"
        return dict(self.choice_labels).get(value, value)


VOCABULARY_PARENTS = {"pub_types", "designs", "evidence_levels", "histologies", "settings", "interventions",
                      "endpoints", "subgroups", "toxicities", "drugs", "rec_topics", "imaging_modalities"}


def field_specs(con: duckdb.DuckDBPyConnection, table: str) -> list[Field]:
    """The form fields of ``table``: label and help in a clinician's words (kb.field_words), type, required, choices
    (vocabularies and CHECK lists) with the names readers know them by, long text."""
    from kb import field_words

    described = tables()[table]
    fks = {c: (p, pc) for c, p, pc in described.foreign_keys}
    enums = enumerations()
    out = []
    for col in described.columns:
        choices = enums.get((table, col.name))
        names: dict[str, str] = {}
        if choices:
            names = {c: field_words.choice_word(c) for c in choices}
        if col.name in fks and fks[col.name][0] in VOCABULARY_PARENTS:
            parent, parent_col = fks[col.name]
            names = {str(k): (f"{k} — {n}" if parent == "evidence_levels" else str(n))
                     for k, n in _vocabulary_names(con, parent, parent_col)}
            choices = tuple(names)
        if col.type == "BOOLEAN":
            choices = ("true", "false")
            names = {"true": "yes", "false": "no"}
        parent = fks.get(col.name, (None,))[0]
        out.append(Field(col.name, field_words.form_label(col.name, table), col.type, not col.nullable, choices,
                         col.name in LONG_TEXT, col.name in described.primary_key,
                         parent if parent in KINDS else None, field_words.help_text(col.name, table),
                         tuple(names.items())))
    return out


def _vocabulary_names(con: duckdb.DuckDBPyConnection, table: str, column: str) -> list[tuple[Any, str]]:
    """(key, name) of a vocabulary, by key; the key itself where the table has no ``name`` column."""
    cur = con.cursor()
    try:
        columns = {r[0] for r in cur.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = ?", [table]).fetchall()}
        name = "name" if "name" in columns else column
        return [(k, n) for k, n in cur.execute("SELECT " + q(column) + ", " + q(name) + " FROM " + q(table)
                                                + " ORDER BY 1").fetchall()]
    finally:
        cur.close()
