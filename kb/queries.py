"""Read queries behind the pages. Pure functions of a connection and plain arguments; always parameterized.

Filters are built as (clause, params) pairs so the SQL text never contains a user's value (Datasette's
``Filters.build_where_clauses`` is the model). Each function returns a DataFrame ready to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import duckdb
import numpy as np
import pandas as pd

from kb.chart_labels import estimate_labels
from kb.config import EVIDENCE_TABLES
from kb.db import query, scalar
from kb.links import doi_url, nct_url, pubmed_url, read_in_url  # noqa: F401 (the pages' link builders)
from kb.radiobiology import with_bed


@dataclass
class Where:
    """Collects SQL conditions and their parameters.

    >>> w = Where(); w.add("year >= ?", 2010); w.add_in("pub_type", ["guideline"]); w.sql()
    ' WHERE year >= ? AND pub_type IN (?)'
    >>> w.params
    [2010, 'guideline']
    """

    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def add_in(self, column: str, values: Sequence[Any]) -> None:
        """``column IN (?, ?, …)`` for a non-empty list; an empty list adds nothing (no filter)."""
        values = list(values)
        if values:
            self.add(column + " IN (" + ", ".join("?" * len(values)) + ")", *values)

    def add_text(self, columns: Sequence[str], text: str | None) -> None:
        """Every word of ``text`` must appear (case-insensitive) in one of ``columns``."""
        for word in (text or "").split()[:20]:
            pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            self.add("(" + " OR ".join("coalesce(" + c + ", '') ILIKE ? ESCAPE '\\'" for c in columns) + ")",
                     *([pattern] * len(columns)))

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


# ------------------------------------------------------------------------------------------------ overview
def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per evidence table, e.g. {'sources': 265, 'studies': 96, ...}."""
    sql = " UNION ALL ".join("SELECT ? AS t, count(*) AS n FROM " + t for t in EVIDENCE_TABLES)
    frame = query(con, sql, list(EVIDENCE_TABLES))
    return dict(zip(frame["t"], frame["n"].astype(int)))


def verification_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Rows per table and verification status (verified / secondary / unverified)."""
    sql = " UNION ALL ".join(
        "SELECT ? AS table_name, verification, count(*) AS n FROM " + t + " GROUP BY verification"
        for t in EVIDENCE_TABLES)
    return query(con, sql + " ORDER BY table_name, verification", list(EVIDENCE_TABLES))


def release_info(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The release name and build time recorded by ``kb build``."""
    frame = query(con, "SELECT key, value FROM kb_meta")
    return dict(zip(frame["key"], frame["value"]))


# ------------------------------------------------------------------------------------------------ sources
SOURCE_COLUMNS = ("source_id", "ref_number", "first_author", "year", "title", "journal", "volume", "pages", "doi",
                  "pmid", "pub_type", "verification", "note")


def sources(con: duckdb.DuckDBPyConnection, year_min: int | None = None, year_max: int | None = None,
            pub_types: Sequence[str] = (), journals: Sequence[str] = (), text: str | None = None) -> pd.DataFrame:
    """The bibliography, filtered. ``text`` matches every word in authors, title, journal, DOI or PMID.

    Ordered by reference number (the review's citation order), then editor-added sources by year.
    """
    where = Where()
    if year_min is not None:
        where.add("year >= ?", int(year_min))
    if year_max is not None:
        where.add("year <= ?", int(year_max))
    where.add_in("pub_type", pub_types)
    where.add_in("journal", journals)
    where.add_text(("authors", "title", "journal", "doi", "pmid", "source_id", "CAST(year AS VARCHAR)"), text)
    sql = ("SELECT " + ", ".join(SOURCE_COLUMNS) + ", authors FROM sources" + where.sql()
           + " ORDER BY ref_number NULLS LAST, year, source_id")
    return query(con, sql, where.params)


