"""Fuzzy literature search over the sources and the studies linked to them.

One implementation serves the Search page, ``python -m kb search`` and the benchmark (bench/search_bench.py).

How it works (the classic inverted-index route, sized for a million references):

1. **Analysis.** Text is cut into words; each word is folded (accents, case, ``ß``/``ø``/greek letters,
   British/American spellings, a light plural stemmer) into *part* tokens (``Pérez-García`` → ``perez``,
   ``garcia``) plus a *compound* (``perezgarcia``). Phrases from ``data/synonyms.csv`` and the drug names add
   *concept* tokens (``#tdm1``), so ``T-DM1`` and ``trastuzumab emtansine`` meet.
2. **Index.** One posting list per token in CSR numpy arrays (doc ids int32, impact float32): the impact is a
   BM25F weight precomputed from field boosts (first author, title, study names…). The build tokenises columns
   in Arrow, so Python only analyses each distinct word once; identifiers (five digits or more: PMIDs, DOI
   serials, NCT numbers) live in a numpy hash table rather than the vocabulary dict. No Python object per
   document.
3. **Query.** Each query word expands against the vocabulary: exact, prefix (as you type), suffix (``necrosis``
   → ``radionecrosis``) and, when the word is not in the index, edit distance (rapidfuzz OSA over words of
   similar length sharing the first or last letter; cached). Synonym phrases and compounds become spans that
   stand for several words. Scores are accumulated in numpy over the posting lists, multiplied by the share of
   query words matched; words matching more than 2% of the documents only score the candidates the rarer words
   found (Elasticsearch's "common terms" idea). The top candidates are re-ranked with a phrase bonus (matched
   words side by side in the title).

Where each part lives (this package re-exports every name other code uses: ``from kb import search``):
``analysis`` (words, folding, variants), ``synonyms``, ``documents`` (fields, ``Hit``, citation), ``builder`` (the
postings), ``index`` (``SearchIndex``: build, postings), ``query`` (expansion, parsing) and ``scoring`` (scores,
filters, re-rank) — both methods of ``SearchIndex`` — ``present`` (highlighting, ``hit_view``, the CSV),
``load`` (documents and synonyms from the KB), ``cli`` (``python -m kb search``).

>>> import pandas as pd
>>> index = SearchIndex.build(pd.DataFrame({"source_id": ["a", "b"], "title": ["Radiosurgery for brain metastases",
...     "Whole-brain radiotherapy alone"], "first_author": ["Pérez-García JM", "Brown PD"], "year": [2020, 2016]}))
>>> [h.source_id for h in index.search("perez garcia")]
['a']
>>> [h.source_id for h in index.search("brwon 2016")]
['b']
"""

from __future__ import annotations

from kb.config import DATA_DIR
from kb.links import doi_url, nct_url as trial_url, pubmed_url  # one rule for links: kb.links
from kb.search.analysis import STOPWORDS, WORD_RE, Word, analyze_word, fold, indexable, is_identifier, words
from kb.search.cli import cmd_search, register_cli
from kb.search.documents import FIELDS, B, Hit, K1, format_citation
from kb.search.index import SearchIndex
from kb.search.load import (DOCUMENT_SQL, DRUG_SQL, HISTOLOGY_SQL, STUDY_SQL, build_index, histology_choices,
                            load_documents, load_synonyms)
from kb.search.present import VIEW_COLUMNS, escape_markdown, highlight_spans, hit_view, markdown_highlight, views_frame
from kb.search.scoring import COMMON_MIN, COMMON_SHARE, COORDINATION, PHRASE_BONUS, RERANK
from kb.search.synonyms import CONCEPT, SYNONYMS_PATH, Synonyms, drug_synonyms, read_synonyms

__all__ = [
    "B", "COMMON_MIN", "COMMON_SHARE", "CONCEPT", "COORDINATION", "DATA_DIR", "DOCUMENT_SQL", "DRUG_SQL", "FIELDS",
    "HISTOLOGY_SQL", "Hit", "K1", "PHRASE_BONUS", "RERANK", "STOPWORDS", "STUDY_SQL", "SYNONYMS_PATH", "SearchIndex",
    "Synonyms", "VIEW_COLUMNS", "WORD_RE", "Word", "analyze_word", "build_index", "cmd_search", "doi_url",
    "drug_synonyms", "escape_markdown", "fold", "format_citation", "highlight_spans", "histology_choices", "hit_view",
    "indexable", "is_identifier", "load_documents", "load_synonyms", "markdown_highlight", "pubmed_url",
    "read_synonyms", "register_cli", "trial_url", "views_frame", "words",
]
