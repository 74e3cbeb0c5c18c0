"""Trial explorer: filter the studies, read one in full, compare results across the studies shown."""

import streamlit as st

from kb.display import MISSING_WORDS, is_missing
from kb.links import doi_url, nct_url, pubmed_url, verified_in_url
from kb.queries import StudyFilters, size_range
from kb.radiobiology import with_bed
from ui import cache, gaps, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
facets = cache.evidence_facets(con)
lo, hi = facets["year_min"], facets["year_max"]
RANDOMIZED = {"any": "Any design", "yes": "Randomized only", "no": "Not randomized"}
SORTS = {"year": "Newest first", "oldest": "Oldest first", "level": "Evidence level", "enrolled": "Most patients",
         "name": "Name"}

st.title("Trial explorer")
st.caption("Studies on SRS for brain metastases, filtered by who was treated and how. Select a row to read the "
           "study; the filters live in the page address, so a view can be shared.")

# ------------------------------------------------------------------------------------------------ filters
with st.container(border=True):
    c1, c2, c3 = st.columns(3)
    histologies = c1.multiselect("Histology or molecular subtype", list(facets["histologies"]),
                                 default=widgets.param_list("histology", list(facets["histologies"])),
                                 format_func=facets["histologies"].get, key="ex_histology",
                                 help="A histology includes its subtypes: melanoma finds BRAF V600-mutant studies.")
    settings = c2.multiselect("Setting", list(facets["settings"]),
                              default=widgets.param_list("setting", list(facets["settings"])),
                              format_func=facets["settings"].get, key="ex_setting")
    interventions = c3.multiselect("Intervention", list(facets["interventions"]),
                                   default=widgets.param_list("intervention", list(facets["interventions"])),
                                   format_func=facets["interventions"].get, key="ex_intervention")
    c1, c2, c3, c4 = st.columns([3, 2, 2, 3])
    years = c1.slider("Publication year", lo, hi, (widgets.param_int("from", lo, lo, hi),
                                                   widgets.param_int("to", hi, lo, hi)), key="ex_years")
    metastases = c2.number_input("Patient's number of brain metastases", 1, 100,
                                 widgets.param_int("mets", None, 1, 100), key="ex_mets", placeholder="Any",
                                 help="Keeps studies whose eligibility covers this number, and those that do not "
                                      "record their eligibility (marked “not recorded”); empty = any.")
    lesion_cm = c3.number_input("Largest lesion (cm)", 0.1, 10.0, widgets.param_float("size", None, 0.1, 10.0),
                                step=0.5, key="ex_size", placeholder="Any",
                                help="Keeps studies whose size limit allows this diameter, and those that record no "
                                     "size limit (marked “not recorded”); empty = any.")
    text = c4.text_input("Words in name, acronym, NCT id or result", value=widgets.param_text("q"), max_chars=200,
                         key="ex_q", placeholder="e.g. N0574 or CheckMate")
    hide_unrecorded = st.toggle("Hide studies that do not record this eligibility", key="ex_recorded",
                                value=widgets.param_text("recorded") == "only",
                                disabled=not (metastases or lesion_cm),
                                help="Most studies in the KB do not record how many metastases or how large a lesion "
                                     "they admitted; they are kept by default because unknown is not “excluded”.")
    more_set = any(st.query_params.get_all(k) for k in ("design", "phase", "randomized", "drug", "drug_class",
                                                        "endpoint", "verification"))
    with st.expander("Design, drugs, endpoints, verification", expanded=more_set):
        c1, c2, c3 = st.columns(3)
        designs = c1.multiselect("Design", list(facets["designs"]),
                                 default=widgets.param_list("design", list(facets["designs"])),
                                 format_func=facets["designs"].get, key="ex_design")
        phases = c2.multiselect("Phase", list(facets["phases"]),
                                default=widgets.param_list("phase", list(facets["phases"])),
                                format_func=facets["phases"].get, key="ex_phase")
        randomized = c3.selectbox("Randomization", list(RANDOMIZED), format_func=RANDOMIZED.get, key="ex_randomized",
                                  index=list(RANDOMIZED).index(widgets.param_choice("randomized", list(RANDOMIZED),
                                                                                    "any")))
        c1, c2, c3 = st.columns(3)
        drugs = c1.multiselect("Drug", list(facets["drugs"]), format_func=facets["drugs"].get, key="ex_drug",
                               default=widgets.param_names("drug", facets["drug_lookup"], list(facets["drugs"])),
                               help="Type a generic name, a brand or an abbreviation (T-DM1, Kadcyla, T-DXd…).")
        drug_classes = c2.multiselect("Drug class", list(facets["drug_classes"]),
                                      default=widgets.param_list("drug_class", list(facets["drug_classes"])),
                                      format_func=facets["drug_classes"].get, key="ex_drug_class")
        endpoints = c3.multiselect("Endpoint reported", list(facets["endpoints"]),
                                   default=widgets.param_list("endpoint", list(facets["endpoints"])),
                                   format_func=facets["endpoints"].get, key="ex_endpoint")
        c1, c2, _ = st.columns(3)
        verification = c1.multiselect("Study verification", list(facets["verification"]),
                                      default=widgets.param_list("verification", list(facets["verification"])),
                                      format_func=facets["verification"].get, key="ex_verification")
        sort = c2.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key="ex_sort",
                            index=list(SORTS).index(widgets.param_choice("sort", list(SORTS), "year")))

