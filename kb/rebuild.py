"""Rebuild the editorial store from data/ without ever dropping an accepted edit; get an instance ready to serve.

``python -m kb build`` calls ``rebuild_store``; ``make run`` and the app's first start call ``ensure_ready``.

Lifecycle contract of ``rebuild_store`` (everything under the store lock, ``Store.exclusive``):

1. An export that a kill interrupted is rolled forward first (``kb.export.recover``); then data/ is validated
   (``BuildError`` lists every problem; nothing is written).
2. The old store is opened — DuckDB replays its write-ahead log — checkpointed and closed, so the file alone holds
   every committed change; then it is copied to ``editorial/backups/editorial-<time>.duckdb`` (0600, the last
   ``KEEP_BACKUPS`` kept). No write-ahead log is ever deleted.
3. A new store is written beside it (``editorial.duckdb.building``) from data/, the run-time tables (accounts,
   sign-in attempts, proposals) are carried over, and every accepted change of the old store that data/ does not
   have yet (its audit row is not in data/audit_log.csv) is re-applied in audit order from its ``after_json``,
   with its audit row: a *rebase* of the unexported edits onto the fresh data.
4. A change whose record in data/ is no longer what the change started from (``before_json``) — somebody edited
   the same record by hand in data/ — is a *clash*. Without ``force`` the build stops (``BuildClash`` lists them,
   nothing is replaced). With ``force`` the accepted edit wins in the working copy; the records are remembered in
   kb_meta ``forced_records`` and the next ``kb export`` writes them over the hand edits and lists them. A change
   that cannot be applied at all (it breaks a rule against the new data) always stops the build.
5. The new file replaces the old by one rename, only when complete and checkpointed; then a release is published.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kb.build import BuildError, ident, load_and_validate, remove_with_wal, write_database
from kb.config import DATA_DIR, DEFAULT_HOME, LEGACY_DB, TABLES
from kb.files import DiskFull, fsync_dir, fsync_file, is_disk_full, make_private, private_dir
from kb.store import Store, StoreError, get_store

KEEP_BACKUPS = 5
CARRY_OVER = ("editors", "login_attempts", "proposals")


class BuildClash(Exception):
    """Accepted edits that data/ changed by hand too, or that no longer apply; ``records`` names them."""

    def __init__(self, records: list[str], unappliable: list[str]):
        self.records, self.unappliable = records, unappliable
        parts = []
        if records:
            parts.append("these records were changed by an accepted edit in the app and also by hand in data/: "
                         + "; ".join(records) + ". Merge them by hand in data/, or run `python -m kb build --force` "
                         "to keep the accepted edits (the next `python -m kb export` then writes them over the "
                         "hand edits and lists them)")
        if unappliable:
            parts.append("these accepted edits no longer apply to data/: " + "; ".join(unappliable)
                         + ". Change data/ so that they apply (or revert the hand edit); nothing was rebuilt")
        super().__init__("Not rebuilt — " + ". Also, ".join(parts) + ".")


@dataclass
class RebuildReport:
    counts: dict[str, int]
    rebased: int = 0                                   # accepted changes re-applied on the fresh data
    forced: list[str] = field(default_factory=list)    # clashes the accepted edit won (build --force)
    stale_proposals: list[int] = field(default_factory=list)
    backup: Path | None = None
    release_id: str | None = None

    def summary(self) -> str:
        lines = [f"Rebuilt the editorial store from data/: {sum(self.counts.values())} rows in {len(self.counts)} "
                 f"tables; {self.rebased} accepted change(s) not yet in data/ re-applied."]
        if self.forced:
            lines.append("Accepted edits kept over hand edits in data/ (the next export writes them): "
                         + "; ".join(self.forced) + ".")
        if self.stale_proposals:
            lines.append("Pending proposals made before data/ changed the same record (review them with care): #"
                         + ", #".join(map(str, self.stale_proposals)) + ".")
        if self.backup:
            lines.append(f"Backup of the previous store: {self.backup}.")
        if self.release_id:
            lines.append(f"Published release {self.release_id}.")
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ rebuild
def rebuild_store(store: Store | None = None, data_dir: Path = DATA_DIR, force: bool = False) -> RebuildReport:
    """Rebuild the store's KB tables from ``data_dir``, re-applying every accepted edit data/ lacks; publish."""
    from kb import export as export_mod

    store = store or get_store()
    with store.exclusive():
        if store.exists():
            export_mod.recover(data_dir, store)
        typed, problems = load_and_validate(data_dir)
        if problems:
            raise BuildError(problems)
        if not store.exists():
            _adopt_legacy(store)
        old = _read_old(store) if store.exists() else None
        backup = _backup(store) if old else None
        tmp = store.path.with_name(store.path.name + ".building")
        remove_with_wal(tmp)
        private_dir(store.folder)
        try:
            write_database(tmp, typed, runtime=True, data_dir=data_dir)
            report = RebuildReport({t: len(typed.get(t, [])) for t in TABLES}, backup=backup)
            con = duckdb.connect(str(tmp))
            try:
                if old:
                    _carry_over(con, store.path)
                    _rebase(con, old, force, report)
                _finish(con, data_dir, old, report)
            finally:
                con.close()
            if Path(str(tmp) + ".wal").exists():
                raise OSError("the new store was not fully checkpointed")
            make_private(tmp)
            fsync_file(tmp)
            os.replace(tmp, store.path)
            fsync_dir(store.folder)
        except BaseException as exc:
            remove_with_wal(tmp)
            if is_disk_full(exc) and not isinstance(exc, DiskFull):
                raise DiskFull("the rebuilt store") from exc
            raise
    report.release_id = store.publish().release_id
    return report


