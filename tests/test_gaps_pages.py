"""AppTest: each evidence page says which papers on its topic the KB holds without curated figures."""

from pathlib import Path

import pytest
from pages_helpers import open_page
from streamlit.testing.v1 import AppTest

from kb import gaps

ROOT = Path(__file__).resolve().parent.parent




def gap_captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if c.value.startswith("Also in the bibliography")]


@pytest.mark.parametrize("page, topic", [("toxicity", "drug_toxicity"), ("dosing", "dosing"),
                                         ("guidelines", "guidelines"), ("imaging", "imaging"),
                                         ("explorer", "clinical_studies")])
def test_every_evidence_page_names_the_papers_on_its_topic_without_figures(built_db, con, page, topic):
    expected = gaps.gap_sentence(gaps.uncurated_sources(con, topic))
    assert expected  # each topic has at least one such paper today
    assert [c.split(" The KB holds")[0] for c in gap_captions(open_page(page))] == [expected]


def test_the_t_dm1_filter_lists_the_t_dm1_series_whose_figures_were_not_curated(built_db):
    caption = gap_captions(open_page("toxicity", drug="trastuzumab_emtansine"))[0]
    assert caption.startswith("Also in the bibliography, figures not curated (3): Chun 2024 [ref 112], "
                              "Id Said 2022 [ref 113], Carlson 2014 [ref 250].")
    assert "Stumpf" not in caption  # curated: its signal is in the table above


def test_a_long_list_opens_in_an_expander_with_links(built_db, con):
    at = open_page("explorer")
    expander = next(e for e in at.expander if e.label.startswith("All "))
    frame = expander.dataframe[0].value
    assert len(frame) == len(gaps.uncurated_sources(con, "clinical_studies"))
    assert {"Paper", "Reference", "Title", "DOI", "PubMed"} <= set(frame.columns)
