"""kb.links: a link only from an identifier of the right shape — never from None, NaN, blanks or bad ids."""

import math

import pandas as pd
import pytest

from kb import links, queries, search

MISSING = [None, float("nan"), math.nan, pd.NA, "", "   ", "nan", "None", "\t"]


@pytest.mark.parametrize("builder", [links.doi_url, links.pubmed_url, links.pmc_url, links.nct_url, links.web_url,
                                     links.verified_in_url, links.read_in_url])
@pytest.mark.parametrize("value", MISSING, ids=repr)
def test_missing_identifier_gives_no_link(builder, value):
    assert builder(value) is None


@pytest.mark.parametrize("value, expected", [
    # good identifiers, as stored and with the usual decorations
    ("10.1001/jama.2016.9839", "https://doi.org/10.1001/jama.2016.9839"),
    (" 10.1001/jama.2016.9839 ", "https://doi.org/10.1001/jama.2016.9839"),
    ("doi:10.1001/jama.2016.9839", "https://doi.org/10.1001/jama.2016.9839"),
    ("https://doi.org/10.1001/jama.2016.9839", "https://doi.org/10.1001/jama.2016.9839"),
    ("10.1016/S1470-2045(17)30441-2", "https://doi.org/10.1016/S1470-2045%2817%2930441-2"),
    # bad ones
    ("10.1001", None), ("jama.2016.9839", None), ("10.1001/jama 2016", None), ("11.1001/x", None),
])
def test_doi_url(value, expected):
    assert links.doi_url(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("27458945", "https://pubmed.ncbi.nlm.nih.gov/27458945/"),
    (27458945, "https://pubmed.ncbi.nlm.nih.gov/27458945/"),
    (27458945.0, "https://pubmed.ncbi.nlm.nih.gov/27458945/"),   # a PMID column read as float
    ("PMID:27458945", "https://pubmed.ncbi.nlm.nih.gov/27458945/"),
    ("2745894x", None), ("-1", None), ("0", None), ("1234567890", None), ("27458945.5", None),
])
def test_pubmed_url(value, expected):
    assert links.pubmed_url(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("NCT02360215", "https://clinicaltrials.gov/study/NCT02360215"),
    ("nct02360215 ", "https://clinicaltrials.gov/study/NCT02360215"),
    ("NCT0236021", None), ("NCT023602155", None), ("02360215", None), ("NCT0236021a", None),
])
def test_nct_url(value, expected):
    assert links.nct_url(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("PMID:27458945", "https://pubmed.ncbi.nlm.nih.gov/27458945/"),
    ("pmid: 27458945", "https://pubmed.ncbi.nlm.nih.gov/27458945/"),
    ("DOI:10.1093/neuonc/not114", "https://doi.org/10.1093/neuonc/not114"),
    ("PMC:PMC7940785", "https://pmc.ncbi.nlm.nih.gov/articles/PMC7940785/"),
    ("URL:https://iris.univr.it/handle/11562/1154369", "https://iris.univr.it/handle/11562/1154369"),
    ("https://www.pubfacts.com/author/Joseph+N+Contessa", "https://www.pubfacts.com/author/Joseph+N+Contessa"),
    ("URL:javascript:alert(1)", None), ("javascript:alert(1)", None), ("URL:ftp://x.org/a", None),
    ("URL:https://", None), ("URL:https://x.org/a b", None), ("PMID:abc", None), ("Table 2 of the full text", None),
])
def test_verified_in_url(value, expected):
    assert links.verified_in_url(value) == expected


def test_read_in_prefers_the_page_the_figure_was_verified_in():
    assert links.read_in_url("PMC:PMC7940785", "10.1/x", "1") == "https://pmc.ncbi.nlm.nih.gov/articles/PMC7940785/"
    assert links.read_in_url(None, "10.1001/jama.2016.9839", "1") == "https://doi.org/10.1001/jama.2016.9839"
    assert links.read_in_url("", float("nan"), "27458945") == "https://pubmed.ncbi.nlm.nih.gov/27458945/"
    assert links.read_in_url("not a page", "nan", "nan") is None


def test_search_and_queries_use_the_one_rule():
    assert queries.doi_url is links.doi_url and search.doi_url is links.doi_url
    assert queries.pubmed_url is links.pubmed_url and search.pubmed_url is links.pubmed_url
    assert queries.nct_url is links.nct_url and search.trial_url is links.nct_url


def test_no_link_in_the_kb_ends_in_nan(con):
    """Every identifier column of every table, through the builders: no link to …/nan or …/None."""
    frames = [queries.sources(con), queries.studies(con), queries.dose_schedules(con, normal_tissue=None),
              queries.drug_toxicity(con), queries.recommendations(con), queries.imaging(con)]
    built = []
    for frame in frames:
        for column, builder in (("doi", links.doi_url), ("pmid", links.pubmed_url), ("nct_id", links.nct_url)):
            if column in frame:
                built += [builder(v) for v in frame[column]]
        if "verified_in" in frame:
            built += [links.read_in_url(*r) for r in frame[["verified_in", "doi", "pmid"]].itertuples(index=False)]
    urls = [u for u in built if u]
    assert len(urls) > 500
    assert not [u for u in urls if u.rstrip("/").lower().endswith(("/nan", "/none", "/null"))]
