"""The patient profile: what a clinician enters, read from names or ids and checked, with a sentence for each problem.

A profile holds no name or identifier of a person: primary tumour (histology with molecular subtype), number of brain
metastases, largest diameter (cm) and/or volume (cc), setting, prior brain radiation and the systemic drugs. It
travels in a page address as ``?histology=breast_her2pos&mets=3&diameter=2&setting=intact&drug=...``. Names are read
against the KB's vocabulary (``kb.patient.vocabulary``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from kb.patient.vocabulary import ProfileError, Vocabulary, resolve_drug, resolve_histology, resolve_setting

MAX_METASTASES = 100
MIN_DIAMETER_CM, MAX_DIAMETER_CM = 0.1, 10.0
MIN_VOLUME_CC, MAX_VOLUME_CC = 0.01, 500.0
MAX_DRUGS = 8

@dataclass(frozen=True)
class Profile:
    """A validated profile: ids of the KB's vocabularies and plain numbers. Hashable, so it can key a cache."""

    histology_id: str
    metastases: int | None = None
    diameter_cm: float | None = None
    volume_cc: float | None = None
    setting_id: str | None = None
    prior_radiation: bool | None = None
    drug_ids: tuple[str, ...] = ()

    def to_params(self) -> dict[str, str | list[str]]:
        """The page-address form (empty fields left out).

        >>> Profile("breast_her2pos", 3, 2.0, None, "intact", False, ("trastuzumab_emtansine",)).to_params()
        {'histology': 'breast_her2pos', 'mets': '3', 'diameter': '2', 'setting': 'intact', 'prior': 'no', \
'drug': ['trastuzumab_emtansine']}
        """
        params: dict[str, str | list[str]] = {"histology": self.histology_id}
        if self.metastases is not None:
            params["mets"] = str(self.metastases)
        if self.diameter_cm is not None:
            params["diameter"] = f"{self.diameter_cm:g}"
        if self.volume_cc is not None:
            params["volume"] = f"{self.volume_cc:g}"
        if self.setting_id:
            params["setting"] = self.setting_id
        if self.prior_radiation is not None:
            params["prior"] = "yes" if self.prior_radiation else "no"
        if self.drug_ids:
            params["drug"] = list(self.drug_ids)
        return params

    def to_json(self) -> dict[str, Any]:
        return {"histology_id": self.histology_id, "metastases": self.metastases, "diameter_cm": self.diameter_cm,
                "volume_cc": self.volume_cc, "setting_id": self.setting_id, "prior_radiation": self.prior_radiation,
                "drug_ids": list(self.drug_ids)}

# ------------------------------------------------------------------------------------------------ numbers
def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValueError
    number = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
    if math.isnan(number) or math.isinf(number):
        raise ValueError
    return number


def parse_metastases(value: Any) -> int | None:
    """The number of brain metastases: a whole number from 0 to 100, or None.

    >>> parse_metastases("3"), parse_metastases(None)
    (3, None)
    >>> parse_metastases(-2)
    Traceback (most recent call last):
    ...
    kb.patient.vocabulary.ProfileError: The number of brain metastases cannot be negative (-2): give a whole number \
from 0 to 100, or leave it out.
    """
    try:
        number = _number(value)
    except ValueError:
        raise ProfileError([f"The number of brain metastases must be a whole number from 0 to {MAX_METASTASES} "
                            f"(not '{value}'), or left out."]) from None
    if number is None:
        return None
    if number < 0:
        raise ProfileError([f"The number of brain metastases cannot be negative ({value}): give a whole number "
                            f"from 0 to {MAX_METASTASES}, or leave it out."])
    if number != int(number) or number > MAX_METASTASES:
        raise ProfileError([f"The number of brain metastases must be a whole number from 0 to {MAX_METASTASES} "
                            f"(not {value})."])
    return int(number)


def parse_diameter(value: Any) -> float | None:
    """The largest diameter in cm: from 0.1 to 10 cm.

    >>> parse_diameter("2.5"), parse_diameter("")
    (2.5, None)
    """
    try:
        number = _number(value)
    except ValueError:
        raise ProfileError([f"The largest diameter must be a number of centimetres from {MIN_DIAMETER_CM:g} to "
                            f"{MAX_DIAMETER_CM:g} (not '{value}')."]) from None
    if number is None:
        return None
    if number < MIN_DIAMETER_CM:
        raise ProfileError([f"The largest diameter must be at least {MIN_DIAMETER_CM:g} cm (not {value}); leave it out "
                            "if unknown."])
    if number > MAX_DIAMETER_CM:
        raise ProfileError([f"A largest diameter of {number:g} cm is over {MAX_DIAMETER_CM:g} cm, which this KB "
                            f"does not accept: give centimetres from 0.1 to {MAX_DIAMETER_CM:g} (for millimetres, "
                            "divide by 10)."])
    return round(number, 2)


def parse_volume(value: Any) -> float | None:
    """The volume of the largest lesion (or cavity) in cc: from 0.01 to 500 cc."""
    try:
        number = _number(value)
    except ValueError:
        raise ProfileError([f"The volume must be a number of cubic centimetres (cc = mL) from {MIN_VOLUME_CC:g} to "
                            f"{MAX_VOLUME_CC:g} (not '{value}')."]) from None
    if number is None:
        return None
    if number < MIN_VOLUME_CC or number > MAX_VOLUME_CC:
        raise ProfileError([f"A volume of {number:g} cc is outside what this KB accepts: give cubic centimetres "
                            f"(cc = mL) from {MIN_VOLUME_CC:g} to {MAX_VOLUME_CC:g}, or leave it out."])
    return round(number, 3)


