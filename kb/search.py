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

>>> index = SearchIndex.build(pd.DataFrame({"source_id": ["a", "b"], "title": ["Radiosurgery for brain metastases",
...     "Whole-brain radiotherapy alone"], "first_author": ["Pérez-García JM", "Brown PD"], "year": [2020, 2016]}))
>>> [h.source_id for h in index.search("perez garcia")]
['a']
>>> [h.source_id for h in index.search("brwon 2016")]
['b']
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import sys
import threading
import unicodedata
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import process
from rapidfuzz.distance import OSA

from kb.config import DATA_DIR
from kb.display import inert_markdown
from kb.links import doi_url, nct_url as trial_url, pubmed_url  # noqa: F401 (one rule for links: kb.links)

# ------------------------------------------------------------------------------------------------ analysis
# A word: a "3 × 9"-style dose product, or letters/digits joined by hyphens, slashes, dots or apostrophes.
WORD_RE = re.compile(r"\d+\s*[x×]\s*\d+(?![^\W_])|[^\W_]+(?:['’‐‑–\-/.][^\W_]+)*")
_SPLIT_RE = re.compile(r"[\W_]+")
_DOSE_RE = re.compile(r"(\d+)\s*[x×]\s*(\d+)")
_DIGITS_RE = re.compile(r"\d")

_SPECIAL = str.maketrans({
    "ß": "ss", "æ": "ae", "Æ": "ae", "ø": "o", "Ø": "o", "œ": "oe", "Œ": "oe", "ł": "l", "Ł": "l", "đ": "d",
    "Đ": "d", "ð": "d", "þ": "th", "ı": "i", "×": "x", "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta",
    "κ": "kappa", "μ": "mu",
})

STOPWORDS = frozenset(
    "a an and are as at be by et al for from in into is it its of on or than that the their these this those to "
    "vs versus via was we were with".split())

# British → American spellings that no regular rule covers (the rules are in ``_variant``).
_WORD_VARIANTS = {
    "centre": "center", "centres": "centers", "litre": "liter", "metre": "meter", "fibre": "fiber",
    "programme": "program", "programmes": "programs", "grey": "gray", "ageing": "aging", "labelled": "labeled",
    "labelling": "labeling", "modelling": "modeling", "modelled": "modeled", "signalling": "signaling",
    "travelled": "traveled", "cancelled": "canceled", "counselling": "counseling", "fulfil": "fulfill",
    "judgement": "judgment", "practise": "practice", "haemorrhage": "hemorrhage",
}
_OUR_RE = re.compile(r"(?<=[a-z]{2})our(able|ably|ite|ites|s|ed|al|ing)?$")
_ISE_RE = re.compile(r"(?<=[a-z]{3})is(e|ed|es|ing|ation|ations|er|ers)$")
_YSE_RE = re.compile(r"(?<=[a-z]{3})ys(e|ed|es|ing)$")
_VOWEL_RE = re.compile(r"[aeiouy]")
_OUR_ENDINGS = tuple("our" + e for e in ("able", "ably", "ite", "ites", "s", "ed", "al", "ing", ""))
_ISE_ENDINGS = tuple(p + e for p in ("is", "ys") for e in ("e", "ed", "es", "ing", "ation", "ations", "er", "ers")
                     if p == "is" or e in ("e", "ed", "es", "ing"))


def _variant(token: str) -> str:
    """Fold spelling variants and plurals so both sides of the search meet (applied to documents and queries).

    >>> [_variant(t) for t in ("tumours", "oedema", "randomised", "haematology", "analyses", "trials", "srs")]
    ['tumor', 'edema', 'randomized', 'hematology', 'analyze', 'trial', 'srs']
    """
    if len(token) < 4 or not token.isalpha():
        return token
    token = _WORD_VARIANTS.get(token, token)
    if "oe" in token:
        if token.startswith("oe"):
            token = token[1:]
        token = token.replace("rrhoea", "rrhea").replace("foet", "fet").replace("coeli", "celi")
    if "ae" in token[1:]:
        token = token[0] + token[1:].replace("ae", "e")
    if len(token) >= 5 and token.endswith(_OUR_ENDINGS):
        token = _OUR_RE.sub(r"or\1", token)
    if len(token) >= 6 and token.endswith(_ISE_ENDINGS):
        token = _ISE_RE.sub(r"iz\1", token)
        token = _YSE_RE.sub(r"yz\1", token)
    # Harman's "S" stemmer, only for words with a vowel before the ending (acronyms like HFSRS keep their s).
    if len(token) >= 5 and token[-1] == "s" and _VOWEL_RE.search(token, 0, len(token) - 2):
        if token.endswith("ies") and not token.endswith(("eies", "aies")):
            token = token[:-3] + "y"
        elif token.endswith("es") and not token.endswith(("aes", "ees", "oes")):
            token = token[:-1]
        elif not token.endswith(("us", "ss", "is")):
            token = token[:-1]
    return token


def fold(text: str) -> str:
    """Lower case without accents or special letters.

    >>> fold("Pérez-García, Belohlávek, Jänne, IFN-γ, Øystein")
    'perez-garcia, belohlavek, janne, ifn-gamma, oystein'
    """
    text = unicodedata.normalize("NFKD", text.translate(_SPECIAL))
    return "".join(ch for ch in text if not unicodedata.combining(ch)).lower()


@dataclass(frozen=True)
class Word:
    """One analysed word: its folded parts (in order) and, for hyphenated words, the joined compound."""

    parts: tuple[str, ...]
    compound: str | None


@functools.lru_cache(maxsize=200_000)
def analyze_word(raw: str) -> Word:
    """Fold one word (as matched by ``WORD_RE``) into parts and a compound.

    >>> analyze_word("Pérez-García")
    Word(parts=('perez', 'garcia'), compound='perezgarcia')
    >>> analyze_word("3 × 9")
    Word(parts=('3x9',), compound=None)
    >>> analyze_word("1–4")
    Word(parts=('1', '4'), compound=None)
    """
    text = raw.lower() if raw.isascii() else fold(raw)
    if "x" in text and _DOSE_RE.search(text):
        text = _DOSE_RE.sub(r"\1x\2", text)
    parts = (_variant(text),) if text.isalnum() else tuple(_variant(p) for p in _SPLIT_RE.split(text) if p)
    compound = None
    if len(parts) > 1 and not all(p.isdigit() for p in parts):
        compound = _variant("".join(parts))
    return Word(parts, compound)


def indexable(token: str) -> bool:
    """Tokens worth a posting list: not a stopword, and two characters or more unless a digit."""
    return (len(token) >= 2 or token.isdigit()) and token not in STOPWORDS


def words(text: str) -> list[tuple[int, int, Word]]:
    """Every word of ``text`` with its character span (for highlighting)."""
    return [(m.start(), m.end(), analyze_word(m.group())) for m in WORD_RE.finditer(text)]


# ------------------------------------------------------------------------------------------------ synonyms
SYNONYMS_PATH = DATA_DIR / "synonyms.csv"
CONCEPT = "#"  # concept tokens start with a character no word can contain


def read_synonyms(path: Path = SYNONYMS_PATH) -> list[tuple[str, str]]:
    """(group_id, term) rows of data/synonyms.csv."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    return list(zip(frame["group_id"], frame["term"]))


def drug_synonyms(drugs: pd.DataFrame) -> list[tuple[str, str]]:
    """Each drug's name and ';'-separated abbreviations as one synonym group ``drug:<drug_id>``."""
    rows = []
    for drug_id, name, abbreviations in zip(drugs["drug_id"], drugs["name"], drugs["abbreviations"]):
        group = "drug:" + str(drug_id)
        rows.append((group, str(name)))
        for term in str(abbreviations or "").split(";"):
            if term.strip() and term.strip().lower() not in ("nan", "none"):
                rows.append((group, term.strip()))
    return rows


