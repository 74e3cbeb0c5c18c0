"""Paths and the table load order. Nothing here touches the database."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
SCHEMA_PATH = Path(__file__).with_name("schema.sql")
SEED_DIR = Path(os.environ.get("KB_SEEDS") or ROOT.parent / "shared" / "seeds")  # the two seed review texts
DEFAULT_DB = ROOT / "brainmets.duckdb"

# data/<table>.csv is loaded in this order (parents before children). Every table of schema.sql is here.
TABLES: tuple[str, ...] = (
    "pub_types", "histologies", "settings", "interventions", "designs", "evidence_levels", "endpoints", "subgroups",
    "toxicities", "drugs", "rec_topics", "imaging_modalities", "synonyms",
    "sources", "source_topics",
    "studies", "study_sources", "study_histologies", "study_settings", "arms", "arm_interventions", "outcomes",
    "guidelines", "recommendations", "dose_schedules", "drug_toxicity", "imaging",
    "audit_log",
)

# Tables whose rows are evidence (they carry verification/verified_in and are counted on Home).
EVIDENCE_TABLES = ("sources", "studies", "outcomes", "guidelines", "recommendations", "dose_schedules",
                   "drug_toxicity", "imaging")


def db_path() -> Path:
    """The DuckDB file: ``$KB_DB`` if set, else ``brainmets.duckdb`` at the repository root (gitignored)."""
    return Path(os.environ.get("KB_DB") or DEFAULT_DB)


def read_only() -> bool:
    """``KB_READ_ONLY=1`` opens the database read-only, so several app processes can serve one file."""
    return os.environ.get("KB_READ_ONLY", "").strip().lower() in {"1", "true", "yes"}