year_from = years[0] if years[0] != lo else None
year_to = years[1] if years[1] != hi else None
filters = StudyFilters(
    histologies=tuple(histologies), settings=tuple(settings), metastases=metastases or None,
    lesion_cm=lesion_cm or None, keep_unrecorded=not hide_unrecorded, designs=tuple(designs),
    phases=tuple(phases), randomized={"yes": True, "no": False}.get(randomized), interventions=tuple(interventions),
    drugs=tuple(drugs), drug_classes=tuple(drug_classes), endpoints=tuple(endpoints), year_min=year_from,
    year_max=year_to, verification=tuple(verification), text=text.strip())
widgets.sync_params(histology=histologies, setting=settings, intervention=interventions, design=designs,
                    phase=phases, randomized=None if randomized == "any" else randomized, drug=drugs,
                    drug_class=drug_classes, endpoint=endpoints, verification=verification,
                    mets=metastases or None, size=lesion_cm or None,
                    recorded="only" if hide_unrecorded and (metastases or lesion_cm) else None,
                    q=text.strip(), sort=None if sort == "year" else sort,
                    **{"from": year_from, "to": year_to})
active = [name for name, value in (
    ("histology", histologies), ("setting", settings), ("intervention", interventions),
    ("year", year_from or year_to), ("number of metastases", metastases), ("lesion size", lesion_cm),
    ("text", text.strip()),
    ("design", designs), ("phase", phases), ("randomization", randomized != "any"), ("drug", drugs),
    ("drug class", drug_classes), ("endpoint", endpoints), ("verification", verification)) if value]

# ------------------------------------------------------------------------------------------------ evidence table
with st.spinner("Finding studies…"):
    rows = cache.studies(con, filters, sort)
total = cache.headline_figures(con)["studies"]

st.markdown(f"**{len(rows)}** of {widgets.plural(total, 'study', 'studies')}")
if rows.empty:
    widgets.empty_state(widgets.no_match_message("study", active))
    selected_from_table = None