class Synonyms:
    """Phrase matcher for synonym groups: leftmost-longest, non-overlapping, over folded part sequences.

    >>> syn = Synonyms([("tdm1", "T-DM1"), ("tdm1", "trastuzumab emtansine")])
    >>> syn.find(["trastuzumab", "emtansine", "and", "srs"])
    [(0, 2, ('#tdm1',))]
    >>> syn.compound("tdm1")
    ('#tdm1',)
    """

    def __init__(self, rows: Iterable[tuple[str, str]] = ()):
        self.trie: dict = {}
        self.single: dict[str, tuple[str, ...]] = {}   # a compound ("tdm1") → concepts
        self.groups: dict[str, list[str]] = {}
        for group, term in rows:
            group, term = str(group).strip(), str(term).strip()
            if not group or not term:
                continue
            concept = CONCEPT + group
            self.groups.setdefault(concept, []).append(term)
            found = words(term)
            parts = [p for _, _, word in found for p in word.parts]
            if not parts:
                continue
            self._add(tuple(parts), concept)
            if len(found) == 1:  # one word: its compound ("T-DM1" → tdm1) or its only part stands for the concept
                word = found[0][2]
                key = word.compound or (word.parts[0] if len(word.parts) == 1 else None)
                if key:
                    self.single[key] = tuple(sorted(set(self.single.get(key, ())) | {concept}))

    def _add(self, parts: tuple[str, ...], concept: str) -> None:
        node = self.trie
        for part in parts:
            node = node.setdefault(part, {})
        node[None] = tuple(sorted(set(node.get(None, ())) | {concept}))

    def __bool__(self) -> bool:
        return bool(self.trie)

    def find(self, parts: Sequence[str]) -> list[tuple[int, int, tuple[str, ...]]]:
        """(start, end, concepts) for each leftmost-longest phrase in ``parts``."""
        found = []
        i, n = 0, len(parts)
        trie = self.trie
        while i < n:
            node = trie.get(parts[i])
            best = None
            j = i
            while node is not None:
                j += 1
                if None in node:
                    best = (j, node[None])
                node = node.get(parts[j]) if j < n else None
            if best:
                found.append((i, best[0], best[1]))
                i = best[0]
            else:
                i += 1
        return found

    def compound(self, token: str) -> tuple[str, ...]:
        return self.single.get(token, ())


# ------------------------------------------------------------------------------------------------ documents
# (field, document columns, boost). BM25F: a token's weighted frequency is the sum of its fields' boosts.
FIELDS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("first_author", ("first_author",), 2.5),
    ("authors", ("authors",), 1.5),
    ("title", ("title",), 1.0),
    ("journal", ("journal",), 0.6),
    ("year", ("year",), 1.5),
    ("ids", ("source_id", "doi", "pmid", "nct_ids"), 2.0),
    ("studies", ("study_text",), 2.0),
    ("drugs", ("drug_text",), 1.0),
)
K1, B = 1.2, 0.6
PHRASE_BONUS = 0.3          # re-rank: up to +30% when matched query words stand side by side in the title
COORDINATION = 2.0          # score × (share of query words matched) ** COORDINATION
RERANK = 40                 # candidates re-ranked
COMMON_SHARE = 0.02         # a query word matching more than 2% of the documents is "common" ...
COMMON_MIN = 2_000          # ... and more than this many


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class Hit:
    """One ranked result: the document's row, its score and (``terms``) the query terms it matched, computed on
    first use (for highlighting)."""

    doc: int
    source_id: str
    score: float
    record: dict[str, Any]
    query_terms: frozenset[str] = field(default_factory=frozenset, repr=False)
    index: "SearchIndex | None" = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def terms(self) -> frozenset[str]:
        if self.index is None:
            return self.query_terms
        return self.query_terms & frozenset(self.index.doc_tokens(self.record))

    def to_json(self) -> dict[str, Any]:
        keys = ("source_id", "first_author", "year", "title", "journal", "doi", "pmid", "pub_type", "study_names")
        out = {k: _json_value(self.record.get(k)) for k in keys}
        out["score"] = round(float(self.score), 4)
        out["citation"] = format_citation(self.record)
        return out


def _json_value(value: Any) -> Any:
    text = _text(value)
    if not text:
        return None
    return int(text) if text.isdigit() and len(text) == 4 else text


@dataclass
class _Unit:
    """A query word (or a span of words) and its vocabulary alternatives: token ids and match quality."""

    alts: list[tuple[int, float]]
    weight: float            # idf of what the user typed
    size: int = 1            # query words a span stands for


class _Grow:
    """A growable int64 array (amortised doubling)."""

    def __init__(self, values: Sequence[int] = ()):
        self.a = np.zeros(max(1024, len(values)), np.int64)
        self.n = 0
        self.extend(values)

    def extend(self, values: Sequence[int]) -> None:
        k = len(values)
        if self.n + k > len(self.a):
            bigger = np.zeros(max(2 * len(self.a), self.n + k), np.int64)
            bigger[:self.n] = self.a[:self.n]
            self.a = bigger
        self.a[self.n:self.n + k] = values
        self.n += k

    def view(self) -> np.ndarray:
        return self.a[:self.n]


