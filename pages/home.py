"""Home: a way straight into the work — search, three shortcuts for the questions people come with — then what
the KB holds, the release, and what it is not."""

import streamlit as st

from ui import cache, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
counts = cache.table_counts(con)
release = cache.release_info(con)
facets = cache.evidence_facets(con)

st.title("BrainMets KB")
st.markdown(
    "An open knowledge base of the clinical evidence on **stereotactic radiosurgery (SRS) for brain metastases**: "
    "the studies and guidelines cited in a 2025 review of the field and an imaging review, with the numbers "
    "that matter, each traced to the paper it was read in."
)

# ------------------------------------------------------------------------------------------------ into the work
c1, c2 = st.columns([5, 1], vertical_alignment="bottom")
query = c1.text_input("Search the literature", max_chars=200, key="home_q",
                      placeholder="Author, trial (N0574), drug (T-DM1), NCT number, DOI…")
go = c2.button("Search", icon=":material/search:", type="primary", width="stretch", key="home_go")
# Enter in the box (a new query) or the button opens the Search page with the query in its address
if go or (query.strip() and query != st.session_state.get("_home_last_q")):
    st.session_state["_home_last_q"] = query
    st.switch_page("pages/search.py", query_params={"q": query.strip()} if query.strip() else None)

fellow, oncologist, editor = st.columns(3)
with fellow.container(border=True):
    st.markdown("**Trials by histology**")
    st.caption("Which trials treated patients like mine?")
    histology = st.selectbox("Histology", list(facets["histologies"]), format_func=facets["histologies"].get,
                             index=list(facets["histologies"]).index("melanoma")
                             if "melanoma" in facets["histologies"] else 0, key="home_histology")
    st.page_link("pages/explorer.py", label="Open the trials", icon=":material/table_view:",
                 query_params={"histology": histology})
with oncologist.container(border=True):
    st.markdown("**A drug with radiosurgery**")
    st.caption("Does giving this drug around SRS change the risk?")
    drug = st.selectbox("Drug", list(facets["drugs"]), format_func=facets["drugs"].get, key="home_drug",
                        index=list(facets["drugs"]).index("trastuzumab_emtansine")
                        if "trastuzumab_emtansine" in facets["drugs"] else 0)
    st.page_link("pages/toxicity.py", label="Open the drug–SRS signals", icon=":material/medication:",
                 query_params={"drug": drug})
with editor.container(border=True):
    st.markdown("**Keep the records current**")
    st.caption("Review other editors' proposals, correct a figure, add a trial.")
    st.page_link("pages/editor.py", label="Open the review queue", icon=":material/edit_note:")

st.warning(widgets.DISCLAIMER, icon=":material/info:")

# ------------------------------------------------------------------------------------------------ what it holds
st.subheader("What the KB holds")
st.caption(f"Release {release.get('release_id', 'unpublished')} (cite this id) · built from data release "
           f"{release.get('release', 'unreleased')}")
labels = {"sources": "Sources", "studies": "Studies", "outcomes": "Outcome figures", "guidelines": "Guidelines",
          "recommendations": "Recommendations", "dose_schedules": "Dose schedules",
          "drug_toxicity": "Drug–SRS toxicity signals", "imaging": "Imaging accuracy rows"}
columns = st.columns(4)
for i, (table, label) in enumerate(labels.items()):
    columns[i % 4].metric(label, f"{counts.get(table, 0):,}")

with st.expander("How numbers are verified"):
    st.markdown(
        "Every figure cites the source it was read in and carries a status: **verified** (checked against the "
        "published abstract or full text; the PMID or DOI is recorded), **secondary** (taken from a review that "
        "cites it) or **unverified**. An empty cell (shown as —) means *not reported or not verified* — never "
        "zero, never an estimate."
    )
    tally = cache.verification_counts(con).pivot_table(index="table_name", columns="verification", values="n",
                                                       fill_value=0)
    tally.index = [labels.get(t, t.replace("_", " ").capitalize()) for t in tally.index]
    st.dataframe(tally.rename(columns=str.capitalize), width="stretch")

widgets.footer(release)
