"""`python -m kb build` rebuilds the editorial store from data/ and never drops an accepted edit: the ones data/
lacks are re-applied (rebase), a clash with a hand edit in data/ stops the build unless --force, and backups go
through DuckDB so a write-ahead log is never lost."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from editing_fixtures import PASSWORDS, cheap_scrypt, econ, editor_db, home_of, new_study, template_db  # noqa: F401

from kb import auth, edits, export, rebuild
from kb.__main__ import main
from kb.build import load_and_validate
from kb.rebuild import BuildClash, rebuild_store
from kb.releases import content_hash, current
from kb.store import get_store

ROOT = Path(__file__).resolve().parent.parent


def accept_note(con, table: str, record_id: str, note: str) -> list[int]:
    raw = edits.as_form(edits.load_record(con, table, record_id))
    raw[table][0]["note"] = note
    pid = edits.propose_update(con, "alice", table, record_id, raw, edits.version(con, table, record_id), "note")
    return edits.accept(con, pid, "bob")


def snapshot(con, records):
    return {r: (edits.load_record(con, *r), edits.version(con, *r)) for r in records}


def test_a_rebuild_re_applies_every_unexported_edit_in_audit_order(econ, data_copy):
    accept_note(econ, "sources", "ref028", "first")
    accept_note(econ, "sources", "ref028", "second")
    edits.accept(econ, edits.propose_create(econ, "alice", "studies", new_study(), "new trial"), "bob")
    edits.accept(econ, edits.propose_retire(econ, "alice", "studies", "nrg_cc001", 0, "duplicate"), "bob")
    records = [("sources", "ref028"), ("studies", "ed_trial2026"), ("studies", "nrg_cc001"), ("studies", "n0574")]
    with econ.held():
        before = snapshot(econ, records)
    report = rebuild_store(econ, data_copy)
    assert report.rebased == 4 and report.forced == []
    with econ.held():
        assert snapshot(econ, records) == before
        assert edits.pending_cleanup_count(econ) == 0
        assert econ.execute("SELECT count(*) FROM record_versions").fetchone()[0] == 4
        assert current(econ.releases).sha256 == content_hash(econ)
        assert auth.sign_in(econ, "alice", PASSWORDS["alice"]).ok   # accounts carried over


def hand_edit(data_dir: Path, table: str, key: str, column: str, value: str) -> None:
    path = data_dir / f"{table}.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    key_column = next(iter(rows[0]))
    for row in rows:
        if row[key_column] == key:
            row[column] = value
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def test_a_hand_edit_of_a_record_edited_in_the_app_stops_the_build_unless_force(econ, data_copy, capsys):
    accept_note(econ, "sources", "ref028", "accepted in the app")
    hand_edit(data_copy, "sources", "ref028", "journal", "JAMA (edited by hand)")
    release = current(econ.releases).release_id
    clash = r"sources ref028 \(changed by hand in data/: journal: 'JAMA' → 'JAMA \(edited by hand\)'\)"
    with pytest.raises(BuildClash, match=clash):
        rebuild_store(econ, data_copy)
    assert econ.execute("SELECT note, journal FROM sources WHERE source_id = 'ref028'").fetchone() == (
        "accepted in the app", "JAMA")
    assert current(econ.releases).release_id == release          # nothing replaced, nothing published

    report = rebuild_store(econ, data_copy, force=True)          # the accepted edit wins in the working copy
    assert report.forced == ["sources ref028"]
    assert econ.execute("SELECT note, journal FROM sources WHERE source_id = 'ref028'").fetchone() == (
        "accepted in the app", "JAMA")
    result = export.export(econ, data_copy)                       # and the export writes it, saying so
    assert result.overwritten == ["sources ref028 (sources.csv)"] and "Hand edits in data/ replaced" in result.summary()
    row = next(r for r in csv.DictReader((data_copy / "sources.csv").open(encoding="utf-8"))
               if r["source_id"] == "ref028")
    assert (row["note"], row["journal"]) == ("accepted in the app", "JAMA")
    assert load_and_validate(data_copy)[1] == []


def test_the_build_command_exits_2_on_a_clash_and_says_how_to_go_on(econ, data_copy, capsys):
    accept_note(econ, "sources", "ref028", "accepted in the app")
    hand_edit(data_copy, "sources", "ref028", "journal", "JAMA (edited by hand)")
    assert main(["build", "--home", str(econ.home), "--data-dir", str(data_copy)]) == 2
    err = capsys.readouterr().err
    assert "Not rebuilt" in err and "--force" in err and "Traceback" not in err
    assert main(["build", "--home", str(econ.home), "--data-dir", str(data_copy), "--force"]) == 0
    assert "Accepted edits kept over hand edits in data/" in capsys.readouterr().out


def test_an_edit_that_no_longer_applies_stops_the_build_even_with_force(econ, data_copy, monkeypatch):
    accept_note(econ, "sources", "ref028", "accepted in the app")
    original = edits._converge

    def refuses(cur, table, current, target):
        if table == "sources":
            raise edits.ValidationFailed([edits.Problem("sources", None, "note", "breaks a rule")])
        return original(cur, table, current, target)

    monkeypatch.setattr(edits, "_converge", refuses)
    with pytest.raises(BuildClash, match="no longer apply to data/: change #1 to sources ref028"):
        rebuild_store(econ, data_copy, force=True)
    monkeypatch.undo()
    assert econ.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] == "accepted in the app"


def test_a_pending_proposal_on_a_record_changed_in_data_is_flagged(econ, data_copy):
    raw = edits.as_form(edits.load_record(econ, "sources", "ref028"))
    raw["sources"][0]["note"] = "pending"
    pid = edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "pending change")
    hand_edit(data_copy, "sources", "ref028", "journal", "JAMA (edited by hand)")
    report = rebuild_store(econ, data_copy)
    assert report.stale_proposals == [pid] and f"#{pid}" in report.summary()
    assert edits.get_proposal(econ, pid).status == "pending"


WRITER = r"""
import sys, time
from kb import edits
from kb.store import get_store
store = get_store(sys.argv[1])
store.linger_s = 3600                 # the app between reruns: the store open, the WAL not merged yet
for n in range(3):
    raw = edits.as_form(edits.load_record(store, "sources", "ref028"))
    raw["sources"][0]["note"] = f"accepted {n}"
    pid = edits.propose_update(store, "alice", "sources", "ref028", raw, n, "from the paper")
    edits.accept(store, pid, "bob")