def _expand(codes: np.ndarray, start: np.ndarray, length: np.ndarray, flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the CSR rows ``codes`` of (start, length, flat): (values, row index of each value)."""
    lens = length[codes]
    total = int(lens.sum())
    ends = np.cumsum(lens)
    offsets = np.repeat(start[codes] - (ends - lens), lens) + np.arange(total)
    return flat[offsets], np.repeat(np.arange(len(codes)), lens)


_PAIR = 1 << 31
_NO_DIGITS = str.maketrans("", "", "0123456789")


def is_identifier(token: str) -> bool:
    """Tokens with five digits or more (PMIDs, DOI serials, NCT numbers, record ids): exact match only, kept in
    a numpy hash table instead of the vocabulary dict (at 10^6 references they are most of the distinct tokens).

    >>> [is_identifier(t) for t in ("32058845", "nct02360215", "2016", "n0574", "ref081")]
    [True, True, False, False, False]
    """
    return len(token) >= 5 and len(token) - len(token.translate(_NO_DIGITS)) >= 5


def _id_hash(token: str) -> int:
    # Python's string hash: stable within a process, which is all an in-memory index needs.
    return hash(token)
_BOOSTS = np.array([b for _, _, b in FIELDS] + [0.0] * (8 - len(FIELDS)), np.float32)


def _contiguous(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed columns in one chunk each (``take`` on a many-chunk column, e.g. from parquet, is slow)."""
    for column in frame.columns:
        array = frame[column].array
        data = getattr(array, "_pa_array", None)
        if data is not None and getattr(data, "num_chunks", 1) > 1:
            frame[column] = pd.Series(pd.array(data.combine_chunks(), dtype=array.dtype), index=frame.index)
    return frame


_SEPARATORS = r"[^\p{L}\p{N}'’‐‑–/.\-]+"   # RE2: what separates the words WORD_RE finds
_CONNECTORS = "'’‐‑–/.-"
_STOP_ARRAY = pa.array(sorted(STOPWORDS))


def _column_arrow(values: pd.Series) -> pa.Array:
    """A column chunk as an Arrow string array ('' for missing; whole numbers without '.0')."""
    if pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        if (numbers.dropna() % 1 == 0).all():
            numbers = numbers.astype("Int64")
        values = numbers.astype("string")
    elif not (pd.api.types.is_string_dtype(values.dtype) and values.dtype != object):
        values = pd.Series([_text(v) for v in values.tolist()], dtype="string")
    array = pa.array(values, type=pa.string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return pc.fill_null(array, "")


class _Builder:
    """Accumulates postings for ``SearchIndex.build``: word → entry (token ids, part ids) caches and packed keys."""

    SEP = "\x1f"

    def __init__(self, synonyms: Synonyms, n_docs: int):
        self.syn = synonyms
        self.n = max(n_docs, 1)
        self.vocab: dict[str, int] = {}
        self.codes: dict[str, int] = {self.SEP: 0}        # raw word → entry code; 0 = document separator
        # Entry tables (CSR): indexed token ids, part ids (for phrases; -1 breaks phrases), kind (1: one
        # alphabetic part, 2: one numeric part) and first part (for "RTOG 0614" → "rtog0614").
        self.t_start, self.t_len, self.t_flat = _Grow([0]), _Grow([0]), _Grow()
        self.p_start, self.p_len, self.p_flat = _Grow([0]), _Grow([1]), _Grow([-1])
        self.kind = _Grow([0])
        self.first: list[str] = [""]
        self._pending: tuple[list[int], ...] = ([], [], [], [], [])
        self.lengths = np.zeros(n_docs, np.float32)
        self._keys: list[np.ndarray] = []                  # packed keys of the current chunk
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # aggregated (token, doc, wtf)
        self._df = np.zeros(0, np.int64)
        self._ids: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []   # (hash, doc, field) of identifiers
        self.lo, self.size = 0, 1
        self._regex = re.compile(re.escape(self.SEP) + "|" + WORD_RE.pattern)
        # Synonym trie over part ids, multi-word phrases only (one-word terms come with the word's entry), and
        # the phrases' first two parts as packed keys: the trie is walked only where such a pair occurs.
        self.trie: dict = {}
        self._build_trie(synonyms.trie, self.trie, 0)
        self.trie_pairs = np.array(sorted(a * _PAIR + b for a, child in self.trie.items() if a is not None
                                          for b in child if b is not None), np.int64)
        self.trie_first = np.array(sorted(a for a in self.trie if a is not None), np.int64)

    def _build_trie(self, source: dict, target: dict, depth: int) -> None:
        for key, child in source.items():
            if key is None:
                if depth >= 2:
                    target[None] = tuple(self.tid(c) for c in child)
            else:
                self._build_trie(child, target.setdefault(self.tid(key), {}), depth + 1)

    def tid(self, token: str) -> int:
        tid = self.vocab.get(token)
        if tid is None:
            tid = self.vocab[token] = len(self.vocab)
        return tid

    def _entry(self, raw: str) -> int:
        word = analyze_word.__wrapped__(raw)
        own = [t for t in word.parts if indexable(t)]
        if word.compound:
            own.append(word.compound)
            own.extend(self.syn.compound(word.compound))
        kind = 0
        if len(word.parts) == 1:
            own.extend(self.syn.compound(word.parts[0]))
            kind = 1 if word.parts[0].isalpha() else 2 if word.parts[0].isdigit() else 0
        code = len(self.first)
        tids = [self.tid(t) for t in own]
        parts = [self.tid(p) for p in word.parts] or [-1]
        pending = self._pending
        pending[0].append(len(tids))
        pending[1].extend(tids)
        pending[2].append(len(parts))
        pending[3].extend(parts)
        pending[4].append(kind)
        self.first.append(word.parts[0] if word.parts else "")
        self.codes[raw] = code
        return code

    def _flush(self) -> None:
        """Move entries created since the last flush into the numpy entry tables."""
        t_len, t_flat, p_len, p_flat, kind = self._pending
        if not t_len:
            return
        t_len_np = np.array(t_len, np.int64)
        self.t_start.extend(self.t_flat.n + np.cumsum(t_len_np) - t_len_np)
        self.t_len.extend(t_len_np)
        self.t_flat.extend(np.array(t_flat, np.int64))
        p_len_np = np.array(p_len, np.int64)
        self.p_start.extend(self.p_flat.n + np.cumsum(p_len_np) - p_len_np)
        self.p_len.extend(p_len_np)
        self.p_flat.extend(np.array(p_flat, np.int64))
        self.kind.extend(np.array(kind, np.int64))
        self._pending = ([], [], [], [], [])

    def start_chunk(self, lo: int, size: int) -> None:
        self.lo, self.size = lo, max(size, 1)

    def _emit(self, docs: np.ndarray, tids: np.ndarray, field_id: int) -> None:
        if len(docs):
            self._keys.append((tids.astype(np.int64) * self.size + (docs - self.lo)) * 8 + field_id)

    def end_chunk(self) -> None:
        """Aggregate the chunk's keys into (token, doc, weighted tf), sorted by token then doc."""
        if not self._keys:
            return
        keys = np.concatenate(self._keys)
        self._keys = []
        keys.sort()
        field_ids = (keys & 7).astype(np.intp)
        keys >>= 3                                           # token · size + local doc
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
        wtf = np.add.reduceat(_BOOSTS[field_ids], starts).astype(np.float32)
        keys = keys[starts]
        tids = keys // self.size
        docs = (keys - tids * self.size + self.lo).astype(np.int32)
        tids = tids.astype(np.int32)
        counts = np.bincount(tids)
        if len(counts) > len(self._df):
            self._df = np.concatenate([self._df, np.zeros(len(counts) - len(self._df), np.int64)])
        self._df[:len(counts)] += counts
        self._chunks.append((tids, docs, wtf))

    def postings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(df, offsets, doc ids, weighted tf, identifier hashes): CSR posting lists, doc ids ascending in each
        list. Chunks are in document order, so placing them one after the other (a counting sort on the token)
        keeps docs sorted. Identifier tokens follow the vocabulary's tokens, in the order of their sorted hashes."""
        if self._ids:
            hashes, id_docs, id_fields = (np.concatenate(x) for x in zip(*self._ids))
        else:
            hashes, id_docs, id_fields = np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int8)
        self._ids = []
        order = np.lexsort((id_docs, hashes))
        hashes, id_docs, id_fields = hashes[order], id_docs[order], id_fields[order]
        del order
        pair = np.flatnonzero(np.r_[True, (hashes[1:] != hashes[:-1]) | (id_docs[1:] != id_docs[:-1])]) \
            if len(hashes) else np.zeros(0, np.int64)
        id_wtf = np.add.reduceat(_BOOSTS[id_fields], pair).astype(np.float32) if len(pair) else np.zeros(0, np.float32)
        hashes, id_docs = hashes[pair], id_docs[pair]
        group = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]]) if len(hashes) else np.zeros(0, np.int64)
        id_keys = hashes[group]
        id_df = np.diff(np.r_[group, len(hashes)]).astype(np.int64)
        n_words = len(self.vocab)
        df = np.zeros(n_words + len(id_keys), np.int64)
        df[:len(self._df)] = self._df
        df[n_words:] = id_df
        words_total = int(df[:n_words].sum())
        offsets = np.zeros(len(df) + 1, np.int64)
        np.cumsum(df, out=offsets[1:])
        post_docs = np.zeros(int(offsets[-1]), np.int32)
        post_wtf = np.zeros(int(offsets[-1]), np.float32)
        post_docs[words_total:] = id_docs
        post_wtf[words_total:] = id_wtf
        del id_docs, id_wtf
        fill = offsets[:-1].copy()
        while self._chunks:
            tids, docs, wtf = self._chunks.pop(0)
            group = np.flatnonzero(np.r_[True, tids[1:] != tids[:-1]])
            sizes = np.diff(np.r_[group, len(tids)])
            rank = np.arange(len(tids)) - np.repeat(group, sizes)
            pos = fill[tids] + rank
            post_docs[pos] = docs
            post_wtf[pos] = wtf
            fill[tids[group]] += sizes
        return df.astype(np.int32), offsets, post_docs, post_wtf, id_keys

    def _words(self, texts: pa.Array, base: int) -> tuple[np.ndarray, np.ndarray]:
        """(entry code, document) of every word of a text column chunk, in order. Tokenising runs in Arrow
        (RE2 split on separators, connectors trimmed: the same words as ``WORD_RE``); Python analyses only the
        chunk's distinct words that are new."""
        if pc.any(pc.match_substring_regex(texts, r"\d\s*[x×]\s*\d")).as_py():
            texts = pc.replace_substring_regex(texts, _DOSE_RE.pattern, r"\1x\2")
        lists = pc.split_pattern_regex(texts, _SEPARATORS)
        per_doc = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        flat = pc.utf8_trim(pc.list_flatten(lists), _CONNECTORS)
        docs = base + np.repeat(np.arange(len(per_doc)), per_doc)
        keep = pc.not_equal(flat, "")
        flat = flat.filter(keep)
        docs = docs[keep.to_numpy(zero_copy_only=False)]
        encoded = pc.dictionary_encode(flat)
        get = self.codes.get
        unique_codes = np.array([get(w) or self._entry(w) for w in encoded.dictionary.to_pylist()], np.int64)
        self._flush()
        return unique_codes[encoded.indices.to_numpy(zero_copy_only=False)], docs

    def add_texts(self, texts: pa.Array, base: int, field_id: int) -> None:
        """Index one chunk of one text column (documents ``base`` … ``base + len(texts) - 1``)."""
        codes_np, doc_of_word = self._words(texts, base)
        if not len(codes_np):
            return
        # Token postings.
        tok_ids, word_of_tok = _expand(codes_np, self.t_start.view(), self.t_len.view(), self.t_flat.view())
        tok_docs = doc_of_word[word_of_tok]
        self._emit(tok_docs, tok_ids, field_id)
        self.lengths[self.lo:self.lo + len(texts)] += np.bincount(tok_docs - self.lo, minlength=len(texts))
        # "RTOG 0614" → "rtog0614": an alphabetic word followed by a number in the same document.
        kind = self.kind.view()[codes_np]
        pairs = np.flatnonzero((kind[:-1] == 1) & (kind[1:] == 2) & (doc_of_word[:-1] == doc_of_word[1:]))
        if len(pairs):
            firsts = codes_np[pairs].tolist()
            seconds = codes_np[pairs + 1].tolist()
            joined_ids = np.array([self.tid(self.first[a] + self.first[b]) for a, b in zip(firsts, seconds)],
                                  np.int64)
            self._emit(doc_of_word[pairs], joined_ids, field_id)
        # Synonym phrases: walk the trie only where a phrase's first two parts occur.
        if len(self.trie_pairs):
            seq_np, word_of_part = _expand(codes_np, self.p_start.view(), self.p_len.view(), self.p_flat.view())
            seq_doc = doc_of_word[word_of_part]
            starts_phrase = np.zeros(len(self.vocab) + 1, np.bool_)
            starts_phrase[self.trie_first] = True
            maybe = np.flatnonzero(starts_phrase[seq_np[:-1]] & (seq_doc[:-1] == seq_doc[1:]))
            pair_keys = seq_np[maybe] * _PAIR + seq_np[maybe + 1]
            candidates = maybe[np.isin(pair_keys, self.trie_pairs)]
            if len(candidates):
                hit_pos, hit_tids = [], []
                end_at = -1
                trie = self.trie
                seq, sdoc = seq_np.tolist(), seq_doc.tolist()
                n_seq = len(seq)
                for i in candidates.tolist():
                    if i < end_at:
                        continue
                    doc = sdoc[i]
                    node = trie.get(seq[i])
                    best = None
                    j = i
                    while node is not None:
                        j += 1
                        if None in node:
                            best = (j, node[None])
                        node = node.get(seq[j]) if j < n_seq and sdoc[j] == doc else None
                    if best:
                        end_at = best[0]
                        for concept in best[1]:
                            hit_pos.append(i)
                            hit_tids.append(concept)
                if hit_pos:
                    self._emit(seq_doc[np.array(hit_pos, np.int64)], np.array(hit_tids, np.int64), field_id)

    def add_ids(self, texts: pa.Array, base: int, field_id: int) -> None:
        """Identifiers (source id, DOI, PMID, NCT): lower-cased alphanumeric parts, no compounds. Parts with five
        digits or more go to the identifier hash table (``is_identifier``)."""
        lists = pc.split_pattern_regex(pc.utf8_lower(texts), r"[^\p{L}\p{N}]+")
        per_doc = pc.list_value_length(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        flat = pc.list_flatten(lists)
        docs = base + np.repeat(np.arange(len(per_doc)), per_doc)
        length = pc.utf8_length(flat)
        keep = pc.and_(pc.or_(pc.greater_equal(length, 2), pc.and_(pc.equal(length, 1), pc.utf8_is_digit(flat))),
                       pc.invert(pc.is_in(flat, value_set=_STOP_ARRAY)))
        digits = pc.subtract(length, pc.utf8_length(pc.replace_substring_regex(flat, r"\d", "")))
        is_id = pc.and_(keep, pc.greater_equal(digits, 5)).to_numpy(zero_copy_only=False)
        is_word = pc.and_(keep, pc.less(digits, 5)).to_numpy(zero_copy_only=False)
        words = flat.filter(pa.array(is_word))
        if len(words):
            encoded = pc.dictionary_encode(words)
            unique_tids = np.array([self.tid(_variant(w)) for w in encoded.dictionary.to_pylist()], np.int64)
            word_docs = docs[is_word]
            self._emit(word_docs, unique_tids[encoded.indices.to_numpy(zero_copy_only=False)], field_id)
            self.lengths[self.lo:self.lo + len(texts)] += np.bincount(word_docs - self.lo, minlength=len(texts))
        if is_id.any():
            id_docs = docs[is_id].astype(np.int32)
            hashes = np.array([_id_hash(t) for t in flat.filter(pa.array(is_id)).to_pylist()], np.int64)
            self._ids.append((hashes, id_docs, np.full(len(id_docs), field_id, np.int8)))
            self.lengths[self.lo:self.lo + len(texts)] += np.bincount(id_docs - self.lo, minlength=len(texts))


# ------------------------------------------------------------------------------------------------ the index
class SearchIndex:
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

    # -------------------------------------------------------------------------------------------- expansion
    def expand(self, token: str, typing: bool = False) -> tuple[tuple[int, float], ...]:
        """Vocabulary tokens a query token may stand for, with a match quality in (0, 1].

        Exact match 1.0; prefix (as you type, or when the word is unknown) 0.9/0.75; suffix inside compound words
        (``necrosis`` → ``radionecrosis``) 0.55; edit distance (rapidfuzz OSA, only when the word is not in the
        index) 1 − 1.2·d/len. Cached per token.
        """
        key = (token, typing)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        out: dict[int, float] = {}
        exact = self.token_id(token)
        if exact is not None and self.df[exact] > 0:
            out[exact] = 1.0
        known = exact is not None and self.df[exact] > 0
        alpha = not token.isdigit()
        if (typing and len(token) >= 2 and (alpha or not known)) or (not known and len(token) >= 3):
            quality = 0.9 if typing else 0.75
            lo = bisect_left(self._sorted, token)
            hi = bisect_left(self._sorted, token + "\uffff")
            if hi - lo > 0:
                ids = self._sorted_ids[lo:hi]
                if hi - lo > 40:  # the most frequent completions
                    ids = ids[np.argsort(-self.df[ids], kind="stable")[:40]]
                for tid in ids.tolist():
                    if tid != exact and self.df[tid] > 0:
                        out.setdefault(tid, quality * (0.85 + 0.15 * len(token) / len(self.tokens[tid])))
        if alpha and len(token) >= 6 and token.isalpha():
            rev = token[::-1]
            lo = bisect_left(self._rev, rev)
            hi = bisect_left(self._rev, rev + "\uffff")
            ids = self._rev_ids[lo:hi]
            if len(ids) > 20:
                ids = ids[np.argsort(-self.df[ids], kind="stable")[:20]]
            for tid in ids.tolist():
                if tid != exact and len(self.tokens[tid]) >= len(token) + 3 and self.df[tid] > 0:
                    out.setdefault(tid, 0.55)
        completes = typing and len(out) > 0
        if alpha and len(token) >= 4 and not completes and not known:
            max_d = 1 if len(token) <= 5 else 2 if len(token) <= 11 else 3
            for length in range(len(token) - max_d, len(token) + max_d + 1):
                for key in ((length, "^", token[0]), (length, "$", token[-1])):
                    bucket = self._buckets.get(key)
                    if not bucket:
                        continue
                    for _, d, j in process.extract(token, bucket[0], scorer=OSA.distance, score_cutoff=max_d,
                                                   limit=12):
                        tid = bucket[1][j]
                        if tid != exact and d > 0 and self.df[tid] > 0:
                            q = max(0.3, 1 - 1.2 * d / len(token))
                            if q > out.get(tid, 0):
                                out[tid] = q
        result = tuple(sorted(out.items(), key=lambda kv: -kv[1]))
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = result
        return result

    # -------------------------------------------------------------------------------------------- query
    def parse(self, query: str) -> tuple[list[_Unit], list[tuple[int, int, _Unit | None]], set[str]]:
        """Query → (word units, spans over them, all candidate token strings)."""
        typing_last = bool(query) and not query[-1].isspace()
        found = list(WORD_RE.finditer(query[:500]))
        seq: list[str] = []               # every part, for phrase detection
        seq_unit: list[int | None] = []   # the unit each part became (None: stopword or single letter)
        seq_cands: list[dict[int, float]] = []
        units: list[_Unit] = []
        compounds: list[tuple[int, int, str]] = []
        for w_i, match in enumerate(found):
            word = analyze_word(match.group())
            typing = typing_last and w_i == len(found) - 1
            start = len(seq)
            for p_i, part in enumerate(word.parts):
                seq.append(part)
                if indexable(part):
                    alts = list(self.expand(part, typing and p_i == len(word.parts) - 1))
                    exact = self.token_id(part)
                    for concept in self.synonyms.compound(part):
                        tid = self.vocab.get(concept)
                        if tid is not None:
                            alts.append((tid, 0.95))
                    seq_cands.append(dict(alts))
                    if exact is not None and self.df[exact] > 0:
                        weight = float(self.idf[exact])
                    elif alts:
                        best = max(alts, key=lambda a: (a[1], self.df[a[0]]))
                        weight = float(self.idf[best[0]])
                    else:
                        weight = 0.0
                    seq_unit.append(len(units))
                    units.append(_Unit(alts, weight))
                else:
                    exact = self.token_id(part)
                    seq_cands.append({exact: 1.0} if exact is not None else {})
                    seq_unit.append(None)
            if word.compound:
                compounds.append((start, len(seq), word.compound))
        spans: list[tuple[int, int, _Unit | None]] = []

        def add_span(a: int, b: int, alts: list[tuple[int, float]], weight: float) -> None:
            covered = sorted({u for u in seq_unit[a:b] if u is not None})
            if not covered or not alts:
                return
            if len(covered) == 1:
                units[covered[0]].alts.extend(alts)
                return
            lo, hi = covered[0], covered[-1] + 1
            for s_lo, s_hi, unit in spans:
                if s_lo == lo and s_hi == hi and unit is not None:
                    unit.alts.extend(alts)
                    unit.weight = max(unit.weight, weight)
                    return
            spans.append((lo, hi, _Unit(list(alts), weight, size=len(covered))))

        for a, b, compound in compounds:
            alts = []
            tid = self.token_id(compound)
            if tid is not None and self.df[tid] > 0:
                alts.append((tid, 1.0))
            for concept in self.synonyms.compound(compound):
                ctid = self.vocab.get(concept)
                if ctid is not None and self.df[ctid] > 0:
                    alts.append((ctid, 0.95))
            if alts:
                add_span(a, b, alts, max(float(self.idf[t]) for t, _ in alts))
        for a, b, concepts, quality in self._phrases(seq, seq_cands):
            alts = [(self.vocab[c], 0.95 * quality) for c in concepts if c in self.vocab and self.df[self.vocab[c]]]
            if alts:
                add_span(a, b, alts, max(float(self.idf[t]) for t, _ in alts))
        # Spans may not overlap: keep the longest.
        spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
        kept: list[tuple[int, int, _Unit | None]] = []
        for span in spans:
            if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
                kept.append(span)
        kept.sort()
        terms = {self.token(t) for u in units for t, _ in u.alts}
        terms |= {self.token(t) for _, _, u in kept if u for t, _ in u.alts}
        return units, kept, terms

    def _phrases(self, seq: list[str], cands: list[dict[int, float]]) -> list[tuple[int, int, tuple[str, ...], float]]:
        """Synonym phrases in the query, allowing each word to be any of its candidate tokens (typos, prefixes)."""
        trie = self.synonyms.trie
        if not trie:
            return []
        found = []
        i = 0
        while i < len(seq):
            best = None
            frontier = [(trie, 1.0)]
            j = i
            while frontier and j < len(seq):
                options = {seq[j]: 1.0}
                for tid, q in cands[j].items():
                    token = self.token(tid)
                    if token[0] != CONCEPT and q > options.get(token, 0):
                        options[token] = q
                nxt = []
                for node, q in frontier:
                    for token, tq in options.items():
                        child = node.get(token)
                        if child is not None:
                            nxt.append((child, min(q, tq)))
                j += 1
                frontier = nxt[:64]
                for node, q in frontier:
                    if None in node and (best is None or j > best[0] or (j == best[0] and q > best[2])):
                        best = (j, node[None], q)
            if best:
                found.append((i, best[0], best[1], best[2]))
                i = best[0]
            else:
                i += 1
        return found

    def _unit_postings(self, unit: _Unit) -> tuple[np.ndarray, np.ndarray]:
        """(doc ids, scores) of one unit: the best alternative per document, weighted by the unit's idf."""
        alts = [(self.alias.get(t, t), q) for t, q in unit.alts if self.df[t] > 0]
        if not alts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        if len(alts) == 1:
            tid, q = alts[0]
            docs, impact = self.postings(tid)
            return docs, impact * np.float32(q * unit.weight)
        buf, mark = self._unit, self._mark
        total = 0
        parts = []
        best: dict[int, float] = {}
        for tid, q in alts:
            best[tid] = max(q, best.get(tid, 0.0))
        for tid, q in sorted(best.items(), key=lambda a: -a[1]):
            docs, impact = self.postings(tid)
            values = impact * np.float32(q * unit.weight)
            np.maximum(buf[docs], values, out=values)
            buf[docs] = values
            parts.append(docs)
            total += len(docs)
        touched = self._union(parts, mark)
        values = buf[touched]
        buf[touched] = 0
        return touched.astype(np.int32, copy=False), values

    def _union(self, parts: list[np.ndarray], mark: np.ndarray) -> np.ndarray:
        """Sorted distinct doc ids of ``parts`` (a sort for small sets, a dense mark for large ones; numpy's
        hash-based ``np.unique`` is slow on millions of ids)."""
        total = sum(len(p) for p in parts)
        if total * 16 < self.n_docs:
            docs = np.concatenate(parts) if parts else np.zeros(0, np.int32)
            docs.sort()
            return docs[np.r_[True, docs[1:] != docs[:-1]]] if len(docs) else docs
        for p in parts:
            mark[p] = True
        docs = np.flatnonzero(mark).astype(np.int32)
        mark[docs] = False
        return docs

    def search(self, query: str, limit: int = 20, year_min: int | None = None, year_max: int | None = None,
               pub_types: Sequence[str] = (), histologies: Sequence[str] = ()) -> list[Hit]:
        """Ranked hits for ``query`` (best first), optionally filtered by year range, publication types and
        histologies (via linked studies).

        Scoring: each query word (or span of words a synonym or compound stands for) adds its best alternative's
        idf × quality × BM25F impact; the sum is multiplied by (share of query words matched) ** COORDINATION.
        Words whose posting lists are long (more than ``COMMON_SHARE`` of the documents) only score documents
        found by the rarer words, as in Elasticsearch's common-terms query; a query of common words only is
        scored over all their documents.
        """
        with self._lock:  # the scratch buffers are shared; Streamlit serves sessions on threads
            return self._search(query, limit, year_min, year_max, pub_types, histologies)

    def _search(self, query: str, limit: int, year_min: int | None, year_max: int | None,
                pub_types: Sequence[str], histologies: Sequence[str]) -> list[Hit]:
        units, spans, terms = self.parse(query)
        if not units or self.n_docs == 0:
            return []
        in_span = {u for lo, hi, _ in spans for u in range(lo, hi)}
        segments: list[tuple[list[int], _Unit | None]] = [([u], None) for u in range(len(units)) if u not in in_span]
        segments += [(list(range(lo, hi)), span) for lo, hi, span in spans]
        cutoff = max(COMMON_MIN, COMMON_SHARE * self.n_docs)
        all_units = units + [span for _, _, span in spans]
        rare = [self._cost(u) <= cutoff for u in all_units]
        if any(rare) and not all(rare):
            cand, total, hits = self._score_candidates(units, segments, rare)
        else:
            cand, total, hits = self._score_all(units, segments)
        if len(cand) == 0:
            return []
        final = total * (hits / len(units)) ** COORDINATION
        keep = self._filter_mask(cand, year_min, year_max, pub_types, histologies)
        if keep is not None:
            cand, final = cand[keep], final[keep]
        if len(cand) == 0:
            return []
        k = min(len(cand), max(RERANK, limit))
        top = np.argpartition(-final, k - 1)[:k] if k < len(cand) else np.arange(len(cand))
        ranked = self._rerank(cand[top], final[top], units, spans)
        return self._make_hits(ranked[:limit], frozenset(terms))

    def _cost(self, unit: _Unit) -> int:
        """Postings a unit would scan."""
        return int(sum(self.df[t] for t in {self.alias.get(t, t) for t, _ in unit.alts}))

    def _segment(self, units: list[_Unit], members: list[int], span: _Unit | None) -> tuple[np.ndarray, ...]:
        """(docs, score, words matched) of one segment over all its postings. A span (a synonym or compound
        standing for several words) scores max(span, sum of its words) and, when it matches, counts all words."""
        if span is None:
            docs, values = self._unit_postings(units[members[0]])
            return docs, values, np.ones(len(docs), np.float32)
        seg, cnt = self._seg, self._cnt
        parts = []
        for u in members:
            docs, values = self._unit_postings(units[u])
            seg[docs] += values
            cnt[docs] += 1
            parts.append(docs)
        docs, values = self._unit_postings(span)
        values = values * np.float32(0.9 * span.size)
        better = values > seg[docs]
        seg[docs[better]] = values[better]
        cnt[docs] = span.size
        parts.append(docs)
        docs = self._union(parts, self._mark)
        out = docs, seg[docs], cnt[docs]
        seg[docs] = 0
        cnt[docs] = 0
        return out

    def _score_all(self, units: list[_Unit], segments: list) -> tuple[np.ndarray, ...]:
        """(candidates, summed score, words matched) over every posting of every segment."""
        scores, hits = self._scores, self._hits
        touched = []
        for members, span in segments:
            docs, values, count = self._segment(units, members, span)
            if len(docs):
                scores[docs] += values
                hits[docs] += count
                touched.append(docs)
        if not touched:
            return np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0, np.float32)
        cand = self._union(touched, self._mark2)
        out = cand, scores[cand].copy(), hits[cand].copy()
        scores[cand] = 0
        hits[cand] = 0
        return out

    def _score_candidates(self, units: list[_Unit], segments: list, rare: list[bool]) -> tuple[np.ndarray, ...]:
        """Candidates are the documents of the rare units (``rare[i]`` for ``units`` then spans, in order); every
        unit is then scored for the candidates only: rare ones from their postings, common ones by lookup."""
        spans = [span for _, span in segments if span is not None]
        all_units = units + spans
        sparse = {i: self._unit_postings(u) for i, u in enumerate(all_units) if rare[i]}
        cand = self._union([docs for docs, _ in sparse.values()], self._mark2)

        def vector(i: int) -> np.ndarray:
            if i in sparse:
                docs, values = sparse[i]
                out = np.zeros(len(cand), np.float32)
                out[np.searchsorted(cand, docs)] = values
                return out
            return self._unit_at(all_units[i], cand)

        total = np.zeros(len(cand), np.float32)
        hits = np.zeros(len(cand), np.float32)
        for members, span in segments:
            seg = np.zeros(len(cand), np.float32)
            cnt = np.zeros(len(cand), np.float32)
            for u in members:
                values = vector(u)
                seg += values
                cnt += values > 0
            if span is not None:
                values = vector(len(units) + spans.index(span)) * np.float32(0.9 * span.size)
                seg = np.maximum(seg, values)
                cnt[values > 0] = span.size
            total += seg
            hits += cnt
        return cand, total, hits

    def _unit_at(self, unit: _Unit, cand: np.ndarray) -> np.ndarray:
        """A unit's score for each of ``cand`` (sorted doc ids), by binary search in its posting lists."""
        out = np.zeros(len(cand), np.float32)
        best: dict[int, float] = {}
        for tid, q in unit.alts:
            tid = self.alias.get(tid, tid)
            best[tid] = max(q, best.get(tid, 0.0))
        for tid, q in best.items():
            docs, impact = self.postings(tid)
            if not len(docs):
                continue
            pos = np.searchsorted(docs, cand)
            pos[pos == len(docs)] = len(docs) - 1
            hit = docs[pos] == cand
            np.maximum(out, np.where(hit, impact[pos] * np.float32(q * unit.weight), 0), out=out)
        return out

    def _filter_mask(self, cand: np.ndarray, year_min: int | None, year_max: int | None,
                     pub_types: Sequence[str], histologies: Sequence[str]) -> np.ndarray | None:
        keep = None

        def both(a: np.ndarray | None, b: np.ndarray) -> np.ndarray:
            return b if a is None else a & b

        if year_min is not None:
            keep = both(keep, self.years[cand] >= int(year_min))
        if year_max is not None:
            keep = both(keep, (self.years[cand] <= int(year_max)) & (self.years[cand] > 0))
        if pub_types:
            codes = [i for i, p in enumerate(self.pub_types) if p in set(pub_types)]
            keep = both(keep, np.isin(self.pub_codes[cand], codes))
        if histologies:
            members = [self.histology_docs[h] for h in histologies if h in self.histology_docs]
            allowed = np.concatenate(members) if members else np.zeros(0, np.int32)
            keep = both(keep, np.isin(cand, allowed))
        return keep

    # -------------------------------------------------------------------------------------------- re-rank
    def doc_tokens(self, record: dict[str, Any]) -> set[str]:
        """Every token (words, compounds, concepts) of one document's fields — what a hit can have matched."""
        tokens: set[str] = set()
        for _, cols, _ in FIELDS:
            for col in cols:
                seq: list[str] = []
                for _, _, word in words(_text(record.get(col))):
                    seq.extend(word.parts)
                    tokens.update(word.parts)
                    if word.compound:
                        tokens.add(word.compound)
                        tokens.update(self.synonyms.compound(word.compound))
                    if len(word.parts) == 1:
                        tokens.update(self.synonyms.compound(word.parts[0]))
                for _, _, concepts in self.synonyms.find(seq):
                    tokens.update(concepts)
        return tokens

    def _rerank(self, docs: np.ndarray, scores: np.ndarray, units: list[_Unit],
                spans: list) -> list[tuple[int, float]]:
        """Phrase bonus: the share of consecutive query-word pairs whose matches stand side by side in the title."""
        pairs = len(units) - 1
        out = []
        titles = self._column_values("title", docs) if pairs > 0 else [None] * len(docs)
        unit_tokens = [{self.token(tid) for tid, _ in unit.alts} for unit in units]
        for doc, score, text in zip(docs.tolist(), scores.tolist(), titles):
            bonus = 0.0
            if pairs > 0:
                title = [part for m in WORD_RE.findall(_text(text)) for part in analyze_word(m).parts]
                positions: list[set[int]] = [set() for _ in units]
                for pos, token in enumerate(title):
                    for u, tokens in enumerate(unit_tokens):
                        if token in tokens:
                            positions[u].add(pos)
                adjacent = sum(1 for a, b in zip(positions, positions[1:])
                               if any(p + 1 in b or p + 2 in b for p in a))
                bonus = PHRASE_BONUS * adjacent / pairs
            out.append((doc, score * (1 + bonus)))
        out.sort(key=lambda x: (-x[1], x[0]))
        return out

    def _make_hits(self, ranked: list[tuple[int, float]], terms: frozenset[str]) -> list[Hit]:
        if not ranked:
            return []
        docs = np.array([doc for doc, _ in ranked], np.int64)
        columns = {c: self._column_values(c, docs) for c in self.documents.columns}
        records = [{c: values[i] for c, values in columns.items()} for i in range(len(docs))]
        return [Hit(doc, str(record.get("source_id")), float(score), record, terms, self)
                for (doc, score), record in zip(ranked, records)]

    def _column_values(self, column: str, docs: np.ndarray) -> list:
        """Values of one column for ``docs`` as Python objects (None when missing); Arrow take, no row objects."""
        array = self._arrow.get(column)
        if array is None:
            array = pa.array(self.documents[column], from_pandas=True)
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks()
            self._arrow[column] = array
        return array.take(pa.array(docs)).to_pylist()


