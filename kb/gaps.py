"""Gaps: the sources on a page's topic whose figures the KB has not curated.

A page shows what was curated; a reader should also know what exists beyond it ("also in the bibliography, figures
not curated: …"), e.g. the T-DM1 radionecrosis series whose abstracts could not be read. Topic membership comes from
data (``data/source_topics.csv``), never from lists in pages. A source counts as curated when any evidence row
cites it: an outcome (as the paper read or as the cohort's paper), a dose schedule, a drug–SRS toxicity signal, an
imaging finding, a guideline or a recommendation.
"""

from __future__ import annotations

from typing import Sequence

import duckdb
import pandas as pd

from kb.db import query

TOPICS = {"clinical_studies": "studies", "drug_toxicity": "drug–SRS toxicity", "dosing": "dosing and fractionation",
          "imaging": "imaging", "guidelines": "guidelines"}

# Every column through which an evidence row cites a source (outcomes twice: the paper read, the cohort's paper).
CITING_COLUMNS = (("outcomes", "source_id"), ("outcomes", "cohort_source_id"), ("dose_schedules", "source_id"),
                  ("drug_toxicity", "source_id"), ("imaging", "source_id"), ("guidelines", "source_id"),
                  ("recommendations", "source_id"))

# identifiers from the constant above, never from input
_CURATED = " UNION ".join("SELECT " + column + " AS source_id FROM " + table for table, column in CITING_COLUMNS)

_SQL = (
    "SELECT s.source_id, s.ref_number, s.first_author, s.year, s.title, s.journal, s.doi, s.pmid, t.drug_id "
    "FROM source_topics t JOIN sources s USING (source_id) LEFT JOIN drugs d ON d.drug_id = t.drug_id "
    "WHERE t.topic = ? AND s.source_id NOT IN (SELECT source_id FROM (" + _CURATED + ") WHERE source_id IS NOT NULL)"
)


def uncurated_sources(con: duckdb.DuckDBPyConnection, topic: str, drug_ids: Sequence[str] = (),
                      drug_classes: Sequence[str] = ()) -> pd.DataFrame:
    """Sources tagged with ``topic`` that no evidence row cites, in reference-list order.

    With ``drug_ids`` or ``drug_classes`` (the toxicity page's filters), only sources tagged with one of those drugs
    or a drug of one of those classes; a source tagged with no drug is then left out.

    >>> uncurated_sources(con, "drug_toxicity", drug_ids=["trastuzumab_emtansine"])["source_id"].tolist()  # doctest: +SKIP
    ['ref112', 'ref113', 'ref250']
    """
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r}; topics: {', '.join(TOPICS)}")
    sql, params = _SQL, [topic]
    if drug_ids or drug_classes:
        sql += " AND (t.drug_id IN (SELECT unnest(?::VARCHAR[])) OR d.drug_class IN (SELECT unnest(?::VARCHAR[])))"
        params += [list(drug_ids), list(drug_classes)]
    return query(con, sql + " ORDER BY s.ref_number NULLS LAST, s.source_id", params)


def short_citation(first_author: str | None, year: float | int | None, title: str | None = None) -> str:
    """'Stumpf 2019' from the first author's surname and the year; the title's start when no author is named.

    >>> short_citation("Brown PD", 2016)
    'Brown 2016'
    >>> short_citation("Id Said B", 2022)
    'Id Said 2022'
    >>> short_citation(None, 2025, "NCCN Clinical Practice Guidelines in Oncology: Central Nervous System Cancers")
    'NCCN Clinical Practice Guidelines… 2025'
    """
    words = (first_author or "").split()
    while len(words) > 1 and words[-1].isupper() and len(words[-1]) <= 3:  # drop the initials: 'Id Said B'
        words.pop()
    name = " ".join(words)
    if not name:
        words = (title or "Untitled").split()
        name = " ".join(words[:4]) + ("…" if len(words) > 4 else "")
    return f"{name} {int(year)}" if year is not None and not pd.isna(year) else name


def gap_sentence(frame: pd.DataFrame, limit: int = 6) -> str:
    """The one line a page shows under its curated evidence; '' when nothing is missing.

    >>> gap_sentence(pd.DataFrame({"first_author": ["Geraud A", "Mitsuya K"], "year": [2017, 2016],
    ...                            "title": ["t", "t"], "ref_number": [112, 113]}))
    'Also in the bibliography, figures not curated (2): Geraud 2017 [ref 112], Mitsuya 2016 [ref 113].'
    """
    if frame.empty:
        return ""
    names = []
    for row in frame.head(limit).itertuples(index=False):
        ref = getattr(row, "ref_number", None)
        tag = f" [ref {int(ref)}]" if ref is not None and not pd.isna(ref) else ""
        names.append(short_citation(row.first_author, row.year, row.title) + tag)
    more = f" and {len(frame) - limit} more" if len(frame) > limit else ""
    return f"Also in the bibliography, figures not curated ({len(frame)}): {', '.join(names)}{more}."
