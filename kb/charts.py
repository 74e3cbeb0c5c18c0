"""Charts of the evidence pages: each function takes the DataFrame a page shows and returns an Altair chart.

The frames come from ``kb.queries``; the small ``*_data`` helpers here reshape them into exactly what is plotted,
so tests can check the plotted rows. Charts that lead somewhere (the dashboard's bars) carry a point selection named
``pick`` whose fields become explorer filters (``explorer_params``).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from kb import chart_labels, display

VERIFICATION_SCALE = alt.Scale(domain=["verified", "secondary", "unverified"],
                               range=["#2e7d32", "#f9a825", "#9e9e9e"])
PICK = "pick"


def _verification_color(title: str = "Verification") -> alt.Color:
    # one entry per line: a bottom legend starts where the plot starts, and three entries side by side would run
    # past the right edge of a phone
    return alt.Color("verification:N", scale=VERIFICATION_SCALE, title=title,
                     legend=alt.Legend(orient="bottom", direction="vertical"))


def _plain(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Only the plotted columns, with pandas' missing values turned into None so the spec is valid JSON."""
    out = frame[columns].copy()
    return out.astype(object).where(out.notna(), None)


def _tips(frame: pd.DataFrame, formats: dict[str, str]) -> pd.DataFrame:
    """Add ``<column>_tip``: the value as text for a tooltip, or the words for a missing one — Vega would write a
    missing number as "NaN" and missing text as "null".

    >>> _tips(pd.DataFrame({"n": [12.0, None]}), {"n": "{:,.0f}"})["n_tip"].tolist()
    ['12', 'not reported or not verified']
    """
    out = frame.copy()
    for column, fmt in formats.items():
        out[column + "_tip"] = [display.words(v, fmt) for v in out[column]] if column in out else []
    return out


# Long category names (histologies, topics, trial names) are wrapped onto short lines in Python and split back
# into lines by the axis, so a label column stays about 140 px wide and a phone keeps most of its width for data.
WRAP_CHARS = 22
AXIS_LINE_PX = 12


def _wrap_column(frame: pd.DataFrame, column: str, width: int = WRAP_CHARS,
                 max_lines: int = 3) -> tuple[pd.DataFrame, int]:
    """``frame`` with ``<column>_wrapped`` (lines joined by "\\n") and the most lines any label has."""
    out = frame.copy()
    out[column + "_wrapped"] = [chart_labels.wrap(v, width, max_lines) for v in out[column]]
    return out, chart_labels.n_lines(out[column + "_wrapped"])


def _wrapped_axis(**kwargs: Any) -> alt.Axis:
    """An axis that draws each "\\n"-separated part of a label on its own line, the lines centred on the tick
    (Vega starts a multi-line label at the tick, so it is moved up by half its extra lines), none dropped."""
    kwargs.setdefault("labelOverlap", False)
    return alt.Axis(labelExpr="split(datum.label, '\\n')", labelLimit=160, labelLineHeight=AXIS_LINE_PX,
                    labelOffset=alt.ExprRef(expr=f"-{AXIS_LINE_PX / 2:g} * (length(split(datum.value, '\\n')) - 1)"),
                    **kwargs)


# ------------------------------------------------------------------------------------------------ dashboard
def studies_per_year_data(studies: pd.DataFrame) -> pd.DataFrame:
    """Studies per publication year and design.

    >>> f = pd.DataFrame({"year": [2016, 2016, 2017], "design_id": ["rct", "rct", "retrospective"],
    ...                   "design": ["RCT", "RCT", "Retrospective"], "study_id": ["a", "b", "c"]})
    >>> studies_per_year_data(f).values.tolist()
    [[2016, 'rct', 'RCT', 2], [2017, 'retrospective', 'Retrospective', 1]]
    """
    known = studies.dropna(subset=["year"])
    out = (known.groupby(["year", "design_id", "design"])["study_id"].nunique().rename("studies").reset_index()
           .sort_values(["year", "design_id"], ignore_index=True))
    out["year"] = out["year"].astype(int)
    out["studies"] = out["studies"].astype(int)
    return out