def source_facets(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Choices for the Sources filters: year range, publication types, journals (most frequent first)."""
    years = query(con, "SELECT min(year) AS lo, max(year) AS hi FROM sources").iloc[0]
    types = query(con, "SELECT p.pub_type, p.name, count(s.source_id) AS n FROM pub_types p "
                       "LEFT JOIN sources s USING (pub_type) GROUP BY ALL ORDER BY n DESC")
    journals = query(con, "SELECT journal, count(*) AS n FROM sources WHERE journal IS NOT NULL "
                          "GROUP BY journal ORDER BY n DESC, journal")
    return {"year_min": int(years["lo"]), "year_max": int(years["hi"]),
            "pub_types": dict(zip(types["pub_type"], types["name"])), "journals": journals["journal"].tolist()}


def count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    if table not in EVIDENCE_TABLES:
        raise ValueError(f"unknown table {table!r}")
    return int(scalar(con, "SELECT count(*) FROM " + table))


# ------------------------------------------------------------------------------------------------ shared pieces
VERIFICATION_LEVELS = ("verified", "secondary", "unverified")


def verification_tally(values: Sequence[str | None]) -> str:
    """How many of the shown rows are verified, in words.

    >>> verification_tally(["verified", "verified", "secondary"])
    '2 of 3 verified · 1 secondary · 0 unverified'
    """
    values = list(values)
    n = {level: sum(1 for v in values if v == level) for level in VERIFICATION_LEVELS}
    return (f"{n['verified']} of {len(values)} verified · {n['secondary']} secondary · "
            f"{n['unverified']} unverified")


def citation_label(first_author: str | None, year: Any, journal: str | None = None) -> str:
    """A short citation: 'Brown 2016, JAMA'.

    >>> citation_label("Brown PD", 2016, "JAMA")
    'Brown 2016, JAMA'
    >>> citation_label(None, None)
    'source without author'
    """
    text = "" if first_author is None or pd.isna(first_author) else str(first_author)
    author = text.split(" ")[0].rstrip(",") or None
    year_text = str(int(year)) if year is not None and not pd.isna(year) else None
    head = " ".join(x for x in (author, year_text) if x) or "source without author"
    return head + (", " + str(journal) if journal is not None and not pd.isna(journal) else "")


def with_read_in(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``read_in``: where each row's figure was read — the page in its ``verified_in``, else its source's DOI,
    PubMed record or verification page, else the source's record in the bibliography (kb.links decides)."""
    def column(name: str) -> Any:
        return frame[name] if name in frame else [None] * len(frame)

    frame["read_in"] = [read_in_url(*values) for values in zip(
        column("verified_in"), column("doi"), column("pmid"), column("source_verified_in"), column("source_id"))]
    return frame


def label_drug_class(drug_class: str) -> str:
    """'immune_checkpoint_inhibitor' -> 'Immune checkpoint inhibitor'.

    >>> label_drug_class("her2_tki")
    'HER2 TKI'
    """
    words = drug_class.split("=")[-1].replace("_", " ").split()
    upper = {"her2", "tki", "egfr", "alk", "ros1", "ret", "braf", "mek", "vegfr", "vegf"}
    text = " ".join(w.upper() if w in upper else w for w in words)
    return text[:1].upper() + text[1:]


def _expand_histologies(con: duckdb.DuckDBPyConnection, histologies: Sequence[str], up: bool = False) -> list[str]:
    """The chosen histologies plus their subtypes (``parent_id``) — and their parents when ``up``."""
    chosen = [h for h in histologies if h]
    if not chosen:
        return []
    marks = ", ".join("?" * len(chosen))
    sql = "SELECT histology_id FROM histologies WHERE histology_id IN (" + marks + ") OR parent_id IN (" + marks + ")"
    params: list[Any] = chosen + chosen
    if up:
        sql += " OR histology_id IN (SELECT parent_id FROM histologies WHERE histology_id IN (" + marks + "))"
        params += chosen
    # unknown ids stay in the list, so they match nothing rather than silently dropping the filter
    return sorted(set(query(con, sql, params)["histology_id"]) | set(chosen))


# ------------------------------------------------------------------------------------------------ studies
# The year a study is dated by: its primary paper's year, else the earliest linked paper. Its citation: the primary
# paper, else the earliest one.
STUDY_PAPER_SQL = (
    "SELECT ss.study_id, "
    "coalesce(min(so.year) FILTER (WHERE ss.role = 'primary'), min(so.year)) AS year, "
    "first(ss.source_id ORDER BY ss.role <> 'primary', so.year, ss.source_id) AS primary_source_id "
    "FROM study_sources ss JOIN sources so USING (source_id) GROUP BY ss.study_id"
)

STUDY_SORTS = {
    "year": "p.year DESC NULLS LAST, s.short_name",
    "oldest": "p.year NULLS LAST, s.short_name",
    "name": "s.short_name",
    "enrolled": "s.n_enrolled DESC NULLS LAST, s.short_name",
    "level": "s.evidence_level NULLS LAST, p.year DESC NULLS LAST, s.short_name",
}


@dataclass(frozen=True)
class StudyFilters:
    """The explorer's filters. Empty tuples and None mean 'no filter'. Hashable, so it can key a cache."""

    histologies: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    metastases: int | None = None          # the patient's number of metastases: studies whose eligibility covers it
    lesion_cm: float | None = None         # the patient's largest lesion (cm): studies whose size limit allows it
    keep_unrecorded: bool = True           # keep studies that record no eligibility for these (shown as such)
    designs: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    randomized: bool | None = None
    interventions: tuple[str, ...] = ()
    drugs: tuple[str, ...] = ()
    drug_classes: tuple[str, ...] = ()
    endpoints: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    verification: tuple[str, ...] = ()
    text: str = ""
    study_ids: tuple[str, ...] = ()


def study_where(con: duckdb.DuckDBPyConnection, f: StudyFilters) -> Where:
    """The WHERE clause for ``f`` over ``studies s`` joined to the paper subquery ``p``.

    A histology matches its subtypes too (melanoma finds COMBI-MB, coded melanoma BRAF V600).
    """
    where = Where()
    histologies = _expand_histologies(con, f.histologies)
    if histologies:
        where.add("s.study_id IN (SELECT study_id FROM study_histologies WHERE histology_id IN ("
                  + ", ".join("?" * len(histologies)) + "))", *histologies)
    if f.settings:
        where.add("s.study_id IN (SELECT study_id FROM study_settings WHERE setting_id IN ("
                  + ", ".join("?" * len(f.settings)) + "))", *f.settings)
    # Eligibility that a study does not record is unknown, not "excluded": such studies stay (the page marks them)
    # unless the reader asks to hide them.
    def eligible(unrecorded: str, covers: str) -> str:
        return f"(({unrecorded}) OR ({covers}))" if f.keep_unrecorded else f"(NOT ({unrecorded}) AND ({covers}))"

    if f.metastases is not None:
        where.add(eligible("s.mets_min IS NULL AND s.mets_max IS NULL",
                           "coalesce(s.mets_min, 1) <= ? AND (s.mets_max IS NULL OR s.mets_max >= ?)"),
                  int(f.metastases), int(f.metastases))
    if f.lesion_cm is not None:
        where.add(eligible("s.max_diameter_cm IS NULL", "s.max_diameter_cm >= ?"), float(f.lesion_cm))
    where.add_in("s.design_id", f.designs)
    where.add_in("s.phase", f.phases)
    if f.randomized is not None:
        where.add("s.randomized = ?", bool(f.randomized))
    if f.interventions:
        where.add("s.study_id IN (SELECT a.study_id FROM arms a JOIN arm_interventions ai USING (arm_id) "
                  "WHERE ai.intervention_id IN (" + ", ".join("?" * len(f.interventions)) + "))", *f.interventions)
    if f.drugs:
        where.add("s.study_id IN (SELECT study_id FROM arms WHERE drug_id IN ("
                  + ", ".join("?" * len(f.drugs)) + "))", *f.drugs)
    if f.drug_classes:
        where.add("s.study_id IN (SELECT a.study_id FROM arms a JOIN drugs d USING (drug_id) WHERE d.drug_class IN ("
                  + ", ".join("?" * len(f.drug_classes)) + "))", *f.drug_classes)
    if f.endpoints:
        where.add("s.study_id IN (SELECT study_id FROM outcomes WHERE endpoint_id IN ("
                  + ", ".join("?" * len(f.endpoints)) + "))", *f.endpoints)
    if f.year_min is not None:
        where.add("p.year >= ?", int(f.year_min))
    if f.year_max is not None:
        where.add("p.year <= ?", int(f.year_max))
    where.add_in("s.verification", f.verification)
    where.add_in("s.study_id", f.study_ids)
    where.add_text(("s.short_name", "s.aliases", "s.nct_id", "s.key_result", "s.primary_endpoint"), f.text)
    return where


STUDY_LIST_SQL = (
    "SELECT s.study_id, s.short_name, p.year, d.name AS design, s.design_id, s.phase, s.randomized, s.status, "
    "(SELECT string_agg(h.name, '; ' ORDER BY h.name) FROM study_histologies sh JOIN histologies h "
    "  USING (histology_id) WHERE sh.study_id = s.study_id) AS histologies, "
    "(SELECT list(sh.histology_id ORDER BY sh.histology_id) FROM study_histologies sh "
    "  WHERE sh.study_id = s.study_id) AS histology_ids, "
    "(SELECT string_agg(st.name, '; ' ORDER BY st.name) FROM study_settings ss JOIN settings st "
    "  USING (setting_id) WHERE ss.study_id = s.study_id) AS settings, "
    "(SELECT list(ss.setting_id ORDER BY ss.setting_id) FROM study_settings ss "
    "  WHERE ss.study_id = s.study_id) AS setting_ids, "
    "(SELECT string_agg(DISTINCT ai.intervention_id, '; ' ORDER BY ai.intervention_id) FROM arms a "
    "  JOIN arm_interventions ai USING (arm_id) WHERE a.study_id = s.study_id) AS interventions, "
    "(SELECT string_agg(DISTINCT dr.name, '; ' ORDER BY dr.name) FROM arms a JOIN drugs dr USING (drug_id) "
    "  WHERE a.study_id = s.study_id) AS drugs, "
    "s.n_enrolled, s.mets_min, s.mets_max, s.max_diameter_cm, s.primary_endpoint, s.key_result, s.evidence_level, "
    "(SELECT count(*) FROM outcomes o WHERE o.study_id = s.study_id) AS n_outcomes, "
    "(SELECT count(*) FROM outcomes o WHERE o.study_id = s.study_id AND o.verification = 'verified') "
    "  AS n_outcomes_verified, "
    "(s.mets_min IS NOT NULL OR s.mets_max IS NOT NULL) AS mets_recorded, s.max_diameter_cm IS NOT NULL AS "
    "size_recorded, s.verification, s.verified_in, s.nct_id, p.primary_source_id AS source_id, src.first_author, "
    "src.journal, src.doi, src.pmid, src.verified_in AS source_verified_in "
    "FROM studies s JOIN designs d USING (design_id) "
    "LEFT JOIN (" + STUDY_PAPER_SQL + ") p USING (study_id) "
    "LEFT JOIN sources src ON src.source_id = p.primary_source_id"
)


def studies(con: duckdb.DuckDBPyConnection, filters: StudyFilters = StudyFilters(),
            sort: str = "year") -> pd.DataFrame:
    """One row per study matching ``filters``, with its histologies, settings, interventions, drugs, outcome
    counts and primary citation — one query, however many studies.

    Example: ``studies(con, StudyFilters(histologies=("melanoma",), settings=("systemic_only",)))`` lists
    CheckMate 204 and ABC among others.
    """
    if sort not in STUDY_SORTS:
        raise ValueError(f"unknown sort {sort!r}; use one of {', '.join(STUDY_SORTS)}")
    where = study_where(con, filters)
    frame = query(con, STUDY_LIST_SQL + where.sql() + " ORDER BY " + STUDY_SORTS[sort], where.params)
    for column in ("histology_ids", "setting_ids"):
        frame[column] = frame[column].map(lambda v: list(v) if isinstance(v, (list, tuple, np.ndarray)) else [])
    return with_read_in(frame)


def evidence_facets(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Choices for the evidence filters, each an ordered {id: label} dict, plus the year range of studies."""
    def pairs(sql: str) -> dict[str, str]:
        frame = query(con, sql)
        return dict(zip(frame.iloc[:, 0].astype(str), frame.iloc[:, 1].astype(str)))

    years = query(con, "SELECT min(year) AS lo, max(year) AS hi FROM (" + STUDY_PAPER_SQL + ")").iloc[0]
    classes = query(con, "SELECT DISTINCT drug_class FROM drugs ORDER BY drug_class")["drug_class"].tolist()
    return {
        # Subtypes listed right after their parent, so the list reads as a tree.
        "histologies": pairs("SELECT h.histology_id, CASE WHEN h.parent_id IS NULL THEN h.name "
                             "ELSE '↳ ' || h.name END FROM histologies h "
                             "LEFT JOIN histologies p ON p.histology_id = h.parent_id "
                             "ORDER BY coalesce(p.name, h.name), h.parent_id IS NOT NULL, h.name"),
        "settings": pairs("SELECT setting_id, name FROM settings ORDER BY name"),
        "designs": pairs("SELECT design_id, name FROM designs ORDER BY randomized_default DESC, name"),
        "phases": pairs("SELECT DISTINCT phase, 'Phase ' || phase FROM studies WHERE phase IS NOT NULL "
                        "ORDER BY phase"),
        "interventions": pairs("SELECT intervention_id, name FROM interventions ORDER BY kind <> 'radiation', name"),
        "drugs": drug_choices(con),
        "drug_lookup": drug_lookup(con),
        "drug_classes": {c: label_drug_class(c) for c in classes},
        "endpoints": pairs("SELECT e.endpoint_id, e.name FROM endpoints e WHERE EXISTS "
                           "(SELECT 1 FROM outcomes o WHERE o.endpoint_id = e.endpoint_id) ORDER BY e.name"),
        "toxicities": pairs("SELECT toxicity, name FROM toxicities ORDER BY name"),
        "topics": pairs("SELECT topic_id, name FROM rec_topics ORDER BY name"),
        "verification": {v: v.capitalize() for v in VERIFICATION_LEVELS},
        "year_min": int(years["lo"]) if not pd.isna(years["lo"]) else 1990,
        "year_max": int(years["hi"]) if not pd.isna(years["hi"]) else 2030,
    }


# ------------------------------------------------------------------------------------------------ drug names
def name_key(text: Any) -> str:
    """How a typed drug name is compared: lower case, letters and digits only ('T-DM1' and 'tdm1' match).

    >>> name_key(" T-DM1 "), name_key("Ado-Trastuzumab emtansine")
    ('tdm1', 'adotrastuzumabemtansine')
    """
    return "" if text is None or (isinstance(text, float) and pd.isna(text)) else "".join(
        ch for ch in str(text).casefold() if ch.isalnum())


def _drug_rows(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return query(con, "SELECT drug_id, name, abbreviations FROM drugs ORDER BY lower(name)")


def _aliases(abbreviations: Any) -> list[str]:
    if abbreviations is None or (isinstance(abbreviations, float) and pd.isna(abbreviations)):
        return []
    return [a.strip() for a in str(abbreviations).split(";") if a.strip()]


def drug_choices(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{drug_id: label} with every name data/drugs.csv gives the drug — generic name, abbreviations, brands — so a
    filter's type-to-search finds it by any of them: 'trastuzumab emtansine (T-DM1, ado-trastuzumab emtansine,
    Kadcyla)'. Alphabetical by generic name."""
    return {r.drug_id: r.name + (f" ({', '.join(_aliases(r.abbreviations))})" if _aliases(r.abbreviations) else "")
            for r in _drug_rows(con).itertuples(index=False)}


def drug_lookup(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, ...]]:
    """{name_key(any name of a drug): drug_ids}, for links such as ?drug=T-DM1 or ?drug=Kadcyla. A name several
    records carry ('anti-PD-1' for nivolumab and pembrolizumab; 'vemurafenib' for the drug and for the BRAF
    inhibitor class row) stands for all of them."""
    lookup: dict[str, tuple[str, ...]] = {}
    for r in _drug_rows(con).itertuples(index=False):
        for name in dict.fromkeys(name_key(n) for n in [r.drug_id, r.name, *_aliases(r.abbreviations)]):
            lookup[name] = lookup.get(name, ()) + (r.drug_id,)
    return lookup


def resolve_names(values: Sequence[str], lookup: dict[str, tuple[str, ...]]) -> list[str]:
    """The ids behind names typed or linked in any of their forms; unknown names are dropped, order kept.

    >>> resolve_names(["T-DM1", "kadcyla", "anti-PD-1", "aspirin"], {"tdm1": ("tdm1_id",), "kadcyla": ("tdm1_id",),
    ...                                                             "antipd1": ("nivo_id", "pembro_id")})
    ['tdm1_id', 'nivo_id', 'pembro_id']
    """
    return list(dict.fromkeys(i for v in values for i in lookup.get(name_key(v), ())))


def study_detail(con: duckdb.DuckDBPyConnection, study_id: str) -> dict[str, pd.DataFrame]:
    """Everything the explorer shows for one study: the study row, arms, outcomes, citations, toxicity signals.

    A handful of queries for the one selected study (never one per table row). Empty frames when it is unknown.
    """
    study = query(con, STUDY_LIST_SQL + " WHERE s.study_id = ?", [study_id])
    extra = query(con, "SELECT s.study_id, s.aliases, s.enrol_start_year, s.enrol_end_year, s.n_analysed, "
                       "s.max_volume_cc, s.size_note, s.note, e.name AS evidence_level_name, "
                       "e.description AS evidence_level_description FROM studies s "
                       "LEFT JOIN evidence_levels e USING (evidence_level) WHERE s.study_id = ?", [study_id])
    if not study.empty:
        study = study.merge(extra, on="study_id", how="left")
    arms = query(con, "SELECT a.arm_id, a.label, a.n_patients, a.total_dose_gy, a.fractions, dr.name AS drug, "
                      "(SELECT string_agg(i.name, '; ' ORDER BY i.name) FROM arm_interventions ai "
                      " JOIN interventions i USING (intervention_id) WHERE ai.arm_id = a.arm_id) AS interventions, "
                      "a.description FROM arms a LEFT JOIN drugs dr USING (drug_id) WHERE a.study_id = ? "
                      "ORDER BY a.arm_id", [study_id])
    outcomes = study_outcomes(con, (study_id,))
    citations = query(con, "SELECT ss.role, so.source_id, so.ref_number, so.first_author, so.year, so.title, "
                           "so.journal, so.volume, so.pages, so.doi, so.pmid, so.verification FROM study_sources ss "
                           "JOIN sources so USING (source_id) WHERE ss.study_id = ? "
                           "ORDER BY ss.role <> 'primary', so.year, so.source_id", [study_id])
    toxicity = drug_toxicity(con, study_ids=(study_id,))
    return {"study": study, "arms": arms, "outcomes": outcomes, "citations": citations, "toxicity": toxicity}


OUTCOME_SQL = (
    "SELECT o.outcome_id, o.study_id, s.short_name, o.endpoint_id, e.name AS endpoint, o.statistic, o.value, "
    "o.unit, o.timepoint_months, o.ci_low, o.ci_high, o.p_value, o.n_evaluated, o.population_note, "
    # what tells two figures of one arm and endpoint apart (kb.chart_labels.subgroup): the named subgroup (not
    # 'whole cohort'), the measure within the endpoint, and a unit of analysis other than patients
    "nullif(concat_ws(' · ', CASE WHEN o.subgroup_id <> 'whole_cohort' THEN sg.name END, o.endpoint_detail, "
    "CASE o.unit_of_analysis WHEN 'lesions' THEN 'per lesion' WHEN 'treatments' THEN 'per treatment' END), '') "
    "AS subgroup, CASE WHEN o.subgroup_id = 'whole_cohort' THEN 'Whole cohort' ELSE sg.name END "
    "|| CASE o.unit_of_analysis WHEN 'lesions' THEN ' (per lesion)' WHEN 'treatments' THEN ' (per treatment)' "
    "ELSE '' END AS population, o.subgroup_id, o.endpoint_detail, o.unit_of_analysis, o.cohort_source_id, "
    "a.label AS arm, c.label AS comparator, o.arm_id, o.comparator_arm_id, o.source_id, "
    "src.first_author, src.year AS source_year, src.doi, src.pmid, src.verified_in AS source_verified_in, "
    "o.verification, o.verified_in, o.note "
    "FROM outcomes o JOIN studies s USING (study_id) JOIN endpoints e USING (endpoint_id) "
    "LEFT JOIN arms a ON a.arm_id = o.arm_id LEFT JOIN arms c ON c.arm_id = o.comparator_arm_id "
    "LEFT JOIN sources src ON src.source_id = o.source_id LEFT JOIN subgroups sg ON sg.subgroup_id = o.subgroup_id"
)

RATIO_STATISTICS = ("hazard_ratio", "odds_ratio", "risk_ratio")


def study_outcomes(con: duckdb.DuckDBPyConnection, study_ids: Sequence[str], endpoints: Sequence[str] = (),
                   statistics: Sequence[str] = ()) -> pd.DataFrame:
    """Outcome figures of the given studies (all of them in one query), with a readable ``result`` column."""
    where = Where()
    where.add("o.study_id IN (SELECT unnest(?::VARCHAR[]))", list(study_ids))
    where.add_in("o.endpoint_id", endpoints)
    where.add_in("o.statistic", statistics)
    frame = query(con, OUTCOME_SQL + where.sql() + " ORDER BY s.short_name, e.name, o.outcome_id", where.params)
    frame["result"] = [format_result(r) for r in frame.itertuples(index=False)]
    return with_read_in(frame)


STATISTIC_LABELS = {"hazard_ratio": "HR", "odds_ratio": "OR", "risk_ratio": "RR", "proportion": "",
                    "median": "median", "mean": "mean", "count": "", "difference": "difference",
                    "range_of_medians_low": "lowest median of a range",
                    "range_of_medians_high": "highest median of a range",
                    "posterior_probability": "posterior probability"}


def format_result(row: Any) -> str:
    """One outcome as a clinician reads it: 'HR 0.78 (95% CI 0.62–0.99); p=0.01'.

    >>> from types import SimpleNamespace as R
    >>> format_result(R(statistic="hazard_ratio", value=0.78, unit="ratio", ci_low=0.62, ci_high=0.99,
    ...                 p_value="0.01", timepoint_months=None))
    'HR 0.78 (95% CI 0.62–0.99); p=0.01'
    >>> format_result(R(statistic="proportion", value=53.8, unit="%", ci_low=None, ci_high=None, p_value=None,
    ...                 timepoint_months=6))
    '53.8% at 6 months'
    >>> format_result(R(statistic="mean", value=-8.8, unit="pct_change", ci_low=None, ci_high=None, p_value=None,
    ...                 timepoint_months=4))
    'mean -8.8% change from baseline at 4 months'
    """
    def num(x: Any) -> str:
        return f"{float(x):g}"

    def present(x: Any) -> bool:
        return x is not None and not pd.isna(x)

    unit = {"%": "%", "pct_change": "% change from baseline", "ratio": "", "months": " months", "patients": " patients", "lesions": " lesions",
            "points": " points", "weeks": " weeks", "days": " days"}.get(row.unit, " " + str(row.unit))
    label = STATISTIC_LABELS.get(row.statistic, row.statistic)
    text = (label + " " if label else "") + num(row.value) + unit
    if present(row.ci_low) and present(row.ci_high):
        text += f" (95% CI {num(row.ci_low)}–{num(row.ci_high)})"
    if present(getattr(row, "timepoint_months", None)):
        text += f" at {num(row.timepoint_months)} months"
    if present(row.p_value) and str(row.p_value):
        p = str(row.p_value)
        text += "; p" + (p if p[0] in "<>=" else "=" + p)
    return text


def comparable_outcomes(con: duckdb.DuckDBPyConnection, study_ids: Sequence[str], endpoint_id: str) -> pd.DataFrame:
    """The figures of one endpoint across studies that can sit on one chart: between-arm ratios (HR/OR/RR) and
    per-arm proportions, each with its study, arm and CI (NaN where the paper gave none), and the label that
    tells it apart (``title``, ``detail``, ``label``: study, comparison, timepoint, subgroup, result)."""
    frame = study_outcomes(con, study_ids, endpoints=(endpoint_id,),
                           statistics=RATIO_STATISTICS + ("proportion",))
    frame["kind"] = frame["statistic"].map(lambda s: "ratio" if s in RATIO_STATISTICS else "rate")
    return frame.join(estimate_labels(frame, across_studies=True))


def endpoint_choices(con: duckdb.DuckDBPyConnection, study_ids: Sequence[str]) -> pd.DataFrame:
    """Endpoints with chartable figures among these studies, most-reported first (ratios count double)."""
    if not study_ids:
        return pd.DataFrame(columns=["endpoint_id", "endpoint", "n_ratio", "n_rate"])
    where = Where()
    where.add_in("o.study_id", list(study_ids))
    where.add_in("o.statistic", RATIO_STATISTICS + ("proportion",))
    return query(con, "SELECT o.endpoint_id, e.name AS endpoint, "
                      "count(*) FILTER (WHERE o.statistic IN ('hazard_ratio', 'odds_ratio', 'risk_ratio')) AS n_ratio, "
                      "count(*) FILTER (WHERE o.statistic = 'proportion') AS n_rate "
                      "FROM outcomes o JOIN endpoints e USING (endpoint_id)" + where.sql()
                 + " GROUP BY ALL ORDER BY 2 * n_ratio + n_rate DESC, endpoint", where.params)


# ------------------------------------------------------------------------------------------------ dashboard
EARLY_PHASES = ("1", "1/2", "2")


def is_landmark(frame: pd.DataFrame) -> pd.Series:
    """Landmark trials (our rule; the issue leaves it open): randomized trials other than phase 1–2 — phase 3 and
    the older randomized trials that state no phase (Aoyama 2006, Chang 2009) — and level-1 meta-analyses."""
    phase3 = frame["randomized"].astype(bool) & ~frame["phase"].isin(EARLY_PHASES)
    level1 = (frame["design_id"] == "meta_analysis") & (frame["evidence_level"] == 1)
    return phase3 | level1


def headline_figures(con: duckdb.DuckDBPyConnection, study_frame: pd.DataFrame) -> dict[str, Any]:
    """The dashboard's headline numbers, each with how many are verified."""
    counts = query(con, "SELECT "
                        "(SELECT count(*) FROM outcomes) AS outcomes, "
                        "(SELECT count(*) FROM outcomes WHERE verification = 'verified') AS outcomes_verified, "
                        "(SELECT count(*) FROM recommendations) AS recommendations, "
                        "(SELECT count(*) FROM recommendations WHERE verification = 'verified') AS recs_verified, "
                        "(SELECT count(*) FROM guidelines) AS guidelines").iloc[0]
    primary = study_frame[~study_frame["design_id"].isin(["meta_analysis", "pooled_analysis"])]
    return {
        "studies": len(study_frame),
        "studies_verified": int((study_frame["verification"] == "verified").sum()),
        "randomized": int(study_frame["randomized"].astype(bool).sum()),
        "landmark": int(is_landmark(study_frame).sum()),
        "patients_enrolled": int(pd.to_numeric(primary["n_enrolled"], errors="coerce").fillna(0).sum()),
        "year_min": int(study_frame["year"].min()) if study_frame["year"].notna().any() else None,
        "year_max": int(study_frame["year"].max()) if study_frame["year"].notna().any() else None,
        "outcomes": int(counts["outcomes"]), "outcomes_verified": int(counts["outcomes_verified"]),
        "recommendations": int(counts["recommendations"]), "recommendations_verified": int(counts["recs_verified"]),
        "guidelines": int(counts["guidelines"]),
    }


def count_by(frame: pd.DataFrame, ids: str, labels: dict[str, str]) -> pd.DataFrame:
    """Studies per value of a list column (a study in two histologies counts in both).

    >>> f = pd.DataFrame({"study_id": ["a", "b"], "setting_ids": [["intact"], ["intact", "postoperative"]]})
    >>> count_by(f, "setting_ids", {"intact": "Intact", "postoperative": "Postop"}).to_dict("records")
    [{'id': 'intact', 'label': 'Intact', 'studies': 2}, {'id': 'postoperative', 'label': 'Postop', 'studies': 1}]
    """
    exploded = frame[["study_id", ids]].explode(ids).dropna(subset=[ids])
    out = (exploded.groupby(ids)["study_id"].nunique().rename("studies").reset_index()
           .rename(columns={ids: "id"}))
    out["label"] = out["id"].map(lambda i: labels.get(i, i).removeprefix("↳ "))
    out["studies"] = out["studies"].astype(int)
    return out[["id", "label", "studies"]].sort_values(["studies", "label"], ascending=[False, True],
                                                       ignore_index=True)


# ------------------------------------------------------------------------------------------------ dosing
DOSE_CATEGORIES = {"single_fraction": "Single-fraction SRS", "fractionated_intact": "Fractionated SRS (intact)",
                   "postoperative": "Postoperative cavity", "preoperative": "Preoperative SRS", "wbrt": "WBRT",
                   "ha_wbrt": "HA-WBRT", "salvage": "Salvage / re-irradiation",
                   "normal_tissue": "Normal-brain tolerance and radionecrosis risk"}


def dose_schedules(con: duckdb.DuckDBPyConnection, categories: Sequence[str] = (), settings: Sequence[str] = (),
                   diameter_cm: float | None = None, volume_cc: float | None = None,
                   verification: Sequence[str] = (), normal_tissue: bool | None = False,
                   keep_unsized: bool = False) -> pd.DataFrame:
    """Dose schedules with dose per fraction, BED and EQD2 computed here (never stored).

    ``diameter_cm``/``volume_cc`` keep schedules whose stated size range covers that size; schedules that state no
    range in that unit are kept too when ``keep_unsized`` (unknown is not "excluded": the dosing page keeps them,
    marked, unless the reader hides them). ``normal_tissue``: False = treatment schedules only, True = tolerance
    rows only, None = both.
    """
    where = Where()
    where.add_in("d.category", categories)
    where.add_in("d.setting_id", settings)
    if normal_tissue is True:
        where.add("d.category = ?", "normal_tissue")
    elif normal_tissue is False:
        where.add("d.category <> ?", "normal_tissue")
    for size, low, high in ((diameter_cm, "d.min_diameter_cm", "d.max_diameter_cm"),
                            (volume_cc, "d.min_volume_cc", "d.max_volume_cc")):
        if size is not None:
            stated = f"({low} IS NOT NULL OR {high} IS NOT NULL)"
            covers = f"coalesce({low}, 0) <= ? AND ({high} IS NULL OR {high} >= ?)"
            where.add(f"(NOT {stated} OR ({covers}))" if keep_unsized else f"({stated} AND {covers})",
                      float(size), float(size))
    where.add_in("d.verification", verification)
    frame = query(con, "SELECT d.schedule_id, d.category, d.setting_id, st.name AS setting, d.description, "
                       "d.total_dose_gy, d.fractions, d.alpha_beta_gy, d.min_diameter_cm, d.max_diameter_cm, "
                       "d.min_volume_cc, d.max_volume_cc, d.dose_volume_metric, d.volume_limit_cc, "
                       "d.reported_risk_pct, d.risk_endpoint, d.study_id, s.short_name AS study, d.source_id, "
                       "src.first_author, src.year AS source_year, src.doi, src.pmid, "
                       "src.verified_in AS source_verified_in, d.verification, "
                       "d.verified_in, d.note FROM dose_schedules d LEFT JOIN settings st USING (setting_id) "
                       "LEFT JOIN studies s USING (study_id) LEFT JOIN sources src ON src.source_id = d.source_id"
                 + where.sql() + " ORDER BY d.category, d.setting_id, d.total_dose_gy DESC NULLS LAST, "
                 "d.schedule_id", where.params)
    frame = with_bed(frame)
    frame["category_label"] = frame["category"].map(DOSE_CATEGORIES)
    frame["size_range"] = [size_range(r.min_diameter_cm, r.max_diameter_cm, "cm") or
                           size_range(r.min_volume_cc, r.max_volume_cc, "cc")
                           for r in frame.itertuples(index=False)]
    frame["schedule"] = [f"{r.total_dose_gy:g} Gy / {int(r.fractions)} fx" if not pd.isna(r.total_dose_gy) else None
                         for r in frame.itertuples(index=False)]
    frame["citation"] = [citation_label(r.first_author, r.source_year) for r in frame.itertuples(index=False)]
    return with_read_in(frame)


def size_range(low: Any, high: Any, unit: str) -> str | None:
    """'2–3 cm', '≥ 2 cm', '≤ 5 cm' or None.

    >>> size_range(2.0, 3.0, "cm"), size_range(14.0, None, "cc"), size_range(None, None, "cm"), size_range(1, 3, "")
    ('2–3 cm', '≥ 14 cc', None, '1–3')
    """
    has_low, has_high = low is not None and not pd.isna(low), high is not None and not pd.isna(high)
    unit = " " + unit if unit else ""
    if has_low and has_high:
        return f"{float(low):g}–{float(high):g}{unit}"
    if has_low:
        return f"≥ {float(low):g}{unit}"
    if has_high:
        return f"≤ {float(high):g}{unit}"
    return None


# ------------------------------------------------------------------------------------------------ drug–SRS toxicity
def drug_toxicity(con: duckdb.DuckDBPyConnection, histologies: Sequence[str] = (), include_mixed: bool = True,
                  drugs: Sequence[str] = (), drug_classes: Sequence[str] = (), toxicities: Sequence[str] = (),
                  verification: Sequence[str] = (), study_ids: Sequence[str] = ()) -> pd.DataFrame:
    """Drug–SRS toxicity signals with drug, class, histology, toxicity, timing window and source.

    A histology filter matches its subtypes and its parent (a breast-cancer signal applies to HER2+ breast cancer);
    ``include_mixed`` adds signals from mixed-histology cohorts.
    """
    where = Where()
    wanted = _expand_histologies(con, histologies, up=True)
    if wanted:
        if include_mixed:
            wanted = sorted(set(wanted) | {"mixed"})
        where.add_in("t.histology_id", wanted)
    where.add_in("t.drug_id", drugs)
    where.add_in("dr.drug_class", drug_classes)
    where.add_in("t.toxicity", toxicities)
    where.add_in("t.verification", verification)
    where.add_in("t.study_id", study_ids)
    frame = query(con, "SELECT t.signal_id, t.drug_id, dr.name AS drug, dr.abbreviations, dr.drug_class, "
                       "t.histology_id, h.name AS histology, t.toxicity, tx.name AS toxicity_name, "
                       "t.rate_with_drug_pct, t.rate_without_drug_pct, t.n_with_drug, t.n_without_drug, t.n_total, "
                       "t.unit_of_analysis, t.effect_measure, t.effect_value, t.effect_ci_low, t.effect_ci_high, "
                       "t.p_value, t.concurrency_window, t.finding, t.sequencing_guidance, t.evidence_level, "
                       "el.name AS evidence_level_name, t.study_id, s.short_name AS study, t.source_id, "
                       "src.first_author, src.year AS source_year, src.journal, src.doi, src.pmid, "
                       "src.verified_in AS source_verified_in, t.verification, "
                       "t.verified_in, t.note FROM drug_toxicity t JOIN drugs dr USING (drug_id) "
                       "JOIN toxicities tx USING (toxicity) LEFT JOIN histologies h USING (histology_id) "
                       "LEFT JOIN evidence_levels el ON el.evidence_level = t.evidence_level "
                       "LEFT JOIN studies s ON s.study_id = t.study_id "
                       "LEFT JOIN sources src ON src.source_id = t.source_id"
                 + where.sql() + " ORDER BY dr.drug_class, dr.name, tx.name, t.signal_id", where.params)
    frame["drug_class_label"] = frame["drug_class"].map(label_drug_class)
    frame["citation"] = [citation_label(r.first_author, r.source_year) for r in frame.itertuples(index=False)]
    frame["drug_label"] = [f"{r.drug} ({_short(r.abbreviations)})" if _short(r.abbreviations) else r.drug
                           for r in frame.itertuples(index=False)]
    frame["drug_short"] = [drug_short_name(r.drug, r.abbreviations) for r in frame.itertuples(index=False)]
    # two drugs must never share an axis label: where short names collide, use the full labels
    clash = frame.groupby("drug_short")["drug_id"].transform("nunique") > 1
    frame.loc[clash, "drug_short"] = frame.loc[clash, "drug_label"]
    return with_read_in(frame)


def drug_short_name(name: str, abbreviations: Any) -> str:
    """The name an axis can hold: a short name as it is, else its usual abbreviation, else the name cut short.

    >>> drug_short_name("nivolumab", "anti-PD-1"), drug_short_name("trastuzumab emtansine", "T-DM1;Kadcyla")
    ('nivolumab', 'T-DM1')
    >>> drug_short_name("Any systemic therapy (chemotherapy, targeted therapy and/or immunotherapy)", None)
    'Any systemic therapy (chemoth…'
    """
    if len(name) <= 14:
        return name
    return _short(abbreviations) or (name if len(name) <= 30 else name[:29].rstrip() + "…")


def _short(abbreviations: Any) -> str | None:
    if abbreviations is None or pd.isna(abbreviations) or not str(abbreviations).strip():
        return None
    return str(abbreviations).split(";")[0].strip()


# ------------------------------------------------------------------------------------------------ guidelines
def recommendations(con: duckdb.DuckDBPyConnection, topics: Sequence[str] = (), bodies: Sequence[str] = (),
                    verification: Sequence[str] = (), text: str | None = None) -> pd.DataFrame:
    """Guideline recommendations (in our own words) with body, year, topic, strength and source.

    ``text``: every word must appear in the recommendation, population, guideline, body or topic name.
    """
    where = Where()
    where.add_in("r.topic_id", topics)
    where.add_in("g.body", bodies)
    where.add_in("r.verification", verification)
    where.add_text(("r.recommendation", "r.population", "g.short_name", "g.body", "t.name"), text)
    frame = query(con, "SELECT r.recommendation_id, r.topic_id, t.name AS topic, g.guideline_id, g.short_name "
                       "AS guideline, g.body, g.year, g.kind, g.grading_system, r.population, r.recommendation, "
                       "r.strength, r.evidence_quality, r.source_id, src.first_author, src.year AS source_year, "
                       "src.doi, src.pmid, src.verified_in AS source_verified_in, "
                       "r.verification, r.verified_in, r.note FROM recommendations r "
                       "JOIN guidelines g USING (guideline_id) JOIN rec_topics t ON t.topic_id = r.topic_id "
                       "LEFT JOIN sources src ON src.source_id = r.source_id"
                 + where.sql() + " ORDER BY t.name, g.body, g.year DESC, r.recommendation_id", where.params)
    frame["body_short"] = frame["body"].map(short_body)
    frame["citation"] = [citation_label(r.first_author, r.source_year) for r in frame.itertuples(index=False)]
    return with_read_in(frame)


def guideline_bodies(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Every guideline body, {body: short label}, most recommendations first."""
    frame = query(con, "SELECT g.body, count(r.recommendation_id) AS n FROM guidelines g "
                       "LEFT JOIN recommendations r USING (guideline_id) GROUP BY g.body ORDER BY n DESC, g.body")
    return {b: short_body(b) for b in frame["body"]}


# Names of bodies that guidelines spell out, and the acronyms clinicians use for them.
BODY_ACRONYMS = {
    "American Association of Neurological Surgeons": "AANS", "American Radium Society": "ARS",
    "American Society for Radiation Oncology": "ASTRO", "Congress of Neurological Surgeons": "CNS",
    "European Association of Neuro-Oncology": "EANO", "European Society for Medical Oncology": "ESMO",
    "International Stereotactic Radiosurgery Society": "ISRS", "National Brain Tumor Society": "NBTS",
    "National Comprehensive Cancer Network": "NCCN", "Radiosurgery Society": "RSS",
    "Society for Neuro-Oncology": "SNO", "US Food and Drug Administration": "FDA",
    "US National Cancer Institute": "NCI",
    "Breast Cancer Expert Panel of the German Society of Radiation Oncology (DEGRO)": "DEGRO breast panel",
    "German Taskforce Imaging in Stereotactic Radiotherapy": "German imaging taskforce",
    "NCI Brain Malignancy Steering Committee": "NCI BMSC", "ASCO (endorsing ASTRO)": "ASCO (endorsing ASTRO)",
    "American Association of Neurological Surgeons and Congress of Neurological Surgeons, Joint Section on Tumors":
        "AANS/CNS Tumor Section",
}


def short_body(body: str) -> str:
    """A body's name short enough for an axis label.

    Known names become their acronyms; 'Long Name (ACR) rest' becomes 'ACR rest'; other parentheticals are dropped.

    >>> short_body("European Association of Neuro-Oncology; European Society for Medical Oncology")
    'EANO; ESMO'
    >>> short_body("German Society of Radiation Oncology (DEGRO) with DKG-NOA")
    'DEGRO with DKG-NOA'
    >>> short_body("International expert panel (10 radiation oncologists and neurosurgeons)")
    'International expert panel'
    """
    if body in BODY_ACRONYMS:
        return BODY_ACRONYMS[body]
    parts = []
    for part in body.split(";"):
        part = part.strip()
        if part in BODY_ACRONYMS:
            part = BODY_ACRONYMS[part]
        elif "(" in part and ")" in part:
            head, inside_rest = part.split("(", 1)
            inside, rest = inside_rest.split(")", 1)
            part = (inside.strip() + rest).strip() if " " not in inside.strip() else (head + rest).strip()
        parts.append(part)
    text = "; ".join(parts)
    return text if len(text) <= 40 else text[:39].rstrip() + "…"


# ------------------------------------------------------------------------------------------------ imaging
IMAGING_PURPOSES = {"detection": "Detection", "rn_vs_progression": "Radionecrosis vs progression",
                    "treatment_planning": "Treatment planning", "response_assessment": "Response assessment",
                    "prediction": "Prediction", "surveillance": "Surveillance"}


def imaging(con: duckdb.DuckDBPyConnection, purposes: Sequence[str] = (), kinds: Sequence[str] = (),
            modalities: Sequence[str] = (), verification: Sequence[str] = ()) -> pd.DataFrame:
    """Imaging rows: modality, purpose, parameter, sensitivity/specificity/AUC, sizes, summary and source."""
    where = Where()
    where.add_in("i.purpose", purposes)
    where.add_in("m.kind", kinds)
    where.add_in("i.modality_id", modalities)
    where.add_in("i.verification", verification)
    frame = query(con, "SELECT i.imaging_id, i.modality_id, m.name AS modality, m.kind, i.purpose, i.parameter, "
                       "i.sensitivity_pct, i.specificity_pct, i.auc, i.n_patients, i.n_lesions, d.name AS design, "
                       "i.summary, i.source_id, src.first_author, src.year AS source_year, src.journal, src.doi, "
                       "src.pmid, src.verified_in AS source_verified_in, i.verification, i.verified_in, i.note "
                       "FROM imaging i "
                       "JOIN imaging_modalities m USING (modality_id) LEFT JOIN designs d USING (design_id) "
                       "LEFT JOIN sources src ON src.source_id = i.source_id"
                 + where.sql() + " ORDER BY i.purpose, m.kind, m.name, i.imaging_id", where.params)
    frame["purpose_label"] = frame["purpose"].map(IMAGING_PURPOSES)
    frame["citation"] = [citation_label(r.first_author, r.source_year) for r in frame.itertuples(index=False)]
    return with_read_in(frame)


def imaging_facets(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """Purposes and modality kinds present in the imaging table."""
    purposes = query(con, "SELECT DISTINCT purpose FROM imaging ORDER BY purpose")["purpose"].tolist()
    kinds = query(con, "SELECT DISTINCT m.kind FROM imaging_modalities m JOIN imaging i USING (modality_id) "
                       "ORDER BY m.kind")["kind"].tolist()
    return {"purposes": {p: IMAGING_PURPOSES.get(p, p) for p in purposes}, "kinds": {k: k for k in kinds}}
