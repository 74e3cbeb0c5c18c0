"""Scoring a parsed query: BM25F impacts summed in numpy over the posting lists, the common-terms cut, filters,
the phrase-bonus re-rank and the hits. Methods of ``SearchIndex``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pyarrow as pa

from kb.search.analysis import WORD_RE, analyze_word, words
from kb.search.documents import FIELDS, Hit, _text
from kb.search.query import _Unit

PHRASE_BONUS = 0.3          # re-rank: up to +30% when matched query words stand side by side in the title
COORDINATION = 2.0          # score × (share of query words matched) ** COORDINATION
RERANK = 40                 # candidates re-ranked
COMMON_SHARE = 0.02         # a query word matching more than 2% of the documents is "common" ...
COMMON_MIN = 2_000          # ... and more than this many


class _Scoring:
    """The scoring half of ``SearchIndex`` (kb.search.index): candidates, scores, filters, re-rank, hits."""

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