def studies_by_year(studies: pd.DataFrame) -> alt.Chart:
    """Stacked bars: studies per year, coloured by design. Clicking a bar picks its year and design."""
    data = studies_per_year_data(studies)
    pick = alt.selection_point(name=PICK, fields=["year", "design_id"], on="click")
    return (alt.Chart(data).mark_bar().encode(
        x=alt.X("year:O", title="Publication year", axis=alt.Axis(labelAngle=-45)),
        y=alt.Y("studies:Q", title="Studies", stack="zero"),
        color=alt.Color("design:N", title="Design", legend=alt.Legend(orient="bottom", columns=1, labelLimit=230)),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=[alt.Tooltip("year:O", title="Year"), alt.Tooltip("design:N", title="Design"),
                 alt.Tooltip("studies:Q", title="Studies")],
    ).add_params(pick).properties(height=300))


def studies_by_category(counts: pd.DataFrame, title: str) -> alt.Chart:
    """Horizontal bars from ``kb.queries.count_by`` (id, label, studies). Clicking a bar picks its ``id``."""
    data, lines = _wrap_column(_plain(counts, ["id", "label", "studies"]), "label")
    pick = alt.selection_point(name=PICK, fields=["id"], on="click")
    y = alt.Y("label_wrapped:N", title=None, sort="-x", axis=_wrapped_axis())
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("studies:Q", title="Studies"), y=y,
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=[alt.Tooltip("label:N", title=title), alt.Tooltip("studies:Q", title="Studies")],
    ).add_params(pick)
    text = alt.Chart(data).mark_text(align="left", dx=3).encode(x="studies:Q", y=y, text="studies:Q")
    return (bars + text).properties(height=alt.Step(max(24, AXIS_LINE_PX * lines + 8)))


def randomized_data(studies: pd.DataFrame) -> pd.DataFrame:
    """Randomized vs not randomized study counts.

    >>> randomized_data(pd.DataFrame({"randomized": [True, False, False]})).values.tolist()
    [['yes', 'Randomized', 1], ['no', 'Not randomized', 2]]
    """
    n_yes = int(studies["randomized"].astype(bool).sum())
    return pd.DataFrame({"id": ["yes", "no"], "label": ["Randomized", "Not randomized"],
                         "studies": [n_yes, len(studies) - n_yes]})


def randomized_split(studies: pd.DataFrame) -> alt.LayerChart:
    """Two bars, randomized and not randomized; clicking one picks its ``id`` ('yes' / 'no')."""
    return studies_by_category(randomized_data(studies), "Design")


def landmark_data(studies: pd.DataFrame, landmark: pd.Series) -> pd.DataFrame:
    """The landmark studies, oldest first, with the columns the timeline plots."""
    out = studies[landmark.values].dropna(subset=["year"]).sort_values(["year", "short_name"], ignore_index=True)
    out = _tips(out, {"design": "{}", "n_enrolled": "{:,.0f}", "key_result": "{}"})
    return _plain(out, ["study_id", "short_name", "year", "design", "n_enrolled", "key_result", "verification",
                        "design_tip", "n_enrolled_tip", "key_result_tip"])


def landmark_timeline(studies: pd.DataFrame, landmark: pd.Series) -> alt.Chart:
    """Landmark trials on a time axis, one row each, coloured by verification. Clicking one picks its study_id."""
    data, lines = _wrap_column(landmark_data(studies, landmark), "short_name")
    pick = alt.selection_point(name=PICK, fields=["study_id"], on="click")
    base = alt.Chart(data).encode(
        x=alt.X("year:Q", title="Publication year", scale=alt.Scale(zero=False, nice=False, padding=12),
                axis=alt.Axis(format="d")),
        y=alt.Y("short_name_wrapped:N", sort=alt.EncodingSortField("year", order="ascending"), title=None,
                axis=_wrapped_axis()),
        tooltip=[alt.Tooltip("short_name:N", title="Study"), alt.Tooltip("year:Q", title="Year", format="d"),
                 alt.Tooltip("design_tip:N", title="Design"), alt.Tooltip("n_enrolled_tip:N", title="Enrolled"),
                 alt.Tooltip("verification:N", title="Verification"),
                 alt.Tooltip("key_result_tip:N", title="Key result")])
    points = base.mark_point(filled=True, size=120).encode(
        color=_verification_color(), opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5))).add_params(pick)
    return points.properties(height=alt.Step(max(26, AXIS_LINE_PX * lines + 8)))


