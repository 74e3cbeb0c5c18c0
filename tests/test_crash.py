"""Crash safety: a process killed with SIGKILL in the middle of a stream of saves leaves a database that opens with
every committed change and its audit row — and never a change without its audit row, or the reverse."""

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

import duckdb
import pytest
from editing_fixtures import PASSWORDS, template_db  # noqa: F401

from kb import auth, edits

ROOT = Path(__file__).resolve().parent.parent
REPETITIONS = 20
TIME_BUDGET_S = 60

# The writer: saves forever, printing each change only after accept() returned (so after its COMMIT).
# It cycles through a one-table update, a study update touching the study and an outcome, and retiring / restoring
# a whole study (three transactions: the audited one and two follow-up deletions).
WRITER = r"""
import sys, duckdb
from kb import edits
con = duckdb.connect(sys.argv[1])
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
def crash_db(template_db, tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    path = tmp_path / "kb.duckdb"
    shutil.copy(template_db, path)
    con = duckdb.connect(str(path))
    for name in ("alice", "bob"):
        auth.add_editor(con, name, PASSWORDS[name])
    con.close()
    return path


def run_and_kill(db: Path, rng: random.Random) -> list[list[str]]:
    """Start the writer, let it report 0–3 saves, kill it at a random moment; return the saves it reported."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=env, text=True, bufsize=1)
    reported: list[list[str]] = []
    wanted = rng.randint(0, 3)
    deadline = time.monotonic() + 15
    while len(reported) < wanted and time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            reported.append(line.rstrip("\n").split("\t"))
    if wanted == 0:
        time.sleep(rng.uniform(0.3, 0.9))  # somewhere in start-up or the first save
    time.sleep(rng.uniform(0, 0.06))      # somewhere inside the next save
    proc.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL, err
    reported += [line.split("\t") for line in out.splitlines() if line]
    return reported


def check_database(db: Path, reported: list[list[str]]) -> int:
    """The database opens; every reported save is there with its audit row; state == last audit row's after."""
    con = duckdb.connect(str(db))
    try:
        for audit_id, table, rid, marker in reported:
            row = con.execute("SELECT table_name, record_id, reason, after_json FROM audit_log WHERE audit_id = ?",
                              [int(audit_id)]).fetchone()
            assert row is not None, f"committed change {audit_id} lost"
            assert row[:3] == (table, rid, marker)
        edits.finish_cleanup(con)  # what the next write does: finish a retirement interrupted between steps
        assert edits.pending_cleanup_count(con) == 0
        audited = con.execute("SELECT table_name, record_id, count(*) OVER (PARTITION BY table_name, record_id), "
                              "after_json FROM audit_log QUALIFY row_number() OVER (PARTITION BY table_name, "
                              "record_id ORDER BY audit_id DESC) = 1").fetchall()
        for table, rid, n, after in audited:
            assert edits.load_record(con, table, rid) == (json.loads(after) if after else None), (table, rid)
            versions = [v for (v,) in con.execute("SELECT version FROM record_versions WHERE table_name = ? AND "
                                                  "record_id = ? ORDER BY version", [table, rid]).fetchall()]
            assert versions == list(range(1, n + 1))
        accepted = con.execute("SELECT count(*) FROM proposals WHERE status = 'accepted'").fetchone()[0]
        assert accepted == sum(n for _t, _r, n, _a in audited)
        return sum(n for _t, _r, n, _a in audited)
    finally:
        con.close()


@pytest.mark.slow
def test_sigkill_during_a_stream_of_saves_never_loses_a_committed_change(crash_db):
    rng = random.Random(20261121)
    started = time.monotonic()
    total_reported = 0
    changes = 0
    for _ in range(REPETITIONS):
        reported = run_and_kill(crash_db, rng)
        total_reported += len(reported)
        committed = check_database(crash_db, reported)
        assert committed >= changes + len(reported)
        changes = committed
    elapsed = time.monotonic() - started
    print(f"{REPETITIONS} kills, {changes} committed changes ({total_reported} reported before the kill), "
          f"{elapsed:.1f} s")
    assert changes >= REPETITIONS  # the stream really saved things between the kills
    assert elapsed < TIME_BUDGET_S
