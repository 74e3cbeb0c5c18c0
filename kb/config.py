"""Paths and the table load order. Nothing here touches the database."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
SCHEMA_PATH = Path(__file__).with_name("schema.sql")
SEED_DIR = Path(os.environ.get("KB_SEEDS") or ROOT.parent / "shared" / "seeds")  # the two seed review texts

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


# ------------------------------------------------------------------------------------------------ where things live
# An editor instance keeps two things under $KB_HOME (default kb_home/ at the repository root, gitignored):
#   editorial/   the editorial store (editorial.duckdb: the working copy, accounts, proposals, audit), its lock and
#                backups — private to the owner (0700 folder, 0600 files)
#   releases/    the published releases readers open read-only: <release id>.duckdb and the pointer CURRENT
# Reader processes only need the releases folder ($KB_RELEASES), which may be shared storage.
DEFAULT_HOME = ROOT / "kb_home"
LEGACY_DB = ROOT / "brainmets.duckdb"   # the single database file of earlier versions; adopted once by `kb build`


def kb_home() -> Path:
    """``$KB_HOME``: the editor instance's folder (store, backups and, by default, releases)."""
    return Path(os.environ.get("KB_HOME") or DEFAULT_HOME)


def releases_dir() -> Path:
    """``$KB_RELEASES``: the folder of published releases (default ``$KB_HOME/releases``)."""
    return Path(os.environ.get("KB_RELEASES") or kb_home() / "releases")


def pinned_db() -> Path | None:
    """``$KB_DB``: one KB file that readers open instead of the current release (e.g. a release bundle's DuckDB
    file, to reproduce the numbers a paper cites). Never written. None when unset."""
    value = os.environ.get("KB_DB")
    return Path(value) if value else None


def read_only() -> bool:
    """``KB_READ_ONLY=1``: a reader process. It never opens the editorial store; editing is disabled."""
    return os.environ.get("KB_READ_ONLY", "").strip().lower() in {"1", "true", "yes"}


def store_wait_seconds() -> float:
    """``$KB_STORE_WAIT``: how long a write waits for another process's write before saying the store is busy."""
    try:
        return max(0.0, float(os.environ.get("KB_STORE_WAIT") or 10))
    except ValueError:
        return 10.0
