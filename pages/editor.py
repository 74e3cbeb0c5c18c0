"""Editors: sign in, propose changes, review other editors' proposals, history and revert, CSV import, release.

Readers see what this page is for and a sign-in form, nothing else. Everything here calls kb.auth, kb.edits and
kb.export; stored text is shown in tables or escaped, never as HTML.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from kb import auth, edits, export, field_words
from kb.config import read_only
from kb.files import DiskFull
from kb.store import StoreError
from kb.validate import Problem
from ui import cache, routing, session, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

REFUSALS = (edits.EditError, StoreError, DiskFull)   # each says in a sentence why nothing was saved
if read_only():
    st.title("Editor workspace")
    st.info(str(edits.EditingDisabled()), icon=":material/lock:")
    widgets.footer(cache.release_info(cache.connection()))
    st.stop()
con = cache.editorial_store()   # opened per operation; this rerun's calls share one open (kb/store.py)
state = st.session_state
state.setdefault("form_gen", 0)
state.setdefault("opened", {})
state.setdefault("problems", {})

st.title("Editor workspace")


def flash(kind: str, text: str) -> None:
    """A message that survives the rerun after a save."""
    state["flash"] = (kind, text)


def stop_with_footer() -> None:
    """Stop here, as every page ends: with the footer naming the release readers see."""
    widgets.footer(cache.release_info(cache.connection()))
    st.stop()


def show_flash() -> None:
    if "flash" in state:
        kind, text = state.pop("flash")
        getattr(st, kind)(text)  # our own words and numbers only


def show_error(exc: Exception) -> None:
    """An edit refused: each problem on its own line, or the conflict / review message."""
    problems = getattr(exc, "problems", None)
    for line in [edits.describe_problem(p) for p in problems] if problems else [str(exc)]:
        st.error(widgets.escape(line), icon=":material/error:")


def oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml at all
        return False


# ------------------------------------------------------------------------------------------------ who is this
editor: str | None = session.current_editor()  # None when this session was re-attached from another browser
if oidc_configured() and session.oidc_expired():
    st.logout()  # the identity token has expired; st.user would still show it as signed in
if oidc_configured() and getattr(st.user, "is_logged_in", False):
    editor = st.user.get("email") if auth.is_editor(con, st.user.get("email")) else None

if not editor:
    st.markdown("Editors keep the knowledge base current: every change is validated, reviewed by a second editor, "
                "recorded with its reason and can be undone. **Reading needs no account.** Accounts are created by "
                "the maintainer with `python -m kb add-editor NAME`.")
    if oidc_configured():
        if getattr(st.user, "is_logged_in", False):
            st.warning(f"You are signed in as {widgets.escape(st.user.get('email'))}, which is not an editor "
                       "account. Ask the maintainer to run `python -m kb add-editor <your e-mail> --oidc`.")
            st.button("Sign out", on_click=st.logout)
        else:
            st.button("Sign in with your organisation's account", on_click=st.login, type="primary")
        stop_with_footer()
    with st.form("sign_in"):
        name = st.text_input("Editor name", max_chars=100)
        password = st.text_input("Password", type="password", max_chars=200)
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        refused = session.binding_problem()
        if refused:
            st.error(refused, icon=":material/lock:")
            stop_with_footer()
        try:
            result = auth.sign_in(con, name, password)
        except (StoreError, DiskFull) as exc:
            show_error(exc)
            stop_with_footer()
        if result.ok:
            session.sign_in_here(name.strip())
            st.rerun()
        st.error(result.message)
    stop_with_footer()

# ------------------------------------------------------------------------------------------------ signed in
top = st.columns([4, 1])
top[0].markdown(f"Signed in as **{widgets.escape(editor)}**. Your changes are saved as proposals; another editor "
                "accepts or rejects them. Readers see only accepted data.")
if top[1].button("Sign out"):
    session.sign_out()
    if oidc_configured() and getattr(st.user, "is_logged_in", False):
        st.logout()
    st.rerun()
show_flash()
if edits.pending_cleanup_count(con):
    edits.finish_cleanup(con)

pending = edits.list_proposals(con, "pending")
tab_propose, tab_review, tab_history, tab_import, tab_release = st.tabs(
    ["Propose a change", f"Review queue ({len(pending)})", "History and revert", "Import CSV", "Release"])


def problems_for(form_key: str, table: str, line: int | None = None, column: str | None = None) -> list[Problem]:
    return [p for p in state["problems"].get(form_key, [])
            if p.table == table and p.line == line and (column is None or p.column == column)]


def field_errors(form_key: str, table: str, column: str) -> None:
    for p in problems_for(form_key, table, None, column):
        st.error(widgets.escape(p.message), icon=":material/error:")


def text_rows(frame: pd.DataFrame) -> list[dict[str, str]]:
    """Data-editor rows as text ('' for empty cells); blank rows dropped."""
    rows = []
    for row in frame.to_dict("records"):
        clean = {k: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v) for k, v in row.items()}
        if any(v.strip() for v in clean.values()):
            rows.append(clean)
    return rows


def root_fields(kind: str, values: dict[str, str], key: str, creating: bool) -> dict[str, str]:
    """One input per column of the record's own table; returns the text entered."""
    out = {}
    specs = edits.field_specs(con, kind)
    cols = st.columns(2)
    for i, f in enumerate(specs):
        where = cols[0] if f.long else cols[i % 2]
        label = f.label + (" *" if f.required else "")
        value = values.get(f.name, "")
        wkey = key + ":" + kind + ":" + f.name
        with (st.container() if f.long else where):
            if f.key and not creating:
                out[f.name] = st.text_input(label, value=value, disabled=True, key=wkey, help=f.help)
            elif f.choices is not None:
                options = [""] + list(f.choices)
                if value not in options:
                    options.append(value)
                out[f.name] = st.selectbox(label, options, index=options.index(value), key=wkey, help=f.help,
                                           format_func=f.choice_label)
            elif f.long:
                out[f.name] = st.text_area(label, value=value, key=wkey, height=80, help=f.help)
            else:
                out[f.name] = st.text_input(label, value=value, key=wkey, help=f.help)
            field_errors(key, kind, f.name)
    return out


