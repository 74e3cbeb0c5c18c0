"""Matching a profile against studies, dose schedules, drug–SRS signals and imaging rows; every match says why.

The rules are written out in ``kb/patient/__init__.py``; each function here returns plain JSON-ready dicts, best
first, each with its KB id and ``why`` (a list of sentences).
"""

from __future__ import annotations

import math
from typing import Any, Iterable


from kb.patient.drugs import RELATION_RANK, STUDY_RELATIONS, Drug, explain, relation
from kb.patient.load import KbTables, source_fields, value
from kb.patient.profile import Profile
from kb.patient.vocabulary import Vocabulary
from kb.queries import size_range

PARENCHYMAL = ("intact", "postoperative", "preoperative", "recurrent")
MIXED_COVERS = ("intact", "postoperative", "recurrent")  # what a cohort coded "mixed settings" is taken to cover
HISTOLOGY_RANK = {"same": 0, "parent": 1, "mixed": 2, "subtype": 3}
SETTING_RANK = {"same": 0, "followup": 1, "prior": 2, "mixed": 3, "not_given": 4, "unknown": 5, "drug_only": 6}
SIZE_RANK = {"fits": 0, "size_not_given": 1, "not_compared": 2, "not_recorded": 3}
RADIONECROSIS = ("symptomatic_radionecrosis", "any_radionecrosis", "adverse_radiation_effect")


def lower_first(text: str) -> str:
    """A name inside a sentence: 'Breast cancer HER2-positive' -> 'breast cancer HER2-positive'; acronyms stay.

    >>> lower_first("Breast cancer HER2-positive"), lower_first("NSCLC EGFR-mutant")
    ('breast cancer HER2-positive', 'NSCLC EGFR-mutant')
    """
    return text[:1].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def _num(v: Any) -> str:
    return f"{float(v):g}"


# ------------------------------------------------------------------------------------------------ histology
def histology_relation(vocab: Vocabulary, patient: str, record: str | None) -> str | None:
    """How a record's histology relates to the patient's: same, parent (broader group), mixed (mixed solid
    tumours), subtype (narrower than what the profile gives), or None (another histology, siblings included)."""
    if not record:
        return None
    if record == patient:
        return "same"
    if record in vocab.ancestors(patient):
        return "parent"
    if record == "mixed":
        return "mixed"
    if patient in vocab.ancestors(record):
        return "subtype"
    return None


def best_histology(vocab: Vocabulary, patient: str, records: Iterable[str]) -> tuple[str | None, str | None]:
    """The closest of a record's histologies: (relation, histology_id)."""
    found = [(HISTOLOGY_RANK[r], r, h) for h in records if (r := histology_relation(vocab, patient, h))]
    if not found:
        return None, None
    _, kind, histology = min(found)
    return kind, histology


def histology_reason(vocab: Vocabulary, kind: str, patient: str, record: str, verb: str = "enrolled") -> str:
    name, mine = lower_first(vocab.histology_name(record)), lower_first(vocab.histology_name(patient))
    return {
        "same": f"Histology: {verb} {name} — the patient's histology",
        "parent": f"Histology: {verb} {name}, the broader group that includes {mine}",
        "mixed": f"Histology: {verb} mixed solid tumours, which can include {mine} (histologies a paper excluded "
                 "are not recorded)",
        "subtype": f"Histology: {verb} only {name}, a subtype of {mine} — applies only if the tumour has it",
    }[kind]


# ------------------------------------------------------------------------------------------------ setting
def setting_relation(vocab: Vocabulary, profile: Profile, tags: list[str],
                     what: str = "study") -> tuple[str, str] | None:
    """(relation, reason) between the patient's setting and a record's setting tags, or None."""
    wanted = profile.setting_id
    names = "; ".join(vocab.setting_name(t) for t in tags)
    if wanted is None:
        return "not_given", (f"Setting: {names} (the profile gives no setting)" if tags
                             else f"Setting: not recorded for this {what} (the profile gives none)")
    if wanted in tags:
        return "same", f"Setting: {vocab.setting_name(wanted)}"
    if wanted == "recurrent" and "post_srs_followup" in tags:
        return "followup", ("Setting: imaging follow-up of treated lesions — the question a lesion growing after "
                            "radiation raises")
    if profile.prior_radiation and "recurrent" in tags:
        return "prior", ("Setting: re-treatment after prior brain radiation or local failure; the profile records "
                         "prior brain radiation")
    if "mixed" in tags and wanted in MIXED_COVERS:
        return "mixed", "Setting: a cohort mixing several settings (the KB does not record which)"
    if not tags and what == "schedule" and wanted in PARENCHYMAL:
        return "unknown", "Setting: not recorded for this schedule"
    return None


