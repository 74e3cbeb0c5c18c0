"""Export: write the accepted edits back to data/*.csv, so a release is a reviewable git diff.

``python -m kb export`` (or the editor page's release button) applies the changes accepted since the last export
(audit_log rows after kb_meta 'exported_audit_id') to the CSV files as a patch:

- only the rows of changed records are rewritten; every other row — including rows curated in data/ by hand since
  the store was built — is kept byte for byte, in its place. Unchanged cells keep their original text
  ('34.0' stays '34.0'); new or changed values are written canonically (``kb.edits.format_value``).
- a changed record keeps its position in the file; new records go at the end; retired ones are removed.
- new audit_log rows are appended to data/audit_log.csv.
- when a record was edited in the app *and* changed in data/ since the build, export stops and lists them
  (``ExportConflict``) rather than overwrite either; ``force=True`` lets the store win. Records a
  ``kb build --force`` already decided (kb_meta 'forced_records') are written without asking, and listed.

Lifecycle contract — idempotent, and resumable after a kill at any step:

1. the new files are written into a staging folder beside data/ (``data.exporting/``) and flushed (fsync);
2. ``JOURNAL.json`` (the files and the last audit id) is written there atomically: the commit point;
3. each staged file is renamed over its data/ file, then data/ is flushed;
4. kb_meta 'exported_audit_id' records the export in the store; the journal and the folder are removed.

``recover`` — run first by every command that reads data/ or the store (check, build, export, the app's start) —
finishes steps 3–4 when a journal is there, and throws a staging folder without a journal away. So data/ is never
left half-exported (it would fail ``kb check``), and a re-run after a kill never reports false conflicts.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from kb import edits
from kb.config import DATA_DIR, TABLES
from kb.files import PUBLIC_FILE, DiskFull, fsync_dir, is_disk_full, write_atomic
from kb.schema import tables
from kb.store import holding
from kb.validate import coerce

JOURNAL = "JOURNAL.json"

STUDY_CHILDREN = set(edits.KINDS["studies"][1])


class ExportConflict(Exception):
    """Records changed both in the app and in data/ since the database was built."""

    def __init__(self, records: list[str]):
        self.records = records
        super().__init__("These records were changed in the app and also in data/ since the database was built; "
                         "export would overwrite one of the two: " + ", ".join(records)
                         + ". Merge by hand, or export with --force to let the database win.")


@dataclass
class ExportResult:
    changes: int                                   # accepted changes exported
    last_audit_id: int
    files: dict[str, str] = field(default_factory=dict)   # file name -> '+2 −0 ~1 rows'
    overwritten: list[str] = field(default_factory=list)  # hand edits in data/ replaced (build --force / --force)

    def summary(self) -> str:
        if not self.files:
            return f"Nothing to export: data/ already has every accepted change (audit id {self.last_audit_id})."
        return (f"Exported {self.changes} accepted change(s): "
                + ", ".join(f"{name} ({what})" for name, what in self.files.items()) + "."
                + (" Hand edits in data/ replaced by the accepted edits: " + "; ".join(self.overwritten) + "."
                   if self.overwritten else ""))


def _progress(step: str) -> None:
    """Called after each step of an export; the crash tests replace it to kill the process exactly there."""


# ------------------------------------------------------------------------------------------------ reading
def _read(path: Path) -> tuple[list[str], list[dict[str, str]], str]:
    if not path.exists():
        return [], [], ""
    text = path.read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    return list(reader.fieldnames or []), list(reader), text


def _write_text(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _typed(table: str, raw: dict[str, str]) -> dict[str, Any]:
    record, _ = coerce(tables()[table], raw)
    return {k: edits._plain(v) for k, v in record.items()}


def _key(table: str, row: dict[str, Any]) -> tuple[str, ...]:
    return tuple("" if row.get(c) is None else str(row.get(c)).strip() for c in edits.pk_columns(table))


# ------------------------------------------------------------------------------------------------ export
def touched_records(con: duckdb.DuckDBPyConnection) -> tuple[int, int, dict[tuple[str, str], dict | None]]:
    """(exported audit id, last audit id, {(table, record_id): the record before its first unexported change})."""
    cur = con.cursor()
    try:
        row = cur.execute("SELECT value FROM kb_meta WHERE key = 'exported_audit_id'").fetchone()
        exported = int(row[0]) if row else 0
        last = int(cur.execute("SELECT coalesce(max(audit_id), 0) FROM audit_log").fetchone()[0])
        baseline: dict[tuple[str, str], dict | None] = {}
        for table, record_id, before in cur.execute(
                "SELECT table_name, record_id, before_json FROM audit_log WHERE audit_id > ? ORDER BY audit_id",
                [exported]).fetchall():
            baseline.setdefault((table, record_id), json.loads(before) if before else None)
    finally:
        cur.close()
    return exported, last, baseline


def export(con: Any, data_dir: Path = DATA_DIR, force: bool = False) -> ExportResult:
    """Write the accepted changes since the last export into ``data_dir`` and record the export in kb_meta.

    ``con`` is the editorial store (``kb.store.Store``) or a DuckDB connection to a store file."""
    data_dir = Path(data_dir)
    with holding(con):   # one lock for the whole export: nothing is accepted between reading and recording
        recover(data_dir, con)
        edits.finish_cleanup(con)
        exported, last, baseline = touched_records(con)
        result = ExportResult(last - exported, last)
        if last == exported:
            return result
        planned, conflicts = _plan(con, data_dir, exported, baseline)
        decided = set(_forced_records(con))
        result.overwritten = sorted({c for c in conflicts if c.rsplit(" (", 1)[0] in decided})
        conflicts = [c for c in conflicts if c.rsplit(" (", 1)[0] not in decided]
        if conflicts and not force:
            raise ExportConflict(sorted(set(conflicts)))
        result.overwritten = sorted(set(result.overwritten) | set(conflicts))
        _apply(con, data_dir, planned, last)
        result.files = {path.name: summary for path, _t, summary in planned}
        return result


def _plan(con: Any, data_dir: Path, exported: int, baseline: dict) -> tuple[list[tuple[Path, str, str]], list[str]]:
    """The new text of every CSV that changes, and the records that data/ changed too."""
    current = {key: edits.load_record(con, key[0], key[1]) for key in baseline}
    # Which study each arm belongs to (arm_interventions rows carry only the arm).
    arm_study: dict[str, str] = {}
    for state in list(baseline.values()) + list(current.values()):
        for arm in (state or {}).get("arms", []):
            arm_study[arm["arm_id"]] = arm["study_id"]
    for arm in _read(data_dir / "arms.csv")[1]:
        arm_study.setdefault(arm["arm_id"], arm["study_id"])

    def owner(table: str, raw: dict[str, Any]) -> tuple[str, str] | None:
        if table in edits.KINDS:
            return table, str(raw.get(edits.pk_columns(table)[0]) or "").strip()
        if table in STUDY_CHILDREN:
            study = raw.get("study_id") if table != "arm_interventions" else arm_study.get(raw.get("arm_id"))
            return "studies", str(study or "").strip()
        return None

    conflicts: list[str] = []
    planned: list[tuple[Path, str, str]] = []   # (path, new text, summary)
    for table in TABLES:
        path = data_dir / f"{table}.csv"
        header, file_rows, old_text = _read(path)
        header = header or tables()[table].column_names
        if table == "audit_log":
            new_rows, summary = _audit_rows(con, file_rows, exported)
        else:
            new_rows, summary, clashes = _patch_table(table, file_rows, baseline, current, owner)
            conflicts += clashes
        new_text = _write_text(header, new_rows)
        if new_text != old_text:
            planned.append((path, new_text, summary))
    return planned, conflicts


def staging_dir(data_dir: Path) -> Path:
    """Where an export stages its files: a folder beside data/ (same file system, so renames are atomic)."""
    return data_dir.parent / (data_dir.name + ".exporting")


def _apply(con: Any, data_dir: Path, planned: list[tuple[Path, str, str]], last: int) -> None:
    staging = staging_dir(data_dir)
    if staging.exists():
        shutil.rmtree(staging)
    try:
        staging.mkdir()
        for path, text, _summary in planned:
            staged = staging / path.name
            fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _mode_of(path))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(staged, _mode_of(path))
        fsync_dir(staging)
        _progress("staged")
        journal = {"files": [path.name for path, _t, _s in planned], "last_audit_id": last}
        write_atomic(staging / JOURNAL, json.dumps(journal).encode("utf-8"))   # the commit point
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)   # before the commit point: as if nothing happened
        if is_disk_full(exc) and not isinstance(exc, DiskFull):
            raise DiskFull("the export") from exc
        raise
    _progress("journal")
    _roll_forward(con, data_dir, journal)


def _mode_of(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return PUBLIC_FILE


def _roll_forward(con: Any, data_dir: Path, journal: dict) -> None:
    staging = staging_dir(data_dir)
    for name in journal["files"]:
        if (staging / name).exists():
            os.replace(staging / name, data_dir / name)
            _progress("renamed " + name)
    fsync_dir(data_dir)
    if con is not None:
        _record_export(con, int(journal["last_audit_id"]))
        _progress("recorded")
        (staging / JOURNAL).unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        fsync_dir(data_dir.parent)


def recover(data_dir: Path = DATA_DIR, con: Any = None) -> str | None:
    """Finish an export a kill interrupted, or discard one that never reached its commit point.

    Without ``con`` (the store busy or absent) only the files are put in place; the journal then stays until a
    later call can record the export in the store. Returns what was done ('finished', 'discarded', 'files') or None."""
    data_dir = Path(data_dir)
    staging = staging_dir(data_dir)
    for stray in data_dir.glob("*.exporting"):   # temp files of the exports of earlier versions
        stray.unlink(missing_ok=True)
    if not staging.exists():
        return None
    journal_path = staging / JOURNAL
    if not journal_path.exists():
        shutil.rmtree(staging, ignore_errors=True)
        return "discarded"
    journal = json.loads(journal_path.read_text(encoding="utf-8"))
    _roll_forward(con, data_dir, journal)
    return "finished" if con is not None else "files"


def _patch_table(table: str, file_rows: list[dict[str, str]], baseline: dict, current: dict,
                 owner) -> tuple[list[dict[str, str]], str, list[str]]:
    """The file's rows with the changed records' rows replaced by the database's."""
    columns = tables()[table].column_names
    touched = {key for key in baseline if table in edits.record_tables(key[0])}
    if not touched:
        return file_rows, "", []
    db_rows: dict[tuple, dict] = {}
    order: list[tuple] = []
    for key in sorted(touched):
        for r in (current.get(key) or {}).get(table, []):
            k = _key(table, r)
            db_rows[k] = r
            order.append(k)
    # conflicts: the file's rows of a touched record must still be what the database started from
    clashes = []
    file_by_owner: dict[tuple[str, str], list[dict]] = {}
    for raw in file_rows:
        o = owner(table, raw)
        if o in touched:
            file_by_owner.setdefault(o, []).append(_typed(table, raw))
    for key in touched:
        expected = sorted(((baseline[key] or {}).get(table, [])), key=lambda r: _key(table, r))
        found = sorted(file_by_owner.get(key, []), key=lambda r: _key(table, r))
        if found != expected:
            clashes.append(f"{key[0]} {key[1]} ({table}.csv)")
    out: list[dict[str, str]] = []
    placed: set[tuple] = set()
    added = removed = changed = 0
    for raw in file_rows:
        if owner(table, raw) not in touched:
            out.append(raw)
            continue
        k = _key(table, raw)
        new = db_rows.get(k)
        if new is None:
            removed += 1
            continue
        placed.add(k)
        old_typed = _typed(table, raw)
        cells = {c: raw.get(c, "") if old_typed.get(c) == new.get(c) else edits.format_value(new.get(c))
                 for c in columns}
        changed += cells != {c: raw.get(c, "") for c in columns}
        out.append(cells)
    for k in order:
        if k not in placed:
            out.append({c: edits.format_value(db_rows[k].get(c)) for c in columns})
            added += 1
    return out, f"+{added} −{removed} ~{changed} rows", clashes


