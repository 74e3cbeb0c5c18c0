"""Synonym groups (data/synonyms.csv and the drugs' names and abbreviations) and the phrase matcher that turns
them into concept tokens (``#tdm1``), so ``T-DM1`` and ``trastuzumab emtansine`` meet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from kb.config import DATA_DIR
from kb.search.analysis import words

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
        while i < n:
            best = longest_match(self.trie, parts, i, n)
            if best:
                found.append((i, best[0], best[1]))
                i = best[0]
            else:
                i += 1
        return found

    def compound(self, token: str) -> tuple[str, ...]:
        return self.single.get(token, ())


def longest_match(trie: dict, seq: Sequence, i: int, end: int) -> tuple[int, tuple] | None:
    """The longest phrase of ``trie`` that starts at ``seq[i]`` and stops before ``end``: (index after it, what its
    leaf holds), or None. Used on words at query time and on vocabulary codes when the index is built.

    >>> longest_match({"a": {"b": {None: ("ab",)}, None: ("a",)}}, ["a", "b", "c"], 0, 3)
    (2, ('ab',))
    >>> longest_match({"a": {"b": {None: ("ab",)}, None: ("a",)}}, ["a", "b"], 0, 1)
    (1, ('a',))
    """
    node = trie.get(seq[i])
    best = None
    j = i
    while node is not None:
        j += 1
        if None in node:
            best = (j, node[None])
        node = node.get(seq[j]) if j < end else None
    return best
