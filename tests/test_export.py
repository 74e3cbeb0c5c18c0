"""Release: `python -m kb export` writes accepted edits back to data/ as a minimal, reviewable diff; `python -m kb
build` keeps accepted edits that are not exported yet; an export killed at any step finishes on the next command."""

from __future__ import annotations

import csv
import difflib
import shutil
from pathlib import Path

import duckdb
import pytest
from editing_fixtures import cheap_scrypt, econ, editor_db, home_of, new_study, template_db  # noqa: F401

from kb import edits, export
from kb.__main__ import main
from kb.build import build
from kb.rebuild import BuildClash, rebuild_store, unexported_changes
from kb.store import get_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def data_dir(tmp_path) -> Path:
    """A private copy of data/ as the database was built from it."""
    target = tmp_path / "data"
    shutil.copytree(ROOT / "data", target, ignore=shutil.ignore_patterns("staging"))
    return target


def accept_note(con, table, record_id, note, base=0):
    raw = edits.as_form(edits.load_record(con, table, record_id))
    raw[table][0]["note"] = note
    return edits.accept(con, edits.propose_update(con, "alice", table, record_id, raw, base, "note"), "bob")


def changed_lines(old: Path, new_text: str) -> list[str]:
    return [line for line in difflib.unified_diff(old.read_text(encoding="utf-8").splitlines(),
                                                  new_text.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def snapshot(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.csv"))}


def test_exporting_without_edits_touches_no_file(econ, data_dir):
    before = {p.name: p.stat().st_mtime_ns for p in data_dir.glob("*.csv")}
    result = export.export(econ, data_dir)
    assert result.files == {} and "Nothing to export" in result.summary()
    assert {p.name: p.stat().st_mtime_ns for p in data_dir.glob("*.csv")} == before


def test_an_accepted_edit_changes_exactly_its_row_and_appends_its_audit_row(econ, data_dir):
    original = snapshot(data_dir)
    accept_note(econ, "sources", "ref028", "Primary N0574 report")
    result = export.export(econ, data_dir)
    assert set(result.files) == {"sources.csv", "audit_log.csv"}
    diff = changed_lines(ROOT / "data" / "sources.csv", (data_dir / "sources.csv").read_text(encoding="utf-8"))
    assert len(diff) == 2 and diff[0].startswith("-ref028,") and diff[1].startswith("+ref028,")
    assert diff[1].endswith(",Primary N0574 report")
    audit = list(csv.DictReader((data_dir / "audit_log.csv").open(encoding="utf-8")))
    assert [(r["editor"], r["reviewer"], r["record_id"]) for r in audit[-1:]] == [("alice", "bob", "ref028")]
    assert {k: v for k, v in snapshot(data_dir).items() if k not in result.files} == {
        k: v for k, v in original.items() if k not in result.files}


def test_unchanged_cells_keep_their_original_text(econ, data_dir):
    """'34.0' stays '34.0' and '27' stays '27' in a row whose note changed."""
    sid, text = next((r["schedule_id"], r) for r in csv.DictReader((data_dir / "dose_schedules.csv").open())
                     if r["total_dose_gy"] and "." in r["total_dose_gy"])
    accept_note(econ, "dose_schedules", sid, "re-read")
    export.export(econ, data_dir)
    row = next(r for r in csv.DictReader((data_dir / "dose_schedules.csv").open()) if r["schedule_id"] == sid)
    assert row == {**text, "note": "re-read"}


def test_created_records_are_appended_and_retired_ones_removed(econ, data_dir):
    edits.accept(econ, edits.propose_create(econ, "alice", "studies", new_study(), "new trial"), "bob")
    edits.accept(econ, edits.propose_retire(econ, "alice", "studies", "nrg_cc001", 0, "duplicate"), "bob")
    export.export(econ, data_dir)
    studies = [r["study_id"] for r in csv.DictReader((data_dir / "studies.csv").open())]
    assert studies[-1] == "ed_trial2026" and "nrg_cc001" not in studies
    arms = [r["arm_id"] for r in csv.DictReader((data_dir / "arms.csv").open())]
    assert "ed_trial2026__srs" in arms and not any(a.startswith("nrg_cc001__") for a in arms)
    links = [r["arm_id"] for r in csv.DictReader((data_dir / "arm_interventions.csv").open())]
    assert "ed_trial2026__srs" in links and not any(a.startswith("nrg_cc001__") for a in links)


def test_a_rebuild_from_the_export_reproduces_the_edited_database(econ, data_dir, tmp_path):
    edits.accept(econ, edits.propose_create(econ, "alice", "studies", new_study(), "new trial"), "bob")
    accept_note(econ, "sources", "ref028", "note with, a comma and \"quotes\"\nand a new line")
    export.export(econ, data_dir)
    rebuilt = tmp_path / "rebuilt.duckdb"
    build(rebuilt, data_dir)
    con = duckdb.connect(str(rebuilt))
    for table, record_id in (("studies", "ed_trial2026"), ("sources", "ref028"), ("studies", "rtog0614")):
        assert edits.load_record(con, table, record_id) == edits.load_record(econ, table, record_id)
        assert edits.version(con, table, record_id) == edits.version(econ, table, record_id)
    con.close()
    assert unexported_changes(econ) == 0


def test_rows_curated_in_data_since_the_build_are_kept(econ, data_dir):
    """Export patches the edited records only; a study added to data/ by hand meanwhile stays."""
    lines = (data_dir / "studies.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    curated = lines[1].replace(lines[1].split(",")[0], "curated_by_hand", 1)
    (data_dir / "studies.csv").write_text("".join(lines + [curated]), encoding="utf-8")
    accept_note(econ, "studies", "rtog0614", "edited in the app")
    export.export(econ, data_dir)
    text = (data_dir / "studies.csv").read_text(encoding="utf-8")
    assert "curated_by_hand" in text and "edited in the app" in text


def test_a_record_changed_both_in_the_app_and_in_data_stops_the_export(econ, data_dir):
    text = (data_dir / "sources.csv").read_text(encoding="utf-8")
    (data_dir / "sources.csv").write_text(text.replace(",JAMA,2016,316,", ",JAMA Netw,2016,316,"), encoding="utf-8")
    accept_note(econ, "sources", "ref028", "app note")
    before = snapshot(data_dir)
    with pytest.raises(export.ExportConflict, match="sources ref028"):
        export.export(econ, data_dir)
    assert snapshot(data_dir) == before and not list(data_dir.glob("*.exporting"))
    export.export(econ, data_dir, force=True)
    assert "app note" in (data_dir / "sources.csv").read_text(encoding="utf-8")


def test_a_rebuild_keeps_unexported_edits_and_backs_the_store_up(econ, editor_db, data_dir):
    accept_note(econ, "sources", "ref028", "unexported")
    assert unexported_changes(econ) == 1
    report = rebuild_store(econ, data_dir)
    assert report.rebased == 1 and report.backup is not None and report.backup.exists()
    assert econ.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] == "unexported"
    assert unexported_changes(econ) == 1 and edits.version(econ, "sources", "ref028") == 1
    backup = duckdb.connect(str(report.backup), read_only=True)
    assert backup.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1
    backup.close()
    export.export(econ, data_dir)   # the rebased edit exports as if nothing had happened
    assert "unexported" in (data_dir / "sources.csv").read_text(encoding="utf-8")


def test_after_an_export_the_build_has_nothing_to_re_apply(econ, data_dir):
    accept_note(econ, "sources", "ref028", "exported")
    export.export(econ, data_dir)
    assert unexported_changes(econ) == 0
    report = rebuild_store(econ, data_dir)
    assert report.rebased == 0
    assert econ.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] == "exported"


def test_pending_proposals_count_as_unexported(econ):
    raw = edits.as_form(edits.load_record(econ, "sources", "ref028"))
    raw["sources"][0]["note"] = "pending"
    edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "pending change")
    assert unexported_changes(econ) == 1


def test_the_export_command_prints_what_it_wrote(econ, editor_db, data_dir, capsys):
    accept_note(econ, "sources", "ref028", "via the command")
    home = str(home_of(editor_db))
    assert main(["export", "--home", home, "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "sources.csv (+0 −0 ~1 rows)" in out and "audit_log.csv (+1 rows)" in out and "git diff" in out
    assert main(["export", "--home", home, "--data-dir", str(data_dir)]) == 0
    assert "Nothing to export" in capsys.readouterr().out


def test_a_store_held_by_another_process_gets_a_plain_message_and_no_change(econ, editor_db, data_dir, capsys,
                                                                          monkeypatch):
    """Another process writing for longer than KB_STORE_WAIT: `kb export` says so in a sentence, writes nothing."""
    import subprocess
    import sys

    accept_note(econ, "sources", "ref028", "held")
    econ.close()
    before = snapshot(data_dir)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('ready', flush=True); time.sleep(60)",
                               str(econ.lock_path)], stdout=subprocess.PIPE, text=True)
    monkeypatch.setattr(econ, "wait_s", 0.5)
    try:
        assert holder.stdout.readline().strip() == "ready"
        assert main(["export", "--home", str(home_of(editor_db)), "--data-dir", str(data_dir)]) == 1
        message = capsys.readouterr().err
        assert "The editorial store is busy" in message and "Traceback" not in message
        assert snapshot(data_dir) == before
    finally:
        holder.kill()
        holder.wait()
    assert main(["export", "--home", str(home_of(editor_db)), "--data-dir", str(data_dir)]) == 0   # free again
    assert "held" in (data_dir / "sources.csv").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------------------ kill at any step
KILLER = r"""
import os, signal, sys
from pathlib import Path
from kb import export
from kb.store import get_store
step = sys.argv[3]
def progress(name):
    if name == step or (step == "between renames" and name.startswith("renamed ") and progress.renamed):
        os.kill(os.getpid(), signal.SIGKILL)
    progress.renamed = progress.renamed or name.startswith("renamed ")
progress.renamed = False
export._progress = progress
export.export(get_store(sys.argv[1]), Path(sys.argv[2]))
print("finished without being killed")
"""
STEPS = ("staged", "journal", "renamed studies.csv", "between renames", "recorded")


@pytest.mark.parametrize("step", STEPS)
def test_an_export_killed_at_any_step_finishes_on_the_next_run_without_false_conflicts(econ, editor_db, data_dir,
                                                                                       step):
    import signal
    import subprocess
    import sys

    from kb.build import load_and_validate

    edits.accept(econ, edits.propose_create(econ, "alice", "studies", new_study(), "new trial"), "bob")
    accept_note(econ, "sources", "ref028", "killed export", base=0)
    econ.close()
    child = subprocess.run([sys.executable, "-c", KILLER, str(home_of(editor_db)), str(data_dir), step],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    assert export.recover(data_dir, econ) in ("finished", "discarded")   # what `kb check` does first
    _, problems = load_and_validate(data_dir)
    assert problems == []
    again = export.export(econ, data_dir)   # no ExportConflict: the re-run sees its own files, not hand edits
    assert again.changes in (0, 2)
    assert unexported_changes(econ) == 0
    assert not export.staging_dir(data_dir).exists()
    studies = (data_dir / "studies.csv").read_text(encoding="utf-8")
    assert "ed_trial2026" in studies and "killed export" in (data_dir / "sources.csv").read_text(encoding="utf-8")
    audit = list(csv.DictReader((data_dir / "audit_log.csv").open(encoding="utf-8")))
    assert len(audit) == 2


def test_a_staging_folder_without_its_journal_is_thrown_away(econ, data_dir):
    staging = export.staging_dir(data_dir)
    staging.mkdir()
    (staging / "studies.csv").write_text("half written", encoding="utf-8")
    (data_dir / "sources.csv.exporting").write_text("left by an export of an earlier version", encoding="utf-8")
    before = snapshot(data_dir)
    assert export.recover(data_dir, econ) == "discarded"
    assert not staging.exists() and snapshot(data_dir) == before
    assert not list(data_dir.glob("*.exporting"))