# ------------------------------------------------------------------------------------------------ highlighting
def highlight_spans(text: str, terms: Iterable[str], synonyms: Synonyms | None = None) -> list[tuple[int, int]]:
    """Character spans of ``text`` whose words matched ``terms`` (folded tokens or #concepts), merged.

    >>> highlight_spans("Whole-brain radiotherapy (WBRT) for tumours", {"tumor", "wbrt"})
    [(26, 30), (36, 43)]
    """
    terms = set(terms)
    if not text or not terms:
        return []
    found = words(text)
    marked = [False] * len(found)
    seq: list[str] = []
    owner: list[int] = []
    for i, (_, _, word) in enumerate(found):
        tokens = set(word.parts)
        if word.compound:
            tokens.add(word.compound)
            if synonyms:
                tokens.update(synonyms.compound(word.compound))
        if synonyms and len(word.parts) == 1:
            tokens.update(synonyms.compound(word.parts[0]))
        if tokens & terms:
            marked[i] = True
        seq.extend(word.parts)
        owner.extend([i] * len(word.parts))
    if synonyms:
        for a, b, concepts in synonyms.find(seq):
            if set(concepts) & terms:
                for k in range(a, b):
                    marked[owner[k]] = True
    spans: list[tuple[int, int]] = []
    for (start, end, _), on in zip(found, marked):
        if not on:
            continue
        if spans and text[spans[-1][1]:start].strip() == "":
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def escape_markdown(text: str) -> str:
    r"""Stored text as inert Markdown (kb.display.inert_markdown: no emphasis, HTML, links or icons); newlines →
    spaces.

    >>> print(escape_markdown("<b>x</b> [a](b)"))
    \<b\>x\</b\> \[a\]\(b\)
    """
    return inert_markdown(text)


