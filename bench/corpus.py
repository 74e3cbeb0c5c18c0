"""A deterministic synthetic bibliography for the search benchmark, with the KB's real sources inside it.

Synthetic references recombine the real sources' vocabulary:

- titles come from a bigram Markov chain over the real titles. Words used in fewer than ``COMMON`` real titles
  are replaced by pseudo-words spliced from two rare real words ("gadolinium" + "nanoparticle" →
  "gadoliicle"), so the vocabulary has a long tail as in a real PubMed export and a real paper's rare words
  are not copied into thousands of synthetic records;
- authors are mostly spliced surnames (a real surname only ``REAL_SURNAME_SHARE`` of the time), with initials;
- journals, publication types and years follow the real sources; most records get a DOI and a PMID.

The real sources (with their linked studies, drugs and histologies) sit at seeded positions. Same ``n`` and
``seed`` → the same corpus. Columns are Arrow-backed and generated in chunks, so 10^6 references fit in a few
hundred MB.

>>> docs = synthetic_corpus(2_000, real_documents())
>>> len(docs), int(docs["source_id"].str.startswith("ref").sum()) >= 200
(2000, True)
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

SEED = 20251121
COMMON = 3                  # a real title word used in at least this many titles is kept as it is
REAL_SURNAME_SHARE = 0.1    # share of synthetic authors who carry a real surname
PSEUDO_WORDS = 300_000      # size of the spliced long-tail title vocabulary
PSEUDO_SURNAMES = 200_000   # size of the spliced surname pool
CHUNK = 100_000
MAX_TITLE_WORDS = 28
_WORD = re.compile(r"\S+")
_ALPHA = re.compile(r"[A-Za-z]{4,}")
_INT_COLUMNS = ("year", "ref_number")


def real_documents() -> pd.DataFrame:
    """The KB's searchable documents, from a database built from data/ in a temporary folder."""
    from kb import search
    from kb.build import build
    from kb.db import connect

    with tempfile.TemporaryDirectory(prefix="kbbench-") as tmp:
        path = Path(tmp) / "kb.duckdb"
        build(path)
        con = connect(path, read_only_=True)
        try:
            return search.load_documents(con)
        finally:
            con.close()


def real_synonyms() -> list[tuple[str, str]]:
    """Synonym rows as the app uses them (data/synonyms.csv plus drug names), read from data/."""
    from kb import search
    from kb.config import DATA_DIR

    drugs = pd.read_csv(DATA_DIR / "drugs.csv", dtype=str, keep_default_na=False)
    return search.read_synonyms() + search.drug_synonyms(drugs)


def _surnames(real: pd.DataFrame) -> list[str]:
    names: set[str] = set()
    for authors in real["authors"].dropna().astype(str):
        for chunk in re.split(r",\s*|\s+&\s+", authors.replace(" et al.", "")):
            chunk = chunk.strip()
            if len(chunk) > 1 and not re.fullmatch(r"(?:[A-Z]\.\s?-?)+(?:\s?Jr\.?)?|3rd", chunk):
                names.add(chunk)
    return sorted(names)