print("ready", flush=True)
time.sleep(120)
"""


def test_three_accepts_then_kill_9_before_a_checkpoint_then_build_force_keeps_all_three(econ, data_copy):
    """The data loss of issue 11: the old build copied the main file only and deleted the WAL."""
    econ.close()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(econ.home)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "ready"
    assert econ.wal.exists() and econ.wal.stat().st_size > 0      # the three edits live in the WAL only
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    built = subprocess.run([sys.executable, "-m", "kb", "build", "--force"], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "KB_HOME": str(econ.home), "PYTHONPATH": str(ROOT)}, timeout=300)
    assert built.returncode == 0, built.stderr
    backup = next(econ.backups.glob("editorial-*.duckdb"))
    con = duckdb.connect(str(backup), read_only=True)
    assert con.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 3
    con.close()
    assert econ.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 3
    assert econ.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] == "accepted 2"
    assert econ.execute("SELECT count(*) FROM proposals WHERE status = 'accepted'").fetchone()[0] == 3
    assert "accepted 2" in duckdb.connect(str(current(econ.releases).path), read_only=True).execute(
        "SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0]


def test_the_first_start_after_an_upgrade_adopts_the_old_single_database(template_db, tmp_path, monkeypatch,
                                                                         cheap_scrypt):
    """An existing brainmets.duckdb (accounts and an unexported edit, some of it still in its WAL) becomes the
    editorial store; nothing in it is lost."""
    import shutil

    legacy = tmp_path / "brainmets.duckdb"
    shutil.copy(get_store(template_db).path, legacy)
    old = duckdb.connect(str(legacy))
    auth.add_editor(old, "alice", PASSWORDS["alice"])
    auth.add_editor(old, "bob", PASSWORDS["bob"])
    accept_note(old, "sources", "ref028", "from the old database")
    old.close()
    home = tmp_path / "kb_home"
    monkeypatch.setattr(rebuild, "DEFAULT_HOME", home)
    monkeypatch.setattr(rebuild, "LEGACY_DB", legacy)
    store = get_store(home)
    report = rebuild_store(store)
    assert report.rebased == 1
    assert store.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] == "from the old database"
    assert auth.sign_in(store, "bob", PASSWORDS["bob"]).ok
    assert legacy.exists()
    store.close()


def test_ensure_ready_builds_a_fresh_clone_and_then_only_when_data_changes(tmp_path, data_copy, capsys):
    store = get_store(tmp_path / "home")
    first = rebuild.ensure_ready(store, data_copy)
    assert first.path.exists() and store.exists()
    assert rebuild.ensure_ready(store, data_copy).release_id == first.release_id
    hand_edit(data_copy, "sources", "ref028", "note", "curated by hand")
    second = rebuild.ensure_ready(store, data_copy, quiet=True)
    assert second.release_id != first.release_id
    assert store.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] == "curated by hand"
    store.close()
    assert json.loads((store.releases / "CURRENT").read_text())["release_id"] == second.release_id