# ------------------------------------------------------------------------------------------------ eligibility
def eligibility(row: Any, profile: Profile) -> dict[str, Any]:
    """Check the study's recorded eligibility (number of metastases, largest diameter, volume) against the profile.

    ``status``: ``covers`` (something recorded was checked and nothing excludes the patient), ``excludes``, or
    ``not_recorded`` (nothing the profile gives could be checked). A bound is inclusive: '1–4 metastases' covers 4,
    'up to 3 cm' covers 3 cm; a missing lower bound on the number of metastases counts as 1 (as in the explorer).
    """
    why, why_not, checks = [], [], []
    lo, hi = value(row.mets_min), value(row.mets_max)
    eligible = size_range(lo, hi, "")
    n = profile.metastases
    if n is not None:
        if lo is None and hi is None:
            why.append("Number of metastases: eligibility not recorded in the KB")
        else:
            inside = (lo if lo is not None else 1) <= n and (hi is None or n <= hi)
            checks.append(inside)
            (why if inside else why_not).append(
                f"Number of metastases: {eligible} eligible; the patient has {n}")
    elif eligible:
        why.append(f"Number of metastases: {eligible} eligible (not checked: the profile gives no number)")

    max_d, max_v = value(row.max_diameter_cm), value(getattr(row, "max_volume_cc", None))
    d, v = profile.diameter_cm, profile.volume_cc
    size_checked = False
    if d is not None and max_d is not None:
        inside = d <= max_d
        checks.append(inside)
        size_checked = True
        (why if inside else why_not).append(
            f"Size: lesions up to {_num(max_d)} cm eligible; the patient's largest is {_num(d)} cm")
    if v is not None and max_v is not None:
        inside = v <= max_v
        checks.append(inside)
        size_checked = True
        (why if inside else why_not).append(
            f"Size: lesions up to {_num(max_v)} cc eligible; the patient's largest is {_num(v)} cc")
    if not size_checked:
        limits = " and ".join(x for x in ((f"{_num(max_d)} cm" if max_d is not None else None),
                                          (f"{_num(max_v)} cc" if max_v is not None else None)) if x)
        if d is None and v is None:
            if limits:
                why.append(f"Size: lesions up to {limits} eligible (not checked: the profile gives no size)")
        elif limits:
            given = "a diameter" if d is not None else "a volume"
            why.append(f"Size: the limit is recorded as {limits}; the profile gives only {given} — not compared")
        else:
            why.append("Size limit: not recorded in the KB")
    if why_not:
        status = "excludes"
    elif any(checks):
        status = "covers"
    else:
        status = "not_recorded"
    if status == "not_recorded" and n is None and d is None and v is None:
        why.append("Eligibility not checked: the profile gives no number of metastases or size")
    return {"status": status, "why": why, "why_not": why_not}


