"""Home: what the KB holds, the release, and what it is not."""

import streamlit as st

from ui import cache, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
counts = cache.table_counts(con)
release = cache.release_info(con)

st.title("BrainMets KB")
st.markdown(
    "An open knowledge base of the clinical evidence on **stereotactic radiosurgery (SRS) for brain metastases**: "
    "the studies and guidelines cited in a 2025 review of the field and an imaging review, with the numbers "
    "that matter, each traced to the paper it was read in."
)
st.warning(widgets.DISCLAIMER, icon=":material/info:")

st.subheader(f"Release {release.get('release', 'unreleased')}")
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
        "cites it) or **unverified**. Empty cells mean the figure could not be verified — never an estimate."
    )
    st.dataframe(cache.verification_counts(con).pivot_table(index="table_name", columns="verification",
                                                             values="n", fill_value=0),
                 width="stretch")

widgets.footer(release)
