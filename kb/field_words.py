"""Every editable column in a clinician's words: the label on the form (and in messages) and its help text.

``kb.validate.label`` reads the labels from here (messages say "total dose (Gy) must be…"); ``kb.edits.field_specs``
gives forms the label, the help and the names of the choices (a vocabulary's ``name``, not its id). A column not
listed falls back to its name with spaces, so a new column still shows — but add it here.

>>> label("mets_min"), label("design_id"), label("description", "arms")
('fewest brain metastases eligible', 'design', 'arm description')
>>> choice_word("hazard_ratio"), choice_word("pct_change"), choice_word("true")
('hazard ratio', '% change from baseline', 'yes')
"""

from __future__ import annotations

from typing import Any

_ID_HELP = "Chosen when the record is created, then fixed: other records point to it."
_VERIFIED_IN = ("where it was verified", "The page the figures were read in: PMID:12345678, DOI:10.…, PMC:PMC… or "
                "URL:https://… when that page shows no identifier. Required when the status is verified.")

# column -> (label, help). "table.column" entries win over "column" ones.
WORDS: dict[str, tuple[str, str]] = {
    # shared by the curated tables
    "verification": ("verification status", "verified = read in the cited paper's abstract or full text; "
                                            "secondary = taken from a review that cites it; unverified = not checked."),
    "verified_in": _VERIFIED_IN,
    "note": ("curator's note", "Corrections, what was left empty and why. Shown to readers as plain text."),
    "source_id": ("source paper", "The paper the figures were read in (its KB id, e.g. ref028)."),
    "study_id": ("study", "The trial or cohort this belongs to (its KB id, e.g. n0574)."),
    "year": ("year", "Year of publication."),
    "evidence_level": ("level of evidence", "1 = systematic review of randomized trials, 2 = randomized trial, "
                                            "3 = prospective non-randomized, 4 = retrospective or case series, "
                                            "5 = expert opinion."),
    "p_value": ("p value", "As reported: 0.02, <0.001 or =0.3."),
    "design_id": ("design", "How the study was designed."),
    "setting_id": ("setting", "Where the brain metastases stand in their treatment."),
    "histology_id": ("histology", "Primary tumour (with molecular subtype where the study restricts to one)."),
    "drug_id": ("drug", "The systemic drug or drug class."),
    "short_name": ("display name", "The name readers see and search for."),
    "description": ("description", "In our own words."),
    "title": ("title", "As published."),
    "n_patients": ("patients", "Number of patients."),
    # studies
    "studies.study_id": ("study id", "Acronym of a named trial (n0574, checkmate204), else first author and year "
                                     "(minniti2016). " + _ID_HELP),
    "aliases": ("other names", "Names readers search for, separated by ';' (N0574; Alliance N0574)."),
    "nct_id": ("ClinicalTrials.gov number", "NCT followed by 8 digits."),
    "phase": ("phase", "Trial phase as registered: 1, 1/2, 2, 2/3, 3, 3b or 4."),
    "randomized": ("randomized", "Yes only for a randomized controlled trial."),
    "status": ("status", "Completed, ongoing, stopped early, or published as an abstract only."),
    "enrol_start_year": ("enrolment start year", "First year patients were enrolled."),
    "enrol_end_year": ("enrolment end year", "Last year patients were enrolled."),
    "n_enrolled": ("patients enrolled", "Patients enrolled (randomized or registered)."),
    "n_analysed": ("patients analysed", "Patients in the main analysis; not more than enrolled."),
    "mets_min": ("fewest brain metastases eligible", "Lowest number of brain metastases the study admitted."),
    "mets_max": ("most brain metastases eligible", "Highest number of brain metastases the study admitted."),
    "max_diameter_cm": ("largest eligible lesion diameter (cm)", "Size limit for eligibility, in cm."),
    "max_volume_cc": ("largest eligible lesion volume (cm³)", "Size limit for eligibility, in cm³."),
    "size_note": ("size limit in words", "When the limit is not one number (e.g. 'largest lesion ≤ 3 cm, others "
                                         "≤ 2 cm')."),
    "primary_endpoint": ("primary endpoint", "A short phrase."),
    "key_result": ("key result (in our own words)", "One or two sentences; never copied from the paper."),
    # papers of a study, arms, outcomes
    "role": ("role of the paper", "Primary report, update, secondary analysis, protocol or abstract."),
    "arms.arm_id": ("arm id", "<study id>__<arm name>. " + _ID_HELP),
    "label": ("arm name", "As the paper names the arm (SRS alone, SRS + WBRT)."),
    "arms.n_patients": ("patients in the arm", "Patients randomized or treated, as the description says."),
    "total_dose_gy": ("total dose (Gy)", "Only when the arm has one fixed schedule."),
    "fractions": ("number of fractions", "Needed with a total dose."),
    "arms.description": ("arm description", "Dose ranges and anything else in words."),
    "arm_interventions.arm_id": ("arm", "The arm this intervention belongs to."),
    "intervention_id": ("intervention", "What the arm received."),
    "outcome_id": ("figure id", "<study id>__oNN. " + _ID_HELP),
    "outcomes.arm_id": ("arm", "Empty for the whole cohort."),
    "comparator_arm_id": ("compared with (arm)", "Set for a hazard, odds or risk ratio between two arms."),
    "endpoint_id": ("endpoint", "What was measured."),
    "statistic": ("statistic", "Proportion, median, mean, hazard ratio …"),
    "value": ("value", "The figure as reported; percentages 0–100, ratios above 0."),
    "unit": ("unit", "%, % change from baseline, months, ratio, patients …"),
    "timepoint_months": ("timepoint (months)", "When a rate is reported at a time, e.g. 12."),
    "ci_low": ("lower 95% CI", "As reported; empty when the paper gives none."),
    "ci_high": ("upper 95% CI", "As reported; empty when the paper gives none."),
    "n_evaluated": ("patients evaluated", "The denominator of the figure."),
    "endpoint_detail": ("what exactly was counted", "Only when the endpoint alone does not say it: the test or "
                                                    "domain ('HVLT-R delayed recall'), the toxicity grade. Never "
                                                    "a population."),
    "subgroup_id": ("population", "Whole cohort, or the named subgroup the figure describes (charts label the "
                                  "figure with it)."),
    "outcomes.unit_of_analysis": ("counted per", "Patients, lesions or treatments, when the paper says so."),
    "cohort_source_id": ("cohort's paper", "The paper whose patients the figure describes; required when the study "
                                           "has several papers or the figure was read in another paper."),
    "population_note": ("population in words", "Definitions, counts, how it was assessed — detail for readers; "
                                               "charts and filters use the population chosen above."),
    # sources
    "sources.source_id": ("source id", "ref001…ref263 for the 2025 review's references; editors' additions get "
                                       "their own. " + _ID_HELP),
    "ref_number": ("reference number in the 2025 review", "1–263; empty for papers added by editors."),
    "cited_in": ("cited in", "The review that cites it, or 'editor' for a paper an editor added."),
    "authors": ("authors", "As listed in the reference: 'Brown, P. D. et al.'"),
    "first_author": ("first author", "Surname and initials: 'Brown PD'."),
    "journal": ("journal", "Abbreviated as in the reference."),
    "volume": ("volume", ""),
    "issue": ("issue", ""),
    "pages": ("pages", "Or the article number."),
    "doi": ("DOI", "Without https://doi.org/; starts with 10."),
    "pmid": ("PubMed ID (PMID)", "Digits only. Never from memory: copy it from PubMed."),
    "pub_type": ("publication type", "Judged from the title and journal."),
    # guidelines and recommendations
    "guideline_id": ("guideline", "The guideline this recommendation is from."),
    "guidelines.guideline_id": ("guideline id", _ID_HELP),
    "body": ("issuing body", "Society or panel, spelled out."),
    "kind": ("kind of document", "Guideline, consensus statement, appropriate-use criteria …"),
    "scope": ("scope", "Whom and what the guideline covers."),
    "grading_system": ("grading system", "The guideline's own system, named."),
    "recommendation_id": ("recommendation id", _ID_HELP),
    "topic_id": ("topic", "What the recommendation is about."),
    "population": ("population", "Whom it applies to."),
    "recommendation": ("recommendation (in our own words)", "Never copied from the guideline."),
    "strength": ("strength", "Exactly as the body grades it; empty when the grade was not read."),
    "evidence_quality": ("quality of evidence", "Exactly as the body grades it; empty when not read."),
    # dose schedules
    "schedule_id": ("schedule id", _ID_HELP),
    "category": ("schedule type", "Single-fraction SRS, fractionated, postoperative cavity …"),
    "dose_schedules.description": ("schedule description", "In our own words."),
    "alpha_beta_gy": ("α/β (Gy)", "10 for tumour control, 2 for normal-brain tolerance."),
    "min_diameter_cm": ("smallest lesion diameter (cm)", "Lower end of the size range the schedule is for."),
    "max_diameter_cm": ("largest lesion diameter (cm)", "Upper end of the size range the schedule is for."),
    "min_volume_cc": ("smallest lesion volume (cm³)", "Lower end of the volume range."),
    "max_volume_cc": ("largest lesion volume (cm³)", "Upper end of the volume range."),
    "dose_volume_metric": ("dose–volume metric", "For tolerance rows, e.g. V12Gy."),
    "volume_limit_cc": ("volume limit (cm³)", "For tolerance rows."),
    "reported_risk_pct": ("reported risk (%)", "0–100, as reported."),
    "risk_endpoint": ("risk of", "What the risk is of, how counted and when (e.g. 'radionecrosis, 1-year')."),
    # drug–SRS toxicity
    "signal_id": ("signal id", _ID_HELP),
    "toxicity": ("toxicity", "The adverse effect (or efficacy change) studied."),
    "rate_with_drug_pct": ("rate with the drug (%)", "0–100."),
    "rate_without_drug_pct": ("rate without the drug (%)", "0–100."),
    "n_with_drug": ("number with the drug", "Patients (or lesions) given the drug."),
    "n_without_drug": ("number without the drug", "Patients (or lesions) not given it."),
    "n_total": ("number in total", "All patients (or lesions) in the comparison."),
    "unit_of_analysis": ("counted per", "Patients, lesions or treatments."),
    "effect_measure": ("effect measure", "OR, HR, RR, SHR or IRR."),
    "effect_value": ("effect size", "As reported."),
    "effect_ci_low": ("lower 95% CI of the effect", "As reported."),
    "effect_ci_high": ("upper 95% CI of the effect", "As reported."),
    "concurrency_window": ("timing window", "How the study defines 'concurrent' (e.g. within 4 weeks of SRS); "
                                            "empty if it does not."),
    "finding": ("finding (in our own words)", "Never copied from the paper."),
    "sequencing_guidance": ("sequencing guidance (in our own words)", "What the source suggests about timing."),
    # imaging
    "imaging_id": ("imaging row id", _ID_HELP),
    "modality_id": ("imaging modality", "MRI sequence, PET tracer …"),
    "purpose": ("purpose", "Detection, radionecrosis vs progression, treatment planning …"),
    "parameter": ("parameter measured", "rCBV, Cho/Cr, TBRmax …"),
    "sensitivity_pct": ("sensitivity (%)", "0–100."),
    "specificity_pct": ("specificity (%)", "0–100."),
    "auc": ("AUC", "Area under the ROC curve, 0–1."),
    "n_lesions": ("lesions", "Number of lesions."),
    "imaging.design_id": ("study design", "How the study was designed."),
    "summary": ("summary (in our own words)", "Never copied from the paper."),
}