CHILD_TITLES = {"arms": "Arms", "outcomes": "Outcomes", "study_sources": "Sources of this study",
                "arm_interventions": "Interventions of each arm"}


def child_editor(table: str, rows: list[dict[str, str]], key: str) -> list[dict[str, str]]:
    """A table editor for a study's arms, outcomes, sources or arm interventions."""
    specs = {f.name: f for f in edits.field_specs(con, table)}
    columns = [c for c in specs if c != "study_id"]
    frame = pd.DataFrame([{c: r.get(c, "") for c in columns} for r in rows], columns=columns, dtype=object)
    config = {c: (st.column_config.SelectboxColumn(specs[c].label, options=list(specs[c].choices), help=specs[c].help,
                                                   format_func=specs[c].choice_label)
                  if specs[c].choices else st.column_config.TextColumn(specs[c].label, help=specs[c].help))
              for c in columns}
    st.markdown(f"**{CHILD_TITLES[table]}**")
    edited = st.data_editor(frame, num_rows="dynamic", column_config=config, hide_index=True, width="stretch",
                            key=key + ":" + table)
    for p in [p for p in state["problems"].get(key, []) if p.table == table]:
        st.error(widgets.escape(edits.describe_problem(p)), icon=":material/error:")
    return text_rows(edited)