def markdown_highlight(text: str, spans: Sequence[tuple[int, int]]) -> str:
    r"""``text`` as inert Markdown with ``spans`` in bold.

    >>> print(markdown_highlight("Radiosurgery *alone*", [(0, 12)]))
    **Radiosurgery** \*alone\*
    """
    out, last = [], 0
    for start, end in spans:
        out.append(escape_markdown(text[last:start]))
        out.append("**" + escape_markdown(text[start:end]) + "**")
        last = end
    out.append(escape_markdown(text[last:]))
    return "".join(out)


# ------------------------------------------------------------------------------------------------ citations
def format_citation(record: dict[str, Any]) -> str:
    """A one-line citation: authors, title, journal year;volume(issue):pages.

    >>> format_citation({"authors": "Brown, P. D. et al.", "title": "Effect of radiosurgery", "journal": "JAMA",
    ...                  "year": 2016, "volume": "316", "pages": "401–409"})
    'Brown, P. D. et al. Effect of radiosurgery. JAMA 2016;316:401–409.'
    """
    authors = _text(record.get("authors")) or _text(record.get("first_author"))
    title = _text(record.get("title")).rstrip(".")
    journal = _text(record.get("journal"))
    year = _text(record.get("year"))
    volume, issue, pages = (_text(record.get(k)) for k in ("volume", "issue", "pages"))
    where = " ".join(x for x in (journal, year) if x)
    if volume:
        where += f";{volume}" + (f"({issue})" if issue else "")
    if pages:
        where += f":{pages}"
    bits = [b for b in (authors.rstrip("."), title, where) if b]
    return ". ".join(bits) + "." if bits else ""


