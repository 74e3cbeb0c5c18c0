"""Fixtures for the editing tests: a private editor instance per test (store + releases), with three editors.

The editing tests write, so they never use the session instance that the reader tests share: each gets its own
copy of an instance built once from data/, and KB_HOME points at it. Passwords are random per test run.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest
import streamlit as st

from kb import auth
from kb.rebuild import rebuild_store
from kb.store import get_store

PASSWORDS = {name: secrets.token_urlsafe(15) for name in ("alice", "bob", "carol")}


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    """The folder of an instance built from data/ once (store and first release), never written to (copied by
    ``editor_db``)."""
    home = tmp_path_factory.mktemp("editing-template")
    store = get_store(home)
    rebuild_store(store)
    store.close()
    return home


@pytest.fixture
def cheap_scrypt(monkeypatch):
    """Fast hashes for test accounts (the cost is stored in each hash, so sign-in uses the same cost)."""
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)


@pytest.fixture
def editor_db(template_db, tmp_path, monkeypatch, cheap_scrypt) -> Path:
    """A private instance with editors alice, bob and carol; KB_HOME points at it and Streamlit's caches are empty.
    Yields its store file (``.parent.parent`` is the instance folder); close the store before opening it directly."""
    home = tmp_path / "home"
    shutil.copytree(template_db, home)
    for name in ("KB_RELEASES", "KB_READ_ONLY", "KB_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KB_HOME", str(home))
    store = get_store(home)
    with store.held():
        for name, password in PASSWORDS.items():
            auth.add_editor(store, name, password)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield store.path
    store.close()
    st.cache_resource.clear()  # the app's cached connections point at this instance: drop them
    st.cache_data.clear()


def home_of(store_path: Path) -> Path:
    """The instance folder of a store file (``editor_db``)."""
    return Path(store_path).parent.parent


@pytest.fixture
def econ(editor_db):
    """The private instance's editorial store: what kb.edits and kb.auth take as ``con``."""
    store = get_store(home_of(editor_db))
    yield store
    store.close()


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
