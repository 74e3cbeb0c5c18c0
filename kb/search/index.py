"""The index: ``SearchIndex.build`` over a DataFrame of documents, the postings (CSR numpy arrays) and token ids.
Querying and scoring are methods too, written in ``kb.search.query`` and ``kb.search.scoring``.
"""

from __future__ import annotations

import threading
from typing import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from kb.search.analysis import _DIGITS_RE, _id_hash, is_identifier
from kb.search.builder import _Builder, _column_arrow, _contiguous
from kb.search.documents import FIELDS, B, K1, _text
from kb.search.query import _Query
from kb.search.scoring import _Scoring
from kb.search.synonyms import CONCEPT, Synonyms


class SearchIndex(_Query, _Scoring):
    """An inverted index over the documents; build once, query many times. Queries share scratch buffers and
    run one at a time (a lock), which costs nothing at a few milliseconds per query."""

    def __init__(self) -> None:
        self.documents: pd.DataFrame = pd.DataFrame()
        self.n_docs = 0
        self.vocab: dict[str, int] = {}
        self.tokens: list[str] = []             # token strings of the vocabulary (identifier tokens follow them)
        self.id_keys = np.zeros(0, np.int64)    # sorted hashes of identifier tokens; tid = len(tokens) + position
        self._id_strings: dict[int, str] = {}
        self.alias: dict[int, int] = {}         # concept token → a concept token with the same posting list
        self.offsets = np.zeros(1, np.int64)
        self.post_docs = np.zeros(0, np.int32)
        self.post_impact = np.zeros(0, np.float32)
        self.idf = np.zeros(0, np.float32)
        self.df = np.zeros(0, np.int32)
        self.synonyms = Synonyms()
        self.years = np.zeros(0, np.int16)
        self.pub_codes = np.zeros(0, np.int16)
        self.pub_types: list[str] = []
        self.histology_docs: dict[str, np.ndarray] = {}
        self._cache: dict = {}
        self._arrow: dict[str, pa.Array] = {}
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------------------------- build
    @classmethod
    def build(cls, documents: pd.DataFrame, synonyms: Iterable[tuple[str, str]] = (),
              chunk: int = 50_000) -> "SearchIndex":
        """Index ``documents`` (one row per source; columns as in ``load_documents``; only ``source_id`` and
        ``title`` are required) with the given synonym rows.

        Column by column, ``chunk`` documents at a time: one regex pass per column chunk, words mapped to cached
        entries (their token ids), expanded with numpy; postings aggregated by one sort of packed int64 keys
        (token, document, field). No Python object per document survives the build.
        """
        self = cls()
        self.documents = _contiguous(documents.reset_index(drop=True))
        self.n_docs = n = len(self.documents)
        self.synonyms = Synonyms(synonyms)
        builder = _Builder(self.synonyms, n)
        columns = [(f_i, name, self.documents[col]) for f_i, (name, cols, _) in enumerate(FIELDS) for col in cols
                   if col in self.documents.columns]
        for lo in range(0, n, chunk):
            builder.start_chunk(lo, min(chunk, n - lo))
            for f_i, name, series in columns:
                texts = _column_arrow(series.iloc[lo:lo + chunk])
                if name == "ids":
                    builder.add_ids(texts, lo, f_i)
                else:
                    builder.add_texts(texts, lo, f_i)
            builder.end_chunk()
        self.vocab = builder.vocab
        self.tokens = [""] * len(self.vocab)
        for token, tid in self.vocab.items():
            self.tokens[tid] = token
        lengths = builder.lengths
        self.df, self.offsets, self.post_docs, wtf, self.id_keys = builder.postings()
        del builder
        avg = float(lengths.mean()) if len(lengths) else 1.0
        norm = (K1 * (1 - B + B * lengths / max(avg, 1e-9))).astype(np.float32)
        wtf *= np.float32(K1 + 1) / (wtf + norm[self.post_docs])  # BM25 saturation, in place
        self.post_impact = wtf
        self._finish()
        self._filters()
        return self

    def _finish(self) -> None:
        """idf, aliases of identical concept posting lists, and the vocabulary views used to expand query words."""
        n = max(self.n_docs, 1)
        # Concepts with the same documents (a synonym group and a drug group naming the same drug) are scanned once.
        self.alias = {}
        seen: dict[tuple, int] = {}
        for token, tid in self.vocab.items():
            if token[0] == CONCEPT and self.df[tid] > 0:
                docs, impact = self.postings(tid)
                key = (len(docs), docs.tobytes().__hash__(), impact.tobytes().__hash__())
                if key in seen and np.array_equal(self.postings(seen[key])[0], docs):
                    self.alias[tid] = seen[key]
                else:
                    seen[key] = tid
        self.idf = np.log(1 + (n - self.df + 0.5) / (self.df + 0.5)).astype(np.float32)
        # Vocabulary views for expansion: sorted (prefix), reversed-sorted (suffix), buckets (fuzzy).
        df = self.df.tolist()
        order = sorted((t, i) for i, t in enumerate(self.tokens)
                       if df[i] > 0 and t[0] != CONCEPT and not (t.isdigit() and len(t) > 4))
        self._sorted = [t for t, _ in order]
        self._sorted_ids = np.array([i for _, i in order], np.int64)
        rev = sorted((t[::-1], i) for t, i in order if len(t) >= 6 and t.isalpha())
        self._rev = [t for t, _ in rev]
        self._rev_ids = np.array([i for _, i in rev], np.int64)
        # Fuzzy candidates share the length range and the first or the last letter with the query word.
        buckets: dict[tuple, tuple[list[str], list[int]]] = {}
        for t, i in order:
            if 3 <= len(t) <= 24 and (t.isalpha() or (not t.isdigit() and len(_DIGITS_RE.findall(t)) <= 4)):
                for key in ((len(t), "^", t[0]), (len(t), "$", t[-1])):
                    bucket = buckets.setdefault(key, ([], []))
                    bucket[0].append(t)
                    bucket[1].append(i)
        self._buckets = buckets
        del order, rev
        self._scores = np.zeros(self.n_docs, np.float32)
        self._hits = np.zeros(self.n_docs, np.float32)
        self._seg = np.zeros(self.n_docs, np.float32)
        self._cnt = np.zeros(self.n_docs, np.float32)
        self._unit = np.zeros(self.n_docs, np.float32)
        self._mark = np.zeros(self.n_docs, np.bool_)
        self._mark2 = np.zeros(self.n_docs, np.bool_)

    def _filters(self) -> None:
        docs = self.documents
        if "year" in docs.columns:
            self.years = pd.to_numeric(docs["year"], errors="coerce").fillna(0).astype(np.int16).to_numpy()
        else:
            self.years = np.zeros(self.n_docs, np.int16)
        if "pub_type" in docs.columns:
            codes, uniques = pd.factorize(docs["pub_type"].astype("string").fillna(""))
            self.pub_codes = codes.astype(np.int16)
            self.pub_types = [str(u) for u in uniques]
        else:
            self.pub_codes = np.zeros(self.n_docs, np.int16)
            self.pub_types = [""]
        self.histology_docs = {}
        if "histologies" in docs.columns:
            members: dict[str, list[int]] = {}
            for i, value in enumerate(docs["histologies"].tolist()):
                for hist in _text(value).split(";"):
                    if hist:
                        members.setdefault(hist, []).append(i)
            self.histology_docs = {h: np.array(v, np.int32) for h, v in members.items()}

    # -------------------------------------------------------------------------------------------- postings
    def postings(self, tid: int) -> tuple[np.ndarray, np.ndarray]:
        start, end = self.offsets[tid], self.offsets[tid + 1]
        return self.post_docs[start:end], self.post_impact[start:end]

    def token_id(self, token: str) -> int | None:
        """The token's id: vocabulary words from the dict, identifiers (``is_identifier``) from the hash table."""
        tid = self.vocab.get(token)
        if tid is None and is_identifier(token) and len(self.id_keys):
            h = _id_hash(token)
            pos = int(np.searchsorted(self.id_keys, h))
            if pos < len(self.id_keys) and self.id_keys[pos] == h:
                tid = len(self.tokens) + pos
                self._id_strings[tid] = token
        return tid

    def token(self, tid: int) -> str:
        """The string of a token id (identifiers: as last looked up)."""
        return self.tokens[tid] if tid < len(self.tokens) else self._id_strings.get(tid, "")
