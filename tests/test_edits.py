"""Editing: proposals are validated and reviewed, accepted changes are audited, versioned and revertible,
concurrent saves never overwrite each other, and CSV imports are all-or-nothing."""

from __future__ import annotations

import json
import threading

import duckdb
import pytest
from editing_fixtures import PASSWORDS, cheap_scrypt, econ, editor_db, new_study, template_db  # noqa: F401
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb import edits, queries
from kb.schema import create_schema, tables
from kb.validate import SINGLE_FRACTION_MAX_GY, validate_record

assert PASSWORDS  # accounts alice, bob and carol exist in editor_db


def form(con, table, record_id):
    return edits.as_form(edits.load_record(con, table, record_id))


def count(con, sql, params=()):
    return con.execute(sql, list(params)).fetchone()[0]


def messages(exc_info):
    return {(p.table, p.line, p.column): p.message for p in exc_info.value.problems}


# ------------------------------------------------------------------------------------------------ review
def test_a_proposal_changes_nothing_readers_see_until_another_editor_accepts_it(econ):
    before = queries.sources(econ, text="ref028")
    raw = form(econ, "sources", "ref028")
    raw["sources"][0]["note"] = "Primary report of N0574."
    pid = edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "note from the full text")
    assert queries.sources(econ, text="ref028")["note"].tolist() == before["note"].tolist()
    assert edits.get_proposal(econ, pid).status == "pending"

    audit_ids = edits.accept(econ, pid, "bob", "checked")
    assert queries.sources(econ, text="ref028")["note"].tolist() == ["Primary report of N0574."]
    row = econ.execute("SELECT editor, reviewer, action, table_name, record_id, reason, before_json, after_json, "
                       "proposal_id FROM audit_log WHERE audit_id = ?", audit_ids).fetchone()
    assert row[:6] == ("alice", "bob", "update", "sources", "ref028", "note from the full text")
    assert json.loads(row[6])["sources"][0]["note"] is None
    assert json.loads(row[7])["sources"][0]["note"] == "Primary report of N0574."
    assert row[8] == pid
    assert edits.version(econ, "sources", "ref028") == 1
    assert edits.get_proposal(econ, pid).review_comment == "checked"


def test_nobody_accepts_or_rejects_their_own_proposal(econ):
    raw = form(econ, "sources", "ref028")
    raw["sources"][0]["note"] = "x note"
    pid = edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "a reason")
    with pytest.raises(edits.ReviewError, match="your own proposal"):
        edits.accept(econ, pid, "alice")
    with pytest.raises(edits.ReviewError, match="your own proposal"):
        edits.reject(econ, pid, "alice", "changed my mind")
    assert count(econ, "SELECT count(*) FROM audit_log") == 0
    # and the database itself refuses it
    with pytest.raises(duckdb.ConstraintException):
        econ.execute("UPDATE proposals SET status = 'accepted', reviewer = editor WHERE proposal_id = ?", [pid])


def test_a_rejected_proposal_is_never_applied_and_keeps_the_comment(econ):
    raw = form(econ, "sources", "ref028")
    raw["sources"][0]["year"] = "2017"
    pid = edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "year fix")
    with pytest.raises(edits.ValidationFailed, match="say why"):
        edits.reject(econ, pid, "bob", "")
    edits.reject(econ, pid, "bob", "The JAMA paper is 2016.")
    p = edits.get_proposal(econ, pid)
    assert (p.status, p.reviewer, p.review_comment) == ("rejected", "bob", "The JAMA paper is 2016.")
    assert count(econ, "SELECT year FROM sources WHERE source_id = 'ref028'") == 2016
    with pytest.raises(edits.ReviewError, match="already rejected"):
        edits.accept(econ, pid, "carol")


def test_only_registered_editors_can_propose_or_review(econ):
    raw = form(econ, "sources", "ref028")
    raw["sources"][0]["note"] = "x note"
    with pytest.raises(edits.ReviewError, match="not an editor"):
        edits.propose_update(econ, "mallory", "sources", "ref028", raw, 0, "a reason")
    pid = edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "a reason")
    with pytest.raises(edits.ReviewError, match="not an editor"):
        edits.accept(econ, pid, "mallory")


def test_every_change_needs_a_reason(econ):
    raw = form(econ, "sources", "ref028")
    raw["sources"][0]["note"] = "x note"
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "  ")
    assert "needs a reason" in messages(exc)[("proposals", None, "reason")]