def explorer_params(chart: str, picked: list[dict[str, Any]]) -> dict[str, Any]:
    """Turn a click on a dashboard chart into the explorer's URL filters.

    >>> explorer_params("year", [{"year": 2016, "design_id": "rct"}])
    {'from': '2016', 'to': '2016', 'design': 'rct'}
    >>> explorer_params("histology", [{"id": "melanoma"}])
    {'histology': 'melanoma'}
    >>> explorer_params("randomized", [{"id": "no"}])
    {'randomized': 'no'}
    >>> explorer_params("landmark", [{"study_id": "n0574"}])
    {'study': 'n0574'}
    >>> explorer_params("histology", [])
    {}
    """
    if not picked:
        return {}
    first = picked[0]
    if chart == "year" and "year" in first:
        params = {"from": str(int(first["year"])), "to": str(int(first["year"]))}
        if first.get("design_id"):
            params["design"] = str(first["design_id"])
        return params
    if chart in ("histology", "setting", "randomized") and first.get("id"):
        return {chart: str(first["id"])}
    if chart == "landmark" and first.get("study_id"):
        return {"study": str(first["study_id"])}
    return {}


# ------------------------------------------------------------------------------------------------ rows of estimates
# Forest and rate charts give each estimate its own row: the label (a bold title and grey detail lines) is drawn
# across the full width, the point and its CI under it. No label column eats the plot on a phone, and long labels
# are never cut to the point where two rows read the same.
LINE_PX = 13          # one label line
MARK_PX = 20          # the point and its CI under the label


