"""Sources: the bibliography with filters (year, publication type, journal, text) and DOI/PubMed links."""

import streamlit as st

from kb.queries import doi_url, pubmed_url
from ui import cache, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
facets = cache.source_facets(con)
lo, hi = facets["year_min"], facets["year_max"]

st.title("Sources")
st.caption("Every publication cited by the SRS review (its reference numbers 1–263) and the two seed reviews.")

with st.container(border=True):
    c1, c2, c3 = st.columns([2, 2, 3])
    years = c1.slider("Year", lo, hi, (widgets.param_int("from", lo, lo, hi), widgets.param_int("to", hi, lo, hi)))
    types = c2.multiselect("Publication type", list(facets["pub_types"]),
                           default=widgets.param_list("type", list(facets["pub_types"])),
                           format_func=facets["pub_types"].get)
    journals = c3.multiselect("Journal", facets["journals"], default=widgets.param_list("journal", facets["journals"]))
    text = st.text_input("Filter by words in authors, title, journal, DOI or year", value=widgets.param_text("q"),
                         max_chars=200, placeholder="e.g. Brown 2016 cognitive")

widgets.sync_params(**{"from": years[0] if years[0] != lo else None, "to": years[1] if years[1] != hi else None,
                       "type": types, "journal": journals, "q": text.strip()})
rows = cache.sources(con, years[0], years[1], tuple(types), tuple(journals), text.strip())

st.markdown(f"**{len(rows)}** of {cache.table_counts(con)['sources']} sources")
if rows.empty:
    widgets.empty_state("No source matches — clear the text filter or widen the year range.")
else:
    shown = rows.assign(doi_link=rows["doi"].map(doi_url), pubmed=rows["pmid"].map(pubmed_url))[
        ["ref_number", "first_author", "year", "title", "journal", "pub_type", "doi_link", "pubmed", "verification",
         "note"]]
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "ref_number": st.column_config.NumberColumn("Ref", format="%d", width="small"),
        "first_author": "First author", "year": st.column_config.NumberColumn("Year", format="%d"),
        "doi_link": st.column_config.LinkColumn("DOI", display_text=r"https://doi\.org/(.*)"),
        "pubmed": st.column_config.LinkColumn("PubMed", display_text=r".*/(\d+)/"),
        "pub_type": "Type", "verification": "Verification", "note": "Note"})
    widgets.download_csv(rows, "brainmets_sources.csv")

widgets.footer(cache.release_info(con))
