"""Records as an editor sees them: loaded whole (a study with its children), versioned, in canonical form (the
form proposals and audit_log JSON use) and as form text.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Mapping, Sequence

import duckdb
import pandas as pd

from kb.edits.kinds import KINDS, TITLE_COLUMNS, _check_kind, _pk, pk_columns, q
from kb.edits.transaction import _rows
from kb.schema import tables


def _load(cur: duckdb.DuckDBPyConnection, table: str, record_id: str) -> dict[str, list[dict]] | None:
    _check_kind(table)
    (pk,) = pk_columns(table)
    root = _rows(cur, "SELECT * FROM " + q(table) + " WHERE " + q(pk) + " = ?", [record_id])
    if not root:
        return None
    record = {table: root}
    for child in KINDS[table][1]:
        if child == "arm_interventions":
            sql = ("SELECT * FROM arm_interventions WHERE arm_id IN (SELECT arm_id FROM arms WHERE study_id = ?) "
                   "ORDER BY arm_id, intervention_id")
        else:
            sql = ("SELECT * FROM " + q(child) + " WHERE study_id = ? ORDER BY "
                   + ", ".join(q(c) for c in pk_columns(child)))
        record[child] = _rows(cur, sql, [record_id])
    return _canonical(record)


def load_record(con: duckdb.DuckDBPyConnection, table: str, record_id: str) -> dict[str, list[dict]] | None:
    """The record as ``{table: [rows]}`` (a study with its children), or None when there is none."""
    cur = con.cursor()
    try:
        return _load(cur, table, record_id)
    finally:
        cur.close()


def _version(cur: duckdb.DuckDBPyConnection, table: str, record_id: str) -> int:
    return int(cur.execute("SELECT count(*) FROM audit_log WHERE table_name = ? AND record_id = ?",
                           [table, record_id]).fetchone()[0])


def version(con: duckdb.DuckDBPyConnection, table: str, record_id: str) -> int:
    """How many accepted changes the record has had (0 for a record as loaded from data/)."""
    cur = con.cursor()
    try:
        return _version(cur, table, record_id)
    finally:
        cur.close()


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return float(value)
    return value


def _canonical(record: Mapping[str, Sequence[Mapping[str, Any]]] | None) -> dict[str, list[dict]] | None:
    """Rows with every column, sorted by key; the form used in proposals and audit_log JSON."""
    if record is None:
        return None
    out = {}
    for table, rows in record.items():
        cols = tables()[table].column_names
        full = [{c: _plain(r.get(c)) for c in cols} for r in rows]
        out[table] = sorted(full, key=lambda r: tuple(str(v) for v in _pk(table, r)))
    return out


def to_json(record: Mapping | None) -> str | None:
    return None if record is None else json.dumps(record, ensure_ascii=False, sort_keys=True)


def record_options(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """Every live record of ``table``: id and a label for a picker ('rtog0614 — RTOG 0614 (memantine…)')."""
    _check_kind(table)
    (pk,) = pk_columns(table)
    cur = con.cursor()
    try:
        frame = cur.execute("SELECT " + q(pk) + " AS id, CAST(" + q(TITLE_COLUMNS[table]) + " AS VARCHAR) AS title "
                            "FROM " + q(table) + " ORDER BY 1").df()
    finally:
        cur.close()
    frame["label"] = frame["id"] + " — " + frame["title"].fillna("").str.slice(0, 90)
    return frame


def as_form(record: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[dict[str, str]]]:
    """The record as text, as a form shows it (None → '', booleans 'true'/'false', 27.0 → '27')."""
    return {t: [{c: format_value(v) for c, v in r.items()} for r in rows] for t, rows in record.items()}


def format_value(value: Any) -> str:
    """A cell as text: '' for NULL, 'true'/'false', whole floats without '.0'.

    >>> [format_value(v) for v in (None, True, 27.0, 0.35, 12, "x")]
    ['', 'true', '27', '0.35', '12', 'x']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)
