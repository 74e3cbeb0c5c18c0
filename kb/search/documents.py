"""A searchable document: the fields searched and their boosts, a cell as text, a ranked hit and its citation."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from kb.search.index import SearchIndex

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
