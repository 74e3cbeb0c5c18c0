"""Drug–SRS toxicity: which systemic drugs change the risk of radiosurgery, by how much, and what to do about it."""

import streamlit as st

from kb.display import words
from kb.links import doi_url, pubmed_url
from ui import cache, gaps, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
facets = cache.evidence_facets(con)
LEAD_DRUG = "trastuzumab_emtansine"


st.title("Drug–SRS toxicity")
st.caption("Signals that a systemic drug given around radiosurgery changes toxicity (mostly radionecrosis) or "
           "efficacy. Each row names its timing window and source; guidance is in our own words.")

# ------------------------------------------------------------------------------------------------ lead example
lead = cache.drug_toxicity(con, drugs=(LEAD_DRUG,))
if not lead.empty:
    with st.container(border=True):
        st.markdown("**Lead example: trastuzumab emtansine (T-DM1) and radionecrosis**")
        for row in lead.itertuples(index=False):
            c1, c2, c3 = st.columns([1, 1, 3])
            c1.metric("With T-DM1", words(row.rate_with_drug_pct, "{:g}%"), help=row.toxicity_name)
            c2.metric("Without T-DM1", words(row.rate_without_drug_pct, "{:g}%"), help=row.toxicity_name)
            c3.markdown(f"**{widgets.escape(row.toxicity_name)}**")
            c3.markdown(widgets.escape(row.finding))
            c3.caption(f"{widgets.escape(row.citation)} · n = {widgets.escape(words(row.n_total, '{:g}'))} "
                       f"{widgets.escape(words(row.unit_of_analysis, '{}', ''))} · timing window: "
                       f"{widgets.escape(words(row.concurrency_window, '{}', 'not stated in the source'))} · "
                       f"evidence level {widgets.escape(words(row.evidence_level, '{:g}'))} · "
                       f"{widgets.badge(row.verification)}")
            if row.read_in:
                c3.markdown(f"[Where this was read](<{row.read_in}>)")

# ------------------------------------------------------------------------------------------------ filters
drug_options = dict(sorted(facets["drugs"].items(), key=lambda kv: kv[1].lower()))
with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    histologies = c1.multiselect("Histology", list(facets["histologies"]), format_func=facets["histologies"].get,
                                 key="tx_histology",
                                 default=widgets.param_list("histology", list(facets["histologies"])),
                                 help="Includes the histology's subtypes and its parent (a breast-cancer signal "
                                      "applies to HER2-positive breast cancer).")
    classes = c2.multiselect("Drug class", list(facets["drug_classes"]), format_func=facets["drug_classes"].get,
                             key="tx_class", default=widgets.param_list("drug_class", list(facets["drug_classes"])))
    drugs = c3.multiselect("Drug", list(drug_options), format_func=drug_options.get, key="tx_drug",
                           default=widgets.param_names("drug", facets["drug_lookup"], list(drug_options)),
                           help="Type a generic name, a brand or an abbreviation (T-DM1, Kadcyla, T-DXd, "
                                "Enhertu, dabrafenib…).")
    toxicities = c4.multiselect("Toxicity", list(facets["toxicities"]), format_func=facets["toxicities"].get,
                                key="tx_toxicity", default=widgets.param_list("toxicity", list(facets["toxicities"])))
    c1, c2, _ = st.columns([1, 2, 1])
    include_mixed = c1.toggle("Include mixed-histology cohorts", value=widgets.param_text("mixed") != "0",
                              key="tx_mixed", disabled=not histologies)
    verification = c2.multiselect("Verification", list(facets["verification"]), key="tx_verification",
                                  format_func=facets["verification"].get,
                                  default=widgets.param_list("verification", list(facets["verification"])))
widgets.sync_params(histology=histologies, drug_class=classes, drug=drugs, toxicity=toxicities,
                    mixed=None if include_mixed else "0", verification=verification)
active = [name for name, value in (("histology", histologies), ("drug class", classes), ("drug", drugs),
                                   ("toxicity", toxicities), ("verification", verification)) if value]

with st.spinner("Loading signals…"):
    signals = cache.drug_toxicity(con, tuple(histologies), include_mixed, tuple(drugs), tuple(classes),
                                  tuple(toxicities), tuple(verification))

