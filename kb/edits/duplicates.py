"""Is a new source already in the KB? Same DOI or PMID, or a near-identical title."""

from __future__ import annotations

import re
from typing import Any, Mapping

import duckdb

TITLE_DUPLICATE_SCORE = 90  # rapidfuzz token_sort_ratio at or above which two titles are "near-identical"


def _normal_title(title: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", (title or "").lower()).strip()


def likely_duplicate_sources(con_or_cur: duckdb.DuckDBPyConnection, source: Mapping[str, Any],
                             exclude_id: str | None = None) -> list[tuple[str, str]]:
    """Existing sources with the same DOI or PMID, or a near-identical title (rapidfuzz token_sort_ratio ≥ 90).

    Returns [(source_id, why)], strongest first."""
    from rapidfuzz import fuzz, process

    cur = con_or_cur.cursor()
    try:
        rows = cur.execute("SELECT source_id, doi, pmid, title FROM sources").fetchall()
    finally:
        cur.close()
    found: dict[str, str] = {}
    doi = str(source.get("doi") or "").strip().lower()
    pmid = str(source.get("pmid") or "").strip()
    for sid, d, p, _t in rows:
        if sid == exclude_id:
            continue
        if doi and d and d.strip().lower() == doi:
            found.setdefault(sid, f"same DOI {d}")
        if pmid and p and p.strip() == pmid:
            found.setdefault(sid, f"same PMID {p}")
    title = _normal_title(str(source.get("title") or ""))
    if len(title) >= 12:
        choices = {sid: _normal_title(t) for sid, _d, _p, t in rows if sid != exclude_id}
        for _choice, score, sid in process.extract(title, choices, scorer=_title_similarity,
                                                   score_cutoff=TITLE_DUPLICATE_SCORE, limit=5):
            found.setdefault(sid, f"title {score:.0f}% similar")
    return list(found.items())


def _title_similarity(a: str, b: str, score_cutoff: float | None = None, **_: Any) -> float:
    """Word-order-insensitive similarity; a long title that is a truncation of the other also counts
    (subtitle dropped: 'Effect of radiosurgery alone vs …' against '… : a randomized clinical trial')."""
    from rapidfuzz import fuzz

    score = fuzz.token_sort_ratio(a, b)
    if min(len(a), len(b)) >= 60:
        score = max(score, fuzz.partial_ratio(a, b))
    return score if score_cutoff is None or score >= score_cutoff else 0.0