# What an accepted change did to a record (audit_log.action), as the history says it.
ACTION_WORDS = {"create": "added", "update": "changed", "retire": "retired", "revert": "reverted",
                "import": "imported from a CSV"}

# Allowed values (CHECK lists) as a reader says them; anything not here loses its underscores.
CHOICE_WORDS = {"true": "yes", "false": "no", "%": "%", "pct_change": "% change from baseline",
                "srs_review_2025": "the 2025 SRS review", "seed_review": "a seed review", "editor": "an editor",
                "terminated_early": "stopped early", "published_abstract": "abstract only",
                "secondary_analysis": "secondary analysis", "rn_vs_progression": "radionecrosis vs progression",
                "ha_wbrt": "HA-WBRT", "wbrt": "WBRT", "fractionated_intact": "fractionated SRS (intact)",
                "normal_tissue": "normal-brain tolerance", "appropriate_use": "appropriate-use criteria"}


def _entry(column: str, table: str | None) -> tuple[str, str] | None:
    return (WORDS.get(f"{table}.{column}") if table else None) or WORDS.get(column)


def label(column: str, table: str | None = None) -> str:
    """The column in words, lower case as it stands inside a sentence ('total dose (Gy)')."""
    entry = _entry(column, table)
    return entry[0] if entry else column.replace("_", " ")


def help_text(column: str, table: str | None = None) -> str | None:
    """One or two sentences for the form's help icon, or None."""
    entry = _entry(column, table)
    return entry[1] or None if entry else None


def choice_word(value: Any) -> str:
    """An allowed value as a reader says it: 'hazard_ratio' -> 'hazard ratio'."""
    text = str(value)
    return CHOICE_WORDS.get(text, text.replace("_", " "))


def form_label(column: str, table: str | None = None) -> str:
    """The label a form shows: the words with a capital first letter ('Total dose (Gy)', 'DOI')."""
    words = label(column, table)
    return words[:1].upper() + words[1:]
