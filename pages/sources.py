"""Sources: the bibliography with filters (year, publication type, journal, text) and DOI/PubMed links."""

import streamlit as st

from kb.links import doi_url, pubmed_url
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
    shown = rows.assign(doi_link=rows["doi"].map(doi_url), pubmed=rows["pmid"].map(pubmed_url),
                        pub_type=rows["pub_type"].map(facets["pub_types"]).fillna(rows["pub_type"]))[
        ["ref_number", "first_author", "year", "title", "authors", "journal", "pub_type", "doi_link", "pubmed",
         "verification", "note"]].rename(columns={"ref_number": "Ref", "first_author": "First author", "year": "Year",
                                  "authors": "Authors",
                                  "title": "Title", "journal": "Journal", "pub_type": "Type", "doi_link": "DOI",
                                  "pubmed": "PubMed", "verification": "Verification", "note": "Note"})
    widgets.table(shown, "so_table", essentials=["First author", "Year", "Title", "DOI", "PubMed"],
                  csv_name="brainmets_sources.csv", column_config={
                      "Ref": st.column_config.NumberColumn(format="%d", width="small"),
                      "Year": st.column_config.NumberColumn(format="%d", width="small")})

widgets.footer(cache.release_info(con))
