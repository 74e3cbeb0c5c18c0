"""How a drug the patient receives relates to a drug recorded in the KB (a study arm's or a toxicity signal's).

``data/drugs.csv`` holds single agents (``pembrolizumab``), combinations (``nivolumab_ipilimumab``) and
*class-level* entries that stand for a group of agents (``ici_any`` "immune checkpoint inhibitors",
``braf_inhibitor``). A class-level entry is one whose id ends in ``_any``, or one of ``CLASS_LEVEL_EXTRA``. It covers
every drug of its ``drug_class`` — narrowed by ``NARROWER`` where the group is smaller than the class (PD-1/PD-L1
inhibitors are checkpoint inhibitors, but ipilimumab is not one of them). ``systemic_therapy_any`` covers every
anticancer drug (every class except corticosteroids and neuroprotective drugs).

The relation, strongest first (``RELATION_RANK``):

- ``same``: the very drug;
- ``combination``: the record is a regimen that contains the patient's drug (nivolumab → nivolumab plus ipilimumab);
- ``component``: the record is one drug of the patient's regimen (nivolumab plus ipilimumab → ipilimumab);
- ``class``: the record is a class-level entry that includes the patient's drug (pembrolizumab → checkpoint
  inhibitors);
- ``member``: the patient's entry is class-level and includes the record's drug (checkpoint inhibitor →
  ipilimumab);
- ``same_class``: another agent of the same class (T-DXd → T-DM1; pembrolizumab → nivolumab), said so ("not
  pembrolizumab itself");
- ``any_systemic``: the record is "any systemic therapy given with SRS".

Studies and signals use them all; weaker relations rank later, and a study or signal reached only through
``same_class`` never counts as evidence about the patient's own drug (``STUDY_RELATIONS`` are the direct ones; the
gaps say when only class evidence exists).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

CLASS_LEVEL_EXTRA = frozenset({"braf_inhibitor", "braf_mek_inhibitor"})
ANY_SYSTEMIC = "systemic_therapy_any"
NON_ANTICANCER_CLASSES = frozenset({"corticosteroid", "neuroprotective"})
# class-level entries whose group is narrower than their drug_class
NARROWER: Mapping[str, frozenset[str]] = {
    "pd1_pdl1_any": frozenset({"nivolumab", "pembrolizumab", "nivolumab_ipilimumab"}),
    "braf_inhibitor": frozenset({"vemurafenib", "dabrafenib_trametinib", "braf_mek_inhibitor"}),
    "braf_mek_inhibitor": frozenset({"dabrafenib_trametinib"}),
}
# regimens of several drugs that the KB also holds one by one
COMBINATIONS: Mapping[str, tuple[str, ...]] = {"nivolumab_ipilimumab": ("nivolumab", "ipilimumab")}

RELATION_RANK = {"same": 0, "combination": 1, "component": 1, "class": 2, "member": 3, "same_class": 4,
                 "any_systemic": 5, "context": 6}
STUDY_RELATIONS = frozenset({"same", "combination", "component", "class", "member", "any_systemic"})


@dataclass(frozen=True)
class Drug:
    drug_id: str
    name: str
    abbreviations: tuple[str, ...]
    drug_class: str

    @property
    def label(self) -> str:
        """The name with its usual abbreviation: 'trastuzumab emtansine (T-DM1)'."""
        short = next((a for a in self.abbreviations if a and a.lower() != self.name.lower()), None)
        if short and len(self.name) > 14 and len(short) <= 12:
            return f"{self.name} ({short})"
        return self.name


def is_class_level(drug_id: str) -> bool:
    """True for entries that name a group of drugs.

    >>> is_class_level("ici_any"), is_class_level("braf_inhibitor"), is_class_level("pembrolizumab")
    (True, True, False)
    """
    return drug_id.endswith("_any") or drug_id in CLASS_LEVEL_EXTRA


def covers(group: Drug, drug: Drug) -> bool:
    """Whether the class-level entry ``group`` includes ``drug``.

    >>> ici = Drug("ici_any", "immune checkpoint inhibitors", (), "immune_checkpoint_inhibitor")
    >>> pd1 = Drug("pd1_pdl1_any", "PD-1 or PD-L1 inhibitors", (), "immune_checkpoint_inhibitor")
    >>> ipi = Drug("ipilimumab", "ipilimumab", (), "immune_checkpoint_inhibitor")
    >>> covers(ici, ipi), covers(pd1, ipi), covers(ici, pd1), covers(ipi, ici)
    (True, False, True, False)
    """
    if group.drug_id == drug.drug_id or not is_class_level(group.drug_id):
        return False
    if group.drug_id == ANY_SYSTEMIC:
        return drug.drug_class not in NON_ANTICANCER_CLASSES
    if group.drug_id in NARROWER:
        return drug.drug_id in NARROWER[group.drug_id]
    return drug.drug_class == group.drug_class and drug.drug_class != "mixed"


def relation(patient: Drug, record: Drug) -> str | None:
    """How the KB's ``record`` drug relates to the patient's drug (see the module docstring), or None.

    >>> tdm1 = Drug("trastuzumab_emtansine", "trastuzumab emtansine", ("T-DM1",), "antibody_drug_conjugate")
    >>> tdxd = Drug("trastuzumab_deruxtecan", "trastuzumab deruxtecan", ("T-DXd",), "antibody_drug_conjugate")
    >>> adc = Drug("adc_any", "antibody-drug conjugates", ("ADC",), "antibody_drug_conjugate")
    >>> relation(tdm1, tdm1), relation(tdm1, adc), relation(adc, tdm1), relation(tdxd, tdm1)
    ('same', 'class', 'member', 'same_class')
    """
    if patient.drug_id == record.drug_id:
        return "same"
    if patient.drug_id in COMBINATIONS.get(record.drug_id, ()):
        return "combination"
    if record.drug_id in COMBINATIONS.get(patient.drug_id, ()):
        return "component"
    if record.drug_id == ANY_SYSTEMIC:
        return "any_systemic" if covers(record, patient) else None
    if covers(record, patient):
        return "class"
    if covers(patient, record):
        return "member"
    if patient.drug_class == record.drug_class and patient.drug_class != "mixed":
        return "same_class"
    return None


def class_label(drug_class: str) -> str:
    """'immune_checkpoint_inhibitor' -> 'immune checkpoint inhibitor'; 'egfr_tki' -> 'EGFR TKI'.

    >>> class_label("egfr_tki"), class_label("antibody_drug_conjugate")
    ('EGFR TKI', 'antibody-drug conjugate')
    """
    upper = {"her2", "tki", "egfr", "alk", "ros1", "ret", "braf", "mek", "vegfr", "vegf"}
    if drug_class == "antibody_drug_conjugate":
        return "antibody-drug conjugate"
    return " ".join(w.upper() if w in upper else w for w in drug_class.split("_"))


def explain(kind: str, patient: Drug, record: Drug, what: str = "signal") -> str:
    """The reason, in words, that a record about ``record`` concerns the patient's ``patient`` drug.

    >>> tdm1 = Drug("trastuzumab_emtansine", "trastuzumab emtansine", ("T-DM1",), "antibody_drug_conjugate")
    >>> explain("same", tdm1, tdm1, "study")
    'Drug: studied trastuzumab emtansine (T-DM1), which the patient receives'
    """
    verb = "studied" if what == "study" else "concerns"
    p, r = patient.label, record.label
    return {
        "same": f"Drug: {verb} {r}, which the patient receives",
        "combination": f"Drug: {verb} {r}, a regimen that contains the patient's {p}",
        "component": f"Drug: {verb} {r}, one drug of the patient's {p}",
        "class": f"Drug: {verb} {r} as a group, which includes the patient's {p}",
        "member": f"Drug: {verb} {r}, one of the {p} named in the profile",
        "same_class": f"Drug: {verb} {r}, another {class_label(record.drug_class)} — not {p} itself",
        "any_systemic": f"Drug: {verb} any systemic therapy given with SRS, which includes the patient's {p}",
    }[kind]
