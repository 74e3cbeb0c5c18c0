"""kb.gaps: which sources on a page's topic have no curated figures — from data, with the drug filters."""

from __future__ import annotations

import csv

import duckdb
import pandas as pd
import pytest

from kb import gaps
from kb.config import DATA_DIR
from kb.schema import create_schema


@pytest.fixture
def small_kb():
    """Three tagged sources: one cited by a toxicity signal, one by an outcome's cohort only, one by nothing."""
    con = duckdb.connect()
    create_schema(con, runtime=False)
    con.execute("INSERT INTO pub_types VALUES ('retrospective', 'Retrospective')")
    con.execute("INSERT INTO drugs VALUES ('tdm1', 'T-DM1', NULL, 'adc'), ('nivo', 'nivolumab', NULL, 'ici')")
    con.execute("INSERT INTO toxicities VALUES ('srn', 'Symptomatic RN')")
    con.execute("INSERT INTO endpoints VALUES ('os', 'OS', NULL)")
    con.execute("INSERT INTO subgroups VALUES ('whole_cohort', 'Whole cohort', NULL)")
    for sid, ref, author, year in (("a", 1, "Stumpf PK", 2019), ("b", 2, "Geraud A", 2017), ("c", 3, "Mitsuya K", 2016),
                                   ("d", 4, None, 2025), ("e", 5, "Kim J", 2020)):
        con.execute("INSERT INTO sources (source_id, ref_number, cited_in, first_author, title, year, pub_type, "
                    "verification) VALUES (?, ?, 'editor', ?, 'A title', ?, 'retrospective', 'secondary')",
                    [sid, ref, author, year])
    con.execute("INSERT INTO source_topics VALUES ('a', 'drug_toxicity', 'tdm1'), ('b', 'drug_toxicity', 'tdm1'), "
                "('c', 'drug_toxicity', 'nivo'), ('d', 'drug_toxicity', NULL), ('e', 'clinical_studies', NULL), "
                "('b', 'clinical_studies', NULL)")
    con.execute("INSERT INTO drug_toxicity (signal_id, drug_id, toxicity, finding, source_id, verification) "
                "VALUES ('s1', 'tdm1', 'srn', 'more RN', 'a', 'secondary')")
    con.execute("INSERT INTO studies (study_id, short_name, design_id, randomized, verification) "
                "VALUES ('st', 'St', 'retrospective', false, 'secondary')")
    con.execute("INSERT INTO outcomes (outcome_id, study_id, endpoint_id, statistic, value, unit, subgroup_id, "
                "cohort_source_id, source_id, verification) VALUES ('o1', 'st', 'os', 'median', 9, 'months', "
                "'whole_cohort', 'e', 'a', 'secondary')")
    yield con
    con.close()


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["source_id"].tolist()


@pytest.mark.parametrize("topic, drugs, classes, expected", [
    ("drug_toxicity", (), (), ["b", "c", "d"]),          # a is cited by a signal
    ("drug_toxicity", ("tdm1",), (), ["b"]),             # the T-DM1 paper without figures
    ("drug_toxicity", (), ("ici",), ["c"]),              # by drug class
    ("drug_toxicity", ("tdm1",), ("ici",), ["b", "c"]),
    ("drug_toxicity", ("nobody",), (), []),
    ("clinical_studies", (), (), ["b"]),                 # e is cited as an outcome's cohort paper
    ("imaging", (), (), []),
])
def test_uncurated_sources_by_topic_and_drug(small_kb, topic, drugs, classes, expected):
    assert ids(gaps.uncurated_sources(small_kb, topic, drugs, classes)) == expected


def test_a_source_leaves_the_gap_list_once_a_row_cites_it(small_kb):
    small_kb.execute("INSERT INTO drug_toxicity (signal_id, drug_id, toxicity, finding, source_id, verification) "
                     "VALUES ('s2', 'tdm1', 'srn', 'more RN', 'b', 'secondary')")
    assert ids(gaps.uncurated_sources(small_kb, "drug_toxicity", ("tdm1",))) == []


def test_an_unknown_topic_is_refused(small_kb):
    with pytest.raises(ValueError, match="unknown topic 'toxicity'"):
        gaps.uncurated_sources(small_kb, "toxicity")


def test_the_gap_sentence_names_authors_years_and_reference_numbers(small_kb):
    sentence = gaps.gap_sentence(gaps.uncurated_sources(small_kb, "drug_toxicity"), limit=2)
    assert sentence == ("Also in the bibliography, figures not curated (3): Geraud 2017 [ref 2], Mitsuya 2016 "
                        "[ref 3] and 1 more.")
    assert gaps.gap_sentence(gaps.uncurated_sources(small_kb, "imaging")) == ""


def test_in_the_kb_the_t_dm1_series_without_figures_are_listed_on_the_toxicity_topic(con):
    listed = ids(gaps.uncurated_sources(con, "drug_toxicity", ("trastuzumab_emtansine",)))
    assert {"ref112", "ref113", "ref250"} <= set(listed)
    assert "ref114" not in listed   # Stumpf 2019: curated


def test_every_topic_tag_names_a_known_topic_and_every_listed_source_is_really_uncited(con):
    with (DATA_DIR / "source_topics.csv").open(encoding="utf-8") as handle:
        tags = list(csv.DictReader(handle))
    assert tags and {t["topic"] for t in tags} <= set(gaps.TOPICS)
    cited = set()
    for table, column in gaps.CITING_COLUMNS:
        with (DATA_DIR / f"{table}.csv").open(encoding="utf-8") as handle:
            cited |= {r[column] for r in csv.DictReader(handle) if r[column]}
    for topic in gaps.TOPICS:
        listed = set(ids(gaps.uncurated_sources(con, topic)))
        tagged = {t["source_id"] for t in tags if t["topic"] == topic}
        assert listed == tagged - cited, topic
