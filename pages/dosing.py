"""Dosing and fractionation: schedules by setting and lesion size, dose against size, a BED/EQD2 calculator and
normal-brain dose–volume limits. BED and EQD2 are always computed by kb.radiobiology, never stored."""

import streamlit as st

from kb.links import doi_url, pubmed_url
from kb.queries import DOSE_CATEGORIES
from kb.radiobiology import SCHEDULE_EXAMPLE, compare_schedules, format_schedules, parse_schedules
from ui import cache, gaps, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
facets = cache.evidence_facets(con)
TREATMENT = {k: v for k, v in DOSE_CATEGORIES.items() if k != "normal_tissue"}
DEFAULT_SCHEDULES = "24/1, 27/3, 30/5, 30/10"
SOURCE_COLUMNS = {"citation": "Source", "read_in": "Read in", "doi_link": "DOI", "pubmed": "PubMed",
                  "verification": "Verification"}

st.title("Dosing and fractionation")
st.caption("Prescribed schedules from the trials and guidelines in the KB. BED and EQD2 are computed from the dose "
           "with the linear-quadratic model, which is less reliable above about 8–10 Gy per fraction.")

with st.container(border=True):
    c1, c2, c3, c4 = st.columns(4)
    categories = c1.multiselect("Schedule type", list(TREATMENT), format_func=TREATMENT.get, key="do_category",
                                default=widgets.param_list("category", list(TREATMENT)))
    settings = c2.multiselect("Setting", list(facets["settings"]), format_func=facets["settings"].get,
                              key="do_setting", default=widgets.param_list("setting", list(facets["settings"])))
    diameter = c3.number_input("Lesion diameter (cm)", 0.1, 10.0, widgets.param_float("diam", None, 0.1, 10.0),
                               step=0.5, key="do_diam", placeholder="Any",
                               help="Keeps schedules whose diameter range covers it, and those that state no "
                                    "diameter range; empty = any.")
    volume = c4.number_input("Lesion volume (cc)", 0.1, 200.0, widgets.param_float("vol", None, 0.1, 200.0), step=1.0,
                             key="do_vol", placeholder="Any",
                             help="Keeps schedules whose volume range covers it, and those that state no volume "
                                  "range; empty = any.")
    hide_unsized = st.toggle("Hide schedules that state no size range", key="do_sized",
                             value=widgets.param_text("sized") == "only", disabled=not (diameter or volume),
                             help="Many schedules were reported without the lesion sizes they were used for; they "
                                  "are kept by default because unknown is not “excluded”.")
    verification = st.multiselect("Verification", list(facets["verification"]), key="do_verification",
                                  format_func=facets["verification"].get,
                                  default=widgets.param_list("verification", list(facets["verification"])))
hide_unsized = hide_unsized and bool(diameter or volume)
widgets.sync_params(category=categories, setting=settings, diam=diameter or None, vol=volume or None,
                    sized="only" if hide_unsized else None, verification=verification)
active = [name for name, value in (("schedule type", categories), ("setting", settings),
                                   ("lesion diameter", diameter), ("lesion volume", volume),
                                   ("verification", verification)) if value]

# ------------------------------------------------------------------------------------------------ schedules
st.subheader("Schedules by setting and lesion size")
with st.spinner("Loading schedules…"):
    schedules = cache.dose_schedules(con, tuple(categories), tuple(settings), diameter or None, volume or None,
                                     tuple(verification), False, not hide_unsized)
st.markdown(f"**{len(schedules)}** {'schedule' if len(schedules) == 1 else 'schedules'}")
if schedules.empty:
    widgets.empty_state(widgets.no_match_message("schedule", active)
                        + (" Schedules that state no size range are hidden by the switch." if hide_unsized else ""))
else:
    widgets.verification_caption(schedules["verification"], "schedules shown")
    unsized = schedules["size_range"].isna() & bool(diameter or volume)
    if unsized.any():
        st.caption(f"{widgets.plural(int(unsized.sum()), 'schedule', 'schedules')} shown state no lesion size "
                   "(Lesion size “not recorded”); the switch above hides them.")
        schedules = schedules.assign(size_range=schedules["size_range"].where(~unsized, "not recorded"))
    shown = schedules.assign(doi_link=schedules["doi"].map(doi_url), pubmed=schedules["pmid"].map(pubmed_url))[
        ["schedule", "size_range", "category_label", "setting", "dose_per_fraction_gy", "alpha_beta_gy", "bed_gy",
         "eqd2_gy", "description", "study", *SOURCE_COLUMNS]].rename(columns={
            "schedule": "Schedule", "category_label": "Type", "setting": "Setting", "size_range": "Lesion size",
            "dose_per_fraction_gy": "Dose per fraction (Gy)", "alpha_beta_gy": "α/β (Gy)",
            "bed_gy": "BED (Gy, computed)", "eqd2_gy": "EQD2 (Gy, computed)", "description": "Description",
            "study": "Study", **SOURCE_COLUMNS})
    widgets.table(shown, "do_table", ["Schedule", "Lesion size", "Type", "Study", "Source", "Read in"],
                  csv_name="brainmets_dose_schedules.csv",
                  column_config={"Schedule": st.column_config.TextColumn(width=110)})
    st.caption("Study: the trial a schedule comes from, where the KB links one; Source: the paper it was read in.")

    specs = cache.dose_charts(con, tuple(categories), tuple(settings), diameter or None, volume or None,
                              tuple(verification))
    c1, c2 = st.columns(2)
    for column, size, unit in ((c1, "diameter", "diameter"), (c2, "volume", "volume")):
        with column:
            st.markdown(f"**Dose against lesion {unit}**")
            if specs[size]:
                st.vega_lite_chart(spec=specs[size], width="stretch")
            else:
                st.caption(f"No schedule here states a {unit} range.")