# ------------------------------------------------------------------------------------------------ studies
def match_studies(tables: KbTables, profile: Profile, drugs: list[Drug]) -> tuple[list[dict], list[dict]]:
    """Studies whose population covers the patient, and those whose recorded eligibility excludes the patient.

    A study enters by its population (histology and setting both relate to the patient's) or as a systemic-therapy
    study of one of the patient's drugs (histology must still relate). Its recorded eligibility then sorts it:
    ``group`` ``covers`` or ``eligibility_not_recorded``; an excluding study goes to the second list with
    ``why_not``. Order: group, evidence level (1 best), randomized first, closest histology, setting, drug, newest.
    """
    vocab = tables.vocab
    matched, excluded = [], []
    for row in tables.studies.itertuples(index=False):
        hist_kind, hist_id = best_histology(vocab, profile.histology_id, row.histology_ids)
        if hist_kind is None:
            continue
        setting = setting_relation(vocab, profile, list(row.setting_ids))
        drug_hits = []
        for i, patient_drug in enumerate(drugs):
            for drug_id in row.drug_ids:
                kind = relation(patient_drug, vocab.drugs[drug_id]) if drug_id in vocab.drugs else None
                if kind in STUDY_RELATIONS or kind == "same_class":
                    drug_hits.append((RELATION_RANK[kind], i, explain(kind, patient_drug, vocab.drugs[drug_id],
                                                                      "study"), kind))
        if setting is None and not drug_hits:
            continue
        why = [histology_reason(vocab, hist_kind, profile.histology_id, hist_id)]
        if setting is not None:
            why.append(setting[1])
            setting_kind = setting[0]
        else:
            names = "; ".join(vocab.setting_name(t) for t in row.setting_ids) or "not recorded"
            why.append(f"Setting: {names} — included as a study of the patient's drug")
            setting_kind = "drug_only"
        why += list(dict.fromkeys(text for _, _, text, _ in sorted(set(drug_hits))))
        check = eligibility(row, profile)
        base = {
            "study_id": row.study_id, "short_name": row.short_name, "design": value(row.design),
            "design_id": row.design_id, "randomized": bool(value(row.randomized)), "phase": value(row.phase),
            "evidence_level": value(row.evidence_level), "year": value(row.year),
            "verification": value(row.verification), "verified_in": value(row.verified_in),
            **source_fields(row.first_author, row.year, row.journal, row.doi, row.pmid, row.primary_source_id,
                            row.nct_id),
            "nct_id": value(row.nct_id),
        }
        if check["status"] == "excludes":
            excluded.append({**base, "histology_match": hist_kind, "setting_match": setting_kind,
                             "max_diameter_cm": value(row.max_diameter_cm),
                             "eligible_metastases": size_range(row.mets_min, row.mets_max, ""),
                             "why_not": check["why_not"], "why": why + check["why"]})
            continue
        matched_drugs = list(dict.fromkeys(drugs[i].drug_id for _, i, _, kind in sorted(drug_hits, key=lambda h: h[1])
                                           if kind != "same_class"))
        class_drugs = list(dict.fromkeys(drugs[i].drug_id for _, i, _, kind in sorted(drug_hits, key=lambda h: h[1])
                                         if kind == "same_class"))
        sort_key = (0 if check["status"] == "covers" else 1,
                    value(row.evidence_level) or 9, 0 if value(row.randomized) else 1, HISTOLOGY_RANK[hist_kind],
                    SETTING_RANK[setting_kind], min((h[0] for h in drug_hits), default=9),
                    -(value(row.year) or 0), row.short_name)
        matched.append((sort_key, {
            **base,
            "group": "covers" if check["status"] == "covers" else "eligibility_not_recorded",
            "histology_match": hist_kind, "setting_match": setting_kind, "matched_drug_ids": matched_drugs,
            "same_class_drug_ids": class_drugs,
            "n_enrolled": value(row.n_enrolled), "histologies": value(row.histologies),
            "settings": value(row.settings), "eligible_metastases": size_range(row.mets_min, row.mets_max, ""),
            "max_diameter_cm": value(row.max_diameter_cm), "max_volume_cc": value(row.max_volume_cc),
            "size_note": value(row.size_note), "primary_endpoint": value(row.primary_endpoint),
            "key_result": value(row.key_result),
            "key_results": [dict(f) for f in tables.key_results.get(row.study_id, [])],
            "why": why + check["why"],
        }))
    matched.sort(key=lambda pair: pair[0])
    excluded.sort(key=lambda s: ((s["evidence_level"] or 9), -(s["year"] or 0), s["short_name"]))
    return [item for _, item in matched], excluded


# ------------------------------------------------------------------------------------------------ dose schedules
def _range_text(low: Any, high: Any, unit: str) -> str | None:
    return size_range(value(low), value(high), unit)


