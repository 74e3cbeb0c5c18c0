"""Linear-quadratic radiobiology: BED and EQD2 from total dose, fractions and α/β.

BED = n·d·(1 + d/(α/β)) with d = D/n, the dose per fraction (Fowler, Br J Radiol 1989;62:679–694).
EQD2 = BED / (1 + 2/(α/β)): the dose in 2 Gy fractions with the same BED.
The KB never stores BED or EQD2: they are computed here from the dose, so they cannot drift from it.
The LQ model is known to be less reliable at the high doses per fraction of single-fraction SRS; the pages say so.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

ArrayLike = float | int | np.ndarray | pd.Series


def _check(total_dose_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> None:
    for name, value, low in (("total dose", total_dose_gy, 0), ("fractions", fractions, 1),
                             ("α/β", alpha_beta_gy, 0)):
        arr = np.asarray(value, dtype=float)
        bad = arr < low if name == "fractions" else arr <= low
        if np.any(bad[~np.isnan(arr)]):
            limit = "at least 1" if name == "fractions" else "greater than 0"
            raise ValueError(f"{name} must be {limit}")


def dose_per_fraction(total_dose_gy: ArrayLike, fractions: ArrayLike) -> ArrayLike:
    """d = D / n.

    >>> dose_per_fraction(27, 3)
    9.0
    """
    _check(total_dose_gy, fractions, 1)
    return total_dose_gy / fractions


def bed(total_dose_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> ArrayLike:
    """Biologically effective dose (Gy).

    >>> bed(30, 10, 10)    # WBRT 30 Gy/10: 30 * (1 + 3/10)
    39.0
    >>> bed(27, 3, 10)     # 3 x 9 Gy: 27 * (1 + 9/10)
    51.3
    """
    _check(total_dose_gy, fractions, alpha_beta_gy)
    d = total_dose_gy / fractions
    result = total_dose_gy * (1 + d / alpha_beta_gy)
    return round(float(result), 6) if np.isscalar(result) else result


def eqd2(total_dose_gy: ArrayLike, fractions: ArrayLike, alpha_beta_gy: ArrayLike) -> ArrayLike:
    """Equivalent dose in 2 Gy fractions (Gy).

    >>> eqd2(30, 10, 10)   # 39 / 1.2
    32.5
    """
    result = bed(total_dose_gy, fractions, alpha_beta_gy) / (1 + 2 / alpha_beta_gy)
    return round(float(result), 6) if np.isscalar(result) else result


def with_bed(frame: pd.DataFrame, dose: str = "total_dose_gy", fractions: str = "fractions",
             alpha_beta: str = "alpha_beta_gy") -> pd.DataFrame:
    """Add dose_per_fraction_gy, bed_gy and eqd2_gy columns to a frame (NaN where the dose is missing)."""
    out = frame.copy()
    total = pd.to_numeric(out[dose], errors="coerce")
    n = pd.to_numeric(out[fractions], errors="coerce")
    ab = pd.to_numeric(out[alpha_beta], errors="coerce")
    d = total / n
    out["dose_per_fraction_gy"] = d.round(2)
    out["bed_gy"] = (total * (1 + d / ab)).round(1)
    out["eqd2_gy"] = (total * (1 + d / ab) / (1 + 2 / ab)).round(1)
    return out


# ------------------------------------------------------------------------------------------------ calculator
MAX_SCHEDULES = 8
SCHEDULE_EXAMPLE = "27 Gy / 3 fx, 27/3, 3 x 9 Gy or 9 Gy x 3"

_NUMBER = r"(\d+(?:\.\d+)?|\.\d+)"
_FX = r"(?:\s*(?:fx|fr|fractions?))?"
# total dose over fractions: "27/3", "27 Gy / 3 fx", "27Gy/3fx", "27 Gy in 3 fractions"
_TOTAL_OVER_N = re.compile(_NUMBER + r"(\s*gy)?\s*(?:/|\bin\b)\s*" + _NUMBER + _FX)
# fractions × dose per fraction: "3 x 9 Gy", "3×9Gy", "3 fx x 9 Gy"
_N_TIMES_DOSE = re.compile(_NUMBER + _FX + r"\s*x\s*" + _NUMBER + r"\s*gy")
# dose per fraction × fractions: "9 Gy x 3", "9Gy×3 fx"
_DOSE_TIMES_N = re.compile(_NUMBER + r"\s*gy\s*x\s*" + _NUMBER + _FX)


def parse_schedule(text: str) -> tuple[float, int]:
    """One schedule as (total dose in Gy, fractions), written the ways clinicians write it.

    Total over fractions ("27/3", "27 Gy / 3 fx", "27Gy/3fx", "27 Gy in 3 fractions") or fractions times the dose
    per fraction, in either order ("3 x 9 Gy", "9 Gy x 3"; "×" or "x", any case and spacing). In the "x" forms the
    number that carries "Gy" is the dose per fraction; without it ("3 x 9") the reading is ambiguous and refused.

    >>> parse_schedule("27 Gy / 3 fx"), parse_schedule("3 × 9 Gy"), parse_schedule("9Gy x 3"), parse_schedule("24/1")
    ((27.0, 3), (27.0, 3), (27.0, 3), (24.0, 1))
    >>> parse_schedule("3 x 9")
    Traceback (most recent call last):
    ...
    ValueError: '3 x 9' is not a schedule — write it like 27 Gy / 3 fx, 27/3, 3 x 9 Gy or 9 Gy x 3
    """
    part = " ".join(text.split())
    norm = part.lower().replace("×", "x").replace("*", "x")
    if match := _TOTAL_OVER_N.fullmatch(norm):
        total, fractions = float(match.group(1)), float(match.group(3))
    elif match := _N_TIMES_DOSE.fullmatch(norm):
        fractions, total = float(match.group(1)), float(match.group(1)) * float(match.group(2))
    elif match := _DOSE_TIMES_N.fullmatch(norm):
        fractions, total = float(match.group(2)), float(match.group(1)) * float(match.group(2))
    else:
        raise ValueError(f"{part!r} is not a schedule — write it like {SCHEDULE_EXAMPLE}")
    total = round(total, 4)
    if fractions != int(fractions) or not 1 <= fractions <= 50:
        raise ValueError(f"{part!r}: the number of fractions must be a whole number from 1 to 50")
    if not np.isfinite(total) or total <= 0 or total > 100:
        raise ValueError(f"{part!r}: the total dose must be more than 0 and at most 100 Gy")
    return total, int(fractions)


def parse_schedules(text: str) -> list[tuple[float, int]]:
    """Several schedules separated by commas, semicolons or new lines (each read by :func:`parse_schedule`).

    >>> parse_schedules("24/1, 27 Gy / 3 fx; 3 x 9 Gy")
    [(24.0, 1), (27.0, 3), (27.0, 3)]
    """
    schedules = [parse_schedule(part) for part in re.split(r"[,;\n]", text) if part.strip()]
    if len(schedules) > MAX_SCHEDULES:
        raise ValueError(f"compare at most {MAX_SCHEDULES} schedules at a time")
    return schedules


def format_schedules(schedules: list[tuple[float, int]]) -> str:
    """The inverse of ``parse_schedules``.

    >>> format_schedules([(24.0, 1), (27.5, 5)])
    '24/1, 27.5/5'
    """
    return ", ".join(f"{total:g}/{fractions}" for total, fractions in schedules)


def compare_schedules(schedules: list[tuple[float, int]], alpha_beta_tumour_gy: float = 10.0,
                      alpha_beta_normal_gy: float = 2.0) -> pd.DataFrame:
    """Side-by-side BED and EQD2 of several schedules, for tumour and for normal brain.

    >>> compare_schedules([(24, 1), (30, 10)])[["schedule", "bed_tumour_gy", "eqd2_tumour_gy"]].values.tolist()
    [['24 Gy / 1 fx', 81.6, 68.0], ['30 Gy / 10 fx', 39.0, 32.5]]
    """
    rows = []
    for total, fractions in schedules:
        rows.append({
            "schedule": f"{total:g} Gy / {fractions} fx", "total_dose_gy": float(total), "fractions": int(fractions),
            "dose_per_fraction_gy": round(float(dose_per_fraction(total, fractions)), 2),
            "bed_tumour_gy": round(float(bed(total, fractions, alpha_beta_tumour_gy)), 1),
            "eqd2_tumour_gy": round(float(eqd2(total, fractions, alpha_beta_tumour_gy)), 1),
            "bed_normal_gy": round(float(bed(total, fractions, alpha_beta_normal_gy)), 1),
            "eqd2_normal_gy": round(float(eqd2(total, fractions, alpha_beta_normal_gy)), 1),
        })
    return pd.DataFrame(rows, columns=["schedule", "total_dose_gy", "fractions", "dose_per_fraction_gy",
                                       "bed_tumour_gy", "eqd2_tumour_gy", "bed_normal_gy", "eqd2_normal_gy"])
