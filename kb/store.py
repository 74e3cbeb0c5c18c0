"""The editorial store: the one DuckDB file editors write, opened per operation and never held.

It holds the working copy of every KB table plus the run-time tables (editors, login_attempts, proposals,
record_versions, pending_cleanup, kb_meta). Readers never open it: they read published releases
(``kb/releases.py``). The app, ``python -m kb add-editor``, ``export`` and ``build`` all reach it through ``Store``.

Lifecycle contract:

- ``Store(home)`` holds nothing until used. ``store.cursor()`` — what ``kb.edits`` and ``kb.auth`` call, exactly as
  on a DuckDB connection — opens ``$KB_HOME/editorial/editorial.duckdb`` under two locks: a ``threading`` lock for
  this process and ``fcntl.flock`` on ``editorial.lock`` for every other process. Cursors are counted; when the last
  one closes, the store publishes a release if the working copy moved on (``kb.releases.publish_if_ahead``), then
  closes DuckDB (which checkpoints) and drops the lock. So an accepted edit is published before ``accept`` returns,
  and a process killed between the commit and the publish is caught up by the next operation of any process.
- Opening costs ~30 ms (DuckDB starts an instance), so the connection lingers ``linger_s`` (0.3 s) after its last
  cursor: one editor-page rerun opens the store once, not once per query. Another process waiting for the lock
  flags it (a shared ``flock`` on ``editorial.waiting``), and a lingering holder then closes at once.
- A process that waits more than ``$KB_STORE_WAIT`` seconds (10) gets ``StoreBusy``, one plain sentence.
- ``with store.held():`` keeps the store open across several calls (one transaction and its follow-ups);
  ``with store.exclusive():`` holds the lock with the file closed, so ``kb build`` may replace it.
- A kill -9 never leaves a stale lock (the kernel drops ``flock`` with the process) and never loses a committed
  change (DuckDB replays its write-ahead log at the next open).
- The store, its WAL, lock and backups are private: the ``editorial/`` folder is 0700 and its files 0600
  (they hold password hashes).
- ``KB_READ_ONLY=1`` (a reader process) never opens the store: ``ReaderInstance``.

A PostgreSQL store could implement the same surface (``cursor()``, ``held()``, ``exclusive()``, ``publish()``)
with a connection pool and row locks; see README, "Serving many users".

>>> store = Store(Path(tempfile.mkdtemp()))        # doctest: +SKIP
>>> edits.accept(store, 12, "bob")                 # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import duckdb

from kb.config import kb_home, read_only, store_wait_seconds
from kb.files import DiskFull, is_disk_full, make_private, private_dir

log = logging.getLogger(__name__)

STORE_FILE = "editorial.duckdb"
LINGER_S = 0.3           # keep the connection this long after the last cursor closes (one page rerun = one open)
POLL_S = 0.01            # how often a waiting process retries the lock


class StoreError(Exception):
    """The store cannot be used right now; ``str(exc)`` is a sentence for the person at the keyboard."""


class StoreBusy(StoreError):
    def __init__(self, seconds: float):
        super().__init__(f"The editorial store is busy: another program (the editor app, or a `python -m kb` "
                         f"command) has been writing to it for more than {seconds:g} s. Try again in a moment.")


class StoreMissing(StoreError):
    def __init__(self) -> None:
        super().__init__("There is no editorial store yet: run `python -m kb build` (or `make run`) first.")


class ReaderInstance(StoreError):
    def __init__(self) -> None:
        super().__init__("This is a reader instance (KB_READ_ONLY=1): it never opens the editorial store. "
                         "Edits are made on the one editor instance.")


class Store:
    """The editorial store of one ``$KB_HOME``. Use ``get_store()``: one object per folder and process."""

    def __init__(self, home: Path | str, releases: Path | str | None = None, wait_s: float | None = None,
                 linger_s: float = LINGER_S, publish: bool = True):
        self.home = Path(home)
        self.folder = self.home / "editorial"
        self.path = self.folder / STORE_FILE
        self.wal = self.folder / (STORE_FILE + ".wal")
        self.lock_path = self.folder / "editorial.lock"
        self.waiting_path = self.folder / "editorial.waiting"
        self.backups = self.folder / "backups"
        self.releases = Path(releases) if releases else self.home / "releases"
        self.wait_s = store_wait_seconds() if wait_s is None else wait_s
        self.linger_s = linger_s
        self.publish_enabled = publish
        self.last_release: str | None = None      # id of the last release this process published or confirmed
        self.publish_error: str | None = None     # why the last automatic publish failed (None when it worked)
        self.opens = 0                            # how many times DuckDB was opened (tests and the bench read it)
        self._cond = threading.Condition(threading.RLock())
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock_fd: int | None = None
        self._users = 0
        self._gen = 0
        self._broken = False
        self._exclusive: int | None = None        # thread id holding exclusive()

    def __repr__(self) -> str:
        return f"Store({str(self.home)!r})"

    def exists(self) -> bool:
        return self.path.exists()

    # -------------------------------------------------------------------------------------------- using it
    def cursor(self) -> "StoreCursor":
        """A cursor on the open store (opening it under the locks if needed). Close it when done."""
        con = self._acquire()
        try:
            with self._cond:
                cur = con.cursor()
        except BaseException:
            self._release()
            raise
        return StoreCursor(self, cur)

    def execute(self, sql: str, params: Any = None) -> "StoreCursor":
        """Run one statement on a new cursor and return it (to fetch from; it closes when dropped)."""
        cur = self.cursor()
        try:
            return cur.execute(sql, params)
        except BaseException:
            cur.close()
            raise

    @contextmanager
    def held(self) -> Iterator["Store"]:
        """Keep the store open across several calls (they share one open and one lock)."""
        self._acquire()
        try:
            yield self
        finally:
            self._release()

    def __enter__(self) -> "Store":
        """``with store:`` is ``with store.held():``."""
        self._acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._release()

    @contextmanager
    def exclusive(self) -> Iterator["Store"]:
        """Hold the lock with the file closed (to replace or back it up). Re-entrant in one thread; cursors taken
        inside open the file and close it again when they are done, and nothing is published automatically."""
        me = threading.get_ident()
        with self._cond:
            while self._exclusive not in (None, me):
                self._cond.wait()
            outer = self._exclusive is None
            if outer:
                self._exclusive = me
                while self._users:
                    self._cond.wait()
                self._close(keep_lock=True)
                try:
                    self._take_lock()
                except BaseException:
                    self._exclusive = None
                    self._cond.notify_all()
                    raise
        try:
            yield self
        finally:
            if outer:
                with self._cond:
                    self._close()
                    self._exclusive = None
                    self._cond.notify_all()

    def publish(self, force: bool = False):
        """Publish the working copy now (``force``: even when the current release already has it)."""
        from kb import releases

        with self.held():
            with self._cond:
                cur = self._con.cursor()
            try:
                release = releases.publish(cur, self.releases, force=force)
            finally:
                cur.close()
        self.last_release, self.publish_error = release.release_id, None
        return release

    def publish_if_ahead(self) -> str | None:
        """Publish now if the working copy moved on (what ``accept`` calls before it returns, so the release id it
        reports is the one readers get even when other sessions keep the store open). Failures are kept in
        ``publish_error`` (the change is committed; a later operation publishes it). Returns the current id."""
        with self.held(), self._cond:
            self._publish_if_ahead()
        return self.last_release

    def close(self) -> None:
        """Close the connection now if nobody uses it (it would close after lingering anyway). Idempotent."""
        with self._cond:
            if not self._users and self._exclusive is None:
                self._close()

    # -------------------------------------------------------------------------------------------- internals
    def _acquire(self) -> duckdb.DuckDBPyConnection:
        me = threading.get_ident()
        with self._cond:
            while self._exclusive not in (None, me):
                self._cond.wait()
            if self._con is None:
                self._open()
            self._users += 1
            self._gen += 1
            return self._con

    def _release(self) -> None:
        with self._cond:
            self._users -= 1
            if self._users:
                return
            self._cond.notify_all()
            if self._exclusive is not None:
                self._close(keep_lock=True)
                return
            if self.publish_enabled and not self._broken:
                self._publish_if_ahead()
            self._gen += 1
            if self._broken or self.linger_s <= 0 or self._someone_waits():
                self._close()
            else:
                self._linger(self._gen, time.monotonic() + self.linger_s)

    def _publish_if_ahead(self) -> None:
        from kb import releases

        try:
            cur = self._con.cursor()
            try:
                release = releases.publish_if_ahead(cur, self.releases)
            finally:
                cur.close()
        except Exception as exc:  # the change is committed; the next operation publishes again
            self.publish_error = str(DiskFull("the new release")) if is_disk_full(exc) else \
                f"Publishing the new release failed ({type(exc).__name__}); the next change will try again."
            log.warning("publishing failed: %s", exc)
            if "invalidated" in str(exc):
                self._broken = True
            return
        self.publish_error = None
        release = release or releases.current(self.releases)
        if release is not None:
            self.last_release = release.release_id

    def _linger(self, gen: int, until: float) -> None:
        def tick() -> None:
            with self._cond:
                if self._gen != gen or self._users or self._con is None or self._exclusive is not None:
                    return
                if time.monotonic() >= until or self._someone_waits():
                    self._close()
                    return
            self._linger(gen, until)

        timer = threading.Timer(min(0.05, max(0.0, until - time.monotonic())), tick)
        timer.daemon = True
        timer.start()

    def _open(self) -> None:
        if read_only():
            raise ReaderInstance()
        if not self.path.exists():
            raise StoreMissing()
        held_before = self._lock_fd is not None
        self._take_lock()
        if not held_before:
            self._clean_leftovers()
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                self._con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as exc:
                # another program opened the file without our lock (a notebook, an old app): wait like for the lock
                if "lock" in str(exc).lower() and time.monotonic() < deadline:
                    time.sleep(POLL_S * 5)
                    continue
                if not held_before:
                    self._drop_lock()
                if is_disk_full(exc):
                    raise DiskFull() from exc
                if "lock" in str(exc).lower():
                    raise StoreBusy(self.wait_s) from exc
                raise
            except BaseException:
                if not held_before:
                    self._drop_lock()
                raise
        self.opens += 1
        self._broken = False
        _private_umask(+1)   # DuckDB creates the WAL (password hashes in it) on the first write: 0600
        make_private(self.path, self.wal)

    def _clean_leftovers(self) -> None:
        """Files a killed ``kb build`` left (we hold the lock, so nobody is writing them)."""
        for suffix in (".building", ".building.wal", ".adopting"):
            (self.folder / (STORE_FILE + suffix)).unlink(missing_ok=True)

    def _close(self, keep_lock: bool = False) -> None:
        if self._con is not None:
            try:
                self._con.close()      # checkpoints; on failure the WAL keeps every committed change
            except duckdb.Error as exc:
                log.warning("closing the editorial store: %s", exc)
            self._con = None
            _private_umask(-1)
            make_private(self.path, self.wal)
        if not keep_lock:
            self._drop_lock()

    def _take_lock(self) -> None:
        if self._lock_fd is not None:
            return
        private_dir(self.folder)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        waiting = None
        deadline = time.monotonic() + self.wait_s
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if waiting is None:   # tell a lingering holder to let go now
                        waiting = os.open(self.waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
                        fcntl.flock(waiting, fcntl.LOCK_SH)
                    if time.monotonic() >= deadline:
                        raise StoreBusy(self.wait_s) from None
                    time.sleep(POLL_S)
        except BaseException:
            os.close(fd)
            raise
        finally:
            if waiting is not None:
                os.close(waiting)
        self._lock_fd = fd

    def _drop_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)   # closing the descriptor releases the flock
            self._lock_fd = None

    def _someone_waits(self) -> bool:
        try:
            fd = os.open(self.waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)


_UMASK_LOCK = threading.Lock()
_UMASK_STATE = {"users": 0, "saved": 0o022}


def _private_umask(delta: int) -> None:
    """While any store is open in this process, files are created 0600/0700 (umask 077): DuckDB creates the
    write-ahead log itself. Files meant for others (releases, data/ CSVs) are chmod'ed explicitly."""
    with _UMASK_LOCK:
        before = _UMASK_STATE["users"]
        _UMASK_STATE["users"] = max(0, before + delta)
        if before == 0 and delta > 0:
            _UMASK_STATE["saved"] = os.umask(0o077)
        elif before > 0 and _UMASK_STATE["users"] == 0:
            os.umask(_UMASK_STATE["saved"])


