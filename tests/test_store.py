"""The editorial store: opened per operation under a lock every process respects, never held, private on disk.

Processes here are real subprocesses: threads of one process share one DuckDB instance, processes do not.
"""

from __future__ import annotations

import ast
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from editing_fixtures import PASSWORDS, cheap_scrypt, econ, editor_db, home_of, template_db  # noqa: F401
from streamlit.testing.v1 import AppTest

from kb import auth, edits
from kb.store import ReaderInstance, StoreBusy, get_store

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60
HOLD_LOCK = ("import fcntl, sys, time; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); "
             "print('ready', flush=True); time.sleep(60)")


def hold_in_other_process(code: str, *args: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_a_write_waits_for_another_process_and_then_says_busy_in_a_sentence(econ, monkeypatch):
    econ.close()
    holder = hold_in_other_process(HOLD_LOCK, str(econ.lock_path))
    monkeypatch.setattr(econ, "wait_s", 0.5)
    try:
        with pytest.raises(StoreBusy, match="The editorial store is busy.*more than 0.5 s. Try again in a moment"):
            auth.deactivate_editor(econ, "carol")
    finally:
        holder.kill()
        holder.wait()
    assert auth.deactivate_editor(econ, "carol")   # the lock died with the process


def test_a_kill_9_never_leaves_a_stale_lock_nor_loses_a_committed_change(econ, monkeypatch):
    econ.close()
    code = ("import sys; from kb.store import get_store; from kb import auth; s = get_store(sys.argv[1]); "
            "s.__enter__(); auth.deactivate_editor(s, 'carol'); print('ready', flush=True); import time; "
            "time.sleep(60)")
    holder = hold_in_other_process(code, str(econ.home))
    assert econ.wal.exists()                      # committed, not yet checkpointed: only in the WAL
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    monkeypatch.setattr(econ, "wait_s", 2)
    assert not auth.is_editor(econ, "carol")      # the WAL was replayed; the lock was free at once


def test_a_lingering_store_lets_go_at_once_when_another_process_waits(econ, monkeypatch):
    """The app keeps the store open a moment after a rerun; a command that waits makes it close right away."""
    monkeypatch.setattr(econ, "linger_s", 60)
    auth.is_editor(econ, "alice")                 # opened, and would linger for a minute
    assert econ._con is not None
    done = subprocess.run([sys.executable, "-m", "kb", "remove-editor", "carol"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "KB_HOME": str(econ.home), "KB_STORE_WAIT": "20",
                                                       "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert not auth.is_editor(econ, "carol")


def test_store_files_are_private(econ):
    with econ.held():
        auth.deactivate_editor(econ, "carol")
        assert econ.wal.exists() and stat.S_IMODE(econ.wal.stat().st_mode) == 0o600
    from kb.rebuild import rebuild_store

    report = rebuild_store(econ)
    assert stat.S_IMODE(econ.folder.stat().st_mode) == 0o700
    for path in (econ.path, econ.lock_path, report.backup):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE(econ.backups.stat().st_mode) == 0o700


def test_threads_of_one_process_share_the_store_without_lost_updates(econ):
    """Eight sessions of the app save and accept at once: every accept lands, each record's versions 1..n."""
    errors = []

    def session(i: int) -> None:
        try:
            for n in range(3):
                record = ("sources", "ref028") if i % 2 else ("studies", "rtog0614")
                while True:
                    base = edits.version(econ, *record)
                    raw = edits.as_form(edits.load_record(econ, *record))
                    raw[record[0]][0]["note"] = f"thread {i} save {n}"
                    try:
                        pid = edits.propose_update(econ, "alice", *record, raw, base, f"thread {i}")
                        edits.accept(econ, pid, "bob")
                        break
                    except edits.Conflict:
                        continue
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert econ.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 24
    for record in (("sources", "ref028"), ("studies", "rtog0614")):
        assert edits.version(econ, *record) == 12


def test_a_dropped_store_cursor_gives_the_store_back(econ):
    assert econ.execute("SELECT count(*) FROM editors").fetchone()[0] == 3
    assert econ._users == 0


def test_one_rerun_of_the_editor_page_opens_the_store_at_most_once(econ):
    at = AppTest.from_file(str(ROOT / "pages/editor.py"), default_timeout=TIMEOUT).run()
    next(t for t in at.text_input if t.label == "Editor name").input("bob")
    next(t for t in at.text_input if t.label == "Password").input(PASSWORDS["bob"])
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert not at.exception and "Signed in as **bob**" in at.markdown[0].value
    econ.close()
    opens = econ.opens
    at.run()                 # the signed-in workspace: dozens of store calls (queue, history, forms, export state)
    assert not at.exception
    assert econ.opens - opens <= 1


def test_a_reader_instance_never_opens_the_store(econ, tmp_path, monkeypatch):
    releases = tmp_path / "shared-releases"
    shutil.copytree(econ.releases, releases)
    monkeypatch.setenv("KB_READ_ONLY", "1")
    monkeypatch.setenv("KB_RELEASES", str(releases))
    monkeypatch.setenv("KB_HOME", str(tmp_path / "reader-home"))
    home = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()   # Home, through the router
    assert not home.exception and home.title[0].value == "BrainMets KB"
    editor = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    editor.switch_page("pages/editor.py")
    editor.run()
    assert "Editing is disabled on this instance" in editor.info[0].value and not editor.text_input
    assert not (tmp_path / "reader-home").exists()
    with pytest.raises(ReaderInstance):
        get_store().cursor()


def test_every_cached_loader_is_keyed_by_the_release():
    """A loader cached with st.cache_data that ignores its connection (`_con`) would serve an old release's
    results after an edit. Every loader in ui/cache.py takes `con` and is @by_release."""
    tree = ast.parse((ROOT / "ui" / "cache.py").read_text(encoding="utf-8"))
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        names = [a.arg for a in node.args.args]
        decorators = [ast.unparse(d) for d in node.decorator_list]
        if any(n.startswith("_con") for n in names):
            problems.append(f"{node.name}: takes {names[0]}")
        if "con" in names and not any(d.startswith("by_release") for d in decorators) and any(
                "cache_data" in d for d in decorators):
            problems.append(f"{node.name}: st.cache_data without the release key")
    assert problems == []
