"""How a value looks when it leaves the database for a reader: missing values, CSV cells and stored text.

Decided once, here, and used by every page, chart and download:

- **Missing** (NULL, pandas' NaN/NA, blank text) means *not reported or not verified* — never zero, never "no
  limit". Tables keep numbers numeric (they still sort) and draw :data:`MISSING_MARK` in the empty cell
  (``st.dataframe(placeholder=MISSING_MARK)``) with :data:`MISSING_LEGEND` in a caption; cards and metrics say
  :data:`MISSING_WORDS`; chart labels leave the part out; CSV downloads leave the cell empty.
- **CSV cells** that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab, carriage
  return or NUL) get a leading apostrophe, and text cells are quoted — OWASP's advice on CSV injection
  (https://owasp.org/www-community/attacks/CSV_Injection) and ASVS 1.2.10. :func:`csv_bytes` is the one function
  every CSV download goes through.
- **Stored text is text**: :func:`inert_markdown` escapes Markdown and breaks the patterns a Markdown renderer
  would turn into links by itself (``https://…``, ``www.…``, e-mail addresses), so only link fields are links.

>>> is_missing(float("nan")), words(None), words(12.5, "{:g} Gy")
(True, 'not reported or not verified', '12.5 Gy')
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

import pandas as pd

MISSING_MARK = "—"
MISSING_WORDS = "not reported or not verified"
MISSING_LEGEND = f"{MISSING_MARK} = {MISSING_WORDS} (never zero)."


def is_missing(value: Any) -> bool:
    """True for None, NaN, pandas' NA/NaT and blank text.

    >>> [is_missing(v) for v in (None, float("nan"), pd.NA, "", "  ", 0, "0", "nan")]
    [True, True, True, True, True, False, False, False]
    """
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists and arrays are values
        return False


def words(value: Any, fmt: str = "{}", missing: str = MISSING_WORDS) -> str:
    """A value for a card or a metric: formatted, or the words for a missing one.

    >>> words(9.0, "{:g}%"), words(float("nan"), "{:g}%"), words(None, missing="not stated in the source")
    ('9%', 'not reported or not verified', 'not stated in the source')
    """
    return missing if is_missing(value) else fmt.format(value)


def part(value: Any, fmt: str = "{}") -> str:
    """A piece of a label: formatted, or "" when missing (a chart label never says "nan" or "None").

    >>> part(None) + "|" + part(12.0, "{:g} months") + "|" + part(float("nan"), "{:g}")
    '|12 months|'
    """
    return "" if is_missing(value) else fmt.format(value)


def join(*parts: Any, sep: str = " · ") -> str:
    """The present parts joined: join("Gaebe 2022", None, "12 months") == 'Gaebe 2022 · 12 months'.

    >>> join("Gaebe 2022", None, float("nan"), "", "12 months")
    'Gaebe 2022 · 12 months'
    """
    return sep.join(str(p).strip() for p in parts if not is_missing(p))


def for_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame a table shows: numeric columns as they are (NaN is a missing number), text columns with blank text
    made missing too, so the table draws its placeholder in every empty cell (NULL and NaN already are missing)."""
    out = frame
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        values = series.tolist()
        if any(isinstance(v, str) and not v.strip() for v in values):
            if out is frame:
                out = frame.copy()
            out[column] = pd.Series([None if isinstance(v, str) and not v.strip() else v for v in values],
                                    index=frame.index, dtype=object)
    return out


# ------------------------------------------------------------------------------------------------ CSV
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_formula(value: Any) -> Any:
    """A text cell a spreadsheet would evaluate gets a leading apostrophe; other values are unchanged.

    Plain numbers written as text ("-0.5") are left alone: they cannot hold a formula.

    >>> neutralise_formula('=HYPERLINK("http://x","y")'), neutralise_formula("@SUM(A1)"), neutralise_formula("-0.5")
    ('\\'=HYPERLINK("http://x","y")', "'@SUM(A1)", '-0.5')
    >>> neutralise_formula("-1+cmd|' /C calc'!A0"), neutralise_formula("\\tx"), neutralise_formula(-3)
    ("'-1+cmd|' /C calc'!A0", "'\\tx", -3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


def _csv_cell(value: Any, missing: bool) -> str:
    if missing:
        return ""
    text = value if isinstance(value, str) else str(value)
    if not text.strip():
        return ""
    return neutralise_formula(text) if text[0] in FORMULA_START else text


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as a UTF-8 CSV for download: missing values as empty cells, formula-like text neutralised, text
    quoted, numbers as numbers. The one way every page writes a CSV.

    >>> csv_bytes(pd.DataFrame({"a": ["=1+1", None], "b": [1.5, float("nan")]})).decode()
    '"a","b"\\n"\\'=1+1",1.5\\n"",""\\n'
    """
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            continue
        # one pass in plain Python: a page rerun writes every table's CSV, so this must stay cheap
        missing = series.isna().tolist()
        out[column] = pd.Series([_csv_cell(v, m) for v, m in zip(series.tolist(), missing)], index=out.index,
                                dtype=object)
    out.columns = [neutralise_formula(str(c)) for c in out.columns]
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, na_rep="", quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


# ------------------------------------------------------------------------------------------------ stored text
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=\"'^&])")
# Streamlit's Markdown (GitHub-flavoured) turns "https://…", "www.…" and "name@host" in plain text into links
# (remark-gfm's autolink-literal step runs on the decoded text, so backslash escapes and character references do
# not stop it), and ":material/…:", ":smile:" or ":green-badge[…]" into icons and badges. It links only where the
# address starts after a space, punctuation or the start of the text, and an e-mail only where "@" follows the
# name directly; an invisible WORD JOINER (U+2060) in front of the address, of "@" and after a ":" that starts a
# directive meets none of these conditions. The text reads the same; it is just not a link or an icon.
WORD_JOINER = "\u2060"
_AUTOLINK_START = re.compile(r"(?i)(?=https?://|www\.|@)|(?<=:)(?=[a-z0-9_+-]+[\[/:])")


def inert_markdown(value: Any) -> str:
    r"""Stored text as Markdown that shows exactly its characters: no emphasis, headings, HTML, LaTeX, directives
    (``:green-badge[…]``) or links — plain URLs and e-mail addresses included. Newlines become spaces.

    >>> print(inert_markdown("[a](javascript:void) *b* <i> :red[x]").replace(WORD_JOINER, "^"))
    \[a\]\(javascript\:void\) \*b\* \<i\> \:^red\[x\]
    >>> print(inert_markdown("see https://x.org or www.y.org, a@b.org :smile:").replace(WORD_JOINER, "^"))
    see ^https\://x\.org or ^www\.y\.org, a^@b\.org \:^smile\:
    """
    text = "" if is_missing(value) else re.sub(r"\s", " ", str(value))
    text = _AUTOLINK_START.sub(WORD_JOINER, text.replace(WORD_JOINER, ""))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
