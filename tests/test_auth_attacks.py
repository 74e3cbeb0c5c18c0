"""Sign-in under attack: parallel guesses each count, the cost of anonymous attempts is bounded (memory and table
size), and a sign-in cannot be used from another browser (see also test_browser_editor.py)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from editing_fixtures import PASSWORDS, cheap_scrypt, econ, editor_db, template_db  # noqa: F401

from kb import auth

ROOT = Path(__file__).resolve().parent.parent


class CountingVerifier:
    """Wraps verify_password: counts the passwords really checked and the most checked at the same time; each
    check takes ``delay`` seconds (a real scrypt takes about 0.2 s), so parallel attempts really overlap."""

    def __init__(self, delay: float = 0.05):
        self.real = auth.verify_password
        self.delay = delay
        self.checked = 0
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()
        self.reached: dict[int, threading.Event] = {}

    def when_checked(self, n: int) -> threading.Event:
        return self.reached.setdefault(n, threading.Event())

    def __call__(self, stored, password):
        with self.lock:
            self.checked += 1
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            event = self.reached.get(self.checked)
        if event:
            event.set()
        try:
            time.sleep(self.delay)
            return self.real(stored, password)
        finally:
            with self.lock:
                self.running -= 1


def in_parallel(calls) -> list:
    """Run the zero-argument callables at the same moment, one thread each; their results in order."""
    results: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i, call):
        start.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_thirty_parallel_wrong_guesses_check_no_more_passwords_than_the_lockout_allows(econ, monkeypatch):
    verifier = CountingVerifier()
    monkeypatch.setattr(auth, "verify_password", verifier)
    right_answer: list = []
    # the right password is sent once the lockout's allowance is used up, while the wrong guesses are in flight
    allowed = auth.FREE_FAILURES + 1

    def right_one():
        verifier.when_checked(allowed).wait(30)
        right_answer.append(auth.sign_in(econ, "alice", PASSWORDS["alice"]))

    thread = threading.Thread(target=right_one)
    thread.start()
    results = in_parallel([lambda: auth.sign_in(econ, "alice", f"wrong guess {i:02d}") for i in range(30)])
    thread.join(30)
    assert verifier.checked == allowed          # 4 passwords checked, not 31
    assert not any(r.ok for r in results)
    assert sum("Try again in" in r.message for r in results) == 30 - allowed
    (right,) = right_answer
    assert not right.ok and "Too many failed sign-ins" in right.message
    recorded = econ.execute("SELECT count(*), count(*) FILTER (WHERE success) FROM login_attempts "
                            "WHERE name = 'alice'").fetchone()
    assert recorded == (allowed, 0)             # every checked guess is on record; refused ones cost nothing


def test_all_at_once_the_right_password_gets_at_most_the_same_allowance(econ, monkeypatch):
    verifier = CountingVerifier()
    monkeypatch.setattr(auth, "verify_password", verifier)
    calls = [lambda: auth.sign_in(econ, "alice", f"wrong guess {i:02d}") for i in range(30)]
    calls.insert(17, lambda: auth.sign_in(econ, "alice", PASSWORDS["alice"]))
    results = in_parallel(calls)
    assert verifier.checked <= auth.FREE_FAILURES + 1
    checked = [r for r in results if "Try again in" not in r.message]
    assert len(checked) == verifier.checked
    # the right one succeeded only if it was among the attempts the lockout let through
    assert results[17].ok == (results[17] in checked)


def test_unknown_and_known_names_get_the_same_words(econ):
    unknown = auth.sign_in(econ, "nobody-at-all", "some password here")
    wrong = auth.sign_in(econ, "alice", "some password here")
    assert unknown.message == wrong.message == "Wrong name or password."


def test_at_most_two_passwords_are_hashed_at_once_and_the_rest_are_told_to_wait(econ, monkeypatch):
    verifier = CountingVerifier(delay=0.3)
    monkeypatch.setattr(auth, "verify_password", verifier)
    monkeypatch.setattr(auth, "HASH_WAIT_SECONDS", 0.1)
    results = in_parallel([lambda i=i: auth.sign_in(econ, f"stranger{i}", "a password guess") for i in range(12)])
    assert verifier.most_at_once == auth.MAX_CONCURRENT_HASHES == 2
    busy = [r for r in results if "Too many sign-in attempts at this moment" in r.message]
    assert len(busy) == 12 - verifier.checked and busy    # the others waited too long and were told so
    assert not any(r.ok for r in results)


def test_the_attempts_table_stays_bounded_whatever_anonymous_callers_send(econ, monkeypatch):
    monkeypatch.setattr(auth, "MAX_ATTEMPT_ROWS", 40)
    auth.sign_in(econ, "alice", "one wrong password")
    old = dt.datetime.now() - dt.timedelta(days=3)
    econ.execute("INSERT INTO login_attempts (name, attempted_at, success) VALUES ('stale', ?, false)", [old])
    for i in range(120):
        auth.sign_in(econ, f"random-name-{i}", "guess guess guess")
    names = [n for (n,) in econ.execute("SELECT name FROM login_attempts").fetchall()]
    assert len(names) <= 40
    assert "stale" not in names                     # older than the lockout window
    assert "alice" in names                         # an account's failures are pruned last: its lockout holds
    assert "random-name-119" in names


MEMORY_PROBE = r"""
import sys, threading, duckdb
from kb import auth
from kb.edits import ensure_runtime_schema
auth.MAX_CONCURRENT_HASHES = int(sys.argv[2])
auth._HASH_SLOTS = threading.BoundedSemaphore(auth.MAX_CONCURRENT_HASHES)
auth.HASH_WAIT_SECONDS = 120
con = duckdb.connect(sys.argv[1])
ensure_runtime_schema(con)

