"""The KB's names a profile is read against — histologies (with molecular subtypes), patient settings and drugs
(generic names, brands, abbreviations) — and the sentence, with the closest names (rapidfuzz), when a name is
unknown. The form's choices come from here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import duckdb
import pandas as pd

from kb.db import query
from kb.patient.drugs import Drug, covers, is_class_level

# Settings a patient can be in (the others tag study cohorts: mixed, post_srs_followup), with the words clinicians use.
PATIENT_SETTINGS: dict[str, tuple[str, ...]] = {
    "intact": ("intact", "intact metastases", "unresected", "not resected", "no surgery"),
    "postoperative": ("postoperative", "post operative", "postop", "post op", "resected", "resected cavity",
                      "resection cavity", "cavity", "postoperative cavity", "surgical cavity", "after surgery",
                      "after resection"),
    "preoperative": ("preoperative", "pre operative", "preop", "pre op", "neoadjuvant", "before surgery",
                     "before planned surgery", "before resection", "planned surgery"),
    "recurrent": ("recurrent", "recurrence", "salvage", "recurrence after srs", "recurrence after wbrt",
                  "recurrence after srs or wbrt", "local failure", "local recurrence", "reirradiation",
                  "re irradiation", "progression after srs", "recurrent or salvage"),
    "leptomeningeal": ("leptomeningeal", "leptomeningeal disease", "leptomeningeal metastases",
                       "leptomeningeal metastasis", "leptomeningeal carcinomatosis", "lmd", "lm"),
    "systemic_only": ("systemic only", "systemic therapy", "systemic therapy alone", "drug therapy alone",
                      "systemic therapy only", "no local therapy"),
}
SETTING_HINTS = {"intact": "intact metastases", "postoperative": "resected cavity",
                 "preoperative": "before planned surgery", "recurrent": "recurrence after SRS or WBRT",
                 "leptomeningeal": "leptomeningeal disease", "systemic_only": "systemic therapy alone"}


class ProfileError(ValueError):
    """One or more problems with a profile, each a sentence; ``str()`` joins them."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__(" ".join(self.problems))

# ------------------------------------------------------------------------------------------------ vocabulary
@dataclass(frozen=True)
class Vocabulary:
    """The names a profile is read against: histologies, settings and drugs (with abbreviations and synonyms)."""

    histologies: pd.DataFrame
    settings: pd.DataFrame
    drugs: dict[str, Drug]
    synonyms: tuple[tuple[str, str], ...] = ()
    _drug_keys: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    _histology_names: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    _parents: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    _setting_names: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def histology_name(self, histology_id: str) -> str:
        return self._histology_names.get(histology_id, histology_id)

    def setting_name(self, setting_id: str | None) -> str:
        if not setting_id:
            return "setting not given"
        return self._setting_names.get(setting_id, setting_id)

    def parent_of(self, histology_id: str) -> str | None:
        return self._parents.get(histology_id)

    def ancestors(self, histology_id: str) -> list[str]:
        """Broader histologies, nearest first (nsclc_egfr -> ['nsclc'])."""
        chain, current = [], self.parent_of(histology_id)
        while current and current not in chain:
            chain.append(current)
            current = self.parent_of(current)
        return chain

    def subtypes(self, histology_id: str) -> list[str]:
        return sorted(h for h, parent in self._parents.items() if parent == histology_id)


def load_vocabulary(con: duckdb.DuckDBPyConnection) -> Vocabulary:
    """Histologies, settings, drugs and synonyms from the KB."""
    histologies = query(con, "SELECT histology_id, primary_site, name, molecular_subtype, parent_id FROM histologies "
                             "ORDER BY histology_id")
    histologies = histologies.astype(object).where(histologies.notna(), None)
    settings = query(con, "SELECT setting_id, name, description FROM settings ORDER BY setting_id")
    drug_rows = query(con, "SELECT drug_id, name, abbreviations, drug_class FROM drugs ORDER BY drug_id")
    drugs = {r.drug_id: Drug(r.drug_id, r.name, tuple(a.strip() for a in str(r.abbreviations or "").split(";")
                                                         if a.strip() and not pd.isna(r.abbreviations)),
                             r.drug_class) for r in drug_rows.itertuples(index=False)}
    synonyms = tuple(query(con, "SELECT group_id, term FROM synonyms ORDER BY group_id, term").itertuples(
        index=False, name=None))
    return make_vocabulary(histologies, settings, drugs, synonyms)


