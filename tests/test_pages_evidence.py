"""AppTest: the six evidence pages filter, deep-link, download and compute as a reader expects.

Pages run through app.py (the real navigation), with KB_DB pointing at the session's temporary database.
Expectations come from data/*.csv or from known records (CheckMate 204, ABC and COMBI-MB are melanoma studies).
"""

import io
from pathlib import Path

import pandas as pd
import pytest
from downloads import downloaded  # noqa: F401
from pages_helpers import open_page
from streamlit.testing.v1 import AppTest

from kb import queries
from kb.queries import StudyFilters

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
TIMEOUT = 60


def csv(table: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{table}.csv", dtype=str, keep_default_na=False)




def param(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def markdown_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def shown_number(at: AppTest, word: str) -> int:
    """The bold count before ``word`` ('**12** of 99 studies' -> 12); ``word`` may be singular or plural."""
    stem = {"studies": "stud", "schedules": "schedule", "signals": "signal", "imaging findings": "imaging finding",
            "recommendations": "recommendation"}.get(word, word)
    text = next(t for t in markdown_texts(at) if t.startswith("**") and stem in t)
    return int(text.split("**")[1])


def assert_csv_equals_table(content: bytes, table: pd.DataFrame) -> None:
    """The CSV holds exactly the rows, columns and values of the table on screen (both read back as CSV)."""
    from_csv = pd.read_csv(io.BytesIO(content))
    on_screen = pd.read_csv(io.StringIO(table.to_csv(index=False)))
    assert list(from_csv.columns) == list(table.columns)
    pd.testing.assert_frame_equal(from_csv, on_screen, check_dtype=False)


def table_with_column(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


# ------------------------------------------------------------------------------------------------ explorer
def test_melanoma_filter_returns_checkmate_204_abc_and_combi_mb(built_db, con):
    at = open_page("explorer")
    at.multiselect(key="ex_histology").set_value(["melanoma"]).run()
    studies = table_with_column(at, "Study")["Study"].tolist()
    expected = queries.studies(con, StudyFilters(histologies=("melanoma",)))
    assert shown_number(at, "studies") == len(studies) == len(expected)
    assert {"CheckMate 204", "COMBI-MB"} <= set(studies)
    assert any(s.startswith("ABC trial") for s in studies)
    assert not any("N0574" in s for s in studies)
    assert param(at, "histology") == "melanoma"


def test_explorer_deep_link_restores_filters_and_opens_the_study(built_db, con):
    at = open_page("explorer", histology="melanoma", setting="systemic_only", study="checkmate204")
    assert at.multiselect(key="ex_histology").value == ["melanoma"]
    assert at.multiselect(key="ex_setting").value == ["systemic_only"]
    expected = queries.studies(con, StudyFilters(histologies=("melanoma",), settings=("systemic_only",)))
    assert set(table_with_column(at, "Study")["Study"]) == set(expected["short_name"])
    assert at.selectbox(key="ex_study").value == "checkmate204"
    assert "#### CheckMate 204" in markdown_texts(at)
    outcomes = table_with_column(at, "Result")
    assert len(outcomes) == (csv("outcomes")["study_id"] == "checkmate204").sum()
    assert outcomes["Result"].str.contains("95% CI").any()
    assert outcomes["Verification"].str.contains("verified").all()


def test_explorer_year_and_design_link_from_the_dashboard_is_applied(built_db, con):
    at = open_page("explorer", **{"from": "2016", "to": "2016", "design": "rct"})
    assert at.slider(key="ex_years").value == (2016, 2016)
    expected = queries.studies(con, StudyFilters(designs=("rct",), year_min=2016, year_max=2016))
    assert set(table_with_column(at, "Study")["Study"]) == set(expected["short_name"])
    assert "NCCTG N0574 (Alliance)" in set(expected["short_name"])


def test_a_study_link_opens_that_study_even_after_an_earlier_visit(built_db):
    at = open_page("explorer", study="n0574")
    assert at.selectbox(key="ex_study").value == "n0574"
    at.query_params.clear()
    at.switch_page("pages/dashboard.py").run()
    at.query_params["study"] = "checkmate204"  # what a click on the landmark timeline sends
    at.switch_page("pages/explorer.py").run()
    assert at.selectbox(key="ex_study").value == "checkmate204"
    assert "#### CheckMate 204" in markdown_texts(at)


@pytest.mark.parametrize("page, key, param, value", [("explorer", "ex_mets", "mets", 3),
                                                     ("explorer", "ex_size", "size", 2.5),
                                                     ("dosing", "do_diam", "diam", 2.5),
                                                     ("dosing", "do_vol", "vol", 10.0)])
def test_a_size_or_count_box_left_empty_means_any_and_clearing_it_removes_the_filter(built_db, page, key, param,
                                                                                       value):
    at = open_page(page)
    word = "studies" if page == "explorer" else "schedules"
    everything = shown_number(at, word)
    assert at.number_input(key=key).value is None and param not in at.query_params   # no 0 that reads as a number
    at.number_input(key=key).set_value(value).run()
    assert float(at.query_params[param]) == value
    at.number_input(key=key).set_value(None).run()
    assert param not in at.query_params and shown_number(at, word) == everything


def test_explorer_csv_download_equals_the_table_shown(built_db, downloaded):
    at = open_page("explorer", histology="breast_her2pos")
    table = table_with_column(at, "Study")
    assert len(table) > 0
    assert_csv_equals_table(downloaded(at, "ex_table_csv"), table)


def test_choosing_a_study_shows_arms_outcomes_and_citations(built_db):
    at = open_page("explorer")
    at.selectbox(key="ex_study").set_value("n0574").run()
    assert param(at, "study") == "n0574"
    arms = table_with_column(at, "Arm")
    assert len(arms) == (csv("arms")["study_id"] == "n0574").sum()
    citations = table_with_column(at, "Title")
    assert citations["DOI"].str.contains("10.1001/jama.2016.9839", regex=False).any()  # Brown 2016 JAMA
    assert any(":green-badge[:material/check_circle: verified]" in t for t in markdown_texts(at))


def test_explorer_empty_state_says_which_filter_to_clear(built_db):
    at = open_page("explorer", histology="melanoma", mets="50", recorded="only")
    assert shown_number(at, "studies") == 0
    messages = [i.value for i in at.info]
    assert any(m.startswith("No study matches — clear") and "metastases" in m for m in messages)


def test_compare_section_charts_only_the_chosen_endpoint(built_db, con):
    at = open_page("explorer", compare="overall_survival")
    assert at.selectbox(key="ex_compare").value == "overall_survival"
    figures = table_with_column(at, "Compared with")
    expected = queries.comparable_outcomes(con, tuple(queries.studies(con)["study_id"]), "overall_survival")
    assert len(figures) == len(expected) > 0


# ------------------------------------------------------------------------------------------------ dashboard
def test_dashboard_headline_figures_match_the_data(built_db):
    at = open_page("dashboard")
    metrics = {m.label: m for m in at.metric}
    studies = csv("studies")
    assert metrics["Studies"].value == f"{len(studies):,}"
    assert metrics["Studies"].delta == f"{(studies['verification'] == 'verified').sum()} verified"
    assert metrics["Randomized trials"].value == f"{(studies['randomized'] == 'true').sum():,}"
    outcomes = csv("outcomes")
    assert metrics["Outcome figures"].value == f"{len(outcomes):,}"
    assert metrics["Outcome figures"].delta == f"{(outcomes['verification'] == 'verified').sum()} verified"


def test_dashboard_links_each_histology_to_the_filtered_explorer(built_db, downloaded):
    at = open_page("dashboard")
    links = [p for p in at.get("page_link")]
    melanoma = next(p for p in links if p.proto.label.startswith("Melanoma ("))
    n = (csv("study_histologies")["histology_id"] == "melanoma").sum()
    assert melanoma.proto.label == f"Melanoma ({n})"
    assert "histology=melanoma" in melanoma.proto.query_string
    table = table_with_column(at, "Facet")
    assert_csv_equals_table(downloaded(at, "dash_table_csv"), table)


# ------------------------------------------------------------------------------------------------ dosing
def calculator_table(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if any(c.startswith("BED tumour") for c in d.value.columns))


def test_bed_calculator_shows_hand_computed_values(built_db):
    at = open_page("dosing")
    table = calculator_table(at).set_index("Schedule")
    assert table.loc["24 Gy / 1 fx", "BED tumour, α/β 10 (Gy)"] == 81.6
    assert table.loc["27 Gy / 3 fx", "BED tumour, α/β 10 (Gy)"] == 51.3
    assert table.loc["30 Gy / 10 fx", "BED tumour, α/β 10 (Gy)"] == 39.0
    assert table.loc["30 Gy / 10 fx", "EQD2 tumour, α/β 10 (Gy)"] == 32.5
    assert table.loc["30 Gy / 10 fx", "BED normal brain, α/β 2 (Gy)"] == 75.0
    at.text_input(key="do_calc").input("25/5").run()
    table = calculator_table(at).set_index("Schedule")
    assert table.loc["25 Gy / 5 fx", "BED tumour, α/β 10 (Gy)"] == 37.5
    assert param(at, "calc") == "25/5"


def test_bed_calculator_deep_link_restores_schedules_and_alpha_beta(built_db):
    at = open_page("dosing", calc="30/10", ab="2")
    table = calculator_table(at).set_index("Schedule")
    assert table.loc["30 Gy / 10 fx", "BED tumour, α/β 2 (Gy)"] == 75.0
    assert table.loc["30 Gy / 10 fx", "EQD2 tumour, α/β 2 (Gy)"] == 37.5


def test_bed_calculator_explains_a_bad_schedule(built_db):
    at = open_page("dosing")
    at.text_input(key="do_calc").input("27x3").run()
    assert any("not a schedule" in e.value for e in at.error)
    assert not any(any(c.startswith("BED tumour") for c in d.value.columns) for d in at.dataframe)


def test_dosing_diameter_deep_link_filters_schedules_and_csv_matches(built_db, con, downloaded):
    at = open_page("dosing", diam="2.5")
    assert at.number_input(key="do_diam").value == 2.5
    table = table_with_column(at, "Lesion size")
    expected = queries.dose_schedules(con, diameter_cm=2.5, keep_unsized=True)
    assert len(table) == len(expected) == shown_number(at, "schedules")
    dosed = table["Schedule"].notna() & (table["Schedule"].astype(str) != "—")
    assert dosed.sum() == expected["total_dose_gy"].notna().sum()
    assert table.loc[dosed, "BED (Gy, computed)"].notna().all()   # every schedule with a dose has its BED
    assert_csv_equals_table(downloaded(at, "do_table_csv"), table)


def test_dosing_size_filter_keeps_unsized_schedules_marked_and_the_switch_hides_them(built_db, con):
    at = open_page("dosing", diam="2.5")
    kept = queries.dose_schedules(con, diameter_cm=2.5, keep_unsized=True)
    only_sized = queries.dose_schedules(con, diameter_cm=2.5)
    assert len(kept) > len(only_sized) > 0
    table = table_with_column(at, "Lesion size")
    assert len(table) == len(kept) == shown_number(at, "schedules")
    unsized = len(kept) - int(kept["size_range"].notna().sum())
    assert (table["Lesion size"] == "not recorded").sum() == unsized
    assert any(f"{unsized} schedules shown state no lesion size" in c.value for c in at.caption)
    at.toggle(key="do_sized").set_value(True).run()
    assert at.query_params["sized"] == "only"
    table = table_with_column(at, "Lesion size")
    assert len(table) == len(only_sized) == shown_number(at, "schedules")
    assert not (table["Lesion size"] == "not recorded").any()


def test_dosing_empty_state_names_the_filter(built_db):
    schedules = csv("dose_schedules").query("category != 'normal_tissue'")
    setting = next(s for s in csv("settings")["setting_id"] if s not in set(schedules["setting_id"]))
    at = open_page("dosing", setting=setting, diam="2")
    assert shown_number(at, "schedules") == 0
    assert any("No schedule matches — clear the setting filter or the lesion diameter filter" in i.value
               for i in at.info)


def test_normal_brain_limits_list_every_tolerance_row(built_db):
    at = open_page("dosing")
    limits = table_with_column(at, "Risk of")
    assert len(limits) == (csv("dose_schedules")["category"] == "normal_tissue").sum()


# ------------------------------------------------------------------------------------------------ toxicity
def test_toxicity_page_leads_with_t_dm1(built_db):
    at = open_page("toxicity")
    row = csv("drug_toxicity").set_index("signal_id").loc["tdm1_stumpf2019_csrn"]
    values = [m.value for m in at.metric]
    assert f"{float(row['rate_with_drug_pct']):g}%" in values
    assert f"{float(row['rate_without_drug_pct']):g}%" in values


def test_toxicity_histology_filter_and_every_row_has_timing_and_source(built_db, downloaded):
    at = open_page("toxicity")
    at.multiselect(key="tx_histology").set_value(["melanoma"]).run()
    at.toggle(key="tx_mixed").set_value(False).run()
    table = table_with_column(at, "Timing window")
    data = csv("drug_toxicity")
    assert len(table) == data["histology_id"].isin(["melanoma", "melanoma_braf"]).sum() > 0
    assert set(table["Histology"]) <= {"Melanoma", "Melanoma BRAF V600-mutant"}
    assert table["Timing window"].str.len().gt(0).all() and table["Source"].str.len().gt(0).all()
    assert param(at, "mixed") == "0" and param(at, "histology") == "melanoma"
    assert_csv_equals_table(downloaded(at, "tx_table_csv"), table)


def test_toxicity_deep_link_restores_the_drug_filter(built_db):
    at = open_page("toxicity", drug="trastuzumab_emtansine")
    assert at.multiselect(key="tx_drug").value == ["trastuzumab_emtansine"]
    table = table_with_column(at, "Timing window")
    assert set(table["Drug"]) == {"trastuzumab emtansine (T-DM1)"}
    guidance = table_with_column(at, "Guidance")
    assert guidance["Evidence level"].notna().all()


def test_toxicity_empty_state(built_db):
    at = open_page("toxicity", histology="rcc", mixed="0")
    assert shown_number(at, "signals") == 0
    assert any(i.value.startswith("No signal matches — clear") for i in at.info)


# ------------------------------------------------------------------------------------------------ guidelines
def test_guideline_topic_filter_and_side_by_side_comparison(built_db, con, downloaded):
    at = open_page("guidelines", topic="srs_vs_wbrt")
    table = table_with_column(at, "Recommendation (our words)")
    data = csv("recommendations")
    assert len(table) == (data["topic_id"] == "srs_vs_wbrt").sum()
    assert at.selectbox(key="gl_compare").value == "srs_vs_wbrt"
    bodies = queries.recommendations(con, topics=("srs_vs_wbrt",))["body_short"].unique()
    headings = markdown_texts(at)
    assert all(any(h.replace("\\", "") == f"**{b}**" for h in headings) for b in bodies)
    assert_csv_equals_table(downloaded(at, "gl_table_csv"), table)


def test_guideline_compare_deep_link(built_db):
    at = open_page("guidelines", compare="radionecrosis")
    assert at.selectbox(key="gl_compare").value == "radionecrosis"
    assert any("on “Radionecrosis diagnosis and treatment”" in c.value for c in at.caption)


def test_guideline_empty_state(built_db):
    at = open_page("guidelines", q="zzzzqqqq")
    assert any(i.value.startswith("No recommendation matches — clear the text filter") for i in at.info)


# ------------------------------------------------------------------------------------------------ imaging
def test_imaging_purpose_filter_and_csv(built_db, downloaded):
    at = open_page("imaging", purpose="rn_vs_progression")
    table = table_with_column(at, "Modality")
    data = csv("imaging")
    assert len(table) == (data["purpose"] == "rn_vs_progression").sum()
    assert set(table["Purpose"]) == {"Radionecrosis vs progression"}
    assert_csv_equals_table(downloaded(at, "im_table_csv"), table)
    both = data[(data["purpose"] == "rn_vs_progression") & (data["sensitivity_pct"] != "")
                & (data["specificity_pct"] != "")]
    assert any(t.startswith(f"**Sensitivity and specificity** — {len(both)} of") for t in markdown_texts(at))


def test_imaging_empty_state(built_db):
    rows = csv("imaging").merge(csv("imaging_modalities"), on="modality_id")
    purpose, kind = next((p, k) for p in sorted(set(rows["purpose"])) for k in sorted(set(rows["kind"]))
                         if not ((rows["purpose"] == p) & (rows["kind"] == k)).any())
    at = open_page("imaging", purpose=purpose, kind=kind)
    assert shown_number(at, "imaging findings") == 0
    assert any(i.value.startswith("No imaging finding matches — clear the purpose filter or the modality filter")
               for i in at.info)


# ------------------------------------------------------------------------------------------------ every page
@pytest.mark.parametrize("page", ["dashboard", "explorer", "dosing", "toxicity", "guidelines", "imaging"])
def test_every_evidence_page_has_the_footer_with_release_and_disclaimer(built_db, con, page):
    at = open_page(page)
    release = queries.release_info(con)["release"]
    footer = at.main.caption[-1].value
    assert f"release {release}" in footer and "not medical advice" in footer


# ------------------------------------------------------------------------------------------------ stored text
@pytest.mark.parametrize("stored, must_not_contain", [
    ("[click](javascript:alert(1))", "](javascript:"),
    ("<script>alert(1)</script>", "<script>"),
    ("**bold** and _it_", "**bold**"),
    (":red[alarm] $x^2$", ":red["),
])
def test_stored_text_is_escaped_before_markdown_so_it_renders_inert(stored, must_not_contain):
    from ui.widgets import escape

    escaped = escape(stored)
    assert must_not_contain not in escaped
    # nothing lost: only backslashes and invisible word joiners (which keep links and directives from forming)
    assert escaped.replace("\\", "").replace("\u2060", "") == stored
