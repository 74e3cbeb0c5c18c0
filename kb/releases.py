"""Published releases: immutable DuckDB files that readers open read-only, and the pointer to the current one.

A release is the KB tables of the editorial store at one moment (never the accounts, sign-in attempts or
proposals: readers must not see password hashes), written as ``$KB_RELEASES/<release id>.duckdb``. The release id
says when, which one and what: ``2026-12-01.0007-3fa2c1d9`` is the 7th release, published on 2026-12-01 (UTC), whose
tables hash to ``3fa2c1d9…`` (SHA-256 over every table's rows, ``content_hash``). A paper cites it; the footer of
every page and every export show it.

Lifecycle contract (``publish``, called under the store lock):

- the file is written under a temporary name (``.publishing-…``) in the releases folder, checkpointed, flushed
  (fsync) and renamed; then the pointer ``CURRENT`` (a line of JSON) is replaced the same way. A crash at any step
  leaves the previous release current and complete; the temporary file is removed by the next publish.
- readers read ``CURRENT`` on every rerun (``current`` — a ``stat`` unless it changed) and open the file it names.
  The last ``KEEP`` releases stay on disk, so a reader in the middle of a query never sees its file vanish.
- ``publish_if_ahead`` compares the store's *state token* (build, last audit id, unfinished cleanups) with the
  one recorded in ``CURRENT``: the store calls it after every operation, so an edit whose process died between its
  commit and its publish is published by the next operation of any process. Same content → same release id.

>>> parse_id("2026-12-01.0007-3fa2c1d9")
('2026-12-01', 7, '3fa2c1d9')
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb

from kb.config import TABLES, pinned_db, releases_dir
from kb.files import PUBLIC_FILE, DiskFull, fsync_dir, fsync_file, is_disk_full, write_atomic

POINTER = "CURRENT"
KEEP = 5
TEMP_PREFIX = ".publishing-"
ID_PATTERN = re.compile(r"(\d{4}-\d{2}-\d{2})\.(\d{4,})-([0-9a-f]{8})")
# kb_meta keys copied from the store into a release (the others are the store's bookkeeping)
PUBLIC_META = ("release", "built_at")


class NoRelease(Exception):
    """Nothing has been published in the releases folder yet."""

    def __init__(self, folder: Path):
        super().__init__("No release of the knowledge base has been published yet. Start the editor instance "
                         "(`make run`) or run `python -m kb build` on it; reader instances then pick it up.")
        self.folder = folder


@dataclass(frozen=True)
class Release:
    release_id: str
    file: str
    seq: int
    sha256: str          # content hash of the tables
    token: str           # the store state it was published from
    published_at: str
    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / self.file

    def pointer_json(self) -> str:
        data = asdict(self)
        data.pop("folder")
        return json.dumps(data, sort_keys=True)


def parse_id(release_id: str) -> tuple[str, int, str] | None:
    """(date, sequence, short hash) of a release id, or None when it is not one."""
    m = ID_PATTERN.fullmatch(release_id or "")
    return (m.group(1), int(m.group(2)), m.group(3)) if m else None


# ------------------------------------------------------------------------------------------------ reading
_POINTER_CACHE: dict[Path, tuple[tuple, Release]] = {}


def current(folder: Path | None = None) -> Release | None:
    """The release ``CURRENT`` points at, or None. Cheap: re-read only when the pointer file changed."""
    folder = Path(folder or releases_dir())
    pointer = folder / POINTER
    try:
        st = os.stat(pointer)
    except FileNotFoundError:
        return None
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = _POINTER_CACHE.get(folder)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        data = json.loads(pointer.read_text(encoding="utf-8"))
        release = Release(folder=folder, **{k: data[k] for k in ("release_id", "file", "seq", "sha256", "token",
                                                                 "published_at")})
    except (OSError, ValueError, KeyError, TypeError):
        return None
    _POINTER_CACHE[folder] = (stamp, release)
    return release


def list_releases(folder: Path | None = None) -> list[tuple[str, Path]]:
    """(release id, file) of every release kept in the folder, newest first."""
    folder = Path(folder or releases_dir())
    found = []
    for path in folder.glob("*.duckdb"):
        parsed = parse_id(path.stem)
        if parsed:
            found.append((parsed[1], path.stem, path))
    return [(rid, path) for _seq, rid, path in sorted(found, reverse=True)]


def open_release(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a release file (any number of processes may hold one)."""
    return duckdb.connect(str(path), read_only=True)


