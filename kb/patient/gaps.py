"""What the KB does not know for a profile, in plain words.

Each gap is one sentence built from what the matching found (or did not find); nothing is inferred beyond the KB:
"no randomized trial in this KB …" is a statement about this KB, never about the literature.
"""

from __future__ import annotations

import re
from typing import Any

from kb.patient.drugs import STUDY_RELATIONS, Drug, class_label, relation
from kb.patient.load import KbTables
from kb.patient.match import best_histology, lower_first
from kb.patient.profile import Profile

DIRECT_SIGNAL = ("same", "combination", "component", "class", "member", "context")
SETTING_PHRASES = {"intact": "of intact metastases", "postoperative": "of resection cavities",
                   "preoperative": "of preoperative SRS", "recurrent": "of recurrence or salvage",
                   "leptomeningeal": "of leptomeningeal disease", "systemic_only": "of systemic therapy alone"}


def _names(items: list[dict[str, Any]], limit: int = 3) -> str:
    names = [i["short_name"] for i in items[:limit]]
    return ", ".join(names) + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def find_gaps(tables: KbTables, profile: Profile, drugs: list[Drug], answer: dict[str, Any]) -> list[str]:
    """Sentences about what this KB lacks for the profile (studies, sizes, settings, drugs, guidelines)."""
    vocab = tables.vocab
    hist = lower_first(vocab.histology_name(profile.histology_id))
    n, d, v = profile.metastases, profile.diameter_cm, profile.volume_cc
    count = "" if n is None else {0: " with no parenchymal brain metastasis", 1: " with a single metastasis"}.get(
        n, f" with {n} metastases")
    of_setting = f" {SETTING_PHRASES.get(profile.setting_id, '')}" if profile.setting_id else ""
    studies, excluded = answer["studies"], answer["studies_excluded"]
    gaps: list[str] = []

    # randomized evidence for this population: trials of the setting (drug trials aside) that enrolled this
    # histology or its parent, and whether their recorded eligibility covers this patient
    parent = vocab.parent_of(profile.histology_id)
    broader = (f" (or {re.sub(r' [(]any subtype[)]', '', lower_first(vocab.histology_name(parent)))} as a whole)"
               if parent else "")
    checkable = n is not None or d is not None or v is not None
    rcts = [s for s in studies if s["randomized"]]
    local = [s for s in rcts if s["setting_match"] != "drug_only"]
    specific = [s for s in local if s["histology_match"] in ("same", "parent")]
    if checkable:
        if not [s for s in specific if s["group"] == "covers"]:
            what = (count if n is not None else f" with a {d:g} cm lesion" if d is not None
                    else f" with a {v:g} cc lesion")
            text = f"No randomized trial in this KB{of_setting} enrolled {hist}{broader}{what}"
            local_covering = [s for s in local if s["group"] == "covers"]
            if local_covering:
                text += ("; the randomized trials whose recorded eligibility covers this patient enrolled mixed "
                         f"solid tumours ({_names(local_covering)})")
            elif rcts:
                text += (f"; {_plural(len(rcts), 'randomized trial')} {'matches' if len(rcts) == 1 else 'match'} "
                         "the population but the KB does not record an eligible number of metastases or size that "
                         f"could be checked ({_names(rcts)})")
            gaps.append(text + ".")
    elif not specific:
        text = f"No randomized trial in this KB{of_setting} enrolled {hist}{broader}"
        if local:
            text += f"; the randomized evidence here comes from trials of mixed solid tumours ({_names(local)})"
        gaps.append(text + ".")
    excluded_rcts = [s for s in excluded if s["randomized"]]
    if excluded_rcts:
        listed = ", ".join(f"{s['short_name']} ({s['why_not'][0].split(': ', 1)[-1]})" for s in excluded_rcts[:4])
        if len(excluded_rcts) > 4:
            listed += f" and {len(excluded_rcts) - 4} more"
        gaps.append(f"{_plural(len(excluded_rcts), 'randomized trial')} of this population did not enrol a patient "
                    f"like this one: {listed}.")

    # eligibility the KB does not record
    unknown = [s for s in studies if s["group"] == "eligibility_not_recorded"]
    if unknown and (n is not None or d is not None or v is not None):
        gaps.append(f"For {len(unknown)} of the {len(studies)} studies that match this population, the KB does not "
                    "record an eligible number of metastases or size that could be checked; they are listed "
                    "separately.")

    # lesion size
    if d is not None:
        limits = [s["max_diameter_cm"] for s in studies + excluded if s.get("max_diameter_cm") is not None]
        if limits and max(limits) < d:
            gaps.append(f"No study in this KB with a recorded size limit admitted a {d:g} cm lesion (the largest "
                        f"limit recorded for this population is {max(limits):g} cm).")
    if d is not None or v is not None:
        if not any(s["size_fit"] == "fits" for s in answer["dose_schedules"]):
            size = " / ".join(x for x in ((f"{d:g} cm" if d is not None else None),
                                          (f"{v:g} cc" if v is not None else None)) if x)
            gaps.append(f"No dose schedule in this KB{of_setting} states a size range that includes a {size} "
                        "lesion.")

    # setting
    if profile.setting_id:
        if not any(s["setting_match"] == "same" for s in answer["dose_schedules"]):
            gaps.append(f"The KB holds no dose schedule for {lower_first(vocab.setting_name(profile.setting_id))}.")
        if not any(s["setting_match"] == "same" and s["histology_match"] in ("same", "parent") for s in studies):
            gaps.append(f"No study in this KB{of_setting} enrolled {hist}{broader}.")
    if profile.prior_radiation:
        gaps.append("Studies in this KB are not tagged by prior brain radiation, so whether each one enrolled "
                    "previously irradiated patients is not recorded.")

    # drugs
    for drug in drugs:
        direct = [s for s in answer["drug_signals"]
                  if drug.drug_id in s["patient_drug_ids"] and s["relation"] in DIRECT_SIGNAL]
        indirect = [s for s in answer["drug_signals"] if drug.drug_id in s["patient_drug_ids"] and s not in direct]
        if not direct:
            text = (f"No drug–SRS toxicity signal in this KB concerns {drug.label} or its class "
                    f"({class_label(drug.drug_class)})")
            if indirect:
                text += ("; the signals shown for it are indirect (another drug of its class, or systemic therapy "
                         "in general)")
            gaps.append(text + ".")
        else:
            no_window = [s["signal_id"] for s in direct if not s["timing_window"]]
            if no_window:
                gaps.append(f"{_plural(len(no_window), 'signal')} for {drug.label} "
                            f"({', '.join(no_window[:4])}{'…' if len(no_window) > 4 else ''}) "
                            f"{'does' if len(no_window) == 1 else 'do'} not state how the study defined concurrent "
                            "use (timing window).")
        if not any(drug.drug_id in s["matched_drug_ids"] for s in studies + []):
            elsewhere = []
            for row in tables.studies.itertuples(index=False):
                if any(relation(drug, vocab.drugs[x]) in STUDY_RELATIONS for x in row.drug_ids if x in vocab.drugs):
                    kind, _ = best_histology(vocab, profile.histology_id, row.histology_ids)
                    if kind is None:
                        elsewhere.extend(row.histology_ids)
            text = f"No study in this KB tested {drug.label} in {hist}"
            if elsewhere:
                names = ", ".join(dict.fromkeys(lower_first(vocab.histology_name(h)) for h in elsewhere))
                text += f"; the {drug.label} studies here enrolled {names}"
            gaps.append(text + ".")

    # guidelines
    recs = answer["recommendations"]
    if not recs:
        where = f" ({lower_first(vocab.setting_name(profile.setting_id))})" if profile.setting_id else ""
        gaps.append(f"No guideline recommendation in this KB addresses this profile{where}.")
    else:
        specific = [r for r in recs if any(w.startswith("Histology: for ") for w in r["why"])]
        if not specific:
            gaps.append(f"No guideline recommendation in this KB names {hist}{broader}; the recommendations shown "
                        "address brain metastases from any solid tumour.")
    ungraded = [r for r in recs if not r["strength"]]
    if ungraded:
        gaps.append(f"{len(ungraded)} of the {len(recs)} recommendations shown carry no grade in the KB (the grade "
                    "was not read in the source).")
    for rec in answer["recommendations_excluded"]:
        for reason in rec["why_not"]:
            if reason.startswith("Histology: the population excludes"):
                gaps.append(f"{rec['guideline']} ({rec['recommendation_id']}) is for a population that excludes "
                            f"{hist}.")

    # what the profile leaves open
    if vocab.subtypes(profile.histology_id):
        gaps.append("The molecular subtype is not given; studies restricted to one subtype are marked 'applies only "
                    "if the tumour has it'.")
    if any(i["purpose"] == "rn_vs_progression" for i in answer["imaging"]):
        gaps.append("Imaging accuracy figures in this KB are not broken down by histology or drug.")
    return gaps
