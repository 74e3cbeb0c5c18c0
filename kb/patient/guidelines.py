"""Guideline recommendations that apply to a profile.

``recommendations.population`` is free text in the KB ("Adults with 2-3 brain metastases not suitable for surgery"),
so the population is read here with a few explicit rules (``parse_population``, tested case by case):

- number of metastases: "1-4 … metastases", "up to 4 …", "more than 4 …", "5 or more …", "multiple (>1)",
  "single/solitary …"; several phrases are a union ("a single metastasis, or multiple resectable lesions");
- histology: breast, HER2-positive, triple-negative, lung cancer (NSCLC and SCLC), non-small cell, small-cell,
  melanoma, renal; "excluding small-cell lung cancer" excludes; no histology word = any solid tumour;
- setting: resected/cavity → postoperative, unresected/intact → intact, needing resection → pre- or postoperative,
  leptomeningeal, radiation necrosis → recurrence after radiation; "newly diagnosed" excludes recurrence; "recurrent"
  adds it. Without setting words the topic decides (``TOPIC_SETTINGS``: patient selection and SRS-vs-WBRT concern
  intact metastases, postoperative topics the cavity, …);
- size: "up to 1 cm" in the population or the guideline's scope; "cumulative volume under 7 cc" excludes a patient
  whose largest lesion alone is bigger, otherwise it is a condition to check;
- conditions the profile does not record (performance status, symptoms, extracranial disease, suitability for
  surgery or SRS, HER2-targeted therapy, 'large' lesions) are named in ``why``, never guessed;
- populations before a diagnosis (suspected metastases, screening) and research audiences (trial design) never apply.

A recommendation's strength is shown exactly as its body grades it (``strength``), or "not graded in the source as
read" when the KB holds no grade; ``grading_system`` names the body's scale.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

from kb.patient.load import KbTables, source_fields, value
from kb.patient.match import histology_relation, lower_first
from kb.patient.profile import Profile
from kb.patient.vocabulary import Vocabulary
from kb.queries import size_range

ALL_SETTINGS = ("intact", "postoperative", "preoperative", "recurrent", "leptomeningeal", "systemic_only")
TOPIC_SETTINGS: dict[str, tuple[str, ...]] = {
    "patient_selection": ("intact",),
    "srs_vs_wbrt": ("intact",),
    "fractionation": ("intact", "postoperative", "preoperative", "recurrent"),
    "postoperative": ("postoperative", "preoperative"),
    "preoperative": ("preoperative",),
    "surgery": ("intact", "preoperative", "postoperative", "recurrent"),
    "leptomeningeal": ("leptomeningeal",),
    "radionecrosis": ("recurrent",),
    "systemic_therapy": ALL_SETTINGS,
    "ha_wbrt_memantine": ("intact", "postoperative", "recurrent"),
    "imaging_followup": ALL_SETTINGS,
    "quality_of_care": ALL_SETTINGS,
    "trial_design": (),
}
TOPIC_ORDER = tuple(TOPIC_SETTINGS)
NOT_GRADED = "not graded in the source as read"

_METS = r"(?:[\s,]+[a-z-]+){0,3}[\s,]+(?:brain\s+)?(?:metastas[a-z]*|lesions?)"
_COUNT_RULES = (
    (re.compile(r"(\d+)\s*(?:-|–|to)\s*(\d+)" + _METS), lambda m: (int(m[1]), int(m[2]))),
    (re.compile(r"up to (\d+)" + _METS), lambda m: (1, int(m[1]))),
    (re.compile(r"more than (\d+)" + _METS), lambda m: (int(m[1]) + 1, math.inf)),
    (re.compile(r"(\d+) or more" + _METS), lambda m: (int(m[1]), math.inf)),
    (re.compile(r"multiple\s*\(\s*>\s*1\s*\)|\bmultiple" + _METS), lambda m: (2, math.inf)),
    (re.compile(r"\b(?:single|solitary|one)" + _METS), lambda m: (1, 1)),
)
_HISTOLOGY_RULES = (  # in order; each match is consumed, so "small-cell lung cancer" is not also "lung cancer"
    (re.compile(r"her2[\s-]*positive|her2\+"), ("breast_her2pos",)),
    (re.compile(r"triple[\s-]*negative"), ("breast_tnbc",)),
    (re.compile(r"non[\s-]*small[\s-]*cell(?:\s+lung)?(?:\s+cancer)?|\bnsclc\b"), ("nsclc",)),
    (re.compile(r"\bsmall[\s-]*cell(?:\s+lung)?(?:\s+cancer)?|\bsclc\b"), ("sclc",)),
    (re.compile(r"\blung cancer"), ("nsclc", "sclc")),
    (re.compile(r"\bbreast\b"), ("breast",)),
    (re.compile(r"melanoma"), ("melanoma",)),
    (re.compile(r"\brenal\b|\bkidney\b"), ("rcc",)),
)
_SETTING_RULES = (
    (re.compile(r"\bunresected\b|\bintact\b"), ("intact",)),
    (re.compile(r"needing resection|candidates? for resection"), ("preoperative", "postoperative")),
    (re.compile(r"\bresectable\b"), ("intact", "preoperative")),
    (re.compile(r"(?<!un)\bresected\b|after resection|resection cavity|surgical cavity"), ("postoperative",)),
    (re.compile(r"leptomeningeal"), ("leptomeningeal",)),
    (re.compile(r"radiation necrosis|radionecrosis|post-radiotherapy|treatment-related change"), ("recurrent",)),
    (re.compile(r"planned for srs|srs planning|\bsrs of\b|linac-based srs"), ("intact", "postoperative",
                                                                            "preoperative", "recurrent")),
)
_CONDITIONS = (
    (re.compile(r"performance status|\becog\b|expected survival|palliative"),
     "performance status or expected survival"),
    (re.compile(r"symptomatic|symptoms"), "symptoms"),
    (re.compile(r"extracranial disease"), "extracranial disease"),
    (re.compile(r"systemic therapy options"), "systemic therapy options"),
    (re.compile(r"her2-targeted|her2 targeted"), "HER2-targeted therapy"),
    (re.compile(r"suitable|unsuitable|not feasible|suitable for surgery"), "suitability for surgery or SRS"),
    (re.compile(r"\blarge\b"), "lesion size ('large' is not quantified)"),
    (re.compile(r"corticosteroid-refractory"), "response to corticosteroids"),
)
_PRE_DIAGNOSIS = re.compile(r"suspected brain metastas|screening|develops signs|cannot have mri")
_RESEARCH = re.compile(r"^(?:sponsors|researchers|trials enrolling)")


@dataclass(frozen=True)
class Population:
    """What a recommendation's population text restricts (empty = not restricted)."""

    counts: tuple[tuple[int, float], ...] = ()
    histologies: tuple[str, ...] = ()
    excluded_histologies: tuple[str, ...] = ()
    settings: tuple[str, ...] = ()
    adds_recurrent: bool = False
    newly_diagnosed: bool = False
    max_diameter_cm: float | None = None
    max_cumulative_volume_cc: float | None = None
    conditions: tuple[str, ...] = ()
    pre_diagnosis: bool = False
    research: bool = False

    def count_text(self) -> str:
        """'1–4', '≥ 5', '1 or ≥ 2'."""
        return " or ".join(size_range(lo, None if hi == math.inf else hi, "") if lo != hi else str(lo)
                           for lo, hi in self.counts)