class StoreCursor:
    """A DuckDB cursor on the store that gives the store back when closed (or dropped). Everything else —
    ``fetchone``, ``fetchall``, ``df``, ``description``, ``register`` — is the DuckDB cursor's own."""

    def __init__(self, store: Store, cur: duckdb.DuckDBPyConnection):
        self._store = store
        self._cur = cur
        self._closed = False

    def execute(self, sql: str, params: Any = None) -> "StoreCursor":
        try:
            if params is None:
                self._cur.execute(sql)
            else:
                self._cur.execute(sql, params)
        except duckdb.Error as exc:
            if "invalidated" in str(exc):
                self._store._broken = True
            if is_disk_full(exc):
                self._store._broken = True   # reopen next time: DuckDB may have invalidated the instance
                raise DiskFull() from exc
            raise
        return self

    def executemany(self, sql: str, params: Any) -> "StoreCursor":
        try:
            self._cur.executemany(sql, params)
        except duckdb.Error as exc:
            if is_disk_full(exc):
                self._store._broken = True
                raise DiskFull() from exc
            raise
        return self

    def cursor(self) -> "StoreCursor":
        return self._store.cursor()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._cur.close()
        except duckdb.Error:
            pass
        finally:
            self._store._release()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._cur, name)
        if not callable(attr):
            return attr

        def call(*args: Any, _keep: "StoreCursor" = self, **kwargs: Any) -> Any:
            # holds the cursor until the call returns: `store.execute(sql).fetchone()` drops it only afterwards
            return attr(*args, **kwargs)

        return call

    def __enter__(self) -> "StoreCursor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


