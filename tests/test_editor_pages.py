"""AppTest: what readers and editors see on the editor page — sign-in, propose, accept, reject, conflict, revert,
import — and stored HTML / script / javascript: payloads shown inert on every page."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from editing_fixtures import PASSWORDS, cheap_scrypt, econ, editor_db, template_db  # noqa: F401
from streamlit.testing.v1 import AppTest

from kb import edits, queries

ROOT = Path(__file__).resolve().parent.parent
EDITOR = str(ROOT / "pages/editor.py")
TIMEOUT = 60


def editor_page() -> AppTest:
    return AppTest.from_file(EDITOR, default_timeout=TIMEOUT)


def signed_in(name: str) -> AppTest:
    at = editor_page().run()
    name_box = next(t for t in at.text_input if t.label == "Editor name")
    password_box = next(t for t in at.text_input if t.label == "Password")
    name_box.input(name)
    password_box.input(PASSWORDS[name])
    button(at, "Sign in").click().run()
    assert not at.exception
    return at


def button(at: AppTest, label: str, nth: int = 0):
    return [b for b in at.button if b.label == label][nth]


def field(at: AppTest, label: str):
    """A text input or text area by its label (required fields end with ' *')."""
    return next(w for w in list(at.text_input) + list(at.text_area) if w.label in (label, label + " *"))


def texts(at: AppTest, kind: str) -> list[str]:
    return [e.value for e in getattr(at, kind)]


def open_record(at: AppTest, kind: str, record_id: str, mode: str = "Edit") -> AppTest:
    at.selectbox(key="kind").select(kind).run()
    at.radio(key="mode").set_value(mode).run()
    at.selectbox(key="pick:" + kind).select(record_id).run()
    assert not at.exception
    return at


def propose_note(at: AppTest, note: str, reason: str = "from the full text") -> AppTest:
    field(at, "Curator's note").input(note)
    field(at, "Reason for this change").input(reason)
    button(at, "Save as proposal").click().run()
    assert not at.exception
    return at


# ------------------------------------------------------------------------------------------------ readers
def test_readers_see_an_explanation_and_a_sign_in_form_only(editor_db):
    at = editor_page().run()
    assert not at.exception
    assert "Reading needs no account" in at.markdown[0].value
    assert [t.label for t in at.text_input] == ["Editor name", "Password"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.tabs) == 0 and not at.text_area and not at.selectbox


def test_no_other_page_offers_edit_controls():
    for page in (ROOT / "pages").glob("*.py"):
        if page.name != "editor.py":
            source = page.read_text(encoding="utf-8")
            assert "kb.edits" not in source and "from kb import edits" not in source, page.name


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(editor_db):
    at = editor_page().run()
    field(at, "Editor name").input("alice")
    field(at, "Password").input("not the password")
    button(at, "Sign in").click().run()
    assert texts(at, "error") == ["Wrong name or password."]
    assert not at.tabs
    at = signed_in("alice")
    assert at.markdown[0].value.startswith("Signed in as **alice**")
    assert [t.label for t in at.tabs][:2] == ["Propose a change", "Review queue (0)"]


def test_read_only_instances_say_editing_is_disabled(editor_db, monkeypatch):
    monkeypatch.setenv("KB_READ_ONLY", "1")
    at = editor_page().run()
    assert "Editing is disabled on this instance" in at.info[0].value
    assert not at.text_input and not at.button


def test_with_an_oidc_provider_configured_the_provider_button_replaces_the_password_form(editor_db):
    at = editor_page()
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "s",
                          "server_metadata_url": "https://example.org/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in with your organisation's account"]
    assert not at.text_input


# ------------------------------------------------------------------------------------------------ propose, review
def test_an_editor_proposes_a_change_and_readers_do_not_see_it_yet(econ):
    at = open_record(signed_in("alice"), "sources", "ref028")
    assert "as released — no accepted change yet" in at.caption[0].value and "Version" not in at.caption[0].value
    propose_note(at, "Primary report of N0574")
    assert texts(at, "success")[0].startswith("Saved as proposal #")
    assert queries.sources(econ, text="ref028")["note"].isna().all()
    assert "Review queue (1)" in [t.label for t in at.tabs]
    assert "Your proposal — another editor must review it." in texts(at, "caption")
    assert not [b for b in at.button if b.label == "Accept"]


def test_a_form_with_a_mistake_shows_the_clinician_message_under_the_field(econ):
    schedule = econ.execute("SELECT schedule_id FROM dose_schedules WHERE fractions = 1 LIMIT 1").fetchone()[0]
    at = open_record(signed_in("alice"), "dose_schedules", schedule)
    field(at, "Total dose (Gy)").input("30")
    field(at, "Reason for this change").input("dose from table 1")
    button(at, "Save as proposal").click().run()
    errors = texts(at, "error")
    assert errors[0].startswith("Not saved — 1 problem(s)")
    assert any("30 Gy in one fraction is above the 24 Gy single-fraction maximum in the dose table (RTOG 90-05) — "
               "check the fractions" == unescape(e) for e in errors)
    assert econ.execute("SELECT count(*) FROM proposals").fetchone()[0] == 0


def test_a_change_without_a_reason_is_not_saved(econ):
    at = open_record(signed_in("alice"), "sources", "ref028")
    field(at, "Curator's note").input("a note")
    button(at, "Save as proposal").click().run()
    assert any("every change needs a reason" in e for e in texts(at, "error"))
    assert econ.execute("SELECT count(*) FROM proposals").fetchone()[0] == 0


def test_another_editor_accepts_and_readers_see_the_change(econ):
    propose_note(open_record(signed_in("alice"), "sources", "ref028"), "Primary report of N0574")
    reader = AppTest.from_file(str(ROOT / "pages/sources.py"), default_timeout=TIMEOUT)
    reader.query_params["q"] = "ref028"
    reader.run()
    assert reader.dataframe[0].value["Note"].isna().all()

    at = signed_in("bob")
    assert any("Reason: from the full text" in m for m in texts(at, "markdown"))
    diff = next(d.value for d in at.dataframe if list(d.value.columns) == ["part", "field", "before", "after"])
    assert diff.to_dict("records") == [{"part": "record", "field": "curator's note", "before": "",
                                        "after": "Primary report of N0574"}]
    field(at, "Review comment (required to reject)").input("checked against the paper")
    button(at, "Accept").click().run()
    assert texts(at, "success")[0].startswith("Accepted proposal #")
    assert "Review queue (0)" in [t.label for t in at.tabs]
    reader.run()
    assert reader.dataframe[0].value["Note"].tolist() == ["Primary report of N0574"]


def test_a_reviewer_rejects_with_a_comment(econ):
    propose_note(open_record(signed_in("alice"), "sources", "ref028"), "wrong note")
    at = signed_in("bob")
    button(at, "Reject").click().run()
    assert any("say why the proposal is rejected" in e for e in texts(at, "error"))
    field(at, "Review comment (required to reject)").input("That is not in the paper.")
    button(at, "Reject").click().run()
    assert texts(at, "info")[0].startswith("Rejected proposal #")
    p = edits.list_proposals(econ, None)[0]
    assert (p.status, p.review_comment) == ("rejected", "That is not in the paper.")
    assert econ.execute("SELECT note FROM sources WHERE source_id = 'ref028'").fetchone()[0] is None


def test_saving_over_a_newer_version_shows_what_changed_meanwhile(econ):
    at = open_record(signed_in("alice"), "sources", "ref028")   # alice opens version 0 …
    raw = edits.as_form(edits.load_record(econ, "sources", "ref028"))
    raw["sources"][0]["journal"] = "JAMA (Chicago)"             # … bob's change is accepted meanwhile
    edits.accept(econ, edits.propose_update(econ, "bob", "sources", "ref028", raw, 0, "full journal name"), "carol")
    propose_note(at, "alice's note")
    errors = [unescape(e) for e in texts(at, "error")]
    assert any("has changed since you opened it" in e and "1 change accepted since then" in e
               and "JAMA (Chicago)" in e for e in errors)
    assert econ.execute("SELECT count(*) FROM proposals WHERE editor = 'alice'").fetchone()[0] == 0
    button(at, "Reload the record (your unsaved edits are discarded)").click().run()
    assert "1 accepted change since the release" in at.caption[0].value
    propose_note(at, "alice's note")
    assert texts(at, "success")[0].startswith("Saved as proposal #")


def test_history_shows_the_diff_and_a_revert_becomes_a_proposal(econ):
    raw = edits.as_form(edits.load_record(econ, "sources", "ref028"))
    raw["sources"][0]["year"] = "2017"
    edits.accept(econ, edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "year from PubMed"), "bob")
    at = signed_in("carol")
    at.selectbox(key="h_kind").select("sources").run()
    at.selectbox(key="h_id").select("ref028").run()
    assert any(m.startswith("**Change 1 of 1** · changed · by alice, accepted by bob") for m in texts(at, "markdown"))
    diff = next(d.value for d in at.dataframe if "field" in d.value.columns and (d.value["field"] == "year").any())
    assert diff[["before", "after"]].values.tolist() == [["2016", "2017"]]
    field(at, "Reason for reverting this change").input("the JAMA paper is 2016")
    button(at, "Propose revert").click().run()
    assert texts(at, "success")[0].startswith("Saved revert as proposal #")
    p = edits.list_proposals(econ)[0]
    assert (p.action, p.editor, p.changes[0]["after"]["sources"][0]["year"]) == ("revert", "carol", 2016)
    assert econ.execute("SELECT year FROM sources WHERE source_id = 'ref028'").fetchone()[0] == 2017


def test_an_invalid_csv_import_lists_every_problem_and_saves_nothing(econ):
    at = signed_in("alice")
    at.selectbox(key="i_kind").select("dose_schedules").run()
    at.text_area(key="i_text").input(
        "schedule_id,category,description,total_dose_gy,fractions,alpha_beta_gy,source_id,verification\n"
        "ed_a,single_fraction,Too hot,30,1,10,ref048,secondary\n"
        "ed_b,bogus,Unknown category,20,1,10,ref048,secondary\n")
    at.text_input(key="i_reason").input("batch")
    button(at, "Check and propose").click().run()
    assert "Nothing was saved: 2 problem(s) in the file." in texts(at, "error")
    report = next(d.value for d in at.dataframe if list(d.value.columns) == ["line", "column", "problem"])
    assert sorted(zip(report["line"], report["column"])) == [(2, "total_dose_gy"), (3, "category")]
    assert econ.execute("SELECT count(*) FROM proposals").fetchone()[0] == 0


# ------------------------------------------------------------------------------------------------ inert payloads
MARK = "XSS-7"
PAYLOAD = MARK + ' <script>alert(1)</script><img src=x onerror=alert(2)> [open](javascript:alert(3)) javascript:x'


def accept_change(con, table, record_id, **values):
    raw = edits.as_form(edits.load_record(con, table, record_id))
    raw[table][0].update(values)
    pid = edits.propose_update(con, "alice", table, record_id, raw, edits.version(con, table, record_id), "payload")
    edits.accept(con, pid, "bob")


@pytest.fixture
def payloads(econ):
    """Payloads in the text that every page shows: names, titles, findings, summaries, notes."""
    accept_change(econ, "sources", "ref028", title=PAYLOAD, note=PAYLOAD)
    accept_change(econ, "studies", "rtog0614", short_name=PAYLOAD, key_result=PAYLOAD, note=PAYLOAD,
                  aliases=PAYLOAD)
    for table, columns in (("guidelines", ("title", "note")), ("recommendations", ("recommendation", "population")),
                           ("dose_schedules", ("description", "note")), ("drug_toxicity", ("finding", "note")),
                           ("imaging", ("summary", "parameter"))):
        (pk,) = edits.pk_columns(table)
        record_id = econ.execute("SELECT " + pk + " FROM " + table + " ORDER BY 1 LIMIT 1").fetchone()[0]
        accept_change(econ, table, record_id, **{c: PAYLOAD for c in columns})
    return PAYLOAD


def markdown_texts(at: AppTest) -> list[str]:
    found = []
    for kind in ("markdown", "caption", "title", "header", "subheader", "error", "warning", "info", "success"):
        found += [e.value for e in getattr(at, kind)]
    found += [e.label for e in at.expander] + [t.label for t in at.tabs]
    return found


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def shown_literally(at: AppTest, payload: str) -> bool:
    cells = any(payload in frame.value.astype(str).to_numpy().ravel().tolist() or
                frame.value.astype(str).apply(lambda c: c.str.contains(payload, regex=False)).to_numpy().any()
                for frame in at.dataframe if isinstance(frame.value, pd.DataFrame))
    return cells or any(payload in unescape(t) for t in markdown_texts(at))


def live_markup(at: AppTest) -> list[str]:
    """Markdown carrying stored text in which a tag or a link would still be interpreted."""
    return [t for t in markdown_texts(at) if MARK in t and (re.search(r"(?<!\\)<[a-zA-Z/!]", t)
                                                          or re.search(r"(?<!\\)\]\(", t))]


def app_pages() -> list[str]:
    source = (ROOT / "app.py").read_text(encoding="utf-8")
    return sorted(set(re.findall(r'"(pages/\w+\.py)"', source)))


PAGE_PARAMS = {"pages/sources.py": {"q": MARK}, "pages/explorer.py": {"study": "rtog0614"}}
EXPECTED_VISIBLE = {"pages/sources.py", "pages/explorer.py"}


@pytest.mark.slow
@pytest.mark.parametrize("page", app_pages())
def test_stored_html_script_and_javascript_links_are_shown_inert(payloads, page):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    for key, value in PAGE_PARAMS.get(page, {}).items():
        at.query_params[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert all(not m.proto.allow_html for m in at.markdown), "a page allows HTML"
    assert live_markup(at) == []
    if page in EXPECTED_VISIBLE:
        assert shown_literally(at, payloads)


def test_the_editor_shows_payloads_literally_in_the_review_queue_and_history(payloads, econ):
    raw = edits.as_form(edits.load_record(econ, "sources", "ref028"))
    raw["sources"][0]["journal"] = PAYLOAD
    edits.propose_update(econ, "carol", "sources", "ref028", raw, edits.version(econ, "sources", "ref028"),
                         PAYLOAD)
    at = signed_in("alice")
    assert not at.exception
    assert shown_literally(at, PAYLOAD)       # the proposal's reason and diff in the review queue
    assert live_markup(at) == []
    at.selectbox(key="h_kind").select("sources").run()
    at.selectbox(key="h_id").select("ref028").run()
    assert shown_literally(at, PAYLOAD) and live_markup(at) == []
    assert all(not m.proto.allow_html for m in at.markdown)


def test_the_inert_check_catches_stored_text_rendered_as_markdown():
    def unsafe_page():
        import streamlit as st

        st.markdown("**Title:** " + "XSS-7 [open](javascript:alert(3)) <script>alert(1)</script>")

    def safe_page():
        import streamlit as st

        from ui.widgets import escape

        st.markdown("**Title:** " + escape("XSS-7 [open](javascript:alert(3)) <script>alert(1)</script>"))

    unsafe = AppTest.from_function(unsafe_page).run()
    safe = AppTest.from_function(safe_page).run()
    assert live_markup(unsafe) != [] and live_markup(safe) == []
    assert shown_literally(safe, "XSS-7 [open](javascript:alert(3)) <script>alert(1)</script>")


# ------------------------------------------------------------------------------------------------ words on the forms
def test_a_study_form_speaks_a_clinicians_words_and_names_its_choices(econ):
    at = open_record(signed_in("alice"), "studies", "n0574")
    labels = [w.label.removesuffix(" *") for w in [*at.text_input, *at.text_area, *at.selectbox]]
    assert {"Design", "Fewest brain metastases eligible", "Most brain metastases eligible", "Patients enrolled",
            "Level of evidence", "Key result (in our own words)", "Curator's note"} <= set(labels)
    raw_names = {"design id", "mets min", "mets max", "n enrolled", "drug id", "evidence level", "note"}
    assert not {lab.lower() for lab in labels} & raw_names
    design = next(s for s in at.selectbox if s.label.removesuffix(" *") == "Design")
    assert design.value == "rct" and design.format_func("rct") == "Randomized controlled trial"
    assert design.format_func("") == "not set"
    assert all(s.proto.help for s in at.selectbox if s.label.removesuffix(" *") in ("Design", "Level of evidence"))
    assert "Version" not in " ".join(c.value for c in at.caption)