def _splice(words: list[str], count: int, rng: np.random.Generator) -> list[str]:
    """Up to ``count`` distinct new words: the first half of one word and the second half of another."""
    a = rng.integers(0, len(words), count * 2)
    b = rng.integers(0, len(words), count * 2)
    made = dict.fromkeys(words[i][: (len(words[i]) + 1) // 2] + words[j][len(words[j]) // 2:].lower()
                         for i, j in zip(a.tolist(), b.tolist()))
    return list(made)[:count]


@dataclass
class _Model:
    """What synthetic records are drawn from."""

    vocab: np.ndarray          # chain words; 0 = <end>, 1 = <rare>
    start: int                 # the chain's start state
    first: np.ndarray          # per state: first successor index in ``succ``
    count: np.ndarray          # per state: number of successors
    succ: np.ndarray
    pseudo: np.ndarray         # long-tail title words
    real_names: np.ndarray
    names: np.ndarray          # real surnames, then spliced ones
    journals: np.ndarray
    journal_p: np.ndarray
    pub_types: np.ndarray
    pub_p: np.ndarray


def _model(real: pd.DataFrame, rng: np.random.Generator) -> _Model:
    titles = [_WORD.findall(t) for t in real["title"].astype(str)]
    in_titles: dict[str, int] = {}
    for tokens in titles:
        for w in {t.lower() for t in tokens}:
            in_titles[w] = in_titles.get(w, 0) + 1
    rare = sorted({m for tokens in titles for t in tokens if in_titles[t.lower()] < COMMON for m in _ALPHA.findall(t)})
    vocab = ["<end>", "<rare>"] + sorted({t for tokens in titles for t in tokens if in_titles[t.lower()] >= COMMON})
    code = {w: i for i, w in enumerate(vocab)}
    start = len(vocab)
    pairs = []
    for tokens in titles:
        seq = [start] + [code.get(t, 1) for t in tokens] + [0]
        pairs.extend(zip(seq, seq[1:]))
    pairs_arr = np.array(sorted(pairs), dtype=np.int64)
    first = np.searchsorted(pairs_arr[:, 0], np.arange(start + 1))
    count = np.searchsorted(pairs_arr[:, 0], np.arange(start + 1), side="right") - first
    real_names = _surnames(real)
    plain = [a for a in real_names if a.replace("-", "").replace(" ", "").isalpha()]
    journals = real["journal"].dropna().astype(str).value_counts()
    pubs = real["pub_type"].astype(str).value_counts()
    return _Model(
        vocab=np.array(vocab, dtype=object), start=start, first=first, count=count, succ=pairs_arr[:, 1],
        pseudo=np.array(_splice(rare, PSEUDO_WORDS, rng), dtype=object),
        real_names=np.array(real_names, dtype=object),
        names=np.array(real_names + _splice(plain, PSEUDO_SURNAMES, rng), dtype=object),
        journals=journals.index.to_numpy(dtype=object), journal_p=(journals / journals.sum()).to_numpy(),
        pub_types=pubs.index.to_numpy(dtype=object), pub_p=(pubs / pubs.sum()).to_numpy())


def _titles(m: _Model, size: int, rng: np.random.Generator) -> list[str]:
    out = np.zeros((size, MAX_TITLE_WORDS), dtype=np.int64)       # 0 = <end>
    state = np.full(size, m.start, dtype=np.int64)
    alive = np.ones(size, dtype=bool)
    for step in range(MAX_TITLE_WORDS):
        rows = np.flatnonzero(alive)
        if len(rows) == 0:
            break
        s = state[rows]
        pick = m.first[s] + (rng.random(len(rows)) * np.maximum(m.count[s], 1)).astype(np.int64)
        nxt = np.where(m.count[s] > 0, m.succ[np.minimum(pick, len(m.succ) - 1)], 0)
        out[rows, step] = nxt
        state[rows] = nxt
        alive[rows] = nxt != 0
    words = m.vocab[out]
    rare = out == 1
    words[rare] = m.pseudo[rng.integers(0, len(m.pseudo), int(rare.sum()))]
    lengths = np.where((out == 0).any(axis=1), np.argmax(out == 0, axis=1), MAX_TITLE_WORDS)
    titles = []
    for row, length in zip(words, lengths.tolist()):
        text = " ".join(row[:max(length, 1)].tolist()).replace("<end>", "").strip() or str(m.pseudo[0])
        titles.append(text[0].upper() + text[1:])
    return titles


def _chunk(m: _Model, lo: int, size: int, rng: np.random.Generator) -> dict[str, list]:
    """``size`` synthetic records numbered from ``lo``."""
    titles = _titles(m, size, rng)
    real_share = rng.random((size, 6)) < REAL_SURNAME_SHARE
    name_idx = np.where(real_share, rng.integers(0, len(m.real_names), (size, 6)),
                        len(m.real_names) + rng.integers(0, len(m.names) - len(m.real_names), (size, 6)))
    n_authors = rng.integers(1, 7, size)
    letters = np.array(list("ABCDEFGHIJKLMNOPRSTVWY"), dtype=object)
    init = letters[rng.integers(0, len(letters), (size, 6, 2))]
    two = rng.random((size, 6)) < 0.5
    etal = rng.random(size) < 0.4
    authors, first = [], []
    for i in range(size):
        people = [f"{m.names[name_idx[i, j]]}, {init[i, j, 0]}." + (f" {init[i, j, 1]}." if two[i, j] else "")
                  for j in range(n_authors[i])]
        if etal[i] or len(people) == 1:
            authors.append(people[0] + (" et al." if etal[i] else ""))
        else:
            authors.append(", ".join(people[:-1]) + " & " + people[-1])
        first.append(f"{m.names[name_idx[i, 0]]} {init[i, 0, 0]}" + (init[i, 0, 1] if two[i, 0] else ""))
    journals = rng.choice(m.journals, size, p=m.journal_p)
    years = np.clip(np.round(2025 - rng.gamma(2.0, 6.0, size)), 1975, 2025).astype(np.int64)
    prefixes = np.array(["1016", "1200", "1093", "1001", "1007", "1186", "1038", "3171", "1158", "1002"], dtype=object)
    has_doi = rng.random(size) < 0.6
    doi_prefix = prefixes[rng.integers(0, len(prefixes), size)]
    serial = rng.integers(10_000, 999_999, size)
    has_pmid = rng.random(size) < 0.7
    first_page = rng.integers(1, 3000, size)
    length = rng.integers(3, 15, size)
    return {
        "source_id": [f"syn{lo + i:07d}" for i in range(size)],
        "authors": authors, "first_author": first, "title": titles, "journal": journals.tolist(),
        "year": years,
        "volume": rng.integers(1, 130, size).astype(str).tolist(),
        "pages": [f"{a}–{a + b}" for a, b in zip(first_page.tolist(), length.tolist())],
        "doi": [f"10.{doi_prefix[i]}/j.{re.sub(r'[^a-z]', '', journals[i].lower())[:8]}.{years[i]}.{serial[i]}"
                if has_doi[i] else None for i in range(size)],
        # PMIDs: distinct by construction (record number spread over an 8-digit range).
        "pmid": [str(30_000_000 + (lo + i) * 7) if has_pmid[i] else None for i in range(size)],
        "pub_type": rng.choice(m.pub_types, size, p=m.pub_p).tolist(),
        "verification": ["unverified"] * size,
    }


def synthetic_corpus(n: int, real: pd.DataFrame, seed: int = SEED) -> pd.DataFrame:
    """``n`` references: the real ones at seeded positions, the rest synthetic. Columns as
    ``kb.search.load_documents`` (study, drug and histology columns are empty for synthetic rows)."""
    rng = np.random.default_rng(seed)
    n_real = min(len(real), n)
    n_syn = n - n_real
    positions = np.sort(rng.choice(n, size=n_real, replace=False))
    model = _model(real, rng)
    parts: dict[str, list[pa.Array]] = {}
    for lo in range(0, n_syn, CHUNK):
        size = min(CHUNK, n_syn - lo)
        for column, values in _chunk(model, lo, size, rng).items():
            kind = pa.int64() if column in _INT_COLUMNS else pa.string()
            parts.setdefault(column, []).append(pa.array(values, type=kind))
    # order[final position] = row in (synthetic rows, then real rows)
    is_real = np.zeros(n, dtype=bool)
    is_real[positions] = True
    order = np.empty(n, dtype=np.int64)
    order[~is_real] = np.arange(n_syn)
    order[positions] = n_syn + np.arange(n_real)
    take = pa.array(order)
    out: dict[str, pd.api.extensions.ExtensionArray] = {}
    for column in real.columns:
        kind = pa.int64() if column in _INT_COLUMNS else pa.string()
        synthetic = parts.pop(column, None) or [pa.nulls(n_syn, type=kind)]
        values = real[column].iloc[:n_real]
        if column in _INT_COLUMNS:
            real_part = pa.array(pd.to_numeric(values, errors="coerce").astype("Int64"), type=kind)
        else:
            real_part = pa.array([None if pd.isna(v) else str(v) for v in values.tolist()], type=kind)
        full = pa.chunked_array(synthetic + [real_part], type=kind).take(take)
        out[column] = pd.array(full, dtype="Int64" if column in _INT_COLUMNS else "str")
    return pd.DataFrame(out)
