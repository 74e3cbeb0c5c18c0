"""What a reader sees of a hit: matched words highlighted in inert Markdown, links built only from validated
identifiers, and the results as a CSV with column names in words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

import pandas as pd

from kb.display import inert_markdown
from kb.links import doi_url, nct_url as trial_url, pubmed_url
from kb.search.analysis import words
from kb.search.documents import _json_value, _text, format_citation
from kb.search.synonyms import CONCEPT, Synonyms

if TYPE_CHECKING:
    from kb.search.documents import Hit


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


def hit_view(hit: Hit, synonyms: Synonyms | None = None) -> dict[str, Any]:
    """What the Search page shows for one hit, as inert Markdown with the matched words in bold: title, authors,
    where published, linked studies, and links built only from validated identifiers.

    >>> from kb.search import SearchIndex
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
