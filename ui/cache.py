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
    """The app's connection to ``$KB_DB``; builds the database from data/ on first start if it is missing.

    If another process holds the file for writing (DuckDB allows one), the page says so and stops: a traceback
    would tell a clinician nothing. Nothing is cached, so the next rerun tries again.
    """
    try:
        return _connection(str(db_path()))
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        st.error(f"The knowledge base file {db_path()} is in use by another program that is writing to it, so "
                 "this app cannot open it. Close that program (for example a second `make run` or a notebook), "
                 "or start this app as a reader with KB_READ_ONLY=1, then reload the page.",
                 icon=":material/lock:")
        st.stop()


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


# ------------------------------------------------------------------------------------------------ evidence pages
@st.cache_data(show_spinner=False)
def evidence_facets(_con: duckdb.DuckDBPyConnection) -> dict:
    return queries.evidence_facets(_con)


@st.cache_data(show_spinner=False, max_entries=256)
def studies(_con: duckdb.DuckDBPyConnection, filters: queries.StudyFilters, sort: str = "year") -> pd.DataFrame:
    return queries.studies(_con, filters, sort)


@st.cache_data(show_spinner=False)
def headline_figures(_con: duckdb.DuckDBPyConnection) -> dict:
    return queries.headline_figures(_con, queries.studies(_con))


@st.cache_data(show_spinner=False, max_entries=128)
def study_detail(_con: duckdb.DuckDBPyConnection, study_id: str) -> dict[str, pd.DataFrame]:
    return queries.study_detail(_con, study_id)


@st.cache_data(show_spinner=False, max_entries=128)
def endpoint_choices(_con: duckdb.DuckDBPyConnection, study_ids: tuple[str, ...]) -> pd.DataFrame:
    return queries.endpoint_choices(_con, study_ids)


@st.cache_data(show_spinner=False, max_entries=128)
def comparable_outcomes(_con: duckdb.DuckDBPyConnection, study_ids: tuple[str, ...], endpoint_id: str) -> pd.DataFrame:
    return queries.comparable_outcomes(_con, study_ids, endpoint_id)


@st.cache_data(show_spinner=False, max_entries=128)
def dose_schedules(_con: duckdb.DuckDBPyConnection, categories: tuple[str, ...], settings: tuple[str, ...],
                   diameter_cm: float | None, volume_cc: float | None, verification: tuple[str, ...],
                   normal_tissue: bool | None) -> pd.DataFrame:
    return queries.dose_schedules(_con, categories, settings, diameter_cm, volume_cc, verification, normal_tissue)


@st.cache_data(show_spinner=False, max_entries=128)
def drug_toxicity(_con: duckdb.DuckDBPyConnection, histologies: tuple[str, ...] = (), include_mixed: bool = True,
                  drugs: tuple[str, ...] = (), drug_classes: tuple[str, ...] = (), toxicities: tuple[str, ...] = (),
                  verification: tuple[str, ...] = ()) -> pd.DataFrame:
    return queries.drug_toxicity(_con, histologies, include_mixed, drugs, drug_classes, toxicities, verification)


@st.cache_data(show_spinner=False, max_entries=128)
def recommendations(_con: duckdb.DuckDBPyConnection, topics: tuple[str, ...] = (), bodies: tuple[str, ...] = (),
                    verification: tuple[str, ...] = (), text: str = "") -> pd.DataFrame:
    return queries.recommendations(_con, topics, bodies, verification, text)


