"""Every Streamlit cache of the app, in one place.

Readers read published releases (``kb/releases.py``): immutable DuckDB files any number of processes open
read-only. On every rerun ``connection()`` reads the pointer to the current release (a ``stat`` unless it changed)
and returns the cached read-only connection to that release's file, so an accepted edit shows on the next rerun of
every reader, in every process, without a restart.

Every loader is ``@by_release(...)``: ``st.cache_data`` whose connection argument hashes to the release id of the
file it reads (``HASH_FUNCS``). Results of an older release are never served for a newer one, and nothing has to be
cleared after an edit. A new loader takes ``con`` (not ``con``): tests/test_store.py checks it.

The editor page also uses ``editorial_store()``: the editorial store, opened per operation (``kb/store.py``).
"""

from __future__ import annotations

import weakref
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from kb import queries
from kb.config import pinned_db, read_only, releases_dir
from kb.files import DiskFull
from kb.releases import NoRelease, current, open_release, release_id_of
from kb.store import Store, StoreError, get_store

RELEASE_KEY = "kb_release_id"               # session_state: the release this session's last rerun read
# the release id of each connection opened here (weak: a connection Streamlit evicts is forgotten with it)
_RELEASE_IDS: "weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, str]" = weakref.WeakKeyDictionary()


def _release_key(con: duckdb.DuckDBPyConnection) -> str:
    known = _RELEASE_IDS.get(con)
    return known if known else f"{release_id_of(con)}@{id(con)}"


HASH_FUNCS = {duckdb.DuckDBPyConnection: _release_key}


def by_release(**options):
    """``st.cache_data`` keyed by release: use it for every loader that takes the connection (``con``)."""
    return st.cache_data(hash_funcs=HASH_FUNCS, **options)


def connection() -> duckdb.DuckDBPyConnection:
    """The read-only connection to the current release (``$KB_DB`` when pinned).

    An editor instance first gets ready once per process (builds the store from data/ on a fresh clone, publishes
    if the current release is behind). When there is nothing to read yet, or the store cannot be used, the page
    says so in a sentence and stops: a traceback would tell a clinician nothing. Nothing is cached then, so the
    next rerun tries again."""
    try:
        try:
            con = _connection(str(_release_path()))
        except duckdb.IOException:   # pruned between reading the pointer and opening it: read the pointer again
            con = _connection(str(_release_path()))
    except (NoRelease, StoreError, DiskFull) as exc:
        st.error(str(exc), icon=":material/lock:")
        st.stop()
    except duckdb.IOException as exc:
        st.error("The knowledge base file could not be opened for reading. Reload the page in a moment; if it "
                 "persists, tell the administrator.", icon=":material/lock:")
        print(f"opening the release failed: {exc}")
        st.stop()
    st.session_state[RELEASE_KEY] = _RELEASE_IDS.get(con)
    return con


def _release_path() -> Path:
    pinned = pinned_db()
    if pinned is not None:
        return pinned
    if not read_only():
        try:
            _ready(str(get_store().home))
        except (StoreError, DiskFull):
            if current(releases_dir()) is None:
                raise
            # the store is busy (or the disk full): serve the current release; the next rerun tries again
    release = current(releases_dir())
    if release is None or not release.path.exists():
        raise NoRelease(releases_dir())
    return release.path


@st.cache_resource(show_spinner="Preparing the knowledge base…")
def _ready(home: str) -> str:
    """Once per editor process: build the store if needed and publish (kb.rebuild.ensure_ready)."""
    from kb.rebuild import ensure_ready

    return ensure_ready(get_store(home), quiet=True).release_id


@st.cache_resource(show_spinner="Opening the knowledge base…", max_entries=8)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    # one per release file; an old release's connection stays open while a rerun still uses it
    con = open_release(Path(path))
    _RELEASE_IDS[con] = release_id_of(con)
    return con


def current_release_id() -> str | None:
    """The release id the current session's page reads (for file names of downloads)."""
    return st.session_state.get(RELEASE_KEY)


def editorial_store() -> Store:
    """The editorial store (editor page only). It is opened now and lingers, so this rerun's calls share one open;
    when it is busy beyond the wait or the disk is full, the page says so and stops."""
    store = get_store()
    try:
        if not store.exists():
            _ready(str(store.home))
        with store.held():
            pass
    except (StoreError, DiskFull) as exc:
        st.error(str(exc), icon=":material/lock:")
        st.stop()
    return store


