"""Editor accounts and sign-in. Readers never sign in; only editors do, to propose and review changes.

Two ways to sign in:

- **Local accounts** (the default). ``python -m kb add-editor NAME`` asks the password twice on a terminal, or
  reads it from the first line of standard input when that is not a terminal (a script, a pipe:
  ``printf '%s\n' "$PASSWORD" | python -m kb add-editor NAME``); at least ``MIN_PASSWORD_LENGTH`` characters. It
  works while the app is serving (it waits for the editorial store's lock, ``kb/store.py``). Only a salted
  ``hashlib.scrypt`` hash is stored
  (``scrypt$n$r$p$salt$hash``, base64). There is no default account and no password in the code or the repository.
  Failed sign-ins are recorded in ``login_attempts``; after ``FREE_FAILURES`` failures in a row the name is locked
  for a delay that doubles with each further failure (``lockout_seconds``), and every failure costs a full scrypt.
- **An OIDC provider** (Google, Microsoft Entra, Okta, Auth0…), when ``.streamlit/secrets.toml`` has an ``[auth]``
  section. The editor page then shows Streamlit's ``st.login()`` button instead of the password form. The provider
  proves who the person is; the KB still decides who may edit: the e-mail address must be registered with
  ``python -m kb add-editor someone@example.org --oidc`` (no password is stored for it)::

      [auth]
      redirect_uri = "https://kb.example.org/oauth2callback"
      cookie_secret = "<a long random string>"
      client_id = "<from the provider>"
      client_secret = "<from the provider>"
      server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"

This module never imports Streamlit; ``pages/editor.py`` calls it.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import hashlib
import hmac
import os
import re
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

MIN_PASSWORD_LENGTH = 12
# scrypt cost: n=2**16, r=8 → 64 MiB and ~0.2 s per hash on one core (OWASP's floor is n=2**17 at 128 MiB; this
# machine class serves many readers on 2 cores). The parameters are stored in each hash, so raising them later
# keeps old hashes valid.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**16, 8, 1
FREE_FAILURES = 3            # failures in a row before the name is locked
LOCKOUT_BASE_SECONDS = 30    # first lock; doubles with each further failure
LOCKOUT_MAX_SECONDS = 3600
ATTEMPT_WINDOW = dt.timedelta(days=1)  # failures older than this are forgotten (and pruned)
MAX_ATTEMPT_ROWS = 20_000   # the attempts table never grows past this, whatever anonymous callers send
# At most this many password hashes at once in a process (each scrypt takes 64 MiB); further attempts wait up to
# HASH_WAIT_SECONDS, then are told to try again in a moment.
MAX_CONCURRENT_HASHES = 2
HASH_WAIT_SECONDS = 5.0
_HASH_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{1,99}")


class AuthError(Exception):
    """A sign-in or account problem, said as a sentence for the person at the keyboard."""


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    message: str
    retry_after_s: int = 0


# ------------------------------------------------------------------------------------------------ hashing
def hash_password(password: str, n: int | None = None, r: int | None = None, p: int | None = None) -> str:
    """A salted scrypt hash with its parameters, e.g. ``scrypt$65536$8$1$<salt>$<hash>``.

    >>> h = hash_password("correct horse battery", n=2**10)
    >>> h.startswith("scrypt$1024$8$1$"), verify_password(h, "correct horse battery"), verify_password(h, "wrong")
    (True, True, False)
    """
    n, r, p = n or SCRYPT_N, r or SCRYPT_R, p or SCRYPT_P
    salt = os.urandom(16)
    digest = _scrypt(password, salt, n, r, p)
    encoded = [base64.b64encode(salt).decode(), base64.b64encode(digest).decode()]
    return "$".join(["scrypt", str(n), str(r), str(p), *encoded])


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time comparison)."""
    try:
        kind, n, r, p, salt, digest = (stored or "").split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, actual)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * r * n * p + 1024 * 1024)


