"""One answer for one profile: every section, in the order a clinician reads it, as plain JSON-ready data.

The page, the download and ``python -m kb patient --json`` all show this same dict.
"""

from __future__ import annotations

from typing import Any

import duckdb

from kb.patient.gaps import find_gaps
from kb.patient.guidelines import match_recommendations
from kb.patient.load import KbTables, load_tables
from kb.patient.match import match_imaging, match_schedules, match_signals, match_studies
from kb.patient.profile import Profile, describe

STATEMENT = ("This answer describes the evidence recorded in BrainMets KB that matches the profile. It never "
             "recommends a treatment: decisions belong to the treating team, with the full papers and current "
             "guidelines.")
SECTIONS = ("studies", "dose_schedules", "drug_signals", "recommendations", "imaging", "gaps")
ID_KEYS = {"studies": "study_id", "dose_schedules": "schedule_id", "drug_signals": "signal_id",
           "recommendations": "recommendation_id", "imaging": "imaging_id"}


def evidence(tables: KbTables, profile: Profile) -> dict[str, Any]:
    """The whole answer for ``profile``: studies, dose schedules, drug signals, recommendations, imaging, gaps.

    Every item carries its KB id (``ID_KEYS``) and ``why``; studies and recommendations whose stated population
    excludes the patient come separately (``studies_excluded``, ``recommendations_excluded``) with ``why_not``.
    """
    vocab = tables.vocab
    drugs = [vocab.drugs[d] for d in profile.drug_ids]
    studies, studies_excluded = match_studies(tables, profile, drugs)
    signals = match_signals(tables, profile, drugs)
    recommendations, recommendations_excluded = match_recommendations(tables, profile)
    answer: dict[str, Any] = {
        "profile": {**profile.to_json(), "histology": vocab.histology_name(profile.histology_id),
                    "setting": vocab.setting_name(profile.setting_id) if profile.setting_id else None,
                    "drugs": [d.label for d in drugs], "summary": describe(vocab, profile),
                    "params": profile.to_params()},
        "statement": STATEMENT,
        "release": dict(tables.release),
        "studies": studies,
        "dose_schedules": match_schedules(tables, profile),
        "drug_signals": signals,
        "recommendations": recommendations,
        "imaging": match_imaging(tables, profile, signals),
        "studies_excluded": studies_excluded,
        "recommendations_excluded": recommendations_excluded,
    }
    answer["gaps"] = find_gaps(tables, profile, drugs, answer)
    return answer


def evidence_for(con: duckdb.DuckDBPyConnection, profile: Profile) -> dict[str, Any]:
    """``evidence`` on a fresh read of the KB (the command line; the page caches ``load_tables``)."""
    return evidence(load_tables(con), profile)


def item_ids(answer: dict[str, Any]) -> dict[str, list[str]]:
    """The KB ids per section, in order — what 'the same answer' means when the page and the CLI are compared."""
    return {section: [item[key] for item in answer[section]] for section, key in ID_KEYS.items()}
