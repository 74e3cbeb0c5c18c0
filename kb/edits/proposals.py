"""Proposals as stored: reading them, storing a new one, who may make one, and the refusal when the record
moved on since (``Conflict``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

import duckdb

from kb.edits.audit import diff
from kb.edits.errors import Conflict, ReviewError
from kb.edits.kinds import KINDS
from kb.edits.records import _load, _version
from kb.edits.transaction import _has_table, _now, _rows


@dataclass
class Proposal:
    proposal_id: int
    created_at: Any
    editor: str
    action: str
    table_name: str
    record_id: str
    reason: str
    status: str
    reviewer: str | None
    reviewed_at: Any
    review_comment: str | None
    changes: list[dict] = field(default_factory=list)

    @property
    def title(self) -> str:
        noun = KINDS.get(self.table_name, (self.table_name,))[0]
        return f"#{self.proposal_id} {self.action} {noun} {self.record_id} — by {self.editor}"


def _proposal_from_row(row: Mapping[str, Any]) -> Proposal:
    return Proposal(row["proposal_id"], row["created_at"], row["editor"], row["action"], row["table_name"],
                    row["record_id"], row["reason"], row["status"], row["reviewer"], row["reviewed_at"],
                    row["review_comment"], json.loads(row["changes_json"]))


def get_proposal(con: duckdb.DuckDBPyConnection, proposal_id: int) -> Proposal | None:
    cur = con.cursor()
    try:
        rows = _rows(cur, "SELECT * FROM proposals WHERE proposal_id = ?", [proposal_id]) \
            if _has_table(cur, "proposals") else []
    finally:
        cur.close()
    return _proposal_from_row(rows[0]) if rows else None


def list_proposals(con: duckdb.DuckDBPyConnection, status: str | None = "pending", limit: int = 200) -> list[Proposal]:
    """Proposals, newest first (pending by default; ``status=None`` for all)."""
    cur = con.cursor()
    try:
        if not _has_table(cur, "proposals"):
            return []
        rows = _rows(cur, "SELECT * FROM proposals WHERE ? IS NULL OR status = ? ORDER BY proposal_id DESC LIMIT ?",
                     [status, status, limit])
    finally:
        cur.close()
    return [_proposal_from_row(r) for r in rows]


def pending_count(con: duckdb.DuckDBPyConnection) -> int:
    cur = con.cursor()
    try:
        return int(cur.execute("SELECT count(*) FROM proposals WHERE status = 'pending'").fetchone()[0]) \
            if _has_table(cur, "proposals") else 0
    finally:
        cur.close()


def _require_editor(cur: duckdb.DuckDBPyConnection, name: str) -> None:
    row = cur.execute("SELECT active FROM editors WHERE name = ?", [name]).fetchone()
    if not (row and row[0]):
        raise ReviewError(f"{name!r} is not an editor; only signed-in editors can propose or review changes.")


def _store_proposal(cur: duckdb.DuckDBPyConnection, editor: str, action: str, table: str, record_id: str,
                    reason: str, changes: list[dict]) -> int:
    next_id = cur.execute("SELECT greatest((SELECT coalesce(max(proposal_id), 0) FROM proposals), "
                          "(SELECT coalesce(max(proposal_id), 0) FROM audit_log)) + 1").fetchone()[0]
    cur.execute("INSERT INTO proposals (proposal_id, created_at, editor, action, table_name, record_id, reason, "
                "changes_json, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                [next_id, _now(), editor, action, table, record_id, reason.strip(), json.dumps(changes,
                                                                                             ensure_ascii=False)])
    return int(next_id)


def _conflict(cur: duckdb.DuckDBPyConnection, table: str, record_id: str, base_version: int,
              base: Mapping | None, whose: str) -> Conflict:
    """The refusal when the record moved on: who changed it since ``base_version``, why, and what changed."""
    now = _version(cur, table, record_id)
    entries = cur.execute("SELECT editor, reviewer, changed_at, reason FROM audit_log WHERE table_name = ? "
                          "AND record_id = ? ORDER BY audit_id OFFSET ?", [table, record_id, base_version]).fetchall()
    current = _load(cur, table, record_id)
    changes = [str(d) for d in diff(base, current)]
    who = "; ".join(f"{e} (accepted by {r}) at {str(at)[:16]} UTC — {why!r}" for e, r, at, why in entries)
    noun = KINDS[table][0]
    accepted = now - base_version
    message = (f"Not saved: the {noun} {record_id} has changed since {whose} ({accepted} "
               f"{'change' if accepted == 1 else 'changes'} accepted since then). Changed meanwhile by "
               f"{who or 'another editor'}. "
               + ("What changed: " + "; ".join(changes[:12]) + ". " if changes else "")
               + "Reload the record and make your change again.")
    return Conflict(message, changes)