@dataclass
class _OldState:
    audit: list[dict]             # every audit row, in order
    forced: list[str]             # clashes a previous build --force kept, not exported yet


def _read_old(store: Store) -> _OldState:
    """Every audit row of the old store (after its WAL was replayed), then checkpoint and close it."""
    cur = store.cursor()
    try:
        result = cur.execute("SELECT * FROM audit_log ORDER BY audit_id")
        names = [d[0] for d in result.description]
        audit = [dict(zip(names, r)) for r in result.fetchall()]
        row = cur.execute("SELECT value FROM kb_meta WHERE key = 'forced_records'").fetchone()
        cur.execute("CHECKPOINT")
    finally:
        cur.close()   # inside exclusive(): closes DuckDB (checkpoint) and keeps the lock
    if store.wal.exists():
        raise StoreError("The editorial store's write-ahead log could not be merged into it, so it was not rebuilt "
                         "(nothing was changed). Check the disk, then run the build again.")
    return _OldState(audit, json.loads(row[0]) if row and row[0] else [])


def _backup(store: Store) -> Path:
    """Copy the checkpointed, closed store (no WAL: ``_read_old`` merged it) to backups/, privately."""
    folder = private_dir(store.backups)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    target = folder / f"editorial-{stamp}.duckdb"
    tmp = folder / f".{target.name}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with open(store.path, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(tmp, target)
        fsync_dir(folder)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFull("the backup of the editorial store") from exc
        raise
    for old in sorted(folder.glob("editorial-*.duckdb"))[:-KEEP_BACKUPS]:
        old.unlink(missing_ok=True)
    return target


def _carry_over(con: duckdb.DuckDBPyConnection, old_path: Path) -> None:
    con.execute("ATTACH ? AS old (READ_ONLY)", [str(old_path)])
    try:
        present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                             "WHERE table_catalog = 'old'").fetchall()}
        for table in CARRY_OVER:
            if table in present:
                columns = [r[0] for r in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'old' "
                    "AND table_name = ? ORDER BY ordinal_position", [table]).fetchall()]
                names = ", ".join('"' + c + '"' for c in columns)
                con.execute("INSERT INTO " + ident(table) + " (" + names + ") SELECT " + names + " FROM old."
                            + ident(table))
    finally:
        con.execute("DETACH old")


def _rebase(con: duckdb.DuckDBPyConnection, old: _OldState, force: bool, report: RebuildReport) -> None:
    """Re-apply, in audit order, every accepted change the fresh tables (from data/) do not have."""
    from kb import edits

    have = {r[0] for r in con.execute("SELECT audit_id FROM audit_log").fetchall()}
    columns = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = "
                                         "'audit_log' ORDER BY ordinal_position").fetchall()]
    seen: set[tuple[str, str]] = set()
    clashes: dict[str, str] = {}     # 'sources ref028' -> what data/ changed
    unappliable: list[str] = []
    cleanup_id = 0
    for row in old.audit:
        if row["audit_id"] in have:
            continue
        table, record_id = row["table_name"], row["record_id"]
        after = json.loads(row["after_json"]) if row["after_json"] else None
        cur = con.cursor()
        try:
            current = edits._load(cur, table, record_id)
            if (table, record_id) not in seen:
                seen.add((table, record_id))
                expected = json.loads(row["before_json"]) if row["before_json"] else None
                if current != expected:
                    clashes[f"{table} {record_id}"] = "; ".join(str(d) for d in edits.diff(expected, current)[:3])
            cur.execute("BEGIN TRANSACTION")
            try:
                deferred = edits._converge(cur, table, current, after)
                cur.execute("INSERT INTO audit_log (" + ", ".join('"' + c + '"' for c in columns) + ") VALUES ("
                            + ", ".join("?" * len(columns)) + ")", [row[c] for c in columns])
                for step, t, rid in deferred:
                    cleanup_id += 1
                    cur.execute("INSERT INTO pending_cleanup VALUES (?, ?, ?, ?, ?)",
                                [cleanup_id, row["audit_id"], step, t, rid])
                cur.execute("COMMIT")
            except edits.ValidationFailed as exc:
                cur.execute("ROLLBACK")
                unappliable.append(f"change #{row['audit_id']} to {table} {record_id} ({exc})")
                continue
        finally:
            cur.close()
        errors = edits._finish_cleanup_locked(con)
        if errors:
            unappliable.append(f"change #{row['audit_id']} to {table} {record_id} ({'; '.join(errors)})")
        report.rebased += 1
    if unappliable or (clashes and not force):
        raise BuildClash([f"{key} (changed by hand in data/: {what or 'rows'})" for key, what in clashes.items()],
                         unappliable)
    report.forced = sorted(set(old.forced) | set(clashes))


