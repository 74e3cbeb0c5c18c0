"""Connections. One DuckDB connection per process; every query runs on its own cursor, so threads never share one.

Streamlit serves each session on its own thread: ``ui/cache.py`` keeps one connection (``st.cache_resource``) and
calls ``query`` here, which opens a cursor per call (DuckDB cursors are independent connections to the same
database and are safe to use from different threads).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

import duckdb
import pandas as pd

from kb.config import db_path, read_only


def connect(path: Path | str | None = None, read_only_: bool | None = None) -> duckdb.DuckDBPyConnection:
    """Open the KB database (``$KB_DB`` by default; read-only when ``KB_READ_ONLY=1``)."""
    ro = read_only() if read_only_ is None else read_only_
    return duckdb.connect(str(path or db_path()), read_only=ro)


def open_for_writing(path: Path, hint: str) -> duckdb.DuckDBPyConnection | None:
    """A read-write connection for a command-line tool, or None after telling the user why it is busy.

    DuckDB allows one writing process per file; ``hint`` says what to do instead (e.g. where else to run it).
    """
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as exc:
        print(f"Cannot open {path} for writing ({exc}). Stop the app that holds it, or {hint}.", file=sys.stderr)
        return None


def query(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict | None = None) -> pd.DataFrame:
    """Run a parameterized read query on a fresh cursor and return a DataFrame.

    >>> con = duckdb.connect()
    >>> query(con, "SELECT ? + 1 AS n", [41])["n"].tolist()
    [42]
    """
    cursor = con.cursor()
    try:
        return cursor.execute(sql, params or []).df()
    finally:
        cursor.close()


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | dict | None = None) -> Any:
    """Run a parameterized query that returns one value."""
    cursor = con.cursor()
    try:
        row = cursor.execute(sql, params or []).fetchone()
        return row[0] if row else None
    finally:
        cursor.close()
