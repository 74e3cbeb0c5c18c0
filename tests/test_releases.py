"""Published releases: what readers read, how an accept reaches them, how a paper cites one, the bundle, and what
changed between two releases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from downloads import downloaded  # noqa: F401
from editing_fixtures import PASSWORDS, cheap_scrypt, econ, editor_db, new_study, template_db  # noqa: F401
from streamlit.testing.v1 import AppTest

from kb import bundle, changes, citations, edits
from kb.__main__ import main
from kb.config import TABLES
from kb.releases import ID_PATTERN, KEEP, POINTER, content_hash, current, list_releases, table_hash

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


def accept_note(con, table: str, record_id: str, note: str, reason: str = "from the full text") -> list[int]:
    raw = edits.as_form(edits.load_record(con, table, record_id))
    raw[table][0]["note"] = note
    pid = edits.propose_update(con, "alice", table, record_id, raw, edits.version(con, table, record_id), reason)
    return edits.accept(con, pid, "bob")


def release_value(release, sql: str, params=()):
    con = duckdb.connect(str(release.path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchone()[0]
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------ publishing
def test_a_release_holds_the_kb_tables_only_never_accounts_or_proposals(econ):
    edits.propose_update(econ, "alice", "sources", "ref028",
                         {"sources": [{**edits.as_form(edits.load_record(econ, "sources", "ref028"))["sources"][0],
                                       "note": "pending"}]}, 0, "pending proposal")
    accept_note(econ, "sources", "ref016", "accepted")
    release = current(econ.releases)
    assert ID_PATTERN.fullmatch(release.release_id) and release.path.name == release.release_id + ".duckdb"
    con = duckdb.connect(str(release.path), read_only=True)
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    meta = dict(con.execute("SELECT key, value FROM kb_meta").fetchall())
    con.close()
    assert names == set(TABLES) | {"kb_meta"}
    assert meta["release_id"] == release.release_id and meta["content_sha256"] == release.sha256
    assert b"scrypt$" not in release.path.read_bytes()      # no password hash anywhere in the file
    assert json.loads((econ.releases / POINTER).read_text())["release_id"] == release.release_id


def test_an_accept_is_published_before_it_returns(econ):
    before = current(econ.releases)
    accept_note(econ, "sources", "ref028", "now public")
    after = current(econ.releases)
    assert after.release_id != before.release_id and econ.last_release == after.release_id
    assert after.seq == before.seq + 1
    assert release_value(after, "SELECT note FROM sources WHERE source_id = 'ref028'") == "now public"
    assert before.path.exists()   # kept: a reader in the middle of a query never sees its file vanish
    with econ.held():
        assert after.sha256 == content_hash(econ)


def test_the_same_content_keeps_its_release_id(econ):
    from kb.rebuild import rebuild_store

    before = current(econ.releases).release_id
    assert econ.publish().release_id == before
    auth_only = econ.execute("UPDATE editors SET active = false WHERE name = 'carol'")   # not in a release
    auth_only.close()
    rebuild_store(econ)                       # same data/, nothing accepted: nothing new to cite
    assert current(econ.releases).release_id == before
    assert econ.publish(force=True).release_id != before


def test_an_edit_committed_by_a_process_that_died_before_publishing_is_published_by_the_next_operation(econ):
    before = current(econ.releases).release_id
    econ.publish_enabled = False              # as if the process died right after the commit
    accept_note(econ, "sources", "ref028", "committed, not published")
    assert current(econ.releases).release_id == before
    econ.publish_enabled = True
    assert econ.execute("SELECT count(*) FROM editors").fetchone()[0] == 3   # any operation at all
    assert current(econ.releases).release_id != before
    assert main(["publish", "--home", str(econ.home)]) == 0   # `kb publish`: already current, says which


def test_only_the_last_releases_are_kept_and_the_current_one_always(econ):
    for n in range(KEEP + 2):
        accept_note(econ, "sources", "ref028", f"note {n}")
    kept = list_releases(econ.releases)
    assert len(kept) == KEEP and kept[0][0] == current(econ.releases).release_id


def test_what_an_interrupted_publish_or_build_left_is_cleaned_up(econ):
    (econ.releases / ".publishing-99999-2026-01-01.0099-deadbeef.duckdb").write_bytes(b"half")
    (econ.releases / f".{POINTER}.tmp-99999").write_text("half")
    (econ.folder / "editorial.duckdb.building").write_bytes(b"half")
    econ.close()
    accept_note(econ, "sources", "ref028", "after a crash")
    assert sorted(p.name for p in econ.releases.iterdir() if p.name.startswith(".")) == []
    assert not (econ.folder / "editorial.duckdb.building").exists()


# ------------------------------------------------------------------------------------------------ readers
def test_a_reader_page_shows_an_accepted_edit_on_its_next_rerun_without_a_restart(econ):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()   # Home, through the router
    before = current(econ.releases).release_id
    sources = next(m.value for m in at.metric if m.label == "Sources")
    assert f"release {before}" in at.main.caption[-1].value
    pid = edits.propose_create(econ, "alice", "sources", {"sources": [
        {"source_id": "ed_new", "cited_in": "editor", "title": "A new paper on radiosurgery", "year": "2026",
         "pub_type": "review", "verification": "unverified"}]}, "new paper", confirm_duplicates=True)
    edits.accept(econ, pid, "bob")
    at.run()
    assert f"release {current(econ.releases).release_id}" in at.main.caption[-1].value
    assert next(m.value for m in at.metric if m.label == "Sources") == f"{int(sources.replace(',', '')) + 1:,}"


def app_pages() -> list[str]:
    return sorted(set(re.findall(r'"(pages/\w+\.py)"', (ROOT / "app.py").read_text(encoding="utf-8"))))


@pytest.mark.parametrize("page", app_pages())
def test_every_page_footer_names_the_release_it_shows(econ, page):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page(page).run()
    assert not at.exception
    assert f"BrainMets KB release {current(econ.releases).release_id} ·" in at.main.caption[-1].value


def test_csv_downloads_name_the_release_in_the_file_name(econ, downloaded):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/sources.py").run()
    names = [downloaded.file(at, b.id).filename for b in at.get("download_button")]
    assert names == [f"brainmets_sources_{current(econ.releases).release_id}.csv"]


@pytest.mark.parametrize("export, marker", [
    (citations.to_bibtex, "@comment{BrainMets KB release 2026-12-01.0007-3fa2c1d9}"),
    (citations.to_ris, "DB  - BrainMets KB release 2026-12-01.0007-3fa2c1d9"),
    (citations.to_csl_json, '"source": "BrainMets KB release 2026-12-01.0007-3fa2c1d9"'),
])
def test_citation_exports_name_the_release(export, marker):
    record = {"source_id": "ref028", "authors": "Brown, P. D. et al.", "title": "Effect of radiosurgery alone",
              "journal": "JAMA", "year": 2016}
    assert marker in export([record], release_id="2026-12-01.0007-3fa2c1d9")
    assert "release" not in export([record])   # without a release id nothing is claimed


# ------------------------------------------------------------------------------------------------ the bundle
def test_a_bundles_parquet_files_load_into_a_fresh_duckdb_with_the_manifests_counts_and_checksums(built_db,
                                                                                                 tmp_path):
    folder = bundle.write_bundle(built_db, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert bundle.verify(folder) == []
    fresh = duckdb.connect()
    for table in TABLES:
        fresh.execute(f"CREATE TABLE {table} AS SELECT * FROM read_parquet(?)",
                      [str(folder / "parquet" / f"{table}.parquet")])
        assert fresh.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == manifest["tables"][table]["rows"]
        assert table_hash(fresh, table) == manifest["tables"][table]["sha256"]
    assert content_hash(fresh) == manifest["content_sha256"]
    release = duckdb.connect(str(built_db), read_only=True)
    assert manifest["release_id"] == release.execute("SELECT value FROM kb_meta WHERE key = 'release_id'").fetchone()[0]
    release.close()
    for name, digest in manifest["files"].items():
        assert bundle.sha256_file(folder / name) == digest
    assert {p.name for p in folder.iterdir()} == {f"{folder.name}.duckdb", "parquet", "csv", "sources.csl.json",
                                                 "manifest.json"}
    sources = json.loads((folder / "sources.csl.json").read_text(encoding="utf-8"))
    assert len(sources) == manifest["tables"]["sources"]["rows"]
    assert all(item["source"] == f"BrainMets KB release {manifest['release_id']}" for item in sources)


def test_a_changed_file_fails_the_bundle_check(built_db, tmp_path):
    folder = bundle.write_bundle(built_db, tmp_path)
    with open(folder / "csv" / "sources.csv", "a", encoding="utf-8") as handle:
        handle.write("tampered\n")
    assert bundle.verify(folder) == ["csv/sources.csv differs from the manifest"]


def test_the_release_command_writes_the_current_bundle(built_db, tmp_path, capsys):
    assert main(["release", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Wrote" in out and "manifest.json" in out
    assert len(list(tmp_path.glob("brainmets-kb-*/manifest.json"))) == 1


# ------------------------------------------------------------------------------------------------ what changed
def test_what_changed_lists_added_changed_and_retired_records_with_their_reasons(econ):
    first = current(econ.releases)
    accept_note(econ, "sources", "ref028", "a note", reason="corrected from the PubMed record")
    edits.accept(econ, edits.propose_create(econ, "alice", "studies", new_study(), "a new trial report"), "bob")
    edits.accept(econ, edits.propose_retire(econ, "alice", "studies", "nrg_cc001", 0, "a duplicate record"), "bob")
    last = current(econ.releases)
    old, new = (duckdb.connect(str(r.path), read_only=True) for r in (first, last))
    found = {(c.table, c.record_id): c for c in changes.between(old, new)}
    old.close()
    new.close()
    assert set(found) == {("sources", "ref028"), ("studies", "ed_trial2026"), ("studies", "nrg_cc001")}
    assert (found["sources", "ref028"].what, found["sources", "ref028"].details) == ("changed", "note")
    assert found["sources", "ref028"].reasons.startswith("corrected from the PubMed record (update by alice, "
                                                         "accepted by bob")
    assert found["studies", "ed_trial2026"].what == "added" and "a new trial report" in found[
        "studies", "ed_trial2026"].reasons
    assert "arms: 2 added" in found["studies", "ed_trial2026"].details   # a study's arms are part of the study
    assert found["studies", "nrg_cc001"].what == "retired" and "a duplicate record" in found[
        "studies", "nrg_cc001"].reasons


def test_a_change_curated_by_hand_in_data_says_so(data_copy, tmp_path):
    from kb.build import build

    old_path, new_path = tmp_path / "old.duckdb", tmp_path / "new.duckdb"
    build(old_path, data_copy)
    text = (data_copy / "sources.csv").read_text(encoding="utf-8")
    (data_copy / "sources.csv").write_text(text.replace(",JAMA,2016,316,", ",JAMA Netw,2016,316,"), encoding="utf-8")
    build(new_path, data_copy)
    old, new = duckdb.connect(str(old_path), read_only=True), duckdb.connect(str(new_path), read_only=True)
    assert [(c.record_id, c.details, c.reasons) for c in changes.between(old, new)] == [
        ("ref028", "journal", changes.HAND_EDIT)]


def test_the_releases_page_offers_the_bundle_and_shows_what_changed(econ):
    accept_note(econ, "sources", "ref028", "a note", reason="corrected from the PubMed record")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.switch_page("pages/releases.py").run()
    assert not at.exception
    release_id = current(econ.releases).release_id
    assert any(release_id in m.value.replace("\\", "") for m in at.markdown)
    assert [b.proto.label for b in at.get("download_button")][0] == "Download the release bundle (zip)"
    table = at.dataframe[0].value
    assert table.to_dict("records") == [{"record": "source", "id": "ref028", "what": "changed", "details": "note",
                                         "reason": table["reason"][0]}]
    assert table["reason"][0].startswith("corrected from the PubMed record")
    assert at.query_params["to"] in (release_id, [release_id])   # the view is a URL that can be shared


def test_the_bundle_zip_the_app_offers_holds_the_same_folder(built_db):
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(bundle.bundle_zip(built_db)))
    names = archive.namelist()
    manifest = json.loads(archive.read(next(n for n in names if n.endswith("/manifest.json"))))
    assert {n.split("/", 1)[1] for n in names} == set(manifest["files"]) | {"manifest.json"}
