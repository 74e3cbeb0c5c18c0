"""Reviewing a proposal: another editor accepts it (every change, its audit_log row and its new version in one
transaction, then a new release) or rejects it with a comment; the author may withdraw it.
"""

from __future__ import annotations

import duckdb

from kb.edits.apply import _converge
from kb.edits.errors import ReviewError, ValidationFailed
from kb.edits.proposals import Proposal, _conflict, _proposal_from_row, _require_editor
from kb.edits.records import _load, _version, to_json
from kb.edits.transaction import _now, _rows, _transaction, finish_cleanup
from kb.edits.validation import MIN_REASON_LENGTH
from kb.store import holding, publish_if_ahead
from kb.validate import Problem


def _pending(cur: duckdb.DuckDBPyConnection, proposal_id: int, reviewer: str) -> Proposal:
    rows = _rows(cur, "SELECT * FROM proposals WHERE proposal_id = ?", [proposal_id])
    if not rows:
        raise ReviewError(f"There is no proposal #{proposal_id}.")
    p = _proposal_from_row(rows[0])
    if p.status != "pending":
        raise ReviewError(f"Proposal #{proposal_id} is already {p.status}"
                          + (f" by {p.reviewer}." if p.reviewer else "."))
    _require_editor(cur, reviewer)
    if reviewer == p.editor:
        raise ReviewError("You cannot review your own proposal — another editor must accept or reject it.")
    return p


def accept(con: duckdb.DuckDBPyConnection, proposal_id: int, reviewer: str, comment: str = "") -> list[int]:
    """Apply a pending proposal: every change, its audit_log row and its new version in one transaction.

    Raises ``Conflict`` when a record moved on since the proposal was made (nothing is written; the proposal stays
    pending so the reviewer can reject it), ``ReviewError`` for one's own proposal. Returns the audit ids.
    On the editorial store the new release is published before this returns (``Store.last_release``)."""
    with holding(con):
        audit_ids = _accept(con, proposal_id, reviewer, comment)
        finish_cleanup(con)
        publish_if_ahead(con)
    return audit_ids


def _accept(con: duckdb.DuckDBPyConnection, proposal_id: int, reviewer: str, comment: str) -> list[int]:
    with _transaction(con) as cur:
        p = _pending(cur, proposal_id, reviewer)
        audit_ids = []
        audit_id = cur.execute("SELECT coalesce(max(audit_id), 0) FROM audit_log").fetchone()[0]
        cleanup_id = cur.execute("SELECT coalesce(max(cleanup_id), 0) FROM pending_cleanup").fetchone()[0]
        now = _now()
        for change in p.changes:
            table, record_id, base = change["table"], change["record_id"], change["base_version"]
            current_version = _version(cur, table, record_id)
            if current_version != base:
                raise _conflict(cur, table, record_id, base, change["before"], f"proposal #{proposal_id} was made")
            current = _load(cur, table, record_id)
            deferred = _converge(cur, table, current, change["after"])
            audit_id += 1
            audit_ids.append(audit_id)
            action = "import" if p.action == "import" else change["action"]
            cur.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [audit_id, now, p.editor, reviewer, action, table, record_id, p.reason,
                         to_json(current), to_json(change["after"]), proposal_id])
            cur.execute("INSERT INTO record_versions VALUES (?, ?, ?, ?)",
                        [table, record_id, current_version + 1, audit_id])
            for step, t, rid in deferred:
                cleanup_id += 1
                cur.execute("INSERT INTO pending_cleanup VALUES (?, ?, ?, ?, ?)", [cleanup_id, audit_id, step, t, rid])
        cur.execute("UPDATE proposals SET status = 'accepted', reviewer = ?, reviewed_at = ?, review_comment = ? "
                    "WHERE proposal_id = ?", [reviewer, now, (comment or "").strip() or None, proposal_id])
    return audit_ids


def reject(con: duckdb.DuckDBPyConnection, proposal_id: int, reviewer: str, comment: str) -> None:
    """Reject a pending proposal with a comment saying why (required)."""
    if len((comment or "").strip()) < MIN_REASON_LENGTH:
        raise ValidationFailed([Problem("proposals", None, "review_comment",
                                        "say why the proposal is rejected, so its author can fix it")])
    with _transaction(con) as cur:
        _pending(cur, proposal_id, reviewer)
        cur.execute("UPDATE proposals SET status = 'rejected', reviewer = ?, reviewed_at = ?, review_comment = ? "
                    "WHERE proposal_id = ?", [reviewer, _now(), comment.strip(), proposal_id])


def withdraw(con: duckdb.DuckDBPyConnection, proposal_id: int, editor: str) -> None:
    """The author takes back their own pending proposal."""
    with _transaction(con) as cur:
        rows = _rows(cur, "SELECT * FROM proposals WHERE proposal_id = ?", [proposal_id])
        if not rows or rows[0]["editor"] != editor or rows[0]["status"] != "pending":
            raise ReviewError("Only the author can withdraw a pending proposal.")
        cur.execute("UPDATE proposals SET status = 'withdrawn', reviewed_at = ? WHERE proposal_id = ?",
                    [_now(), proposal_id])
