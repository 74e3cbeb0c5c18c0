"""Many processes at once, as a cancer centre deploys it: real `streamlit run` servers, the command line beside them.

- While an editor instance serves (and keeps opening the editorial store, as its editor page does on every rerun),
  `kb search --json`, `kb add-editor` (password on standard input), `kb remove-editor`, `kb check` and `kb export`
  all work.
- Three reader servers (KB_READ_ONLY=1) and one editor server over one release folder: an edit accepted in the
  editor (in a real browser) shows on all three readers within 5 s — the new release id in the footer and the new
  value on the page (a new source: Home counts one more) — while `kb search` and `kb add-editor` run at the same
  time.

Readers are read headlessly over Streamlit's own websocket protocol (bench/servers.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from editing_fixtures import PASSWORDS, template_db  # noqa: F401

from bench.servers import Reader, serve
from kb import auth, edits
from kb.releases import current
from kb.store import get_store

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VISIBLE_WITHIN_S = 5.0
NEW_SOURCE = {"source_id": "ed_readers2026", "cited_in": "editor", "title": "Three readers see this accepted edit",
              "year": "2026", "pub_type": "review", "verification": "unverified"}

pytestmark = pytest.mark.slow


@pytest.fixture
def instance(template_db, tmp_path, monkeypatch):
    """A private editor instance (store + releases) with alice, bob and carol."""
    monkeypatch.setattr(auth, "SCRYPT_N", 2**10)
    home = tmp_path / "home"
    shutil.copytree(template_db, home)
    store = get_store(home)
    with store.held():
        for name, password in PASSWORDS.items():
            auth.add_editor(store, name, password)
    store.close()
    yield home
    store.close()


def kb(home: Path, *args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """`python -m kb ARGS` in its own process, as an administrator would type it beside the app."""
    full_env = {**os.environ, "KB_HOME": str(home), "PYTHONPATH": str(ROOT), **env}
    full_env.pop("KB_READ_ONLY", None)
    return subprocess.run([sys.executable, "-m", "kb", *args], cwd=ROOT, env=full_env, input=stdin or "",
                          capture_output=True, text=True, timeout=120)


class Hammer(threading.Thread):
    """Reruns one page of a server again and again (a user clicking around) until stopped."""

    def __init__(self, url: str, page: str):
        super().__init__(daemon=True)
        self.url, self.page, self.runs, self.errors = url, page, 0, []
        self._halt = threading.Event()

    def run(self) -> None:
        try:
            with Reader(self.url) as tab:
                while not self._halt.is_set():
                    tab.run(self.page)
                    self.runs += 1
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def stop(self) -> None:
        self._halt.set()
        self.join(30)


def test_the_command_line_works_while_the_app_serves(instance, tmp_path, data_copy):
    store = get_store(instance)
    raw = edits.as_form(edits.load_record(store, "sources", "ref028"))
    raw["sources"][0]["note"] = "exported while the app serves"
    edits.accept(store, edits.propose_update(store, "alice", "sources", "ref028", raw, 0, "from the paper"), "bob")
    store.close()
    with serve({"KB_HOME": instance, "KB_READ_ONLY": None, "KB_DB": None}, tmp_path / "editor.log") as url:
        editor_page = Hammer(url, "editor")   # every rerun of the editor page opens the editorial store
        editor_page.start()
        try:
            time.sleep(1)
            found = kb(instance, "search", "N0574", "--json")
            assert found.returncode == 0, found.stderr
            assert any("ref028" == hit["source_id"] for hit in json.loads(found.stdout))
            added = kb(instance, "add-editor", "dana", stdin="dana's long password\n")
            assert added.returncode == 0 and "Editor dana created" in added.stdout, added.stderr
            removed = kb(instance, "remove-editor", "carol")
            assert removed.returncode == 0 and "can no longer sign in" in removed.stdout, removed.stderr
            checked = kb(instance, "check")
            assert checked.returncode == 0 and "data/ is valid" in checked.stdout, checked.stderr
            exported = kb(instance, "export", "--data-dir", str(data_copy))
            assert exported.returncode == 0 and "sources.csv" in exported.stdout, exported.stderr
        finally:
            editor_page.stop()
    assert editor_page.errors == [] and editor_page.runs >= 2
    assert "exported while the app serves" in (data_copy / "sources.csv").read_text(encoding="utf-8")
    with store.held():
        assert auth.sign_in(store, "dana", "dana's long password").ok
        assert not auth.is_editor(store, "carol")


def test_an_edit_accepted_in_the_editor_shows_on_three_readers_within_5_s(instance, tmp_path):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (CI is set: install Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the editor side of this test")
    from playwright.sync_api import expect, sync_playwright

    store = get_store(instance)
    proposal = edits.propose_create(store, "alice", "sources", {"sources": [NEW_SOURCE]}, "a new paper",
                                    confirm_duplicates=True)
    sources_before = store.execute("SELECT count(*) FROM sources").fetchone()[0]
    store.close()
    before = current(store.releases).release_id
    readers_env = {"KB_READ_ONLY": "1", "KB_RELEASES": instance / "releases", "KB_HOME": tmp_path / "no-store",
                   "KB_DB": None}
    with contextlib_exit_stack() as stack:
        urls = list(ThreadPoolExecutor(4).map(
            lambda i: stack.enter_context(serve(readers_env if i else {"KB_HOME": instance, "KB_READ_ONLY": None,
                                                                       "KB_DB": None}, tmp_path / f"server{i}.log")),
            range(4)))
        editor_url, reader_urls = urls[0], urls[1:]
        tabs = [stack.enter_context(Reader(url)) for url in reader_urls]
        for tab in tabs:
            first = tab.run()
            assert first.release_id == before and f"Sources: {sources_before:,}" in first.texts

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(editor_url + "/editor")
            page.get_by_role("textbox", name="Editor name").fill("bob")
            page.get_by_role("textbox", name="Password").fill(PASSWORDS["bob"])
            page.get_by_role("button", name="Sign in", exact=True).click()
            page.get_by_role("tab", name="Review queue (1)").click()
            # the command line at the same time: a search and a new account
            search = threading.Thread(target=lambda: results.append(kb(instance, "search", "N0574", "--json")))
            account = threading.Thread(target=lambda: results.append(
                kb(instance, "add-editor", "erin", stdin="erin's long password\n")))
            results: list[subprocess.CompletedProcess] = []
            search.start()
            account.start()
            page.get_by_role("button", name="Accept").click()
            expect(page.get_by_text(f"Accepted proposal #{proposal}")).to_be_visible(timeout=60_000)
            accepted_at = time.monotonic()
            browser.close()

        after = current(store.releases).release_id
        assert after != before

        def until_visible(tab: Reader) -> float:
            while time.monotonic() - accepted_at < 30:
                run = tab.run()   # Home: the footer and the number of sources
                if run.release_id == after and f"Sources: {sources_before + 1:,}" in run.texts:
                    return time.monotonic() - accepted_at
                time.sleep(0.1)
            raise AssertionError("the reader never showed the accepted edit")

        delays = list(ThreadPoolExecutor(3).map(until_visible, tabs))
        search.join(120)
        account.join(120)
    assert max(delays) < VISIBLE_WITHIN_S, delays
    assert [r.returncode for r in results] == [0, 0], [r.stderr for r in results]
    print(f"accept → visible on 3 readers: {', '.join(f'{d:.2f} s' for d in delays)}")


def contextlib_exit_stack():
    import contextlib

    return contextlib.ExitStack()