# ------------------------------------------------------------------------------------------------ loading from the KB
DOCUMENT_SQL = (
    "SELECT source_id, ref_number, authors, first_author, title, journal, year, volume, issue, pages, doi, pmid, "
    "pub_type, verification, note FROM sources ORDER BY ref_number NULLS LAST, source_id")
STUDY_SQL = (
    "SELECT ss.source_id, ss.role, st.study_id, st.short_name, st.aliases, st.nct_id "
    "FROM study_sources ss JOIN studies st USING (study_id) ORDER BY ss.source_id, st.study_id")
DRUG_SQL = (
    "SELECT DISTINCT source_id, drug_id, name, abbreviations FROM ("
    " SELECT ss.source_id, d.drug_id, d.name, d.abbreviations FROM study_sources ss"
    "  JOIN arms a USING (study_id) JOIN drugs d ON d.drug_id = a.drug_id"
    " UNION ALL SELECT dt.source_id, d.drug_id, d.name, d.abbreviations FROM drug_toxicity dt"
    "  JOIN drugs d USING (drug_id)"
    " UNION ALL SELECT ss.source_id, d.drug_id, d.name, d.abbreviations FROM drug_toxicity dt"
    "  JOIN study_sources ss ON ss.study_id = dt.study_id JOIN drugs d ON d.drug_id = dt.drug_id"
    ") ORDER BY source_id, drug_id")