@st.cache_data(show_spinner=False)
def guideline_bodies(_con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return queries.guideline_bodies(_con)


@st.cache_data(show_spinner=False, max_entries=128)
def imaging(_con: duckdb.DuckDBPyConnection, purposes: tuple[str, ...] = (), kinds: tuple[str, ...] = (),
            verification: tuple[str, ...] = ()) -> pd.DataFrame:
    return queries.imaging(_con, purposes, kinds, (), verification)


@st.cache_data(show_spinner=False)
def imaging_facets(_con: duckdb.DuckDBPyConnection) -> dict:
    return queries.imaging_facets(_con)


# ------------------------------------------------------------------------------------------------ chart specs
# Building an Altair chart and validating it costs 10–60 ms; a page with four charts would spend most of its rerun
# there. So the evidence pages cache the finished Vega-Lite spec per query arguments and draw it with
# st.vega_lite_chart (kb.charts stays the one place charts are defined and tested).
def vega_spec(chart) -> dict:
    """The Vega-Lite spec of an Altair chart, sized for Streamlit: without Altair's default 300 px view, and with
    autosize fit-x (the chart fills the column's width; its height is the plotting area, so axes and legends are
    added to it rather than squeezed out of it — Streamlit's default 'fit' squeezes them)."""
    spec = chart.to_dict()
    config = spec.get("config", {})
    config.pop("view", None)
    if not config:
        spec.pop("config", None)
    spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
    return spec


@st.cache_data(show_spinner=False)
def dashboard_charts(_con: duckdb.DuckDBPyConnection) -> dict:
    """Specs of the dashboard's charts and the counts behind them (they never depend on filters)."""
    from kb import charts

    studies_ = queries.studies(_con)
    facets = queries.evidence_facets(_con)
    by_histology = queries.count_by(studies_, "histology_ids", facets["histologies"])
    by_setting = queries.count_by(studies_, "setting_ids", facets["settings"])
    landmark = queries.is_landmark(studies_)
    return {
        "year": vega_spec(charts.studies_by_year(studies_)),
        "randomized": vega_spec(charts.randomized_split(studies_)),
        "setting": vega_spec(charts.studies_by_category(by_setting, "Setting")),
        "histology": vega_spec(charts.studies_by_category(by_histology, "Histology")),
        "landmark": vega_spec(charts.landmark_timeline(studies_, landmark)),
        "by_histology": by_histology, "by_setting": by_setting,
    }


@st.cache_data(show_spinner=False, max_entries=128)
def study_charts(_con: duckdb.DuckDBPyConnection, study_id: str) -> dict:
    """Forest and per-arm rate specs of one study's outcomes (None when it has no such figures)."""
    from kb import charts

    from kb.chart_labels import estimate_labels

    outcomes = queries.study_outcomes(_con, (study_id,))
    labelled = outcomes.join(estimate_labels(outcomes, across_studies=False))
    return {"forest": None if charts.forest_data(labelled).empty else vega_spec(charts.forest(labelled)),
            "rates": None if charts.rate_data(labelled).empty else vega_spec(charts.arm_rates(labelled))}


@st.cache_data(show_spinner=False, max_entries=128)
def comparison_charts(_con: duckdb.DuckDBPyConnection, study_ids: tuple[str, ...], endpoint_id: str) -> dict:
    """Forest and per-arm rate specs for one endpoint across studies, with the counts of what they plot."""
    from kb import charts

    comparable = queries.comparable_outcomes(_con, study_ids, endpoint_id)
    ratios, rates = charts.forest_data(comparable), charts.rate_data(comparable)
    return {"n_ratios": len(ratios), "n_rates": len(rates),
            "forest": None if ratios.empty else vega_spec(charts.forest(comparable)),
            "rates": None if rates.empty else vega_spec(charts.arm_rates(comparable))}


@st.cache_data(show_spinner=False, max_entries=128)
def dose_charts(_con: duckdb.DuckDBPyConnection, categories: tuple[str, ...], settings: tuple[str, ...],
                diameter_cm: float | None, volume_cc: float | None, verification: tuple[str, ...]) -> dict:
    from kb import charts

    schedules = queries.dose_schedules(_con, categories, settings, diameter_cm, volume_cc, verification, False)
    return {size: None if charts.dose_size_data(schedules, size).empty
            else vega_spec(charts.dose_vs_size(schedules, size)) for size in ("diameter", "volume")}


@st.cache_data(show_spinner=False, max_entries=256)
def bed_chart(schedules: tuple[tuple[float, int], ...], alpha_beta_tumour: float, alpha_beta_normal: float) -> dict:
    from kb import charts
    from kb.radiobiology import compare_schedules

    return vega_spec(charts.bed_comparison(compare_schedules(list(schedules), alpha_beta_tumour, alpha_beta_normal)))


@st.cache_data(show_spinner=False, max_entries=128)
def toxicity_charts(_con: duckdb.DuckDBPyConnection, histologies: tuple[str, ...], include_mixed: bool,
                    drugs: tuple[str, ...], drug_classes: tuple[str, ...], toxicities: tuple[str, ...],
                    verification: tuple[str, ...]) -> dict:
    from kb import charts

    signals = queries.drug_toxicity(_con, histologies, include_mixed, drugs, drug_classes, toxicities, verification)
    if signals.empty:
        return {"matrix": None, "rates": None, "effects": None}
    return {"matrix": vega_spec(charts.toxicity_matrix(signals)),
            "rates": None if charts.toxicity_rate_data(signals).empty else vega_spec(charts.toxicity_rates(signals)),
            "effects": None if charts.toxicity_effect_data(signals).empty
            else vega_spec(charts.toxicity_effects(signals))}


@st.cache_data(show_spinner=False, max_entries=128)
def guideline_chart(_con: duckdb.DuckDBPyConnection, topics: tuple[str, ...], bodies: tuple[str, ...],
                    verification: tuple[str, ...], text: str) -> dict | None:
    from kb import charts

    recs = queries.recommendations(_con, topics, bodies, verification, text)
    return None if recs.empty else vega_spec(charts.guideline_matrix(recs))


@st.cache_data(show_spinner=False, max_entries=128)
def imaging_chart(_con: duckdb.DuckDBPyConnection, purposes: tuple[str, ...], kinds: tuple[str, ...],
                  verification: tuple[str, ...]) -> dict | None:
    from kb import charts

    rows = queries.imaging(_con, purposes, kinds, (), verification)
    return None if charts.accuracy_data(rows).empty else vega_spec(charts.imaging_accuracy(rows))


# ------------------------------------------------------------------------------------------------ search
@st.cache_data(show_spinner=False)
def search_corpus(_con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, tuple[tuple[str, str], ...], str]:
    """The searchable documents, the synonym rows and a fingerprint of both (cleared with the other data)."""
    from kb import search

    documents = search.load_documents(_con)
    synonyms = tuple(search.load_synonyms(_con))
    fingerprint = str(int(pd.util.hash_pandas_object(documents.astype(str), index=False).sum())) + ":" + str(
        hash(synonyms))
    return documents, synonyms, fingerprint


@st.cache_resource(show_spinner="Indexing the sources…", max_entries=2)
def _search_index(fingerprint: str, _documents: pd.DataFrame, _synonyms: tuple):
    from kb import search

    return search.SearchIndex.build(_documents, _synonyms)


def search_index(_con: duckdb.DuckDBPyConnection):
    """The search index (one per process and data version; rebuilt after an edit clears the data caches)."""
    documents, synonyms, fingerprint = search_corpus(_con)
    return _search_index(fingerprint, documents, synonyms)


@st.cache_data(show_spinner=False)
def search_facets(_con: duckdb.DuckDBPyConnection) -> dict:
    from kb import search

    documents, _, _ = search_corpus(_con)
    years = pd.to_numeric(documents["year"], errors="coerce").dropna()
    return {"year_min": int(years.min()), "year_max": int(years.max()),
            "pub_types": queries.source_facets(_con)["pub_types"], "histologies": search.histology_choices(_con)}


@st.cache_data(show_spinner=False, max_entries=512)
def search_results(_con: duckdb.DuckDBPyConnection, query: str, year_min: int | None, year_max: int | None,
                   pub_types: tuple[str, ...], histologies: tuple[str, ...], limit: int) -> list[dict]:
    """Ranked hits as plain dicts for the page (inert Markdown with highlights, links)."""
    from kb import search

    index = search_index(_con)
    hits = index.search(query, limit=limit, year_min=year_min, year_max=year_max, pub_types=pub_types,
                        histologies=histologies)
    return [search.hit_view(hit, index.synonyms) for hit in hits]
