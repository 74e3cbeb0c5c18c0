"""What changed between two releases: records added, changed and retired, each with its reason from the audit log.

A *record* is what an editor sees as one thing (``kb.edits.KINDS``): a study's arms, outcomes, links and
interventions count as changes of the study. Rows of the other tables (vocabularies, synonyms) are records of
their own. The reason comes from the audit rows the newer release has and the older one does not; a change without
an audit row was curated in data/ by hand (its reason is in the git history of data/).

>>> old, new = duckdb.connect(), duckdb.connect()
>>> for con, title in ((old, "Old title"), (new, "New title")):
...     _ = con.execute("CREATE TABLE sources (source_id VARCHAR, title VARCHAR)")
...     _ = con.execute("INSERT INTO sources VALUES ('ref028', ?)", [title])
>>> [(c.kind, c.record_id, c.what, c.details) for c in between(old, new, tables=("sources",))]
[('source', 'ref028', 'changed', 'title')]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import duckdb
import pandas as pd

from kb.config import TABLES
from kb.edits import KINDS, pk_columns

HAND_EDIT = "curated in data/ (the reason is in the git history of data/)"
_OWNED_BY_STUDY = set(KINDS["studies"][1])


@dataclass(frozen=True)
class Change:
    table: str          # the record's table (a study's children are reported on 'studies')
    record_id: str
    what: str           # 'added', 'changed' or 'retired'
    details: str        # what changed: columns of the record, and parts ('outcomes: 1 changed')
    reasons: str        # from the audit log, or HAND_EDIT

    @property
    def kind(self) -> str:
        return KINDS.get(self.table, (self.table.replace("_", " "),))[0]


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> dict[tuple, dict[str, Any]]:
    cur = con.cursor()
    try:
        present = cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                              [table]).fetchone()[0]
        if not present:
            return {}
        result = cur.execute('SELECT * FROM "' + table + '"')
        names = [d[0] for d in result.description]
        rows = [dict(zip(names, r)) for r in result.fetchall()]
    finally:
        cur.close()
    try:
        key = pk_columns(table) or tuple(names)
    except KeyError:
        key = tuple(names)
    return {tuple(r.get(c) for c in key): r for r in rows}


def between(old: duckdb.DuckDBPyConnection, new: duckdb.DuckDBPyConnection,
            tables: Iterable[str] = TABLES) -> list[Change]:
    """Every record that differs between the releases ``old`` and ``new``, in table order then by id."""
    tables = [t for t in tables if t != "audit_log"]
    before = {t: _rows(old, t) for t in tables}
    after = {t: _rows(new, t) for t in tables}
    arm_study = {r["arm_id"]: r["study_id"] for state in (before, after) for r in state.get("arms", {}).values()}

    def owner(table: str, key: tuple, row: dict) -> tuple[str, str]:
        if table in _OWNED_BY_STUDY:
            study = row.get("study_id") if "study_id" in row else arm_study.get(row.get("arm_id"))
            return "studies", str(study)
        return table, ", ".join(str(k) for k in key)

    found: dict[tuple[str, str], dict[str, Any]] = {}
    for table in tables:
        for key in list(dict.fromkeys(list(before[table]) + list(after[table]))):
            old_row, new_row = before[table].get(key), after[table].get(key)
            if old_row == new_row:
                continue
            entry = found.setdefault(owner(table, key, new_row or old_row), {"root": None, "columns": [],
                                                                             "parts": {}})
            is_root = table == owner(table, key, new_row or old_row)[0]
            if is_root:
                if old_row is None:
                    entry["root"] = "added"
                elif new_row is None:
                    entry["root"] = "retired"
                else:
                    entry["columns"] += [c for c in new_row if old_row.get(c) != new_row.get(c)]
            else:
                how = "added" if old_row is None else "removed" if new_row is None else "changed"
                entry["parts"].setdefault(table, {}).setdefault(how, 0)
                entry["parts"][table][how] += 1
    reasons = _reasons(old, new)
    changes = []
    for (table, record_id), entry in found.items():
        details = list(entry["columns"])
        details += [f"{t.replace('_', ' ')}: " + ", ".join(f"{n} {how}" for how, n in hows.items())
                    for t, hows in entry["parts"].items()]
        changes.append(Change(table, record_id, entry["root"] or "changed", "; ".join(details),
                              reasons.get((table, record_id), HAND_EDIT)))
    order = {t: i for i, t in enumerate(TABLES)}
    return sorted(changes, key=lambda c: (order.get(c.table, 99), c.record_id))


def _reasons(old: duckdb.DuckDBPyConnection, new: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """(table, record id) -> the reasons of the audit rows ``new`` has and ``old`` has not, oldest first."""
    have = {key[0] for key in _rows(old, "audit_log")}
    out: dict[tuple[str, str], list[str]] = {}
    for key, r in sorted(_rows(new, "audit_log").items()):
        if key[0] in have:
            continue
        when = str(r.get("changed_at") or "")[:10]
        out.setdefault((r["table_name"], r["record_id"]), []).append(
            f"{r['reason']} ({r['action']} by {r['editor']}, accepted by {r['reviewer']}, {when})")
    return {k: "; ".join(v) for k, v in out.items()}


def as_frame(changes: list[Change]) -> pd.DataFrame:
    """The changes as the table a page shows and a CSV downloads."""
    return pd.DataFrame([{"record": c.kind, "id": c.record_id, "what": c.what, "details": c.details,
                          "reason": c.reasons} for c in changes],
                        columns=["record", "id", "what", "details", "reason"])
