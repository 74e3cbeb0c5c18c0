"""Evidence dashboard: what the evidence covers at a glance. Every chart element opens the explorer filtered."""

import pandas as pd
import streamlit as st

from kb import charts
from ui import cache, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
with st.spinner("Counting the evidence…"):
    head = cache.headline_figures(con)
    specs = cache.dashboard_charts(con)

st.title("Evidence dashboard")
st.caption("What the knowledge base covers. Click any bar or point to open the trial explorer with that filter.")

# ------------------------------------------------------------------------------------------------ headline figures
c = st.columns(3)
c[0].metric("Studies", f"{head['studies']:,}", help="Trials, cohorts and meta-analyses",
            delta=f"{head['studies_verified']} verified", delta_color="off", delta_arrow="off")
c[1].metric("Randomized trials", f"{head['randomized']:,}",
            delta=f"{head['landmark']} landmark trials", delta_color="off", delta_arrow="off",
            help="Landmark: randomized trials beyond phase 2, and level-1 meta-analyses")
c[2].metric("Patients enrolled", f"{head['patients_enrolled']:,}", help="Summed over primary studies (pooled "
            "analyses and meta-analyses left out so nobody is counted twice); studies that report no enrolment add 0")
c = st.columns(3)
c[0].metric("Outcome figures", f"{head['outcomes']:,}",
            delta=f"{head['outcomes_verified']} verified", delta_color="off", delta_arrow="off")
c[1].metric("Guideline recommendations", f"{head['recommendations']:,}",
            delta=f"{head['recommendations_verified']} verified", delta_color="off", delta_arrow="off",
            help=f"From {head['guidelines']} guidelines and consensus statements")
if head["year_min"]:
    c[2].metric("Years covered", f"{head['year_min']}–{head['year_max']}")


def chart(name: str, explorer_filter: str) -> None:
    """Show a chart; a click on one of its elements opens the explorer with the matching filter."""
    event = st.vega_lite_chart(spec=specs[name], width="stretch", on_select="rerun", selection_mode=charts.PICK,
                               key="dash_" + name)
    picked = (event.selection.get(charts.PICK) if event is not None else None) or []
    params = charts.explorer_params(explorer_filter, picked)
    if params:
        st.switch_page("pages/explorer.py", query_params=params)


# ------------------------------------------------------------------------------------------------ charts
left, right = st.columns([3, 2])
with left:
    st.subheader("Studies by year and design")
    chart("year", "year")
with right:
    st.subheader("Randomized or not")
    chart("randomized", "randomized")
    st.subheader("By setting")
    chart("setting", "setting")

left, right = st.columns([2, 3])
with left:
    st.subheader("By histology")
    chart("histology", "histology")
with right:
    st.subheader("Landmark trials")
    chart("landmark", "landmark")
    st.caption("Randomized trials beyond phase 2 and level-1 meta-analyses, by publication year; colour shows "
               "verification.")

# ------------------------------------------------------------------------------------------------ numbers behind
with st.expander("The numbers behind the charts"):
    by_histology, by_setting = specs["by_histology"], specs["by_setting"]
    table = (pd.concat([by_histology.assign(facet="Histology"), by_setting.assign(facet="Setting")])
             [["facet", "label", "studies"]].rename(columns={"facet": "Facet", "label": "Value",
                                                            "studies": "Studies"}))
    widgets.table(table, "dash_table", csv_name="brainmets_evidence_counts.csv")
    st.markdown("Open the explorer for a histology:")
    cols = st.columns(4)
    for i, row in enumerate(by_histology.itertuples(index=False)):
        cols[i % 4].page_link("pages/explorer.py", label=f"{row.label} ({row.studies})",
                              query_params={"histology": row.id})

widgets.footer(cache.release_info(con))
