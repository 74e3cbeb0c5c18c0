"""The evidence pages' queries: each filter returns what data/ says it should, in one query per view.

Expectations are derived from data/*.csv in the test (curation adds rows while we work) or are specific known
records (CheckMate 204 is melanoma; NCCTG N0574 is randomized phase 3 with 1–3 metastases; ref028 is Brown 2016).
"""

from pathlib import Path

import pandas as pd
import pytest

from kb import queries
from kb.queries import StudyFilters
from kb.radiobiology import bed

DATA = Path(__file__).resolve().parent.parent / "data"


def csv(table: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{table}.csv", dtype=str, keep_default_na=False)


def ids(frame: pd.DataFrame) -> set[str]:
    return set(frame["study_id"])


def studies_in_histology(histology: str) -> set[str]:
    """From data/: studies coded with the histology or one of its subtypes."""
    hist = csv("histologies")
    wanted = {histology} | set(hist.loc[hist["parent_id"] == histology, "histology_id"])
    links = csv("study_histologies")
    return set(links.loc[links["histology_id"].isin(wanted), "study_id"])


def study_years() -> dict[str, int]:
    """From data/: a study's year is its primary paper's year, else its earliest linked paper's."""
    links = csv("study_sources").merge(csv("sources")[["source_id", "year"]], on="source_id")
    links["year"] = links["year"].astype(int)
    primary = links[links["role"] == "primary"].groupby("study_id")["year"].min()
    earliest = links.groupby("study_id")["year"].min()
    return {s: int(primary.get(s, earliest[s])) for s in earliest.index}


# ------------------------------------------------------------------------------------------------ study filters
@pytest.mark.parametrize("histology, must_include, must_exclude", [
    # a histology includes its subtypes: COMBI-MB is coded melanoma BRAF V600
    ("melanoma", {"checkmate204", "abc", "combi_mb"}, {"her2climb", "alex", "n0574"}),
    ("melanoma_braf", {"combi_mb"}, {"checkmate204", "abc"}),
    ("breast_her2pos", {"her2climb"}, {"checkmate204"}),
    ("nsclc", {"alex", "crown"}, {"checkmate204"}),
    ("nsclc_alk", {"alex", "crown"}, {"combi_mb"}),
])
def test_histology_filter_returns_the_studies_coded_with_it_or_its_subtypes(con, histology, must_include,
                                                                             must_exclude):
    found = ids(queries.studies(con, StudyFilters(histologies=(histology,))))
    assert found == studies_in_histology(histology)
    assert must_include <= found
    assert not found & must_exclude


def test_two_histologies_return_the_union(con):
    found = ids(queries.studies(con, StudyFilters(histologies=("melanoma", "breast_her2pos"))))
    assert found == studies_in_histology("melanoma") | studies_in_histology("breast_her2pos")


@pytest.mark.parametrize("setting", ["intact", "postoperative", "preoperative", "systemic_only"])
def test_setting_filter_matches_study_settings(con, setting):
    links = csv("study_settings")
    expected = set(links.loc[links["setting_id"] == setting, "study_id"])
    assert ids(queries.studies(con, StudyFilters(settings=(setting,)))) == expected
    assert expected


@pytest.mark.parametrize("metastases, included, excluded", [
    (7, {"hartgerink2021", "metis", "cyber_space"}, {"n0574", "eortc22952"}),
    (2, {"n0574", "eortc22952", "metis"}, {"hartgerink2021"}),
])
def test_metastases_filter_keeps_studies_whose_eligibility_covers_the_number(con, metastases, included, excluded):
    studies = csv("studies")
    low = pd.to_numeric(studies["mets_min"].replace("", None))
    high = pd.to_numeric(studies["mets_max"].replace("", None))
    recorded = low.notna() | high.notna()
    covers = recorded & (low.fillna(1) <= metastases) & (high.isna() | (high >= metastases))
    hidden = ids(queries.studies(con, StudyFilters(metastases=metastases, keep_unrecorded=False)))
    assert hidden == set(studies.loc[covers, "study_id"])
    assert included <= hidden and not hidden & excluded
    # by default the studies that record no eligibility stay, flagged: unknown is not "excluded"
    kept = queries.studies(con, StudyFilters(metastases=metastases))
    assert ids(kept) == set(studies.loc[covers | ~recorded, "study_id"])
    assert set(kept.loc[~kept["mets_recorded"], "study_id"]) == set(studies.loc[~recorded, "study_id"])
    assert "checkmate204" in ids(kept) and not kept.set_index("study_id").loc["checkmate204", "mets_recorded"]


def test_melanoma_checkpoint_inhibitor_and_three_metastases_lists_the_melanoma_ici_studies(con):
    both = StudyFilters(histologies=("melanoma",), drug_classes=("immune_checkpoint_inhibitor",))
    everything = ids(queries.studies(con, both))
    with_three = queries.studies(con, StudyFilters(histologies=both.histologies, drug_classes=both.drug_classes,
                                                   metastases=3))
    assert {"checkmate204", "abc"} <= everything
    # every melanoma ICI study either admits 3 metastases or does not record its eligibility
    assert ids(with_three) == everything
    assert not with_three.loc[with_three["study_id"] == "checkmate204", "mets_recorded"].any()


def test_lesion_size_filter_keeps_unrecorded_limits_unless_asked(con):
    studies = csv("studies")
    limit = pd.to_numeric(studies["max_diameter_cm"].replace("", None))
    kept = ids(queries.studies(con, StudyFilters(lesion_cm=3.5)))
    strict = ids(queries.studies(con, StudyFilters(lesion_cm=3.5, keep_unrecorded=False)))
    assert strict == set(studies.loc[limit >= 3.5, "study_id"])
    assert kept == set(studies.loc[(limit >= 3.5) | limit.isna(), "study_id"])


def test_design_phase_and_randomization_filters(con):
    studies = csv("studies")
    rct3 = ids(queries.studies(con, StudyFilters(designs=("rct",), phases=("3",))))
    assert rct3 == set(studies.loc[(studies["design_id"] == "rct") & (studies["phase"] == "3"), "study_id"])
    assert "n0574" in rct3
    randomized = ids(queries.studies(con, StudyFilters(randomized=True)))
    assert randomized == set(studies.loc[studies["randomized"] == "true", "study_id"])
    not_randomized = ids(queries.studies(con, StudyFilters(randomized=False)))
    assert randomized | not_randomized == set(studies["study_id"]) and not randomized & not_randomized


@pytest.mark.parametrize("intervention, known", [("ha_wbrt", "nrg_cc001"), ("srs", "n0574"), ("surgery", "n107c")])
def test_intervention_filter_looks_at_every_arm(con, intervention, known):
    arms = csv("arms").merge(csv("arm_interventions"), on="arm_id")
    expected = set(arms.loc[arms["intervention_id"] == intervention, "study_id"])
    found = ids(queries.studies(con, StudyFilters(interventions=(intervention,))))
    assert found == expected and known in found


def test_drug_and_drug_class_filters(con):
    arms = csv("arms").merge(csv("drugs"), on="drug_id")
    by_drug = ids(queries.studies(con, StudyFilters(drugs=("tucatinib",))))
    assert by_drug == set(arms.loc[arms["drug_id"] == "tucatinib", "study_id"]) and "her2climb" in by_drug
    by_class = ids(queries.studies(con, StudyFilters(drug_classes=("immune_checkpoint_inhibitor",))))
    assert by_class == set(arms.loc[arms["drug_class"] == "immune_checkpoint_inhibitor", "study_id"])
    assert "checkmate204" in by_class and "combi_mb" not in by_class


@pytest.mark.parametrize("endpoint", ["overall_survival", "radionecrosis", "cognitive_deterioration"])
def test_endpoint_filter_keeps_studies_reporting_it(con, endpoint):
    outcomes = csv("outcomes")
    expected = set(outcomes.loc[outcomes["endpoint_id"] == endpoint, "study_id"])
    assert ids(queries.studies(con, StudyFilters(endpoints=(endpoint,)))) == expected
    assert expected


def test_year_range_uses_the_primary_paper_year(con):
    years = study_years()
    found = queries.studies(con, StudyFilters(year_min=2015, year_max=2018))
    assert ids(found) == {s for s, y in years.items() if 2015 <= y <= 2018}
    n0574 = queries.studies(con, StudyFilters(study_ids=("n0574",)))
    assert n0574["year"].iloc[0] == years["n0574"] == 2016


def test_verification_filter(con):
    studies = csv("studies")
    found = ids(queries.studies(con, StudyFilters(verification=("secondary",))))
    assert found == set(studies.loc[studies["verification"] == "secondary", "study_id"])


@pytest.mark.parametrize("text, expected", [("N0574", "n0574"), ("checkmate", "checkmate204"),
                                            ("NCT02360215", "nrg_cc001")])
def test_text_filter_finds_names_acronyms_and_nct_ids(con, text, expected):
    assert expected in ids(queries.studies(con, StudyFilters(text=text)))


@pytest.mark.parametrize("hostile", ["'; DROP TABLE studies; --", "%", "_", "\\", "<script>", "melanoma' OR '1'='1"])
def test_hostile_filter_values_match_nothing_and_harm_nothing(con, hostile):
    assert queries.studies(con, StudyFilters(histologies=(hostile,))).empty
    assert queries.studies(con, StudyFilters(settings=(hostile,), designs=(hostile,))).empty
    assert queries.drug_toxicity(con, histologies=(hostile,), include_mixed=False).empty
    assert queries.count(con, "studies") == len(csv("studies"))


@pytest.mark.parametrize("hostile", ["'; DROP TABLE studies; --", "<script>alert(1)</script>", "zzzz qqqq"])
def test_hostile_text_matches_nothing(con, hostile):
    assert queries.studies(con, StudyFilters(text=hostile)).empty


def test_percent_sign_in_text_is_a_literal_not_a_wildcard(con):
    found = ids(queries.studies(con, StudyFilters(text="%")))
    studies = csv("studies")
    text = studies[["short_name", "aliases", "nct_id", "key_result", "primary_endpoint"]].agg(" ".join, axis=1)
    assert found == set(studies.loc[text.str.contains("%", regex=False), "study_id"])
    assert len(found) < len(studies)


def test_filters_combine_with_and(con):
    found = ids(queries.studies(con, StudyFilters(histologies=("melanoma",), settings=("systemic_only",))))
    assert found == studies_in_histology("melanoma") & set(
        csv("study_settings").query("setting_id == 'systemic_only'")["study_id"])
    assert {"checkmate204", "abc"} <= found


def test_study_list_has_one_row_per_study_with_its_links(con):
    frame = queries.studies(con)
    assert frame["study_id"].is_unique and len(frame) == len(csv("studies"))
    n0574 = frame.set_index("study_id").loc["n0574"]
    assert n0574["randomized"] and n0574["phase"] == "3" and n0574["design_id"] == "rct"
    assert n0574["first_author"].startswith("Brown")
    checkmate = frame.set_index("study_id").loc["checkmate204"]
    assert checkmate["histology_ids"] == ["melanoma"] and "Melanoma" in checkmate["histologies"]
    outcomes = csv("outcomes")
    assert checkmate["n_outcomes"] == (outcomes["study_id"] == "checkmate204").sum()


@pytest.mark.parametrize("sort, column, ascending", [("year", "year", False), ("oldest", "year", True),
                                                     ("enrolled", "n_enrolled", False)])
def test_sort_orders_the_table(con, sort, column, ascending):
    values = queries.studies(con, sort=sort)[column].dropna().tolist()
    assert values == sorted(values, reverse=not ascending)


def test_unknown_sort_is_refused(con):
    with pytest.raises(ValueError, match="unknown sort"):
        queries.studies(con, sort="year; DROP TABLE studies")


# ------------------------------------------------------------------------------------------------ one study
def test_study_detail_brings_arms_outcomes_citations_of_n0574(con):
    detail = queries.study_detail(con, "n0574")
    assert detail["study"]["short_name"].iloc[0].startswith("NCCTG N0574")
    assert set(detail["arms"]["arm_id"]) == set(csv("arms").query("study_id == 'n0574'")["arm_id"])
    assert len(detail["outcomes"]) == (csv("outcomes")["study_id"] == "n0574").sum() > 0
    assert "ref028" in set(detail["citations"]["source_id"])
    assert detail["outcomes"]["result"].str.len().min() > 0


def test_study_detail_of_an_unknown_study_is_empty(con):
    detail = queries.study_detail(con, "no_such_study")
    assert all(frame.empty for frame in detail.values())


@pytest.mark.parametrize("row, expected", [
    (dict(statistic="hazard_ratio", value=0.78, unit="ratio", ci_low=0.62, ci_high=0.99, p_value="0.01",
          timepoint_months=None), "HR 0.78 (95% CI 0.62–0.99); p=0.01"),
    (dict(statistic="proportion", value=57.4, unit="%", ci_low=47.2, ci_high=67.2, p_value=None,
          timepoint_months=None), "57.4% (95% CI 47.2–67.2)"),
    (dict(statistic="median", value=10.4, unit="months", ci_low=None, ci_high=None, p_value="<0.001",
          timepoint_months=None), "median 10.4 months; p<0.001"),
    (dict(statistic="proportion", value=20, unit="%", ci_low=None, ci_high=None, p_value=None,
          timepoint_months=12), "20% at 12 months"),
])
def test_format_result_reads_like_a_paper(row, expected):
    from types import SimpleNamespace

    assert queries.format_result(SimpleNamespace(**row)) == expected


def test_comparable_outcomes_hold_only_ratios_and_rates_of_one_endpoint(con):
    study_ids = tuple(queries.studies(con)["study_id"])
    frame = queries.comparable_outcomes(con, study_ids, "overall_survival")
    outcomes = csv("outcomes")
    expected = outcomes[(outcomes["endpoint_id"] == "overall_survival")
                        & outcomes["statistic"].isin(["hazard_ratio", "odds_ratio", "risk_ratio", "proportion"])]
    assert set(frame["outcome_id"]) == set(expected["outcome_id"])
    assert set(frame["kind"]) <= {"ratio", "rate"}
    assert frame["label"].str.contains(" — ").all()


def test_endpoint_choices_rank_endpoints_with_chartable_figures(con):
    choices = queries.endpoint_choices(con, tuple(queries.studies(con)["study_id"]))
    assert choices["endpoint_id"].is_unique
    assert "overall_survival" in set(choices["endpoint_id"])
    assert queries.endpoint_choices(con, ()).empty


# ------------------------------------------------------------------------------------------------ dashboard
def test_headline_figures_count_what_data_holds(con):
    studies = csv("studies")
    head = queries.headline_figures(con, queries.studies(con))
    assert head["studies"] == len(studies)
    assert head["randomized"] == (studies["randomized"] == "true").sum()
    assert head["studies_verified"] == (studies["verification"] == "verified").sum()
    assert head["outcomes"] == len(csv("outcomes"))
    assert head["outcomes_verified"] == (csv("outcomes")["verification"] == "verified").sum()
    primary = studies[~studies["design_id"].isin(["meta_analysis", "pooled_analysis"])]
    assert head["patients_enrolled"] == pd.to_numeric(primary["n_enrolled"].replace("", None)).fillna(0).sum()


def test_landmark_rule_takes_phase_3_randomized_trials_and_level_1_meta_analyses(con):
    frame = queries.studies(con).set_index("study_id")
    landmark = queries.is_landmark(frame)
    assert landmark["n0574"] and landmark["eortc22952"] and landmark["aoyama2006"]  # no phase recorded
    assert not landmark["checkmate204"] and not landmark["her2climb"]  # single-arm; randomized phase 2
    assert landmark["sahgal2015"]  # level-1 meta-analysis


def test_count_by_counts_each_study_once_per_value(con):
    frame = queries.studies(con)
    counts = queries.count_by(frame, "histology_ids", queries.evidence_facets(con)["histologies"]).set_index("id")
    links = csv("study_histologies")
    assert counts.loc["melanoma", "studies"] == (links["histology_id"] == "melanoma").sum()
    assert counts.loc["melanoma", "label"] == "Melanoma"
    assert not counts["label"].str.startswith("↳").any()


def test_facets_list_subtypes_right_after_their_parent(con):
    histologies = list(queries.evidence_facets(con)["histologies"])
    assert histologies.index("melanoma_braf") == histologies.index("melanoma") + 1
    assert "overall_survival" in queries.evidence_facets(con)["endpoints"]


# ------------------------------------------------------------------------------------------------ dosing
def test_dose_schedules_compute_bed_from_the_dose_never_store_it(con):
    frame = queries.dose_schedules(con)
    dosed = frame.dropna(subset=["total_dose_gy"])
    assert not dosed.empty
    for row in dosed.itertuples():
        assert row.bed_gy == pytest.approx(round(bed(row.total_dose_gy, row.fractions, row.alpha_beta_gy), 1))
    assert "bed_gy" not in csv("dose_schedules").columns
    assert (frame["category"] != "normal_tissue").all()


def test_normal_tissue_rows_are_apart_from_treatment_schedules(con):
    limits = queries.dose_schedules(con, normal_tissue=True)
    expected = csv("dose_schedules").query("category == 'normal_tissue'")
    assert set(limits["schedule_id"]) == set(expected["schedule_id"])
    both = queries.dose_schedules(con, normal_tissue=None)
    assert len(both) == len(csv("dose_schedules"))


@pytest.mark.parametrize("diameter", [1.5, 2.5, 3.5])
def test_diameter_filter_keeps_schedules_whose_range_covers_it(con, diameter):
    frame = queries.dose_schedules(con, diameter_cm=diameter)
    data = csv("dose_schedules").query("category != 'normal_tissue'")
    low = pd.to_numeric(data["min_diameter_cm"].replace("", None))
    high = pd.to_numeric(data["max_diameter_cm"].replace("", None))
    covers = (low.notna() | high.notna()) & (low.fillna(0) <= diameter) & (high.isna() | (high >= diameter))
    assert set(frame["schedule_id"]) == set(data.loc[covers, "schedule_id"])


@pytest.mark.parametrize("diameter", [1.5, 2.5, 3.5])
def test_diameter_filter_can_keep_the_schedules_that_state_no_diameter(con, diameter):
    kept = queries.dose_schedules(con, diameter_cm=diameter, keep_unsized=True)
    data = csv("dose_schedules").query("category != 'normal_tissue'")
    low = pd.to_numeric(data["min_diameter_cm"].replace("", None))
    high = pd.to_numeric(data["max_diameter_cm"].replace("", None))
    unstated = low.isna() & high.isna()
    covers = ~unstated & (low.fillna(0) <= diameter) & (high.isna() | (high >= diameter))
    assert set(kept["schedule_id"]) == set(data.loc[covers | unstated, "schedule_id"])
    assert unstated.any() and (~(covers | unstated)).any()   # the filter still drops schedules sized elsewhere


def test_setting_filter_on_schedules(con):
    frame = queries.dose_schedules(con, settings=("preoperative",))
    assert not frame.empty and (frame["setting_id"] == "preoperative").all()


# ------------------------------------------------------------------------------------------------ toxicity
def test_tdm1_signal_is_stumpf_2019_with_rates_with_and_without(con):
    tdm1 = queries.drug_toxicity(con, drugs=("trastuzumab_emtansine",))
    assert "tdm1_stumpf2019_csrn" in set(tdm1["signal_id"])
    row = tdm1.set_index("signal_id").loc["tdm1_stumpf2019_csrn"]
    assert row["rate_with_drug_pct"] > row["rate_without_drug_pct"]
    assert row["citation"] == "Stumpf 2019" and row["drug_label"] == "trastuzumab emtansine (T-DM1)"


def test_toxicity_histology_filter_takes_subtypes_parents_and_optionally_mixed_cohorts(con):
    data = csv("drug_toxicity")
    with_mixed = queries.drug_toxicity(con, histologies=("breast_her2pos",))
    assert set(with_mixed["histology_id"]) <= {"breast", "breast_her2pos", "mixed"}
    assert set(with_mixed["signal_id"]) == set(
        data.loc[data["histology_id"].isin(["breast", "breast_her2pos", "mixed"]), "signal_id"])
    without_mixed = queries.drug_toxicity(con, histologies=("breast_her2pos",), include_mixed=False)
    assert "mixed" not in set(without_mixed["histology_id"])
    assert "tdm1_stumpf2019_csrn" in set(without_mixed["signal_id"])
    melanoma = queries.drug_toxicity(con, histologies=("melanoma",), include_mixed=False)
    assert "tdm1_stumpf2019_csrn" not in set(melanoma["signal_id"])


def test_toxicity_class_filter(con):
    frame = queries.drug_toxicity(con, drug_classes=("antibody_drug_conjugate",))
    drugs = csv("drugs").set_index("drug_id")["drug_class"]
    data = csv("drug_toxicity")
    expected = set(data.loc[data["drug_id"].map(drugs) == "antibody_drug_conjugate", "signal_id"])
    assert set(frame["signal_id"]) == expected and expected


# ------------------------------------------------------------------------------------------------ guidelines
@pytest.mark.parametrize("topic", ["srs_vs_wbrt", "radionecrosis", "patient_selection"])
def test_topic_filter_matches_recommendations(con, topic):
    data = csv("recommendations")
    frame = queries.recommendations(con, topics=(topic,))
    assert set(frame["recommendation_id"]) == set(data.loc[data["topic_id"] == topic, "recommendation_id"])


def test_body_filter_and_short_names(con):
    bodies = queries.guideline_bodies(con)
    assert bodies["Congress of Neurological Surgeons"] == "CNS"
    frame = queries.recommendations(con, bodies=("Congress of Neurological Surgeons",))
    assert not frame.empty and (frame["body_short"] == "CNS").all()


def test_recommendation_text_search_also_reads_the_topic_name(con):
    found = queries.recommendations(con, text="memantine")
    topics = csv("recommendations").query("topic_id == 'ha_wbrt_memantine'")["recommendation_id"]
    assert set(topics) <= set(found["recommendation_id"]) and not topics.empty


@pytest.mark.parametrize("body, short", [
    ("European Association of Neuro-Oncology; European Society for Medical Oncology", "EANO; ESMO"),
    ("Response Assessment in Neuro-Oncology (RANO) PET working group", "RANO PET working group"),
    ("International expert panel (10 radiation oncologists and neurosurgeons)", "International expert panel"),
    ("ASCO (endorsing ASTRO)", "ASCO (endorsing ASTRO)"),
    ("A body with a very long name that goes on and on and on without end",
     "A body with a very long name that goes…"),
])
def test_short_body(body, short):
    assert queries.short_body(body) == short


# ------------------------------------------------------------------------------------------------ imaging
@pytest.mark.parametrize("purpose", ["rn_vs_progression", "detection"])
def test_imaging_purpose_filter(con, purpose):
    data = csv("imaging")
    frame = queries.imaging(con, purposes=(purpose,))
    assert set(frame["imaging_id"]) == set(data.loc[data["purpose"] == purpose, "imaging_id"])


def test_imaging_rows_carry_modality_and_citation(con):
    frame = queries.imaging(con).set_index("imaging_id")
    row = frame.loc["hoefnagels2009__rcbv_visual"]
    assert row["modality"] == "DSC perfusion MRI" and row["citation"].startswith("Hoefnagels 2009")
    assert row["sensitivity_pct"] == 70.0


# ------------------------------------------------------------------------------------------------ helpers
@pytest.mark.parametrize("values, expected", [
    (["verified", "verified", "secondary"], "2 of 3 verified · 1 secondary · 0 unverified"),
    ([], "0 of 0 verified · 0 secondary · 0 unverified"),
])
def test_verification_tally(values, expected):
    assert queries.verification_tally(values) == expected


@pytest.mark.parametrize("author, year, journal, expected", [
    ("Brown PD", 2016, "JAMA", "Brown 2016, JAMA"), (None, 2016, None, "2016"),
    (float("nan"), None, float("nan"), "source without author")])
def test_citation_label(author, year, journal, expected):
    assert queries.citation_label(author, year, journal) == expected