def make_vocabulary(histologies: pd.DataFrame, settings: pd.DataFrame, drugs: Mapping[str, Drug],
                    synonyms: Iterable[tuple[str, str]] = ()) -> Vocabulary:
    synonyms = tuple(synonyms)
    names = {str(h): str(n) for h, n in zip(histologies["histology_id"], histologies["name"])}
    parents = {str(h): str(p) for h, p in zip(histologies["histology_id"], histologies["parent_id"])
               if isinstance(p, str) and p}
    setting_names = {str(s): str(n) for s, n in zip(settings["setting_id"], settings["name"])}
    return Vocabulary(histologies.reset_index(drop=True), settings.reset_index(drop=True), dict(drugs), synonyms,
                      _drug_index(dict(drugs), synonyms), names, parents, setting_names)


# ------------------------------------------------------------------------------------------------ histology
_HISTOLOGY_PHRASES = (  # applied in order, before the text is cut into words
    (r"non[\s_-]*small[\s_-]*cell(?:[\s_-]*lung)?", " nsclc "),
    (r"small[\s_-]*cell(?:[\s_-]*lung)?", " sclc "),
    (r"renal[\s_-]*cell", " rcc "),
    (r"triple[\s_-]*negative", " tnbc "),
    (r"hr[\s_-]*(?:\+|pos(?:itive)?)\s*/?\s*her[\s_-]*2[\s_-]*(?:-|neg(?:ative)?)", " hrposher2neg "),
    (r"her[\s_-]*2[\s_-]*low", " her2low "),
    (r"her[\s_-]*2[\s_-]*(?:\+|pos(?:itive)?|amplified|overexpressing)", " her2pos "),
    (r"\b(?:hr|er)[\s_-]*(?:\+|pos(?:itive)?)(?![\s/_-]*her)|\bluminal\b", " hrposher2neg "),
    (r"braf[\s_-]*v600[ek]?", " braf "),
    (r"gastro[\s_-]*intestinal", " gi "),
)
_HISTOLOGY_STOP = frozenset({"cancer", "cancers", "carcinoma", "ca", "mutant", "mutated", "mutation", "mutations",
                             "rearranged", "rearrangement", "translocated", "fusion", "positive", "pos", "any",
                             "subtype", "tumour", "tumours", "tumor", "tumors", "metastatic", "metastases", "with",
                             "the", "and", "of", "solid", "primary", "driver", "lung"})
_HISTOLOGY_WORDS = {"kidney": "rcc", "renal": "rcc", "skin": "melanoma", "her2": "her2pos"}


def histology_words(text: str) -> frozenset[str]:
    """The words that identify a histology, in a canonical spelling (order and filler words do not matter).

    >>> sorted(histology_words("HER2+ breast")), sorted(histology_words("Breast cancer HER2-positive"))
    (['breast', 'her2pos'], ['breast', 'her2pos'])
    >>> sorted(histology_words("EGFR-mutant non-small cell lung cancer"))
    ['egfr', 'nsclc']
    """
    text = str(text).lower()
    for pattern, replacement in _HISTOLOGY_PHRASES:
        text = re.sub(pattern, replacement, text)
    words = {w for w in re.split(r"[^a-z0-9]+", text) if w and w not in _HISTOLOGY_STOP}
    return frozenset(_HISTOLOGY_WORDS.get(w, w) for w in words)