def merge_ranges(ranges: list[tuple[int, float]]) -> tuple[tuple[int, float], ...]:
    """Union of number ranges, overlapping or adjacent ones joined.

    >>> merge_ranges([(11, math.inf), (5, math.inf)]), merge_ranges([(1, 1), (2, math.inf)]), merge_ranges([(1, 3)])
    (((5, inf),), ((1, inf),), ((1, 3),))
    """
    merged: list[list[float]] = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple((int(lo), hi if hi == math.inf else int(hi)) for lo, hi in merged)


@functools.lru_cache(maxsize=1024)
def parse_population(text: str | None, scope: str | None = None, recommendation: str | None = None) -> Population:
    """Read a recommendation's population (and the guideline's scope, for size limits only).

    >>> p = parse_population("Asymptomatic patients with 1-4 unresected brain metastases and no systemic therapy "
    ...                      "options, excluding small-cell lung cancer")
    >>> p.counts, p.excluded_histologies, p.settings, p.conditions
    (((1, 4),), ('sclc',), ('intact',), ('symptoms', 'systemic therapy options'))
    >>> parse_population("Adults with more than 4 brain metastases and cumulative tumour volume under 7 cc").counts
    ((5, inf),)
    """
    raw = (text or "").lower()
    counts = merge_ranges([make(m) for pattern, make in _COUNT_RULES for m in pattern.finditer(raw)])
    excluded_clause = " ".join(re.findall(r"excluding\s+([^,;)]+)", raw))
    included_text = re.sub(r"excluding\s+[^,;)]+", " ", raw)
    included_text = re.sub(r"\(except[^)]*\)", " ", included_text)

    def histologies_in(part: str) -> tuple[str, ...]:
        found: list[str] = []
        for pattern, ids in _HISTOLOGY_RULES:
            if pattern.search(part):
                found.extend(ids)
                part = pattern.sub(" ", part)
        if "breast_her2pos" in found or "breast_tnbc" in found:  # a named subtype is narrower than "breast"
            found = [h for h in found if h != "breast"]
        return tuple(dict.fromkeys(found))

    settings: list[str] = []
    for pattern, ids in _SETTING_RULES:
        if pattern.search(raw):
            settings.extend(ids)
    size_text = raw + " " + (scope or "").lower()
    diameter = re.search(r"up to (\d+(?:\.\d+)?)\s*cm", size_text)
    cumulative = re.search(r"cumulative (?:tumou?r )?volume (?:under|below|less than|of less than|up to|<)\s*"
                           r"(\d+(?:\.\d+)?)\s*(?:cc|ml|cm3)", raw)
    return Population(
        counts=counts, histologies=histologies_in(included_text), excluded_histologies=histologies_in(excluded_clause),
        settings=tuple(dict.fromkeys(settings)), adds_recurrent=bool(re.search(r"\brecurrent\b", raw)),
        newly_diagnosed="newly diagnosed" in raw,
        max_diameter_cm=float(diameter[1]) if diameter else None,
        max_cumulative_volume_cc=float(cumulative[1]) if cumulative else None,
        conditions=tuple(dict.fromkeys(label for pattern, label in _CONDITIONS if pattern.search(raw))),
        pre_diagnosis=bool(_PRE_DIAGNOSIS.search(raw) or _PRE_DIAGNOSIS.search((recommendation or "").lower())),
        research=bool(_RESEARCH.search(raw.strip())),
    )