else:
    widgets.verification_caption(rows["verification"], "studies shown")
    unrecorded = (~rows["mets_recorded"] & bool(metastases)) | (~rows["size_recorded"] & bool(lesion_cm))
    if unrecorded.any():
        st.caption(f"{widgets.plural(int(unrecorded.sum()), 'study', 'studies')} shown do not record this "
                   "eligibility (“not recorded” below); the switch above hides them.")
    shown = rows.assign(
        outcomes=rows["n_outcomes_verified"].astype(str) + " of " + rows["n_outcomes"].astype(str) + " verified",
        metastases=[size_range(a, b, "") or "not recorded" for a, b in zip(rows["mets_min"], rows["mets_max"])],
        size_limit=[size_range(None, d, "cm") or "not recorded" for d in rows["max_diameter_cm"]],
        doi_link=rows["doi"].map(doi_url), pubmed=rows["pmid"].map(pubmed_url), registry=rows["nct_id"].map(nct_url),
    )[["short_name", "year", "metastases", "size_limit", "n_enrolled", "design", "phase", "histologies", "settings",
       "interventions", "drugs", "evidence_level", "outcomes", "verification", "read_in", "doi_link", "pubmed",
       "registry"]].rename(columns={
        "short_name": "Study", "year": "Year", "design": "Design", "phase": "Phase", "histologies": "Histology",
        "settings": "Setting", "interventions": "Interventions", "drugs": "Drugs", "n_enrolled": "Enrolled",
        "metastases": "Metastases eligible", "size_limit": "Lesion size limit", "evidence_level": "Evidence level",
        "outcomes": "Outcome figures", "verification": "Verification", "read_in": "Read in", "doi_link": "DOI",
        "pubmed": "PubMed", "registry": "ClinicalTrials.gov"})
    essentials = ["Study", "Year", "Metastases eligible", "Enrolled", "Design", "Read in"]
    if lesion_cm:
        essentials.insert(3, "Lesion size limit")
    event = widgets.table(shown, "ex_table", essentials, select=True, csv_name="brainmets_studies.csv",
                          column_config={"Study": st.column_config.TextColumn(width=160),
                                         "Year": st.column_config.NumberColumn(format="%d", width=52),
                                         "Enrolled": st.column_config.NumberColumn(format="%d", width="small"),
                                         "Phase": st.column_config.TextColumn(width="small")})
    picked = event.selection.rows if event is not None else []
    selected_from_table = rows["study_id"].iloc[picked[0]] if picked else None

# ------------------------------------------------------------------------------------------------ one study
names = dict(zip(rows["study_id"], rows["short_name"]))
url_study = widgets.param_text("study", 80)
if "ex_study" not in st.session_state:
    st.session_state["ex_study"] = url_study
if selected_from_table and selected_from_table != st.session_state.get("_ex_last_pick"):
    st.session_state["ex_study"] = selected_from_table
st.session_state["_ex_last_pick"] = selected_from_table
current = st.session_state["ex_study"]
options = [""] + list(names)
if current and current not in names:
    detail_names = cache.study_detail(con, current)["study"]
    if detail_names.empty:
        st.session_state["ex_study"] = current = ""
    else:
        names[current] = detail_names["short_name"].iloc[0]
        options.append(current)

st.subheader("Study details")
study_id = st.selectbox("Study", options, key="ex_study", format_func=lambda s: names.get(s, "Choose a study…"),
                        help="Or select a row in the table above.")
widgets.sync_params(study=study_id)

if not study_id:
    st.caption("Select a row in the table, or choose a study above, to see its arms, outcomes with confidence "
               "intervals, toxicity signals and citations.")
