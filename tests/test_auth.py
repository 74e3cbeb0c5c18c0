"""Editor accounts: created from the command line with a checked password, stored only as a salted scrypt hash,
signed in with lockout after repeated failures; no default or hard-coded password anywhere."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import duckdb
import pytest
from editing_fixtures import PASSWORDS, cheap_scrypt, econ, editor_db, home_of, template_db  # noqa: F401

from kb import auth
from kb.__main__ import main
from kb.store import get_store

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------------------ hashing
def test_a_password_is_stored_as_a_salted_scrypt_hash_only(cheap_scrypt):
    first, second = auth.hash_password("a long enough secret"), auth.hash_password("a long enough secret")
    assert first != second                               # a fresh salt each time
    assert first.startswith("scrypt$1024$8$1$") and "a long enough secret" not in first
    assert auth.verify_password(first, "a long enough secret")
    assert not auth.verify_password(first, "a long enough secreT")
    assert not auth.verify_password("garbage", "a long enough secret")
    assert not auth.verify_password(None, "")


def test_the_default_cost_is_at_least_2_to_the_16():
    assert auth.SCRYPT_N >= 2**16 and auth.SCRYPT_R >= 8


@pytest.mark.parametrize("password, repeated, problem", [
    ("short", "short", "at least 12 characters (it has 5)"),
    ("long enough password", "long enough passwort", "differ"),
    (" long enough password", " long enough password", "spaces"),
    ("long enough password", "long enough password", None),
])
def test_new_passwords_are_checked(password, repeated, problem):
    found = auth.check_new_password(password, repeated)
    assert (found is None) if problem is None else (problem in found)


# ------------------------------------------------------------------------------------------------ command line
def run_add_editor(monkeypatch, capsys, db, answers, *extra):
    """`add-editor` on a terminal: the password is asked twice (getpass)."""
    replies = iter(answers)
    monkeypatch.setattr(auth, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(auth.getpass, "getpass", lambda prompt="": next(replies))
    code = main(["add-editor", *extra, "--home", str(home_of(db))])
    get_store(home_of(db)).close()
    return code, capsys.readouterr()


@pytest.mark.parametrize("stdin, code, message", [
    ("a piped password 1\n", 0, "Editor gina created"),
    ("a piped password 1\r\n", 0, "Editor gina created"),
    ("short\n", 1, "at least 12 characters"),
    ("", 1, "No password on standard input"),
])
def test_add_editor_reads_the_password_from_standard_input_when_it_is_not_a_terminal(
        editor_db, monkeypatch, capsys, stdin, code, message):
    monkeypatch.setattr(auth, "_stdin_is_terminal", lambda: False)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["add-editor", "gina", "--home", str(home_of(editor_db))]) == code
    out = capsys.readouterr()
    assert message in (out.out if code == 0 else out.err)
    store = get_store(home_of(editor_db))
    assert auth.sign_in(store, "gina", "a piped password 1").ok is (code == 0)


def test_add_editor_asks_twice_and_stores_a_hash(editor_db, monkeypatch, capsys):
    code, out = run_add_editor(monkeypatch, capsys, editor_db, ["dana's passphrase 1", "dana's passphrase 1"], "dana")
    assert code == 0 and "Editor dana created" in out.out
    con = duckdb.connect(str(editor_db))
    stored = con.execute("SELECT password_hash, sign_in, active FROM editors WHERE name = 'dana'").fetchone()
    assert stored[0].startswith("scrypt$") and "passphrase" not in stored[0] and stored[1:] == ("password", True)
    assert auth.sign_in(con, "dana", "dana's passphrase 1").ok
    con.close()


@pytest.mark.parametrize("answers, message", [
    (["first password 1", "second password 2"], "The two passwords differ."),
    (["too short", "too short"], "at least 12 characters"),
])
def test_add_editor_refuses_bad_passwords_and_creates_nothing(editor_db, monkeypatch, capsys, answers, message):
    code, out = run_add_editor(monkeypatch, capsys, editor_db, answers, "erin")
    assert code == 1 and message in out.err and "No account was created" in out.err
    con = duckdb.connect(str(editor_db))
    assert con.execute("SELECT count(*) FROM editors WHERE name = 'erin'").fetchone()[0] == 0
    con.close()


def test_an_existing_account_is_not_overwritten_without_reset(editor_db, monkeypatch, capsys):
    code, out = run_add_editor(monkeypatch, capsys, editor_db, ["a new password 12", "a new password 12"], "alice")
    assert code == 1 and "already exists" in out.err
    code, out = run_add_editor(monkeypatch, capsys, editor_db, ["a new password 12", "a new password 12"], "alice",
                               "--reset-password")
    assert code == 0
    con = duckdb.connect(str(editor_db))
    assert auth.sign_in(con, "alice", "a new password 12").ok
    con.close()


def test_an_oidc_account_has_no_password_and_cannot_use_the_password_form(editor_db, monkeypatch, capsys):
    code, out = run_add_editor(monkeypatch, capsys, editor_db, [], "frank@example.org", "--oidc")
    assert code == 0 and "OIDC" in out.out
    con = duckdb.connect(str(editor_db))
    assert con.execute("SELECT password_hash FROM editors WHERE name = 'frank@example.org'").fetchone()[0] is None
    assert auth.is_editor(con, "frank@example.org")
    assert not auth.sign_in(con, "frank@example.org", "").ok
    con.close()


def test_remove_editor_stops_sign_in(editor_db, capsys):
    assert main(["remove-editor", "carol", "--home", str(home_of(editor_db))]) == 0
    assert main(["remove-editor", "nobody", "--home", str(home_of(editor_db))]) == 1
    assert "No editor named 'nobody'" in capsys.readouterr().err
    get_store(home_of(editor_db)).close()
    con = duckdb.connect(str(editor_db))
    assert not auth.sign_in(con, "carol", PASSWORDS["carol"]).ok
    assert not auth.is_editor(con, "carol")
    con.close()


def test_bad_editor_names_are_refused():
    assert "letters, digits" in auth.check_name("a b")
    assert auth.check_name("x") is not None
    assert auth.check_name("someone@example.org") is None


# ------------------------------------------------------------------------------------------------ sign-in
def test_right_password_signs_in_and_wrong_name_or_password_get_the_same_answer(econ):
    assert auth.sign_in(econ, "alice", PASSWORDS["alice"]).ok
    wrong_password = auth.sign_in(econ, "alice", PASSWORDS["bob"])
    wrong_name = auth.sign_in(econ, "nobody", PASSWORDS["alice"])
    assert not wrong_password.ok and not wrong_name.ok
    assert wrong_password.message == wrong_name.message == "Wrong name or password."


def test_repeated_failures_lock_the_name_with_a_growing_delay(econ, monkeypatch):
    clock = [dt.datetime(2026, 11, 21, 12, 0, 0)]
    monkeypatch.setattr(auth, "_now", lambda: clock[0])
    for _ in range(auth.FREE_FAILURES):
        assert auth.sign_in(econ, "alice", "wrong password!").retry_after_s == 0
    fourth = auth.sign_in(econ, "alice", "wrong password!")
    assert fourth.retry_after_s == auth.LOCKOUT_BASE_SECONDS and "locked for 30 s" in fourth.message
    # even the right password is refused while locked, and the attempt is not counted
    locked = auth.sign_in(econ, "alice", PASSWORDS["alice"])
    assert not locked.ok and "Try again in" in locked.message
    clock[0] += dt.timedelta(seconds=31)
    fifth = auth.sign_in(econ, "alice", "wrong password!")
    assert fifth.retry_after_s == 2 * auth.LOCKOUT_BASE_SECONDS
    clock[0] += dt.timedelta(seconds=61)
    assert auth.sign_in(econ, "alice", PASSWORDS["alice"]).ok
    # a success resets the count
    assert auth.sign_in(econ, "alice", "wrong password!").retry_after_s == 0
    # other names are not affected
    assert auth.sign_in(econ, "bob", PASSWORDS["bob"]).ok


def test_every_attempt_is_recorded(econ):
    auth.sign_in(econ, "alice", "nope nope nope")
    auth.sign_in(econ, "alice", PASSWORDS["alice"])
    rows = econ.execute("SELECT success FROM login_attempts WHERE name = 'alice' ORDER BY attempted_at").fetchall()
    assert rows == [(False,), (True,)]


def test_editor_accounts_survive_a_rebuild(editor_db):
    from kb.rebuild import rebuild_store

    rebuild_store(get_store(home_of(editor_db)))
    con = duckdb.connect(str(editor_db))
    try:
        assert auth.sign_in(con, "alice", PASSWORDS["alice"]).ok
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------ no default password
def test_no_password_is_written_in_the_code():
    """No default account or password literal in the app, the core or the UI."""
    # a quoted value after password=/secret=; documentation placeholders like "<from the provider>" are allowed
    pattern = re.compile(r"""(password|passwd|secret)\w*\s*[=:]\s*["'](?!<)[^"']+["']""", re.I)
    offenders = []
    for path in [ROOT / "app.py", *(ROOT / "kb").rglob("*.py"), *(ROOT / "pages").glob("*.py"),
                 *(ROOT / "ui").glob("*.py")]:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.name}:{n}: {line.strip()}")
    assert offenders == []
    assert not (ROOT / ".streamlit" / "secrets.toml").exists() or "password" not in (
        ROOT / ".streamlit" / "secrets.toml").read_text()