# ------------------------------------------------------------------------------------------------ one per folder
_STORES: dict[Path, Store] = {}
_REGISTRY = threading.Lock()


def get_store(home: Path | str | None = None, releases: Path | str | None = None) -> Store:
    """The store of ``home`` (default ``$KB_HOME``) for this process — always the same object, because two
    objects on one folder would wait for each other's lock.

    ``releases`` defaults to ``$KB_RELEASES`` when ``home`` is the default, else to ``home/releases``."""
    from kb.config import releases_dir

    home_path = Path(home) if home else kb_home()
    if releases is None:
        releases = releases_dir() if home is None else Path(home_path) / "releases"
    key = home_path.resolve()
    with _REGISTRY:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store(home_path, releases)
        else:
            store.releases = Path(releases)
        return store


@atexit.register
def _close_all() -> None:
    """At exit, close what lingers (a clean checkpoint instead of a WAL for the next open to replay)."""
    for store in list(_STORES.values()):
        try:
            store.close()
        except Exception:  # noqa: BLE001 - exiting anyway
            pass


def publish_if_ahead(con: Any) -> None:
    """After a write: publish at once when ``con`` is the editorial store (nothing for a plain connection)."""
    if isinstance(con, Store) and con.publish_enabled:
        con.publish_if_ahead()


def holding(con: Any):
    """``con.held()`` for a Store, a do-nothing context for a plain DuckDB connection (tests, one-off scripts)."""
    from contextlib import nullcontext

    return con.held() if isinstance(con, Store) else nullcontext()