def _audit_rows(con: duckdb.DuckDBPyConnection, file_rows: list[dict[str, str]],
                exported: int) -> tuple[list[dict[str, str]], str]:
    have = {r["audit_id"].strip() for r in file_rows}
    cur = con.cursor()
    try:
        result = cur.execute("SELECT * FROM audit_log WHERE audit_id > ? ORDER BY audit_id", [exported])
        names = [d[0] for d in result.description]
        rows = [dict(zip(names, r)) for r in result.fetchall()]
    finally:
        cur.close()
    new = [{c: edits.format_value(edits._plain(v)) for c, v in r.items()} for r in rows
           if str(r["audit_id"]) not in have]
    return file_rows + new, f"+{len(new)} rows"


def _record_export(con: Any, last: int) -> None:
    """kb_meta 'exported_audit_id' = ``last`` (never lowered), and the forced records are settled."""
    cur = con.cursor()
    try:
        cur.execute("BEGIN TRANSACTION")
        row = cur.execute("SELECT value FROM kb_meta WHERE key = 'exported_audit_id'").fetchone()
        value = str(max(last, int(row[0]) if row else 0))
        cur.execute("DELETE FROM kb_meta WHERE key IN ('exported_audit_id', 'forced_records')")
        cur.execute("INSERT INTO kb_meta VALUES ('exported_audit_id', ?)", [value])
        cur.execute("COMMIT")
    finally:
        cur.close()


