"""The one way to write: the writer lock, the editor tables, the transaction, and the follow-up deletions of
accepted retirements that every write finishes first. Also the small cursor helpers the other modules share.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import duckdb

from kb.config import read_only
from kb.edits.apply import _where_pk
from kb.edits.errors import EditingDisabled
from kb.edits.kinds import q
from kb.schema import RUNTIME_SCHEMA_PATH
from kb.store import holding

WRITE_LOCK = threading.Lock()  # one writer at a time in this process (DuckDB allows one writing process per file)


def ensure_runtime_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the editor tables on a database built before they existed (idempotent; not when read-only)."""
    if read_only():
        return
    cur = con.cursor()
    try:
        present = cur.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' AND "
                              "table_name = 'login_attempts' AND column_name = 'attempt_id'").fetchone()[0]
        present = present and cur.execute("SELECT count(*) FROM information_schema.tables "
                                          "WHERE table_name = 'pending_cleanup' AND table_schema = 'main'").fetchone()[0]
        if not present:
            cur.execute(RUNTIME_SCHEMA_PATH.read_text(encoding="utf-8"))
    finally:
        cur.close()


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, dry_run: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one way to write: the writer lock, pending cleanup finished, then BEGIN … COMMIT (or ROLLBACK)."""
    if read_only():
        raise EditingDisabled()
    with holding(con), WRITE_LOCK:
        ensure_runtime_schema(con)
        _finish_cleanup_locked(con)
        cur = con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("ROLLBACK" if dry_run else "COMMIT")
        finally:
            cur.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    result = cur.execute(sql, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, r)) for r in result.fetchall()]


def _has_table(cur: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
                            "AND table_schema = 'main'", [name]).fetchone()[0])


def _finish_cleanup_locked(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Run the follow-up deletions of accepted changes, lowest step first, each in its own transaction."""
    errors = []
    cur = con.cursor()
    try:
        if not _has_table(cur, "pending_cleanup"):
            return errors
        for cleanup_id, table, record_id in cur.execute(
                "SELECT cleanup_id, table_name, record_id FROM pending_cleanup ORDER BY step, cleanup_id").fetchall():
            if table not in ("arms", "studies"):
                continue
            cur.execute("BEGIN TRANSACTION")
            try:
                cur.execute("DELETE FROM " + q(table) + _where_pk(table), [record_id])
                cur.execute("DELETE FROM pending_cleanup WHERE cleanup_id = ?", [cleanup_id])
                cur.execute("COMMIT")
            except duckdb.Error as exc:
                cur.execute("ROLLBACK")
                errors.append(f"{table} {record_id}: {exc}")
    finally:
        cur.close()
    return errors


def finish_cleanup(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Finish deletions left by accepted retirements (after a crash, too). Returns problems, normally []."""
    if read_only():
        return []
    with holding(con), WRITE_LOCK:
        ensure_runtime_schema(con)
        return _finish_cleanup_locked(con)


def pending_cleanup_count(con: duckdb.DuckDBPyConnection) -> int:
    cur = con.cursor()
    try:
        return int(cur.execute("SELECT count(*) FROM pending_cleanup").fetchone()[0]) \
            if _has_table(cur, "pending_cleanup") else 0
    finally:
        cur.close()
