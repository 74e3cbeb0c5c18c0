"""Applying a change: make a record's rows equal a target version, and say a database refusal in words.

``_converge`` makes a record's rows equal a target; it runs inside the caller's transaction (an accept, a rebuild)
or in a rolled-back one (a dry run). Follow-up deletions it defers are run by ``kb.edits.transaction``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import duckdb

from kb.edits.errors import ValidationFailed
from kb.edits.fields import _check_constraints
from kb.edits.kinds import KINDS, _pk, pk_columns, q, record_tables
from kb.schema import tables
from kb.validate import Problem, label

# Children deleted with the record's first transaction (nothing references them).
_LEAF_CHILDREN = ("outcomes", "arm_interventions", "study_sources", "study_histologies", "study_settings")


def _execute(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], table: str, line: int | None,
             changed: Sequence[str] = ()) -> None:
    try:
        cur.execute(sql, list(params))
    except duckdb.Error as exc:
        raise ValidationFailed([_translate(table, line, exc, changed)]) from exc


def _translate(table: str, line: int | None, exc: Exception, changed: Sequence[str]) -> Problem:
    """A database refusal as a field-level sentence."""
    text = str(exc)
    m = re.search(r"CHECK constraint failed on table \"?(\w+)\"? with expression CHECK\((.*)\)$", text, re.S)
    if m:
        cols = next((c for t, e, c in _check_constraints() if t == m.group(1) and e == m.group(2)), ())
        return Problem(m.group(1), line, cols[0] if cols else None,
                       f"the database refuses this value (rule: {m.group(2)})")
    m = re.search(r'key "(\w+): (.*?)" does not exist in the referenced table', text)
    if m:
        return Problem(table, line, m.group(1), f"unknown {label(m.group(1))} {m.group(2)!r}")
    if "still referenced by a foreign key" in text:
        indexed = {c for c, _p, _pc in tables()[table].foreign_keys} | set(pk_columns(table))
        blocked = [c for c in changed if c in indexed] or list(changed)[:1]
        return Problem(table, line, blocked[0] if blocked else None,
                       f"{label(blocked[0]) if blocked else 'this field'} cannot be changed in place while other "
                       "records cite this one (a limitation of the database engine, DuckDB) — ask the maintainer")
    m = re.search(r'Duplicate key "(\w+): (.*?)" violates', text)
    if m:
        return Problem(table, line, m.group(1), f"{m.group(2)} is already used by another record")
    m = re.search(r"NOT NULL constraint failed: \w+\.(\w+)", text)
    if m:
        return Problem(table, line, m.group(1), f"{label(m.group(1))} is required")
    return Problem(table, line, None, "the database refused the change: " + text.splitlines()[0][:200])


def _insert(cur, table: str, row: Mapping[str, Any], line: int | None) -> None:
    cols = tables()[table].column_names
    _execute(cur, "INSERT INTO " + q(table) + " (" + ", ".join(q(c) for c in cols) + ") VALUES ("
             + ", ".join("?" * len(cols)) + ")", [row.get(c) for c in cols], table, line)


def _where_pk(table: str) -> str:
    return " WHERE " + " AND ".join(q(c) + " = ?" for c in pk_columns(table))


def _update(cur, table: str, old: Mapping[str, Any], new: Mapping[str, Any], line: int | None) -> None:
    changed = [c for c in tables()[table].column_names if old.get(c) != new.get(c)]
    if changed:
        _execute(cur, "UPDATE " + q(table) + " SET " + ", ".join(q(c) + " = ?" for c in changed) + _where_pk(table),
                 [new.get(c) for c in changed] + list(_pk(table, old)), table, line, changed)


def _delete(cur, table: str, row: Mapping[str, Any]) -> None:
    _execute(cur, "DELETE FROM " + q(table) + _where_pk(table), list(_pk(table, row)), table, None)


def _converge(cur: duckdb.DuckDBPyConnection, table: str, current: Mapping[str, list[dict]] | None,
              target: Mapping[str, list[dict]] | None) -> list[tuple[int, str, str]]:
    """Make the record's rows equal ``target`` (None = retire). Returns deletions DuckDB only allows in a later
    transaction: (step, table, id) — arms after their outcomes and interventions, a study after its children."""
    current, target = current or {}, target or {}
    deferred: list[tuple[int, str, str]] = []
    cur_rows = {t: {_pk(t, r): r for r in current.get(t, [])} for t in record_tables(table)}
    tgt_keys = {t: {_pk(t, r) for r in target.get(t, [])} for t in record_tables(table)}
    # 1. rows nobody references: delete now
    for t in _LEAF_CHILDREN if table == "studies" else ():
        for key, r in cur_rows[t].items():
            if key not in tgt_keys[t]:
                _delete(cur, t, r)
    # 2. the record's own row
    root_now = next(iter(cur_rows[table].values()), None)
    root_new = (target.get(table) or [None])[0]
    had_children = any(current.get(t) for t in KINDS[table][1])
    if root_new is None and root_now is not None:
        if had_children:
            deferred.append((2, table, root_now[pk_columns(table)[0]]))
        else:
            _delete(cur, table, root_now)
    elif root_now is None and root_new is not None:
        _insert(cur, table, root_new, None)
    elif root_now is not None:
        _update(cur, table, root_now, root_new, None)
    # 3. children: arms first (outcomes point at them), then the rest
    for t in (("arms",) + tuple(c for c in KINDS[table][1] if c != "arms")) if table == "studies" else ():
        if t == "arms":
            for key, r in cur_rows[t].items():
                if key not in tgt_keys[t]:
                    deferred.append((1, t, r["arm_id"]))
        for i, r in enumerate(target.get(t, [])):
            old = cur_rows[t].get(_pk(t, r))
            if old is None:
                _insert(cur, t, r, i + 1)
            else:
                _update(cur, t, old, r, i + 1)
    return deferred