def test_saving_an_unchanged_record_is_refused(econ):
    with pytest.raises(edits.ValidationFailed, match="nothing changed"):
        edits.propose_update(econ, "alice", "sources", "ref028", form(econ, "sources", "ref028"), 0, "no-op")


# ------------------------------------------------------------------------------------------------ validation
def test_single_fraction_dose_above_24_gy_is_explained_on_the_dose_field(econ):
    schedule = econ.execute("SELECT schedule_id FROM dose_schedules WHERE fractions = 1 LIMIT 1").fetchone()[0]
    raw = form(econ, "dose_schedules", schedule)
    raw["dose_schedules"][0].update(total_dose_gy="30", fractions="1")
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_update(econ, "alice", "dose_schedules", schedule, raw, 0, "dose from table 1")
    assert messages(exc)[("dose_schedules", None, "total_dose_gy")] == (
        "30 Gy in one fraction is above the 24 Gy single-fraction maximum in the dose table (RTOG 90-05) — "
        "check the fractions")


def test_every_problem_of_a_form_is_listed_with_its_field(econ):
    raw = form(econ, "sources", "ref028")
    raw["sources"][0].update(year="20x6", doi="https://doi.org/10.1/x", pmid="12a", pub_type="blog",
                             verification="verified", verified_in="", cited_in="somewhere")
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "bulk fix")
    found = messages(exc)
    assert found[("sources", None, "year")] == "'20x6' is not a whole number"
    assert "should start with '10.'" in found[("sources", None, "doi")]
    assert "digits only" in found[("sources", None, "pmid")]
    assert found[("sources", None, "pub_type")].startswith("unknown publication type 'blog'")
    assert "verified_in" in {c for _t, _l, c in found}
    assert "choose one of: srs_review_2025, seed_review, editor" in found[("sources", None, "cited_in")]


def test_the_database_constraints_stand_behind_the_forms(econ, monkeypatch):
    """With the Python rules switched off, the trial run against the database still refuses, per field."""
    raw = {"sources": [{"source_id": "ed_new", "cited_in": "editor", "title": "A new paper on SRS dosing",
                        "pub_type": "review", "verification": "unverified", "ref_number": "999"}]}
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_create(econ, "alice", "sources", raw, "new paper", confirm_duplicates=True)
    assert "between 1 and 263" in messages(exc)[("sources", None, "ref_number")]
    import kb.validate

    monkeypatch.setattr(edits.validation, "extra_rules", lambda *a, **k: [])   # where check_record looks it up
    monkeypatch.setattr(kb.validate, "_rules", lambda *a, **k: iter(()))
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_create(econ, "alice", "sources", raw, "new paper", confirm_duplicates=True)
    assert "ref_number BETWEEN 1 AND 263" in messages(exc)[("sources", None, "ref_number")]
    assert count(econ, "SELECT count(*) FROM proposals") == 0


def test_a_new_study_with_arms_outcomes_and_histologies_appears_once_accepted(econ):
    pid = edits.propose_create(econ, "alice", "studies", new_study(), "new trial report")
    assert edits.load_record(econ, "studies", "ed_trial2026") is None
    edits.accept(econ, pid, "bob")
    record = edits.load_record(econ, "studies", "ed_trial2026")
    assert [a["arm_id"] for a in record["arms"]] == ["ed_trial2026__fsrt", "ed_trial2026__srs"]
    assert record["outcomes"][0]["value"] == 0.7 and record["outcomes"][0]["study_id"] == "ed_trial2026"
    assert record["study_histologies"] == [{"study_id": "ed_trial2026", "histology_id": "melanoma"}]
    assert count(econ, "SELECT action FROM audit_log WHERE record_id = 'ed_trial2026'") == "create"


def test_child_rows_of_a_study_are_checked_row_by_row(econ):
    raw = new_study()
    raw["arms"][1].update(fractions="", n_patients="500")           # a dose needs fractions; arm > study size
    raw["outcomes"][0].update(ci_low="0.8")                          # CI does not contain 0.7
    raw["outcomes"].append({"outcome_id": "ed_trial2026__o2", "arm_id": "elsewhere__arm", "endpoint_id": "os",
                            "statistic": "median", "value": "10", "unit": "months", "source_id": "ref028",
                            "verification": "unverified"})
    raw["study_histologies"].append({"histology_id": "melanoma"})
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_create(econ, "alice", "studies", raw, "new trial report")
    found = messages(exc)
    assert found[("arms", 2, "fractions")] == "27 Gy needs a number of fractions"
    assert "larger than the study's 200" in found[("arms", 2, "n_patients")]
    assert "does not contain the value 0.7" in found[("outcomes", 1, "ci_low")]
    assert "unknown arm 'elsewhere__arm'" in found[("outcomes", 2, "arm_id")]
    assert "listed twice" in found[("study_histologies", 2, "histology_id")]
    assert edits.describe_problem(exc.value.problems[0]).startswith("Arms, row 2")


