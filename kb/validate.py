"""Validation: every rule of the schema, said as a sentence a clinician understands.

The same rules stand in ``schema.sql`` (CHECK, keys); this module finds *all* problems at once, before anything is
written, and names the file, line and column of each. ``validate_record`` serves the editor's forms;
``validate_tables`` serves ``python -m kb check`` and ``build``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from kb.schema import Table, tables

# Single-fraction ceiling: RTOG 90-05 (Shaw et al. 2000, ref048) found 24 Gy the maximum tolerated single dose
# (lesions <= 2 cm). tests/test_data_integrity.py checks that no single-fraction row in data/ exceeds it.
SINGLE_FRACTION_MAX_GY = 24.0

VERIFICATION = ("verified", "secondary", "unverified")
_P_VALUE = re.compile(r"(<|>|=)?(0|1|0?\.[0-9]+|1\.0+)")
_NCT = re.compile(r"NCT[0-9]{8}")
_PMID = re.compile(r"[0-9]{1,9}")

# Where a figure was verified: one identifier per entry, in one of these forms; several entries only with ';'.
# PMID and DOI are preferred; PMC for a PubMed Central copy; URL only for a page that showed no identifier.
VERIFIED_IN_FORMS = {
    "PMID": re.compile(r"PMID:[0-9]{1,9}"),
    "DOI": re.compile(r"DOI:10\.[0-9]{4,9}/\S+"),
    "PMC": re.compile(r"PMC:PMC[0-9]{4,9}"),
    "URL": re.compile(r"URL:https?://\S+"),
}
VERIFIED_IN_SEPARATOR = ";"
VERIFIED_IN_EXAMPLE = "PMID:12345678, DOI:10.1200/JCO.2020.1, PMC:PMC1234567 or URL:https://…"

RATIO_STATISTICS = ("hazard_ratio", "odds_ratio", "risk_ratio")

# Controlled values that schema.sql enforces with CHECK (col IN (...)); mirrored here for clear messages.
ALLOWED: dict[str, dict[str, tuple]] = {
    "sources": {"cited_in": ("srs_review_2025", "seed_review", "editor")},
    "source_topics": {"topic": ("clinical_studies", "drug_toxicity", "dosing", "imaging", "guidelines")},
    "studies": {"phase": ("1", "1/2", "2", "2/3", "3", "3b", "4"),
                "status": ("completed", "ongoing", "terminated_early", "published_abstract")},
    "study_sources": {"role": ("primary", "update", "secondary_analysis", "protocol", "abstract")},
    "outcomes": {"statistic": ("proportion", "median", "mean", "hazard_ratio", "odds_ratio", "risk_ratio", "count",
                               "difference", "range_of_medians_low", "range_of_medians_high", "posterior_probability"),
                 "unit": ("%", "pct_change", "months", "ratio", "patients", "lesions", "points", "weeks", "days"),
                 "unit_of_analysis": ("patients", "lesions", "treatments")},
    "guidelines": {"kind": ("guideline", "consensus", "appropriate_use", "workshop", "quality_indicators")},
    "dose_schedules": {"category": ("single_fraction", "fractionated_intact", "postoperative", "preoperative", "wbrt",
                                    "ha_wbrt", "salvage", "normal_tissue")},
    "drug_toxicity": {"unit_of_analysis": ("patients", "lesions", "treatments"),
                      "effect_measure": ("OR", "HR", "RR", "SHR", "IRR")},
    "imaging": {"purpose": ("detection", "rn_vs_progression", "treatment_planning", "response_assessment",
                            "prediction", "surveillance")},
    "interventions": {"kind": ("radiation", "surgery", "drug", "device", "none")},
    "audit_log": {"action": ("create", "update", "retire", "revert", "import")},
}

# Human names for columns, used in messages.
LABELS = {
    "year": "year", "enrol_start_year": "enrolment start year", "enrol_end_year": "enrolment end year",
    "total_dose_gy": "total dose (Gy)", "fractions": "number of fractions", "alpha_beta_gy": "α/β (Gy)",
    "value": "value", "ci_low": "lower 95% CI", "ci_high": "upper 95% CI", "p_value": "p value",
    "effect_ci_low": "lower 95% CI of the effect", "effect_ci_high": "upper 95% CI of the effect",
    "subgroup_id": "subgroup", "cohort_source_id": "cohort paper", "endpoint_detail": "endpoint detail",
    "verified_in": "verified in",
}


@dataclass(frozen=True)
class Problem:
    """One problem: where it is and what is wrong, in words."""

    table: str
    line: int | None      # line in the CSV file (header = line 1); None for a form or a whole-table problem
    column: str | None
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = self.file or self.table
        if self.line is not None:
            where += f", line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


def label(column: str, table: str | None = None) -> str:
    """A column in words for messages and forms ('total dose (Gy)'); the words live in kb.field_words."""
    from kb import field_words

    if field_words.WORDS.get(column) or (table and field_words.WORDS.get(f"{table}.{column}")):
        return field_words.label(column, table)
    return LABELS.get(column, column.replace("_", " "))


def verified_in_problem(text: str | None) -> str | None:
    """Why ``text`` is not a valid ``verified_in`` cell, or None when it is (or is empty).

    >>> verified_in_problem("PMID:32058845; DOI:10.1093/neuonc/not114") is None
    True
    >>> verified_in_problem("https://example.org/abstract")
    "'https://example.org/abstract' is a web address without its prefix — write URL: in front of it"
    """
    if text is None or not str(text).strip():
        return None
    entries = [e.strip() for e in str(text).split(VERIFIED_IN_SEPARATOR)]
    for entry in entries:
        if not entry:
            return f"an empty entry between '{VERIFIED_IN_SEPARATOR}' separators — one identifier per entry"
        if any(form.fullmatch(entry) for form in VERIFIED_IN_FORMS.values()):
            continue
        shown = entry if len(entry) <= 70 else entry[:67] + "…"
        if re.match(r"https?://", entry) and " " not in entry:
            return f"{shown!r} is a web address without its prefix — write URL: in front of it"
        if re.search(r"\s(PMID|DOI|PMC|URL):|,\s*(PMID|DOI|PMC|URL):", entry):
            return (f"{shown!r} holds several identifiers — separate them with '{VERIFIED_IN_SEPARATOR} ' "
                    f"(one identifier per entry)")
        return (f"{shown!r} should be one identifier in a documented form: {VERIFIED_IN_EXAMPLE} "
                f"(several separated by '{VERIFIED_IN_SEPARATOR} ')")
    return None


# ------------------------------------------------------------------------------------------------ typing
def coerce(table: Table, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Turn text cells into typed values. Returns (record, [(column, message)]). Empty text is NULL.

    >>> rec, errs = coerce(tables()["sources"], {"year": "20x6"})
    >>> errs
    [('year', "'20x6' is not a whole number")]
    """
    record: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    for col in table.columns:
        value = raw.get(col.name)
        if isinstance(value, str):
            value = value.strip()
            if value == "":
                value = None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            record[col.name] = None
            continue
        try:
            record[col.name] = _convert(col.type, value)
        except ValueError:
            errors.append((col.name, f"{str(value)[:60]!r} is not {_TYPE_WORDS.get(col.type, col.type)}"))
            record[col.name] = None
    return record, errors


