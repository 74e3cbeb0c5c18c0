"""Build a KB DuckDB file from data/*.csv: validate everything first, then write atomically.

Lifecycle contract:
- ``build(path)`` never writes a partial file: it builds into ``<path>.building`` and renames it over ``<path>``
  only when every table loaded. On bad data it raises ``BuildError`` listing every problem and writes nothing.
- The file holds the KB tables and ``kb_meta`` only. The editorial store (accounts, proposals, accepted edits not
  yet exported) is rebuilt from data/ by ``kb/rebuild.py``, which uses these functions and keeps every edit.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import uuid
from pathlib import Path
from typing import Any, Iterable

import duckdb
import pandas as pd

from kb.config import DATA_DIR, TABLES
from kb.files import DiskFull, fsync_dir, fsync_file, is_disk_full
from kb.schema import create_schema, tables
from kb.validate import Problem, validate_tables

META_DDL = "CREATE TABLE IF NOT EXISTS kb_meta (key VARCHAR PRIMARY KEY, value VARCHAR)"


class BuildError(Exception):
    """Bad data: ``problems`` lists every one of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in data/:\n" + "\n".join(f"  {p}" for p in problems))


def ident(table: str) -> str:
    """Quote a table name after checking it is one of ours (identifiers cannot be SQL parameters)."""
    if table not in tables() and table not in ("kb_meta", *RUNTIME_TABLES):
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


def write_database(path: Path, typed: dict[str, list[dict]], runtime: bool = False,
                   data_dir: Path = DATA_DIR) -> None:
    """Create the schema (plus the editor run-time tables when ``runtime``) and load every table into a new
    file at ``path``; kb_meta records the build (time, id, data/RELEASE name, last exported audit id)."""
    con = duckdb.connect(str(path))
    try:
        create_schema(con, runtime=runtime)
        con.execute(META_DDL)
        con.execute("BEGIN TRANSACTION")
        for table in TABLES:
            insert_rows(con, table, typed.get(table, []))
        last_audit = con.execute("SELECT coalesce(max(audit_id), 0) FROM audit_log").fetchone()[0]
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        con.executemany("INSERT INTO kb_meta VALUES (?, ?)",
                        [("built_at", now), ("release", release_name(data_dir)), ("exported_audit_id", str(last_audit)),
                         ("build_id", uuid.uuid4().hex[:12])])
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
    finally:
        con.close()


def release_name(data_dir: Path = DATA_DIR) -> str:
    """The KB release: data/RELEASE's first line (e.g. '2026.11 (2026-11-21)')."""
    path = data_dir / "RELEASE"
    return path.read_text(encoding="utf-8").splitlines()[0].strip() if path.exists() else "unreleased"


# The editor run-time tables (schema_runtime.sql): they live only in the editorial store, never in data/ or a release.
RUNTIME_TABLES: tuple[str, ...] = ("editors", "login_attempts", "proposals", "record_versions", "pending_cleanup")


def build(path: Path, data_dir: Path = DATA_DIR, runtime: bool = False) -> dict[str, int]:
    """Validate data/ and write a KB file at ``path`` atomically. Returns row counts per table.

    >>> counts = build(Path(tempfile.mkdtemp()) / "kb.duckdb")  # doctest: +SKIP
    """
    path = Path(path)
    typed, problems = load_and_validate(data_dir)
    if problems:
        raise BuildError(problems)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".building")
    remove_with_wal(tmp)
    try:
        write_database(tmp, typed, runtime=runtime, data_dir=data_dir)
        fsync_file(tmp)
        if Path(str(path) + ".wal").exists():  # the old file's unmerged changes: merge (never delete) them first
            duckdb.connect(str(path)).close()
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException as exc:
        remove_with_wal(tmp)
        if is_disk_full(exc) and not isinstance(exc, DiskFull):
            raise DiskFull("the database") from exc
        raise
    return {t: len(typed.get(t, [])) for t in TABLES}


def remove_with_wal(path: Path) -> None:
    """Delete a file DuckDB was writing and its write-ahead log (only for files nobody else has seen)."""
    for leftover in (Path(path), Path(str(path) + ".wal")):
        leftover.unlink(missing_ok=True)
