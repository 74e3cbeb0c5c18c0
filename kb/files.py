"""Writing files so that a crash or a full disk never leaves one half-written.

Every file the KB publishes or replaces goes through here: written under a temporary name in the same folder,
flushed to disk (``fsync``), renamed over the target (atomic on POSIX), then the folder itself is flushed so the
rename survives a power cut. A full disk (ENOSPC), a file-size limit (EFBIG) or a quota (EDQUOT) becomes
``DiskFull``, whose message is one plain sentence without server paths.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> write_atomic(folder / "CURRENT", b"2026-12-01.0001-3fa2c1d9")
>>> (folder / "CURRENT").read_bytes()
b'2026-12-01.0001-3fa2c1d9'
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# The errors that mean "no room to write": a full disk, a per-file size limit, a user's quota.
DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_DISK_FULL_TEXTS = tuple(os.strerror(e) for e in DISK_FULL_ERRNOS)  # what DuckDB puts in its messages

PRIVATE_DIR = 0o700    # folders holding editor accounts (password hashes) and their backups
PRIVATE_FILE = 0o600
PUBLIC_FILE = 0o644    # releases and data/ CSVs: readers (possibly another system user) read them


class DiskFull(Exception):
    """No space left to write. Nothing was changed; the message is for the person at the keyboard."""

    def __init__(self, what: str = "the change"):
        super().__init__(f"The server's disk is full, so {what} could not be written and nothing was changed. "
                         "Ask the administrator to free some space, then try again.")


def is_disk_full(exc: BaseException) -> bool:
    """True for an OSError or a DuckDB error caused by a full disk, a file-size limit or a quota.

    >>> is_disk_full(OSError(errno.ENOSPC, "No space left on device")), is_disk_full(ValueError("x"))
    (True, False)
    """
    if isinstance(exc, DiskFull):
        return True
    if isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS:
        return True
    text = str(exc)
    return any(t in text for t in _DISK_FULL_TEXTS)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename or a new file in it) to disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = PUBLIC_FILE) -> None:
    """Replace ``path`` by ``data`` all at once: temp file, fsync, rename, fsync the folder.

    On any failure (a full disk included) the old file is untouched and the temp file removed."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise DiskFull() from exc
        raise


def private_dir(folder: Path) -> Path:
    """Create (or tighten) a folder only its owner may enter: 0700."""
    folder.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(folder.stat().st_mode) != PRIVATE_DIR:
        os.chmod(folder, PRIVATE_DIR)
    return folder


def make_private(*paths: Path) -> None:
    """chmod 0600 every path that exists (the store, its write-ahead log, backups)."""
    for path in paths:
        try:
            if stat.S_IMODE(os.stat(path).st_mode) != PRIVATE_FILE:
                os.chmod(path, PRIVATE_FILE)
        except FileNotFoundError:
            pass