def reader_path(folder: Path | None = None) -> Path:
    """The file a reader opens: ``$KB_DB`` when pinned, else the current release. Raises ``NoRelease``."""
    pinned = pinned_db()
    if pinned is not None:
        return pinned
    folder = Path(folder or releases_dir())
    release = current(folder)
    if release is None or not release.path.exists():
        raise NoRelease(folder)
    return release.path


def open_reader(db: str | Path | None = None) -> duckdb.DuckDBPyConnection:
    """What a reading command opens: ``db`` if given, else ``$KB_DB`` when pinned, else the current release —
    read-only, so it works beside a serving app. On a fresh clone (no release yet) an editor machine builds and
    publishes first; a reader (``KB_READ_ONLY=1``) raises ``NoRelease`` instead."""
    try:
        path = Path(db) if db else reader_path()
    except NoRelease:
        from kb.config import read_only

        if read_only():
            raise
        from kb.rebuild import ensure_ready

        path = ensure_ready(quiet=True).path
    return open_release(path)


def release_id_of(con: duckdb.DuckDBPyConnection) -> str:
    """The release id recorded in a KB file ('unpublished' for a file built outside the release folder)."""
    cur = con.cursor()
    try:
        row = cur.execute("SELECT value FROM kb_meta WHERE key = 'release_id'").fetchone()
    except duckdb.Error:
        row = None
    finally:
        cur.close()
    return row[0] if row else "unpublished"


# ------------------------------------------------------------------------------------------------ hashing
def state_token(cur: Any) -> str:
    """What the working copy has been through: its build, last accepted change and unfinished cleanups.
    Every change to the KB tables moves it (builds, accepts, retirement follow-ups)."""
    build_id, last_audit, cleanups = cur.execute(
        "SELECT (SELECT value FROM kb_meta WHERE key = 'build_id'), (SELECT coalesce(max(audit_id), 0) "
        "FROM audit_log), (SELECT count(*) FROM pending_cleanup)").fetchone()
    return f"{build_id}:{last_audit}:{cleanups}"


def content_hash(cur: Any, catalog: str | None = None) -> str:
    """SHA-256 over every KB table's rows, sorted (so row order and storage do not matter).

    >>> con = duckdb.connect(); _ = con.execute("CREATE TABLE t (a INT)")
    >>> len(table_hash(con, "t")) == 64
    True
    """
    digest = hashlib.sha256()
    for table in TABLES:
        digest.update(table.encode() + b"\0" + table_hash(cur, table, catalog).encode() + b"\n")
    return digest.hexdigest()


def table_hash(cur: Any, table: str, catalog: str | None = None) -> str:
    where = (_q(catalog) + ".main." if catalog else "") + _q(table)
    rows = cur.execute("SELECT * FROM " + where).fetchall()
    return hashlib.sha256("\n".join(sorted(repr(r) for r in rows)).encode("utf-8")).hexdigest()


def _q(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"not an identifier: {name!r}")
    return '"' + name + '"'


# ------------------------------------------------------------------------------------------------ publishing
def publish_if_ahead(cur: Any, folder: Path) -> Release | None:
    """Publish when the store moved on since ``CURRENT`` (or nothing is published). None when up to date."""
    release = current(folder)
    if release is not None and release.token == state_token(cur) and release.path.exists():
        return None
    return publish(cur, folder)