else:
    detail = cache.study_detail(con, study_id)
    study = detail["study"].iloc[0]
    st.markdown(f"#### {widgets.escape(study['short_name'])}")
    badges = [study["design"]]
    if isinstance(study["phase"], str):
        badges.append("phase " + study["phase"])
    if study["evidence_level"] == study["evidence_level"] and study["evidence_level"] is not None:
        badges.append(f"evidence level {int(study['evidence_level'])}")
    if study["year"] == study["year"] and study["year"] is not None:
        badges.append(str(int(study["year"])))
    st.markdown(" · ".join([widgets.badge(study["verification"])] + [widgets.escape(str(b)) for b in badges]))
    if not is_missing(study["key_result"]):
        st.text(study["key_result"])  # plain text: nothing in it is ever a link or markup
    facts = {"Histology": study["histologies"], "Setting": study["settings"],
             "Primary endpoint": study["primary_endpoint"],
             "Enrolled": None if is_missing(study["n_enrolled"]) else f"{int(study['n_enrolled']):,} patients",
             "Metastases eligible": size_range(study["mets_min"], study["mets_max"], "") or "not recorded",
             "Size limit": study["size_note"] if not is_missing(study["size_note"])
             else size_range(None, study["max_diameter_cm"], "cm") or "not recorded",
             "Curator's note": study["note"]}
    st.markdown("  \n".join(f"**{label}:** " + (widgets.escape(value) if not is_missing(value) else
                                                 f"*{MISSING_WORDS}*")
                            for label, value in facts.items() if label != "Curator's note" or not is_missing(value)))
    links = [(label, url) for label, url in (
        ("DOI", doi_url(study["doi"])), ("PubMed", pubmed_url(study["pmid"])),
        ("ClinicalTrials.gov", nct_url(study["nct_id"])),
        ("Page it was verified in", verified_in_url(study["verified_in"])))
        if url]
    if links:
        cols = st.columns(len(links))
        for col, (label, url) in zip(cols, links):
            col.link_button(label, url, icon=":material/open_in_new:", width="stretch")

    arms_tab, outcomes_tab, toxicity_tab, citations_tab = st.tabs(
        [f"Arms ({len(detail['arms'])})", f"Outcomes ({len(detail['outcomes'])})",
         f"Toxicity signals ({len(detail['toxicity'])})", f"Citations ({len(detail['citations'])})"])
    with arms_tab:
        arms = detail["arms"]
        if arms.empty:
            st.caption("No arms are recorded for this study.")
        else:
            arms = with_bed(arms.assign(alpha_beta_gy=10.0))
            shown_arms = arms[["label", "n_patients", "total_dose_gy", "fractions", "bed_gy", "interventions", "drug",
                               "description"]].rename(columns={
                "label": "Arm", "n_patients": "Patients", "interventions": "Interventions", "drug": "Drug",
                "total_dose_gy": "Total dose (Gy)", "fractions": "Fractions",
                "bed_gy": "BED₁₀ (Gy, computed)", "description": "Description"})
            widgets.table(shown_arms, "ex_arms", ["Arm", "Patients", "Total dose (Gy)", "Fractions"],
                          csv_name=f"{study_id}_arms.csv",
                          column_config={"Patients": st.column_config.NumberColumn(format="%d"),
                                         "Fractions": st.column_config.NumberColumn(format="%d")})
    with outcomes_tab:
        outcomes = detail["outcomes"]
        if outcomes.empty:
            st.caption("No outcome figures are recorded for this study yet.")
        else:
            widgets.verification_caption(outcomes["verification"], "these figures")
            shown_outcomes = outcomes[["endpoint", "endpoint_detail", "result", "arm", "comparator", "population",
                                       "population_note", "n_evaluated", "verification", "read_in"]].rename(columns={
                "endpoint": "Endpoint", "endpoint_detail": "Measure", "arm": "Arm", "comparator": "Compared with",
                "result": "Result", "n_evaluated": "n evaluated", "population": "Population",
                "population_note": "Population details", "verification": "Verification", "read_in": "Read in"})
            widgets.table(shown_outcomes, "ex_outcomes", ["Endpoint", "Result", "Population", "Arm", "Compared with",
                                                          "Read in"],
                          csv_name=f"{study_id}_outcomes.csv",
                          column_config={"n evaluated": st.column_config.NumberColumn(format="%d")})
            specs = cache.study_charts(con, study_id)
            if specs["forest"]:
                st.markdown("**Between-arm effects** (95% CI; log scale)")
                st.vega_lite_chart(spec=specs["forest"], width="stretch")
            if specs["rates"]:
                st.markdown("**Rates per arm** (95% CI where reported)")
                st.vega_lite_chart(spec=specs["rates"], width="stretch")
    with toxicity_tab:
        toxicity = detail["toxicity"]
        if toxicity.empty:
            st.caption("No drug–SRS toxicity signal is recorded for this study.")
        else:
            shown_toxicity = toxicity[["drug", "toxicity_name", "rate_with_drug_pct", "rate_without_drug_pct",
                                       "finding", "citation", "verification", "read_in"]].rename(columns={
                "drug": "Drug", "toxicity_name": "Toxicity", "rate_with_drug_pct": "With drug (%)",
                "rate_without_drug_pct": "Without drug (%)", "finding": "Finding", "citation": "Source",
                "verification": "Verification", "read_in": "Read in"})
            widgets.table(shown_toxicity, "ex_toxicity", ["Drug", "Toxicity", "With drug (%)", "Without drug (%)",
                                                          "Read in"])
            st.page_link("pages/toxicity.py", label="All drug–SRS toxicity signals",
                         icon=":material/medication:")
    with citations_tab:
        citations = detail["citations"]
        if citations.empty:
            st.caption("No publication is linked to this study yet.")
        else:
            shown_citations = citations.assign(doi_link=citations["doi"].map(doi_url),
                                               pubmed=citations["pmid"].map(pubmed_url))[
                ["role", "first_author", "year", "title", "journal", "volume", "pages", "doi_link", "pubmed",
                 "verification"]].rename(columns={
                    "role": "Role", "first_author": "First author", "year": "Year", "title": "Title",
                    "journal": "Journal", "volume": "Volume", "pages": "Pages", "doi_link": "DOI", "pubmed": "PubMed",
                    "verification": "Verification"})
            widgets.table(shown_citations, "ex_citations", ["First author", "Year", "Title", "DOI", "PubMed"],
                          csv_name=f"{study_id}_citations.csv",
                          column_config={"Year": st.column_config.NumberColumn(format="%d", width="small")})

