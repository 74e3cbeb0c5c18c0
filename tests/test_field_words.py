"""Every column an editor can fill has a label and help in a clinician's words (kb.field_words)."""

import pytest

from kb import edits, field_words
from kb.schema import tables

EDITABLE = sorted({t for kind in edits.KINDS for t in edits.record_tables(kind)})


@pytest.mark.parametrize("table", EDITABLE)
def test_every_editable_column_has_words_and_help(table):
    for column in tables()[table].column_names:
        words = field_words.label(column, table)
        assert words != column.replace("_", " ") or column in ("title", "year", "value", "unit", "volume", "issue",
                                                               "pages", "journal", "authors", "scope", "population",
                                                               "purpose", "toxicity", "statistic", "phase",
                                                               "status", "strength", "randomized", "auc",
                                                               "description", "summary", "body") \
            or field_words.WORDS.get(column) or field_words.WORDS.get(f"{table}.{column}"), (table, column)
        assert field_words.help_text(column, table) or column in ("volume", "issue"), (table, column)
        assert " id" not in words or words.endswith("id") and column in tables()[table].primary_key, (table, column)


@pytest.mark.parametrize("value, words", [("hazard_ratio", "hazard ratio"), ("pct_change", "% change from baseline"),
                                          ("true", "yes"), ("false", "no"), ("rn_vs_progression",
                                                                              "radionecrosis vs progression")])
def test_allowed_values_read_as_words(value, words):
    assert field_words.choice_word(value) == words


def test_messages_use_the_same_words():
    from kb.validate import label

    assert label("mets_min") == "fewest brain metastases eligible"
    assert label("total_dose_gy") == "total dose (Gy)"
    assert label("some_new_column") == "some new column"