def size_fit(row: Any, profile: Profile) -> tuple[str, str]:
    """(status, reason) of a schedule's stated lesion/cavity size range against the profile's size.

    ``fits`` / ``excludes`` when a range in the unit the profile gives was compared (bounds inclusive, as on the
    dosing page); otherwise ``size_not_given``, ``not_compared`` (range only in the other unit) or ``not_recorded``.
    """
    d, v = profile.diameter_cm, profile.volume_cc
    cm = _range_text(row.min_diameter_cm, row.max_diameter_cm, "cm")
    cc = _range_text(row.min_volume_cc, row.max_volume_cc, "cc")
    results = []
    if d is not None and cm:
        lo, hi = value(row.min_diameter_cm), value(row.max_diameter_cm)
        inside = (lo or 0) <= d <= (hi if hi is not None else math.inf)
        results.append((inside, f"Size: stated for {cm}; the patient's largest lesion is {_num(d)} cm"))
    if v is not None and cc:
        lo, hi = value(row.min_volume_cc), value(row.max_volume_cc)
        inside = (lo or 0) <= v <= (hi if hi is not None else math.inf)
        results.append((inside, f"Size: stated for {cc}; the patient's largest lesion is {_num(v)} cc"))
    if results:
        failing = [text for ok, text in results if not ok]
        return ("excludes", failing[0]) if failing else ("fits", results[0][1])
    stated = " / ".join(x for x in (cm, cc) if x)
    if d is None and v is None:
        return "size_not_given", (f"Size: stated for {stated} (not compared: the profile gives no size)" if stated
                                  else "Size: no size range recorded for this schedule")
    if stated:
        given = "a diameter" if d is not None else "a volume"
        return "not_compared", f"Size: stated for {stated}; the profile gives only {given} — not compared"
    return "not_recorded", "Size: no size range recorded for this schedule"


def match_schedules(tables: KbTables, profile: Profile) -> list[dict[str, Any]]:
    """Dose schedules (and normal-brain risk rows) for the patient's setting whose size range does not exclude the
    lesion, with dose per fraction, BED and EQD2 as the dosing page computes them (``kb.radiobiology.with_bed``)."""
    vocab = tables.vocab
    out = []
    for row in tables.schedules.itertuples(index=False):
        own = value(row.setting_id)
        tags = [own] if own else [s for s in row.study_setting_ids]
        setting = setting_relation(vocab, profile, tags, what="schedule")
        if setting is None:
            continue
        status, size_reason = size_fit(row, profile)
        if status == "excludes":
            continue
        setting_reason = setting[1]
        alpha_beta = value(row.alpha_beta_gy)
        why = [setting_reason, size_reason]
        if value(row.bed_gy) is not None:
            why.append(f"BED and EQD2 computed here from {row.schedule} with α/β {_num(alpha_beta)} Gy "
                       "(linear-quadratic model)")
        sort_key = (SETTING_RANK[setting[0]], SIZE_RANK[status], 1 if row.category == "normal_tissue" else 0,
                    -(value(row.total_dose_gy) or 0), row.schedule_id)
        out.append((sort_key, {
            "schedule_id": row.schedule_id, "category": row.category, "category_label": value(row.category_label),
            "setting_id": own, "setting": value(row.setting), "description": value(row.description),
            "schedule": value(row.schedule), "total_dose_gy": value(row.total_dose_gy),
            "fractions": value(row.fractions), "dose_per_fraction_gy": value(row.dose_per_fraction_gy),
            "alpha_beta_gy": alpha_beta, "bed_gy": value(row.bed_gy), "eqd2_gy": value(row.eqd2_gy),
            "size_range": value(row.size_range), "size_fit": status,
            "dose_volume_metric": value(row.dose_volume_metric), "volume_limit_cc": value(row.volume_limit_cc),
            "setting_match": setting[0],
            "reported_risk_pct": value(row.reported_risk_pct), "risk_endpoint": value(row.risk_endpoint),
            "study_id": value(row.study_id), "study": value(row.study), "verification": value(row.verification),
            "verified_in": value(row.verified_in),
            **source_fields(row.first_author, row.source_year, row.journal, row.doi, row.pmid, row.source_id),
            "why": why,
        }))
    return [item for _, item in sorted(out, key=lambda pair: pair[0])]


