"""Reading a query: each word's vocabulary alternatives (exact, prefix as you type, suffix, edit distance) and
the spans that synonym phrases and compound words make over several words. Methods of ``SearchIndex``.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

from kb.search.analysis import WORD_RE, analyze_word, indexable
from kb.search.synonyms import CONCEPT


@dataclass
class _Unit:
    """A query word (or a span of words) and its vocabulary alternatives: token ids and match quality."""

    alts: list[tuple[int, float]]
    weight: float            # idf of what the user typed
    size: int = 1            # query words a span stands for


class _Query:
    """The query half of ``SearchIndex`` (kb.search.index): expansion and parsing, over the vocabulary views
    that ``SearchIndex._finish`` prepares."""

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
