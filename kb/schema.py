"""Create the schema and describe it (columns, types, keys) by asking DuckDB, so schema.sql is the one truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import duckdb

from kb.config import SCHEMA_PATH, TABLES


@dataclass(frozen=True)
class Column:
    name: str
    type: str            # VARCHAR, INTEGER, DOUBLE, BOOLEAN, TIMESTAMP
    nullable: bool


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[tuple[str, str, str], ...] = field(default=())  # (column, parent table, parent column)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


RUNTIME_SCHEMA_PATH = SCHEMA_PATH.with_name("schema_runtime.sql")

# Foreign keys checked by kb/validate.py instead of DuckDB (see the note at the top of schema.sql):
# (table, column, parent table, parent column).
SOFT_FOREIGN_KEYS: tuple[tuple[str, str, str, str], ...] = (
    ("histologies", "parent_id", "histologies", "histology_id"),
    ("sources", "pub_type", "pub_types", "pub_type"),
    ("studies", "design_id", "designs", "design_id"),
    ("studies", "evidence_level", "evidence_levels", "evidence_level"),
    ("arms", "drug_id", "drugs", "drug_id"),
    ("guidelines", "source_id", "sources", "source_id"),
)


def create_schema(con: duckdb.DuckDBPyConnection, runtime: bool = True) -> None:
    """Create every table of schema.sql in ``con``, and the editor's run-time tables (schema_runtime.sql:
    accounts, proposals, versions — they live only in the database and are not loaded from data/)."""
    con.execute(SCHEMA_PATH.read_text(encoding="utf-8"))
    if runtime and RUNTIME_SCHEMA_PATH.exists():
        con.execute(RUNTIME_SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def tables() -> dict[str, Table]:
    """Every table of schema.sql, described, in load order.

    >>> tables()["sources"].primary_key
    ('source_id',)
    """
    con = duckdb.connect()
    create_schema(con, runtime=False)
    cols = con.execute(
        "SELECT table_name, column_name, data_type, is_nullable = 'YES' FROM information_schema.columns "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    cons = con.execute(
        "SELECT table_name, constraint_type, constraint_column_names, referenced_table, referenced_column_names "
        "FROM duckdb_constraints() WHERE constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')"
    ).fetchall()
    con.close()
    described: dict[str, Table] = {}
    for name in TABLES:
        columns = tuple(Column(c, t, n) for tn, c, t, n in cols if tn == name)
        pk: tuple[str, ...] = ()
        fks = []
        for tn, kind, names, ref_table, ref_cols in cons:
            if tn != name:
                continue
            if kind == "PRIMARY KEY":
                pk = tuple(names)
            else:
                fks.extend((c, ref_table, rc) for c, rc in zip(names, ref_cols))
        fks.extend((c, parent, pc) for t, c, parent, pc in SOFT_FOREIGN_KEYS if t == name)
        described[name] = Table(name, columns, pk, tuple(fks))
    missing = {tn for tn, *_ in cols} - set(TABLES)
    if missing:
        raise RuntimeError(f"schema.sql has tables not in kb.config.TABLES: {sorted(missing)}")
    return described