def _row_data(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """``title``/``detail``/``label`` from kb.chart_labels when the frame has them, else from ``label``; ``row`` is
    the one-row-per-estimate key."""
    out = frame.copy()
    if "title" not in out:
        out["title"] = out["label"] if "label" in out else ""
        out["detail"] = ""
    if "label" not in out:
        out["label"] = out["title"]
    out["row"] = out[key].astype(str) if key in out else [str(i) for i in range(len(out))]
    return out


def _labelled_rows(data: pd.DataFrame, marks: list[alt.Chart], tooltip: list[alt.Tooltip],
                   behind: list[alt.Chart] = ()) -> alt.LayerChart:
    """Layer ``marks`` (encoded on x only) into rows keyed by ``row``, each with its label drawn above it;
    ``behind`` (e.g. a reference line) spans all rows."""
    lines = 1 + (chart_labels.n_lines(data["detail"]) if len(data) and data["detail"].astype(bool).any() else 0)
    step = LINE_PX * lines + MARK_PX
    y = alt.Y("row:N", sort=None, title=None, scale=alt.Scale(type="band", paddingInner=0, paddingOuter=0),
              axis=alt.Axis(labels=False, ticks=False, domain=False, grid=True, bandPosition=0, gridColor="#e6e6e6"))
    top = -step / 2 + 2
    text = alt.Chart(data).encode(x=alt.value(0), y=y, tooltip=tooltip)
    title = text.mark_text(align="left", baseline="top", dy=top, fontWeight="bold", fontSize=12,
                           limit=alt.ExprRef(expr="width")).encode(text="title:N")
    detail = text.mark_text(align="left", baseline="top", dy=top + LINE_PX + 1, fontSize=11, color="#555",
                            lineBreak="\n", lineHeight=LINE_PX,
                            limit=alt.ExprRef(expr="width")).encode(text="detail:N")
    placed = [m.encode(y=y) for m in marks]
    return alt.layer(*behind, *placed, title, detail).properties(height=alt.Step(step))


def _mark_offset(data: pd.DataFrame) -> float:
    """How far below the row's middle its marks sit (under the label)."""
    lines = 1 + (chart_labels.n_lines(data["detail"]) if len(data) and data["detail"].astype(bool).any() else 0)
    return (LINE_PX * lines + MARK_PX) / 2 - MARK_PX / 2


# ------------------------------------------------------------------------------------------------ explorer
def forest_data(outcomes: pd.DataFrame, key: str = "outcome_id") -> pd.DataFrame:
    """Between-arm ratios (HR/OR/RR) that can go on a log axis: a value, and its CI where the paper gave one.
    One row per estimate (``row``), with its label (``title``, ``detail``, ``label``)."""
    ratios = outcomes[outcomes["statistic"].isin(["hazard_ratio", "odds_ratio", "risk_ratio"])]
    ratios = _row_data(ratios[pd.to_numeric(ratios["value"], errors="coerce") > 0], key)
    out = _plain(ratios, ["row", "title", "detail", "label", "statistic", "value", "ci_low", "ci_high", "p_value",
                          "result", "verification", "study_id"])
    out["measure"] = out["statistic"].map({"hazard_ratio": "HR", "odds_ratio": "OR", "risk_ratio": "RR"})
    return out.reset_index(drop=True)


def _ratio_domain(data: pd.DataFrame) -> list[float]:
    """A log axis that holds every value and CI and the line of no effect (1), with a margin on both sides.

    >>> _ratio_domain(pd.DataFrame({"value": [0.5], "ci_low": [0.3], "ci_high": [0.9]}))
    [0.24, 1.25]
    """
    values = pd.to_numeric(pd.concat([data[c] for c in ("value", "ci_low", "ci_high") if c in data]),
                           errors="coerce")
    values = values[values > 0].tolist() + [1.0]
    return [round(min(values) / 1.25, 4), round(max(values) * 1.25, 4)]


def forest(outcomes: pd.DataFrame, title: str = "Ratio (log scale)", key: str = "outcome_id") -> alt.LayerChart:
    """Forest plot: each ratio on its own row as a point with its 95% CI, a reference line at 1, coloured by
    verification; the row's label above it."""
    data = forest_data(outcomes, key)
    offset = _mark_offset(data)
    tooltip = [alt.Tooltip("label:N", title="Estimate"), alt.Tooltip("result:N", title="Result"),
               alt.Tooltip("verification:N", title="Verification")]
    base = alt.Chart(data).encode(tooltip=tooltip)
    scale = alt.Scale(type="log", domain=_ratio_domain(data))
    ci = base.mark_rule(strokeWidth=2, yOffset=offset).encode(
        x=alt.X("ci_low:Q", scale=scale, title=title), x2="ci_high:Q", color=_verification_color())
    points = base.mark_point(filled=True, size=80, shape="square", yOffset=offset).encode(
        x=alt.X("value:Q", scale=scale), color=_verification_color())
    # the line of no effect, drawn in each row's mark band only, so it never runs through a label
    one = alt.Chart(data[["row"]].assign(x=1.0)).mark_tick(color="#555", thickness=1, size=MARK_PX + 2,
                                                           yOffset=offset).encode(x=alt.X("x:Q", scale=scale))
    return _labelled_rows(data, [one, ci, points], tooltip)


def rate_data(outcomes: pd.DataFrame, key: str = "outcome_id") -> pd.DataFrame:
    """Per-arm proportions (%) with their CIs where given; one row per estimate, with its label."""
    rates = _row_data(outcomes[(outcomes["statistic"] == "proportion") & (outcomes["unit"] == "%")], key)
    return _plain(rates, ["row", "title", "detail", "label", "value", "ci_low", "ci_high", "timepoint_months",
                          "result", "verification", "study_id"]).reset_index(drop=True)


def arm_rates(outcomes: pd.DataFrame, key: str = "outcome_id") -> alt.LayerChart:
    """Rates per arm: a point per estimate (%) with its 95% CI where the paper gave one, label above."""
    data = rate_data(outcomes, key)
    offset = _mark_offset(data)
    tooltip = [alt.Tooltip("label:N", title="Estimate"), alt.Tooltip("result:N", title="Result"),
               alt.Tooltip("verification:N", title="Verification")]
    base = alt.Chart(data).encode(tooltip=tooltip)
    ci = base.mark_rule(strokeWidth=2, yOffset=offset).encode(
        x=alt.X("ci_low:Q", title="Rate (%)", scale=alt.Scale(domain=[0, 100])), x2="ci_high:Q",
        color=_verification_color())
    points = base.mark_point(filled=True, size=80, yOffset=offset).encode(x="value:Q", color=_verification_color())
    return _labelled_rows(data, [ci, points], tooltip)


# ------------------------------------------------------------------------------------------------ dosing
def dose_size_data(schedules: pd.DataFrame, size: str = "diameter") -> pd.DataFrame:
    """Schedules with a dose and a size range, as segments from the range's low to high end.

    An open-ended range ('≥ 2 cm') runs to the largest size any schedule states, and is flagged ``open_ended``.
    """
    low, high = ("min_diameter_cm", "max_diameter_cm") if size == "diameter" else ("min_volume_cc", "max_volume_cc")
    rows = schedules.dropna(subset=["total_dose_gy"])
    rows = rows[rows[low].notna() | rows[high].notna()]
    if rows.empty:
        return pd.DataFrame(columns=["schedule_id", "schedule", "total_dose_gy", "fractions_label", "size_low",
                                     "size_high", "open_ended", "size_range", "bed_gy", "verification"])
    top = float(pd.concat([rows[low], rows[high]]).max())
    out = rows.assign(
        size_low=rows[low].fillna(0.0).astype(float),
        size_high=rows[high].fillna(top + 1.0).astype(float),
        open_ended=rows[high].isna(),
        fractions_label=rows["fractions"].map(lambda n: f"{int(n)} fraction" + ("s" if int(n) > 1 else "")))
    out = _tips(out, {"size_range": "{}", "bed_gy": "{:g}"})
    return _plain(out, ["schedule_id", "schedule", "total_dose_gy", "fractions_label", "size_low", "size_high",
                        "open_ended", "size_range", "bed_gy", "verification", "size_range_tip",
                        "bed_gy_tip"]).reset_index(drop=True)


def dose_vs_size(schedules: pd.DataFrame, size: str = "diameter") -> alt.LayerChart:
    """Prescribed total dose against the lesion size range it is meant for, coloured by number of fractions."""
    data = dose_size_data(schedules, size)
    unit = "Lesion diameter (cm)" if size == "diameter" else "Lesion volume (cc)"
    base = alt.Chart(data).encode(
        y=alt.Y("total_dose_gy:Q", title="Total dose (Gy)", scale=alt.Scale(zero=False, padding=10)),
        color=alt.Color("fractions_label:N", title="Fractions", legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("schedule:N", title="Schedule"), alt.Tooltip("size_range_tip:N", title="Size"),
                 alt.Tooltip("bed_gy_tip:N", title="BED (Gy, computed)"),
                 alt.Tooltip("verification:N", title="Verification")])
    segments = base.mark_rule(strokeWidth=5, opacity=0.7).encode(x=alt.X("size_low:Q", title=unit), x2="size_high:Q")
    ends = base.mark_point(filled=True, size=60).encode(x="size_high:Q",
                                                        shape=alt.Shape("open_ended:N", title="Open-ended range",
                                                                        legend=None))
    return (segments + ends).properties(height=280)


def bed_comparison_data(compared: pd.DataFrame) -> pd.DataFrame:
    """``radiobiology.compare_schedules`` output in long form: one row per schedule and measure.

    >>> from kb.radiobiology import compare_schedules
    >>> bed_comparison_data(compare_schedules([(24, 1)]))["gy"].tolist()
    [81.6, 68.0, 312.0, 156.0]
    """
    measures = {"bed_tumour_gy": "BED tumour", "eqd2_tumour_gy": "EQD2 tumour", "bed_normal_gy": "BED normal brain",
                "eqd2_normal_gy": "EQD2 normal brain"}
    out = compared.melt(id_vars=["schedule"], value_vars=list(measures), var_name="measure_id", value_name="gy")
    out["measure"] = out["measure_id"].map(measures)
    order = {s: i for i, s in enumerate(compared["schedule"])}
    out = out.sort_values(["schedule", "measure_id"], key=lambda c: c.map(order) if c.name == "schedule" else
                          c.map(list(measures).index), ignore_index=True)
    return out[["schedule", "measure", "gy"]]


def bed_comparison(compared: pd.DataFrame) -> alt.Chart:
    """Grouped bars: BED and EQD2 (tumour and normal brain) of each schedule side by side."""
    data = bed_comparison_data(compared)
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("schedule:N", title=None, sort=list(compared["schedule"]), axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("measure:N", sort=["BED tumour", "EQD2 tumour", "BED normal brain", "EQD2 normal brain"]),
        y=alt.Y("gy:Q", title="Gy"),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom", columns=2),
                        sort=["BED tumour", "EQD2 tumour", "BED normal brain", "EQD2 normal brain"],
                        scale=alt.Scale(range=["#1565c0", "#64b5f6", "#c62828", "#ef9a9a"])),
        tooltip=[alt.Tooltip("schedule:N", title="Schedule"), alt.Tooltip("measure:N", title="Measure"),
                 alt.Tooltip("gy:Q", title="Gy", format=".1f")],
    ).properties(height=300)