# ------------------------------------------------------------------------------------------------ drug signals
def effect_text(row: Any) -> str | None:
    """'HR 2.69 (95% CI 1.1–6.6); p=0.03' from a signal's effect columns, or None.

    >>> from types import SimpleNamespace as R
    >>> effect_text(R(effect_measure="HR", effect_value=2.69, effect_ci_low=None, effect_ci_high=None, p_value="0.03"))
    'HR 2.69; p=0.03'
    """
    if value(row.effect_value) is None:
        return None
    text = f"{row.effect_measure or 'effect'} {_num(row.effect_value)}"
    if value(row.effect_ci_low) is not None and value(row.effect_ci_high) is not None:
        text += f" (95% CI {_num(row.effect_ci_low)}–{_num(row.effect_ci_high)})"
    p = value(row.p_value)
    if p:
        text += "; p" + (p if p[0] in "<>=" else "=" + p)
    return text


def match_signals(tables: KbTables, profile: Profile, drugs: list[Drug]) -> list[dict[str, Any]]:
    """Drug–SRS toxicity signals for each of the patient's drugs: the drug itself, its class, its regimen, another
    agent of its class (said so), any systemic therapy, or a signal studied in patients on the drug (steroids in
    patients on checkpoint inhibitors). Histology is reported, not required: a signal from another histology is
    listed last with that said."""
    vocab = tables.vocab
    arms = dict(zip(tables.studies["study_id"], tables.studies["drug_ids"]))
    out = []
    for row in tables.signals.itertuples(index=False):
        record = vocab.drugs.get(row.drug_id)
        if record is None:
            continue
        hits = []
        for i, patient_drug in enumerate(drugs):
            kind = relation(patient_drug, record)
            if kind is not None:
                hits.append((RELATION_RANK[kind], i, kind, explain(kind, patient_drug, record)))
                continue
            for other in arms.get(value(row.study_id), []):
                other_drug = vocab.drugs.get(other)
                if other == record.drug_id or other_drug is None:
                    continue
                if relation(patient_drug, other_drug) in STUDY_RELATIONS:
                    on = (patient_drug.label if other == patient_drug.drug_id
                          else f"{other_drug.label}, which includes the patient's {patient_drug.label}")
                    hits.append((RELATION_RANK["context"], i, "context",
                                 f"Drug: concerns {record.label} in patients receiving {on}"))
                    break
        if not hits:
            continue
        hits.sort()
        hist_kind = histology_relation(vocab, profile.histology_id, value(row.histology_id))
        if hist_kind:
            hist_reason = histology_reason(vocab, hist_kind, profile.histology_id, row.histology_id, "studied in")
        else:
            hist_reason = (f"Histology: studied in {lower_first(vocab.histology_name(row.histology_id))}, not in "
                           f"{lower_first(vocab.histology_name(profile.histology_id))}")
        window = value(row.concurrency_window)
        why = list(dict.fromkeys(text for *_, text in hits)) + [
            hist_reason, "Timing window: " + (window or "not stated in the source")]
        patient_drug_ids = list(dict.fromkeys(drugs[i].drug_id for _, i, _, _ in sorted(hits, key=lambda h: h[1])))
        first = min(h[1] for h in hits)
        sort_key = (first, min(h[0] for h in hits if h[1] == first), HISTOLOGY_RANK.get(hist_kind, 9),
                    value(row.evidence_level) or 9, row.signal_id)
        out.append((sort_key, {
            "signal_id": row.signal_id, "drug_id": row.drug_id, "drug": record.label,
            "patient_drug_ids": patient_drug_ids, "relation": hits[0][2],
            "toxicity": row.toxicity, "toxicity_name": value(row.toxicity_name),
            "histology_id": value(row.histology_id), "histology": value(row.histology),
            "rate_with_drug_pct": value(row.rate_with_drug_pct),
            "rate_without_drug_pct": value(row.rate_without_drug_pct), "n_with_drug": value(row.n_with_drug),
            "n_without_drug": value(row.n_without_drug), "n_total": value(row.n_total),
            "unit_of_analysis": value(row.unit_of_analysis), "effect": effect_text(row),
            "effect_measure": value(row.effect_measure), "effect_value": value(row.effect_value),
            "effect_ci_low": value(row.effect_ci_low), "effect_ci_high": value(row.effect_ci_high),
            "p_value": value(row.p_value), "timing_window": window, "finding": value(row.finding),
            "sequencing_guidance": value(row.sequencing_guidance), "evidence_level": value(row.evidence_level),
            "study_id": value(row.study_id), "study": value(row.study), "verification": value(row.verification),
            "verified_in": value(row.verified_in),
            **source_fields(row.first_author, row.source_year, row.journal, row.doi, row.pmid, row.source_id),
            "why": why,
        }))
    return [item for _, item in sorted(out, key=lambda pair: pair[0])]


