"""Building a KB file from data/: validation first, every problem listed, atomic, idempotent.
(Rebuilding the editorial store, which keeps accepted edits, is tests/test_rebuild.py.)"""

import csv
import threading
from pathlib import Path

import duckdb
import pytest

from kb import build as build_mod
from kb.build import BuildError, build, load_and_validate
from kb.config import DATA_DIR, TABLES
from kb.db import connect, query
from kb.schema import create_schema


def csv_rows(table: str, data_dir: Path = DATA_DIR) -> int:
    with (data_dir / f"{table}.csv").open(encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def test_build_loads_every_table_with_its_csv_row_count(tmp_path):
    path = tmp_path / "kb.duckdb"
    counts = build(path)
    con = duckdb.connect(str(path), read_only=True)
    for table in TABLES:
        assert con.execute("SELECT count(*) FROM " + table).fetchone()[0] == csv_rows(table) == counts[table]


def test_build_is_idempotent(tmp_path):
    path = tmp_path / "kb.duckdb"
    first = build(path)
    second = build(path)
    assert first == second
    assert not list(tmp_path.glob("*.building*"))


def edit_cell(data_dir: Path, table: str, match: dict, column: str, value: str) -> int:
    """Set one cell in data_dir/<table>.csv; returns the CSV line number edited."""
    path = data_dir / f"{table}.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    index = next(i for i, r in enumerate(rows) if all(r[k] == v for k, v in match.items()))
    rows[index][column] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return index + 2


def test_bad_data_lists_every_problem_with_file_line_and_column_and_writes_nothing(data_copy, tmp_path):
    dose = next(csv.DictReader((data_copy / "dose_schedules.csv").open(encoding="utf-8")))
    line_dose = edit_cell(data_copy, "dose_schedules", {"schedule_id": dose["schedule_id"]}, "total_dose_gy", "-5")
    if not dose["fractions"]:
        edit_cell(data_copy, "dose_schedules", {"schedule_id": dose["schedule_id"]}, "fractions", "1")
    line_year = edit_cell(data_copy, "sources", {"source_id": "ref028"}, "year", "3020")
    hist = next(csv.DictReader((data_copy / "study_histologies.csv").open(encoding="utf-8")))
    line_hist = edit_cell(data_copy, "study_histologies", hist, "histology_id", "glioblastoma_xyz")
    outcome = next(csv.DictReader((data_copy / "outcomes.csv").open(encoding="utf-8")))
    line_fk = edit_cell(data_copy, "outcomes", {"outcome_id": outcome["outcome_id"]}, "source_id", "ref999")

    path = tmp_path / "never.duckdb"
    with pytest.raises(BuildError) as caught:
        build(path, data_dir=data_copy)
    problems = caught.value.problems
    found = {(Path(p.file).name, p.line, p.column): p.message for p in problems}
    assert "greater than 0" in found[("dose_schedules.csv", line_dose, "total_dose_gy")]
    assert "3020 is outside 1900–2100" in found[("sources.csv", line_year, "year")]
    assert "unknown histology 'glioblastoma_xyz'" in found[("study_histologies.csv", line_hist, "histology_id")]
    assert "unknown source 'ref999'" in found[("outcomes.csv", line_fk, "source_id")]
    assert not path.exists() and not list(tmp_path.glob("never*"))


def test_missing_column_and_non_utf8_file_are_reported(data_copy):
    (data_copy / "settings.csv").write_text("setting_id,name\nintact,Intact\n", encoding="utf-8")
    (data_copy / "toxicities.csv").write_bytes("toxicity,name\nedema,\xff\n".encode("latin-1"))
    _, problems = load_and_validate(data_copy)
    messages = [str(p) for p in problems]
    assert any("settings.csv" in m and "missing column(s) description" in m for m in messages)
    assert any("toxicities.csv" in m and "not UTF-8" in m for m in messages)


@pytest.mark.parametrize("sql, expected", [
    ("INSERT INTO dose_schedules (schedule_id, category, description, total_dose_gy, fractions, alpha_beta_gy, "
     "source_id, verification) VALUES ('x', 'wbrt', 'd', -3, 1, 10, 's', 'secondary')", "CHECK"),
    ("INSERT INTO sources (source_id, cited_in, title, year, pub_type, verification) "
     "VALUES ('y', 'editor', 't', 3020, 'other', 'secondary')", "CHECK"),
    ("INSERT INTO study_histologies VALUES ('s', 'unknown_histology')", "foreign key"),
    ("INSERT INTO outcomes (outcome_id, study_id, endpoint_id, statistic, value, unit, subgroup_id, source_id, "
     "verification) VALUES ('o', 's', 'overall_survival', 'proportion', 120, '%', 'whole_cohort', 's', 'secondary')",
     "CHECK"),
    ("INSERT INTO outcomes (outcome_id, study_id, endpoint_id, statistic, value, unit, ci_low, ci_high, subgroup_id, "
     "source_id, verification) VALUES ('o', 's', 'overall_survival', 'median', 10, 'months', 11, 12, 'whole_cohort', "
     "'s', 'secondary')", "CHECK"),
    ("INSERT INTO studies (study_id, short_name, design_id, randomized, verification) "
     "VALUES ('t', 't', 'rct', true, 'verified')", "CHECK"),
    ("INSERT INTO outcomes (outcome_id, study_id, endpoint_id, statistic, value, unit, subgroup_id, source_id, "
     "verification) VALUES ('o', 's', 'overall_survival', 'proportion', -8.8, 'pct_change', 'whole_cohort', 's', "
     "'secondary')", "CHECK"),
    ("INSERT INTO outcomes (outcome_id, study_id, endpoint_id, statistic, value, unit, subgroup_id, source_id, "
     "verification) VALUES ('o', 's', 'overall_survival', 'median', 10, 'months', 'nobody', 's', 'secondary')",
     "foreign key"),
])
def test_schema_itself_rejects_bad_rows(sql, expected):
    con = duckdb.connect()
    create_schema(con)
    con.execute("INSERT INTO pub_types VALUES ('other', 'Other'); INSERT INTO designs VALUES ('rct', 'RCT', true);"
                "INSERT INTO endpoints VALUES ('overall_survival', 'OS', NULL);"
                "INSERT INTO subgroups VALUES ('whole_cohort', 'Whole cohort', NULL);"
                "INSERT INTO sources (source_id, cited_in, title, pub_type, verification) "
                "VALUES ('s', 'editor', 'x', 'other', 'secondary');"
                "INSERT INTO studies (study_id, short_name, design_id, randomized, verification) "
                "VALUES ('s', 's', 'rct', true, 'secondary')")
    with pytest.raises(duckdb.ConstraintException, match=expected):
        con.execute(sql)


def test_failure_mid_build_keeps_the_old_database(tmp_path, monkeypatch):
    path = tmp_path / "kb.duckdb"
    build(path)
    before = path.read_bytes()

    def explode(con, table, rows):
        if table == "outcomes":
            raise BuildError([])
        return original(con, table, rows)

    original = build_mod.insert_rows
    monkeypatch.setattr(build_mod, "insert_rows", explode)
    with pytest.raises(BuildError):
        build(path)
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.building*"))


def test_a_built_file_holds_the_kb_tables_only(tmp_path):
    """No editor accounts, proposals or sign-in attempts in a KB file: they live only in the editorial store."""
    path = tmp_path / "kb.duckdb"
    build(path)
    con = duckdb.connect(str(path), read_only=True)
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert names == set(TABLES) | {"kb_meta"}


def test_queries_from_many_threads_on_one_connection(built_db):
    con = connect(built_db)
    expected = query(con, "SELECT count(*) AS n FROM sources WHERE year >= ?", [2015])["n"][0]
    results, errors = [], []

    def worker():
        try:
            for year in (2015,) * 25:
                results.append(query(con, "SELECT count(*) AS n FROM sources WHERE year >= ?", [year])["n"][0])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 400 and set(results) == {expected}


def test_a_change_from_baseline_may_be_negative_but_a_proportion_may_not(data_copy):
    """Yang 2021 reports mean % changes (-8.8 and +3.8): unit pct_change takes them; '%' is kept for 0-100 rates."""
    path = data_copy / "outcomes.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    base = next(r for r in rows if r["unit"] == "pct_change")
    assert float(base["value"]) < 0
    bad_percent = {**base, "outcome_id": "x__o1", "unit": "%", "timepoint_months": "99"}  # another figure
    bad_statistic = {**base, "outcome_id": "x__o2", "statistic": "proportion"}
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(base)).writerows([bad_percent, bad_statistic])
    _, problems = load_and_validate(data_copy)
    messages = [str(p) for p in problems]
    assert len(messages) == 2, messages
    assert "not a percentage between 0 and 100" in messages[0] and "pct_change" in messages[0]
    assert "a percent change from baseline is a mean, median or difference, not a proportion" in messages[1]
