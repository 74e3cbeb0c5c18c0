"""Evidence for a patient: reading a profile, matching semantics, and the answer for profiles across histologies.

The expectations in PROFILES were derived by reading data/*.csv (the comments say which rows decide), not by
printing the function's output. Each profile goes through the command line (``python -m kb patient … --json``,
in-process through ``kb.__main__.main``; a few cases also run as a real subprocess) and asserts which studies,
dose schedules, drug signals and recommendations come back and which do not.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kb.__main__ import main
from kb.patient import ID_KEYS, ProfileError, load_tables, parse_profile, profile_from_params, read_params
from kb.patient.drugs import Drug, relation
from kb.patient.guidelines import parse_population
from kb.patient.match import eligibility
from kb.patient.profile import Profile
from kb.patient.vocabulary import resolve_drug, resolve_histology, resolve_setting
from kb.patient.report import render_summary, render_text

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tables(con):
    return load_tables(con)


@pytest.fixture(scope="module")
def vocab(tables):
    return tables.vocab


def cli_json(built_db, capsys, *args: str) -> dict:
    """Run ``python -m kb patient ARGS --json`` in-process and parse its one JSON object."""
    capsys.readouterr()
    status = main(["patient", *args, "--json", "--db", str(built_db)])
    out = capsys.readouterr()
    assert status == 0, out.err
    return json.loads(out.out)


def ids(answer: dict, section: str) -> list[str]:
    key = ID_KEYS[section.removesuffix("_excluded")]  # studies_excluded carry study_id, and so on
    return [item[key] for item in answer[section]]


# ------------------------------------------------------------------------------------------------ reading names
@pytest.mark.parametrize("text, expected", [
    ("HER2+ breast", "breast_her2pos"), ("Breast cancer HER2-positive", "breast_her2pos"),
    ("her2 positive breast cancer", "breast_her2pos"), ("breast_her2pos", "breast_her2pos"),
    ("HER2-low breast", "breast_her2low"), ("triple negative breast", "breast_tnbc"), ("breast", "breast"),
    ("EGFR NSCLC", "nsclc_egfr"), ("EGFR-mutant non-small cell lung cancer", "nsclc_egfr"), ("ALK NSCLC", "nsclc_alk"),
    ("NSCLC", "nsclc"), ("small cell lung cancer", "sclc"), ("SCLC", "sclc"), ("RCC", "rcc"),
    ("renal cell carcinoma", "rcc"), ("melanoma", "melanoma"), ("BRAF V600E melanoma", "melanoma_braf"),
    ("ALK-positive NSCLC", "nsclc_alk"), ("EGFR-mutant lung cancer", "nsclc_egfr"), ("kidney cancer", "rcc"),
    ("HR+ breast cancer", "breast_hrpos_her2neg"), ("HR+/HER2- breast", "breast_hrpos_her2neg"),
])
def test_histology_is_read_from_ids_and_clinical_names(vocab, text, expected):
    assert resolve_histology(vocab, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("intact", "intact"), ("Intact metastases", "intact"), ("resected cavity", "postoperative"),
    ("postop", "postoperative"), ("before planned surgery", "preoperative"), ("neoadjuvant", "preoperative"),
    ("recurrence after SRS or WBRT", "recurrent"), ("salvage", "recurrent"), ("LMD", "leptomeningeal"),
    ("leptomeningeal", "leptomeningeal"), ("systemic therapy alone", "systemic_only"), (None, None), ("", None),
    ("preoperative SRS", "preoperative"), ("post-operative cavity SRS", "postoperative"),
    ("recurrent after radiosurgery", "recurrent"), ("leptomeningeal spread", "leptomeningeal"),
])
def test_setting_is_read_from_ids_names_and_clinician_phrases(vocab, text, expected):
    assert resolve_setting(vocab, text) == expected


@pytest.mark.parametrize("text, expected", [
    ("T-DM1", "trastuzumab_emtansine"), ("Kadcyla", "trastuzumab_emtansine"), ("tdm1", "trastuzumab_emtansine"),
    ("ado-trastuzumab emtansine", "trastuzumab_emtansine"), ("T-DXd", "trastuzumab_deruxtecan"),
    ("Enhertu", "trastuzumab_deruxtecan"), ("osimertinib", "osimertinib"), ("Tagrisso", "osimertinib"),
    ("Keytruda", "pembrolizumab"), ("pembrolizumab", "pembrolizumab"), ("ICI", "ici_any"),
    ("anti-PD-1", "pd1_pdl1_any"),  # shared by nivolumab, pembrolizumab and the class entry: the class covers both
    ("dabrafenib", "braf_inhibitor"), ("vemurafenib", "vemurafenib"),
    ("dabrafenib plus trametinib", "dabrafenib_trametinib"), ("dexamethasone", "corticosteroids"),
    ("dabrafenib/trametinib", "dabrafenib_trametinib"), ("ipilimumab + nivolumab", "nivolumab_ipilimumab"),
    ("checkpoint inhibitors", "ici_any"), ("BRAF/MEK inhibitors", "braf_mek_inhibitor"),
    # members named in data/drugs.csv under their class: a combination's partner, other drugs of a class
    ("trametinib", "braf_mek_inhibitor"), ("erlotinib", "egfr_tki_any"), ("brigatinib", "alk_tki_any"),
])
def test_drug_is_read_from_generic_names_brands_and_abbreviations(vocab, text, expected):
    assert resolve_drug(vocab, text) == expected


@pytest.mark.parametrize("kwargs, sentences", [
    (dict(drugs=["TDM-1x"]), ["did you mean trastuzumab emtansine (T-DM1)?"]),
    (dict(drugs=["Kadsyla"]), ["did you mean trastuzumab emtansine (T-DM1)"]),
    (dict(drugs=["xyzzy"]), ["Unknown drug 'xyzzy'", "The KB knows these drugs:", "osimertinib"]),
    (dict(diameter_cm=12), ["over 10 cm", "from 0.1 to 10"]),
    (dict(diameter_cm=0), ["at least 0.1 cm"]),
    (dict(diameter_cm=0.05), ["at least 0.1 cm"]),
    (dict(diameter_cm="two"), ["number of centimetres"]),
    (dict(metastases=-2), ["cannot be negative", "0 to 100"]),
    (dict(metastases=2.5), ["whole number"]),
    (dict(setting="banana"), ["Unknown setting 'banana'", "Accepted settings", "intact", "postoperative",
                              "leptomeningeal"]),
    (dict(setting="mixed"), ["describes study cohorts", "Accepted settings"]),
    (dict(histology="brest"), ["did you mean Breast cancer"]),
    (dict(histology="lung"), ["Non-small cell lung cancer", "Small cell lung cancer"]),
    (dict(histology="mixed"), ["not a patient"]),
    (dict(volume_cc=-1), ["cubic centimetres"]),
    (dict(prior_radiation="maybe"), ["yes or no"]),
])
def test_bad_input_gets_a_sentence_that_says_what_is_accepted(vocab, kwargs, sentences):
    fields = dict(histology="melanoma") | kwargs
    with pytest.raises(ProfileError) as caught:
        parse_profile(vocab, fields.pop("histology"), **{k: v for k, v in fields.items() if k != "drugs"},
                      drugs=fields.get("drugs", []))
    for sentence in sentences:
        assert sentence in str(caught.value)


def test_every_problem_is_reported_at_once(vocab):
    with pytest.raises(ProfileError) as caught:
        parse_profile(vocab, "melanoma", -1, 11, None, "banana", None, ["TDM-1x"])
    assert len(caught.value.problems) == 4


def test_a_profile_survives_its_page_address(vocab):
    profile = parse_profile(vocab, "HER2+ breast", 3, 2, 4.2, "resected cavity", True, ["Kadcyla", "T-DXd"])
    params = profile.to_params()
    assert params["drug"] == ["trastuzumab_emtansine", "trastuzumab_deruxtecan"]
    assert profile_from_params(vocab, params) == profile


def test_a_bad_value_in_the_address_is_left_out_with_a_sentence(vocab):
    fields, problems = read_params(vocab, {"histology": ["melanoma"], "diameter": ["50"], "drug": ["xyz", "ICI"],
                                           "mets": ["3"]})
    assert fields["histology_id"] == "melanoma" and fields["metastases"] == 3
    assert fields["diameter_cm"] is None and fields["drug_ids"] == ["ici_any"]
    assert any("over 10 cm" in p for p in problems) and any("Unknown drug 'xyz'" in p for p in problems)


# ------------------------------------------------------------------------------------------------ semantics
def _drug(drug_id: str, drug_class: str) -> Drug:
    return Drug(drug_id, drug_id.replace("_", " "), (), drug_class)


@pytest.mark.parametrize("patient, record, expected", [
    (("pembrolizumab", "immune_checkpoint_inhibitor"), ("ici_any", "immune_checkpoint_inhibitor"), "class"),
    (("pembrolizumab", "immune_checkpoint_inhibitor"), ("pd1_pdl1_any", "immune_checkpoint_inhibitor"), "class"),
    (("ipilimumab", "immune_checkpoint_inhibitor"), ("pd1_pdl1_any", "immune_checkpoint_inhibitor"), "same_class"),
    (("nivolumab", "immune_checkpoint_inhibitor"), ("nivolumab_ipilimumab", "immune_checkpoint_inhibitor"),
     "combination"),
    (("nivolumab_ipilimumab", "immune_checkpoint_inhibitor"), ("ipilimumab", "immune_checkpoint_inhibitor"),
     "component"),
    (("vemurafenib", "braf_mek_inhibitor"), ("braf_inhibitor", "braf_mek_inhibitor"), "class"),
    (("braf_inhibitor", "braf_mek_inhibitor"), ("dabrafenib_trametinib", "braf_mek_inhibitor"), "member"),
    (("osimertinib", "egfr_tki"), ("egfr_tki_any", "egfr_tki"), "class"),
    (("osimertinib", "egfr_tki"), ("systemic_therapy_any", "mixed"), "any_systemic"),
    (("memantine", "neuroprotective"), ("systemic_therapy_any", "mixed"), None),
    (("osimertinib", "egfr_tki"), ("alectinib", "alk_tki"), None),
    (("trastuzumab_deruxtecan", "antibody_drug_conjugate"), ("trastuzumab_emtansine", "antibody_drug_conjugate"),
     "same_class"),
])
def test_drug_relations_follow_class_regimen_and_group(patient, record, expected):
    assert relation(_drug(*patient), _drug(*record)) == expected


class Row:
    def __init__(self, mets_min=None, mets_max=None, max_diameter_cm=None, max_volume_cc=None):
        self.mets_min, self.mets_max = mets_min, mets_max
        self.max_diameter_cm, self.max_volume_cc = max_diameter_cm, max_volume_cc


@pytest.mark.parametrize("row, profile, status", [
    (Row(1, 3), Profile("melanoma", 3), "covers"),                      # bounds are inclusive
    (Row(1, 3), Profile("melanoma", 4), "excludes"),
    (Row(1, 4), Profile("melanoma", 6), "excludes"),                    # '1–4 metastases' does not cover 6
    (Row(None, 10), Profile("melanoma", 0), "excludes"),                # a missing lower bound counts as 1
    (Row(4, None), Profile("melanoma", 26), "covers"),                  # no upper bound
    (Row(None, None, 3.0), Profile("melanoma", None, 3.0), "covers"),
    (Row(None, None, 3.0), Profile("melanoma", None, 3.1), "excludes"),
    (Row(None, None, None, 10), Profile("melanoma", None, 2.0), "not_recorded"),  # cc never converted to cm
    (Row(), Profile("melanoma", 3, 2.0), "not_recorded"),
    (Row(1, 3), Profile("melanoma"), "not_recorded"),                  # nothing in the profile to check
    (Row(1, 10, 3, 10), Profile("melanoma", 5, 2.0, 12.0), "excludes"),  # JLGK0901: the volume limit excludes
])
def test_recorded_eligibility_covers_or_excludes(row, profile, status):
    assert eligibility(row, profile)["status"] == status


@pytest.mark.parametrize("population, counts, histologies, excluded, settings", [
    ("Adults with 2-3 brain metastases not suitable for surgery", ((2, 3),), (), (), ()),
    ("ECOG performance status 0-2 with up to 4 intact brain metastases", ((1, 4),), (), (), ("intact",)),
    ("Adults with more than 4 brain metastases and cumulative tumour volume under 7 cc", ((5, math.inf),), (), (),
     ()),
    ("Breast cancer with 5 or more asymptomatic metastases unsuitable for SRS, or more than 10 lesions, receiving "
     "HER2-targeted therapy with good CNS response rates", ((5, math.inf),), ("breast",), (), ()),
    ("Asymptomatic patients with 1-4 unresected brain metastases and no systemic therapy options, excluding "
     "small-cell lung cancer", ((1, 4),), (), ("sclc",), ("intact",)),
    ("Patients with 1-2 resected brain metastases", ((1, 2),), (), (), ("postoperative",)),
    ("Adults newly diagnosed with multiple (>1) brain metastases", ((2, math.inf),), (), (), ()),
    ("Patients with a single large brain metastasis needing resection", ((1, 1),), (), (),
     ("preoperative", "postoperative")),
    ("Breast cancer with symptomatic leptomeningeal carcinomatosis", (), ("breast",), (), ("leptomeningeal",)),
    ("Patients with symptomatic corticosteroid-refractory radiation necrosis after SRS", (), (), (), ("recurrent",)),
    ("Patients with lung cancer (except perhaps stage I NSCLC), stage IV melanoma, and possibly metastatic "
     "HER2-positive or triple-negative breast cancer", (),
     ("breast_her2pos", "breast_tnbc", "nsclc", "sclc", "melanoma"), (), ()),
])
def test_recommendation_populations_are_read_with_explicit_rules(population, counts, histologies, excluded,
                                                                   settings):
    parsed = parse_population(population)
    assert parsed.counts == counts
    assert set(parsed.histologies) == set(histologies)
    assert parsed.excluded_histologies == excluded
    assert set(parsed.settings) == set(settings)


def test_populations_before_a_diagnosis_never_apply():
    assert parse_population("Patients with suspected brain metastases").pre_diagnosis
    assert parse_population("Patients with lung cancer",
                            recommendation="Consider screening brain imaging").pre_diagnosis
    assert not parse_population("Patients with suspected leptomeningeal metastasis from solid tumours").pre_diagnosis


# ------------------------------------------------------------------------------------------------ profiles
# Each case: CLI arguments, then per section the ids that must come back and the ids that must not.
PROFILES = [
    pytest.param(
        ["--histology", "melanoma", "--metastases", "2", "--diameter-cm", "1.5", "--setting", "intact",
         "--drug", "dabrafenib"],
        # combi_mb: melanoma_braf + dabrafenib_trametinib (a BRAF inhibitor regimen); patel2016b, hecht2015:
        # braf_inhibitor arms; hong2019: melanoma, intact, 1-3 mets. hartgerink2021 enrolled 4-10.
        dict(studies=({"combi_mb", "patel2016b", "hecht2015", "hong2019", "n0574", "minniti2019"},
                      {"johung2016", "khatri2024", "magnuson2017", "hartgerink2021", "her2climb"}),
             studies_excluded=({"hartgerink2021"}, set()),
             # redmond ≤2 cm fits 1.5 cm; minniti2016 is for >2 cm, redmond 2.1-3 cm; cavity/preop/salvage rows
             # belong to other settings
             dose_schedules=({"redmond2021__tcp_le2cm_18gy", "redmond2021__tcp_le2cm_24gy", "n0574__srs_alone_24gy"},
                             {"minniti2016__mf_27gy_3fx", "redmond2021__tcp_2_3cm_18gy", "n107c__cavity_srs_20gy",
                              "props2023__preop_15gy_1fx", "yan2023__salvage_hsrs_35gy_5fx"}),
             drug_signals=({"brafi_patel2016_rn", "brafi_patel2016_srn", "brafi_hecht2015_dermatitis_all",
                            "vemurafenib_hecht2015_dermatitis", "systemic_borius2021_srn"},
                           {"tdm1_stumpf2019_csrn", "ici_diperri2020_rn", "steroid_ici_jessurun2021_os"}),
             recommendations=({"asco_endorse_astro_2022__r01", "eano_esmo_bm_2021__r04",
                               "cns_2019_multiple_mets__r02"},
                              {"degro_2024_breast__r01", "rss_2024_case_based__r01", "asco_sno_astro_2022__r05",
                               "isrs_2024_radionecrosis__r01", "cns_2019_surgery__r01", "isrs_2023_small_mets__r01"})),
        id="melanoma-braf-inhibitor"),
    pytest.param(
        ["--histology", "melanoma", "--metastases", "6", "--setting", "intact", "--drug", "Keytruda"],
        # 6 metastases: CYBER-SPACE, JLGK0901 (1-10), Dutch trial (4-10) cover; N0574/Hong/Aoyama (≤4) do not.
        # pembrolizumab: ICI class arms (qian2016, jessurun2021), nivolumab trials as another ICI (abc, checkmate204)
        dict(studies=({"cyber_space", "hartgerink2021", "jlgk0901", "qian2016", "jessurun2021", "abc",
                       "checkmate204"},
                      {"n0574", "hong2019", "aoyama2006", "combi_mb", "stumpf2019"}),
             studies_excluded=({"n0574", "hong2019", "aoyama2006"}, set()),
             dose_schedules=({"n0574__srs_alone_24gy", "minniti2016__mf_27gy_3fx"}, {"n107c__cavity_srs_20gy"}),
             drug_signals=({"ici_diperri2020_rn", "pd1_minniti2021_rn", "steroid_ici_jessurun2021_os",
                            "steroid_ici_albarran2024_orr_pre30", "ipilimumab_williams2017_g3_gi"},
                           {"brafi_patel2016_rn", "tdm1_stumpf2019_csrn", "tdxd_khatri2024_srn_patient"}),
             recommendations=({"rss_2024_case_based__r01", "eano_esmo_bm_2021__r05", "asco_endorse_astro_2022__r02",
                               "cns_2019_multiple_mets__r03"},
                              {"asco_endorse_astro_2022__r01", "eano_esmo_bm_2021__r04", "degro_2024_breast__r02",
                               "ars_auc_2020__r03"})),
        id="melanoma-checkpoint-inhibitor-6-mets"),
    pytest.param(
        ["--histology", "HER2+ breast", "--metastases", "3", "--diameter-cm", "2", "--setting", "intact",
         "--drug", "T-DM1"],
        dict(studies=({"stumpf2019", "kamilla", "destiny_breast03", "n0574", "khatri2024", "aoyama2006"},
                      {"hartgerink2021", "her2climb", "combi_mb", "magnuson2017"}),
             # 2 cm: minniti2016 (≥2 cm) and redmond (≤2 cm) fit; redmond 2.1-3 cm does not
             dose_schedules=({"minniti2016__mf_27gy_3fx", "redmond2021__tcp_le2cm_24gy"},
                             {"redmond2021__tcp_2_3cm_18gy", "murphy2024__preop_2_3cm_18gy"}),
             drug_signals=({"tdm1_stumpf2019_csrn", "tdxd_khatri2024_srn_patient"},
                           {"brafi_patel2016_rn", "steroid_ici_jessurun2021_os"}),
             recommendations=({"degro_2024_breast__r01", "asco_endorse_astro_2022__r01"},
                              {"degro_2024_breast__r02", "degro_2024_breast__r05", "eano_esmo_lm_2017__r01"})),
        id="her2-breast-t-dm1"),
    pytest.param(
        ["--histology", "breast_her2pos", "--metastases", "2", "--diameter-cm", "2.5", "--setting", "intact",
         "--drug", "Enhertu"],
        dict(studies=({"khatri2024", "tuxedo1", "destiny_breast01", "destiny_breast03", "debbi2025", "rosetbm",
                       "stumpf2019"}, {"her2climb", "hirsch2021"}),
             dose_schedules=({"redmond2021__tcp_2_3cm_18gy", "minniti2016__mf_27gy_3fx"},
                             {"redmond2021__tcp_le2cm_18gy"}),
             drug_signals=({"tdxd_khatri2024_srn_lesion", "tdxd_khatri2024_srn_patient", "tdxd_tendance_asthenia",
                            "tdm1_stumpf2019_csrn"}, {"ici_diperri2020_rn", "brafi_patel2016_srn"}),
             recommendations=({"degro_2024_breast__r01"}, {"rss_2024_case_based__r01"})),
        id="her2-breast-t-dxd"),
    pytest.param(
        ["--histology", "EGFR NSCLC", "--metastases", "2", "--diameter-cm", "1", "--setting", "intact",
         "--drug", "osimertinib"],
        # magnuson2017: nsclc_egfr with EGFR-TKI arms; metis and cross_fire enrolled NSCLC (the parent);
        # ALK and ROS1 studies are sibling subtypes; robin2018 enrolled 4 or more
        dict(studies=({"magnuson2017", "metis", "cross_fire", "n0574"},
                      {"alex", "crown", "johung2016", "eucross", "gaebe2022", "fire_sclc", "robin2018"}),
             studies_excluded=({"robin2018"}, set()),
             drug_signals=({"systemic_borius2021_srn"},
                           {"tdm1_stumpf2019_csrn", "brafi_patel2016_rn", "ici_diperri2020_rn"}),
             recommendations=({"asco_endorse_astro_2022__r01", "asco_sno_astro_2022__r04"},
                              {"degro_2024_breast__r01"})),
        id="egfr-nsclc-osimertinib"),
    pytest.param(
        ["--histology", "ALK NSCLC", "--metastases", "4", "--setting", "intact", "--drug", "alectinib"],
        dict(studies=({"robin2018", "alex", "crown", "johung2016", "metis", "sahgal2015"},
                      {"magnuson2017", "eucross", "drilon2020", "n0574"}),
             studies_excluded=({"n0574", "eortc22952"}, set()),
             drug_signals=({"systemic_borius2021_srn"}, {"tdm1_stumpf2019_csrn", "ici_diperri2020_rn"}),
             recommendations=({"asco_endorse_astro_2022__r01"}, {"rss_2024_case_based__r01"})),
        id="alk-nsclc-alectinib"),
    pytest.param(
        ["--histology", "small cell lung cancer", "--metastases", "3", "--diameter-cm", "1.2", "--setting", "intact"],
        # ASCO-SNO-ASTRO r04 excludes small-cell lung cancer in its population
        dict(studies=({"gaebe2022", "fire_sclc", "cross_fire", "n0574"}, {"metis", "magnuson2017", "robin2018"}),
             drug_signals=(set(), {"systemic_borius2021_srn", "tdm1_stumpf2019_csrn"}),
             recommendations=({"asco_endorse_astro_2022__r01"}, {"asco_sno_astro_2022__r04"}),
             recommendations_excluded=({"asco_sno_astro_2022__r04"}, set())),
        id="sclc"),
    pytest.param(
        ["--histology", "RCC", "--metastases", "1", "--diameter-cm", "2.5", "--setting", "intact",
         "--drug", "cabozantinib"],
        dict(studies=({"hirsch2021", "sperduto2020", "n0574"}, {"kondziolka1999", "magnuson2017"}),
             studies_excluded=({"kondziolka1999", "hartgerink2021"}, set()),
             dose_schedules=({"redmond2021__tcp_2_3cm_18gy", "minniti2016__mf_27gy_3fx"},
                             {"redmond2021__tcp_le2cm_24gy", "redmond2021__tcp_3_4cm_15gy"}),
             drug_signals=({"systemic_borius2021_srn"}, {"tdm1_stumpf2019_csrn"}),
             recommendations=({"cns_2019_surgery__r04", "cns_2019_srs__r01"}, {"cns_2019_multiple_mets__r02"})),
        id="rcc-cabozantinib"),
    pytest.param(
        ["--histology", "breast", "--metastases", "1", "--diameter-cm", "3.5", "--setting", "resected cavity"],
        # cavity trials: Mahajan (≤4 cm), N107C (<5 cm), EORTC 22952, ESTRON; preoperative-only studies stay out
        dict(studies=({"mahajan2017", "n107c", "eortc22952", "estron", "patel2016", "cagney2019"},
                      {"props_bm", "agrawal2024", "murphy2024", "n0574"}),
             dose_schedules=({"n107c__cavity_srs_20gy", "n107c__cavity_srs_12gy", "patel2016__postop_18gy",
                              "n107c__wbrt_30gy_10fx"},
                             {"props2023__preop_15gy_1fx", "n0574__srs_alone_24gy", "minniti2016__mf_27gy_3fx"}),
             recommendations=({"asco_sno_astro_2022__r05", "asco_endorse_astro_2022__r04",
                               "soliman_2018_cavity_contouring__r01"},
                              {"asco_endorse_astro_2022__r01", "eano_esmo_bm_2021__r04"})),
        id="resected-cavity-breast"),
    pytest.param(
        ["--histology", "breast_her2pos", "--metastases", "1", "--diameter-cm", "4.5", "--setting", "postoperative",
         "--drug", "trastuzumab_emtansine"],
        # a 4.5 cm cavity: N107C (<5 cm) covers, Mahajan (≤4 cm) does not; N107C's cavity dose row is for ≤5 cm
        dict(studies=({"n107c", "stumpf2019", "kamilla"}, {"mahajan2017"}),
             studies_excluded=({"mahajan2017"}, set()),
             dose_schedules=({"n107c__cavity_srs_20gy"}, {"murphy2024__preop_4_6cm_mtd18gy"}),
             drug_signals=({"tdm1_stumpf2019_csrn"}, set())),
        id="resected-cavity-4.5cm-ids"),
    pytest.param(
        ["--histology", "NSCLC", "--metastases", "1", "--diameter-cm", "4.5", "--setting", "before planned surgery"],
        dict(studies=({"murphy2024", "agrawal2024", "props_bm", "patel2016"}, {"mahajan2017", "n107c", "n0574"}),
             dose_schedules=({"murphy2024__preop_4_6cm_mtd18gy", "props2023__preop_15gy_1fx",
                              "patel2016__preop_14_5gy"},
                             {"murphy2024__preop_2_3cm_18gy", "murphy2024__preop_3_4cm_mtd18gy",
                              "n107c__cavity_srs_20gy"}),
             recommendations=({"rss_2024_case_based__r02"}, {"asco_sno_astro_2022__r05"})),
        id="preoperative-srs"),
    pytest.param(
        ["--histology", "melanoma", "--metastases", "2", "--setting", "recurrence after SRS", "--prior-radiation",
         "--drug", "nivolumab"],
        dict(studies=({"ahluwalia2018", "ginalis2020", "upadhyay2023", "hoefnagels2009", "abc", "checkmate204"},
                      {"n0574", "mahajan2017"}),
             dose_schedules=({"yan2023__salvage_hsrs_35gy_5fx", "yan2023__salvage_hsrs_20gy_5fx"},
                             {"n0574__srs_alone_24gy", "n107c__cavity_srs_20gy"}),
             drug_signals=({"ici_diperri2020_rn", "pd1_minniti2021_rn", "steroid_ici_jessurun2021_os"},
                           {"brafi_patel2016_rn"}),
             recommendations=({"isrs_2024_radionecrosis__r01", "degro_2022_rn_part2__r02", "aans_cns_2021_litt__r02"},
                              {"asco_endorse_astro_2022__r01"}),
             imaging=({"hoefnagels2009__rcbv_gm", "cicone2015__fdopa_suv_ratio"}, {"seedimg__screening"})),
        id="recurrence-after-srs"),
    pytest.param(
        ["--histology", "HER2+ breast", "--setting", "leptomeningeal", "--drug", "T-DXd"],
        # no dose schedule in data/dose_schedules.csv is coded leptomeningeal
        dict(studies=({"rosetbm", "prabhu2019", "destiny_breast01"}, {"n0574", "nguyen2020"}),
             dose_schedules=(set(), {"n0574__srs_alone_24gy", "yan2023__salvage_hsrs_35gy_5fx",
                                     "n107c__cavity_srs_20gy", "mengue2020__hfsrt_27gy_3fx"}),
             recommendations=({"degro_2024_breast__r05", "eano_esmo_lm_2017__r01"},
                              {"asco_endorse_astro_2022__r01", "isrs_2024_radionecrosis__r01"})),
        id="leptomeningeal-her2"),
    pytest.param(
        ["--histology", "HER2-low breast", "--metastases", "6", "--setting", "intact"],
        dict(studies=({"khatri2024", "debbi2025", "cyber_space"}, {"kamilla", "her2climb", "tuxedo1", "n0574"}),
             recommendations=({"degro_2024_breast__r02"}, {"degro_2024_breast__r01"})),
        id="her2-low-breast-6-mets"),
]


@pytest.mark.parametrize("args, expected", PROFILES)
def test_profile_returns_its_evidence_and_not_others(built_db, capsys, args, expected):
    answer = cli_json(built_db, capsys, *args)
    for section, (wanted, unwanted) in expected.items():
        found = set(ids(answer, section))
        assert wanted <= found, f"{section}: missing {sorted(wanted - found)}"
        assert not (unwanted & found), f"{section}: should not contain {sorted(unwanted & found)}"
    if "dose_schedules" in expected and not expected["dose_schedules"][0]:
        assert answer["dose_schedules"] == []
    for section, key in ID_KEYS.items():
        for item in answer[section]:
            assert item[key] and item["why"] and all(isinstance(w, str) and w for w in item["why"])


def test_the_issue_example_answers_with_the_t_dm1_radionecrosis_signal_first(built_db, capsys):
    answer = cli_json(built_db, capsys, "--histology", "HER2+ breast", "--metastases", "3", "--diameter-cm", "2",
                      "--setting", "intact", "--drug", "T-DM1")
    assert set(answer) >= {"studies", "dose_schedules", "drug_signals", "recommendations", "imaging", "gaps"}
    first = answer["drug_signals"][0]
    assert first["signal_id"] == "tdm1_stumpf2019_csrn"
    assert (first["rate_with_drug_pct"], first["rate_without_drug_pct"]) == (39.1, 4.5)  # data/drug_toxicity.csv
    assert "Timing window: not stated in the source" in first["why"]
    schedule = next(s for s in answer["dose_schedules"] if s["schedule_id"] == "minniti2016__mf_27gy_3fx")
    assert (schedule["bed_gy"], schedule["eqd2_gy"]) == (51.3, 42.8)  # 27 Gy/3 at α/β 10, as on the dosing page
    n0574 = next(s for s in answer["studies"] if s["study_id"] == "n0574")
    assert n0574["group"] == "covers"
    assert "Number of metastases: 1–3 eligible; the patient has 3" in n0574["why"]


def test_studies_come_in_two_groups_best_evidence_first(built_db, capsys):
    answer = cli_json(built_db, capsys, "--histology", "melanoma", "--metastases", "2", "--setting", "intact")
    groups = [s["group"] for s in answer["studies"]]
    assert groups == sorted(groups, key=["covers", "eligibility_not_recorded"].index)
    covering = [s["evidence_level"] or 9 for s in answer["studies"] if s["group"] == "covers"]
    assert covering == sorted(covering)
    unknown = next(s for s in answer["studies"] if s["group"] == "eligibility_not_recorded")
    assert "Number of metastases: eligibility not recorded in the KB" in unknown["why"]


def test_gaps_say_what_the_kb_does_not_know(built_db, capsys):
    answer = cli_json(built_db, capsys, "--histology", "HER2-low breast", "--metastases", "6", "--setting", "intact")
    text = " ".join(answer["gaps"])
    assert "No randomized trial in this KB of intact metastases enrolled breast cancer HER2-low" in text
    assert "with 6 metastases" in text
    lmd = cli_json(built_db, capsys, "--histology", "melanoma", "--setting", "leptomeningeal")
    assert "The KB holds no dose schedule for leptomeningeal disease." in lmd["gaps"]
    egfr = cli_json(built_db, capsys, "--histology", "EGFR NSCLC", "--setting", "intact", "--drug", "osimertinib")
    assert any(g.startswith("No drug–SRS toxicity signal in this KB concerns osimertinib") for g in egfr["gaps"])


def test_json_is_plain_and_holds_no_nan(built_db, capsys):
    answer = cli_json(built_db, capsys, "--histology", "HER2+ breast", "--metastases", "3", "--setting", "intact",
                      "--drug", "T-DM1", "--drug", "pembrolizumab")
    text = json.dumps(answer, allow_nan=False)
    assert "NaN" not in text and '"nan"' not in text.lower()
    assert answer["profile"]["drug_ids"] == ["trastuzumab_emtansine", "pembrolizumab"]
    assert answer["drug_signals"][0]["patient_drug_ids"][0] == "trastuzumab_emtansine"


# ------------------------------------------------------------------------------------------------ outputs
def test_text_answer_lists_every_section_with_sources(tables, vocab):
    from kb.patient import evidence

    answer = evidence(tables, parse_profile(vocab, "melanoma", 2, 1.5, None, "intact", None, ["dabrafenib"]))
    text = render_text(answer)
    for title in ("Studies (", "Dose schedules (", "Drug–SRS signals (", "Guideline recommendations (", "Imaging (",
                  "What the KB does not know"):
        assert title in text
    assert "[brafi_patel2016_srn]" in text and "never recommends a treatment" in text
    assert "None" not in text and "nan" not in text.split()


def test_summary_fits_a_page_and_cites_its_sources(tables, vocab):
    from kb.patient import evidence

    answer = evidence(tables, parse_profile(vocab, "HER2+ breast", 3, 2, None, "intact", None, ["T-DM1"]))
    summary = render_summary(answer, "http://example.org/patient?histology=breast_her2pos")
    assert summary.startswith("# Evidence for a patient")
    assert "never recommends a treatment" in summary and "## Citations" in summary
    assert "https://pubmed.ncbi.nlm.nih.gov/30940654/" in summary  # Stumpf 2019 (sources.csv), the T-DM1 signal
    import re

    assert all("(" not in target for target in re.findall(r"\]\((\S+?)\)", summary))
    assert len(summary.splitlines()) < 100  # about one printed page
    assert "None" not in summary and " nan" not in summary


def test_links_survive_dois_with_parentheses():
    from kb.patient.report import _url

    assert _url("https://doi.org/10.1016/S1470-2045(09)70263-3") == \
        "https://doi.org/10.1016/S1470-2045%2809%2970263-3"


# ------------------------------------------------------------------------------------------------ the real command
@pytest.fixture(scope="module")
def cli_db(built_db, tmp_path_factory):
    """A copy of the session database for real subprocesses (this process holds the original open)."""
    import shutil

    target = tmp_path_factory.mktemp("cli") / "kb.duckdb"
    shutil.copy(built_db, target)
    return target


def _run(db, *args):
    env = {**os.environ, "KB_DB": str(db)}
    return subprocess.run([sys.executable, "-m", "kb", "patient", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_command_prints_one_json_object(cli_db):
    done = _run(cli_db, "--histology", "HER2+ breast", "--metastases", "3", "--diameter-cm", "2", "--setting",
                "intact", "--drug", "T-DM1", "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert isinstance(answer, dict) and "tdm1_stumpf2019_csrn" in ids(answer, "drug_signals")


def test_command_refuses_bad_input_with_exit_2_and_changes_nothing(cli_db):
    import duckdb

    def state():
        with duckdb.connect(str(cli_db), read_only=True) as db:
            return cli_db.stat().st_mtime, db.execute("SELECT count(*) FROM studies").fetchone()[0]

    before = state()
    done = _run(cli_db, "--histology", "HER2+ breast", "--drug", "TDM-1x", "--diameter-cm", "12",
                "--metastases", "-3", "--setting", "banana", "--json")
    assert done.returncode == 2 and done.stdout == ""
    assert "did you mean trastuzumab emtansine (T-DM1)?" in done.stderr
    assert "over 10 cm" in done.stderr and "cannot be negative" in done.stderr and "Accepted settings" in done.stderr
    hostile = _run(cli_db, "--histology", "<script>alert(1)</script>", "--drug", "'; DROP TABLE studies; --")
    assert hostile.returncode == 2 and "Unknown drug" in hostile.stderr and "Unknown histology" in hostile.stderr
    assert state() == before
