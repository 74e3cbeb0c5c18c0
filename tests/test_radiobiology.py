"""BED and EQD2 against values worked out by hand; the calculator's parser; bad input is refused."""

import numpy as np
import pandas as pd
import pytest

from kb.radiobiology import bed, compare_schedules, dose_per_fraction, eqd2, format_schedules, parse_schedule, \
    parse_schedules, with_bed


@pytest.mark.parametrize("total, fractions, alpha_beta, expected_bed, expected_eqd2", [
    # WBRT 30 Gy/10: d = 3; BED = 30 (1 + 3/10) = 39; EQD2 = 39 / 1.2 = 32.5
    (30, 10, 10, 39.0, 32.5),
    # 3 x 9 Gy: BED = 27 (1 + 9/10) = 51.3; EQD2 = 51.3 / 1.2 = 42.75
    (27, 3, 10, 51.3, 42.75),
    # single-fraction 24 Gy: BED = 24 (1 + 24/10) = 81.6; EQD2 = 68
    (24, 1, 10, 81.6, 68.0),
    # 5 x 5 Gy: BED = 25 (1 + 5/10) = 37.5; EQD2 = 31.25
    (25, 5, 10, 37.5, 31.25),
    # α/β 2 (late effects in normal brain): 30/10 -> 30 (1 + 3/2) = 75; EQD2 = 75 / 2 = 37.5
    (30, 10, 2, 75.0, 37.5),
    # 27/3 at α/β 2: 27 (1 + 9/2) = 148.5; EQD2 = 74.25
    (27, 3, 2, 148.5, 74.25),
    # 24/1 at α/β 2: 24 (1 + 12) = 312; EQD2 = 156
    (24, 1, 2, 312.0, 156.0),
    # 2 Gy fractions: EQD2 equals the physical dose whatever α/β is
    (60, 30, 3, 100.0, 60.0),
])
def test_bed_and_eqd2_match_hand_computed_values(total, fractions, alpha_beta, expected_bed, expected_eqd2):
    assert bed(total, fractions, alpha_beta) == pytest.approx(expected_bed)
    assert eqd2(total, fractions, alpha_beta) == pytest.approx(expected_eqd2)


def test_dose_per_fraction_divides_total_by_fractions():
    assert dose_per_fraction(27, 3) == 9.0


@pytest.mark.parametrize("total, fractions, alpha_beta, message", [
    (0, 1, 10, "total dose"),
    (-24, 1, 10, "total dose"),
    (24, 0, 10, "fractions"),
    (24, 1, 0, "α/β"),
    (24, 1, -2, "α/β"),
])
def test_invalid_input_raises_a_value_error_naming_the_quantity(total, fractions, alpha_beta, message):
    with pytest.raises(ValueError, match=message):
        bed(total, fractions, alpha_beta)
    with pytest.raises(ValueError, match=message):
        eqd2(total, fractions, alpha_beta)


def test_arrays_are_computed_elementwise():
    result = bed(np.array([30.0, 24.0]), np.array([10, 1]), 10)
    assert result.tolist() == pytest.approx([39.0, 81.6])


def test_with_bed_adds_columns_and_leaves_missing_doses_empty():
    frame = pd.DataFrame({"total_dose_gy": [30.0, None], "fractions": [10, None], "alpha_beta_gy": [10.0, 10.0]})
    out = with_bed(frame)
    assert out["bed_gy"].iloc[0] == 39.0 and out["eqd2_gy"].iloc[0] == 32.5
    assert out["dose_per_fraction_gy"].iloc[0] == 3.0
    assert pd.isna(out["bed_gy"].iloc[1])


@pytest.mark.parametrize("text, expected", [
    ("24/1, 27/3, 30/5", [(24.0, 1), (27.0, 3), (30.0, 5)]),
    ("24 Gy/1; 30/10", [(24.0, 1), (30.0, 10)]),
    (" 27.5 / 5 ", [(27.5, 5)]),
    ("", []),
    (" , ", []),
])
def test_parse_schedules_reads_total_over_fractions(text, expected):
    assert parse_schedules(text) == expected


