"""Every Streamlit cache of the app, in one place.

One DuckDB connection per process (``st.cache_resource``); query results cached with ``st.cache_data`` and the
connection argument underscored so it is not hashed. Editors' saves call ``clear_data()``.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import streamlit as st

from pathlib import Path

from kb import queries
from kb.config import db_path
from kb.build import ensure_built
from kb.db import connect


def connection() -> duckdb.DuckDBPyConnection:
    """The app's connection to ``$KB_DB``; builds the database from data/ on first start if it is missing."""
    return _connection(str(db_path()))


@st.cache_resource(show_spinner="Opening the knowledge base…")
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    # keyed by path so a changed KB_DB (tests, a second instance) never reuses another file's connection
    return connect(ensure_built(Path(path)))


def clear_data() -> None:
    """Forget cached query results (after an accepted edit)."""
    st.cache_data.clear()


@st.cache_data(show_spinner=False)
def table_counts(_con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return queries.table_counts(_con)


@st.cache_data(show_spinner=False)
def verification_counts(_con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return queries.verification_counts(_con)


@st.cache_data(show_spinner=False)
def release_info(_con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return queries.release_info(_con)


@st.cache_data(show_spinner=False)
def source_facets(_con: duckdb.DuckDBPyConnection) -> dict:
    return queries.source_facets(_con)


@st.cache_data(show_spinner=False, max_entries=256)
def sources(_con: duckdb.DuckDBPyConnection, year_min: int | None, year_max: int | None,
            pub_types: tuple[str, ...], journals: tuple[str, ...], text: str) -> pd.DataFrame:
    return queries.sources(_con, year_min, year_max, pub_types, journals, text)