# A hash of a random password, checked when the name is unknown so a wrong name costs as long as a wrong password.
_DUMMY_HASH: str | None = None


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(base64.b64encode(os.urandom(24)).decode())
    return _DUMMY_HASH


# ------------------------------------------------------------------------------------------------ accounts
def check_new_password(password: str, repeated: str) -> str | None:
    """The problem with a new password, or None.

    >>> check_new_password("short", "short")
    'The password must have at least 12 characters (it has 5).'
    """
    if password != repeated:
        return "The two passwords differ."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must have at least {MIN_PASSWORD_LENGTH} characters (it has {len(password)})."
    if password.strip() != password:
        return "The password must not start or end with spaces."
    return None


def check_name(name: str) -> str | None:
    if not NAME_PATTERN.fullmatch(name or ""):
        return ("An editor name has 2–100 letters, digits or . _ @ + - and starts with a letter or digit "
                f"(got {name!r}).")
    return None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def add_editor(con: duckdb.DuckDBPyConnection, name: str, password: str | None = None, oidc: bool = False,
               replace: bool = False) -> None:
    """Create an editor account (or, with ``replace``, set a new password). ``oidc`` accounts have no password."""
    from kb.edits import ensure_runtime_schema

    problem = check_name(name)
    if problem:
        raise AuthError(problem)
    if not oidc and (password is None or len(password) < MIN_PASSWORD_LENGTH):
        raise AuthError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    ensure_runtime_schema(con)
    stored = None if oidc else hash_password(password or "")
    cur = con.cursor()
    try:
        exists = cur.execute("SELECT count(*) FROM editors WHERE name = ?", [name]).fetchone()[0]
        if exists and not replace:
            raise AuthError(f"An editor named {name!r} already exists (use --reset-password to change the password).")
        if exists:
            cur.execute("UPDATE editors SET password_hash = ?, sign_in = ?, active = true WHERE name = ?",
                        [stored, "oidc" if oidc else "password", name])
        else:
            cur.execute("INSERT INTO editors VALUES (?, ?, ?, ?, true)",
                        [name, stored, "oidc" if oidc else "password", _now()])
    finally:
        cur.close()