# ------------------------------------------------------------------------------------------------ releases
def release_path(con: duckdb.DuckDBPyConnection) -> Path:
    """The file of the release ``con`` reads."""
    cur = con.cursor()
    try:
        return Path(cur.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
                    .fetchone()[0])
    finally:
        cur.close()


def kept_releases() -> dict[str, Path]:
    """Release id -> file of every release kept in the releases folder, newest first (the pinned file alone when
    ``$KB_DB`` is set)."""
    from kb.releases import list_releases

    pinned = pinned_db()
    if pinned is not None:
        return {release_id_of(_connection(str(pinned))): pinned}
    return dict(list_releases(releases_dir()))


@st.cache_data(show_spinner="Writing the release bundle…", max_entries=2)
def bundle_zip(path: str) -> bytes:
    """The zip of a release's bundle (a release file never changes, so its path is its key)."""
    from kb.bundle import bundle_zip as make_zip

    return make_zip(Path(path))


@st.cache_data(show_spinner=False, max_entries=16)
def release_changes(older: str, newer: str) -> pd.DataFrame:
    """What changed between two release files, with the reasons from the audit log."""
    from kb import changes

    return changes.as_frame(changes.between(_connection(older), _connection(newer)))


def clear_data() -> None:
    """Forget cached query results (not needed after an edit: loaders are keyed by release)."""
    st.cache_data.clear()


@by_release(show_spinner=False)
def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return queries.table_counts(con)


@by_release(show_spinner=False)
def verification_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return queries.verification_counts(con)