# ------------------------------------------------------------------------------------------------ calculator
st.subheader("BED and EQD2 calculator")
st.caption(f"Write each schedule as total dose over fractions or fractions times dose — {SCHEDULE_EXAMPLE} — and "
           "separate them with commas. α/β 10 Gy is the usual value for tumour, 2 Gy for late effects in normal "
           "brain.")
c1, c2, c3 = st.columns([3, 1, 1])
text = c1.text_input("Schedules to compare", value=widgets.param_text("calc") or DEFAULT_SCHEDULES, key="do_calc",
                     max_chars=200)
ab_tumour = c2.number_input("α/β tumour (Gy)", 0.5, 30.0, widgets.param_float("ab", 10.0, 0.5, 30.0), step=0.5,
                            key="do_ab")
ab_normal = c3.number_input("α/β normal brain (Gy)", 0.5, 30.0, widgets.param_float("ab_normal", 2.0, 0.5, 30.0),
                            step=0.5, key="do_ab_normal")
try:
    parsed = parse_schedules(text)
except ValueError as exc:
    st.error(widgets.escape(f"{exc}."), icon=":material/error:")
    parsed = None
else:
    widgets.sync_params(calc=None if format_schedules(parsed) == DEFAULT_SCHEDULES else format_schedules(parsed),
                        ab=None if ab_tumour == 10.0 else ab_tumour, ab_normal=None if ab_normal == 2.0 else ab_normal)
if parsed == []:
    widgets.empty_state("No schedule to compare — write at least one, e.g. 27 Gy / 3 fx.")
elif parsed:
    compared = compare_schedules(parsed, ab_tumour, ab_normal)
    shown_calc = compared.rename(columns={
        "schedule": "Schedule", "total_dose_gy": "Total dose (Gy)", "fractions": "Fractions",
        "dose_per_fraction_gy": "Dose per fraction (Gy)", "bed_tumour_gy": f"BED tumour, α/β {ab_tumour:g} (Gy)",
        "eqd2_tumour_gy": f"EQD2 tumour, α/β {ab_tumour:g} (Gy)",
        "bed_normal_gy": f"BED normal brain, α/β {ab_normal:g} (Gy)",
        "eqd2_normal_gy": f"EQD2 normal brain, α/β {ab_normal:g} (Gy)"})
    widgets.table(shown_calc, "do_calc", ["Schedule", f"BED tumour, α/β {ab_tumour:g} (Gy)",
                                          f"BED normal brain, α/β {ab_normal:g} (Gy)"],
                  csv_name="brainmets_bed_comparison.csv",
                  column_config={"Schedule": st.column_config.TextColumn(width=110)})
    st.vega_lite_chart(spec=cache.bed_chart(tuple(parsed), ab_tumour, ab_normal), width="stretch")

# ------------------------------------------------------------------------------------------------ normal brain
st.subheader("Normal-brain dose–volume limits and radionecrosis risk")
limits = cache.dose_schedules(con, (), tuple(settings), None, None, tuple(verification), True)
if limits.empty:
    widgets.empty_state(widgets.no_match_message("normal-brain limit", [a for a in active if a in
                                                                        ("setting", "verification")]))
else:
    widgets.verification_caption(limits["verification"], "limits shown")
    shown_limits = limits.assign(doi_link=limits["doi"].map(doi_url), pubmed=limits["pmid"].map(pubmed_url))[
        ["reported_risk_pct", "risk_endpoint", "size_range", "schedule", "dose_volume_metric", "volume_limit_cc",
         "setting",
         "description", "study", *SOURCE_COLUMNS]].rename(columns={
            "dose_volume_metric": "Metric", "volume_limit_cc": "Volume limit (cc)",
            "reported_risk_pct": "Reported risk (%)", "risk_endpoint": "Risk of", "schedule": "Schedule",
            "setting": "Setting", "size_range": "Lesion size", "description": "Description", "study": "Study",
            **SOURCE_COLUMNS})
    widgets.table(shown_limits, "do_limits", ["Reported risk (%)", "Risk of", "Lesion size", "Schedule", "Metric",
                                              "Volume limit (cc)", "Source", "Read in"],
                  csv_name="brainmets_normal_brain_limits.csv",
                  column_config={"Reported risk (%)": st.column_config.NumberColumn(width=90),
                                 "Risk of": st.column_config.TextColumn(width=220)})

gaps.uncurated_note(con, "dosing")  # papers on the topic without curated figures
widgets.footer(cache.release_info(con))
