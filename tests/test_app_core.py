"""AppTest: the entry point, Home and Sources show what the KB holds and filter as a reader expects."""

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from kb import queries

ROOT = Path(__file__).resolve().parent.parent

TIMEOUT = 30


@pytest.fixture
def sources_page(built_db):
    return AppTest.from_file(str(ROOT / "pages/sources.py"), default_timeout=TIMEOUT)


def shown_count(at: AppTest) -> int:
    text = next(m.value for m in at.markdown if m.value.startswith("**") and "sources" in m.value)
    return int(text.split("**")[1])


def test_app_routes_to_home_and_shows_counts_per_table(built_db, con):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "BrainMets KB"
    metrics = {m.label: m.value for m in at.metric}
    counts = queries.table_counts(con)
    assert metrics["Sources"] == f"{counts['sources']:,}" == "265"
    assert metrics["Studies"] == f"{counts['studies']:,}"
    assert metrics["Outcome figures"] == f"{counts['outcomes']:,}"
    assert any("not medical advice" in w.value for w in at.warning)


def test_sources_lists_the_whole_bibliography(sources_page):
    at = sources_page.run()
    assert not at.exception
    assert shown_count(at) == 265
    assert "not medical advice" in at.caption[-1].value


def test_publication_type_filter_returns_only_that_type(sources_page, con):
    at = sources_page.run()
    at.multiselect[0].select("guideline").run()
    expected = len(queries.sources(con, pub_types=["guideline"]))
    assert shown_count(at) == expected > 10
    assert at.query_params["type"] in ("guideline", ["guideline"])


def test_text_filter_finds_brown_2016_n0574(sources_page):
    at = sources_page.run()
    at.text_input[0].input("Brown 2016 cognitive").run()
    table = at.dataframe[0].value
    assert shown_count(at) >= 1
    assert (table["Ref"] == 28).any()


def test_deep_link_restores_filters(built_db, con):
    at = AppTest.from_file(str(ROOT / "pages/sources.py"), default_timeout=TIMEOUT)
    at.query_params["type"] = ["randomized_trial"]
    at.query_params["from"] = "2015"
    at.run()
    assert at.multiselect[0].value == ["randomized_trial"]
    assert at.slider[0].value[0] == 2015
    assert shown_count(at) == len(queries.sources(con, year_min=2015, pub_types=["randomized_trial"]))


@pytest.mark.parametrize("text", ["'; DROP TABLE sources; --", "<script>alert(1)</script>", "zzzz qqqq", "%_%"])
def test_hostile_or_empty_text_gives_the_empty_state_and_harms_nothing(sources_page, con, text):
    at = sources_page.run()
    at.text_input[0].input(text).run()
    assert not at.exception
    assert shown_count(at) == 0
    assert any("No source matches" in i.value for i in at.info)
    assert queries.count(con, "sources") == 265


def test_filtered_table_offers_a_csv_download(sources_page):
    at = sources_page.run()
    at.text_input[0].input("radionecrosis").run()
    shown = at.dataframe[0].value
    button = at.get("download_button")[0]
    assert shown_count(at) == len(shown) > 0
    assert button.proto.label == "Download CSV"


def test_a_store_held_by_another_process_blocks_no_reader_and_the_editor_page_says_so(built_db, monkeypatch):
    """A `python -m kb` command (or a second editor app) writing for long: readers read the release as usual; the
    editor page says in a sentence that the store is busy, not a traceback."""
    import subprocess
    import sys

    from kb.store import get_store

    store = get_store()
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'a'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('ready', flush=True); time.sleep(60)",
                               str(store.lock_path)], stdout=subprocess.PIPE, text=True)
    monkeypatch.setattr(store, "wait_s", 0.5)
    try:
        assert holder.stdout.readline().strip() == "ready"
        st.cache_resource.clear()   # as at the start of the app's process: it has not got ready yet
        home = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()   # Home, through the router
        assert not home.exception and home.title[0].value == "BrainMets KB"
        editor = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
        editor.switch_page("pages/editor.py")
        editor.run()
        assert not editor.exception
        assert "The editorial store is busy" in editor.error[0].value
    finally:
        holder.kill()
        holder.wait()


def test_a_reader_instance_with_nothing_published_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_READ_ONLY", "1")
    monkeypatch.setenv("KB_RELEASES", str(tmp_path / "empty"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "No release of the knowledge base has been published yet" in at.error[0].value
    assert not at.title
