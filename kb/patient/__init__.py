"""Evidence for a patient: the studies, dose schedules, drug–SRS signals, guideline recommendations and imaging
evidence in the KB that fit one patient's profile — each item with its KB id, its source, its verification and the
reasons it matched (``why``), plus what the KB does not know (``gaps``). It describes evidence; it never recommends
a treatment.

    >>> # from kb.db import connect; from kb.patient import load_tables, parse_profile, evidence
    >>> # tables = load_tables(connect())
    >>> # profile = parse_profile(tables.vocab, "HER2+ breast", 3, 2, None, "intact", None, ["T-DM1"])
    >>> # evidence(tables, profile)["drug_signals"][0]["signal_id"]   -> 'tdm1_stumpf2019_csrn'

The package, by concern: ``vocabulary`` (the KB's names: histologies, settings, drugs, with "did you mean"),
``profile`` (reading and checking what is entered), ``drugs`` (how two drugs relate),
``match`` (studies, schedules, signals, imaging), ``guidelines`` (recommendation populations), ``gaps``,
``answer`` (one dict for the page, the download and the CLI), ``report`` (text and Markdown), ``cli``.

Matching semantics — what a clinician would expect, written down
================================================================

Histology (studies, signals, recommendations). A record applies when its histology is the patient's, the broader
group it belongs to (``parent_id``: a breast-cancer study applies to HER2-positive breast cancer; an NSCLC study to
EGFR-mutant NSCLC), or mixed solid tumours (with the caveat that the KB does not record which histologies each paper
excluded). A record restricted to a subtype of what the profile gives (a HER2-positive trial for "breast cancer",
subtype not given) is kept and marked "applies only if the tumour has it". A sibling subtype never applies (an
HER2-low study does not cover HER2-positive disease; an ALK study does not cover EGFR-mutant NSCLC).

Setting. The patient's setting must be among the study's settings. A cohort coded "mixed settings" is taken to cover
intact, postoperative and recurrent metastases — never preoperative SRS (a distinct approach that studies tag
explicitly), leptomeningeal disease or systemic therapy alone. For a recurrence, studies of imaging follow-up of
treated lesions also apply. With prior brain radiation, studies of re-treatment (recurrent/salvage setting) also
apply, said so. A study without a recorded setting
enters only as a study of the patient's drug.

Systemic-therapy studies of the patient's drugs enter whatever their setting, if their histology applies. The drug
relations (``kb.patient.drugs``): the same drug; a regimen containing it, or a component of the patient's regimen;
a class-level entry that includes it (pembrolizumab → "immune checkpoint inhibitors"; narrowed where the group is
smaller than the class: ipilimumab is not a PD-1/PD-L1 inhibitor); when the profile names a class, its members; and,
weakest and said so, another agent of the same class (pembrolizumab → the nivolumab trials; T-DM1 → T-DXd studies).

Eligibility (studies). The number of metastases must lie within the recorded range, bounds included ("1–4" covers 4
and not 6; a missing lower bound counts as 1); the largest diameter must be at most ``max_diameter_cm``; the volume at
most ``max_volume_cc``. Diameter and volume are never converted into each other (a lesion is not a sphere); a limit in
the other unit is reported as "not compared". A study whose recorded eligibility excludes the patient goes to
``studies_excluded`` with ``why_not``. Of the rest, ``group`` is ``covers`` when at least one recorded limit was
checked and covers the patient, else ``eligibility_not_recorded`` — the separate group that says the KB does not
record (or the profile does not give) what would decide it.

Order ("best evidence first"): group, then evidence level (1 = systematic review of RCTs … 5 = expert opinion),
randomized first, closest histology, closest setting, closest drug relation, newest.

Dose schedules. The schedule's setting (or, when coded "mixed" or empty, its study's settings) must be the patient's
(with prior radiation, salvage schedules also apply, said so; a schedule with no setting at all is listed last for
parenchymal settings). Its stated size range must not exclude the lesion (bounds inclusive, as on the dosing page);
``size_fit`` says whether it was compared. Normal-brain tolerance and radionecrosis-risk rows are included, after
treatment schedules. BED and EQD2 come from ``kb.radiobiology.with_bed`` with the row's own α/β — never stored.

Drug–SRS signals, per patient drug: the relations above, plus another agent of the same class (T-DXd → the T-DM1
radionecrosis signal, said "not T-DXd itself"), "any systemic therapy with SRS", and signals studied in patients on
the drug (steroids in patients on checkpoint inhibitors). Histology is reported, not required. The timing window is
the study's own definition of concurrent use, or "not stated in the source".

Recommendations: see ``kb.patient.guidelines`` (the population text is read with explicit rules). Side by side by
body: sorted by topic (the patient's setting's own topics first), then body, newest first.

Imaging: follow-up always; radionecrosis-versus-progression when a recurrence, prior radiation, a radionecrosis drug
signal, or SRS in the patient's setting raises it; planning, detection and prediction where SRS or surgery lies ahead.
"""

from kb.patient.answer import ID_KEYS, SECTIONS, STATEMENT, evidence, evidence_for, item_ids
from kb.patient.load import KbTables, load_tables
from kb.patient.profile import Profile, describe, parse_profile, profile_from_params, read_params
from kb.patient.vocabulary import (ProfileError, Vocabulary, drug_choices, histology_choices, load_vocabulary,
                                   setting_choices)

__all__ = ["ID_KEYS", "SECTIONS", "STATEMENT", "KbTables", "Profile", "ProfileError", "Vocabulary", "describe",
           "drug_choices", "evidence", "evidence_for", "histology_choices", "item_ids", "load_tables",
           "load_vocabulary", "parse_profile", "profile_from_params", "read_params", "setting_choices"]