def _histology_keys(vocab: Vocabulary) -> dict[frozenset[str], set[str]]:
    """Every spelling of every patient histology -> the histology ids it names."""
    keys: dict[frozenset[str], set[str]] = {}
    rows = vocab.histologies
    subtype_counts = rows["molecular_subtype"].value_counts()
    site_counts = rows[rows["parent_id"].isna()]["primary_site"].value_counts()
    for r in rows.itertuples(index=False):
        if r.histology_id == "mixed":
            continue
        spellings = [r.histology_id.replace("_", " "), r.name]
        if r.molecular_subtype:
            parent = vocab.histology_name(r.parent_id) if r.parent_id else ""
            spellings += [f"{r.molecular_subtype} {r.primary_site}", f"{r.molecular_subtype} {parent}"]
            if subtype_counts.get(r.molecular_subtype, 0) == 1:
                spellings.append(r.molecular_subtype)
        elif site_counts.get(r.primary_site, 0) == 1 and r.primary_site not in ("other", "mixed"):
            spellings.append(r.primary_site)
        for spelling in spellings:
            words = histology_words(spelling)
            if words:
                keys.setdefault(words, set()).add(r.histology_id)
    return keys


def resolve_histology(vocab: Vocabulary, text: str) -> str:
    """A histology id from an id or a name ('HER2+ breast', 'EGFR NSCLC', 'melanoma_braf').

    Raises ProfileError with the closest names when the text names none, or several.
    """
    raw = str(text or "").strip()
    if not raw:
        raise ProfileError(["Give the primary tumour (histology), for example 'HER2+ breast', 'EGFR NSCLC' or "
                            "'melanoma'."])
    ids = set(vocab.histologies["histology_id"])
    if raw in ids and raw != "mixed":
        return raw
    if raw.lower() in ("mixed", "mixed solid tumours", "mixed solid tumors"):
        raise ProfileError(["'Mixed solid tumours' describes study cohorts, not a patient: give the primary tumour "
                            "(or 'other solid tumours')."])
    found = _histology_keys(vocab).get(histology_words(raw), set())
    if len(found) == 1:
        return next(iter(found))
    names = [vocab.histology_name(h) for h in sorted(ids - {"mixed"})]
    if len(found) > 1:
        raise ProfileError([f"'{raw}' could be {_or([vocab.histology_name(h) for h in sorted(found)])}; "
                            "say which."])
    return _unknown("histology", raw, names,
                    "Histologies the KB knows: " + "; ".join(names) + ".")


# ------------------------------------------------------------------------------------------------ setting
def _setting_key(text: str) -> str:
    words = re.split(r"[^a-z0-9]+", str(text).lower())
    return " ".join(w for w in words if w and w not in ("srs", "sbrt", "fsrt", "radiosurgery", "setting", "the"))


_SETTING_WORDS = (  # when no phrase matches exactly: the words a clinician's own phrase is likely to contain
    ("intact", re.compile(r"\bunresected\b|\bintact\b|\bnot resected\b")),
    ("preoperative", re.compile(r"\bpre ?op|\bneoadjuvant\b|\bbefore (?:planned )?(?:surgery|resection)")),
    ("postoperative", re.compile(r"\bpost ?op|(?<!un)\bresect|\bcavity\b|\bafter (?:surgery|resection)")),
    ("recurrent", re.compile(r"\brecurr|\bsalvage\b|\bre ?irradiat|\blocal failure\b|\bprogress")),
    ("leptomeningeal", re.compile(r"\blepto|\blmd\b")),
    ("systemic_only", re.compile(r"\bsystemic\b")),
)


def resolve_setting(vocab: Vocabulary, text: str | None) -> str | None:
    """A setting id from an id, a name or a clinician's phrase ('resected cavity' -> 'postoperative')."""
    if text is None or not str(text).strip():
        return None
    key = _setting_key(text)
    known = set(vocab.settings["setting_id"])
    for setting_id, phrases in PATIENT_SETTINGS.items():
        if setting_id not in known:
            continue
        names = vocab.settings.loc[vocab.settings["setting_id"] == setting_id, "name"].tolist()
        if key in {_setting_key(setting_id)} | {_setting_key(p) for p in phrases} | {_setting_key(n) for n in names}:
            return setting_id
    found = [s for s, pattern in _SETTING_WORDS if s in known and pattern.search(key)]
    if len(found) == 1:
        return found[0]
    accepted = "; ".join(f"{s} ({SETTING_HINTS[s]})" for s in PATIENT_SETTINGS if s in known)
    if key in {"mixed", "post srs followup"} or key in {_setting_key(n) for n in vocab.settings["name"]}:
        raise ProfileError([f"'{text}' describes study cohorts, not a patient's setting. Accepted settings: "
                            f"{accepted}."])
    return _unknown("setting", str(text), [p for s in PATIENT_SETTINGS for p in (s, SETTING_HINTS[s])],
                    f"Accepted settings: {accepted}.")


