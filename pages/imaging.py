"""Imaging: modalities by purpose, with sensitivity and specificity where reported, and their sources."""

import streamlit as st

from kb import charts
from kb.links import doi_url, pubmed_url
from ui import cache, gaps, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
facets = cache.evidence_facets(con)
imaging_facets = cache.imaging_facets(con)
purposes, kinds = imaging_facets["purposes"], imaging_facets["kinds"]

st.title("Imaging")
st.caption("What each imaging modality is used for around radiosurgery, and how accurately it tells radionecrosis "
           "from progression where studies report it.")

with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    chosen_purposes = c1.multiselect("Purpose", list(purposes), format_func=purposes.get, key="im_purpose",
                                     default=widgets.param_list("purpose", list(purposes)))
    chosen_kinds = c2.multiselect("Modality", list(kinds), key="im_kind",
                                  default=widgets.param_list("kind", list(kinds)))
    verification = c3.multiselect("Verification", list(facets["verification"]), key="im_verification",
                                  format_func=facets["verification"].get,
                                  default=widgets.param_list("verification", list(facets["verification"])))
widgets.sync_params(purpose=chosen_purposes, kind=chosen_kinds, verification=verification)
active = [name for name, value in (("purpose", chosen_purposes), ("modality", chosen_kinds),
                                   ("verification", verification)) if value]

with st.spinner("Loading imaging evidence…"):
    rows = cache.imaging(con, tuple(chosen_purposes), tuple(chosen_kinds), tuple(verification))

st.markdown(f"**{len(rows)}** imaging {'finding' if len(rows) == 1 else 'findings'}")
if rows.empty:
    widgets.empty_state(widgets.no_match_message("imaging finding", active))
else:
    widgets.verification_caption(rows["verification"], "findings shown")
    accuracy = charts.accuracy_data(rows)
    st.markdown(f"**Sensitivity and specificity** — {len(accuracy)} of {len(rows)} findings report both")
    if accuracy.empty:
        st.caption("No finding shown reports both sensitivity and specificity.")
    else:
        st.vega_lite_chart(spec=cache.imaging_chart(con, tuple(chosen_purposes), tuple(chosen_kinds),
                                                    tuple(verification)), width="stretch")
        st.caption("Each point is one test in one study; studies differ in reference standard, thresholds and "
                   "population, so read them before comparing.")

    shown = rows.assign(doi_link=rows["doi"].map(doi_url), pubmed=rows["pmid"].map(pubmed_url))[
        ["modality", "sensitivity_pct", "specificity_pct", "auc", "purpose_label", "kind", "parameter", "n_patients",
         "n_lesions", "design", "summary", "citation", "read_in", "doi_link", "pubmed", "verification"]].rename(
        columns={"purpose_label": "Purpose", "modality": "Modality", "kind": "Kind", "parameter": "Parameter",
                 "sensitivity_pct": "Sensitivity (%)", "specificity_pct": "Specificity (%)", "auc": "AUC",
                 "n_patients": "Patients", "n_lesions": "Lesions", "design": "Design",
                 "summary": "Summary (our words)", "citation": "Source", "read_in": "Read in", "doi_link": "DOI",
                 "pubmed": "PubMed", "verification": "Verification"})
    widgets.table(shown, "im_table", ["Modality", "Sensitivity (%)", "Specificity (%)", "Purpose", "Source",
                                      "Read in"], csv_name="brainmets_imaging.csv",
                  column_config={"Modality": st.column_config.TextColumn(width=120),
                                 "Patients": st.column_config.NumberColumn(format="%d"),
                                 "Lesions": st.column_config.NumberColumn(format="%d")})

gaps.uncurated_note(con, "imaging")  # papers on the topic without curated figures
widgets.footer(cache.release_info(con))