@pytest.mark.parametrize("text, message", [
    ("27x3", "not a schedule"),
    ("27/3/10", "not a schedule"),
    ("abc/3", "not a schedule"),
    ("0/1", "total dose"),
    ("500/1", "total dose"),
    ("27/0", "fractions"),
    ("27/2.5", "fractions"),
    ("1/1, 2/1, 3/1, 4/1, 5/1, 6/1, 7/1, 8/1, 9/1", "at most"),
])
def test_parse_schedules_refuses_what_is_not_a_schedule(text, message):
    with pytest.raises(ValueError, match=message):
        parse_schedules(text)


@pytest.mark.parametrize("text, expected", [
    # total dose / fractions, as the app itself displays it and as people type it
    ("27 Gy / 3 fx", (27.0, 3)), ("27Gy/3fx", (27.0, 3)), ("27 gy/3 FX", (27.0, 3)), ("27 GY / 3 fractions", (27.0, 3)),
    ("27 Gy in 3 fractions", (27.0, 3)), ("24 Gy / 1 fraction", (24.0, 1)), ("27/3", (27.0, 3)),
    ("  27   Gy   /   3  fx ", (27.0, 3)), ("27.5 Gy / 5 fr", (27.5, 5)),
    # fractions × dose per fraction, either order, x or ×
    ("3 x 9 Gy", (27.0, 3)), ("3x9Gy", (27.0, 3)), ("3 × 9 Gy", (27.0, 3)), ("3 X 9 GY", (27.0, 3)),
    ("3 fx x 9 Gy", (27.0, 3)), ("9 Gy x 3", (27.0, 3)), ("9Gy×3", (27.0, 3)), ("9 Gy x 3 fx", (27.0, 3)),
    ("5 x 6 Gy", (30.0, 5)), ("3 x 7.7 Gy", (23.1, 3)), ("1 x 24 Gy", (24.0, 1)),
])
def test_parse_schedule_reads_the_usual_notations(text, expected):
    assert parse_schedule(text) == expected


@pytest.mark.parametrize("text", ["3 x 9", "27x3", "27 Gy", "27 Gy / 3 Gy", "9 Gy x 3 Gy", "27 Gy over 3", "twenty/3",
                                  "27 / 3 / 1", "=27/3", "27 Gy / 3 fx; DROP TABLE", "<b>27</b>/3"])
def test_parse_schedule_refuses_others_with_an_example(text):
    with pytest.raises(ValueError) as raised:
        parse_schedule(text)
    assert "27 Gy / 3 fx" in str(raised.value) and "3 x 9 Gy" in str(raised.value)


@pytest.mark.parametrize("text, message", [("3 x 60 Gy", "at most 100 Gy"), ("2.5 x 9 Gy", "whole number"),
                                           ("9 Gy x 0", "from 1 to 50"), ("0 Gy / 1 fx", "more than 0")])
def test_parse_schedule_checks_the_numbers(text, message):
    with pytest.raises(ValueError, match=message):
        parse_schedule(text)


def test_schedules_in_the_apps_own_format_round_trip():
    compared = compare_schedules([(24.0, 1), (27.0, 3), (27.5, 5)])
    assert parse_schedules(", ".join(compared["schedule"])) == [(24.0, 1), (27.0, 3), (27.5, 5)]


def test_format_schedules_round_trips():
    schedules = [(24.0, 1), (27.5, 5)]
    assert parse_schedules(format_schedules(schedules)) == schedules


def test_compare_schedules_puts_tumour_and_normal_brain_side_by_side():
    table = compare_schedules([(24, 1), (27, 3), (30, 10)], alpha_beta_tumour_gy=10, alpha_beta_normal_gy=2)
    assert table["schedule"].tolist() == ["24 Gy / 1 fx", "27 Gy / 3 fx", "30 Gy / 10 fx"]
    assert table["bed_tumour_gy"].tolist() == [81.6, 51.3, 39.0]
    assert table["eqd2_tumour_gy"].tolist() == [68.0, 42.8, 32.5]  # 42.75 shown to one decimal
    assert table["bed_normal_gy"].tolist() == [312.0, 148.5, 75.0]
    assert table["eqd2_normal_gy"].tolist() == [156.0, 74.2, 37.5]  # 74.25 rounds half to even


def test_compare_schedules_refuses_a_non_positive_alpha_beta():
    with pytest.raises(ValueError, match="α/β"):
        compare_schedules([(24, 1)], alpha_beta_tumour_gy=0)