def test_an_id_that_exists_cannot_be_created_again(econ):
    raw = new_study("rtog0614")
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_create(econ, "alice", "studies", raw, "dup")
    assert "already exists" in messages(exc)[("studies", None, "study_id")]


def test_removing_an_arm_removes_its_outcomes_and_interventions(econ):
    edits.accept(econ, edits.propose_create(econ, "alice", "studies", new_study(), "new"), "bob")
    raw = form(econ, "studies", "ed_trial2026")
    raw["arms"] = [a for a in raw["arms"] if a["arm_id"] == "ed_trial2026__srs"]
    raw["outcomes"] = []
    pid = edits.propose_update(econ, "alice", "studies", "ed_trial2026", raw, 1, "FSRT arm was a mistake")
    edits.accept(econ, pid, "bob")
    assert count(econ, "SELECT count(*) FROM arms WHERE study_id = 'ed_trial2026'") == 1
    assert count(econ, "SELECT count(*) FROM outcomes WHERE study_id = 'ed_trial2026'") == 0
    assert edits.pending_cleanup_count(econ) == 0


def test_evidence_level_of_a_cited_study_can_be_changed(econ):
    """evidence_level and design_id are soft keys (checked in kb/validate.py), so editors can change them even
    though other rows reference the study (DuckDB refuses UPDATEs of indexed columns of referenced rows)."""
    raw = form(econ, "studies", "rtog0614")
    raw["studies"][0]["evidence_level"] = "3"
    pid = edits.propose_update(econ, "alice", "studies", "rtog0614", raw, 0, "downgrade")
    edits.accept(econ, pid, "bob")
    assert count(econ, "SELECT evidence_level FROM studies WHERE study_id = 'rtog0614'") == 3


def test_an_unknown_evidence_level_is_refused_in_words(econ):
    raw = form(econ, "studies", "rtog0614")
    raw["studies"][0]["evidence_level"] = "9"
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_update(econ, "alice", "studies", "rtog0614", raw, 0, "typo")
    assert "evidence level" in messages(exc)[("studies", None, "evidence_level")].lower()


# ------------------------------------------------------------------------------------------------ retire
def test_retiring_a_study_removes_it_and_its_children_from_what_readers_see(econ):
    outcomes = count(econ, "SELECT count(*) FROM outcomes WHERE study_id = 'nrg_cc001'")
    assert outcomes > 0
    pid = edits.propose_retire(econ, "alice", "studies", "nrg_cc001", 0, "duplicate of another entry")
    edits.accept(econ, pid, "bob")
    for table in ("studies", "arms", "outcomes", "study_sources", "study_histologies"):
        assert count(econ, "SELECT count(*) FROM " + table + " WHERE study_id = 'nrg_cc001'") == 0
    entry = edits.history(econ, "studies", "nrg_cc001")[0]
    assert entry.action == "retire" and entry.after is None and len(entry.before["outcomes"]) == outcomes


def test_a_source_still_cited_cannot_be_retired_and_the_message_names_who_cites_it(econ):
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_retire(econ, "alice", "sources", "ref028", 0, "not needed")
    assert "still cited by" in str(exc.value) and "change or retire those first" in str(exc.value)


# ------------------------------------------------------------------------------------------------ history, revert
def test_history_shows_a_readable_diff_and_a_revert_is_itself_reviewed(econ):
    raw = form(econ, "sources", "ref028")
    raw["sources"][0]["title"] = "Changed title"
    edits.accept(econ, edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "typo"), "bob")
    entry = edits.history(econ, "sources", "ref028")[0]
    (line,) = [str(d) for d in entry.changes]
    assert line.startswith("title: 'Effect of radiosurgery alone vs radiosurgery") and line.endswith(
        "…' → 'Changed title'")

    pid = edits.propose_revert(econ, "carol", entry.audit_id, "the old title was right")
    assert count(econ, "SELECT title FROM sources WHERE source_id = 'ref028'") == "Changed title"
    with pytest.raises(edits.ReviewError):
        edits.accept(econ, pid, "carol")
    edits.accept(econ, pid, "alice")
    assert count(econ, "SELECT title FROM sources WHERE source_id = 'ref028'").startswith("Effect of radiosurgery")
    assert [e.action for e in edits.history(econ, "sources", "ref028")] == ["revert", "update"]


