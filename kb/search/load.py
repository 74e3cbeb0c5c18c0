"""Loading from the KB: the searchable documents (sources with their studies, drugs and histologies) and the
synonym rows, read from a DuckDB connection.
"""

from __future__ import annotations

import pandas as pd

from kb.search.documents import _text
from kb.search.index import SearchIndex
from kb.search.synonyms import drug_synonyms

DOCUMENT_SQL = (
    "SELECT source_id, ref_number, authors, first_author, title, journal, year, volume, issue, pages, doi, pmid, "
    "pub_type, verification, note FROM sources ORDER BY ref_number NULLS LAST, source_id")
STUDY_SQL = (
    "SELECT ss.source_id, ss.role, st.study_id, st.short_name, st.aliases, st.nct_id "
    "FROM study_sources ss JOIN studies st USING (study_id) ORDER BY ss.source_id, st.study_id")
DRUG_SQL = (
    "SELECT DISTINCT source_id, drug_id, name, abbreviations FROM ("
    " SELECT ss.source_id, d.drug_id, d.name, d.abbreviations FROM study_sources ss"
    "  JOIN arms a USING (study_id) JOIN drugs d ON d.drug_id = a.drug_id"
    " UNION ALL SELECT dt.source_id, d.drug_id, d.name, d.abbreviations FROM drug_toxicity dt"
    "  JOIN drugs d USING (drug_id)"
    " UNION ALL SELECT ss.source_id, d.drug_id, d.name, d.abbreviations FROM drug_toxicity dt"
    "  JOIN study_sources ss ON ss.study_id = dt.study_id JOIN drugs d ON d.drug_id = dt.drug_id"
    ") ORDER BY source_id, drug_id")
HISTOLOGY_SQL = (
    "SELECT DISTINCT ss.source_id, sh.histology_id FROM study_sources ss JOIN study_histologies sh USING (study_id) "
    "ORDER BY 1, 2")


def load_documents(con) -> pd.DataFrame:
    """The searchable documents: every source with its linked studies (names, aliases, NCT ids), the drugs of
    those studies' arms and drug-toxicity rows, and histologies (with their parents, so 'breast' finds HER2+)."""
    from kb.db import query

    docs = query(con, DOCUMENT_SQL)
    studies = query(con, STUDY_SQL)
    drugs = query(con, DRUG_SQL)
    hist = query(con, HISTOLOGY_SQL)
    parents = dict(query(con, "SELECT histology_id, parent_id FROM histologies").itertuples(index=False))

    study_text: dict[str, list[str]] = {}
    study_names: dict[str, list[str]] = {}
    study_ids: dict[str, list[str]] = {}
    ncts: dict[str, list[str]] = {}
    for row in studies.itertuples(index=False):
        study_text.setdefault(row.source_id, []).extend(
            [_text(row.short_name)] + [a.strip() for a in _text(row.aliases).split(";") if a.strip()])
        study_names.setdefault(row.source_id, []).append(_text(row.short_name))
        study_ids.setdefault(row.source_id, []).append(_text(row.study_id))
        if _text(row.nct_id):
            ncts.setdefault(row.source_id, []).append(_text(row.nct_id))
    drug_text: dict[str, list[str]] = {}
    drug_names: dict[str, list[str]] = {}
    for row in drugs.itertuples(index=False):
        drug_text.setdefault(row.source_id, []).extend(
            [_text(row.name)] + [a.strip() for a in _text(row.abbreviations).split(";") if a.strip()])
        drug_names.setdefault(row.source_id, []).append(_text(row.name))
    histologies: dict[str, set[str]] = {}
    for source_id, histology_id in hist.itertuples(index=False):
        h = histology_id
        while isinstance(h, str) and h and h not in histologies.setdefault(source_id, set()):
            histologies[source_id].add(h)
            h = parents.get(h)

    ids = docs["source_id"]
    docs["study_ids"] = ids.map(lambda s: ";".join(study_ids.get(s, [])))
    docs["study_names"] = ids.map(lambda s: "; ".join(study_names.get(s, [])))
    docs["study_text"] = ids.map(lambda s: " ; ".join(study_text.get(s, [])))
    docs["nct_ids"] = ids.map(lambda s: ";".join(dict.fromkeys(ncts.get(s, []))))
    docs["drug_names"] = ids.map(lambda s: "; ".join(dict.fromkeys(drug_names.get(s, []))))
    docs["drug_text"] = ids.map(lambda s: " ; ".join(dict.fromkeys(drug_text.get(s, []))))
    docs["histologies"] = ids.map(lambda s: ";".join(sorted(histologies.get(s, set()))))
    for column in ("year", "ref_number"):
        docs[column] = docs[column].astype("Int64")
    return docs


def load_synonyms(con) -> list[tuple[str, str]]:
    """Synonym rows: the ``synonyms`` table (data/synonyms.csv) plus one group per drug (name + abbreviations)."""
    from kb.db import query

    rows = [(str(g), str(t)) for g, t in query(con, "SELECT group_id, term FROM synonyms ORDER BY 1, 2")
            .itertuples(index=False)]
    return rows + drug_synonyms(query(con, "SELECT drug_id, name, abbreviations FROM drugs ORDER BY drug_id"))


def build_index(con) -> SearchIndex:
    """The search index over the KB behind ``con``."""
    return SearchIndex.build(load_documents(con), load_synonyms(con))


def histology_choices(con) -> dict[str, str]:
    """histology_id → name, for the histology filter."""
    from kb.db import query

    frame = query(con, "SELECT histology_id, name FROM histologies ORDER BY primary_site, parent_id NULLS FIRST, name")
    return dict(zip(frame["histology_id"], frame["name"]))
