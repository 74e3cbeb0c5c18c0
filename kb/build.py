"""Build the DuckDB file from data/*.csv: validate everything first, then write atomically.

Lifecycle contract:
- ``build`` never writes a partial database: it builds into ``<db>.building`` and renames it over ``<db>`` only
  when every table loaded. On bad data it raises ``BuildError`` listing every problem and writes nothing.
- ``build`` refuses to replace a database that holds edits not yet exported to data/ (``UnexportedEditsError``);
  ``force=True`` first copies the old file to ``<db>.backup-<timestamp>``.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pandas as pd

from kb.config import DATA_DIR, TABLES, db_path
from kb.schema import create_schema, tables
from kb.validate import Problem, validate_tables

META_DDL = "CREATE TABLE IF NOT EXISTS kb_meta (key VARCHAR PRIMARY KEY, value VARCHAR)"


class BuildError(Exception):
    """Bad data: ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in data/:\n" + "\n".join(f"  {p}" for p in problems))


class UnexportedEditsError(Exception):
    """The database holds accepted or pending edits that `python -m kb export` has not written to data/."""


def ident(table: str) -> str:
    """Quote a table name after checking it is one of ours (identifiers cannot be SQL parameters)."""
    if table not in tables() and table not in ("kb_meta", *CARRY_OVER_TABLES):
        raise ValueError(f"unknown table {table!r}")
    return '"' + table + '"'


# ------------------------------------------------------------------------------------------------ reading
def read_table_files(table: str, paths: Iterable[Path], root: Path) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Read CSV rows of one table from several files; each row keeps its file and line for messages."""
    expected = tables()[table].column_names
    rows: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for path in paths:
        shown = _shown(path, root)
        try:
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                header = reader.fieldnames or []
                missing = [c for c in expected if c not in header]
                extra = [c for c in header if c not in expected]
                if missing or extra:
                    words = []
                    if missing:
                        words.append("missing column(s) " + ", ".join(missing))
                    if extra:
                        words.append("unknown column(s) " + ", ".join(extra))
                    problems.append(Problem(table, 1, None, "; ".join(words), shown))
                    continue
                for line_no, raw in enumerate(reader, start=2):
                    if None in raw:  # more cells than the header
                        problems.append(Problem(table, line_no, None, "more cells than the header has columns",
                                                shown))
                        continue
                    raw["_line"], raw["_file"] = line_no, shown
                    rows.append(raw)
        except UnicodeDecodeError as exc:
            problems.append(Problem(table, None, None, f"not UTF-8 text ({exc.reason})", shown))
    return rows, problems


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def load_and_validate(data_dir: Path = DATA_DIR, extra_dirs: Iterable[Path] = ()) -> tuple[dict, list[Problem]]:
    """Read data/<table>.csv (plus any <extra_dir>/<table>.csv) and validate them all together."""
    frames: dict[str, list[dict]] = {}
    problems: list[Problem] = []
    extra_dirs = [Path(d) for d in extra_dirs]
    for table in TABLES:
        path = data_dir / f"{table}.csv"
        paths = [path] if path.exists() else []
        if not paths:
            problems.append(Problem(table, None, None, "file is missing", _shown(path, data_dir)))
        paths += [d / f"{table}.csv" for d in extra_dirs if (d / f"{table}.csv").exists()]
        rows, read_problems = read_table_files(table, paths, data_dir)
        frames[table] = rows
        problems += read_problems
    typed, rule_problems = validate_tables(frames)
    return typed, problems + rule_problems


# ------------------------------------------------------------------------------------------------ writing
def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert typed rows in one statement (text frame, cast to the column types in SQL)."""
    if not rows:
        return
    described = tables()[table]
    frame = pd.DataFrame(
        {c.name: [None if r.get(c.name) is None else _text(r[c.name]) for r in rows] for c in described.columns},
        dtype=object,
    )
    select = ", ".join('CAST("' + c.name + '" AS ' + c.type + ")" for c in described.columns)
    con.register("_kb_frame", frame)
    try:
        con.execute("INSERT INTO " + ident(table) + " SELECT " + select + " FROM _kb_frame")
    except duckdb.Error as exc:  # validation should have caught it; say which table, never half-write
        raise BuildError([Problem(table, None, None, f"the database refused the rows: {exc}")]) from exc


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_database(path: Path, typed: dict[str, list[dict]]) -> None:
    """Create schema and load every table into a new file at ``path``."""
    con = duckdb.connect(str(path))
    try:
        create_schema(con)
        con.execute(META_DDL)
        con.execute("BEGIN TRANSACTION")
        for table in TABLES:
            insert_rows(con, table, typed.get(table, []))
        last_audit = con.execute("SELECT coalesce(max(audit_id), 0) FROM audit_log").fetchone()[0]
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        con.executemany("INSERT INTO kb_meta VALUES (?, ?)",
                        [("built_at", now), ("release", release_name()), ("exported_audit_id", str(last_audit))])
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def release_name(data_dir: Path = DATA_DIR) -> str:
    """The KB release: data/RELEASE's first line (e.g. '2026.11 (2026-11-21)')."""
    path = data_dir / "RELEASE"
    return path.read_text(encoding="utf-8").splitlines()[0].strip() if path.exists() else "unreleased"


