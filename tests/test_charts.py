"""Charts plot exactly the rows they should, with the encodings and click targets the pages rely on."""

import re
from pathlib import Path

import altair as alt
import pandas as pd
import pytest

from kb import charts, queries
from kb.radiobiology import compare_schedules

DATA = Path(__file__).resolve().parent.parent / "data"


def csv(table: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{table}.csv", dtype=str, keep_default_na=False)


def spec(chart) -> dict:
    """The chart as Vega-Lite, validated by Altair (an invalid chart raises here)."""
    return chart.to_dict()


def plotted(chart) -> pd.DataFrame:
    """The rows a chart carries (the top-level data of a single or layered chart)."""
    data = chart.data
    assert isinstance(data, pd.DataFrame)
    return data


def fields(chart_spec: dict) -> set[str]:
    """Every field named by any encoding of a chart or its layers."""
    found = set()
    for layer in [chart_spec, *chart_spec.get("layer", [])]:
        for channel in layer.get("encoding", {}).values():
            if isinstance(channel, dict) and "field" in channel:
                found.add(channel["field"])
    return found


def params(chart_spec: dict) -> list[dict]:
    found = list(chart_spec.get("params", []))
    for layer in chart_spec.get("layer", []):
        found += layer.get("params", [])
    return found


@pytest.fixture(scope="module")
def studies(con):
    return queries.studies(con)


# ------------------------------------------------------------------------------------------------ dashboard
def test_studies_by_year_plots_one_bar_per_year_and_design_summing_to_all_dated_studies(studies):
    chart = charts.studies_by_year(studies)
    data = plotted(chart)
    assert data["studies"].sum() == studies["year"].notna().sum() == len(csv("studies"))
    assert not data.duplicated(["year", "design_id"]).any()
    n0574_year = int(studies.set_index("study_id").loc["n0574", "year"])
    rct_that_year = studies[(studies["year"] == n0574_year) & (studies["design_id"] == "rct")]
    assert data.set_index(["year", "design_id"]).loc[(n0574_year, "rct"), "studies"] == len(rct_that_year)
    s = spec(chart)
    assert {"year", "studies", "design"} <= fields(s)
    assert params(s)[0]["name"] == charts.PICK and params(s)[0]["select"]["fields"] == ["year", "design_id"]


def test_histology_bars_match_the_counts_and_carry_the_id_to_click(con, studies):
    counts = queries.count_by(studies, "histology_ids", queries.evidence_facets(con)["histologies"])
    chart = charts.studies_by_category(counts, "Histology")
    data = plotted(chart).set_index("id")
    links = csv("study_histologies")
    assert data.loc["melanoma", "studies"] == (links["histology_id"] == "melanoma").sum()
    assert set(data.index) == set(links["histology_id"])
    s = spec(chart)
    assert any(p["name"] == charts.PICK and p["select"]["fields"] == ["id"] for p in params(s))


def test_randomized_split_adds_up_to_all_studies(studies):
    data = plotted(charts.randomized_split(studies)).set_index("id")
    assert data.loc["yes", "studies"] == (csv("studies")["randomized"] == "true").sum()
    assert data["studies"].sum() == len(studies)


def test_landmark_timeline_plots_landmark_trials_oldest_first(studies):
    landmark = queries.is_landmark(studies)
    chart = charts.landmark_timeline(studies, landmark)
    data = plotted(chart)
    assert set(data["study_id"]) == set(studies.loc[landmark, "study_id"])
    assert {"n0574", "eortc22952"} <= set(data["study_id"]) and "checkmate204" not in set(data["study_id"])
    assert data["year"].tolist() == sorted(data["year"].tolist())
    assert {"year", "short_name_wrapped", "verification"} <= fields(spec(chart))


@pytest.mark.parametrize("chart, picked, expected", [
    ("year", [{"year": 2016, "design_id": "rct"}], {"from": "2016", "to": "2016", "design": "rct"}),
    ("year", [{"year": 2016.0}], {"from": "2016", "to": "2016"}),
    ("histology", [{"id": "melanoma"}], {"histology": "melanoma"}),
    ("setting", [{"id": "postoperative"}], {"setting": "postoperative"}),
    ("randomized", [{"id": "yes"}], {"randomized": "yes"}),
    ("landmark", [{"study_id": "n0574"}], {"study": "n0574"}),
    ("histology", [], {}),
    ("histology", [{"year": 2016}], {}),
    ("unknown", [{"id": "x"}], {}),
])
def test_a_click_becomes_explorer_filters(chart, picked, expected):
    assert charts.explorer_params(chart, picked) == expected


# ------------------------------------------------------------------------------------------------ explorer
@pytest.fixture(scope="module")
def survival(con, studies):
    return queries.comparable_outcomes(con, tuple(studies["study_id"]), "overall_survival")


def test_forest_plots_every_ratio_with_its_ci_and_nothing_else(survival):
    chart = charts.forest(survival)
    data = plotted(chart.layer[1])
    ratios = survival[survival["statistic"].isin(["hazard_ratio", "odds_ratio", "risk_ratio"])]
    assert len(data) == len(ratios) > 0
    assert set(data["measure"]) <= {"HR", "OR", "RR"}
    with_ci = data.dropna(subset=["ci_low", "ci_high"])
    assert (with_ci["ci_low"] <= with_ci["value"]).all() and (with_ci["value"] <= with_ci["ci_high"]).all()
    s = spec(chart)
    assert s["layer"][1]["encoding"]["x"]["scale"]["type"] == "log"
    assert s["layer"][0]["encoding"]["x"]["field"] == "x"  # the line of no effect at 1, in every row
    assert s["layer"][0]["mark"]["type"] == "tick"
    assert plotted(chart.layer[0])["x"].tolist() == [1.0] * len(data)
    assert plotted(chart.layer[0])["row"].tolist() == data["row"].tolist()


def test_arm_rates_plot_proportions_only(survival):
    chart = charts.arm_rates(survival)
    data = plotted(chart)
    rates = survival[(survival["statistic"] == "proportion") & (survival["unit"] == "%")]
    assert len(data) == len(rates)
    assert data["value"].between(0, 100).all()
    assert {"value", "ci_low", "ci_high", "title", "detail", "verification"} <= fields(spec(chart))


def test_forest_of_an_empty_frame_is_an_empty_but_valid_chart(con):
    empty = queries.comparable_outcomes(con, ("checkmate204",), "quality_of_life")
    assert charts.forest_data(empty).empty
    spec(charts.forest(empty))


# ------------------------------------------------------------------------------------------------ dosing
def test_dose_vs_diameter_draws_each_sized_schedule_from_its_low_to_high_end(con):
    schedules = queries.dose_schedules(con)
    chart = charts.dose_vs_size(schedules, "diameter")
    data = plotted(chart)
    sized = schedules.dropna(subset=["total_dose_gy"])
    sized = sized[sized["min_diameter_cm"].notna() | sized["max_diameter_cm"].notna()]
    assert set(data["schedule_id"]) == set(sized["schedule_id"])
    assert (data["size_low"] < data["size_high"]).all()
    row = data.set_index("schedule_id").loc["minniti2016__mf_27gy_3fx"] if "minniti2016__mf_27gy_3fx" in set(
        data["schedule_id"]) else None
    if row is not None:  # 27 Gy/3 for lesions over 2 cm: open-ended range
        assert row["open_ended"] and row["size_low"] == 2.0 and row["fractions_label"] == "3 fractions"
    assert {"size_low", "size_high", "total_dose_gy", "fractions_label"} <= fields(spec(chart))


def test_bed_comparison_plots_four_measures_per_schedule_in_order():
    compared = compare_schedules([(24, 1), (27, 3), (30, 10)])
    chart = charts.bed_comparison(compared)
    data = plotted(chart)
    assert len(data) == 12
    assert data[data["schedule"] == "30 Gy / 10 fx"]["gy"].tolist() == [39.0, 32.5, 75.0, 37.5]
    assert data[data["schedule"] == "24 Gy / 1 fx"]["measure"].tolist() == [
        "BED tumour", "EQD2 tumour", "BED normal brain", "EQD2 normal brain"]
    assert spec(chart)["encoding"]["xOffset"]["field"] == "measure"


# ------------------------------------------------------------------------------------------------ toxicity
@pytest.fixture(scope="module")
def signals(con):
    return queries.drug_toxicity(con)


def test_toxicity_matrix_counts_signals_per_drug_and_toxicity(signals):
    data = plotted(charts.toxicity_matrix(signals))
    assert data["signals"].sum() == len(csv("drug_toxicity"))
    tdm1 = data[data["drug_label"].str.startswith("trastuzumab emtansine")]
    assert tdm1["signals"].sum() == (csv("drug_toxicity")["drug_id"] == "trastuzumab_emtansine").sum()


def test_toxicity_rates_plot_with_and_without_points_for_t_dm1(signals):
    data = plotted(charts.toxicity_rates(signals))
    stumpf = data[data["signal_id"] == "tdm1_stumpf2019_csrn"].set_index("arm")
    row = csv("drug_toxicity").set_index("signal_id").loc["tdm1_stumpf2019_csrn"]
    assert stumpf.loc["with drug", "rate_pct"] == float(row["rate_with_drug_pct"])
    assert stumpf.loc["without drug", "rate_pct"] == float(row["rate_without_drug_pct"])
    data_rows = csv("drug_toxicity")
    expected = (data_rows["rate_with_drug_pct"] != "").sum() + (data_rows["rate_without_drug_pct"] != "").sum()
    assert len(data) == expected


def test_toxicity_effects_forest_plots_reported_effect_measures(signals):
    chart = charts.toxicity_effects(signals)
    data = plotted(chart.layer[1])
    data_rows = csv("drug_toxicity")
    assert len(data) == (data_rows["effect_value"] != "").sum()
    spec(chart)


# ------------------------------------------------------------------------------------------------ guidelines, imaging
def test_guideline_matrix_counts_recommendations_per_topic_and_body(con):
    recs = queries.recommendations(con)
    chart = charts.guideline_matrix(recs)
    data = plotted(chart)
    assert data["recommendations"].sum() == len(csv("recommendations"))
    assert any(p["select"]["fields"] == ["topic_id"] for p in params(spec(chart)))


def test_imaging_accuracy_plots_rows_with_both_sensitivity_and_specificity(con):
    rows = queries.imaging(con)
    chart = charts.imaging_accuracy(rows)
    data = plotted(chart)
    data_rows = csv("imaging")
    both = data_rows[(data_rows["sensitivity_pct"] != "") & (data_rows["specificity_pct"] != "")]
    assert set(data["imaging_id"]) == set(both["imaging_id"])
    assert spec(chart)["encoding"]["x"]["field"] == "specificity_pct"


def test_every_chart_is_valid_vega_lite_with_the_real_data(con, studies, survival, signals):
    schedules = queries.dose_schedules(con)
    all_charts = [charts.studies_by_year(studies), charts.randomized_split(studies),
                  charts.landmark_timeline(studies, queries.is_landmark(studies)), charts.forest(survival),
                  charts.arm_rates(survival), charts.dose_vs_size(schedules, "diameter"),
                  charts.dose_vs_size(schedules, "volume"), charts.toxicity_matrix(signals),
                  charts.toxicity_rates(signals), charts.guideline_matrix(queries.recommendations(con)),
                  charts.imaging_accuracy(queries.imaging(con))]
    for chart in all_charts:
        assert isinstance(chart, (alt.Chart, alt.LayerChart))
        assert spec(chart)["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_charts_build_when_the_filters_leave_nothing_to_plot(con):
    only_tdm1 = queries.drug_toxicity(con, drugs=("trastuzumab_emtansine",))
    assert charts.toxicity_effect_data(only_tdm1).empty
    spec(charts.toxicity_effects(only_tdm1))
    nothing = queries.drug_toxicity(con, drugs=("no_such_drug",))
    assert plotted(charts.toxicity_rates(nothing)).empty
    spec(charts.toxicity_rates(nothing))
    assert plotted(charts.dose_vs_size(queries.dose_schedules(con, settings=("no_such_setting",)))).empty
    assert charts.accuracy_data(queries.imaging(con, purposes=("no_such_purpose",))).empty


def test_signals_sharing_a_label_get_their_own_rows(signals):
    data = charts.toxicity_rate_data(signals)
    per_label = data.groupby("label")["signal_id"].nunique()
    assert (per_label == 1).all()


def _tooltip_fields(chart_spec: dict) -> set[str]:
    found = set()
    for layer in [chart_spec, *chart_spec.get("layer", [])]:
        tips = layer.get("encoding", {}).get("tooltip", [])
        for tip in tips if isinstance(tips, list) else [tips]:
            if isinstance(tip, dict) and "field" in tip:
                found.add(tip["field"])
    return found


def test_no_chart_label_or_tooltip_shows_nan_or_null(con, studies, survival, signals):
    """Every value a chart writes — axis and row labels, tooltips — is present (missing ones are words)."""
    from ui.cache import vega_spec

    schedules = queries.dose_schedules(con)
    labelled = queries.study_outcomes(con, ("sahgal2015",))
    from kb.chart_labels import estimate_labels

    all_charts = [charts.landmark_timeline(studies, queries.is_landmark(studies)), charts.forest(survival),
                  charts.arm_rates(survival), charts.dose_vs_size(schedules, "diameter"),
                  charts.toxicity_rates(signals), charts.toxicity_effects(signals),
                  charts.imaging_accuracy(queries.imaging(con)),
                  charts.forest(labelled.join(estimate_labels(labelled, across_studies=False)))]
    for chart in all_charts:
        spec_ = vega_spec(chart)
        rows = [row for dataset in spec_.get("datasets", {}).values() for row in dataset]
        fields_ = _tooltip_fields(spec_) | {"title", "detail", "label"}
        for row in rows:
            for field_ in fields_ & set(row):
                assert row[field_] is not None and str(row[field_]) not in ("nan", "None", "NaN"), (field_, row)
            for text in (row.get("title"), row.get("detail"), row.get("label")):
                assert text is None or not re.search(r"\b(nan|None)\b", str(text)), row