# ------------------------------------------------------------------------------------------------ toxicity
def toxicity_matrix_data(signals: pd.DataFrame) -> pd.DataFrame:
    """Signals per drug and toxicity.

    >>> f = pd.DataFrame({"drug_short": ["T-DM1"] * 2, "drug_label": ["trastuzumab emtansine (T-DM1)"] * 2,
    ...                   "toxicity_name": ["RN", "RN"], "signal_id": ["a", "b"]})
    >>> toxicity_matrix_data(f).values.tolist()
    [['T-DM1', 'trastuzumab emtansine (T-DM1)', 'RN', 2]]
    """
    return (signals.groupby(["drug_short", "drug_label", "toxicity_name"])["signal_id"].nunique().rename("signals")
            .reset_index().astype({"signals": int}))


def toxicity_matrix(signals: pd.DataFrame) -> alt.LayerChart:
    """Heat map of drug (or class) × toxicity: how many signals the KB holds for each pair."""
    data, lines = _wrap_column(toxicity_matrix_data(signals), "toxicity_name")
    base = alt.Chart(data).encode(
        x=alt.X("drug_short:N", title=None,
                axis=alt.Axis(labelAngle=-90, labelAlign="left", labelLimit=140, labelOverlap=False, orient="top")),
        y=alt.Y("toxicity_name_wrapped:N", title=None, axis=_wrapped_axis()),
        tooltip=[alt.Tooltip("drug_label:N", title="Drug"), alt.Tooltip("toxicity_name:N", title="Toxicity"),
                 alt.Tooltip("signals:Q", title="Signals")])
    rect = base.mark_rect().encode(color=alt.Color("signals:Q", title="Signals", scale=alt.Scale(scheme="oranges"),
                                                   legend=None))
    text = base.mark_text(fontWeight="bold").encode(text="signals:Q")
    return (rect + text).properties(height=alt.Step(max(30, AXIS_LINE_PX * lines + 10)))