def record_form(kind: str, record_id: str | None, creating: bool) -> None:
    """The edit (or create) form of one record, with per-field messages from the last save."""
    gen = state["form_gen"]
    key = f"{gen}:{kind}:{record_id or 'new'}"
    if creating:
        defaults = {"verification": "unverified", **({"cited_in": "editor"} if kind == "sources" else {})}
        current, version_now = {kind: [defaults]}, None
    else:
        loaded = edits.load_record(con, kind, record_id)
        if loaded is None:
            st.warning("This record no longer exists (it was retired). Its history is under History and revert.")
            return
        version_now = edits.version(con, kind, record_id)
        opened = state["opened"].setdefault(f"{kind}:{record_id}", version_now)
        current = edits.as_form(loaded)
        changes = ("as released — no accepted change yet" if opened == 0
                   else f"{widgets.plural(opened, 'accepted change')} since the release")
        st.caption(f"{edits.KINDS[kind][0].capitalize()} {widgets.escape(record_id)} · {changes}")
        if version_now != opened:
            st.warning("Another editor's change to this record was accepted after you opened it. Saving will be "
                       "refused; reload to start from the record as it is now.")
    if state["problems"].get(key):
        st.error(f"Not saved — {len(state['problems'][key])} problem(s) to fix; each is shown under its field.",
                 icon=":material/error:")
    with st.form(key):
        raw = {kind: [root_fields(kind, current[kind][0], key, creating)]}
        if kind == "studies":
            for child in ("arms", "arm_interventions", "outcomes", "study_sources"):
                raw[child] = child_editor(child, current.get(child, []), key)
            for child, col, title in (("study_histologies", "histology_id", "Histologies"),
                                      ("study_settings", "setting_id", "Settings")):
                spec = next(f for f in edits.field_specs(con, child) if f.name == col)
                choices = spec.choices or ()
                chosen = st.multiselect(title, list(choices), format_func=spec.choice_label, help=spec.help,
                                        default=[r[col] for r in current.get(child, []) if r[col] in choices],
                                        key=key + ":" + child)
                raw[child] = [{col: c} for c in chosen]
                for p in [p for p in state["problems"].get(key, []) if p.table == child]:
                    st.error(widgets.escape(edits.describe_problem(p)))
        confirm = False
        if kind == "sources" and creating and state.get("duplicates:" + key):
            st.warning("This source may already be in the KB: " + "; ".join(
                f"{widgets.escape(sid)} ({widgets.escape(why)})" for sid, why in state["duplicates:" + key]))
            confirm = st.checkbox("It is not a duplicate — save it anyway", key=key + ":confirm")
        reason = st.text_area("Reason for this change *", key=key + ":reason", height=68,
                              placeholder="e.g. corrected from Table 2 of the full text (PMID 27458945)")
        for p in problems_for(key, "proposals"):
            st.error(widgets.escape(p.message))
        saved = st.form_submit_button("Save as proposal", type="primary")
    if saved:
        try:
            if creating:
                pid = edits.propose_create(con, editor, kind, raw, reason, confirm_duplicates=confirm)
            else:
                pid = edits.propose_update(con, editor, kind, record_id, raw, state["opened"][f"{kind}:{record_id}"],
                                           reason)
        except edits.ValidationFailed as exc:
            state["problems"][key] = exc.problems
            st.rerun()
        except edits.DuplicateWarning as exc:
            state["duplicates:" + key] = exc.duplicates
            state["problems"].pop(key, None)
            st.rerun()
        except edits.Conflict as exc:
            state["problems"].pop(key, None)
            state["conflict"] = str(exc)
            st.rerun()
        except REFUSALS as exc:   # the store busy, the disk full: nothing saved, the form keeps what was typed
            show_error(exc)
            return
        state["problems"].pop(key, None)
        state.pop("duplicates:" + key, None)
        if record_id:
            state["opened"].pop(f"{kind}:{record_id}", None)
        state["form_gen"] += 1
        flash("success", f"Saved as proposal #{pid}. Another editor will review it in the review queue.")
        st.rerun()


# ------------------------------------------------------------------------------------------------ propose
with tab_propose:
    c1, c2 = st.columns([2, 3])
    kind = c1.selectbox("Record type", list(edits.KINDS), format_func=edits.KIND_TITLES.get, key="kind")
    mode = c2.radio("What to do", ["Edit", "Create", "Retire"], horizontal=True, key="mode")
    if "conflict" in state:
        st.error(widgets.escape(state["conflict"]), icon=":material/sync_problem:")
        if st.button("Reload the record (your unsaved edits are discarded)"):
            state.pop("conflict")
            state["opened"] = {}
            state["form_gen"] += 1
            st.rerun()
    if mode == "Create":
        record_form(kind, None, creating=True)
    else:
        options = edits.record_options(con, kind)
        labels = dict(zip(options["id"], options["label"]))
        record_id = st.selectbox("Record", list(labels), format_func=labels.get, key="pick:" + kind,
                                 index=None, placeholder="Type to search by id or title")
        if record_id and mode == "Edit":
            record_form(kind, record_id, creating=False)
        elif record_id:
            loaded = edits.load_record(con, kind, record_id)
            base = edits.version(con, kind, record_id)
            st.markdown("Retiring removes the record from everything readers see. It stays in the history, and a "
                        "revert (reviewed like any change) brings it back.")
            if loaded:
                st.dataframe(pd.DataFrame(edits.as_form(loaded)[kind]).T.rename(columns={0: "value"}), width="stretch")
            with st.form("retire:" + kind + ":" + record_id):
                reason = st.text_area("Reason for retiring *", key="retire_reason")
                go = st.form_submit_button("Propose retiring", type="primary")
            if go:
                try:
                    pid = edits.propose_retire(con, editor, kind, record_id, base, reason)
                    st.success(f"Saved as proposal #{pid} to retire it.")
                except REFUSALS as exc:
                    show_error(exc)