HISTOLOGY_SQL = (
    "SELECT DISTINCT ss.source_id, sh.histology_id FROM study_sources ss JOIN study_histologies sh USING (study_id) "
    "ORDER BY 1, 2")


def load_documents(con) -> pd.DataFrame:
    """The searchable documents: every source with its linked studies (names, aliases, NCT ids), the drugs of
    those studies' arms and drug-toxicity rows, and histologies (with their parents, so 'breast' finds HER2+)."""
    from kb.db import query

    docs = query(con, DOCUMENT_SQL)
    studies = query(con, STUDY_SQL)
    drugs = query(con, DRUG_SQL)
    hist = query(con, HISTOLOGY_SQL)
    parents = dict(query(con, "SELECT histology_id, parent_id FROM histologies").itertuples(index=False))

    study_text: dict[str, list[str]] = {}
    study_names: dict[str, list[str]] = {}
    study_ids: dict[str, list[str]] = {}
    ncts: dict[str, list[str]] = {}
    for row in studies.itertuples(index=False):
        study_text.setdefault(row.source_id, []).extend(
            [_text(row.short_name)] + [a.strip() for a in _text(row.aliases).split(";") if a.strip()])
        study_names.setdefault(row.source_id, []).append(_text(row.short_name))
        study_ids.setdefault(row.source_id, []).append(_text(row.study_id))
        if _text(row.nct_id):
            ncts.setdefault(row.source_id, []).append(_text(row.nct_id))
    drug_text: dict[str, list[str]] = {}
    drug_names: dict[str, list[str]] = {}
    for row in drugs.itertuples(index=False):
        drug_text.setdefault(row.source_id, []).extend(
            [_text(row.name)] + [a.strip() for a in _text(row.abbreviations).split(";") if a.strip()])
        drug_names.setdefault(row.source_id, []).append(_text(row.name))
    histologies: dict[str, set[str]] = {}
    for source_id, histology_id in hist.itertuples(index=False):
        h = histology_id
        while isinstance(h, str) and h and h not in histologies.setdefault(source_id, set()):
            histologies[source_id].add(h)
            h = parents.get(h)

    ids = docs["source_id"]
    docs["study_ids"] = ids.map(lambda s: ";".join(study_ids.get(s, [])))
    docs["study_names"] = ids.map(lambda s: "; ".join(study_names.get(s, [])))
    docs["study_text"] = ids.map(lambda s: " ; ".join(study_text.get(s, [])))
    docs["nct_ids"] = ids.map(lambda s: ";".join(dict.fromkeys(ncts.get(s, []))))
    docs["drug_names"] = ids.map(lambda s: "; ".join(dict.fromkeys(drug_names.get(s, []))))
    docs["drug_text"] = ids.map(lambda s: " ; ".join(dict.fromkeys(drug_text.get(s, []))))
    docs["histologies"] = ids.map(lambda s: ";".join(sorted(histologies.get(s, set()))))
    for column in ("year", "ref_number"):
        docs[column] = docs[column].astype("Int64")
    return docs