def toxicity_rate_data(signals: pd.DataFrame) -> pd.DataFrame:
    """Rates with and without the drug, one row per signal and arm (rows without any rate are left out); both arms
    of a signal share its chart row (``row`` = signal_id) and its label."""
    rows = []
    for r, (title, detail, label) in zip(signals.itertuples(index=False), _signal_labels(signals)):
        for arm, value, n in (("with drug", r.rate_with_drug_pct, r.n_with_drug),
                              ("without drug", r.rate_without_drug_pct, r.n_without_drug)):
            if value is not None and not pd.isna(value):
                rows.append({"signal_id": r.signal_id, "row": r.signal_id, "title": title, "detail": detail,
                             "label": label, "arm": arm, "rate_pct": float(value),
                             "n": None if n is None or pd.isna(n) else int(n),
                             "unit": None if pd.isna(r.unit_of_analysis) else r.unit_of_analysis,
                             "verification": r.verification})
    out = pd.DataFrame(rows, columns=["signal_id", "row", "title", "detail", "label", "arm", "rate_pct", "n", "unit",
                                      "verification"])
    return _tips(out, {"n": "{:,.0f}", "unit": "{}"})


def _signal_labels(signals: pd.DataFrame) -> list[tuple[str, str, str]]:
    """(title, detail, label) of each signal: 'T-DM1 · Stumpf 2019' over 'Symptomatic radionecrosis · per patient'.
    Signals sharing drug, source and toxicity get '#1', '#2' after the source, so every signal reads differently.
    """
    keys = signals["drug_short"].astype(str) + "|" + signals["citation"].astype(str) + "|" + \
        signals["toxicity_name"].astype(str)
    number = keys.groupby(keys).cumcount() + 1
    shared = keys.map(keys.value_counts()) > 1
    out = []
    for r, n, many in zip(signals.itertuples(index=False), number, shared):
        title = f"{r.drug_short} · {r.citation}" + (f" #{n}" if many else "")
        rates = display.join(display.part(r.rate_with_drug_pct, "with the drug {:g}%"),
                             display.part(r.rate_without_drug_pct, "without {:g}%"), sep=" vs ")
        unit = display.part(r.unit_of_analysis, "per {}").removesuffix("s")
        detail = chart_labels.detail_lines([r.toxicity_name, display.join(rates, unit)])
        out.append((title, detail, f"{title} · " + detail.replace("\n", " · ")))
    return out


def toxicity_rates(signals: pd.DataFrame) -> alt.LayerChart:
    """Dumbbells: each signal on its own row, its rate with the drug and without it joined by a line."""
    data = toxicity_rate_data(signals)
    offset = _mark_offset(data)
    tooltip = [alt.Tooltip("label:N", title="Signal"), alt.Tooltip("arm:N", title="Group"),
               alt.Tooltip("rate_pct:Q", title="Rate (%)"), alt.Tooltip("n_tip:N", title="n"),
               alt.Tooltip("unit_tip:N", title="Unit"), alt.Tooltip("verification:N", title="Verification")]
    base = alt.Chart(data).encode(tooltip=tooltip)
    line = base.mark_line(color="#9e9e9e", yOffset=offset).encode(
        x=alt.X("rate_pct:Q", title="Rate (%)"), detail="signal_id:N")
    points = base.mark_point(filled=True, size=100, yOffset=offset).encode(
        x="rate_pct:Q", color=alt.Color("arm:N", title=None, scale=alt.Scale(domain=["with drug", "without drug"],
                                                                           range=["#c62828", "#1565c0"]),
                                        legend=alt.Legend(orient="bottom")))
    return _labelled_rows(data, [line, points], tooltip)


def toxicity_effect_data(signals: pd.DataFrame) -> pd.DataFrame:
    """Signals that report an effect measure (OR/HR/RR…) with its CI, in the shape ``forest`` reads."""
    rows = signals.dropna(subset=["effect_value"])
    labels = _signal_labels(rows)
    results = [f"{r.effect_measure} {r.effect_value:g}" + (
        f" (95% CI {r.effect_ci_low:g}–{r.effect_ci_high:g})" if not pd.isna(r.effect_ci_low) else "")
        for r in rows.itertuples(index=False)]
    return pd.DataFrame({
        "signal_id": rows["signal_id"].tolist(), "title": [t for t, _, _ in labels],
        "detail": [chart_labels.detail_lines([d, res]) for (_, d, _), res in zip(labels, results)],
        "label": [lab + " · " + res for (_, _, lab), res in zip(labels, results)],
        "statistic": rows["effect_measure"].map({"HR": "hazard_ratio", "SHR": "hazard_ratio", "OR": "odds_ratio",
                                                 "RR": "risk_ratio", "IRR": "risk_ratio"}).tolist(),
        "value": rows["effect_value"].tolist(), "ci_low": rows["effect_ci_low"].tolist(),
        "ci_high": rows["effect_ci_high"].tolist(), "p_value": rows["p_value"].tolist(), "result": results,
        "verification": rows["verification"].tolist(), "study_id": rows["study_id"].tolist()})


def toxicity_effects(signals: pd.DataFrame) -> alt.LayerChart:
    """Forest plot of the signals that report an effect measure with a CI (log scale, reference line at 1)."""
    return forest(toxicity_effect_data(signals), title="Effect with the drug vs without (log scale)",
                  key="signal_id")


# ------------------------------------------------------------------------------------------------ guidelines
def guideline_matrix_data(recs: pd.DataFrame) -> pd.DataFrame:
    """Recommendations per topic and body."""
    return (recs.groupby(["topic_id", "topic", "body_short"])["recommendation_id"].nunique()
            .rename("recommendations").reset_index().astype({"recommendations": int}))


def guideline_matrix(recs: pd.DataFrame) -> alt.LayerChart:
    """Heat map of topic × body with the number of recommendations; clicking a cell picks its topic. Every body
    is labelled (vertical labels at the top, none dropped for overlap); topics are wrapped onto short lines."""
    data, lines = _wrap_column(guideline_matrix_data(recs), "topic")
    pick = alt.selection_point(name=PICK, fields=["topic_id"], on="click")
    base = alt.Chart(data).encode(
        x=alt.X("body_short:N", title=None, axis=alt.Axis(orient="top", labelAngle=-90, labelAlign="left",
                                                           labelLimit=170, labelOverlap=False)),
        y=alt.Y("topic_wrapped:N", title=None, axis=_wrapped_axis()),
        tooltip=[alt.Tooltip("topic:N", title="Topic"), alt.Tooltip("body_short:N", title="Body"),
                 alt.Tooltip("recommendations:Q", title="Recommendations")])
    rect = base.mark_rect().encode(
        color=alt.Color("recommendations:Q", scale=alt.Scale(scheme="blues"), legend=None),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.6))).add_params(pick)
    text = base.mark_text().encode(text="recommendations:Q")
    return (rect + text).properties(height=alt.Step(max(28, AXIS_LINE_PX * lines + 8)))


# ------------------------------------------------------------------------------------------------ imaging
def accuracy_data(rows: pd.DataFrame) -> pd.DataFrame:
    """Imaging rows that report both sensitivity and specificity."""
    both = rows.dropna(subset=["sensitivity_pct", "specificity_pct"])
    both = _tips(both, {"parameter": "{}", "auc": "{:g}", "n_patients": "{:,.0f}"})
    out = _plain(both, ["imaging_id", "modality", "kind", "purpose_label", "parameter", "sensitivity_pct",
                        "specificity_pct", "auc", "n_patients", "citation", "verification", "parameter_tip", "auc_tip",
                        "n_patients_tip"])
    return out.reset_index(drop=True)


def imaging_accuracy(rows: pd.DataFrame) -> alt.Chart:
    """Sensitivity against specificity, one point per reported test, coloured by modality kind."""
    data = accuracy_data(rows)
    values = pd.to_numeric(pd.concat([data["sensitivity_pct"], data["specificity_pct"]]), errors="coerce").dropna()
    # start the axes at 50% (or lower if a value is lower): tests worse than chance are rare, and space matters
    low = float(min(50.0, (values.min() // 10) * 10)) if not values.empty else 0.0
    return alt.Chart(data).mark_point(filled=True, size=140).encode(
        x=alt.X("specificity_pct:Q", title="Specificity (%)", scale=alt.Scale(domain=[low, 100])),
        y=alt.Y("sensitivity_pct:Q", title="Sensitivity (%)", scale=alt.Scale(domain=[low, 100])),
        color=alt.Color("kind:N", title="Modality", legend=alt.Legend(orient="bottom", direction="vertical")),
        shape=alt.Shape("verification:N", title="Verification",
                        scale=alt.Scale(domain=["verified", "secondary", "unverified"],
                                        range=["circle", "diamond", "triangle"]),
                        legend=alt.Legend(orient="bottom", direction="vertical")),
        tooltip=[alt.Tooltip("modality:N", title="Modality"), alt.Tooltip("parameter_tip:N", title="Parameter"),
                 alt.Tooltip("purpose_label:N", title="Purpose"),
                 alt.Tooltip("sensitivity_pct:Q", title="Sensitivity (%)"),
                 alt.Tooltip("specificity_pct:Q", title="Specificity (%)"), alt.Tooltip("auc_tip:N", title="AUC"),
                 alt.Tooltip("n_patients_tip:N", title="Patients"), alt.Tooltip("citation:N", title="Source"),
                 alt.Tooltip("verification:N", title="Verification")],
    ).properties(height=340)