st.markdown(f"**{len(signals)}** {'signal' if len(signals) == 1 else 'signals'}")
if signals.empty:
    widgets.empty_state(widgets.no_match_message("signal", active))
else:
    widgets.verification_caption(signals["verification"], "signals shown")
    # -------------------------------------------------------------------------------------------- charts
    specs = cache.toxicity_charts(con, tuple(histologies), include_mixed, tuple(drugs), tuple(classes),
                                  tuple(toxicities), tuple(verification))
    st.markdown("**Drug or class × toxicity** (number of signals)")
    st.vega_lite_chart(spec=specs["matrix"], width="stretch")
    st.markdown("**Rates with and without the drug** (%; the unit — patients or lesions — is in the table)")
    if specs["rates"]:
        st.vega_lite_chart(spec=specs["rates"], width="stretch")
    else:
        st.caption("No signal here reports a rate.")
    if specs["effects"]:
        st.markdown("**Effect measures with 95% CI** (with vs without the drug; log scale)")
        st.vega_lite_chart(spec=specs["effects"], width="stretch")

    # -------------------------------------------------------------------------------------------- every signal
    st.subheader("Every signal, with timing window and source")
    shown = signals.assign(
        window=signals["concurrency_window"].fillna("not stated in the source"),
        effect=[f"{r.effect_measure} {r.effect_value:g}" + (f" (95% CI {r.effect_ci_low:g}–{r.effect_ci_high:g})"
                                                             if widgets.present(r.effect_ci_low) else "")
                if widgets.present(r.effect_value) else None for r in signals.itertuples(index=False)],
        doi_link=signals["doi"].map(doi_url), pubmed=signals["pmid"].map(pubmed_url))[
        ["drug_label", "toxicity_name", "rate_with_drug_pct", "rate_without_drug_pct", "effect", "n_total",
         "unit_of_analysis", "drug_class_label", "histology", "p_value", "window", "finding", "evidence_level",
         "citation", "read_in", "doi_link", "pubmed", "verification"]].rename(columns={
            "drug_label": "Drug", "drug_class_label": "Class", "histology": "Histology", "toxicity_name": "Toxicity",
            "rate_with_drug_pct": "With drug (%)", "rate_without_drug_pct": "Without drug (%)", "n_total": "n",
            "unit_of_analysis": "Unit", "effect": "Effect", "p_value": "p", "window": "Timing window",
            "finding": "Finding", "evidence_level": "Evidence level", "citation": "Source", "read_in": "Read in",
            "doi_link": "DOI", "pubmed": "PubMed", "verification": "Verification"})
    widgets.table(shown, "tx_table", ["Drug", "Toxicity", "With drug (%)", "Without drug (%)", "Effect",
                                      "Timing window", "Source", "Read in"],
                  csv_name="brainmets_drug_srs_toxicity.csv",
                  column_config={"Drug": st.column_config.TextColumn(width=130),
                                 "n": st.column_config.NumberColumn(format="%d")})

    # -------------------------------------------------------------------------------------------- guidance
    st.subheader("Sequencing guidance")
    st.caption("In our own words, from each source; the evidence level says how much weight it bears "
               "(1 = meta-analysis of randomized trials … 5 = expert opinion).")
    guidance = (signals.assign(window=signals["concurrency_window"].fillna("not stated in the source"))
                .dropna(subset=["sequencing_guidance"])
                .drop_duplicates(subset=["drug_label", "sequencing_guidance"])
                [["drug_label", "sequencing_guidance", "evidence_level", "window", "citation", "read_in",
                  "verification"]]
                .rename(columns={"drug_label": "Drug", "sequencing_guidance": "Guidance",
                                 "evidence_level": "Evidence level", "window": "Timing window",
                                 "citation": "Source", "read_in": "Read in", "verification": "Verification"}))
    if guidance.empty:
        st.caption("No sequencing guidance is recorded for these signals.")
    else:
        widgets.table(guidance, "tx_guidance", ["Drug", "Guidance", "Evidence level", "Read in"],
                      csv_name="brainmets_sequencing_guidance.csv",
                      column_config={"Drug": st.column_config.TextColumn(width=130)})

gaps.uncurated_note(con, "drug_toxicity", drugs, classes)  # papers on the topic without figures
widgets.footer(cache.release_info(con))
