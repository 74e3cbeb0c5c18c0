"""Connections for readers. Every query runs on its own cursor, so threads never share one.

Readers open a published release (``kb/releases.py``) read-only: any number of processes may. Streamlit serves each
session on its own thread: ``ui/cache.py`` keeps one connection per release file (``st.cache_resource``) and calls
``query`` here, which opens a cursor per call (DuckDB cursors are independent connections to the same database
and are safe to use from different threads). Writers use the editorial store instead (``kb/store.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import duckdb
import pandas as pd


def connect(path: Path | str | None = None, read_only_: bool = True) -> duckdb.DuckDBPyConnection:
    """Open a KB file (default: ``$KB_DB`` when pinned, else the current release) — read-only unless asked."""
    if path is None:
        from kb.releases import reader_path

        path = reader_path()
    return duckdb.connect(str(path), read_only=read_only_)


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