def deactivate_editor(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Stop an account from signing in (its history stays). True when the account existed."""
    cur = con.cursor()
    try:
        found = cur.execute("SELECT count(*) FROM editors WHERE name = ?", [name]).fetchone()[0]
        if found:
            cur.execute("UPDATE editors SET active = false WHERE name = ?", [name])
        return bool(found)
    finally:
        cur.close()


def editors(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, bool]]:
    """(name, sign_in, active) of every account; [] when the database has no accounts table yet."""
    cur = con.cursor()
    try:
        return [tuple(r) for r in cur.execute("SELECT name, sign_in, active FROM editors ORDER BY name").fetchall()]
    except duckdb.CatalogException:
        return []
    finally:
        cur.close()


def is_editor(con: duckdb.DuckDBPyConnection, name: str | None) -> bool:
    """True for an active account (used for OIDC: the provider's e-mail must be registered)."""
    if not name:
        return False
    cur = con.cursor()
    try:
        row = cur.execute("SELECT active FROM editors WHERE name = ?", [name]).fetchone()
        return bool(row and row[0])
    except duckdb.CatalogException:
        return False
    finally:
        cur.close()


# ------------------------------------------------------------------------------------------------ sign-in
def lockout_seconds(failures_in_a_row: int) -> int:
    """How long a name is locked after this many failures in a row.

    >>> [lockout_seconds(n) for n in (1, 3, 4, 5, 6, 20)]
    [0, 0, 30, 60, 120, 3600]
    """
    if failures_in_a_row <= FREE_FAILURES:
        return 0
    return min(LOCKOUT_BASE_SECONDS * 2 ** (failures_in_a_row - FREE_FAILURES - 1), LOCKOUT_MAX_SECONDS)


def _failures(cur: duckdb.DuckDBPyConnection, name: str) -> tuple[int, dt.datetime | None]:
    """Failures since the last success (within the window) and the time of the latest one. An attempt whose
    password is still being checked counts as a failure until it succeeds."""
    row = cur.execute(
        "SELECT count(*), max(attempted_at) FROM login_attempts WHERE name = ? AND NOT success "
        "AND attempted_at > coalesce((SELECT max(attempted_at) FROM login_attempts WHERE name = ? AND success), "
        "TIMESTAMP '1900-01-01') AND attempted_at > ?",
        [name, name, _now() - ATTEMPT_WINDOW]).fetchone()
    return int(row[0]), row[1]


def _locked_for(failures: int, last: dt.datetime | None) -> int:
    """Seconds the name stays locked (0 when it is not)."""
    wait = lockout_seconds(failures)
    if not wait or last is None:
        return 0
    return max(0, int((last + dt.timedelta(seconds=wait) - _now()).total_seconds()) + 1)


def _take_attempt(con: duckdb.DuckDBPyConnection, name: str) -> tuple[str | None, int]:
    """Record an attempt for ``name`` BEFORE its password is checked, under the writer lock, so N guesses sent at
    once are counted as N: returns (attempt id, 0), or (None, seconds locked) without recording anything."""
    from kb.edits import _transaction

    with _transaction(con) as cur:
        failures, last = _failures(cur, name)
        locked = _locked_for(failures, last)
        if locked:
            return None, locked
        _prune(cur)
        attempt_id = uuid.uuid4().hex
        cur.execute("INSERT INTO login_attempts (name, attempted_at, success, attempt_id) VALUES (?, ?, false, ?)",
                    [name, _now(), attempt_id])
        return attempt_id, 0


def _prune(cur: duckdb.DuckDBPyConnection) -> None:
    """Keep the attempts table bounded whatever anonymous callers send: rows older than the lockout window go,
    and past ``MAX_ATTEMPT_ROWS`` the oldest rows of names that are not accounts go first."""
    cur.execute("DELETE FROM login_attempts WHERE attempted_at < ?", [_now() - ATTEMPT_WINDOW])
    count = cur.execute("SELECT count(*) FROM login_attempts").fetchone()[0]
    if count >= MAX_ATTEMPT_ROWS:
        cur.execute("DELETE FROM login_attempts WHERE attempt_id IN (SELECT attempt_id FROM login_attempts "
                    "WHERE name NOT IN (SELECT name FROM editors) ORDER BY attempted_at LIMIT ?)",
                    [count - MAX_ATTEMPT_ROWS + 1 + MAX_ATTEMPT_ROWS // 10])


def _record_success(con: duckdb.DuckDBPyConnection, attempt_id: str) -> None:
    from kb.edits import _transaction

    with _transaction(con) as cur:
        cur.execute("UPDATE login_attempts SET success = true WHERE attempt_id = ?", [attempt_id])


def sign_in(con: duckdb.DuckDBPyConnection, name: str, password: str) -> SignInResult:
    """Check a local account's password, with lockout after repeated failures. Records the attempt.

    Safe under concurrency: the attempt is recorded (a slot taken) before the password is checked, so parallel
    guesses count one each, and at most ``MAX_CONCURRENT_HASHES`` passwords are hashed at once in this process
    (each hash takes 64 MiB). The message and the time taken never say whether the name exists.
    """
    from kb.edits import ensure_runtime_schema

    name = (name or "").strip()[:100]
    ensure_runtime_schema(con)
    attempt_id, locked = _take_attempt(con, name)
    if attempt_id is None:
        return SignInResult(False, f"Too many failed sign-ins for this name. Try again in {locked} s.", locked)
    if not _HASH_SLOTS.acquire(timeout=HASH_WAIT_SECONDS):
        return SignInResult(False, "Too many sign-in attempts at this moment. Try again in a few seconds.",
                            int(HASH_WAIT_SECONDS))
    try:
        cur = con.cursor()
        try:
            row = cur.execute("SELECT password_hash, sign_in, active FROM editors WHERE name = ?", [name]).fetchone()
        finally:
            cur.close()
        usable = bool(row and row[1] == "password" and row[2])
        ok = verify_password(row[0] if usable else _dummy_hash(), password) and usable
    finally:
        _HASH_SLOTS.release()
    if ok:
        _record_success(con, attempt_id)
        return SignInResult(True, f"Signed in as {name}.")
    cur = con.cursor()
    try:
        failures, _last = _failures(cur, name)
    finally:
        cur.close()
    wait = lockout_seconds(failures)
    suffix = f" Too many failures: locked for {wait} s." if wait else ""
    return SignInResult(False, "Wrong name or password." + suffix, wait)


# ------------------------------------------------------------------------------------------------ command line
def _stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def read_new_password(name: str) -> tuple[str | None, str | None]:
    """(password, problem): asked twice on a terminal; else the first line of standard input."""
    if _stdin_is_terminal():
        password = getpass.getpass(f"Password for {name} (at least {MIN_PASSWORD_LENGTH} characters): ")
        repeated = getpass.getpass("The same password again: ")
    else:
        line = sys.stdin.readline() if sys.stdin is not None else ""
        if not line:
            return None, "No password on standard input (give it as the first line, or run this on a terminal)."
        password = repeated = line.rstrip("\r\n")
    return password, check_new_password(password, repeated)


def _editor_store(args: argparse.Namespace):
    """The editorial store for an account command, ready (built and published) on a fresh clone."""
    from kb.rebuild import ensure_ready
    from kb.store import get_store

    store = get_store(args.home)
    if not store.exists():
        ensure_ready(store, quiet=True)
    return store


def cmd_add_editor(args: argparse.Namespace) -> int:
    from kb.files import DiskFull
    from kb.store import StoreError

    problem = check_name(args.name)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    password = None
    if not args.oidc:
        password, problem = read_new_password(args.name)
        if problem:
            print(problem + " No account was created.", file=sys.stderr)
            return 1
    try:
        store = _editor_store(args)
        add_editor(store, args.name, password, oidc=args.oidc, replace=args.reset_password)
    except (AuthError, StoreError, DiskFull) as exc:
        print(exc, file=sys.stderr)
        return 1
    how = "signs in with the OIDC provider" if args.oidc else "signs in with the password just set"
    print(f"Editor {args.name} {'updated' if args.reset_password else 'created'}; {how}.")
    return 0


def cmd_remove_editor(args: argparse.Namespace) -> int:
    from kb.files import DiskFull
    from kb.store import StoreError, get_store

    store = get_store(args.home)
    if not store.exists():
        print(f"No editor named {args.name!r} (there is no editorial store yet).", file=sys.stderr)
        return 1
    try:
        found = deactivate_editor(store, args.name)
    except (StoreError, DiskFull) as exc:
        print(exc, file=sys.stderr)
        return 1
    if not found:
        print(f"No editor named {args.name!r}.", file=sys.stderr)
        return 1
    print(f"Editor {args.name} can no longer sign in (their history is kept).")
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("add-editor", help="create an editor account (password asked twice on a terminal, else "
                                          "read from the first line of standard input)")
    p.add_argument("name", help="the editor's name (or e-mail address for --oidc)")
    p.add_argument("--oidc", action="store_true", help="signs in through the OIDC provider; no password stored")
    p.add_argument("--reset-password", action="store_true", help="set a new password for an existing account")
    p.add_argument("--home", help="the editor instance's folder (default: $KB_HOME or kb_home/)")
    p.set_defaults(func=cmd_add_editor)
    p = sub.add_parser("remove-editor", help="stop an editor account from signing in")
    p.add_argument("name")
    p.add_argument("--home", help="the editor instance's folder (default: $KB_HOME or kb_home/)")
    p.set_defaults(func=cmd_remove_editor)
