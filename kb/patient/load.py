"""The KB tables a patient answer reads, loaded once (a dozen queries) and reused for any profile.

Everything leaves DuckDB here, so this is where "missing" is decided: ``value()`` turns NaN/NA into None and numpy
numbers into plain ones, and every item the answer builds goes through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from kb import queries
from kb.db import query
from kb.patient.vocabulary import Vocabulary, load_vocabulary


@dataclass(frozen=True)
class KbTables:
    vocab: Vocabulary
    studies: pd.DataFrame          # one row per study, with histology_ids, setting_ids, drug_ids lists
    outcomes: pd.DataFrame         # every outcome figure with a readable ``result``
    schedules: pd.DataFrame        # dose schedules with dose per fraction, BED and EQD2 (kb.radiobiology)
    signals: pd.DataFrame          # drug–SRS toxicity signals
    recommendations: pd.DataFrame  # guideline recommendations with their guideline's scope
    imaging: pd.DataFrame
    release: tuple[tuple[str, str], ...] = ()  # kb_meta: the release name and build time, for citing the answer
    key_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # study_id -> its top figures


def _add_columns(frame: pd.DataFrame, extra: pd.DataFrame, key: str) -> pd.DataFrame:
    """``frame`` with the columns of ``extra`` it does not have yet, matched on ``key`` (never a duplicated
    column when kb.queries starts returning one of them)."""
    new = [c for c in extra.columns if c == key or c not in frame.columns]
    return frame.merge(extra[new], on=key, how="left")


def load_tables(con: duckdb.DuckDBPyConnection) -> KbTables:
    """Read every table the answer needs."""
    studies = queries.studies(con, sort="level")
    extra = query(con, "SELECT s.study_id, s.max_volume_cc, s.size_note, p.primary_source_id, "
                       "(SELECT list(DISTINCT a.drug_id ORDER BY a.drug_id) FROM arms a "
                       " WHERE a.study_id = s.study_id AND a.drug_id IS NOT NULL) AS drug_ids FROM studies s "
                       "LEFT JOIN (" + queries.STUDY_PAPER_SQL + ") p USING (study_id)")
    studies = _add_columns(studies, extra, "study_id")
    studies["drug_ids"] = studies["drug_ids"].map(
        lambda v: list(v) if isinstance(v, (list, tuple, np.ndarray)) else [])
    outcomes = queries.study_outcomes(con, tuple(studies["study_id"]))
    schedules = queries.dose_schedules(con, normal_tissue=None)
    schedule_settings = query(con, "SELECT study_id, list(setting_id ORDER BY setting_id) AS study_setting_ids "
                                   "FROM study_settings GROUP BY study_id")
    schedules = _add_columns(schedules, schedule_settings, "study_id")
    schedules["study_setting_ids"] = schedules["study_setting_ids"].map(
        lambda v: list(v) if isinstance(v, (list, tuple, np.ndarray)) else [])
    schedules = _add_columns(schedules, query(con, "SELECT source_id, journal FROM sources"), "source_id")
    signals = queries.drug_toxicity(con)
    recommendations = _add_columns(
        queries.recommendations(con), query(con, "SELECT guideline_id, scope, title AS guideline_title FROM guidelines"),
        "guideline_id")
    recommendations = _add_columns(recommendations, query(con, "SELECT source_id, year AS source_year, journal "
                                                               "FROM sources"), "source_id")
    imaging = queries.imaging(con)
    release = tuple(sorted(queries.release_info(con).items()))
    return KbTables(load_vocabulary(con), studies, outcomes, schedules, signals, recommendations, imaging, release,
                    key_results(outcomes))


KEY_RESULTS_PER_STUDY = 3


def key_results(outcomes: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Up to three figures per study: verified first, between-arm ratios first, then in curation order."""
    ranked = outcomes.assign(
        _v=(outcomes["verification"] != "verified").astype(int),
        _r=(~outcomes["statistic"].isin(queries.RATIO_STATISTICS)).astype(int)).sort_values(
        ["study_id", "_v", "_r", "outcome_id"])
    out: dict[str, list[dict[str, Any]]] = {}
    for r in ranked.itertuples(index=False):
        figures = out.setdefault(r.study_id, [])
        if len(figures) < KEY_RESULTS_PER_STUDY:
            figures.append({"outcome_id": r.outcome_id, "endpoint": value(r.endpoint), "arm": value(r.arm),
                            "comparator": value(r.comparator), "result": value(r.result),
                            "population_note": value(r.population_note), "verification": value(r.verification),
                            "source_id": value(r.source_id)})
    return out


def value(v: Any) -> Any:
    """A cell as plain JSON: None for NaN/NA/blank, int/float for numpy numbers, lists for arrays.

    >>> value(float("nan")), value(np.int64(3)), value(np.float64(2.5)), value(""), value("x")
    (None, 3, 2.5, None, 'x')
    """
    if v is None:
        return None
    if isinstance(v, (list, tuple, np.ndarray)):
        return [value(x) for x in v]
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    if isinstance(v, str) and not v.strip():
        return None
    return v


def source_fields(first_author: Any, year: Any, journal: Any, doi: Any, pmid: Any, source_id: Any,
                  nct_id: Any = None) -> dict[str, Any]:
    """The citation and links of one item (links only for identifiers that are present)."""
    doi, pmid, nct_id = value(doi), value(pmid), value(nct_id)
    links = {k: u for k, u in (("doi", queries.doi_url(doi)), ("pubmed", queries.pubmed_url(pmid)),
                               ("registry", queries.nct_url(nct_id))) if u}
    return {"source_id": value(source_id), "citation": queries.citation_label(value(first_author), value(year),
                                                                            value(journal)),
            "doi": doi, "pmid": pmid, "links": links}
