"""The audit log read back: what differs between two versions of a record (``diff``), and a record's history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import duckdb
import pandas as pd

from kb.edits.kinds import KINDS, _pk
from kb.edits.records import format_value
from kb.validate import label


@dataclass(frozen=True)
class DiffLine:
    table: str
    key: str
    column: str | None      # None: the whole row was added or removed
    before: Any
    after: Any

    def __str__(self) -> str:
        where = "" if self.table in KINDS else f"{self.table.replace('_', ' ')} {self.key}: "
        if self.column is None:
            return where + ("added" if self.before is None else "removed")
        return f"{where}{label(self.column)}: {_show(self.before)} → {_show(self.after)}"


def _show(value: Any) -> str:
    if value is None:
        return "(empty)"
    text = format_value(value)
    return repr(text[:80] + "…") if len(text) > 80 else repr(text)


def diff(before: Mapping[str, list[dict]] | None, after: Mapping[str, list[dict]] | None) -> list[DiffLine]:
    """What differs between two versions of a record, field by field (rows added or removed as one line).

    >>> a = {"sources": [{"source_id": "s1", "title": "Old", "year": 2016}]}
    >>> b = {"sources": [{"source_id": "s1", "title": "New", "year": 2016}]}
    >>> [str(x) for x in diff(a, b)]
    ["title: 'Old' → 'New'"]
    """
    lines = []
    before, after = before or {}, after or {}
    for t in list(dict.fromkeys(list(before) + list(after))):
        old = {_pk(t, r): r for r in before.get(t, [])}
        new = {_pk(t, r): r for r in after.get(t, [])}
        for key in list(dict.fromkeys(list(old) + list(new))):
            shown = ", ".join(map(str, key))
            if key not in new:
                lines.append(DiffLine(t, shown, None, old[key], None))
            elif key not in old:
                lines.append(DiffLine(t, shown, None, None, new[key]))
            else:
                for c in new[key]:
                    if old[key].get(c) != new[key].get(c):
                        lines.append(DiffLine(t, shown, c, old[key].get(c), new[key].get(c)))
    return lines


def diff_frame(before: Mapping | None, after: Mapping | None) -> pd.DataFrame:
    """The diff as a table to show: part, field, before, after."""
    rows = []
    for d in diff(before, after):
        part = "record" if d.table in KINDS else f"{d.table.replace('_', ' ')} {d.key}"
        if d.column is None:
            rows.append({"part": part, "field": "(row)", "before": "" if d.before is None else "present",
                         "after": "" if d.after is None else "added"})
        else:
            rows.append({"part": part, "field": label(d.column), "before": format_value(d.before),
                         "after": format_value(d.after)})
    return pd.DataFrame(rows, columns=["part", "field", "before", "after"])


@dataclass(frozen=True)
class HistoryEntry:
    audit_id: int
    changed_at: Any
    editor: str
    reviewer: str | None
    action: str
    reason: str
    proposal_id: int | None
    before: dict | None
    after: dict | None

    @property
    def changes(self) -> list[DiffLine]:
        return diff(self.before, self.after)


def history(con: duckdb.DuckDBPyConnection, table: str, record_id: str) -> list[HistoryEntry]:
    """Every accepted change of a record, newest first."""
    cur = con.cursor()
    try:
        rows = cur.execute("SELECT audit_id, changed_at, editor, reviewer, action, reason, proposal_id, before_json, "
                           "after_json FROM audit_log WHERE table_name = ? AND record_id = ? ORDER BY audit_id DESC",
                           [table, record_id]).fetchall()
    finally:
        cur.close()
    return [HistoryEntry(a, at, e, r, act, why, pid, json.loads(b) if b else None, json.loads(af) if af else None)
            for a, at, e, r, act, why, pid, b, af in rows]


def changed_records(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """Records with accepted changes, most recent first (includes retired ones, which only the history shows)."""
    cur = con.cursor()
    try:
        return cur.execute("SELECT table_name, record_id, count(*) AS changes, max(changed_at) AS last_changed, "
                           "arg_max(action, audit_id) AS last_action FROM audit_log GROUP BY ALL "
                           "ORDER BY last_changed DESC LIMIT ?", [limit]).df()
    finally:
        cur.close()
