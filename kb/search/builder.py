"""Building the postings: text columns tokenised in Arrow, each distinct word analysed once, postings aggregated
by one sort of packed int64 keys (token, document, field). ``SearchIndex.build`` drives it.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kb.search.analysis import STOPWORDS, WORD_RE, _DOSE_RE, _id_hash, _variant, analyze_word, indexable
from kb.search.documents import FIELDS, _text
from kb.search.synonyms import Synonyms, longest_match


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
                seq = seq_np.tolist()
                # a phrase never runs into the next document: seq_doc is in document order
                doc_ends = np.searchsorted(seq_doc, seq_doc[candidates], side="right").tolist()
                for i, doc_end in zip(candidates.tolist(), doc_ends):
                    if i < end_at:
                        continue
                    best = longest_match(self.trie, seq, i, doc_end)
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
