"""Labels for chart rows that a reader can tell apart, and that fit a phone.

A forest or rate chart has one row per estimate. Its label names what makes the estimate different from its
neighbours — study, comparison, endpoint, timepoint and subgroup — and carries the figure itself, so a phone
reader who cannot hover still reads the number. Labels are returned as a bold title line and detail lines; the
chart draws them above the row's marks across the full width (kb.charts), and the whole label is the tooltip.

The subgroup of an outcome is read in one place, :func:`subgroup`, from :data:`SUBGROUP_COLUMN`.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pandas as pd

from kb.display import is_missing, join, part

# Where an outcome's subgroup lives: kb.queries.OUTCOME_SQL derives it from the structured population
# (outcomes.subgroup_id → subgroups.name, endpoint_detail, unit_of_analysis).
SUBGROUP_COLUMN = "subgroup"


def subgroup(row: Any) -> str:
    """The subgroup or population an estimate is for ("Age 35 years"), or "" for the whole cohort.

    >>> from types import SimpleNamespace as R
    >>> subgroup(R(subgroup="Age 35 years")), subgroup(R(subgroup=float("nan")))
    ('Age 35 years', '')
    """
    return part(getattr(row, SUBGROUP_COLUMN, None))


def comparison(row: Any) -> str:
    """'SRS alone vs SRS + WBRT', 'SRS alone', or 'all patients' when no arm is named (never 'vs nan').

    >>> from types import SimpleNamespace as R
    >>> comparison(R(arm="SRS", comparator=float("nan"))), comparison(R(arm=None, comparator=None))
    ('SRS', 'all patients')
    >>> comparison(R(arm="SRS (pooled)", comparator="WBRT alone (pooled)"))
    'SRS (pooled) vs WBRT alone (pooled)'
    """
    arm, other = part(getattr(row, "arm", None)), part(getattr(row, "comparator", None))
    return (arm or "all patients") + (f" vs {other}" if other else "")


def timepoint(row: Any) -> str:
    """'at 12 months' or ''.

    >>> from types import SimpleNamespace as R
    >>> timepoint(R(timepoint_months=12.0)), timepoint(R(timepoint_months=None)), timepoint(R())
    ('at 12 months', '', '')
    """
    months = getattr(row, "timepoint_months", None)
    return "" if is_missing(months) else f"at {float(months):g} months"


def estimate_labels(outcomes: pd.DataFrame, across_studies: bool = True) -> pd.DataFrame:
    """Title, detail lines and full label of each outcome row (columns ``title``, ``detail``, ``label``).

    Across studies (one endpoint, several studies) the title is the study; within one study it is the endpoint
    and timepoint. The detail names the comparison, the subgroup and the result. Rows whose labels would still be
    identical get "#1", "#2" after the title, so no two estimates ever share a label.

    >>> f = pd.DataFrame({"short_name": ["Sahgal 2015"] * 2, "endpoint": ["OS"] * 2, "arm": ["SRS"] * 2,
    ...     "comparator": ["SRS + WBRT"] * 2, "timepoint_months": [None, None],
    ...     "subgroup": ["age 35 years", "age 50 years"], "result": ["HR 0.46", "HR 0.64"]})
    >>> for title, detail in estimate_labels(f)[["title", "detail"]].values:
    ...     print(title, "|", detail.replace("\\n", " / "))
    Sahgal 2015 | SRS vs SRS + WBRT / age 35 years · HR 0.46
    Sahgal 2015 | SRS vs SRS + WBRT / age 50 years · HR 0.64
    """
    if outcomes.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ("title", "detail", "label")}, index=outcomes.index)
    titles, details = [], []
    for row in outcomes.itertuples(index=False):
        sub, result = subgroup(row), part(getattr(row, "result", None))
        if across_studies:
            titles.append(join(getattr(row, "short_name", None), timepoint(row)) or "study not named")
            lines = [comparison(row), join(sub, result)]
        else:
            titles.append(join(getattr(row, "endpoint", None), timepoint(row)) or "endpoint not named")
            lines = [comparison(row), join(sub, result)]
        details.append(detail_lines(lines))
    out = pd.DataFrame({"title": titles, "detail": details}, index=outcomes.index)
    key = out["title"] + "\n" + out["detail"]
    shared = key.map(key.value_counts()) > 1
    number = key.groupby(key).cumcount() + 1
    out.loc[shared, "title"] = out.loc[shared, "title"] + " #" + number[shared].astype(str)
    out["label"] = (out["title"] + " — " + out["detail"].str.replace("\n", " · ")).str.rstrip(" —")
    return out


def wrap(text: Any, width: int = 24, max_lines: int = 3) -> str:
    """Text broken into lines of at most ``width`` characters ("\\n" between them), the last one cut with "…"
    when the text needs more than ``max_lines``. An axis shows each line (labelExpr split), the tooltip the whole.

    >>> wrap("Patient selection by number and volume of metastases", 22)
    'Patient selection by\\nnumber and volume of\\nmetastases'
    >>> wrap("a b c d e f g h", 3, 2)
    'a b\\nc…'
    """
    lines = textwrap.wrap("" if is_missing(text) else str(text), width, break_long_words=True) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return "\n".join(lines)


DETAIL_WIDTH = 56  # characters of an 11 px label line that fit a phone's 358 px chart


def detail_lines(lines: list[str], width: int = DETAIL_WIDTH) -> str:
    """The present lines, each wrapped to ``width`` characters, joined by "\\n".

    >>> detail_lines(["SRS (pooled) vs WBRT with or without SRS boost (pooled) in 7 studies", "", "HR 0.85"], 40)
    'SRS (pooled) vs WBRT with or without SRS\\nboost (pooled) in 7 studies\\nHR 0.85'
    """
    return "\n".join(wrap(line, width, 2) for line in lines if line)


def n_lines(texts: pd.Series) -> int:
    """The most lines any of these texts has (at least 1)."""
    return max([1] + [str(t).count("\n") + 1 for t in texts if not is_missing(t)])