def _finish(con: duckdb.DuckDBPyConnection, data_dir: Path, old: _OldState | None, report: RebuildReport) -> None:
    """Versions from the audit log, stale pending proposals, bookkeeping in kb_meta, checkpoint."""
    from kb import edits

    con.execute("DELETE FROM record_versions")
    con.execute("INSERT INTO record_versions SELECT table_name, record_id, row_number() OVER (PARTITION BY "
                "table_name, record_id ORDER BY audit_id), audit_id FROM audit_log")
    for pid, changes in con.execute("SELECT proposal_id, changes_json FROM proposals WHERE status = 'pending' "
                                    "ORDER BY proposal_id").fetchall():
        for change in json.loads(changes):
            if edits.load_record(con, change["table"], change["record_id"]) != change["before"]:
                report.stale_proposals.append(pid)
                break
    meta = {"data_sha256": data_fingerprint(data_dir), "forced_records": json.dumps(report.forced)}
    for key, value in meta.items():
        con.execute("DELETE FROM kb_meta WHERE key = ?", [key])
        con.execute("INSERT INTO kb_meta VALUES (?, ?)", [key, value])
    con.execute("CHECKPOINT")


def _adopt_legacy(store: Store) -> None:
    """First start after an upgrade: the old single ``brainmets.duckdb`` (with its accounts and any unexported
    edits) becomes the editorial store. It is opened through DuckDB (replaying its WAL) and copied; the old file
    is left where it was."""
    if store.home.resolve() != DEFAULT_HOME.resolve() or not LEGACY_DB.exists():
        return
    from kb.edits import ensure_runtime_schema

    con = duckdb.connect(str(LEGACY_DB))
    try:
        ensure_runtime_schema(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    private_dir(store.folder)
    tmp = store.path.with_name(store.path.name + ".adopting")
    shutil.copyfile(LEGACY_DB, tmp)
    make_private(tmp)
    fsync_file(tmp)
    os.replace(tmp, store.path)
    fsync_dir(store.folder)
    print(f"Adopted {LEGACY_DB.name} as the editorial store; it is no longer used and may be deleted.",
          file=sys.stderr)


def data_fingerprint(data_dir: Path = DATA_DIR) -> str:
    """SHA-256 of data/'s CSV files and RELEASE: a build is needed when it changes."""
    digest = hashlib.sha256()
    for path in sorted(list(Path(data_dir).glob("*.csv")) + [Path(data_dir) / "RELEASE"]):
        if path.exists():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------ start-up
def ensure_ready(store: Store | None = None, data_dir: Path = DATA_DIR, quiet: bool = False):
    """What an editor instance does before serving: finish an interrupted export, build the store if it is missing
    or data/ changed since its build (keeping it, with a warning, when the rebuild clashes), then make sure the
    current release has the store's content. Returns the current ``Release``."""
    from kb import export as export_mod

    store = store or get_store()
    if not store.exists():
        rebuild_store(store, data_dir)
    else:
        export_mod.recover(data_dir, store)
        cur = store.cursor()
        try:
            row = cur.execute("SELECT value FROM kb_meta WHERE key = 'data_sha256'").fetchone()
        finally:
            cur.close()
        if not row or row[0] != data_fingerprint(data_dir):
            try:
                report = rebuild_store(store, data_dir)
                if not quiet:
                    print(report.summary())
            except (BuildError, BuildClash) as exc:
                print(f"data/ changed, but the editorial store was kept as it is: {exc}", file=sys.stderr)
    return store.publish()


def unexported_changes(store: Store) -> int:
    """Accepted changes not yet written to data/ plus pending proposals (0 when there is no store)."""
    if not store.exists():
        return 0
    cur = store.cursor()
    try:
        exported = cur.execute("SELECT value FROM kb_meta WHERE key = 'exported_audit_id'").fetchone()
        count = cur.execute("SELECT count(*) FROM audit_log WHERE audit_id > ?",
                            [int(exported[0]) if exported else 0]).fetchone()[0]
        return count + cur.execute("SELECT count(*) FROM proposals WHERE status = 'pending'").fetchone()[0]
    finally:
        cur.close()