def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

auth.sign_in(con, "warm-up", "the first attempt builds the dummy hash")
before = peak_kib()
start = threading.Barrier(20)
def attempt(i):
    start.wait()
    auth.sign_in(con, f"anonymous-{i}", "a guessed password")
threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
[t.start() for t in threads]
[t.join() for t in threads]
print((peak_kib() - before) // 1024)
"""


def peak_growth_mb(db: Path, hashes_at_once: int) -> int:
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(db), str(hashes_at_once)], cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


@pytest.mark.slow
def test_twenty_simultaneous_anonymous_attempts_grow_the_process_by_less_than_200_mb(tmp_path):
    """Real scrypt cost (64 MiB a hash). The control run without the bound shows the probe can see the growth."""
    bounded = peak_growth_mb(tmp_path / "bounded.duckdb", auth.MAX_CONCURRENT_HASHES)
    unbounded = peak_growth_mb(tmp_path / "unbounded.duckdb", 20)
    print(f"peak growth: {bounded} MB bounded, {unbounded} MB with 20 hashes at once")
    assert bounded < 200
    assert unbounded > 400


GUESSER = r"""
import sys, threading, time
from kb import auth
from kb.store import get_store
store = get_store(sys.argv[1])
real, checked, lock = auth.verify_password, [0], threading.Lock()
def counting(stored, password):
    with lock:
        checked[0] += 1
    time.sleep(0.05)                       # a real scrypt takes ~0.2 s: the guesses overlap
    return real(stored, password)
auth.verify_password = counting
start_at = float(sys.argv[2])
def guess(i):
    time.sleep(max(0.0, start_at - time.time()))
    auth.sign_in(store, "alice", f"wrong guess {sys.argv[3]}-{i}")
threads = [threading.Thread(target=guess, args=(i,)) for i in range(10)]
[t.start() for t in threads]
[t.join() for t in threads]
store.close()
print(checked[0])
"""


@pytest.mark.slow
def test_guesses_from_three_processes_at_once_are_counted_together(econ):
    """Three app processes (or CLI commands) guessing at the same moment share one lockout: the attempt slot is
    taken under the store's cross-process lock, so 30 guesses check no more passwords than the lockout allows."""
    from editing_fixtures import home_of

    econ.close()
    start_at = time.time() + 4
    env = {**os.environ, "PYTHONPATH": str(ROOT), "KB_STORE_WAIT": "60"}
    procs = [subprocess.Popen([sys.executable, "-c", GUESSER, str(econ.home), str(start_at), str(n)], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for n in range(3)]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _out, err in outputs]
    checked = sum(int(out.strip()) for out, _err in outputs)
    assert checked == auth.FREE_FAILURES + 1
    failures = econ.execute("SELECT count(*) FROM login_attempts WHERE name = 'alice' AND NOT success").fetchone()
    assert failures == (auth.FREE_FAILURES + 1,)
    assert home_of(econ.path) == econ.home