# ------------------------------------------------------------------------------------------------ review
def show_changes(p: edits.Proposal) -> None:
    for change in p.changes[:50]:
        if len(p.changes) > 1:
            st.caption(f"{change['action']} {widgets.escape(change['record_id'])}")
        frame = edits.diff_frame(change["before"], change["after"])
        st.dataframe(frame, hide_index=True, width="stretch")
    if len(p.changes) > 50:
        st.caption(f"… and {len(p.changes) - 50} more records.")


with tab_review:
    if not pending:
        widgets.empty_state("No proposal is waiting for review.")
    for p in pending:
        with st.container(border=True):
            noun = edits.KINDS.get(p.table_name, (p.table_name,))[0]
            st.markdown(f"**#{p.proposal_id} · {p.action} {noun} {widgets.escape(p.record_id)}** — proposed by "
                        f"{widgets.escape(p.editor)} at {str(p.created_at)[:16]} UTC")
            st.markdown("Reason: " + widgets.escape(p.reason))
            show_changes(p)
            if p.editor == editor:
                st.caption("Your proposal — another editor must review it.")
                if st.button("Withdraw", key=f"withdraw:{p.proposal_id}"):
                    try:
                        edits.withdraw(con, p.proposal_id, editor)
                        flash("info", f"Proposal #{p.proposal_id} withdrawn.")
                        st.rerun()
                    except REFUSALS as exc:
                        show_error(exc)
                continue
            comment = st.text_input("Review comment (required to reject)", key=f"comment:{p.proposal_id}")
            b1, b2, _ = st.columns([1, 1, 4])
            if b1.button("Accept", key=f"accept:{p.proposal_id}", type="primary"):
                try:
                    audit_ids = edits.accept(con, p.proposal_id, editor, comment)
                    if con.publish_error:   # committed; readers get it when a later publish succeeds
                        flash("warning", f"Accepted proposal #{p.proposal_id} (audit "
                                         f"#{', #'.join(map(str, audit_ids))}), but readers do not see it yet: "
                                         + con.publish_error)
                    else:
                        flash("success", f"Accepted proposal #{p.proposal_id}: readers see it now, in release "
                                         f"{con.last_release} (audit #{', #'.join(map(str, audit_ids))}).")
                    st.rerun()
                except REFUSALS as exc:
                    show_error(exc)
            if b2.button("Reject", key=f"reject:{p.proposal_id}"):
                try:
                    edits.reject(con, p.proposal_id, editor, comment)
                    flash("info", f"Rejected proposal #{p.proposal_id}.")
                    st.rerun()
                except REFUSALS as exc:
                    show_error(exc)
    reviewed = [p for p in edits.list_proposals(con, None, limit=30) if p.status != "pending"]
    if reviewed:
        st.subheader("Recently reviewed")
        st.dataframe(pd.DataFrame([{"proposal": p.proposal_id, "status": p.status, "what": p.title,
                                    "reviewer": p.reviewer, "comment": p.review_comment} for p in reviewed]),
                     hide_index=True, width="stretch")