# ------------------------------------------------------------------------------------------------ imaging
IMAGING_ORDER = ("rn_vs_progression", "surveillance", "response_assessment", "treatment_planning", "detection",
                 "prediction")


def radionecrosis_reasons(profile: Profile, signals: list[dict[str, Any]]) -> list[str]:
    """Why telling radionecrosis from progression applies to this profile (empty when it does not)."""
    reasons = []
    if profile.setting_id == "recurrent":
        reasons.append("Setting: a lesion growing after radiation may be necrosis or progression")
    if profile.prior_radiation:
        reasons.append("Prior brain radiation: a lesion that grows after radiation may be necrosis or progression")
    rn = [s for s in signals if s["toxicity"] in RADIONECROSIS and s["relation"] in ("same", "class", "combination",
                                                                                      "component", "member")]
    for drug in dict.fromkeys(s["drug"] for s in rn):
        ids = ", ".join(s["signal_id"] for s in rn if s["drug"] == drug)
        reasons.append(f"Drug: {drug} has a radionecrosis signal in this KB ({ids})")
    if profile.setting_id in ("intact", "postoperative", "preoperative") or (
            profile.setting_id is None and not reasons):
        reasons.append("After SRS a treated lesion may enlarge on follow-up MRI: necrosis or progression")
    return reasons


def match_imaging(tables: KbTables, profile: Profile, signals: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Imaging evidence that applies: follow-up for everyone; radionecrosis-versus-progression when a recurrence,
    prior radiation, a radionecrosis drug signal or SRS makes the question arise; planning, detection and prediction
    where SRS or surgery is ahead. Rows about screening people without known metastases never apply."""
    setting = profile.setting_id
    rn = radionecrosis_reasons(profile, signals)
    out = []
    for row in tables.imaging.itertuples(index=False):
        purpose = row.purpose
        text = f"{value(row.parameter) or ''} {value(row.summary) or ''}".lower()
        if purpose == "rn_vs_progression":
            why = list(rn)
        elif purpose == "surveillance":
            why = ["Follow-up imaging after local or systemic treatment applies to every profile"]
        elif purpose == "response_assessment":
            why = ["Response assessment applies whenever treatment is given"]
        elif purpose == "treatment_planning":
            if row.modality_id == "intraoperative_imaging":
                why = ["Setting: surgery is planned"] if setting == "preoperative" else []
            else:
                why = ["Planning imaging for SRS"] if setting in PARENCHYMAL or setting is None else []
        elif purpose == "detection":
            why = (["Detection: how many metastases are found depends on the MRI technique, and the number decides "
                    "which evidence applies"] if setting in ("intact", "preoperative", None)
                   and "screening" not in text else [])
        elif purpose == "prediction":
            why = ["Prediction after SRS of intact metastases"] if setting in ("intact", None) else []
        else:
            why = []
        if not why:
            continue
        accuracy = value(row.sensitivity_pct) is not None and value(row.specificity_pct) is not None
        sort_key = (IMAGING_ORDER.index(purpose) if purpose in IMAGING_ORDER else 9, 0 if accuracy else 1,
                    0 if value(row.verification) == "verified" else 1, row.imaging_id)
        out.append((sort_key, {
            "imaging_id": row.imaging_id, "modality_id": row.modality_id, "modality": value(row.modality),
            "kind": value(row.kind), "purpose": purpose, "purpose_label": value(row.purpose_label),
            "parameter": value(row.parameter), "sensitivity_pct": value(row.sensitivity_pct),
            "specificity_pct": value(row.specificity_pct), "auc": value(row.auc),
            "n_patients": value(row.n_patients), "n_lesions": value(row.n_lesions), "design": value(row.design),
            "summary": value(row.summary), "verification": value(row.verification),
            "verified_in": value(row.verified_in),
            **source_fields(row.first_author, row.source_year, row.journal, row.doi, row.pmid, row.source_id),
            "why": why,
        }))
    return [item for _, item in sorted(out, key=lambda pair: pair[0])]
