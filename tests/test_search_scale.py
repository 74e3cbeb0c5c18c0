"""Search at scale: inside a 10^4 synthetic bibliography (bench/corpus.py) the labelled queries still find the
real sources. (The 10^5 and 10^6 timings are `make bench`, not a test.)"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench import corpus
from kb import search

LABELLED = list(csv.DictReader(Path(__file__).with_name("search_queries.csv").open(encoding="utf-8")))


@pytest.fixture(scope="module")
def real():
    return corpus.real_documents()


@pytest.fixture(scope="module")
def big(real):
    docs = corpus.synthetic_corpus(10_000, real)
    return docs, search.SearchIndex.build(docs, corpus.real_synonyms())


def test_synthetic_corpus_is_deterministic_and_holds_every_real_source(real):
    a = corpus.synthetic_corpus(3_000, real)
    b = corpus.synthetic_corpus(3_000, real)
    assert len(a) == 3_000 and a.equals(b)
    assert set(real["source_id"]) <= set(a["source_id"])
    assert a["source_id"].is_unique
    synthetic = a[a["source_id"].str.startswith("syn")]
    assert synthetic["title"].str.len().min() > 0 and synthetic["authors"].notna().all()


def test_labelled_queries_still_find_the_real_sources_among_10_000(big):
    docs, index = big
    assert len(docs) == 10_000
    found = []
    for row in LABELLED:
        ids = [h.source_id for h in index.search(row["query"], limit=10)]
        found.append(ids.index(row["expected"]) + 1 if row["expected"] in ids else None)
    recall5 = sum(1 for r in found if r and r <= 5) / len(found)
    mrr = sum(1 / r for r in found if r) / len(found)
    misses = [(row["query"], r) for row, r in zip(LABELLED, found) if r != 1]
    assert recall5 >= 0.95, misses
    assert mrr >= 0.85, misses


def test_synthetic_records_are_searchable_too(big):
    docs, index = big
    row = docs[docs["source_id"] == "syn0004242"].iloc[0]
    hits = index.search(f"{row['first_author'].split()[0]} {row['year']} {row['title']}", limit=5)
    assert "syn0004242" in [h.source_id for h in hits]