# ------------------------------------------------------------------------------------------------ drugs
def drug_key(text: str) -> str:
    """Spelling-insensitive key: 'T-DM1', 't dm1' and 'TDM1' are the same drug.

    >>> drug_key("T-DM1") == drug_key("tdm1"), drug_key("Ado-Trastuzumab Emtansine")
    (True, 'adotrastuzumabemtansine')
    >>> {drug_key("dabrafenib + trametinib"), drug_key("dabrafenib plus trametinib"), drug_key("dabrafenib-trametinib")}
    {'dabrafenibtrametinib'}
    """
    return "".join(_drug_words(text))


def _drug_words(text: str) -> list[str]:
    words = re.split(r"[^a-z0-9]+", str(text).lower().replace("+", " plus "))
    return [w[:-1] if len(w) > 5 and w.endswith("s") else w for w in words if w and w not in ("plus", "and", "with")]


def _unordered_key(text: str) -> str:
    """The key with its words in alphabetical order: 'ipilimumab + nivolumab' is the same regimen."""
    return "~" + "".join(sorted(_drug_words(text)))


def _drug_index(drugs: dict[str, Drug], synonyms: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
    """key -> drug ids: every drug's id, name and abbreviations, plus synonym groups that name a drug (brands)."""
    index: dict[str, set[str]] = {}
    for drug in drugs.values():
        for spelling in (drug.drug_id, drug.name, *drug.abbreviations):
            if drug_key(spelling):
                index.setdefault(drug_key(spelling), set()).add(drug.drug_id)
                index.setdefault(_unordered_key(spelling), set()).add(drug.drug_id)
    groups: dict[str, list[str]] = {}
    for group_id, term in synonyms:
        groups.setdefault(group_id, []).append(term)
    for terms in groups.values():
        named = {d for t in terms for d in index.get(drug_key(t), ())}
        if len(named) == 1:  # a group that names exactly one drug lends it all its terms (Keytruda, Opdivo…)
            for term in terms:
                index.setdefault(drug_key(term), set()).update(named)
    return {k: tuple(sorted(v)) for k, v in index.items()}


def resolve_drug(vocab: Vocabulary, text: str) -> str:
    """A drug id from a generic name, brand or abbreviation ('Kadcyla', 'T-DM1', 'osimertinib').

    An abbreviation shared by several entries resolves to the entry whose name it is, else to the class-level entry
    that covers the others ('anti-PD-1' -> PD-1 or PD-L1 inhibitors); otherwise the user is asked to choose.
    """
    raw = str(text or "").strip()
    key = drug_key(raw)
    found = vocab._drug_keys.get(key, ()) or vocab._drug_keys.get(_unordered_key(raw), ())
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        by_name = [d for d in found if drug_key(vocab.drugs[d].name) == key or d == raw]
        if len(by_name) == 1:
            return by_name[0]
        groups = [d for d in found if is_class_level(d)
                  and all(o == d or covers(vocab.drugs[d], vocab.drugs[o]) for o in found)]
        if len(groups) == 1:
            return groups[0]
        raise ProfileError([f"'{raw}' could be {_or([vocab.drugs[d].label for d in found])}; name one."])
    choices = {}
    for drug in vocab.drugs.values():
        for spelling in (drug.name, *drug.abbreviations):
            choices.setdefault(spelling, drug)
    for group_id, term in vocab.synonyms:
        ids = vocab._drug_keys.get(drug_key(term), ())
        if len(ids) == 1:
            choices.setdefault(term, vocab.drugs[ids[0]])
    return _unknown("drug", raw, list(choices), "The KB knows these drugs: "
                    + "; ".join(sorted({d.label for d in vocab.drugs.values()}, key=str.lower)) + ".",
                    labels={s: d.label for s, d in choices.items()}, list_only_without_suggestion=True)

# ------------------------------------------------------------------------------------------------ form choices
SETTING_LABELS = {"intact": "Intact metastases", "postoperative": "Resected cavity (postoperative)",
                  "preoperative": "Before planned surgery (preoperative)",
                  "recurrent": "Recurrence after SRS or WBRT", "leptomeningeal": "Leptomeningeal disease",
                  "systemic_only": "Systemic therapy alone"}


def histology_choices(vocab: Vocabulary) -> dict[str, str]:
    """{id: label} for a form: each primary tumour followed by its molecular subtypes ('↳ …'); no 'mixed'."""
    rows = vocab.histologies[vocab.histologies["histology_id"] != "mixed"]
    tops = sorted((r for r in rows.itertuples(index=False) if not r.parent_id), key=lambda r: r.name.lower())
    choices: dict[str, str] = {}
    for top in tops:
        choices[top.histology_id] = top.name
        for sub in sorted((r for r in rows.itertuples(index=False) if r.parent_id == top.histology_id),
                          key=lambda r: r.name.lower()):
            choices[sub.histology_id] = "↳ " + sub.name
    return choices


def setting_choices(vocab: Vocabulary) -> dict[str, str]:
    """{id: label} of the settings a patient can be in, in the clinician's words."""
    known = set(vocab.settings["setting_id"])
    return {s: SETTING_LABELS[s] for s in PATIENT_SETTINGS if s in known}


def drug_choices(vocab: Vocabulary) -> dict[str, str]:
    """{id: label} with every abbreviation and brand the KB knows, so typing 'Kadcyla' or 'T-DM1' finds it."""
    terms: dict[str, list[str]] = {d: list(drug.abbreviations) for d, drug in vocab.drugs.items()}
    for _, term in vocab.synonyms:
        ids = vocab._drug_keys.get(drug_key(term), ())
        if len(ids) == 1 and term not in terms[ids[0]]:
            terms[ids[0]].append(term)
    labels = {}
    for drug_id, drug in sorted(vocab.drugs.items(), key=lambda kv: kv[1].name.lower()):
        seen, extra = {drug_key(drug.name)}, []
        for term in terms[drug_id]:
            if drug_key(term) not in seen and drug_key(term).rstrip("s") not in seen:
                seen.add(drug_key(term))
                extra.append(term)
        labels[drug_id] = drug.name + (f" ({', '.join(extra[:4])})" if extra else "")
    return labels


# ------------------------------------------------------------------------------------------------ helpers
def _or(items: Sequence[str]) -> str:
    items = list(dict.fromkeys(items))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _unknown(what: str, raw: str, choices: Sequence[str], accepted: str,
             labels: Mapping[str, str] | None = None, list_only_without_suggestion: bool = False) -> Any:
    """Raise the 'did you mean …?' sentence: the closest known spellings by rapidfuzz (WRatio ≥ 60)."""
    from rapidfuzz import fuzz, process, utils

    matches = process.extract(raw, list(choices), scorer=fuzz.WRatio, processor=utils.default_process, limit=8,
                              score_cutoff=60)
    best = matches[0][1] if matches else 0
    suggestions = list(dict.fromkeys((labels or {}).get(m[0], m[0]) for m in matches if m[1] >= best - 8))[:3]
    shown = raw if len(raw) <= 60 else raw[:57] + "…"
    if suggestions:
        tail = "" if list_only_without_suggestion else " " + accepted
        raise ProfileError([f"Unknown {what} '{shown}': did you mean {_or(suggestions)}?{tail}"])
    raise ProfileError([f"Unknown {what} '{shown}'. {accepted}"])
