"""Making a proposal: create, update, retire or revert a record. Validated, tried against the database in a
rolled-back transaction, then stored for another editor to review (``kb.edits.review``).
"""

from __future__ import annotations

import json
from typing import Mapping

import duckdb

from kb.edits.apply import _converge
from kb.edits.duplicates import likely_duplicate_sources
from kb.edits.errors import DuplicateWarning, ValidationFailed
from kb.edits.kinds import KINDS, _check_kind, pk_columns
from kb.edits.proposals import _conflict, _require_editor, _store_proposal
from kb.edits.records import _load, _version, load_record, version
from kb.edits.transaction import _transaction
from kb.edits.validation import _external_references, check_reason, check_record
from kb.validate import Problem


def _propose(con: duckdb.DuckDBPyConnection, editor: str, action: str, table: str, record_id: str, reason: str,
             target_raw: Mapping | None, base_version: int | None, creating: bool,
             confirm_duplicates: bool = True) -> int:
    problems = check_reason(reason)
    with _transaction(con) as cur:
        _require_editor(cur, editor)
        current = _load(cur, table, record_id) if record_id else None
        now = _version(cur, table, record_id) if record_id else 0
        if base_version is not None and now != base_version:
            raise _conflict(cur, table, record_id, base_version, _base_state(cur, table, record_id, base_version),
                            "you opened it")
        if target_raw is None:
            if current is None:
                raise ValidationFailed([Problem(table, None, None, f"there is no {KINDS[table][0]} {record_id!r}")])
            target = None
            problems += _external_references(cur, table, current, None)
        else:
            target, found = check_record(cur, table, None if creating else record_id, target_raw, creating)
            problems += found
            if not creating and current is None:
                problems.append(Problem(table, None, None, f"there is no {KINDS[table][0]} {record_id!r} to edit"))
            if creating:
                record_id = target[table][0][pk_columns(table)[0]] if target.get(table) else record_id
            if current is not None and not problems:
                problems += _external_references(cur, table, current, target)
        if not problems and target is not None and current == target:
            problems.append(Problem(table, None, None, "nothing changed — edit a field before saving"))
        if problems:
            raise ValidationFailed(problems)
        if table == "sources" and creating and not confirm_duplicates:
            dupes = likely_duplicate_sources(cur, target["sources"][0])
            if dupes:
                raise DuplicateWarning(dupes)
        _dry_run(cur, table, current, target)
        change = {"action": action, "table": table, "record_id": record_id, "base_version": now,
                  "before": current, "after": target}
        return _store_proposal(cur, editor, action, table, record_id, reason, [change])


def _base_state(cur: duckdb.DuckDBPyConnection, table: str, record_id: str, base_version: int) -> dict | None:
    """The record as it was at ``base_version`` (from the audit row that produced the next version)."""
    row = cur.execute("SELECT before_json FROM audit_log WHERE table_name = ? AND record_id = ? ORDER BY audit_id "
                      "OFFSET ? LIMIT 1", [table, record_id, base_version]).fetchone()
    return json.loads(row[0]) if row and row[0] else None


def _dry_run(cur: duckdb.DuckDBPyConnection, table: str, current: Mapping | None, target: Mapping | None) -> None:
    """Try the change against the database constraints inside the caller's transaction, then undo it.

    DuckDB has no savepoints, so this runs in its own short transaction on a second cursor of the same
    connection (the caller holds the writer lock, so nothing else writes meanwhile)."""
    probe = cur.cursor() if hasattr(cur, "cursor") else None
    runner = probe or cur
    try:
        runner.execute("BEGIN TRANSACTION")
        try:
            _converge(runner, table, current, target)
        finally:
            runner.execute("ROLLBACK")
    finally:
        if probe is not None:
            probe.close()


def propose_create(con: duckdb.DuckDBPyConnection, editor: str, table: str, raw: Mapping, reason: str,
                   confirm_duplicates: bool = False) -> int:
    """Propose a new record. ``raw`` is ``{table: [row], child: [rows]}`` of text. A new source that looks like
    an existing one raises ``DuplicateWarning`` unless ``confirm_duplicates``."""
    _check_kind(table)
    (pk,) = pk_columns(table)
    record_id = str((raw.get(table) or [{}])[0].get(pk) or "").strip()
    return _propose(con, editor, "create", table, record_id, reason, raw, None, True, confirm_duplicates)


def propose_update(con: duckdb.DuckDBPyConnection, editor: str, table: str, record_id: str, raw: Mapping,
                   base_version: int, reason: str) -> int:
    """Propose new values for a record opened at ``base_version``; ``Conflict`` if it has moved on since."""
    _check_kind(table)
    return _propose(con, editor, "update", table, record_id, reason, raw, base_version, False)


def propose_retire(con: duckdb.DuckDBPyConnection, editor: str, table: str, record_id: str, base_version: int,
                   reason: str) -> int:
    """Propose removing a record from what readers see (kept in the audit log; a revert restores it)."""
    _check_kind(table)
    return _propose(con, editor, "retire", table, record_id, reason, None, base_version, False)


def propose_revert(con: duckdb.DuckDBPyConnection, editor: str, audit_id: int, reason: str) -> int:
    """Propose putting a record back as it was before the accepted change ``audit_id`` (itself reviewed)."""
    cur = con.cursor()
    try:
        row = cur.execute("SELECT table_name, record_id, before_json FROM audit_log WHERE audit_id = ?",
                          [audit_id]).fetchone()
    finally:
        cur.close()
    if row is None:
        raise ValidationFailed([Problem("audit_log", None, None, f"there is no change #{audit_id}")])
    table, record_id, before_json = row
    _check_kind(table)
    target = json.loads(before_json) if before_json else None
    base = version(con, table, record_id)
    exists = load_record(con, table, record_id) is not None
    if target is not None and not exists:
        return _propose(con, editor, "revert", table, record_id, reason, target, base, True)
    return _propose(con, editor, "revert", table, record_id, reason, target, base, False)
