"""Fixtures for the editing tests: a private copy of the built KB per test, with two editor accounts.

The editing tests write, so they never use the session database that the reader tests share: each gets its own
copy of a database built once from data/, and KB_DB points at it. Passwords are random per test run.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import duckdb
import pytest
import streamlit as st

from kb import auth
from kb.build import build

PASSWORDS = {name: secrets.token_urlsafe(15) for name in ("alice", "bob", "carol")}


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """The KB built from data/ once, never written to (copied by ``editor_db``)."""
    path = tmp_path_factory.mktemp("editing-template") / "kb.duckdb"
    build(path)
    return path


@pytest.fixture
def cheap_scrypt(monkeypatch):
    """Fast hashes for test accounts (the cost is stored in each hash, so sign-in uses the same cost)."""
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)


@pytest.fixture
def editor_db(template_db, tmp_path, monkeypatch, cheap_scrypt) -> Path:
    """A private KB with editors alice, bob and carol; KB_DB points at it and Streamlit's caches are empty."""
    path = tmp_path / "kb.duckdb"
    shutil.copy(template_db, path)
    con = duckdb.connect(str(path))
    for name, password in PASSWORDS.items():
        auth.add_editor(con, name, password)
    con.close()
    monkeypatch.setenv("KB_DB", str(path))
    monkeypatch.delenv("KB_READ_ONLY", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield path
    st.cache_resource.clear()  # the app's cached connection points at this file: drop it
    st.cache_data.clear()


@pytest.fixture
def econ(editor_db):
    """A read-write connection to the private KB."""
    con = duckdb.connect(str(editor_db))
    yield con
    con.close()


def new_study(study_id: str = "ed_trial2026") -> dict:
    """Form text for a new two-arm study with an outcome, a histology, a setting and a source."""
    return {
        "studies": [{"study_id": study_id, "short_name": "ED-2026 (test trial)", "design_id": "rct",
                     "randomized": "true", "phase": "3", "n_enrolled": "200", "evidence_level": "2",
                     "verification": "unverified"}],
        "arms": [{"arm_id": f"{study_id}__srs", "label": "SRS", "n_patients": "100", "total_dose_gy": "24",
                  "fractions": "1"},
                 {"arm_id": f"{study_id}__fsrt", "label": "FSRT", "n_patients": "100", "total_dose_gy": "27",
                  "fractions": "3"}],
        "arm_interventions": [{"arm_id": f"{study_id}__srs", "intervention_id": "srs"}],
        "outcomes": [{"outcome_id": f"{study_id}__o1", "arm_id": f"{study_id}__fsrt",
                      "comparator_arm_id": f"{study_id}__srs", "endpoint_id": "local_control",
                      "statistic": "hazard_ratio", "value": "0.7", "unit": "ratio", "ci_low": "0.5",
                      "ci_high": "0.9", "subgroup_id": "whole_cohort", "source_id": "ref028",
                      "verification": "unverified"}],
        "study_histologies": [{"histology_id": "melanoma"}],
        "study_settings": [{"setting_id": "intact"}],
        "study_sources": [{"source_id": "ref028", "role": "primary"}],
    }