# ------------------------------------------------------------------------------------------------ compare results
st.subheader("Compare results across the studies shown")
choices = cache.endpoint_choices(con, tuple(rows["study_id"]))
if choices.empty:
    widgets.empty_state("No study shown reports a hazard ratio or a rate — widen the filters above.")
else:
    endpoint_names = dict(zip(choices["endpoint_id"], choices["endpoint"]))
    preferred = next((e for e in endpoints if e in endpoint_names), next(iter(endpoint_names)))
    endpoint = st.selectbox("Endpoint", list(endpoint_names), format_func=endpoint_names.get, key="ex_compare",
                            index=list(endpoint_names).index(widgets.param_choice("compare", list(endpoint_names),
                                                                                   preferred)))
    widgets.sync_params(compare=None if endpoint == preferred else endpoint)
    specs = cache.comparison_charts(con, tuple(rows["study_id"]), endpoint)
    st.markdown(f"**Between-arm effects** — {specs['n_ratios']} (HR/OR/RR with 95% CI; log scale)")
    if specs["forest"]:
        st.vega_lite_chart(spec=specs["forest"], width="stretch")
    else:
        st.caption("No hazard, odds or risk ratio for this endpoint among the studies shown.")
    st.markdown(f"**Rates per arm** — {specs['n_rates']} (%, 95% CI where reported)")
    if specs["rates"]:
        st.vega_lite_chart(spec=specs["rates"], width="stretch")
    else:
        st.caption("No per-arm rate for this endpoint among the studies shown.")
    st.caption("Figures differ in timepoint, population and definition; read each study before comparing. "
               "Colour shows verification.")
    comparable = cache.comparable_outcomes(con, tuple(rows["study_id"]), endpoint)
    shown_comparable = comparable[["short_name", "result", "arm", "comparator", "timepoint_months", "population",
                                   "endpoint_detail", "population_note", "verification", "read_in"]].rename(columns={
        "short_name": "Study", "arm": "Arm", "comparator": "Compared with", "result": "Result",
        "timepoint_months": "Timepoint (months)", "population": "Population", "endpoint_detail": "Measure",
        "population_note": "Population details", "verification": "Verification", "read_in": "Read in"})
    with st.expander(f"The {len(shown_comparable)} figures charted"):
        widgets.table(shown_comparable, "ex_compare_table", ["Study", "Result", "Arm", "Compared with", "Read in"],
                      csv_name=f"brainmets_{endpoint}_figures.csv",
                      column_config={"Study": st.column_config.TextColumn(width=160)})

gaps.uncurated_note(con, "clinical_studies")  # papers on the topic without curated figures
widgets.footer(cache.release_info(con))
