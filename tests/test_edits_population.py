"""Issue 15 in the editor: the population columns work in forms, CSV import and the export round trip, and the
editor refuses what `kb check` refuses (two figures for one population, a schedule that drops its study)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from editing_fixtures import cheap_scrypt, econ, editor_db, new_study, template_db  # noqa: F401

from kb import edits, export
from kb.build import load_and_validate

ROOT = Path(__file__).resolve().parent.parent


def messages(exc_info) -> dict:
    return {(p.table, p.line, p.column): p.message for p in exc_info.value.problems}


def test_a_study_with_two_figures_for_one_population_is_refused_until_the_subgroup_differs(econ):
    raw = new_study()
    twin = dict(raw["outcomes"][0], outcome_id="ed_trial2026__o2", value="0.8", ci_low="", ci_high="")
    raw["outcomes"].append(twin)
    with pytest.raises(edits.ValidationFailed) as caught:
        edits.propose_create(econ, "alice", "studies", raw, "new trial")
    assert "same study, arm, comparison, endpoint" in messages(caught)[("outcomes", 2, "subgroup_id")]
    twin["subgroup_id"] = "baseline_bm"
    assert edits.propose_create(econ, "alice", "studies", raw, "new trial") > 0


def test_an_outcome_without_a_subgroup_gets_a_field_message(econ):
    raw = new_study()
    raw["outcomes"][0]["subgroup_id"] = ""
    with pytest.raises(edits.ValidationFailed) as caught:
        edits.propose_create(econ, "alice", "studies", raw, "new trial")
    assert messages(caught)[("outcomes", 1, "subgroup_id")] == "population is required"


def test_a_dose_schedule_edit_that_drops_its_study_is_refused(econ):
    raw = edits.as_form(edits.load_record(econ, "dose_schedules", "n0574__wbrt_30gy_12fx"))
    raw["dose_schedules"][0]["study_id"] = ""
    with pytest.raises(edits.ValidationFailed) as caught:
        edits.propose_update(econ, "alice", "dose_schedules", "n0574__wbrt_30gy_12fx", raw, 0, "drop study")
    assert "is a paper of study 'n0574'" in messages(caught)[("dose_schedules", None, "study_id")]


def test_a_csv_import_giving_a_schedule_the_wrong_study_is_refused(econ):
    report = edits.check_import(econ, "dose_schedules", "schedule_id,study_id\nn0574__wbrt_30gy_12fx,minniti2016\n")
    assert not report.ok
    assert any("does not list source ref028" in p.message for p in report.problems)


def test_population_columns_survive_the_export_round_trip(econ, tmp_path):
    data_dir = tmp_path / "data"
    shutil.copytree(ROOT / "data", data_dir, ignore=shutil.ignore_patterns("staging"))
    raw = edits.as_form(edits.load_record(econ, "studies", "crown"))
    row = next(o for o in raw["outcomes"] if o["outcome_id"] == "crown__o15")
    row.update(endpoint_detail="CNS adverse events, grade 1", unit_of_analysis="patients")
    pid = edits.propose_update(econ, "alice", "studies", "crown", raw, 0, "detail from the paper")
    edits.accept(econ, pid, "bob")
    export.export(econ, data_dir)
    exported = {r["outcome_id"]: r for r in csv.DictReader((data_dir / "outcomes.csv").open(encoding="utf-8"))}
    assert (exported["crown__o15"]["endpoint_detail"], exported["crown__o15"]["unit_of_analysis"],
            exported["crown__o15"]["subgroup_id"], exported["crown__o15"]["cohort_source_id"]) == \
        ("CNS adverse events, grade 1", "patients", "whole_cohort", "ref226")
    assert load_and_validate(data_dir)[1] == []
