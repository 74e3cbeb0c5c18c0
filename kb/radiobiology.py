"""Linear-quadratic radiobiology: BED and EQD2 from total dose, fractions and α/β.

BED = n·d·(1 + d/(α/β)) with d = D/n, the dose per fraction (Fowler, Br J Radiol 1989;62:679–694).
EQD2 = BED / (1 + 2/(α/β)): the dose in 2 Gy fractions with the same BED.
The KB never stores BED or EQD2: they are computed here from the dose, so they cannot drift from it.
The LQ model is known to be less reliable at the high doses per fraction of single-fraction SRS; the pages say so.
"""

from __future__ import annotations

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
