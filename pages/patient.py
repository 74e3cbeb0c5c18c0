"""Evidence for a patient: a profile (no names), and the studies, doses, drug signals, guidelines, imaging and gaps
in the KB that fit it — each item with its source, verification and the reasons it matched."""

from urllib.parse import urlencode

import streamlit as st

from kb.patient import STATEMENT, ProfileError, parse_profile, read_params
from kb.patient.profile import (MAX_DIAMETER_CM, MAX_DRUGS, MAX_METASTASES, MAX_VOLUME_CC, MIN_DIAMETER_CM,
                                MIN_VOLUME_CC)
from kb.patient.report import SECTION_TITLES
from ui import cache, routing, widgets
from ui.patient import item_markdown

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
vocab = cache.patient_vocabulary(con)
HISTOLOGIES, SETTINGS, DRUGS = cache.patient_choices(con)
PRIOR = {"": "Not stated", "yes": "Yes", "no": "No"}

st.title("Evidence for a patient")
st.info(STATEMENT + " Enter no names or identifiers: the profile is kept in the page address, so the view can be "
        "shared.", icon=":material/info:")

# ------------------------------------------------------------------------------------------------ the profile
params = {key: st.query_params.get_all(key) for key in st.query_params.keys()}
from_url, url_problems = read_params(vocab, params)
if url_problems:
    st.warning("The link holds values the KB does not accept, so they were left out: "
               + " ".join(widgets.escape(p) for p in url_problems), icon=":material/link_off:")

with st.container(border=True):
    c1, c2 = st.columns(2)
    histology = c1.selectbox("Primary tumour and molecular subtype", list(HISTOLOGIES), key="pt_histology",
                             index=list(HISTOLOGIES).index(from_url["histology_id"]) if from_url["histology_id"]
                             else None, format_func=HISTOLOGIES.get, placeholder="Choose the primary tumour…",
                             help="A subtype also finds the evidence for its primary tumour: HER2-positive breast "
                                  "cancer finds breast-cancer studies.")
    setting = c2.selectbox("Setting", list(SETTINGS), key="pt_setting", format_func=SETTINGS.get,
                           index=list(SETTINGS).index(from_url["setting_id"]) if from_url["setting_id"] else None,
                           placeholder="Not given")
    c1, c2, c3 = st.columns(3)
    metastases = c1.number_input("Number of brain metastases", min_value=0, max_value=MAX_METASTASES, step=1,
                                 value=from_url["metastases"], key="pt_mets", placeholder="Not given")
    diameter = c2.number_input("Largest diameter (cm)", min_value=MIN_DIAMETER_CM, max_value=MAX_DIAMETER_CM, step=0.1,
                               format="%.1f",
                               value=from_url["diameter_cm"], key="pt_diameter", placeholder="Not given")
    volume = c3.number_input("Largest volume (cc)", min_value=MIN_VOLUME_CC, max_value=MAX_VOLUME_CC, step=0.5,
                             format="%.2f",
                             value=from_url["volume_cc"], key="pt_volume", placeholder="Not given",
                             help="Of the largest lesion, or of the cavity after resection. Diameter and volume are "
                                  "never converted into each other.")
    c1, c2 = st.columns([1, 2])
    prior_value = {True: "yes", False: "no", None: ""}[from_url["prior_radiation"]]
    prior = c1.radio("Prior brain radiation", list(PRIOR), format_func=PRIOR.get, horizontal=True, key="pt_prior",
                     index=list(PRIOR).index(prior_value))
    drugs = c2.multiselect("Systemic drugs now given or planned", list(DRUGS), format_func=DRUGS.get,
                           default=from_url["drug_ids"], key="pt_drug", max_selections=MAX_DRUGS,
                           placeholder="Type a generic name, brand or abbreviation (T-DM1, Kadcyla, osimertinib)")

widgets.sync_params(histology=histology, mets=metastases, diameter=f"{diameter:g}" if diameter else None,
                    volume=f"{volume:g}" if volume else None, setting=setting, prior=prior or None, drug=drugs)

if not histology:
    st.caption("Choose the primary tumour to see the evidence; every other field is optional and narrows it.")
    widgets.footer(cache.release_info(con))
    st.stop()

try:
    profile = parse_profile(vocab, histology, metastases, diameter, volume, setting, prior or None, drugs)
except ProfileError as exc:  # the widgets only offer valid values; this is the safety net
    st.error(str(exc), icon=":material/error:")
    st.stop()

with st.spinner("Gathering the evidence…"):
    answer = cache.patient_evidence(con, profile)

# ------------------------------------------------------------------------------------------------ the answer
studies = answer["studies"]
covers = [s for s in studies if s["group"] == "covers"]
unknown = [s for s in studies if s["group"] != "covers"]
st.markdown(f"**{widgets.escape(answer['profile']['summary'])}**")
st.markdown(" · ".join([
    f"**{len(studies)}** {'study' if len(studies) == 1 else 'studies'}",
    f"**{len(answer['dose_schedules'])}** dose schedules", f"**{len(answer['drug_signals'])}** drug–SRS signals",
    f"**{len(answer['recommendations'])}** recommendations", f"**{len(answer['imaging'])}** imaging findings",
    f"**{len(answer['gaps'])}** gaps"]))