def test_reverting_a_retirement_brings_the_whole_study_back(econ):
    before = edits.load_record(econ, "studies", "nrg_cc001")
    edits.accept(econ, edits.propose_retire(econ, "alice", "studies", "nrg_cc001", 0, "retire it"), "bob")
    audit_id = edits.history(econ, "studies", "nrg_cc001")[0].audit_id
    edits.accept(econ, edits.propose_revert(econ, "bob", audit_id, "retired by mistake"), "alice")
    assert edits.load_record(econ, "studies", "nrg_cc001") == before
    assert edits.version(econ, "studies", "nrg_cc001") == 2


def test_reverting_a_creation_retires_the_record(econ):
    edits.accept(econ, edits.propose_create(econ, "alice", "studies", new_study(), "new"), "bob")
    audit_id = edits.history(econ, "studies", "ed_trial2026")[0].audit_id
    edits.accept(econ, edits.propose_revert(econ, "bob", audit_id, "not a real trial"), "carol")
    assert edits.load_record(econ, "studies", "ed_trial2026") is None
    assert count(econ, "SELECT count(*) FROM arms WHERE study_id = 'ed_trial2026'") == 0


# ------------------------------------------------------------------------------------------------ no lost updates
def test_saving_over_a_newer_version_is_refused_with_what_changed_meanwhile(econ):
    mine = form(econ, "sources", "ref028")          # alice opens version 0
    theirs = form(econ, "sources", "ref028")
    theirs["sources"][0]["journal"] = "JAMA (Chicago)"
    edits.accept(econ, edits.propose_update(econ, "bob", "sources", "ref028", theirs, 0, "full journal name"),
                 "carol")
    mine["sources"][0]["note"] = "my note"
    with pytest.raises(edits.Conflict) as exc:
        edits.propose_update(econ, "alice", "sources", "ref028", mine, 0, "add note")
    text = str(exc.value)
    assert "1 change accepted since then" in text
    assert "bob (accepted by carol)" in text and "'full journal name'" in text
    assert exc.value.changes == ["journal: 'JAMA' → 'JAMA (Chicago)'"]
    assert count(econ, "SELECT note FROM sources WHERE source_id = 'ref028'") is None


def test_accepting_a_proposal_made_before_a_newer_change_is_refused_and_it_stays_pending(econ):
    a = form(econ, "sources", "ref028")
    a["sources"][0]["note"] = "from alice"
    b = form(econ, "sources", "ref028")
    b["sources"][0]["note"] = "from bob"
    pa = edits.propose_update(econ, "alice", "sources", "ref028", a, 0, "alice's note")
    pb = edits.propose_update(econ, "bob", "sources", "ref028", b, 0, "bob's note")
    edits.accept(econ, pa, "carol")
    with pytest.raises(edits.Conflict, match="since proposal #%d was made" % pb) as exc:
        edits.accept(econ, pb, "carol")
    assert exc.value.changes == ["curator's note: (empty) → 'from alice'"]
    assert edits.get_proposal(econ, pb).status == "pending"
    assert count(econ, "SELECT note FROM sources WHERE source_id = 'ref028'") == "from alice"