def load_synonyms(con) -> list[tuple[str, str]]:
    """Synonym rows: the ``synonyms`` table (data/synonyms.csv) plus one group per drug (name + abbreviations)."""
    from kb.db import query

    rows = [(str(g), str(t)) for g, t in query(con, "SELECT group_id, term FROM synonyms ORDER BY 1, 2")
            .itertuples(index=False)]
    return rows + drug_synonyms(query(con, "SELECT drug_id, name, abbreviations FROM drugs ORDER BY drug_id"))


def build_index(con) -> SearchIndex:
    """The search index over the KB behind ``con``."""
    return SearchIndex.build(load_documents(con), load_synonyms(con))


def histology_choices(con) -> dict[str, str]:
    """histology_id → name, for the histology filter."""
    from kb.db import query

    frame = query(con, "SELECT histology_id, name FROM histologies ORDER BY primary_site, parent_id NULLS FIRST, name")
    return dict(zip(frame["histology_id"], frame["name"]))


def hit_view(hit: Hit, synonyms: Synonyms | None = None) -> dict[str, Any]:
    """What the Search page shows for one hit, as inert Markdown with the matched words in bold: title, authors,
    where published, linked studies, and links built only from validated identifiers.

    >>> index = SearchIndex.build(pd.DataFrame({"source_id": ["x"], "title": ["WBRT <script>alert(1)</script>"],
    ...     "first_author": ["Brown PD"], "doi": ["10.1001/jama.2016.9839"], "year": [2016]}))
    >>> view = hit_view(index.search("wbrt script")[0], index.synonyms)
    >>> print(view["title_md"])
    **WBRT** \\<**script**\\>alert\\(1\\)\\</**script**\\>
    >>> view["links"]
    [('DOI', 'https://doi.org/10.1001/jama.2016.9839')]
    """
    r = hit.record
    terms = hit.terms

    def md(column: str) -> str:
        text = _text(r.get(column))
        return markdown_highlight(text, highlight_spans(text, terms, synonyms))

    where = " ".join(x for x in (_text(r.get("journal")), _text(r.get("year"))) if x)
    volume, pages = _text(r.get("volume")), _text(r.get("pages"))
    where += (f";{volume}" if volume else "") + (f":{pages}" if pages else "")
    links = [(label, url) for label, url in (
        ("DOI", doi_url(r.get("doi"))), ("PubMed", pubmed_url(r.get("pmid"))))
        if url]
    links += [(nct, trial_url(nct)) for nct in _text(r.get("nct_ids")).split(";") if trial_url(nct)]
    authors = "authors" if _text(r.get("authors")) else "first_author"
    return {
        "source_id": hit.source_id, "score": round(hit.score, 3),
        "title_md": md("title"), "authors_md": md(authors),
        "where_md": markdown_highlight(where, highlight_spans(where, terms, synonyms)),
        "study_md": md("study_names"), "links": links,
        "verification": _text(r.get("verification")), "pub_type": _text(r.get("pub_type")),
        "matched": sorted(t for t in terms if not t.startswith(CONCEPT)),
        "first_author": _text(r.get("first_author")), "year": _json_value(r.get("year")),
        "title": _text(r.get("title")), "journal": _text(r.get("journal")), "study": _text(r.get("study_names")),
        "doi": _text(r.get("doi")), "pmid": _text(r.get("pmid")), "citation": format_citation(r),
    }


# The search CSV: what a reader wants to keep of each result, in words (the ranking score stays internal).
VIEW_COLUMNS = {"citation": "Citation", "first_author": "First author", "year": "Year", "title": "Title",
                "journal": "Journal", "pub_type": "Publication type", "study": "Studies in the KB", "doi": "DOI",
                "pmid": "PubMed ID", "verification": "Verification"}


def views_frame(views: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The results exactly as listed (rank order), as plain text for the CSV download, with column names in words.

    >>> frame = views_frame([{"first_author": "Brown PD", "year": 2016, "pub_type": "randomized_trial", "score": 9}])
    >>> frame.columns.tolist()[:4], "score" in " ".join(frame.columns).lower()
    (['Rank', 'Citation', 'First author', 'Year'], False)
    """
    frame = pd.DataFrame([{k: v.get(k) for k in VIEW_COLUMNS} for v in views], columns=list(VIEW_COLUMNS))
    frame["pub_type"] = frame["pub_type"].map(lambda t: t.replace("_", " ") if isinstance(t, str) else t)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.rename(columns={"rank": "Rank", **VIEW_COLUMNS})


# ------------------------------------------------------------------------------------------------ command line
def cmd_search(args: argparse.Namespace) -> int:
    from kb.releases import NoRelease, open_reader

    try:
        con = open_reader(args.db)   # read-only: any number of processes, the app serving included
    except NoRelease as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        index = build_index(con)
    finally:
        con.close()
    hits = index.search(args.query, limit=args.limit, year_min=args.year_from, year_max=args.year_to,
                        pub_types=args.type or ())
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("No source matches.", file=sys.stderr)
        return 1
    for rank, hit in enumerate(hits, start=1):
        r = hit.record
        print(f"{rank:>2}. [{hit.source_id}] {hit.score:6.2f}  {_text(r.get('first_author'))} "
              f"{_text(r.get('year'))} — {_text(r.get('title'))} ({_text(r.get('journal'))})"
              + (f" doi:{_text(r.get('doi'))}" if _text(r.get("doi")) else ""))
    return 0


def register_cli(sub) -> None:
    """``python -m kb search "QUERY" [--limit N] [--json]``."""
    p = sub.add_parser("search", help="fuzzy search of the sources (typos, accents, acronyms, synonyms)")
    p.add_argument("query", help='e.g. "minitti 3x9 gy", "Perez Garcia", "N0574", "T-DM1 necrosis"')
    p.add_argument("--limit", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON array of results")
    p.add_argument("--from", dest="year_from", type=int, help="earliest year")
    p.add_argument("--to", dest="year_to", type=int, help="latest year")
    p.add_argument("--type", action="append", help="publication type (repeatable), e.g. randomized_trial")
    p.add_argument("--db", help="a KB file to search (default: $KB_DB, else the current release)")
    p.set_defaults(func=cmd_search)