_TYPE_WORDS = {"INTEGER": "a whole number", "DOUBLE": "a number", "BOOLEAN": "true or false",
               "TIMESTAMP": "a date and time"}


def _convert(sql_type: str, value: Any) -> Any:
    if sql_type == "INTEGER":
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        number = float(str(value))
        if not number.is_integer():
            raise ValueError
        return int(number)
    if sql_type == "DOUBLE":
        number = float(str(value))
        if math.isnan(number) or math.isinf(number):
            raise ValueError
        return number
    if sql_type == "BOOLEAN":
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in {"true", "1", "yes"}:
            return True
        if text in {"false", "0", "no"}:
            return False
        raise ValueError
    if sql_type == "TIMESTAMP":
        return str(value)
    return str(value)


# ------------------------------------------------------------------------------------------------ rules
def _rules(table: str, r: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """Row rules beyond types: (column, message) for each broken rule. Mirrors the CHECKs of schema.sql."""
    for col in ("year", "enrol_start_year", "enrol_end_year"):
        if r.get(col) is not None and not 1900 <= r[col] <= 2100:
            yield col, f"{label(col)} {r[col]} is outside 1900–2100"
    for col, value in r.items():
        if value is None:
            continue
        if col.endswith("_pct") and not 0 <= value <= 100:
            yield col, f"{value:g}% is not a percentage between 0 and 100"
        elif (col.startswith("n_") or col in ("mets_min", "mets_max")) and value < 0:
            yield col, f"a count cannot be negative ({value})"
        elif col in ("total_dose_gy", "alpha_beta_gy", "max_diameter_cm", "max_volume_cc") and value <= 0:
            yield col, f"{label(col)} must be greater than 0 (got {value:g})"
        elif col in ("min_diameter_cm", "min_volume_cc", "volume_limit_cc") and value < 0:
            yield col, f"{label(col)} cannot be negative (got {value:g})"
        elif col == "fractions" and value < 1:
            yield col, f"the number of fractions must be at least 1 (got {value})"
        elif col in ("p_value",) and not _P_VALUE.fullmatch(str(value)):
            yield col, f"p value {value!r} should look like 0.03, <0.001 or =0.2"
        elif col == "auc" and not 0 <= value <= 1:
            yield col, f"AUC {value:g} must be between 0 and 1"
    for col, allowed in ALLOWED.get(table, {}).items():
        if r.get(col) is not None and r[col] not in allowed:
            yield col, f"{label(col)} {r[col]!r} is not allowed — choose one of: {', '.join(allowed)}"
    if r.get("ref_number") is not None and not 1 <= r["ref_number"] <= 263:
        yield "ref_number", f"reference number {r['ref_number']} must be between 1 and 263"
    if r.get("timepoint_months") is not None and r["timepoint_months"] <= 0:
        yield "timepoint_months", "the timepoint must be after 0 months"
    if r.get("effect_value") is not None and r["effect_value"] <= 0:
        yield "effect_value", f"an effect size (ratio) must be greater than 0 (got {r['effect_value']:g})"
    if table == "outcomes" and r.get("unit") == "%":
        for col in ("ci_low", "ci_high"):
            if r.get(col) is not None and not 0 <= r[col] <= 100:
                yield col, f"a percentage CI bound must be between 0 and 100 (got {r[col]:g})"
    if table == "outcomes" and r.get("statistic") == "count" and r.get("value") is not None and r["value"] < 0:
        yield "value", "a count cannot be negative"
    if "verification" in r:
        v = r.get("verification")
        if v not in VERIFICATION:
            yield "verification", f"verification {v!r} must be one of: {', '.join(VERIFICATION)}"
        elif v == "verified" and not r.get("verified_in"):
            yield "verified_in", "a verified record must say where it was verified (PMID or DOI in verified_in)"
    if r.get("verified_in"):
        problem = verified_in_problem(r["verified_in"])
        if problem:
            yield "verified_in", problem
    if table == "outcomes" and r.get("endpoint_detail") is not None and len(str(r["endpoint_detail"])) > 80:
        yield "endpoint_detail", ("an endpoint detail is a short label (80 characters at most); "
                                  "put longer explanations in the note")
    if r.get("doi") and not str(r["doi"]).startswith("10."):
        yield "doi", f"DOI {r['doi']!r} should start with '10.' (no https://doi.org/ prefix)"
    if r.get("pmid") and not _PMID.fullmatch(str(r["pmid"])):
        yield "pmid", f"PMID {r['pmid']!r} should be digits only"
    if r.get("nct_id") and not _NCT.fullmatch(str(r["nct_id"])):
        yield "nct_id", f"{r['nct_id']!r} is not an NCT number (NCT followed by 8 digits)"
    dose, fx = r.get("total_dose_gy"), r.get("fractions")
    if table in ("arms", "dose_schedules"):
        if dose is not None and fx is None:
            yield "fractions", f"{dose:g} Gy needs a number of fractions"
        if table == "dose_schedules" and fx is not None and dose is None:
            yield "total_dose_gy", f"{fx} fractions needs a total dose"
        if dose is not None and fx == 1 and dose > SINGLE_FRACTION_MAX_GY:
            yield "total_dose_gy", (
                f"{dose:g} Gy in one fraction is above the {SINGLE_FRACTION_MAX_GY:g} Gy single-fraction maximum "
                "in the dose table (RTOG 90-05) — check the fractions")
    if table == "dose_schedules" and dose is not None and r.get("alpha_beta_gy") is None:
        yield "alpha_beta_gy", "a schedule with a dose must state the α/β used for BED and EQD2"
    for lo, hi in (("enrol_start_year", "enrol_end_year"), ("mets_min", "mets_max"),
                   ("min_diameter_cm", "max_diameter_cm"), ("min_volume_cc", "max_volume_cc"),
                   ("n_analysed", "n_enrolled")):
        if r.get(lo) is not None and r.get(hi) is not None and r[lo] > r[hi]:
            yield lo, f"{label(lo)} ({r[lo]:g}) is greater than {label(hi)} ({r[hi]:g})"
    if table == "studies" and r.get("randomized") and r.get("design_id") not in (None, "rct"):
        yield "randomized", f"a randomized study must have design 'rct', not {r.get('design_id')!r}"
    value_key = "effect_value" if table == "drug_toxicity" else "value"
    lo_key, hi_key = ("effect_ci_low", "effect_ci_high") if table == "drug_toxicity" else ("ci_low", "ci_high")
    value = r.get(value_key)
    if table in ("outcomes", "drug_toxicity") and value is not None:
        if r.get(lo_key) is not None and r[lo_key] > value:
            yield lo_key, f"the 95% CI ({r[lo_key]:g}–{r.get(hi_key)}) does not contain the value {value:g}"
        if r.get(hi_key) is not None and r[hi_key] < value:
            yield hi_key, f"the 95% CI ({r.get(lo_key)}–{r[hi_key]:g}) does not contain the value {value:g}"
    if table == "outcomes" and value is not None:
        if r.get("unit") == "%" and not 0 <= value <= 100:
            yield "value", (f"{value:g}% is not a percentage between 0 and 100 "
                            "(a change from baseline that can be negative has unit 'pct_change')")
        if r.get("unit") == "pct_change" and r.get("statistic") not in ("mean", "median", "difference"):
            yield "unit", "a percent change from baseline is a mean, median or difference, not a " + \
                str(r.get("statistic")).replace("_", " ")
        if r.get("statistic") in ("hazard_ratio", "odds_ratio", "risk_ratio"):
            if value <= 0:
                yield "value", f"a {r['statistic'].replace('_', ' ')} must be greater than 0 (got {value:g})"
            if r.get("unit") != "ratio":
                yield "unit", f"a {r['statistic'].replace('_', ' ')} has unit 'ratio', not {r.get('unit')!r}"
    if table == "drug_toxicity":
        if r.get("effect_value") is not None and not r.get("effect_measure"):
            yield "effect_measure", "an effect size needs its measure (OR, HR, RR, SHR or IRR)"
        total = r.get("n_total")
        for col in ("n_with_drug", "n_without_drug"):
            if total is not None and r.get(col) is not None and r[col] > total:
                yield col, f"{label(col)} ({r[col]}) is larger than the total ({total})"


def validate_record(table_name: str, raw: Mapping[str, Any],
                    known: Mapping[str, set] | None = None) -> tuple[dict[str, Any], list[Problem]]:
    """Validate one record (a form or a CSV row). ``known`` maps 'table.column' to the set of existing keys,
    to check foreign keys. Returns the typed record and its problems.

    >>> rec, problems = validate_record("dose_schedules", {"schedule_id": "x", "category": "single_fraction",
    ...     "description": "d", "total_dose_gy": "30", "fractions": "1", "alpha_beta_gy": "10",
    ...     "source_id": "ref048", "verification": "secondary"})
    >>> print(problems[0].message)
    30 Gy in one fraction is above the 24 Gy single-fraction maximum in the dose table (RTOG 90-05) — check the fractions
    """
    table = tables()[table_name]
    record, type_errors = coerce(table, raw)
    problems = [Problem(table_name, None, c, m) for c, m in type_errors]
    for col in table.columns:
        if not col.nullable and record.get(col.name) is None and col.name not in {c for c, _ in type_errors}:
            if col.name in ("audit_id",):
                continue
            problems.append(Problem(table_name, None, col.name, f"{label(col.name)} is required"))
    problems += [Problem(table_name, None, c, m) for c, m in _rules(table_name, record)]
    if known is not None:
        for col, parent, parent_col in table.foreign_keys:
            value = record.get(col)
            keys = known.get(f"{parent}.{parent_col}")
            if value is not None and keys is not None and value not in keys:
                problems.append(Problem(table_name, None, col, _unknown_key_message(parent, value, keys)))
    return record, problems


def _unknown_key_message(parent: str, value: Any, keys: set) -> str:
    noun = {"histologies": "histology", "settings": "setting", "sources": "source", "studies": "study",
            "drugs": "drug", "designs": "design", "endpoints": "endpoint", "arms": "arm",
            "interventions": "intervention", "pub_types": "publication type", "toxicities": "toxicity",
            "rec_topics": "topic", "imaging_modalities": "imaging modality", "guidelines": "guideline",
            "evidence_levels": "evidence level", "subgroups": "subgroup"}.get(parent, parent)
    if len(keys) <= 40:
        choices = ", ".join(sorted(map(str, keys)))
        return f"unknown {noun} {value!r} — choose one of: {choices}"
    return f"unknown {noun} {value!r} — no such {noun} in {parent}"


# ------------------------------------------------------------------------------------------------ whole data
def validate_tables(frames: Mapping[str, list[dict[str, Any]]],
                    files: Mapping[str, list[str]] | None = None) -> tuple[dict[str, list[dict]], list[Problem]]:
    """Validate every table at once. ``frames`` maps table -> raw rows (each with '_line' and '_file' keys).

    Returns the typed rows and every problem found (type errors, rules, duplicate keys, foreign keys to nothing,
    and cross-table consistency).
    """
    described = tables()
    typed: dict[str, list[dict]] = {}
    problems: list[Problem] = []
    for name, rows in frames.items():
        out = []
        for raw in rows:
            record, row_problems = validate_record(name, raw)
            problems += [Problem(name, raw.get("_line"), p.column, p.message, raw.get("_file")) for p in row_problems]
            record["_line"], record["_file"] = raw.get("_line"), raw.get("_file")
            out.append(record)
        typed[name] = out
    # keys
    keys: dict[str, set] = defaultdict(set)
    for name, rows in typed.items():
        pk = described[name].primary_key
        seen: dict[tuple, tuple[str | None, int | None]] = {}
        for r in rows:
            key = tuple(r.get(c) for c in pk)
            if pk and key in seen and None not in key:
                first_file, first_line = seen[key]
                where = f"line {first_line}" if first_file == r["_file"] else f"{first_file}, line {first_line}"
                hint = "" if first_file == r["_file"] else " — to correct an existing row, put it in replace/"
                problems.append(Problem(name, r["_line"], pk[-1] if len(pk) == 1 else ",".join(pk),
                                        f"duplicate key {', '.join(map(str, key))} (also in {where}){hint}",
                                        r["_file"]))
            seen.setdefault(key, (r.get("_file"), r["_line"]))
        if len(pk) == 1:
            keys[f"{name}.{pk[0]}"] = {r.get(pk[0]) for r in rows}
    if "sources" in typed:
        refs = [r.get("ref_number") for r in typed["sources"] if r.get("ref_number") is not None]
        dupes = {n for n in refs if refs.count(n) > 1}
        for r in typed["sources"]:
            if r.get("ref_number") in dupes:
                problems.append(Problem("sources", r["_line"], "ref_number",
                                        f"reference number {r['ref_number']} is used twice", r["_file"]))
    for name, rows in typed.items():
        for col, parent, parent_col in described[name].foreign_keys:
            parent_keys = keys.get(f"{parent}.{parent_col}", set())
            for r in rows:
                value = r.get(col)
                if value is not None and value not in parent_keys:
                    problems.append(Problem(name, r["_line"], col, _unknown_key_message(parent, value, parent_keys),
                                            r["_file"]))
    problems += _cross_table(typed)
    return typed, problems


def _cross_table(typed: Mapping[str, list[dict]]) -> list[Problem]:
    """Consistency across tables: arms and outcomes belong to their study, arm sizes fit the study."""
    problems = []
    studies = {r["study_id"]: r for r in typed.get("studies", [])}
    arms = {r["arm_id"]: r for r in typed.get("arms", [])}
    for a in typed.get("arms", []):
        study = studies.get(a.get("study_id"))
        if study and a.get("n_patients") is not None:
            if study.get("n_enrolled") is not None and a["n_patients"] > study["n_enrolled"]:
                problems.append(Problem("arms", a["_line"], "n_patients",
                                        f"arm size {a['n_patients']} is larger than the study's {study['n_enrolled']} "
                                        "enrolled patients", a["_file"]))
    for o in typed.get("outcomes", []):
        for col in ("arm_id", "comparator_arm_id"):
            arm = arms.get(o.get(col))
            if arm and arm.get("study_id") != o.get("study_id"):
                problems.append(Problem("outcomes", o["_line"], col,
                                        f"arm {o[col]!r} belongs to study {arm['study_id']!r}, not {o['study_id']!r}",
                                        o["_file"]))
        if o.get("statistic") in RATIO_STATISTICS and o.get("arm_id") \
                and not o.get("comparator_arm_id"):
            problems.append(Problem("outcomes", o["_line"], "comparator_arm_id",
                                    "a between-arm ratio needs the comparator arm", o["_file"]))
        if o.get("n_evaluated") is not None and o.get("arm_id") in arms:
            n_arm = arms[o["arm_id"]].get("n_patients")
            if n_arm is not None and o["n_evaluated"] > n_arm and o.get("unit") != "lesions":
                problems.append(Problem("outcomes", o["_line"], "n_evaluated",
                                        f"{o['n_evaluated']} evaluated is more than the arm's {n_arm} patients",
                                        o["_file"]))
    papers = study_papers(typed.get("study_sources", []))
    problems += _cohort_paper_problems(typed.get("outcomes", []), papers)
    problems += _population_collisions(typed.get("outcomes", []), papers)
    problems += _range_of_medians_problems(typed.get("outcomes", []), papers)
    problems += dose_schedule_study_problems(typed.get("dose_schedules", []), typed.get("study_sources", []))
    return problems


def study_papers(links: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """study_id -> the source_ids of its papers (study_sources)."""
    papers: dict[str, set[str]] = defaultdict(set)
    for link in links:
        if link.get("study_id") and link.get("source_id"):
            papers[link["study_id"]].add(link["source_id"])
    return papers


def _cohort_paper_problems(outcomes: Iterable[Mapping[str, Any]], papers: Mapping[str, set[str]]) -> list[Problem]:
    """The cohort paper must be one of the study's papers; it is required when the study has several papers, or when
    the figure was read in a paper that is not the study's own (e.g. a review quoting the trial)."""
    problems = []
    for o in outcomes:
        own = papers.get(o.get("study_id"), set())
        cohort = o.get("cohort_source_id")
        if not own:
            continue  # a study without papers is reported by the study_sources rules
        if cohort is not None and cohort not in own:
            problems.append(Problem("outcomes", o.get("_line"), "cohort_source_id",
                                    f"{cohort!r} is not a paper of study {o.get('study_id')!r} (its papers: "
                                    f"{', '.join(sorted(own))}) — add it to the study's sources or choose one",
                                    o.get("_file")))
        elif cohort is None and len(own) > 1:
            problems.append(Problem("outcomes", o.get("_line"), "cohort_source_id",
                                    f"study {o.get('study_id')!r} has several papers ({', '.join(sorted(own))}): say "
                                    "which paper's patients this figure describes", o.get("_file")))
        elif cohort is None and o.get("source_id") not in own:
            problems.append(Problem("outcomes", o.get("_line"), "cohort_source_id",
                                    f"the figure was read in {o.get('source_id')!r}, which is not a paper of study "
                                    f"{o.get('study_id')!r}: name the study paper whose patients it describes",
                                    o.get("_file")))
    return problems


def population_key(o: Mapping[str, Any], papers: Mapping[str, set[str]] | None = None) -> tuple:
    """What makes an outcome figure unique: study, arm, comparator, endpoint (and detail), statistic, timepoint and
    the population (subgroup, unit of analysis, cohort paper). An empty cohort paper of a one-paper study is that
    paper; text is compared without case and surrounding spaces.

    >>> population_key({"study_id": "s", "endpoint_id": "os", "statistic": "median", "subgroup_id": "whole_cohort"})
    ('s', None, None, 'os', '', 'median', None, 'whole_cohort', None, None)
    """
    cohort = o.get("cohort_source_id")
    own = (papers or {}).get(o.get("study_id"), set())
    if cohort is None and len(own) == 1:
        cohort = next(iter(own))
    detail = str(o.get("endpoint_detail") or "").strip().casefold()
    return (o.get("study_id"), o.get("arm_id"), o.get("comparator_arm_id"), o.get("endpoint_id"), detail,
            o.get("statistic"), o.get("timepoint_months"), o.get("subgroup_id"), o.get("unit_of_analysis"), cohort)


def _population_collisions(outcomes: Iterable[Mapping[str, Any]], papers: Mapping[str, set[str]]) -> list[Problem]:
    problems = []
    seen: dict[tuple, Mapping[str, Any]] = {}
    for o in outcomes:
        key = population_key(o, papers)
        first = seen.get(key)
        if first is None:
            seen[key] = o
            continue
        if first.get("outcome_id") == o.get("outcome_id"):
            continue  # the same row twice: the duplicate-key message says it, with the way to correct it
        problems.append(Problem(
            "outcomes", o.get("_line"), "subgroup_id",
            f"outcome {o.get('outcome_id')!r} has the same study, arm, comparison, endpoint, statistic, timepoint and "
            f"population as {first.get('outcome_id')!r} — charts could not tell them apart. Give each its own "
            "subgroup (or unit of analysis, or cohort paper), or an endpoint detail if they count different things",
            o.get("_file")))
    return problems


def _range_of_medians_problems(outcomes: list[Mapping[str, Any]], papers: Mapping[str, set[str]]) -> list[Problem]:
    """A range of medians is entered as both of its ends."""
    problems = []
    keys = {population_key(o, papers) for o in outcomes}
    ends = {"range_of_medians_low": "range_of_medians_high", "range_of_medians_high": "range_of_medians_low"}
    for o in outcomes:
        other = ends.get(o.get("statistic"))
        if other is None:
            continue
        key = list(population_key(o, papers))
        key[5] = other
        if tuple(key) not in keys:
            problems.append(Problem("outcomes", o.get("_line"), "statistic",
                                    f"a range of medians needs both ends: {o.get('outcome_id')!r} has no matching "
                                    f"{other.replace('_', ' ')} row for the same population", o.get("_file")))
    return problems


def dose_schedule_study_problems(schedules: Iterable[Mapping[str, Any]],
                                 links: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """A schedule read in a paper of a KB study names that study; a schedule whose paper is no KB study's (a review,
    a modelling or pooled analysis) leaves study_id empty.

    >>> links = [{"study_id": "n0574", "source_id": "ref028"}]
    >>> [p.message for p in dose_schedule_study_problems([{"schedule_id": "x", "source_id": "ref028"}], links)]
    ["its source ref028 is a paper of study 'n0574' — name that study in study_id"]
    """
    studies_of: dict[str, set[str]] = defaultdict(set)
    for link in links:
        studies_of[link.get("source_id")].add(link.get("study_id"))
    problems = []
    for d in schedules:
        owners = studies_of.get(d.get("source_id"), set())
        study = d.get("study_id")
        if study is None and owners:
            problems.append(Problem("dose_schedules", d.get("_line"), "study_id",
                                    f"its source {d.get('source_id')} is a paper of study "
                                    f"{' or '.join(repr(s) for s in sorted(owners))} — name that study in study_id",
                                    d.get("_file")))
        elif study is not None and study not in owners:
            problems.append(Problem("dose_schedules", d.get("_line"), "study_id",
                                    f"study {study!r} does not list source {d.get('source_id')} among its papers "
                                    "(study_sources) — link the paper to the study, or leave study_id empty",
                                    d.get("_file")))
    return problems