def _forced_records(con: Any) -> list[str]:
    cur = con.cursor()
    try:
        row = cur.execute("SELECT value FROM kb_meta WHERE key = 'forced_records'").fetchone()
    finally:
        cur.close()
    return json.loads(row[0]) if row and row[0] else []


# ------------------------------------------------------------------------------------------------ command line
def cmd_export(args: argparse.Namespace) -> int:
    from kb.store import StoreError, get_store

    store = get_store(args.home)
    if not store.exists():
        print("There is no editorial store yet, so nothing to export (run `python -m kb build`).", file=sys.stderr)
        return 1
    try:
        result = export(store, Path(args.data_dir), force=args.force)
    except ExportConflict as exc:
        print(exc, file=sys.stderr)
        return 2
    except (StoreError, DiskFull) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(result.summary())
    if result.files:
        print("Review with `git diff data/`, then commit.")
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write accepted edits back to data/*.csv (a reviewable git diff)")
    p.add_argument("--home", help="the editor instance's folder (default: $KB_HOME or kb_home/)")
    p.add_argument("--data-dir", default=str(DATA_DIR), help="where the CSV files are (default: data/)")
    p.add_argument("--force", action="store_true", help="let the store win where data/ changed the same record")
    p.set_defaults(func=cmd_export)