def test_threads_saving_the_same_record_exactly_one_wins_per_version(econ):
    """Eight editors' sessions each save (propose + a reviewer accepts) over and over from the version they read;
    every version is won by exactly one save, the others get the conflict message and retry."""
    names = ["alice", "bob", "carol"]
    wins: list[tuple[int, int]] = []
    conflicts: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def session(n: int) -> None:
        author, reviewer = names[n % 3], names[(n + 1) % 3]
        barrier.wait()
        for attempt in range(3):
            base = edits.version(econ, "sources", "ref028")
            raw = form(econ, "sources", "ref028")
            raw["sources"][0]["note"] = f"session {n} attempt {attempt}"
            try:
                pid = edits.propose_update(econ, author, "sources", "ref028", raw, base, f"save {n}")
                edits.accept(econ, pid, reviewer)
                with lock:
                    wins.append((base + 1, n))
            except edits.Conflict as exc:
                with lock:
                    conflicts.append(str(exc))

    threads = [threading.Thread(target=session, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    versions = [v for v, _ in wins]
    assert len(versions) == len(set(versions)), "two saves won the same version"
    assert sorted(versions) == list(range(1, len(versions) + 1))
    assert conflicts and all("has changed since" in c and "Reload the record" in c for c in conflicts)
    assert len(wins) + len(conflicts) == 24
    audit = econ.execute("SELECT after_json FROM audit_log WHERE record_id = 'ref028' ORDER BY audit_id").fetchall()
    assert len(audit) == len(wins)
    last_note = json.loads(audit[-1][0])["sources"][0]["note"]
    assert count(econ, "SELECT note FROM sources WHERE source_id = 'ref028'") == last_note


def test_read_only_instances_refuse_every_write(econ, monkeypatch):
    monkeypatch.setenv("KB_READ_ONLY", "1")
    raw = form(econ, "sources", "ref028")
    raw["sources"][0]["note"] = "x"
    with pytest.raises(edits.EditingDisabled, match="KB_READ_ONLY=1"):
        edits.propose_update(econ, "alice", "sources", "ref028", raw, 0, "reason")


# ------------------------------------------------------------------------------------------------ duplicates
@pytest.mark.parametrize("fields, why", [
    ({"doi": "10.1001/JAMA.2016.9839", "title": "Something else entirely, about cognition"}, "same DOI"),
    ({"title": "Effect of radiosurgery alone vs radiosurgery with whole brain radiation therapy on cognitive "
               "function in patients with 1-3 brain metastases"}, "title"),
])
def test_adding_a_source_warns_about_a_likely_duplicate(econ, fields, why):
    raw = {"sources": [{"source_id": "ed_brown", "cited_in": "editor", "pub_type": "randomized_trial",
                        "verification": "unverified", **fields}]}
    with pytest.raises(edits.DuplicateWarning) as exc:
        edits.propose_create(econ, "alice", "sources", raw, "new source")
    assert exc.value.duplicates[0][0] == "ref028" and exc.value.duplicates[0][1].startswith(why)
    assert edits.propose_create(econ, "alice", "sources", raw, "new source", confirm_duplicates=True) > 0


def test_same_pmid_is_a_likely_duplicate(econ):
    sid, pmid = econ.execute("SELECT source_id, pmid FROM sources WHERE pmid IS NOT NULL LIMIT 1").fetchone()
    assert edits.likely_duplicate_sources(econ, {"pmid": pmid, "title": "unrelated words here"})[0] == (
        sid, f"same PMID {pmid}")


# ------------------------------------------------------------------------------------------------ import
def test_an_invalid_csv_lists_every_problem_and_writes_nothing(econ):
    csv_text = ("schedule_id,category,description,total_dose_gy,fractions,alpha_beta_gy,source_id,verification\n"
                "ed_a,single_fraction,Too hot,30,1,10,ref048,secondary\n"
                "ed_b,bogus,Unknown category,20,1,10,ref048,secondary\n"
                "ed_c,single_fraction,Unknown source,18,1,10,nope,secondary\n"
                "ed_a,single_fraction,Twice,18,1,10,ref048,secondary\n"
                "ed_d,single_fraction,Fine,18,1,10,ref048,secondary\n")
    proposals_before = count(econ, "SELECT count(*) FROM proposals")
    with pytest.raises(edits.ValidationFailed) as exc:
        edits.propose_import(econ, "alice", "dose_schedules", csv_text, "batch from the 2026 review")
    found = {(p.line, p.column) for p in exc.value.problems}
    assert {(2, "total_dose_gy"), (3, "category"), (4, "source_id"), (5, "schedule_id")} <= found
    assert not any(line == 6 for line, _ in found)
    assert count(econ, "SELECT count(*) FROM proposals") == proposals_before
    assert count(econ, "SELECT count(*) FROM dose_schedules WHERE schedule_id LIKE 'ed_%'") == 0


def test_a_valid_csv_becomes_one_proposal_and_one_audit_row_per_record(econ):
    existing = econ.execute("SELECT schedule_id, description FROM dose_schedules LIMIT 1").fetchone()
    csv_text = ("schedule_id,category,description,total_dose_gy,fractions,alpha_beta_gy,source_id,verification\n"
                "ed_a,single_fraction,\"18 Gy, small lesions\",18,1,10,ref048,secondary\n"
                "ed_b,fractionated_intact,27 Gy in 3,27,3,10,ref048,secondary\n")
    pid = edits.propose_import(econ, "alice", "dose_schedules", csv_text, "batch from the 2026 review")
    # updating only some columns of an existing record keeps the others
    update = f"schedule_id,note\n{existing[0]},checked in 2026\n"
    pid2 = edits.propose_import(econ, "alice", "dose_schedules", update, "notes")
    edits.accept(econ, pid, "bob")
    edits.accept(econ, pid2, "bob")
    assert count(econ, "SELECT count(*) FROM dose_schedules WHERE schedule_id IN ('ed_a', 'ed_b')") == 2
    assert econ.execute("SELECT description, note FROM dose_schedules WHERE schedule_id = ?",
                        [existing[0]]).fetchone() == (existing[1], "checked in 2026")
    assert econ.execute("SELECT count(*), min(action) FROM audit_log WHERE proposal_id IN (?, ?)",
                        [pid, pid2]).fetchone() == (3, "import")


def test_an_import_with_a_wrong_header_says_which_columns(econ):
    report = edits.check_import(econ, "sources", "source_id,titel\nx,y\n")
    assert "unknown column(s) titel" in report.problems[0].message and not report.ok


# ------------------------------------------------------------------------------------------------ SQL metacharacters
METACHARACTERS = ["'; DROP TABLE sources; --", "\" OR 1=1 --", "100% _done_ \\ back", "$1 ? :name ;",
                  "Robert'); DELETE FROM studies;--"]


def test_sql_metacharacters_in_every_field_are_stored_and_searched_as_plain_text(econ):
    text_columns = [c.name for c in tables()["sources"].columns if c.type == "VARCHAR"
                    and c.name not in ("source_id", "doi", "pmid", "pub_type", "verification", "cited_in",
                                   "verified_in")]  # verified_in holds identifiers only (checked)
    studies_before = count(econ, "SELECT count(*) FROM studies")
    for i, payload in enumerate(METACHARACTERS):
        row = {c: payload for c in text_columns}
        row.update(source_id=f"ed_meta{i}", cited_in="editor", pub_type="review", verification="unverified")
        pid = edits.propose_create(econ, "alice", "sources", {"sources": [row]}, payload,
                                   confirm_duplicates=True)
        edits.accept(econ, pid, "bob", payload)
        stored = edits.load_record(econ, "sources", f"ed_meta{i}")["sources"][0]
        assert all(stored[c] == payload.strip() for c in text_columns)
        found = queries.sources(econ, text=payload)
        assert f"ed_meta{i}" in found["source_id"].tolist()
    assert count(econ, "SELECT count(*) FROM studies") == studies_before
    assert count(econ, "SELECT count(*) FROM audit_log") == len(METACHARACTERS)


# ------------------------------------------------------------------------------------------------ properties
@pytest.fixture(scope="module")
def rules_db():
    """An empty KB with just the rows foreign keys need, to ask the database what it accepts."""
    con = duckdb.connect()
    create_schema(con)
    con.execute("INSERT INTO pub_types VALUES ('review', 'Review')")
    con.execute("INSERT INTO settings VALUES ('intact', 'Intact', NULL)")
    con.execute("INSERT INTO sources (source_id, cited_in, title, pub_type, verification) "
                "VALUES ('s1', 'editor', 't', 'review', 'secondary')")
    con.execute("INSERT INTO designs VALUES ('rct', 'RCT', true)")
    con.execute("INSERT INTO endpoints VALUES ('os', 'OS', NULL)")
    con.execute("INSERT INTO subgroups VALUES ('whole_cohort', 'Whole cohort', NULL)")
    con.execute("INSERT INTO studies (study_id, short_name, design_id, randomized, verification) "
                "VALUES ('st', 'S', 'rct', true, 'secondary')")
    yield con
    con.close()


numbers = st.one_of(st.none(), st.integers(-5, 40).map(str),
                    st.floats(-5, 60, allow_nan=False).map(lambda x: f"{x:.2f}"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dose=numbers, fx=st.one_of(st.none(), st.integers(-1, 12).map(str)), ab=numbers, dmin=numbers, dmax=numbers,
       risk=numbers, category=st.sampled_from(["single_fraction", "fractionated_intact", "normal_tissue", "x"]))
def test_a_dose_schedule_the_validator_accepts_is_accepted_by_the_database(rules_db, dose, fx, ab, dmin, dmax,
                                                                            risk, category):
    raw = {"schedule_id": "p1", "category": category, "setting_id": "intact", "description": "d",
           "total_dose_gy": dose, "fractions": fx, "alpha_beta_gy": ab, "min_diameter_cm": dmin,
           "max_diameter_cm": dmax, "reported_risk_pct": risk, "source_id": "s1", "verification": "secondary"}
    record, problems = validate_record("dose_schedules", raw, {"sources.source_id": {"s1"},
                                                                "settings.setting_id": {"intact"}})
    problems += edits.extra_rules("dose_schedules", record)
    single_too_hot = (record["fractions"] == 1 and record["total_dose_gy"] is not None
                      and record["total_dose_gy"] > SINGLE_FRACTION_MAX_GY)
    assert single_too_hot == any("single-fraction maximum" in p.message for p in problems)
    if not problems:
        cols = list(record)
        rules_db.execute("BEGIN")
        try:
            rules_db.execute("INSERT INTO dose_schedules (" + ", ".join(cols) + ") VALUES ("
                             + ", ".join("?" * len(cols)) + ")", [record[c] for c in cols])
        finally:
            rules_db.execute("ROLLBACK")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=numbers, lo=numbers, hi=numbers, n=numbers, months=numbers,
       statistic=st.sampled_from(["proportion", "median", "hazard_ratio", "count", "range_of_medians_low", "bogus"]),
       unit=st.sampled_from(["%", "months", "ratio", "patients"]),
       p=st.sampled_from([None, "0.03", "<0.001", "=0.2", "p<.05", "1.5"]))
def test_an_outcome_the_validator_accepts_is_accepted_by_the_database(rules_db, value, lo, hi, n, months, statistic,
                                                                       unit, p):
    raw = {"outcome_id": "o1", "study_id": "st", "endpoint_id": "os", "statistic": statistic, "value": value,
           "unit": unit, "ci_low": lo, "ci_high": hi, "p_value": p, "n_evaluated": n, "timepoint_months": months,
           "subgroup_id": "whole_cohort", "source_id": "s1", "verification": "secondary"}
    known = {"studies.study_id": {"st"}, "endpoints.endpoint_id": {"os"}, "sources.source_id": {"s1"},
             "arms.arm_id": set(), "subgroups.subgroup_id": {"whole_cohort"}}
    record, problems = validate_record("outcomes", raw, known)
    problems += edits.extra_rules("outcomes", record)
    if not problems:
        cols = list(record)
        rules_db.execute("BEGIN")
        try:
            rules_db.execute("INSERT INTO outcomes (" + ", ".join(cols) + ") VALUES ("
                             + ", ".join("?" * len(cols)) + ")", [record[c] for c in cols])
        finally:
            rules_db.execute("ROLLBACK")


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(tables()["studies"].column_names), st.text(max_size=30), max_size=12))
def test_the_validator_never_crashes_on_any_text(raw):
    record, problems = validate_record("studies", raw)
    assert set(record) == set(tables()["studies"].column_names)
    assert all(p.column is None or p.column in record for p in problems)


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False, width=64), st.integers(-10**12, 10**12),
                 st.booleans(), st.none()))
def test_a_value_written_as_text_reads_back_the_same(value):
    """Exports write cells with format_value; the build reads them back with the validator's coercion."""
    sql_type = {bool: "BOOLEAN", int: "INTEGER", float: "DOUBLE", type(None): "VARCHAR"}[type(value)]
    from kb.validate import _convert

    text = edits.format_value(value)
    assert (None if text == "" else _convert(sql_type, text)) == value


row = st.fixed_dictionaries({"source_id": st.sampled_from(["s1", "s2"]),
                             "title": st.one_of(st.none(), st.text(max_size=4)),
                             "year": st.one_of(st.none(), st.integers(1990, 1992))})


@given(st.lists(row, max_size=3, unique_by=lambda r: r["source_id"]),
       st.lists(row, max_size=3, unique_by=lambda r: r["source_id"]))
def test_a_diff_is_empty_exactly_when_two_versions_are_equal(a, b):
    before, after = edits._canonical({"sources": a}), edits._canonical({"sources": b})
    assert (edits.diff(before, after) == []) == (before == after)
