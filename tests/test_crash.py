"""Crash safety: an editor process killed with SIGKILL at a random moment of a stream of accepts loses no accepted
edit — not at the kill, not in the `kb build --force` after it, not in the `kb export` after that — and data/ (a
temporary copy) passes `kb check` after every run. Never a change without its audit row, or the reverse."""

from __future__ import annotations

import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from editing_fixtures import PASSWORDS, template_db  # noqa: F401

from kb import auth, edits, export
from kb.build import build, load_and_validate
from kb.rebuild import rebuild_store, unexported_changes
from kb.releases import content_hash, current
from kb.store import get_store

ROOT = Path(__file__).resolve().parent.parent
REPETITIONS = 20

# The editor process: accepts forever through the editorial store exactly as the app does (each accept publishes a
# release before it returns), printing each change only after accept() returned (so after its COMMIT).
# It cycles through a one-table update, a study update touching the study and an outcome, and retiring / restoring
# a whole study (three transactions: the audited one and two follow-up deletions).
WRITER = r"""
import sys
from kb import edits
from kb.store import get_store
con = get_store(sys.argv[1])
while True:
    n = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    op = n % 3
    if op == 0:
        table, rid = "sources", "ref028"
        raw = edits.as_form(edits.load_record(con, table, rid))
        raw[table][0]["note"] = f"save {n}"
        pid = edits.propose_update(con, "alice", table, rid, raw, edits.version(con, table, rid), f"save {n}")
    elif op == 1:
        table, rid = "studies", "rtog0614"
        raw = edits.as_form(edits.load_record(con, table, rid))
        raw[table][0]["note"] = f"save {n}"
        raw["outcomes"][0]["note"] = f"save {n}"
        pid = edits.propose_update(con, "alice", table, rid, raw, edits.version(con, table, rid), f"save {n}")
    else:
        table, rid = "studies", "nrg_cc001"
        if edits.load_record(con, table, rid) is not None:
            pid = edits.propose_retire(con, "alice", table, rid, edits.version(con, table, rid), f"save {n}")
        else:
            pid = edits.propose_revert(con, "alice", edits.history(con, table, rid)[0].audit_id, f"save {n}")
    (audit_id,) = edits.accept(con, pid, "bob")
    print(audit_id, table, rid, f"save {n}", sep="\t", flush=True)
"""


@pytest.fixture
def instance(template_db, tmp_path, monkeypatch, data_copy):
    """A private editor instance with alice and bob, and a private copy of data/ it was built from."""
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    home = tmp_path / "home"
    shutil.copytree(template_db, home)
    store = get_store(home)
    for name in ("alice", "bob"):
        auth.add_editor(store, name, PASSWORDS[name])
    store.close()
    yield store, data_copy
    store.close()


def run_and_kill(home: Path, rng: random.Random) -> list[list[str]]:
    """Start the writer, let it report 0–3 saves, kill it at a random moment; return the saves it reported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(home)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=env, text=True, bufsize=1)
    reported: list[list[str]] = []
    wanted = rng.randint(0, 3)
    deadline = time.monotonic() + 30
    while len(reported) < wanted and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            reported.append(line.rstrip("\n").split("\t"))
    if wanted == 0:
        time.sleep(rng.uniform(0.5, 1.5))  # somewhere in start-up or the first save
    time.sleep(rng.uniform(0, 0.3))       # somewhere inside the next save or its publish
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, err
    reported += [line.split("\t") for line in out.splitlines() if line]
    return reported


def check_store(store, reported: list[list[str]]) -> int:
    """Every reported save is in the store with its audit row; each record == its last audit row's after;
    versions 1..n; as many accepted proposals as audit rows. Returns the number of audit rows."""
    with store.held():
        for audit_id, table, rid, marker in reported:
            row = store.execute("SELECT table_name, record_id, reason FROM audit_log WHERE audit_id = ?",
                                [int(audit_id)]).fetchone()
            assert row is not None, f"accepted change {audit_id} lost"
            assert row == (table, rid, marker)
        assert edits.pending_cleanup_count(store) == 0   # the rebuild finished interrupted retirements
        audited = store.execute("SELECT table_name, record_id, count(*) OVER (PARTITION BY table_name, record_id), "
                                "after_json FROM audit_log QUALIFY row_number() OVER (PARTITION BY table_name, "
                                "record_id ORDER BY audit_id DESC) = 1").fetchall()
        for table, rid, n, after in audited:
            assert edits.load_record(store, table, rid) == (json.loads(after) if after else None), (table, rid)
            versions = [v for (v,) in store.execute("SELECT version FROM record_versions WHERE table_name = ? AND "
                                                    "record_id = ? ORDER BY version", [table, rid]).fetchall()]
            assert versions == list(range(1, n + 1))
        accepted = store.execute("SELECT count(*) FROM proposals WHERE status = 'accepted'").fetchone()[0]
        assert accepted == sum(n for _t, _r, n, _a in audited)
        return sum(n for _t, _r, n, _a in audited)


@pytest.mark.slow
def test_sigkill_of_the_editor_then_build_force_then_export_never_loses_an_accepted_edit(instance, tmp_path):
    store, data = instance
    rng = random.Random(20261121)
    started = time.monotonic()
    total_reported = 0
    changes = 0
    for run in range(REPETITIONS):
        reported = run_and_kill(store.home, rng)
        total_reported += len(reported)
        rebuild_store(store, data, force=True)                           # `kb build --force`
        committed = check_store(store, reported)
        assert committed >= changes + len(reported), f"run {run}: accepted edits lost by the rebuild"
        changes = committed
        assert not list(store.folder.glob("*.building*")) and not list(store.releases.glob(".publishing-*"))
        with store.held():
            assert current(store.releases).sha256 == content_hash(store)   # readers see the store's content
        export.export(store, data)                                        # `kb export`
        pending = store.execute("SELECT count(*) FROM proposals WHERE status = 'pending'").fetchone()[0]
        assert unexported_changes(store) == pending   # every accepted change is in data/ (a kill may leave a proposal)
        _, problems = load_and_validate(data)                             # `kb check`
        assert problems == [], f"run {run}: data/ fails kb check: {problems[:3]}"
        exported = {line.split(",", 1)[0] for line in (data / "audit_log.csv").read_text().splitlines()[1:]}
        assert {a for a, *_ in reported} <= exported
        store.close()
    # data/ now holds every accepted edit: a KB built from it alone equals the store, record for record
    rebuilt = tmp_path / "from-data.duckdb"
    build(rebuilt, data)
    import duckdb

    con = duckdb.connect(str(rebuilt), read_only=True)
    with store.held():
        for table, rid in (("sources", "ref028"), ("studies", "rtog0614"), ("studies", "nrg_cc001")):
            assert edits.load_record(con, table, rid) == edits.load_record(store, table, rid)
            assert edits.version(con, table, rid) == edits.version(store, table, rid)
    con.close()
    elapsed = time.monotonic() - started
    print(f"{REPETITIONS} kills, {changes} accepted changes ({total_reported} reported before the kill), "
          f"each run followed by build --force and export: {elapsed:.1f} s")
    assert changes >= REPETITIONS  # the stream really accepted things between the kills