@by_release(show_spinner=False)
def release_info(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return queries.release_info(con)


@by_release(show_spinner=False)
def source_facets(con: duckdb.DuckDBPyConnection) -> dict:
    return queries.source_facets(con)


@by_release(show_spinner=False, max_entries=256)
def sources(con: duckdb.DuckDBPyConnection, year_min: int | None, year_max: int | None,
            pub_types: tuple[str, ...], journals: tuple[str, ...], text: str) -> pd.DataFrame:
    return queries.sources(con, year_min, year_max, pub_types, journals, text)


# ------------------------------------------------------------------------------------------------ evidence pages
@by_release(show_spinner=False)
def evidence_facets(con: duckdb.DuckDBPyConnection) -> dict:
    return queries.evidence_facets(con)


@by_release(show_spinner=False, max_entries=256)
def studies(con: duckdb.DuckDBPyConnection, filters: queries.StudyFilters, sort: str = "year") -> pd.DataFrame:
    return queries.studies(con, filters, sort)


@by_release(show_spinner=False)
def headline_figures(con: duckdb.DuckDBPyConnection) -> dict:
    return queries.headline_figures(con, queries.studies(con))


@by_release(show_spinner=False, max_entries=128)
def study_detail(con: duckdb.DuckDBPyConnection, study_id: str) -> dict[str, pd.DataFrame]:
    return queries.study_detail(con, study_id)


@by_release(show_spinner=False, max_entries=128)
def endpoint_choices(con: duckdb.DuckDBPyConnection, study_ids: tuple[str, ...]) -> pd.DataFrame:
    return queries.endpoint_choices(con, study_ids)


@by_release(show_spinner=False, max_entries=128)
def comparable_outcomes(con: duckdb.DuckDBPyConnection, study_ids: tuple[str, ...], endpoint_id: str) -> pd.DataFrame:
    return queries.comparable_outcomes(con, study_ids, endpoint_id)


@by_release(show_spinner=False, max_entries=128)
def dose_schedules(con: duckdb.DuckDBPyConnection, categories: tuple[str, ...], settings: tuple[str, ...],
                   diameter_cm: float | None, volume_cc: float | None, verification: tuple[str, ...],
                   normal_tissue: bool | None, keep_unsized: bool = False) -> pd.DataFrame:
    return queries.dose_schedules(con, categories, settings, diameter_cm, volume_cc, verification, normal_tissue,
                                  keep_unsized)


@by_release(show_spinner=False, max_entries=128)
def drug_toxicity(con: duckdb.DuckDBPyConnection, histologies: tuple[str, ...] = (), include_mixed: bool = True,
                  drugs: tuple[str, ...] = (), drug_classes: tuple[str, ...] = (), toxicities: tuple[str, ...] = (),
                  verification: tuple[str, ...] = ()) -> pd.DataFrame:
    return queries.drug_toxicity(con, histologies, include_mixed, drugs, drug_classes, toxicities, verification)


@by_release(show_spinner=False, max_entries=128)
def recommendations(con: duckdb.DuckDBPyConnection, topics: tuple[str, ...] = (), bodies: tuple[str, ...] = (),
                    verification: tuple[str, ...] = (), text: str = "") -> pd.DataFrame:
    return queries.recommendations(con, topics, bodies, verification, text)


@by_release(show_spinner=False)
def guideline_bodies(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return queries.guideline_bodies(con)


@by_release(show_spinner=False, max_entries=128)
def imaging(con: duckdb.DuckDBPyConnection, purposes: tuple[str, ...] = (), kinds: tuple[str, ...] = (),
            verification: tuple[str, ...] = ()) -> pd.DataFrame:
    return queries.imaging(con, purposes, kinds, (), verification)


@by_release(show_spinner=False)
def imaging_facets(con: duckdb.DuckDBPyConnection) -> dict:
    return queries.imaging_facets(con)


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


@by_release(show_spinner=False)
def dashboard_charts(con: duckdb.DuckDBPyConnection) -> dict:
    """Specs of the dashboard's charts and the counts behind them (they never depend on filters)."""
    from kb import charts

    studies_ = queries.studies(con)
    facets = queries.evidence_facets(con)
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


@by_release(show_spinner=False, max_entries=128)
def study_charts(con: duckdb.DuckDBPyConnection, study_id: str) -> dict:
    """Forest and per-arm rate specs of one study's outcomes (None when it has no such figures)."""
    from kb import charts

    from kb.chart_labels import estimate_labels

    outcomes = queries.study_outcomes(con, (study_id,))
    labelled = outcomes.join(estimate_labels(outcomes, across_studies=False))
    return {"forest": None if charts.forest_data(labelled).empty else vega_spec(charts.forest(labelled)),
            "rates": None if charts.rate_data(labelled).empty else vega_spec(charts.arm_rates(labelled))}


@by_release(show_spinner=False, max_entries=128)
def comparison_charts(con: duckdb.DuckDBPyConnection, study_ids: tuple[str, ...], endpoint_id: str) -> dict:
    """Forest and per-arm rate specs for one endpoint across studies, with the counts of what they plot."""
    from kb import charts

    comparable = queries.comparable_outcomes(con, study_ids, endpoint_id)
    ratios, rates = charts.forest_data(comparable), charts.rate_data(comparable)
    return {"n_ratios": len(ratios), "n_rates": len(rates),
            "forest": None if ratios.empty else vega_spec(charts.forest(comparable)),
            "rates": None if rates.empty else vega_spec(charts.arm_rates(comparable))}


@by_release(show_spinner=False, max_entries=128)
def dose_charts(con: duckdb.DuckDBPyConnection, categories: tuple[str, ...], settings: tuple[str, ...],
                diameter_cm: float | None, volume_cc: float | None, verification: tuple[str, ...]) -> dict:
    from kb import charts

    schedules = queries.dose_schedules(con, categories, settings, diameter_cm, volume_cc, verification, False)
    return {size: None if charts.dose_size_data(schedules, size).empty
            else vega_spec(charts.dose_vs_size(schedules, size)) for size in ("diameter", "volume")}


@by_release(show_spinner=False, max_entries=256)
def bed_chart(schedules: tuple[tuple[float, int], ...], alpha_beta_tumour: float, alpha_beta_normal: float) -> dict:
    from kb import charts
    from kb.radiobiology import compare_schedules

    return vega_spec(charts.bed_comparison(compare_schedules(list(schedules), alpha_beta_tumour, alpha_beta_normal)))


@by_release(show_spinner=False, max_entries=128)
def toxicity_charts(con: duckdb.DuckDBPyConnection, histologies: tuple[str, ...], include_mixed: bool,
                    drugs: tuple[str, ...], drug_classes: tuple[str, ...], toxicities: tuple[str, ...],
                    verification: tuple[str, ...]) -> dict:
    from kb import charts

    signals = queries.drug_toxicity(con, histologies, include_mixed, drugs, drug_classes, toxicities, verification)
    if signals.empty:
        return {"matrix": None, "rates": None, "effects": None}
    return {"matrix": vega_spec(charts.toxicity_matrix(signals)),
            "rates": None if charts.toxicity_rate_data(signals).empty else vega_spec(charts.toxicity_rates(signals)),
            "effects": None if charts.toxicity_effect_data(signals).empty
            else vega_spec(charts.toxicity_effects(signals))}


@by_release(show_spinner=False, max_entries=128)
def guideline_chart(con: duckdb.DuckDBPyConnection, topics: tuple[str, ...], bodies: tuple[str, ...],
                    verification: tuple[str, ...], text: str) -> dict | None:
    from kb import charts

    recs = queries.recommendations(con, topics, bodies, verification, text)
    return None if recs.empty else vega_spec(charts.guideline_matrix(recs))


@by_release(show_spinner=False, max_entries=128)
def imaging_chart(con: duckdb.DuckDBPyConnection, purposes: tuple[str, ...], kinds: tuple[str, ...],
                  verification: tuple[str, ...]) -> dict | None:
    from kb import charts

    rows = queries.imaging(con, purposes, kinds, (), verification)
    return None if charts.accuracy_data(rows).empty else vega_spec(charts.imaging_accuracy(rows))


# ------------------------------------------------------------------------------------------------ search
@by_release(show_spinner=False)
def search_corpus(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, tuple[tuple[str, str], ...], str]:
    """The searchable documents, the synonym rows and a fingerprint of both (cleared with the other data)."""
    from kb import search

    documents = search.load_documents(con)
    synonyms = tuple(search.load_synonyms(con))
    fingerprint = str(int(pd.util.hash_pandas_object(documents.astype(str), index=False).sum())) + ":" + str(
        hash(synonyms))
    return documents, synonyms, fingerprint


@st.cache_resource(show_spinner="Indexing the sources…", max_entries=2)
def _search_index(fingerprint: str, _documents: pd.DataFrame, _synonyms: tuple):
    from kb import search

    return search.SearchIndex.build(_documents, _synonyms)


def search_index(con: duckdb.DuckDBPyConnection):
    """The search index (one per process and data version; rebuilt after an edit clears the data caches)."""
    documents, synonyms, fingerprint = search_corpus(con)
    return _search_index(fingerprint, documents, synonyms)


@by_release(show_spinner=False)
def search_facets(con: duckdb.DuckDBPyConnection) -> dict:
    from kb import search

    documents, _, _ = search_corpus(con)
    years = pd.to_numeric(documents["year"], errors="coerce").dropna()
    return {"year_min": int(years.min()), "year_max": int(years.max()),
            "pub_types": queries.source_facets(con)["pub_types"], "histologies": search.histology_choices(con)}


@by_release(show_spinner=False, max_entries=512)
def search_results(con: duckdb.DuckDBPyConnection, query: str, year_min: int | None, year_max: int | None,
                   pub_types: tuple[str, ...], histologies: tuple[str, ...], limit: int) -> list[dict]:
    """Ranked hits as plain dicts for the page (inert Markdown with highlights, links)."""
    from kb import search

    index = search_index(con)
    hits = index.search(query, limit=limit, year_min=year_min, year_max=year_max, pub_types=pub_types,
                        histologies=histologies)
    return [search.hit_view(hit, index.synonyms) for hit in hits]


# ------------------------------------------------------------------------------------------------ patient evidence
@by_release(show_spinner=False)
def patient_vocabulary(con: duckdb.DuckDBPyConnection):
    """Histologies, settings and drugs a profile is read against (kb.patient.Vocabulary)."""
    from kb import patient

    return patient.load_vocabulary(con)


@by_release(show_spinner=False)
def patient_choices(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """The form's choices: histologies (subtypes under their tumour), patient settings, drugs with their names."""
    from kb import patient

    vocab = patient.load_vocabulary(con)
    return patient.histology_choices(vocab), patient.setting_choices(vocab), patient.drug_choices(vocab)


@by_release(show_spinner=False)
def patient_tables(con: duckdb.DuckDBPyConnection):
    """Every table a patient answer reads, loaded once per data version."""
    from kb import patient

    return patient.load_tables(con)


@by_release(show_spinner=False, max_entries=256)
def patient_evidence(con: duckdb.DuckDBPyConnection, profile) -> dict:
    """The whole answer for one profile (kb.patient.evidence) — the same dict the CLI prints as JSON."""
    from kb import patient

    return patient.evidence(patient_tables(con), profile)


@by_release(show_spinner=False, max_entries=256)
def patient_summary(con: duckdb.DuckDBPyConnection, profile, share_url: str | None) -> str:
    """The one-page Markdown summary of that answer, with its citations."""
    from kb.patient.report import render_summary

    return render_summary(patient_evidence(con, profile), share_url)


# ------------------------------------------------------------------------------------------------ gaps
@by_release(show_spinner=False, max_entries=128)
def uncurated_sources(con: duckdb.DuckDBPyConnection, topic: str, drug_ids: tuple[str, ...],
                      drug_classes: tuple[str, ...]) -> pd.DataFrame:
    """Sources on ``topic`` the KB holds without curated figures (kb.gaps)."""
    from kb import gaps

    return gaps.uncurated_sources(con, topic, drug_ids, drug_classes)
