"""'Also in the bibliography, figures not curated: …' under a page's evidence (kb/gaps.py finds the sources).

A page adds it with one line; the query is cached with the other loaders (ui/cache.uncurated_sources).
"""

from __future__ import annotations

from typing import Sequence

import duckdb
import pandas as pd
import streamlit as st

from kb import gaps
from kb.links import doi_url, pubmed_url
from ui import cache, widgets

LIMIT = 6  # names in the visible line; the rest are in the expander


def uncurated_note(con: duckdb.DuckDBPyConnection, topic: str, drug_ids: Sequence[str] = (),
                   drug_classes: Sequence[str] = ()) -> None:
    """One caption naming the sources on ``topic`` without curated figures; all of them in an expander."""
    frame = cache.uncurated_sources(con, topic, tuple(drug_ids), tuple(drug_classes))
    if frame.empty:
        return
    st.caption(gaps.gap_sentence(frame, LIMIT) + " The KB holds these papers but none of their figures yet.")
    if len(frame) > LIMIT:
        with st.expander(f"All {len(frame)} papers without curated figures"):
            shown = pd.DataFrame({
                "Paper": [gaps.short_citation(a, y, t) for a, y, t in zip(frame["first_author"], frame["year"],
                                                                         frame["title"])],
                "Reference": frame["ref_number"], "Title": frame["title"],
                "DOI": frame["doi"].map(doi_url), "PubMed": frame["pmid"].map(pubmed_url)})
            widgets.table(shown, f"gaps_{topic}", ["Paper", "DOI", "PubMed"])
