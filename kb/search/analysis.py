"""Text → words: folding (accents, case, special letters), British/American spellings, a light plural stemmer,
the part and compound tokens of a word, and which tokens are identifiers. Applied alike to documents and queries.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

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