share_url = None
try:
    base = (st.context.url or "").split("?")[0]
    share_url = base + "?" + urlencode(profile.to_params(), doseq=True) if base else None
except Exception:  # no browser context (tests, scripts)
    share_url = None
st.download_button("Download a one-page summary with citations (Markdown)",
                   cache.patient_summary(con, profile, share_url), file_name="brainmets_patient_evidence.md",
                   mime="text/markdown", icon=":material/download:", on_click="ignore", key="pt_download")

tabs = st.tabs([f"Studies ({len(studies)})", f"Dose schedules ({len(answer['dose_schedules'])})",
                f"Drug signals ({len(answer['drug_signals'])})", f"Guidelines ({len(answer['recommendations'])})",
                f"Imaging ({len(answer['imaging'])})", f"What the KB does not know ({len(answer['gaps'])})"])


def show_items(section: str, items: list[dict], excluded: bool = False) -> None:
    """One Markdown block per group, items separated by rules: a few elements however long the list (fast reruns)."""
    if items:
        st.markdown("\n\n---\n\n".join(item_markdown(section, item, excluded) for item in items))


with tabs[0]:
    st.caption("Best evidence first: evidence level (1 = systematic review of randomized trials … 5 = expert "
               "opinion), randomized trials first, then the closest histology and setting.")
    widgets.verification_caption([s["verification"] for s in studies], "studies shown")
    st.subheader(f"Eligibility covers this profile ({len(covers)})")
    if covers:
        show_items("studies", covers)
    elif profile.metastases is None and profile.diameter_cm is None and profile.volume_cc is None:
        st.caption("Give the number of metastases or the lesion size above to check each study's eligibility.")
    else:
        widgets.empty_state("No study in the KB records an eligibility (number of metastases or size) that covers "
                            "this profile.")
    st.subheader(f"Eligibility not recorded in the KB ({len(unknown)})")
    st.caption("These studies match the histology and setting (or test the patient's drug), but the KB does not "
               "record their eligible number of metastases or lesion size — or records it in a unit the profile "
               "does not give. Check each paper.")
    show_items("studies", unknown)
    if answer["studies_excluded"]:
        with st.expander(f"Studies of this population whose eligibility excludes this profile "
                         f"({len(answer['studies_excluded'])})"):
            show_items("studies", answer["studies_excluded"], excluded=True)

with tabs[1]:
    st.caption("Schedules for the patient's setting whose stated size range does not exclude the lesion, fitting "
               "sizes first. BED and EQD2 are computed here as on the dosing page (linear-quadratic model, less "
               "reliable at the high doses per fraction of single-fraction SRS); they are never stored.")
    if answer["dose_schedules"]:
        show_items("dose_schedules", answer["dose_schedules"])
    else:
        widgets.empty_state("The KB holds no dose schedule for this setting and size.")

with tabs[2]:
    if not profile.drug_ids:
        st.caption("Add the patient's systemic drugs above to see the drug–SRS signals.")
    for drug_id in profile.drug_ids:
        st.markdown(f"#### {widgets.escape(vocab.drugs[drug_id].label)}")
        own = [s for s in answer["drug_signals"] if s["patient_drug_ids"][0] == drug_id]
        if own:
            show_items("drug_signals", own)
        else:
            st.caption("No signal in the KB concerns this drug (see “What the KB does not know”).")

with tabs[3]:
    st.caption("Side by side by body; strength exactly as each body grades it. Recommendations are our own words — "
               "read the guideline before acting on a summary.")
    recs = answer["recommendations"]
    if not recs:
        widgets.empty_state("No guideline recommendation in the KB addresses this profile.")
    for topic in dict.fromkeys(r["topic"] for r in recs):
        st.markdown(f"#### {widgets.escape(topic)}")
        on_topic = [r for r in recs if r["topic"] == topic]
        bodies = list(dict.fromkeys(r["body_short"] for r in on_topic))
        for start in range(0, len(bodies), 3):
            columns = st.columns(3)
            for column, body in zip(columns, bodies[start:start + 3]):
                with column:
                    st.markdown(f"**{widgets.escape(body)}**")
                    show_items("recommendations", [r for r in on_topic if r["body_short"] == body])
    if answer["recommendations_excluded"]:
        with st.expander(f"Recommendations whose stated population excludes this profile "
                         f"({len(answer['recommendations_excluded'])})"):
            show_items("recommendations", answer["recommendations_excluded"], excluded=True)

with tabs[4]:
    st.caption("Imaging evidence that applies to this profile: follow-up, and telling radionecrosis from "
               "progression when the profile raises that question.")
    if answer["imaging"]:
        show_items("imaging", answer["imaging"])
    else:
        widgets.empty_state("No imaging evidence in the KB applies to this profile.")

with tabs[5]:
    st.markdown(f"**{SECTION_TITLES['gaps']}**")
    st.markdown("\n".join(f"- {widgets.escape(gap)}" for gap in answer["gaps"]) or "Nothing to report.")

widgets.footer(cache.release_info(con))