def publish(cur: Any, folder: Path, force: bool = False, keep: int = KEEP) -> Release:
    """Write the store's KB tables as a new release and point ``CURRENT`` at it. The caller holds the store lock.

    Same content as the current release → no new file; the pointer only records the new state token.
    Raises ``DiskFull`` (nothing half-written, the previous release stays current) when the disk is full."""
    folder = Path(folder)
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o755)   # readers (maybe another system user) list it
    clean_temps(folder)
    token = state_token(cur)
    now = current(folder)
    if now is not None and now.token == token and now.path.exists() and not force:
        return now
    digest = content_hash(cur)
    stamp = dt.datetime.now(dt.timezone.utc)
    if now is not None and now.sha256 == digest and now.path.exists() and not force:
        release = Release(now.release_id, now.file, now.seq, digest, token, now.published_at, folder)
        _write_pointer(release)
        return release
    seq = max([now.seq if now else 0] + [parse_id(rid)[1] for rid, _p in list_releases(folder)]) + 1
    release_id = f"{stamp:%Y-%m-%d}.{seq:04d}-{digest[:8]}"
    release = Release(release_id, release_id + ".duckdb", seq, digest, token,
                      stamp.isoformat(timespec="seconds"), folder)
    tmp = folder / f"{TEMP_PREFIX}{os.getpid()}-{release.file}"
    try:
        _write_release_file(cur, tmp, release)
        fsync_file(tmp)
        os.chmod(tmp, PUBLIC_FILE)
        os.replace(tmp, release.path)
        fsync_dir(folder)
        _write_pointer(release)
    except BaseException as exc:
        for leftover in (tmp, Path(str(tmp) + ".wal")):
            leftover.unlink(missing_ok=True)
        if is_disk_full(exc) and not isinstance(exc, DiskFull):
            raise DiskFull("the new release") from exc
        raise
    prune(folder, keep)
    return release


def _write_release_file(cur: Any, tmp: Path, release: Release) -> None:
    for leftover in (tmp, Path(str(tmp) + ".wal")):
        leftover.unlink(missing_ok=True)
    source = _q(cur.execute("SELECT current_database()").fetchone()[0])
    cur.execute("DETACH DATABASE IF EXISTS kb_release")
    cur.execute("ATTACH ? AS kb_release", [str(tmp)])
    try:
        for table in TABLES:
            cur.execute("CREATE TABLE kb_release." + _q(table) + " AS SELECT * FROM " + source + ".main." + _q(table))
        meta = dict(cur.execute("SELECT key, value FROM " + source + ".main.kb_meta WHERE key IN ("
                                + ", ".join("?" * len(PUBLIC_META)) + ")", list(PUBLIC_META)).fetchall())
        meta.update(release_id=release.release_id, published_at=release.published_at,
                    content_sha256=release.sha256, sequence=str(release.seq))
        cur.execute("CREATE TABLE kb_release.kb_meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
        cur.executemany("INSERT INTO kb_release.kb_meta VALUES (?, ?)", sorted(meta.items()))
        cur.execute("CHECKPOINT kb_release")
    finally:
        cur.execute("DETACH DATABASE IF EXISTS kb_release")
    if Path(str(tmp) + ".wal").exists():  # a checkpoint that did not finish: never publish half a file
        raise OSError("the release file was not fully checkpointed")


def _write_pointer(release: Release) -> None:
    write_atomic(release.folder / POINTER, (release.pointer_json() + "\n").encode("utf-8"))
    _POINTER_CACHE.pop(release.folder, None)


def prune(folder: Path, keep: int = KEEP) -> list[Path]:
    """Delete all but the newest ``keep`` releases (never the current one). Returns what was deleted."""
    now = current(folder)
    deleted = []
    for _rid, path in list_releases(folder)[keep:]:
        if now is not None and path.name == now.file:
            continue
        path.unlink(missing_ok=True)
        deleted.append(path)
    return deleted


def clean_temps(folder: Path) -> list[Path]:
    """Remove what an interrupted publish left (``.publishing-*``). Call with the store lock held."""
    removed = []
    for path in Path(folder).glob(TEMP_PREFIX + "*"):
        path.unlink(missing_ok=True)
        removed.append(path)
    for path in Path(folder).glob(f".{POINTER}.tmp-*"):
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed
