"""Charts of the evidence pages: each function takes the DataFrame a page shows and returns an Altair chart.

The frames come from ``kb.queries``; the small ``*_data`` helpers here reshape them into exactly what is plotted,
so tests can check the plotted rows. Charts that lead somewhere (the dashboard's bars) carry a point selection named
``pick`` whose fields become explorer filters (``explorer_params``).
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

VERIFICATION_SCALE = alt.Scale(domain=["verified", "secondary", "unverified"],
                               range=["#2e7d32", "#f9a825", "#9e9e9e"])
PICK = "pick"


def _verification_color(title: str = "Verification") -> alt.Color:
    return alt.Color("verification:N", scale=VERIFICATION_SCALE, title=title,
                     legend=alt.Legend(orient="bottom"))


def _plain(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Only the plotted columns, with pandas' missing values turned into None so the spec is valid JSON."""
    out = frame[columns].copy()
    return out.astype(object).where(out.notna(), None)


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
        color=alt.Color("design:N", title="Design", legend=alt.Legend(orient="bottom", columns=2, labelLimit=320)),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=[alt.Tooltip("year:O", title="Year"), alt.Tooltip("design:N", title="Design"),
                 alt.Tooltip("studies:Q", title="Studies")],
    ).add_params(pick).properties(height=300))


def studies_by_category(counts: pd.DataFrame, title: str) -> alt.Chart:
    """Horizontal bars from ``kb.queries.count_by`` (id, label, studies). Clicking a bar picks its ``id``."""
    data = _plain(counts, ["id", "label", "studies"])
    pick = alt.selection_point(name=PICK, fields=["id"], on="click")
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("studies:Q", title="Studies"),
        y=alt.Y("label:N", title=title, sort="-x", axis=alt.Axis(labelLimit=220)),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5)),
        tooltip=[alt.Tooltip("label:N", title=title), alt.Tooltip("studies:Q", title="Studies")],
    ).add_params(pick)
    text = alt.Chart(data).mark_text(align="left", dx=3).encode(
        x="studies:Q", y=alt.Y("label:N", sort="-x"), text="studies:Q")
    return (bars + text).properties(height=max(120, 24 * len(data)))


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
    return _plain(out, ["study_id", "short_name", "year", "design", "n_enrolled", "key_result", "verification"])


def landmark_timeline(studies: pd.DataFrame, landmark: pd.Series) -> alt.Chart:
    """Landmark trials on a time axis, one row each, coloured by verification. Clicking one picks its study_id."""
    data = landmark_data(studies, landmark)
    pick = alt.selection_point(name=PICK, fields=["study_id"], on="click")
    base = alt.Chart(data).encode(
        x=alt.X("year:Q", title="Publication year", scale=alt.Scale(zero=False, nice=False, padding=12),
                axis=alt.Axis(format="d")),
        y=alt.Y("short_name:N", sort=alt.EncodingSortField("year", order="ascending"), title=None,
                axis=alt.Axis(labelLimit=260)),
        tooltip=[alt.Tooltip("short_name:N", title="Study"), alt.Tooltip("year:Q", title="Year", format="d"),
                 alt.Tooltip("design:N", title="Design"), alt.Tooltip("n_enrolled:Q", title="Enrolled"),
                 alt.Tooltip("verification:N", title="Verification"),
                 alt.Tooltip("key_result:N", title="Key result")])
    points = base.mark_point(filled=True, size=120).encode(
        color=_verification_color(), opacity=alt.condition(pick, alt.value(1.0), alt.value(0.5))).add_params(pick)
    return points.properties(height=max(160, 26 * len(data)))


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


# ------------------------------------------------------------------------------------------------ explorer
def forest_data(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Between-arm ratios (HR/OR/RR) that can go on a log axis: a value, and its CI where the paper gave one."""
    ratios = outcomes[outcomes["statistic"].isin(["hazard_ratio", "odds_ratio", "risk_ratio"])]
    ratios = ratios[pd.to_numeric(ratios["value"], errors="coerce") > 0]
    out = _plain(ratios, ["label", "statistic", "value", "ci_low", "ci_high", "p_value", "result", "verification",
                          "study_id"])
    out["measure"] = out["statistic"].map({"hazard_ratio": "HR", "odds_ratio": "OR", "risk_ratio": "RR"})
    return out.reset_index(drop=True)


def forest(outcomes: pd.DataFrame, title: str = "Ratio (log scale)") -> alt.LayerChart:
    """Forest plot: each ratio as a point with its 95% CI, a reference line at 1, coloured by verification."""
    data = forest_data(outcomes)
    base = alt.Chart(data).encode(
        y=alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
        tooltip=[alt.Tooltip("label:N", title="Comparison"), alt.Tooltip("result:N", title="Result"),
                 alt.Tooltip("verification:N", title="Verification")])
    ci = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", scale=alt.Scale(type="log"), title=title), x2="ci_high:Q", color=_verification_color())
    points = base.mark_point(filled=True, size=80, shape="square").encode(
        x=alt.X("value:Q", scale=alt.Scale(type="log")), color=_verification_color())
    one = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(strokeDash=[4, 4], color="#555").encode(x="x:Q")
    return (one + ci + points).properties(height=max(80, 28 * len(data)))


def rate_data(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per-arm proportions (%) with their CIs where given."""
    rates = outcomes[(outcomes["statistic"] == "proportion") & (outcomes["unit"] == "%")]
    return _plain(rates, ["label", "value", "ci_low", "ci_high", "timepoint_months", "result", "verification",
                          "study_id"]).reset_index(drop=True)


def arm_rates(outcomes: pd.DataFrame) -> alt.LayerChart:
    """Rates per arm: a point per arm (%) with its 95% CI where the paper gave one."""
    data = rate_data(outcomes)
    base = alt.Chart(data).encode(
        y=alt.Y("label:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
        tooltip=[alt.Tooltip("label:N", title="Arm"), alt.Tooltip("result:N", title="Result"),
                 alt.Tooltip("verification:N", title="Verification")])
    ci = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title="Rate (%)", scale=alt.Scale(domain=[0, 100])), x2="ci_high:Q",
        color=_verification_color())
    points = base.mark_point(filled=True, size=80).encode(x="value:Q", color=_verification_color())
    return (ci + points).properties(height=max(80, 28 * len(data)))


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
    return _plain(out, ["schedule_id", "schedule", "total_dose_gy", "fractions_label", "size_low", "size_high",
                        "open_ended", "size_range", "bed_gy", "verification"]).reset_index(drop=True)


def dose_vs_size(schedules: pd.DataFrame, size: str = "diameter") -> alt.LayerChart:
    """Prescribed total dose against the lesion size range it is meant for, coloured by number of fractions."""
    data = dose_size_data(schedules, size)
    unit = "Lesion diameter (cm)" if size == "diameter" else "Lesion volume (cc)"
    base = alt.Chart(data).encode(
        y=alt.Y("total_dose_gy:Q", title="Total dose (Gy)", scale=alt.Scale(zero=False, padding=10)),
        color=alt.Color("fractions_label:N", title="Fractions", legend=alt.Legend(orient="bottom")),
        tooltip=[alt.Tooltip("schedule:N", title="Schedule"), alt.Tooltip("size_range:N", title="Size"),
                 alt.Tooltip("bed_gy:Q", title="BED (Gy, computed)"),
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
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom"),
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
    data = toxicity_matrix_data(signals)
    base = alt.Chart(data).encode(
        x=alt.X("drug_short:N", title=None,
                axis=alt.Axis(labelAngle=-25, labelLimit=120, labelOverlap=False, orient="top")),
        y=alt.Y("toxicity_name:N", title=None, axis=alt.Axis(labelLimit=320)),
        tooltip=[alt.Tooltip("drug_label:N", title="Drug"), alt.Tooltip("toxicity_name:N", title="Toxicity"),
                 alt.Tooltip("signals:Q", title="Signals")])
    rect = base.mark_rect().encode(color=alt.Color("signals:Q", title="Signals", scale=alt.Scale(scheme="oranges"),
                                                   legend=None))
    text = base.mark_text(fontWeight="bold").encode(text="signals:Q")
    return (rect + text).properties(height=max(60, 32 * data["toxicity_name"].nunique()))


def toxicity_rate_data(signals: pd.DataFrame) -> pd.DataFrame:
    """Rates with and without the drug, one row per signal and arm (rows without any rate are left out)."""
    rows = []
    for r, label in zip(signals.itertuples(index=False), _signal_labels(signals)):
        for arm, value, n in (("with drug", r.rate_with_drug_pct, r.n_with_drug),
                              ("without drug", r.rate_without_drug_pct, r.n_without_drug)):
            if value is not None and not pd.isna(value):
                rows.append({"signal_id": r.signal_id, "label": label, "arm": arm, "rate_pct": float(value),
                             "n": None if n is None or pd.isna(n) else int(n),
                             "unit": None if pd.isna(r.unit_of_analysis) else r.unit_of_analysis,
                             "verification": r.verification})
    out = pd.DataFrame(rows, columns=["signal_id", "label", "arm", "rate_pct", "n", "unit", "verification"])
    out["label"] = _unique_labels(out["label"], out["signal_id"])
    return out


def _signal_labels(signals: pd.DataFrame) -> list[str]:
    """'T-DM1 · Stumpf 2019 · Symptomatic radionecrosis': drug, source, toxicity — the source early, so that a
    truncated axis label still tells two signals apart; signals sharing all three get '#1', '#2' after the source.
    """
    keys = signals["drug_short"].astype(str) + "|" + signals["citation"].astype(str) + "|" + \
        signals["toxicity_name"].astype(str)
    number = keys.groupby(keys).cumcount() + 1
    shared = keys.map(keys.value_counts()) > 1
    return [f"{r.drug_short} · {r.citation}" + (f" #{n}" if many else "") + f" · {r.toxicity_name}"
            for r, n, many in zip(signals.itertuples(index=False), number, shared)]


def _unique_labels(labels: pd.Series, keys: pd.Series) -> pd.Series:
    """Number the labels that several different keys share ('… · Albarrán 2024 (2)'), so each gets its own row.

    >>> _unique_labels(pd.Series(["a", "a", "a", "b"]), pd.Series(["k1", "k1", "k2", "k3"])).tolist()
    ['a (1)', 'a (1)', 'a (2)', 'b']
    """
    if labels.empty:
        return labels
    firsts = pd.DataFrame({"label": labels.astype(str), "key": keys.astype(str)}).drop_duplicates()
    firsts["n"] = firsts.groupby("label").cumcount() + 1
    shared = firsts.groupby("label")["key"].transform("count") > 1
    firsts["unique"] = firsts["label"].where(~shared, firsts["label"] + " (" + firsts["n"].astype(str) + ")")
    lookup = dict(zip(zip(firsts["label"], firsts["key"]), firsts["unique"]))
    return pd.Series([lookup[(str(a), str(b))] for a, b in zip(labels, keys)], index=labels.index)


def toxicity_rates(signals: pd.DataFrame) -> alt.LayerChart:
    """Dumbbells: each signal's rate with the drug and without it, joined by a line."""
    data = toxicity_rate_data(signals)
    base = alt.Chart(data).encode(
        y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=360)),
        tooltip=[alt.Tooltip("label:N", title="Signal"), alt.Tooltip("arm:N", title="Group"),
                 alt.Tooltip("rate_pct:Q", title="Rate (%)"), alt.Tooltip("n:Q", title="n"),
                 alt.Tooltip("unit:N", title="Unit"), alt.Tooltip("verification:N", title="Verification")])
    line = base.mark_line(color="#9e9e9e").encode(x=alt.X("rate_pct:Q", title="Rate (%)"), detail="signal_id:N")
    points = base.mark_point(filled=True, size=100).encode(
        x="rate_pct:Q", color=alt.Color("arm:N", title=None, scale=alt.Scale(domain=["with drug", "without drug"],
                                                                           range=["#c62828", "#1565c0"]),
                                        legend=alt.Legend(orient="bottom")))
    return (line + points).properties(height=max(80, 32 * data["label"].nunique()))


def toxicity_effect_data(signals: pd.DataFrame) -> pd.DataFrame:
    """Signals that report an effect measure (OR/HR/RR…) with its CI, in the shape ``forest`` reads."""
    rows = signals.dropna(subset=["effect_value"])
    out = pd.DataFrame({
        "label": _signal_labels(rows),
        "statistic": rows["effect_measure"].map({"HR": "hazard_ratio", "SHR": "hazard_ratio", "OR": "odds_ratio",
                                                 "RR": "risk_ratio", "IRR": "risk_ratio"}).tolist(),
        "value": rows["effect_value"].tolist(), "ci_low": rows["effect_ci_low"].tolist(),
        "ci_high": rows["effect_ci_high"].tolist(), "p_value": rows["p_value"].tolist(),
        "result": [f"{r.effect_measure} {r.effect_value:g}" + (
            f" (95% CI {r.effect_ci_low:g}–{r.effect_ci_high:g})" if not pd.isna(r.effect_ci_low) else "")
            for r in rows.itertuples(index=False)],
        "verification": rows["verification"].tolist(), "study_id": rows["study_id"].tolist()})
    out["label"] = _unique_labels(out["label"], pd.Series(rows["signal_id"].tolist()))
    return out


def toxicity_effects(signals: pd.DataFrame) -> alt.LayerChart:
    """Forest plot of the signals that report an effect measure with a CI (log scale, reference line at 1)."""
    return forest(toxicity_effect_data(signals), title="Effect with the drug vs without (log scale)")


# ------------------------------------------------------------------------------------------------ guidelines
def guideline_matrix_data(recs: pd.DataFrame) -> pd.DataFrame:
    """Recommendations per topic and body."""
    return (recs.groupby(["topic_id", "topic", "body_short"])["recommendation_id"].nunique()
            .rename("recommendations").reset_index().astype({"recommendations": int}))


def guideline_matrix(recs: pd.DataFrame) -> alt.LayerChart:
    """Heat map of topic × body with the number of recommendations; clicking a cell picks its topic."""
    data = guideline_matrix_data(recs)
    pick = alt.selection_point(name=PICK, fields=["topic_id"], on="click")
    base = alt.Chart(data).encode(
        x=alt.X("body_short:N", title="Body", axis=alt.Axis(labelAngle=-40, labelLimit=200)),
        y=alt.Y("topic:N", title=None, axis=alt.Axis(labelLimit=280)),
        tooltip=[alt.Tooltip("topic:N", title="Topic"), alt.Tooltip("body_short:N", title="Body"),
                 alt.Tooltip("recommendations:Q", title="Recommendations")])
    rect = base.mark_rect().encode(
        color=alt.Color("recommendations:Q", scale=alt.Scale(scheme="blues"), legend=None),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.6))).add_params(pick)
    text = base.mark_text().encode(text="recommendations:Q")
    return (rect + text).properties(height=max(140, 28 * data["topic"].nunique()))


# ------------------------------------------------------------------------------------------------ imaging
def accuracy_data(rows: pd.DataFrame) -> pd.DataFrame:
    """Imaging rows that report both sensitivity and specificity."""
    both = rows.dropna(subset=["sensitivity_pct", "specificity_pct"])
    out = _plain(both, ["imaging_id", "modality", "kind", "purpose_label", "parameter", "sensitivity_pct",
                        "specificity_pct", "auc", "n_patients", "citation", "verification"])
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
        color=alt.Color("kind:N", title="Modality", legend=alt.Legend(orient="bottom", columns=3)),
        shape=alt.Shape("verification:N", title="Verification",
                        scale=alt.Scale(domain=["verified", "secondary", "unverified"],
                                        range=["circle", "diamond", "triangle"])),
        tooltip=[alt.Tooltip("modality:N", title="Modality"), alt.Tooltip("parameter:N", title="Parameter"),
                 alt.Tooltip("purpose_label:N", title="Purpose"),
                 alt.Tooltip("sensitivity_pct:Q", title="Sensitivity (%)"),
                 alt.Tooltip("specificity_pct:Q", title="Specificity (%)"), alt.Tooltip("auc:Q", title="AUC"),
                 alt.Tooltip("n_patients:Q", title="Patients"), alt.Tooltip("citation:N", title="Source"),
                 alt.Tooltip("verification:N", title="Verification")],
    ).properties(height=340)
