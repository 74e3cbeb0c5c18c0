"""Read queries behind the pages. Pure functions of a connection and plain arguments; always parameterized.

Filters are built as (clause, params) pairs so the SQL text never contains a user's value (Datasette's
``Filters.build_where_clauses`` is the model). Each function returns a DataFrame ready to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import duckdb
import pandas as pd

from kb.config import EVIDENCE_TABLES
from kb.db import query, scalar


@dataclass
class Where:
    """Collects SQL conditions and their parameters.

    >>> w = Where(); w.add("year >= ?", 2010); w.add_in("pub_type", ["guideline"]); w.sql()
    ' WHERE year >= ? AND pub_type IN (?)'
    >>> w.params
    [2010, 'guideline']
    """

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def add_in(self, column: str, values: Sequence[Any]) -> None:
        """``column IN (?, ?, …)`` for a non-empty list; an empty list adds nothing (no filter)."""
        values = list(values)
        if values:
            self.add(column + " IN (" + ", ".join("?" * len(values)) + ")", *values)

    def add_text(self, columns: Sequence[str], text: str | None) -> None:
        """Every word of ``text`` must appear (case-insensitive) in one of ``columns``."""
        for word in (text or "").split()[:20]:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            self.add("(" + " OR ".join("coalesce(" + c + ", '') ILIKE ? ESCAPE '\\'" for c in columns) + ")",
                     *([pattern] * len(columns)))

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


# ------------------------------------------------------------------------------------------------ overview
def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per evidence table, e.g. {'sources': 265, 'studies': 96, ...}."""
    sql = " UNION ALL ".join("SELECT ? AS t, count(*) AS n FROM " + t for t in EVIDENCE_TABLES)
    frame = query(con, sql, list(EVIDENCE_TABLES))
    return dict(zip(frame["t"], frame["n"].astype(int)))


def verification_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows per table and verification status (verified / secondary / unverified)."""
    sql = " UNION ALL ".join(
        "SELECT ? AS table_name, verification, count(*) AS n FROM " + t + " GROUP BY verification"
        for t in EVIDENCE_TABLES)
    return query(con, sql + " ORDER BY table_name, verification", list(EVIDENCE_TABLES))


def release_info(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The release name and build time recorded by ``kb build``."""
    frame = query(con, "SELECT key, value FROM kb_meta")
    return dict(zip(frame["key"], frame["value"]))


# ------------------------------------------------------------------------------------------------ sources
SOURCE_COLUMNS = ("source_id", "ref_number", "first_author", "year", "title", "journal", "volume", "pages", "doi",
                  "pmid", "pub_type", "verification", "note")


def sources(con: duckdb.DuckDBPyConnection, year_min: int | None = None, year_max: int | None = None,
            pub_types: Sequence[str] = (), journals: Sequence[str] = (), text: str | None = None) -> pd.DataFrame:
    """The bibliography, filtered. ``text`` matches every word in authors, title, journal, DOI or PMID.

    Ordered by reference number (the review's citation order), then editor-added sources by year.
    """
    where = Where()
    if year_min is not None:
        where.add("year >= ?", int(year_min))
    if year_max is not None:
        where.add("year <= ?", int(year_max))
    where.add_in("pub_type", pub_types)
    where.add_in("journal", journals)
    where.add_text(("authors", "title", "journal", "doi", "pmid", "source_id", "CAST(year AS VARCHAR)"), text)
    sql = ("SELECT " + ", ".join(SOURCE_COLUMNS) + ", authors FROM sources" + where.sql()
           + " ORDER BY ref_number NULLS LAST, year, source_id")
    return query(con, sql, where.params)


def source_facets(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Choices for the Sources filters: year range, publication types, journals (most frequent first)."""
    years = query(con, "SELECT min(year) AS lo, max(year) AS hi FROM sources").iloc[0]
    types = query(con, "SELECT p.pub_type, p.name, count(s.source_id) AS n FROM pub_types p "
                       "LEFT JOIN sources s USING (pub_type) GROUP BY ALL ORDER BY n DESC")
    journals = query(con, "SELECT journal, count(*) AS n FROM sources WHERE journal IS NOT NULL "
                          "GROUP BY journal ORDER BY n DESC, journal")
    return {"year_min": int(years["lo"]), "year_max": int(years["hi"]),
            "pub_types": dict(zip(types["pub_type"], types["name"])), "journals": journals["journal"].tolist()}


def doi_url(doi: str | None) -> str | None:
    """https://doi.org/<doi>, or None.

    >>> doi_url("10.1001/jama.2016.9839")
    'https://doi.org/10.1001/jama.2016.9839'
    """
    return f"https://doi.org/{doi}" if doi else None


def pubmed_url(pmid: str | None) -> str | None:
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid else None


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    if table not in EVIDENCE_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return int(scalar(con, "SELECT count(*) FROM " + table))
