"""One real-browser test of a full edit: alice signs in and proposes, bob signs in and accepts, readers see it.

Drives Debian's chromium through Playwright against `streamlit run app.py` on a private database. Skipped with a
message when chromium is missing, unless CI is set (then it fails).
"""

from __future__ import annotations

import pytest
from editing_fixtures import PASSWORDS, cheap_scrypt, editor_db, home_of, template_db  # noqa: F401
from test_browser import CHROMIUM, CHROMIUM_ARGS, _require_chromium

from bench import servers
from kb.store import get_store

NEW_RESULT = "Memantine delayed cognitive decline (browser test) <b>bold?</b> [open](javascript:alert(4))"
PAYLOAD = "XSS-7 <script>alert(1)</script><img src=x onerror=alert(2)> [open](javascript:alert(3))"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def chromium():
    _require_chromium()   # skipped with a message without Debian's chromium; a failure when CI is set
    return CHROMIUM


@pytest.fixture
def server(editor_db):
    """`streamlit run app.py` as the editor instance of the private instance folder."""
    with servers.serve({"KB_HOME": str(home_of(editor_db)), "KB_READ_ONLY": None, "KB_DB": None, "KB_RELEASES": None},
                       editor_db.parent / "streamlit.log", timeout_s=60) as url:
        yield url


def sign_in(page, url: str, name: str) -> None:
    page.goto(url + "/editor")
    page.get_by_role("textbox", name="Editor name").fill(name)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[name])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.get_by_text(f"Signed in as {name}").wait_for()


def choose(page, label: str, typed: str) -> None:
    """Type into a select box and pick the first option that contains the typed text."""
    box = page.get_by_role("combobox", name=label, exact=True).first
    box.click()
    box.fill(typed)
    page.get_by_role("option").filter(has_text=typed).first.click()


def test_an_editor_proposes_another_accepts_and_readers_see_it(chromium, server, editor_db):
    from playwright.sync_api import expect, sync_playwright

    url = server
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        # a reader sees no edit controls
        page.goto(url + "/editor")
        expect(page.get_by_text("Reading needs no account")).to_be_visible()
        expect(page.get_by_role("button", name="Save as proposal")).to_have_count(0)

        # alice edits RTOG 0614's key result (a study form: fields plus arm/outcome tables) with a reason;
        # both carry HTML, a script and a javascript: link
        sign_in(page, url, "alice")
        choose(page, "Record type", "Studies")
        choose(page, "Record", "rtog0614")
        page.get_by_role("textbox", name="Key result (in our own words)").fill(NEW_RESULT)
        page.get_by_role("textbox", name="Reason for this change *").fill(PAYLOAD)
        page.get_by_role("button", name="Save as proposal").click()
        expect(page.get_by_text("Saved as proposal #1")).to_be_visible()
        page.goto(url + "/explorer?study=rtog0614")
        expect(page.get_by_text("RTOG 0614 (memantine with WBRT)").first).to_be_visible()
        expect(page.get_by_text(NEW_RESULT)).to_have_count(0)          # readers see only accepted data

        # bob reviews: the reason shows literally, nothing runs, and he accepts
        sign_in(page, url, "bob")
        page.get_by_role("tab", name="Review queue (1)").click()
        expect(page.get_by_text("Reason: " + PAYLOAD)).to_be_visible()
        page.get_by_role("textbox", name="Review comment (required to reject)").fill("checked")
        page.get_by_role("button", name="Accept").click()
        expect(page.get_by_text("Accepted proposal #1")).to_be_visible()

        # a reader sees the new key result, as text
        page.goto(url + "/explorer?study=rtog0614")
        expect(page.get_by_text(NEW_RESULT)).to_be_visible()
        injected = page.evaluate("[document.querySelectorAll('img[src=\"x\"]').length, "
                                 "[...document.querySelectorAll('a')].filter(a => a.href.startsWith('javascript:'))"
                                 ".length]")
        assert injected == [0, 0]
        browser.close()
    assert dialogs == []

    # the store, read as the command line reads it while the app serves
    store = get_store(home_of(editor_db))
    try:
        with store.held():
            assert store.execute("SELECT key_result FROM studies WHERE study_id = 'rtog0614'").fetchone()[0] \
                == NEW_RESULT
            assert store.execute("SELECT editor, reviewer, reason FROM audit_log").fetchall() == [
                ("alice", "bob", PAYLOAD)]
    finally:
        store.close()


# An attacker's page: whatever it would send, it presents the stolen session id instead.
PRESENT_SESSION_ID = """
const RealWebSocket = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const list = [...(protocols || [])];
  while (list.length < 2) list.push('PLACEHOLDER_AUTH_TOKEN');
  list[2] = '%s';
  return new RealWebSocket(url, list);
};
window.WebSocket.prototype = RealWebSocket.prototype;
Object.assign(window.WebSocket, RealWebSocket);
"""


def session_ids(page) -> list[str]:
    """Collect the Streamlit session ids the server announces to ``page`` (as an attacker sniffing it would)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    found: list[str] = []

    def read(payload):
        if isinstance(payload, (bytes, bytearray)):
            message = ForwardMsg()
            message.ParseFromString(bytes(payload))
            if message.HasField("new_session") and message.new_session.initialize.session_id:
                found.append(message.new_session.initialize.session_id)

    page.on("websocket", lambda ws: ws.on("framereceived", read))
    return found


def test_a_stolen_session_id_from_another_browser_gets_the_sign_in_form(chromium, server):
    """Alice signs in; a second browser with none of her cookies presents her tab's Streamlit session id: it gets
    the sign-in form, never her workspace — and the session it re-attached is signed out."""
    from playwright.sync_api import expect, sync_playwright

    url = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        alice = browser.new_context().new_page()
        alice.set_default_timeout(20_000)
        ids = session_ids(alice)
        sign_in(alice, url, "alice")
        assert ids and len(set(ids)) == 1
        stolen = ids[0]

        thief_context = browser.new_context()              # none of alice's cookies
        thief_context.add_init_script(PRESENT_SESSION_ID % stolen)
        thief = thief_context.new_page()
        thief.set_default_timeout(20_000)
        thief_ids = session_ids(thief)
        thief.goto(url + "/editor")
        expect(thief.get_by_role("textbox", name="Editor name")).to_be_visible()
        assert thief_ids == [stolen]                       # the server did re-attach alice's session
        expect(thief.get_by_text("Signed in as alice")).to_have_count(0)
        expect(thief.get_by_role("button", name="Save as proposal")).to_have_count(0)
        browser.close()
