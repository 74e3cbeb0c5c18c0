"""Issue 15: each figure says exactly what it is. Data-integrity rules over data/, each proven able to fail.

Every rule is checked twice: by a small checker written here (independent of kb/validate.py) over data/, and —
fed one violating row — by the checker, by ``python -m kb check`` (kb/validate.py) and, where the schema holds the
rule, by DuckDB itself.
"""

from __future__ import annotations

import csv
import re
from collections import Counter, defaultdict
from pathlib import Path

import duckdb
import pytest

from kb.build import load_and_validate
from kb.config import DATA_DIR
from kb.schema import create_schema, tables


def rows(table: str, data_dir: Path = DATA_DIR) -> list[dict]:
    with (data_dir / f"{table}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(data_dir: Path, table: str, new_rows: list[dict]) -> None:
    with (data_dir / f"{table}.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=tables()[table].column_names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(new_rows)


def kb_check_messages(data_dir: Path) -> list[str]:
    _, problems = load_and_validate(data_dir)
    return [str(p) for p in problems]


def papers_of(links: list[dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for link in links:
        out[link["study_id"]].add(link["source_id"])
    return out


# ------------------------------------------------------------------------------------------------ checkers
def population_key(o: dict, papers: dict[str, set[str]]) -> tuple:
    cohort = o["cohort_source_id"] or (next(iter(papers[o["study_id"]])) if len(papers[o["study_id"]]) == 1 else "")
    timepoint = float(o["timepoint_months"]) if o["timepoint_months"] else None
    return (o["study_id"], o["arm_id"], o["comparator_arm_id"], o["endpoint_id"],
            o["endpoint_detail"].strip().casefold(), o["statistic"], timepoint, o["subgroup_id"],
            o["unit_of_analysis"], cohort)


def colliding_outcomes(outcomes: list[dict], links: list[dict]) -> list[list[str]]:
    papers = papers_of(links)
    groups: dict[tuple, list[str]] = defaultdict(list)
    for o in outcomes:
        groups[population_key(o, papers)].append(o["outcome_id"])
    return [ids for ids in groups.values() if len(ids) > 1]


def outcomes_without_population(outcomes: list[dict], subgroups: list[dict]) -> list[str]:
    known = {s["subgroup_id"] for s in subgroups}
    return [o["outcome_id"] for o in outcomes if o["subgroup_id"] not in known]


def outcomes_without_cohort_paper(outcomes: list[dict], links: list[dict]) -> list[str]:
    """Rows of several-paper studies (or read outside the study's papers) that do not name a paper of the study."""
    papers = papers_of(links)
    bad = []
    for o in outcomes:
        own = papers[o["study_id"]]
        needs = len(own) > 1 or o["source_id"] not in own
        if (o["cohort_source_id"] and o["cohort_source_id"] not in own) or (needs and not o["cohort_source_id"]):
            bad.append(o["outcome_id"])
    return bad


VERIFIED_IN_ENTRY = re.compile(r"PMID:[0-9]+|DOI:10\.[0-9]+/\S+|PMC:PMC[0-9]+|URL:https?://\S+")
EVIDENCE_TABLES = ("sources", "studies", "outcomes", "guidelines", "recommendations", "dose_schedules",
                   "drug_toxicity", "imaging")


def undocumented_verified_in(table_rows: list[dict]) -> list[str]:
    bad = []
    for r in table_rows:
        cell = r["verified_in"]
        if cell and not all(VERIFIED_IN_ENTRY.fullmatch(e.strip()) for e in cell.split(";")):
            bad.append(cell)
    return bad


def schedules_not_naming_their_study(schedules: list[dict], links: list[dict]) -> list[str]:
    studies_of: dict[str, set[str]] = defaultdict(set)
    for link in links:
        studies_of[link["source_id"]].add(link["study_id"])
    bad = []
    for d in schedules:
        owners = studies_of[d["source_id"]]
        if (owners and d["study_id"] not in owners) or (not owners and d["study_id"]):
            bad.append(d["schedule_id"])
    return bad


def unpaired_ranges(outcomes: list[dict], links: list[dict]) -> list[str]:
    papers = papers_of(links)
    keys = Counter(population_key(o, papers) for o in outcomes)
    bad = []
    for o in outcomes:
        if o["statistic"].startswith("range_of_medians_"):
            other = "range_of_medians_high" if o["statistic"].endswith("low") else "range_of_medians_low"
            key = list(population_key(o, papers))
            key[5] = other
            if not keys[tuple(key)]:
                bad.append(o["outcome_id"])
    return bad


# ------------------------------------------------------------------------------------------------ data/ obeys them
def test_every_outcome_names_a_known_population():
    assert outcomes_without_population(rows("outcomes"), rows("subgroups")) == []


def test_no_two_outcomes_share_study_arm_endpoint_statistic_timepoint_and_population():
    assert colliding_outcomes(rows("outcomes"), rows("study_sources")) == []


def test_outcomes_of_several_paper_studies_name_the_paper_of_their_cohort():
    assert outcomes_without_cohort_paper(rows("outcomes"), rows("study_sources")) == []


@pytest.mark.parametrize("table", EVIDENCE_TABLES)
def test_verified_in_holds_identifiers_in_a_documented_form(table):
    assert undocumented_verified_in(rows(table)) == []


def test_every_dose_schedule_from_a_kb_study_names_it_and_no_other():
    assert schedules_not_naming_their_study(rows("dose_schedules"), rows("study_sources")) == []


def test_a_range_of_medians_is_entered_as_both_ends():
    assert unpaired_ranges(rows("outcomes"), rows("study_sources")) == []


def test_props_bm_cohorts_of_two_papers_are_told_apart():
    by_id = {o["outcome_id"]: o for o in rows("outcomes")}
    assert (by_id["props_bm__o02"]["cohort_source_id"], by_id["props_bm__o10"]["cohort_source_id"]) == \
        ("ref168", "ref167")


@pytest.mark.parametrize("outcome_id, endpoint_id, statistic", [
    ("checkmate204__o01", "intracranial_clinical_benefit", "proportion"),   # CR+PR+SD>=6 months is not response
    ("cyber_space__o01", "wbrt_free_survival", "proportion"),               # free of a WBRT indication
    ("sperduto2020__o01", "overall_survival", "range_of_medians_low"),      # one end of a range across GPA groups
    ("sperduto2020__o02", "overall_survival", "range_of_medians_high"),
    ("chen2021__o04", "local_progression_death", "proportion"),             # share of deaths, not neurologic death
    ("chang2009__o01", "cognitive_deterioration", "posterior_probability"),  # Bayesian estimate, not observed
])
def test_stretched_rows_stay_under_the_terms_that_fit(outcome_id, endpoint_id, statistic):
    row = next(o for o in rows("outcomes") if o["outcome_id"] == outcome_id)
    assert (row["endpoint_id"], row["statistic"]) == (endpoint_id, statistic)


# ------------------------------------------------------------------------------------------------ each rule can fail
def duplicate_of(outcome_id: str, **changes: str) -> tuple[dict, dict]:
    original = next(o for o in rows("outcomes") if o["outcome_id"] == outcome_id)
    copy = dict(original, outcome_id=outcome_id + "_dup", **changes)
    return original, copy


def test_a_second_row_for_the_same_population_is_refused_by_checker_kb_check_and_schema(data_copy):
    original, copy = duplicate_of("props_bm__o02", value="19.9")
    outcomes = rows("outcomes") + [copy]
    assert ["props_bm__o02", "props_bm__o02_dup"] in colliding_outcomes(outcomes, rows("study_sources"))

    write(data_copy, "outcomes", outcomes)
    messages = kb_check_messages(data_copy)
    assert any("props_bm__o02_dup" in m and "same study, arm" in m and "props_bm__o02" in m for m in messages)

    con = duckdb.connect()
    create_schema(con, runtime=False)
    cols = tables()["outcomes"].column_names
    con.execute("INSERT INTO studies (study_id, short_name, design_id, randomized, verification) "
                "VALUES ('props_bm', 'PROPS', 'retrospective', false, 'unverified')")
    con.execute("INSERT INTO sources (source_id, cited_in, title, pub_type, verification) VALUES "
                "('ref168', 'editor', 't', 'other', 'unverified'), ('ref167', 'editor', 't', 'other', 'unverified')")
    con.execute("INSERT INTO arms (arm_id, study_id, label) VALUES ('props_bm__cohort', 'props_bm', 'all')")
    con.execute("INSERT INTO endpoints VALUES ('local_failure', 'Local failure', NULL)")
    con.execute("INSERT INTO subgroups VALUES ('whole_cohort', 'Whole cohort', NULL)")
    insert = "INSERT INTO outcomes (" + ", ".join(cols) + ") VALUES (" + ", ".join("?" * len(cols)) + ")"
    con.execute(insert, [original[c] or None for c in cols])
    with pytest.raises(duckdb.ConstraintException):
        con.execute(insert, [copy[c] or None for c in cols])
    # the same figure for the other paper's cohort is a different population: accepted
    con.execute(insert, [dict(copy, cohort_source_id="ref167")[c] or None for c in cols])


@pytest.mark.parametrize("change, expected", [
    ({"subgroup_id": "baseline_bm"}, False),                  # a named subgroup is another population
    ({"unit_of_analysis": "lesions"}, False),                 # per lesion vs per patient
    ({"endpoint_detail": "Memory"}, False),                   # another measure of the endpoint
    ({"value": "1"}, True),                                   # a different number is no excuse
    ({"endpoint_detail": "  "}, True),                        # blank detail is no detail
])
def test_what_makes_two_outcome_rows_different(change, expected):
    _, copy = duplicate_of("crown__o02", **change)
    collides = any("crown__o02_dup" in ids for ids in colliding_outcomes(rows("outcomes") + [copy],
                                                                          rows("study_sources")))
    assert collides is expected


def test_an_outcome_without_a_population_is_refused(data_copy):
    outcomes = rows("outcomes")
    outcomes[0]["subgroup_id"] = ""
    assert outcomes_without_population(outcomes, rows("subgroups")) == [outcomes[0]["outcome_id"]]
    write(data_copy, "outcomes", outcomes)
    assert any("outcomes.csv, line 2, column subgroup_id: population is required" in m
               for m in kb_check_messages(data_copy))


def test_a_multi_paper_study_row_without_its_cohort_paper_is_refused(data_copy):
    outcomes = rows("outcomes")
    row = next(o for o in outcomes if o["outcome_id"] == "crown__o07")
    row["cohort_source_id"] = ""
    assert outcomes_without_cohort_paper(outcomes, rows("study_sources")) == ["crown__o07"]
    row["cohort_source_id"] = "ref028"  # a real source, but not a CROWN paper
    assert outcomes_without_cohort_paper(outcomes, rows("study_sources")) == ["crown__o07"]
    write(data_copy, "outcomes", outcomes)
    assert any("column cohort_source_id: 'ref028' is not a paper of study 'crown'" in m
               for m in kb_check_messages(data_copy))


@pytest.mark.parametrize("cell, accepted", [
    ("PMID:32058845", True),
    ("DOI:10.1093/neuonc/not114", True),
    ("PMC:PMC8120444", True),
    ("URL:https://mediatum.ub.tum.de/1773057?show_id=1774897", True),
    ("PMID:38819031; PMID:35605188", True),
    ("https://mediatum.ub.tum.de/1773057", False),            # bare URL: the 28 + 9 rows
    ("PMID:38819031 PMID:35605188", False),                   # two identifiers without the separator
    ("PMID:38819031, DOI:10.1/x", False),                     # another separator
    ("PMID: 38819031", False),
    ("pmid:38819031", False),
    ("PMC8120444", False),
    ("DOI:https://doi.org/10.1/x", False),
    ("PMID:38819031;", False),                                # empty entry
])
def test_verified_in_forms(cell, accepted, data_copy):
    assert (undocumented_verified_in([{"verified_in": cell}]) == []) is accepted
    studies = rows("studies")
    studies[0]["verified_in"] = cell
    studies[0]["verification"] = "verified"
    write(data_copy, "studies", studies)
    flagged = any("studies.csv, line 2, column verified_in" in m for m in kb_check_messages(data_copy))
    assert flagged is not accepted


def test_a_schedule_that_drops_or_misnames_its_study_is_refused(data_copy):
    schedules = rows("dose_schedules")
    row = next(d for d in schedules if d["source_id"] == "ref028")   # N0574's paper
    row["study_id"] = ""
    assert row["schedule_id"] in schedules_not_naming_their_study(schedules, rows("study_sources"))
    write(data_copy, "dose_schedules", schedules)
    assert any("its source ref028 is a paper of study 'n0574'" in m for m in kb_check_messages(data_copy))
    row["study_id"] = "minniti2016"
    other = next(d for d in schedules if not d["study_id"] and d is not row)
    other["study_id"] = "n0574"                                        # a review's schedule given to a trial
    bad = schedules_not_naming_their_study(schedules, rows("study_sources"))
    assert row["schedule_id"] in bad and other["schedule_id"] in bad
    write(data_copy, "dose_schedules", schedules)
    messages = kb_check_messages(data_copy)
    assert any("study 'minniti2016' does not list source ref028" in m for m in messages)
    assert any(f"study 'n0574' does not list source {other['source_id']}" in m for m in messages)


def test_half_a_range_of_medians_is_refused(data_copy):
    outcomes = [o for o in rows("outcomes") if o["outcome_id"] != "sperduto2020__o02"]
    assert unpaired_ranges(outcomes, rows("study_sources")) == ["sperduto2020__o01"]
    write(data_copy, "outcomes", outcomes)
    assert any("a range of medians needs both ends: 'sperduto2020__o01'" in m for m in kb_check_messages(data_copy))


# ------------------------------------------------------------------------------------------------ the editor's forms
def test_editor_forms_offer_the_subgroups_and_require_one(con):
    from kb import edits
    fields = {f.name: f for f in edits.field_specs(con, "outcomes")}
    assert "whole_cohort" in fields["subgroup_id"].choices and fields["subgroup_id"].required
    assert fields["unit_of_analysis"].choices == ("patients", "lesions", "treatments")
    assert "range_of_medians_low" in fields["statistic"].choices
    assert fields["cohort_source_id"].references == "sources"


def test_the_nccn_source_keeps_the_year_its_citation_gives_and_the_version_in_the_title():
    nccn = next(s for s in rows("sources") if s["source_id"] == "ref012")
    assert nccn["year"] == "2025" and "version 4.2024" in nccn["title"]
    guideline = next(g for g in rows("guidelines") if g["source_id"] == "ref012")
    assert guideline["year"] == nccn["year"] and "4.2024" in guideline["title"]


def test_destiny_breast03_carries_its_enrolment_registry_number_and_arm_sizes():
    study = next(s for s in rows("studies") if s["study_id"] == "destiny_breast03")
    assert (study["nct_id"], study["n_enrolled"]) == ("NCT03529110", "524")
    assert "PMID:38825627" in study["verified_in"].split("; ")
    arms = {a["arm_id"]: a["n_patients"] for a in rows("arms") if a["study_id"] == "destiny_breast03"}
    assert arms == {"destiny_breast03__tdxd": "261", "destiny_breast03__tdm1": "263"}


def test_the_neurologic_death_rate_of_chen_2021_is_kept_apart_from_deaths_by_brainstem_progression():
    chen = {o["outcome_id"]: o for o in rows("outcomes") if o["study_id"] == "chen2021"}
    assert (chen["chen2021__o04"]["endpoint_id"], chen["chen2021__o04"]["value"]) == ("local_progression_death", "2.7")
    # the neurologic death rate was seen only in a news summary: not entered (no figure from news items)
    assert not any(o["endpoint_id"] == "neurologic_death" for o in chen.values())


def test_a_staging_batch_may_add_a_subgroup_and_use_it(data_copy, tmp_path):
    from kb import curation
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "vocab_additions.csv").write_text("table,id,name,extra\nsubgroups,age_over_70,Age over 70 years,"
                                               "Patients older than 70 years\n", encoding="utf-8")
    _, copy = duplicate_of("crown__o02", subgroup_id="age_over_70", value="7.7")
    write(batch, "outcomes", [copy])
    assert curation.check([batch], data_copy) == []
    copy["subgroup_id"] = "age_over_80"  # not in the vocabulary
    write(batch, "outcomes", [copy])
    assert any("unknown subgroup 'age_over_80'" in p for p in curation.check([batch], data_copy))
