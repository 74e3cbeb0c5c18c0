"""kb.curation: `python -m kb check --with` and `python -m kb merge` on a scratch copy of data/."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from kb import curation
from kb.config import DATA_DIR
from kb.schema import tables


@pytest.fixture()
def data_dir(data_copy: Path) -> Path:
    return data_copy


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, records: list[dict[str, str]], columns: list[str] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = columns or list(records[0])
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def an_outcome(data_dir: Path, **changes: str) -> dict[str, str]:
    """A copy of an existing whole-cohort outcome row, with a fresh id, a timepoint no row has (one figure per
    population and timepoint) and the given changes."""
    base = next(r for r in rows(data_dir / "outcomes.csv") if r["unit"] == "%" and r["verification"] == "verified")
    return {**base, "outcome_id": base["study_id"] + "__o99", "timepoint_months": "99", **changes}


def test_a_valid_batch_is_appended(data_dir, tmp_path):
    batch = tmp_path / "batch"
    new = an_outcome(data_dir, value="12.5", ci_low="", ci_high="", note="test row")
    write(batch / "outcomes.csv", [new])
    before = len(rows(data_dir / "outcomes.csv"))
    assert curation.check([batch], data_dir) == []
    assert len(rows(data_dir / "outcomes.csv")) == before  # check writes nothing
    assert curation.merge([batch], data_dir) == []
    after = rows(data_dir / "outcomes.csv")
    assert len(after) == before + 1 and after[-1]["outcome_id"] == new["outcome_id"]
    assert after[-1]["value"] == "12.5"


def test_a_bad_batch_changes_nothing_not_even_its_vocabulary(data_dir, tmp_path):
    batch = tmp_path / "batch"
    write(batch / "vocab_additions.csv", [{"table": "toxicities", "id": "new_tox", "name": "New toxicity",
                                           "extra": ""}])
    write(batch / "outcomes.csv", [an_outcome(data_dir, value="140", ci_low="", ci_high="")])
    before = snapshot(data_dir)
    problems = curation.merge([batch], data_dir)
    assert any("140% is not a percentage" in p for p in problems)
    assert snapshot(data_dir) == before


def test_a_row_already_in_data_is_refused_with_the_way_to_correct_it(data_dir, tmp_path):
    batch = tmp_path / "batch"
    existing = rows(data_dir / "outcomes.csv")[0]
    write(batch / "outcomes.csv", [existing])
    problems = curation.check([batch], data_dir)
    assert len(problems) == 1
    assert "duplicate key " + existing["outcome_id"] in problems[0] and "data/outcomes.csv, line 2" in problems[0]
    assert "replace/" in problems[0]


def test_replace_swaps_an_existing_row_by_its_key(data_dir, tmp_path):
    batch = tmp_path / "batch"
    original = rows(data_dir / "dose_schedules.csv")
    target = next(r for r in original if r["verification"] == "unverified")
    corrected = {**target, "verification": "verified", "verified_in": "PMID:1", "note": "re-read"}
    write(batch / "replace" / "dose_schedules.csv", [corrected])
    assert curation.merge([batch], data_dir) == []
    merged = rows(data_dir / "dose_schedules.csv")
    assert len(merged) == len(original)
    assert [r["schedule_id"] for r in merged] == [r["schedule_id"] for r in original]  # same place, same order
    row = next(r for r in merged if r["schedule_id"] == target["schedule_id"])
    assert (row["verification"], row["verified_in"], row["note"]) == ("verified", "PMID:1", "re-read")


def test_replace_of_a_row_that_does_not_exist_is_refused(data_dir, tmp_path):
    batch = tmp_path / "batch"
    ghost = {**rows(data_dir / "dose_schedules.csv")[0], "schedule_id": "no_such_schedule"}
    write(batch / "replace" / "dose_schedules.csv", [ghost])
    before = snapshot(data_dir)
    problems = curation.merge([batch], data_dir)
    assert len(problems) == 1 and "no dose_schedules row 'no_such_schedule' to replace" in problems[0]
    assert snapshot(data_dir) == before


def test_a_replacement_must_still_be_valid(data_dir, tmp_path):
    batch = tmp_path / "batch"
    target = rows(data_dir / "dose_schedules.csv")[0]
    write(batch / "replace" / "dose_schedules.csv", [{**target, "fractions": "0"}])
    before = snapshot(data_dir)
    problems = curation.merge([batch], data_dir)
    assert any("fractions" in p for p in problems)
    assert snapshot(data_dir) == before


def test_vocabulary_extra_may_name_its_column(data_dir, tmp_path):
    batch = tmp_path / "batch"
    write(batch / "vocab_additions.csv", [
        {"table": "drugs", "id": "drug_a", "name": "Drug A", "extra": "drug_class=mixed"},
        {"table": "drugs", "id": "drug_b", "name": "Drug B", "extra": "egfr_tki"},
        {"table": "drugs", "id": "drug_c", "name": "Drug C", "extra": ""},
    ])
    assert curation.merge([batch], data_dir) == []
    classes = {r["drug_id"]: r["drug_class"] for r in rows(data_dir / "drugs.csv")}
    assert (classes["drug_a"], classes["drug_b"], classes["drug_c"]) == ("mixed", "egfr_tki", "other")


def test_sources_patch_fills_blanks_but_never_overwrites(data_dir, tmp_path, capsys):
    batch = tmp_path / "batch"
    sources = rows(data_dir / "sources.csv")
    with_pmid = next(r for r in sources if r["pmid"])
    without = next(r for r in sources if not r["pmid"] and not r["doi"] and r["verification"] != "verified")
    write(batch / "sources_patch.csv", [
        {"source_id": with_pmid["source_id"], "pmid": "99999999", "doi": "", "verified_in": "", "note": ""},
        {"source_id": without["source_id"], "pmid": "PMID:12345678", "doi": "", "verified_in": "PMID:12345678",
         "note": ""},
    ], columns=["source_id", "pmid", "doi", "verified_in", "note"])
    assert curation.merge([batch], data_dir) == []
    merged = {r["source_id"]: r for r in rows(data_dir / "sources.csv")}
    assert merged[with_pmid["source_id"]]["pmid"] == with_pmid["pmid"]
    assert "kept; batch says '99999999'" in capsys.readouterr().out
    assert merged[without["source_id"]]["pmid"] == "12345678"
    assert merged[without["source_id"]]["verification"] == "verified"


def test_drug_classes_are_plain_identifiers():
    """A merged 'drug_class=mixed' once slipped into drugs.csv; classes are lower-case identifiers."""
    for r in rows(DATA_DIR / "drugs.csv"):
        assert r["drug_class"].replace("_", "").isalnum() and r["drug_class"].islower(), r


def test_every_merged_file_keeps_the_schema_column_order(data_dir, tmp_path):
    batch = tmp_path / "batch"
    write(batch / "outcomes.csv", [an_outcome(data_dir)])
    assert curation.merge([batch], data_dir) == []
    with (data_dir / "outcomes.csv").open(encoding="utf-8") as handle:
        assert handle.readline().strip().split(",") == tables()["outcomes"].column_names


def test_a_patched_identifier_is_validated_before_anything_is_written(data_dir, tmp_path):
    batch = tmp_path / "batch"
    target = next(r for r in rows(data_dir / "sources.csv") if not r["pmid"])
    write(batch / "sources_patch.csv", [{"source_id": target["source_id"], "pmid": "PMC1234", "doi": "",
                                         "verified_in": "", "note": ""}],
          columns=["source_id", "pmid", "doi", "verified_in", "note"])
    before = snapshot(data_dir)
    problems = curation.merge([batch], data_dir)
    assert any("PMID 'PMC1234' should be digits only" in p for p in problems)
    assert snapshot(data_dir) == before