def parse_prior_radiation(value: Any) -> bool | None:
    """yes/no/true/false/1/0 -> bool; empty or 'unknown' -> None.

    >>> parse_prior_radiation("yes"), parse_prior_radiation("no"), parse_prior_radiation(None)
    (True, False, None)
    """
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("", "unknown", "not stated", "none"):
        return None
    if text in ("yes", "y", "true", "1", "prior"):
        return True
    if text in ("no", "n", "false", "0"):
        return False
    raise ProfileError([f"Prior brain radiation is yes or no (not '{value}'), or left out."])


# ------------------------------------------------------------------------------------------------ the profile
def parse_profile(vocab: Vocabulary, histology: str | None, metastases: Any = None, diameter_cm: Any = None,
                  volume_cc: Any = None, setting: str | None = None, prior_radiation: Any = None,
                  drugs: Sequence[str] = ()) -> Profile:
    """Read and check every field; all problems are reported together, each as a sentence.

    Example: ``parse_profile(vocab, "HER2+ breast", 3, 2, None, "intact", None, ["T-DM1"])`` gives
    ``Profile('breast_her2pos', 3, 2.0, None, 'intact', None, ('trastuzumab_emtansine',))``.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    steps = (("histology_id", lambda: resolve_histology(vocab, histology)),
             ("metastases", lambda: parse_metastases(metastases)),
             ("diameter_cm", lambda: parse_diameter(diameter_cm)),
             ("volume_cc", lambda: parse_volume(volume_cc)),
             ("setting_id", lambda: resolve_setting(vocab, setting)),
             ("prior_radiation", lambda: parse_prior_radiation(prior_radiation)))
    for name, step in steps:
        try:
            values[name] = step()
        except ProfileError as exc:
            problems.extend(exc.problems)
    drug_ids: list[str] = []
    given = [d for d in drugs if str(d or "").strip()]
    if len(given) > MAX_DRUGS:
        problems.append(f"Give at most {MAX_DRUGS} drugs (got {len(given)}).")
    for text in given[:MAX_DRUGS]:
        try:
            drug_id = resolve_drug(vocab, text)
        except ProfileError as exc:
            problems.extend(exc.problems)
            continue
        if drug_id not in drug_ids:
            drug_ids.append(drug_id)
    if problems:
        raise ProfileError(problems)
    return Profile(drug_ids=tuple(drug_ids), **values)


def profile_from_params(vocab: Vocabulary, params: Mapping[str, Any]) -> Profile | None:
    """The profile in a page address (``Profile.to_params`` form); None when no histology is given.

    ``params`` maps a name to a value or a list of values (``st.query_params.to_dict()`` plus ``get_all``).
    """
    def one(name: str) -> Any:
        value = params.get(name)
        return value[-1] if isinstance(value, (list, tuple)) and value else (value or None)

    drugs = params.get("drug") or []
    if not one("histology"):
        return None
    return parse_profile(vocab, one("histology"), one("mets"), one("diameter"), one("volume"), one("setting"),
                         one("prior"), [drugs] if isinstance(drugs, str) else list(drugs))


def read_params(vocab: Vocabulary, params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Each field of a page address read on its own: the values that could be read (a form starts from them) and
    one sentence per value that could not (shown to the reader; that field is left empty).

    >>> # read_params(vocab, {"histology": "melanoma", "diameter": "50"})
    >>> # -> ({'histology_id': 'melanoma', 'diameter_cm': None, ...}, ['A largest diameter of 50 cm is over 10 cm …'])
    """
    def one(name: str) -> Any:
        value = params.get(name)
        return value[-1] if isinstance(value, (list, tuple)) and value else (value or None)

    fields: dict[str, Any] = {}
    problems: list[str] = []
    readers = (("histology_id", "histology", lambda v: resolve_histology(vocab, v) if v else None),
               ("metastases", "mets", parse_metastases), ("diameter_cm", "diameter", parse_diameter),
               ("volume_cc", "volume", parse_volume), ("setting_id", "setting", lambda v: resolve_setting(vocab, v)),
               ("prior_radiation", "prior", parse_prior_radiation))
    for field_name, param, read in readers:
        try:
            fields[field_name] = read(one(param))
        except ProfileError as exc:
            fields[field_name] = None
            problems.extend(exc.problems)
    drugs = params.get("drug") or []
    fields["drug_ids"] = []
    for text in ([drugs] if isinstance(drugs, str) else list(drugs))[:MAX_DRUGS]:
        try:
            drug_id = resolve_drug(vocab, text)
        except ProfileError as exc:
            problems.extend(exc.problems)
            continue
        if drug_id not in fields["drug_ids"]:
            fields["drug_ids"].append(drug_id)
    return fields, list(dict.fromkeys(problems))


def describe(vocab: Vocabulary, profile: Profile) -> str:
    """The profile in one line: 'Breast cancer HER2-positive · 3 brain metastases · largest 2 cm · …'."""
    parts = [vocab.histology_name(profile.histology_id)]
    if profile.metastases is not None:
        parts.append(f"{profile.metastases} brain metastas{'is' if profile.metastases == 1 else 'es'}")
    size = []
    if profile.diameter_cm is not None:
        size.append(f"{profile.diameter_cm:g} cm")
    if profile.volume_cc is not None:
        size.append(f"{profile.volume_cc:g} cc")
    if size:
        parts.append("largest " + " / ".join(size))
    parts.append(vocab.setting_name(profile.setting_id))
    if profile.prior_radiation is not None:
        parts.append("prior brain radiation" if profile.prior_radiation else "no prior brain radiation")
    if profile.drug_ids:
        parts.append(", ".join(vocab.drugs[d].label for d in profile.drug_ids))
    return " · ".join(parts)