# ------------------------------------------------------------------------------------------------ history
with tab_history:
    changed = edits.changed_records(con)
    c1, c2 = st.columns([1, 2])
    h_kind = c1.selectbox("Record type", list(edits.KINDS), format_func=edits.KIND_TITLES.get, key="h_kind")
    ids = sorted(set(edits.record_options(con, h_kind)["id"])
                 | set(changed.loc[changed["table_name"] == h_kind, "record_id"]))
    h_id = c2.selectbox("Record", ids, index=None, key="h_id", placeholder="Type to search by id")
    if h_id is None:
        if changed.empty:
            widgets.empty_state("No accepted change yet — accepted proposals appear here with their diff.")
        else:
            st.caption("Recently changed records")
            st.dataframe(changed, hide_index=True, width="stretch")
    else:
        entries = edits.history(con, h_kind, h_id)
        if not entries:
            widgets.empty_state("This record has not been changed since it was loaded from data/.")
        for n, entry in zip(range(len(entries), 0, -1), entries):
            with st.container(border=True):
                did = field_words.ACTION_WORDS.get(entry.action, entry.action)
                st.markdown(f"**Change {n} of {len(entries)}** · {did} · "
                            f"by {widgets.escape(entry.editor)}, accepted by "
                            f"{widgets.escape(entry.reviewer or '—')} · {str(entry.changed_at)[:16]} UTC")
                st.markdown("Reason: " + widgets.escape(entry.reason))
                st.dataframe(edits.diff_frame(entry.before, entry.after), hide_index=True, width="stretch")
                why = st.text_input("Reason for reverting this change", key=f"revert_reason:{entry.audit_id}")
                if st.button("Propose revert", key=f"revert:{entry.audit_id}"):
                    try:
                        pid = edits.propose_revert(con, editor, entry.audit_id, why)
                        flash("success", f"Saved revert as proposal #{pid}; another editor reviews it.")
                        st.rerun()
                    except REFUSALS as exc:
                        show_error(exc)


# ------------------------------------------------------------------------------------------------ import
with tab_import:
    st.markdown("Upload a CSV of records (the header names the columns; the id column is required). Existing ids "
                "are updated in the columns given, new ids are created. The whole file is checked first and "
                "**nothing is saved unless every row is valid**; then it becomes one proposal.")
    i_kind = st.selectbox("Record type", list(edits.KINDS), format_func=edits.KIND_TITLES.get, key="i_kind")
    upload = st.file_uploader("CSV file", type=["csv"], key="i_file")
    pasted = st.text_area("…or paste CSV text", key="i_text", height=100)
    i_reason = st.text_input("Reason for this import *", key="i_reason")
    data = upload.getvalue() if upload is not None else pasted.encode("utf-8")
    if st.button("Check and propose", key="i_go") and not data.strip():
        st.warning("Upload a CSV file or paste CSV text first.")
    elif state.get("i_go") and data.strip():
        try:
            pid = edits.propose_import(con, editor, i_kind, data, i_reason)
            flash("success", f"The file is valid and saved as proposal #{pid}.")
            st.rerun()
        except edits.ValidationFailed as exc:
            st.error(f"Nothing was saved: {len(exc.problems)} problem(s) in the file.")
            report = pd.DataFrame([{"line": p.line, "column": p.column or "", "problem": p.message}
                                   for p in exc.problems])
            st.dataframe(report, hide_index=True, width="stretch")
            widgets.download_csv(report, "import_problems.csv", "Download the problem list")
        except REFUSALS as exc:
            st.error(widgets.escape(str(exc)))


# ------------------------------------------------------------------------------------------------ release
with tab_release:
    st.markdown("A release writes the accepted changes back to `data/*.csv` (only the changed rows), so the "
                "maintainer reviews them as a git diff and commits. Pending proposals stay here.")
    exported_id, last_id, _ = export.touched_records(con)
    st.metric("Accepted changes not yet exported", last_id - exported_id)
    if st.button("Export accepted changes to data/", key="export"):
        try:
            st.success(widgets.escape(export.export(con).summary()))
        except (export.ExportConflict, StoreError, DiskFull) as exc:
            st.error(widgets.escape(str(exc)))
    st.caption("Readers see release " + widgets.escape(str(con.last_release or cache.current_release_id()))
               + ". Past releases, what changed between them and the download bundle are on the Releases page.")

widgets.footer(cache.release_info(cache.connection()))
