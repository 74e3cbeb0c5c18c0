"""A full disk during accept, publish, build or export: one plain sentence, nothing half-written, nothing lost.

The disk is "filled" portably in a subprocess: ``RLIMIT_FSIZE`` caps the size of every file it writes, with
SIGXFSZ ignored, so writes past the cap fail with EFBIG — as they would with ENOSPC on a full disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from editing_fixtures import PASSWORDS, cheap_scrypt, econ, editor_db, template_db  # noqa: F401
from streamlit.testing.v1 import AppTest

from kb import edits, export
from kb.files import DiskFull
from kb.releases import current

ROOT = Path(__file__).resolve().parent.parent
FULL = ("The server's disk is full, so {what} could not be written and nothing was changed. Ask the administrator "
        "to free some space, then try again.")

CHILD = r"""
import json, resource, signal, sys
from pathlib import Path
from kb import edits, export
from kb.files import DiskFull
from kb.rebuild import rebuild_store
from kb.store import get_store
what, home, limit, arg = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
store = get_store(home)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))   # from here on, the disk is full
try:
    if what == "accept":
        edits.accept(store, int(arg), "bob")
    elif what == "export":
        export.export(store, Path(arg))
    else:
        rebuild_store(store, Path(arg))
    print(json.dumps({"raised": None, "publish_error": store.publish_error}))
except DiskFull as exc:
    print(json.dumps({"raised": str(exc)}))
"""


def with_full_disk(what: str, home: Path, arg: str, limit: int = 0) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, what, str(home), str(limit), arg], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def proposal(con) -> int:
    raw = edits.as_form(edits.load_record(con, "sources", "ref028"))
    raw["sources"][0]["note"] = "written on a full disk?"
    return edits.propose_update(con, "alice", "sources", "ref028", raw, 0, "from the paper")


def leftovers(econ) -> list[str]:
    return sorted(p.name for p in list(econ.folder.glob("*.building*")) + list(econ.releases.glob(".*")))


def test_an_accept_on_a_full_disk_says_so_and_changes_nothing(econ):
    pid = proposal(econ)
    before = current(econ.releases).release_id
    econ.close()
    result = with_full_disk("accept", econ.home, str(pid))
    assert result["raised"] == FULL.format(what="the change")
    assert edits.get_proposal(econ, pid).status == "pending"
    assert econ.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
    assert econ.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] is None
    assert current(econ.releases).release_id == before and leftovers(econ) == []
    edits.accept(econ, pid, "bob")            # with space again, the same proposal goes through
    assert current(econ.releases).release_id != before


def test_a_publish_on_a_full_disk_keeps_the_accepted_edit_and_publishes_it_later(econ):
    pid = proposal(econ)
    before = current(econ.releases).release_id
    econ.close()
    result = with_full_disk("accept", econ.home, str(pid), limit=2 * 1024 * 1024)   # the WAL fits, a release not
    assert result["raised"] is None and result["publish_error"] == FULL.format(what="the new release")
    assert econ.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 1         # committed: never lost
    assert leftovers(econ) == []
    after = current(econ.releases)                          # the next operation with space publishes it
    assert after.release_id != before


def test_an_export_on_a_full_disk_leaves_data_untouched(econ, data_copy):
    edits.accept(econ, proposal(econ), "bob")
    before = {p.name: p.read_bytes() for p in data_copy.glob("*.csv")}
    econ.close()
    result = with_full_disk("export", econ.home, str(data_copy))
    assert result["raised"] == FULL.format(what="the export")
    assert {p.name: p.read_bytes() for p in data_copy.glob("*.csv")} == before
    assert not export.staging_dir(data_copy).exists()
    assert export.export(econ, data_copy).changes == 1       # nothing was recorded as exported


def test_a_build_on_a_full_disk_keeps_the_old_store(econ, data_copy):
    edits.accept(econ, proposal(econ), "bob")
    release = current(econ.releases).release_id
    econ.close()
    result = with_full_disk("build", econ.home, str(data_copy))
    assert result["raised"] and result["raised"].startswith("The server's disk is full, so the ")
    assert econ.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] == \
        "written on a full disk?"
    assert current(econ.releases).release_id == release and leftovers(econ) == []
    assert not list(econ.backups.glob(".*"))


def test_the_build_command_on_a_full_disk_prints_one_sentence(econ):
    econ.close()
    code = ("import resource, runpy, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY)); "
            "sys.argv = ['kb', 'build', '--home', sys.argv[1]]; runpy.run_module('kb', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code, str(econ.home)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 1
    assert done.stderr.strip().startswith("The server's disk is full") and "Traceback" not in done.stderr
    assert str(ROOT) not in done.stderr and str(econ.home) not in done.stderr


def test_the_editor_page_says_a_full_disk_in_a_sentence(econ, monkeypatch):
    pid = proposal(econ)

    def full(*args, **kwargs):
        raise DiskFull()

    monkeypatch.setattr(edits, "accept", full)
    at = AppTest.from_file(str(ROOT / "pages/editor.py"), default_timeout=60).run()
    next(t for t in at.text_input if t.label == "Editor name").input("bob")
    next(t for t in at.text_input if t.label == "Password").input(PASSWORDS["bob"])
    next(b for b in at.button if b.label == "Sign in").click().run()
    next(b for b in at.button if b.label == "Accept").click().run()
    assert not at.exception
    assert [e.value.replace("\\", "") for e in at.error] == [FULL.format(what="the change")]
    assert edits.get_proposal(econ, pid).status == "pending"
