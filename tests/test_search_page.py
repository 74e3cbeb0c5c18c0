"""AppTest: the Search page finds papers as the reader types, highlights, filters through the URL, collects a
selection for export, and shows stored text as inert text."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


@pytest.fixture
def page(built_db):
    return AppTest.from_file(str(ROOT / "pages/search.py"), default_timeout=TIMEOUT)


def result_titles(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**") and m.value[2:3].isdigit() and ".**" in m.value]


def test_empty_page_invites_typing(page):
    at = page.run()
    assert not at.exception
    assert at.info[0].value.startswith("Start typing")
    assert "not medical advice" in at.caption[-1].value


def test_typing_shows_ranked_highlighted_results_and_updates_the_url(page):
    at = page.run()
    at.text_input[0].input("minitti 3x9 gy").run()
    assert not at.exception
    titles = result_titles(at)
    assert titles[0].startswith("**1.** Single\\-fraction versus multifraction")
    assert "**3 × 9 Gy**" in titles[0]                       # matched words in bold
    assert any("**Minniti**" in m.value for m in at.markdown)  # the typo found the author
    assert at.query_params["q"] in ("minitti 3x9 gy", ["minitti 3x9 gy"])


def test_typing_again_replaces_the_results(page):
    at = page.run()
    at.text_input[0].input("minitti 3x9 gy").run()
    at.text_input[0].input("N0574").run()
    titles = result_titles(at)
    assert titles[0].startswith("**1.** Effect of radiosurgery alone vs radiosurgery")   # Brown 2016 JAMA, ref028
    assert any("Study: **N0574**" in c.value or "**N0574**" in c.value for c in at.caption)


def test_publication_type_filter_goes_to_the_url_and_restricts_results(page):
    at = page.run()
    at.text_input[0].input("whole brain radiotherapy").run()
    unfiltered = len(result_titles(at))
    at.multiselect[0].select("meta_analysis").run()
    assert at.query_params["type"] in ("meta_analysis", ["meta_analysis"])
    captions = [c.value for c in at.caption if "·" in c.value and ("verified" in c.value or "secondary" in c.value)]
    assert captions and all("meta analysis" in c for c in captions)
    assert len(result_titles(at)) < unfiltered


def test_deep_link_restores_query_and_filters(built_db):
    at = AppTest.from_file(str(ROOT / "pages/search.py"), default_timeout=TIMEOUT)
    at.query_params["q"] = "nivolumab"
    at.query_params["histology"] = "melanoma"
    at.run()
    assert not at.exception
    assert at.text_input[0].value == "nivolumab"
    assert at.multiselect[1].value == ["melanoma"]
    titles = result_titles(at)
    assert titles and any("nivolumab" in t.lower() for t in titles)
    assert not any("non\\-small cell lung" in t.lower() or "nsclc" in t.lower() for t in titles[:3])


def test_no_match_says_what_to_change(page):
    at = page.run()
    at.text_input[0].input("zzqqxxv").run()
    assert "No source matches" in at.info[0].value


def test_selected_results_are_collected_for_export(page):
    at = page.run()
    at.text_input[0].input("Perez Garcia").run()
    at.checkbox[0].check().run()
    at.text_input[0].input("Belohlavek").run()
    at.checkbox[0].check().run()
    assert at.subheader[-1].value == "Selection (2 sources)"
    chosen = next(c.value for c in at.caption if "Pérez" in c.value or "Belohl" in c.value)
    assert "Pérez\\-García JM 2023" in chosen and "Belohlávek O 2003" in chosen
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"BibTeX", "RIS", "CSL-JSON"} <= set(labels)
    next(b for b in at.button if b.label == "Clear selection").click().run()
    assert at.subheader[-1].value == "Selection (0 sources)"


def test_stored_html_and_links_render_as_text(data_copy, tmp_path, monkeypatch):
    """A hostile title in the data shows escaped: no HTML, no javascript: link."""
    from kb.build import build

    path = data_copy / "sources.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    row = dict(rows[0], source_id="editor_x1", ref_number="", cited_in="editor", doi="", pmid="",
               title="<script>alert(1)</script> [click](javascript:alert(1)) radiosurgery zebrafish",
               verification="unverified", verified_in="")
    with path.open("a", encoding="utf-8", newline="") as handle:
        csv.DictWriter(handle, fieldnames=list(rows[0])).writerow(row)
    db = tmp_path / "hostile.duckdb"
    build(db, data_dir=data_copy)
    monkeypatch.setenv("KB_DB", str(db))
    st.cache_data.clear()  # cached results are keyed by arguments, not by database file
    try:
        at = AppTest.from_file(str(ROOT / "pages/search.py"), default_timeout=TIMEOUT).run()
        at.text_input[0].input("zebrafish").run()
        title = result_titles(at)[0].replace("\u2060", "")  # the invisible joiner that keeps text from linking
    finally:
        st.cache_data.clear()
    assert "\\<script\\>" in title and "<script>" not in title.replace("\\<script\\>", "")
    assert "](javascript" not in title and "\\[click\\]\\(javascript\\:alert\\(1\\)\\)" in title