def _setting_check(population: Population, topic: str, profile: Profile, vocab: Vocabulary) -> tuple[int, str] | None:
    """(rank, reason) when the recommendation's setting covers the patient's, else None."""
    named = list(population.settings)
    settings = named or list(TOPIC_SETTINGS.get(topic, ()))
    if population.adds_recurrent:
        settings.append("recurrent")
    if population.newly_diagnosed:
        settings = [s for s in settings if s != "recurrent"]
    source = "population" if named else "topic"
    wanted = profile.setting_id
    if not settings:
        return None
    if wanted is None:
        return 3, "Setting: not given in the profile"
    if wanted in settings:
        primary = settings[0] == wanted
        return (0 if primary else 1), (f"Setting: {vocab.setting_name(wanted)} (from the recommendation's "
                                       f"{source})")
    if profile.prior_radiation and named == ["recurrent"]:  # radiation necrosis or recurrence is the population
        return 2, ("Setting: recurrence or re-treatment after radiation; the profile records prior brain "
                   "radiation")
    return None


def match_recommendations(tables: KbTables, profile: Profile) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Recommendations whose population and topic cover the profile, by topic and body; plus those whose stated
    population excludes the patient (``why_not``)."""
    vocab = tables.vocab
    matched, excluded = [], []
    for row in tables.recommendations.itertuples(index=False):
        population = parse_population(value(row.population), value(row.scope), value(row.recommendation))
        if population.research or population.pre_diagnosis or row.topic_id == "trial_design":
            continue
        setting = _setting_check(population, row.topic_id, profile, vocab)
        if setting is None:
            continue
        why, why_not = [setting[1]], []
        # histology
        patient = profile.histology_id
        if population.excluded_histologies and any(
                histology_relation(vocab, patient, h) in ("same", "parent") for h in population.excluded_histologies):
            why_not.append("Histology: the population excludes "
                           + ", ".join(lower_first(vocab.histology_name(h)) for h in population.excluded_histologies))
        if population.histologies:
            kinds = [(histology_relation(vocab, patient, h), h) for h in population.histologies]
            direct = [h for k, h in kinds if k in ("same", "parent")]
            narrower = [h for k, h in kinds if k == "subtype"]
            if direct:
                why.append("Histology: for " + ", ".join(lower_first(vocab.histology_name(h)) for h in direct))
            elif narrower:
                why.append("Histology: for " + ", ".join(lower_first(vocab.histology_name(h)) for h in narrower)
                           + f" — a subtype of {lower_first(vocab.histology_name(patient))}; applies only if the "
                           "tumour has it")
            else:
                why_not.append("Histology: for " + ", ".join(lower_first(vocab.histology_name(h))
                                                             for h in population.histologies))
        else:
            why.append("Histology: any solid tumour (no histology named in the population)")
        if population.excluded_histologies and not why_not:
            why.append("Histology: the population excludes "
                       + ", ".join(lower_first(vocab.histology_name(h)) for h in population.excluded_histologies))
        # number of metastases
        n = profile.metastases
        if population.counts:
            text = population.count_text()
            if n is None:
                why.append(f"Number of metastases: for {text} (not checked: the profile gives no number)")
            elif any(lo <= n <= hi for lo, hi in population.counts):
                why.append(f"Number of metastases: for {text}; the patient has {n}")
            else:
                why_not.append(f"Number of metastases: for {text}; the patient has {n}")
        elif n is not None:
            why.append("Number of metastases: not restricted in the population")
        # size
        if population.max_diameter_cm is not None:
            limit = f"{population.max_diameter_cm:g} cm"
            if profile.diameter_cm is None:
                why.append(f"Size: for metastases up to {limit} (not checked: the profile gives no diameter)")
            elif profile.diameter_cm <= population.max_diameter_cm:
                why.append(f"Size: for metastases up to {limit}; the patient's largest is {profile.diameter_cm:g} cm")
            else:
                why_not.append(f"Size: for metastases up to {limit}; the patient's largest is "
                               f"{profile.diameter_cm:g} cm")
        if population.max_cumulative_volume_cc is not None:
            limit = f"{population.max_cumulative_volume_cc:g} cc"
            if profile.volume_cc is not None and profile.volume_cc > population.max_cumulative_volume_cc:
                why_not.append(f"Size: for a cumulative tumour volume under {limit}; the largest lesion alone is "
                               f"{profile.volume_cc:g} cc")
            else:
                why.append(f"Size: for a cumulative tumour volume under {limit} — the profile records only the "
                           "largest lesion; check the total")
        if population.conditions:
            why.append("Also depends on " + ", ".join(population.conditions) + " — not in the profile")
        strength = value(row.strength)
        item = {
            "recommendation_id": row.recommendation_id, "guideline_id": row.guideline_id,
            "guideline": value(row.guideline), "body": value(row.body), "body_short": value(row.body_short),
            "year": value(row.year), "kind": value(row.kind), "topic_id": row.topic_id, "topic": value(row.topic),
            "population": value(row.population), "recommendation": value(row.recommendation),
            "strength": strength, "strength_label": strength or NOT_GRADED,
            "evidence_quality": value(row.evidence_quality), "grading_system": value(row.grading_system),
            "verification": value(row.verification), "verified_in": value(row.verified_in),
            **source_fields(row.first_author, row.source_year, row.journal, row.doi, row.pmid, row.source_id),
        }
        if why_not:
            excluded.append({**item, "why_not": why_not, "why": why})
            continue
        first_setting = (TOPIC_SETTINGS.get(row.topic_id) or ("",))[0]
        sort_key = (0 if first_setting == profile.setting_id else 1,
                    TOPIC_ORDER.index(row.topic_id) if row.topic_id in TOPIC_ORDER else 99, row.topic_id,
                    value(row.body_short) or "", -(value(row.year) or 0), row.recommendation_id)
        matched.append((sort_key, {**item, "why": why}))
    return [item for _, item in sorted(matched, key=lambda pair: pair[0])], excluded