def unexported_changes(path: Path) -> int:
    """How many changes in the DB at ``path`` are not in data/: accepted edits after the last export plus pending
    proposals. 0 for a missing file or a database without editing tables."""
    if not path.exists():
        return 0
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        count = 0
        if {"audit_log", "kb_meta"} <= names:
            exported = con.execute("SELECT value FROM kb_meta WHERE key = 'exported_audit_id'").fetchone()
            count += con.execute("SELECT count(*) FROM audit_log WHERE audit_id > ?",
                                 [int(exported[0]) if exported else 0]).fetchone()[0]
        if "proposals" in names:
            count += con.execute("SELECT count(*) FROM proposals WHERE status = 'pending'").fetchone()[0]
        return count
    finally:
        con.close()


# Runtime tables that live only in the database (editor accounts): a rebuild carries them over.
CARRY_OVER_TABLES: tuple[str, ...] = ("editors", "proposals")


def build(path: Path | None = None, data_dir: Path = DATA_DIR, force: bool = False) -> dict[str, int]:
    """Validate data/ and (re)build the database at ``path``. Returns row counts per table.

    >>> counts = build(Path(tempfile.mkdtemp()) / "kb.duckdb")  # doctest: +SKIP
    """
    path = Path(path or db_path())
    typed, problems = load_and_validate(data_dir)
    if problems:
        raise BuildError(problems)
    pending = unexported_changes(path)
    if pending and not force:
        raise UnexportedEditsError(
            f"{path} holds {pending} change(s) not yet exported to data/. Run `python -m kb export` first, "
            "or `python -m kb build --force` to back the old file up and rebuild anyway.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".building")
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    try:
        write_database(tmp, typed)
    except BuildError:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            leftover.unlink(missing_ok=True)
        raise
    if path.exists():
        if pending:
            stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
            shutil.copy2(path, path.with_name(f"{path.name}.backup-{stamp}"))
        _carry_over(path, tmp)
    os.replace(tmp, path)
    Path(str(path) + ".wal").unlink(missing_ok=True)
    return {t: len(typed.get(t, [])) for t in TABLES}


def _carry_over(old: Path, new: Path) -> None:
    if not CARRY_OVER_TABLES:
        return
    con = duckdb.connect(str(new))
    try:
        con.execute("ATTACH ? AS old (READ_ONLY)", [str(old)])
        old_tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'old'").fetchall()}
        for table in CARRY_OVER_TABLES:
            if table in old_tables:
                con.execute("INSERT INTO " + ident(table) + " SELECT * FROM old." + ident(table))
        con.execute("DETACH old")
    finally:
        con.close()


def ensure_built(path: Path | None = None) -> Path:
    """Build the database if it is missing (the app calls this on first start). Returns its path."""
    path = Path(path or db_path())
    if not path.exists():
        build(path)
    return path
