"""What can be edited: the record kinds, the tables a record spans, and their keys.

>>> record_tables("studies")[:3]
('studies', 'study_sources', 'study_histologies')
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from kb.schema import tables

# Root table -> (noun, the child tables that belong to the record, in the order they are written).
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "studies": ("study", ("study_sources", "study_histologies", "study_settings", "arms", "arm_interventions",
                          "outcomes")),
    "sources": ("source", ()),
    "guidelines": ("guideline", ()),
    "recommendations": ("recommendation", ()),
    "dose_schedules": ("dose schedule", ()),
    "drug_toxicity": ("drug–SRS toxicity signal", ()),
    "imaging": ("imaging row", ()),
}
KIND_TITLES = {"studies": "Studies", "sources": "Sources", "guidelines": "Guidelines",
               "recommendations": "Recommendations", "dose_schedules": "Dose schedules",
               "drug_toxicity": "Drug–SRS toxicity", "imaging": "Imaging"}
# The column shown next to the id in pickers.
TITLE_COLUMNS = {"studies": "short_name", "sources": "title", "guidelines": "short_name",
                 "recommendations": "recommendation", "dose_schedules": "description", "drug_toxicity": "finding",
                 "imaging": "summary"}
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,119}")


def q(name: str) -> str:
    """Quote a column or table name that comes from our schema (never from a user)."""
    known = tables()
    if name not in known and not any(name in t.column_names for t in known.values()):
        raise ValueError(f"unknown identifier {name!r}")
    return '"' + name + '"'


def record_tables(table: str) -> tuple[str, ...]:
    """The tables a record of ``table`` spans, root first."""
    return (table,) + KINDS[table][1]


def pk_columns(table: str) -> tuple[str, ...]:
    return tables()[table].primary_key


def _pk(table: str, row: Mapping[str, Any]) -> tuple:
    return tuple(row.get(c) for c in pk_columns(table))


def _check_kind(table: str) -> None:
    if table not in KINDS:
        raise ValueError(f"{table!r} is not an editable record type (one of {', '.join(KINDS)})")
