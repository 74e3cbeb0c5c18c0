"""Identifier → link: the one place that decides whether a stored identifier becomes a link, and to where.

A link is built only from an identifier that has the right shape; anything else (None, pandas' NaN, "", spaces,
a malformed id, a ``javascript:`` URL) gives ``None``, so a page shows an empty cell rather than a link to
``…/nan/``. kb.search, kb.queries and the pages all import these functions.

>>> doi_url("10.1001/jama.2016.9839"), pubmed_url(float("nan")), nct_url("NCT0236021")
('https://doi.org/10.1001/jama.2016.9839', None, None)
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import quote, urlsplit

_DOI = re.compile(r"10\.\d{4,9}/\S+")
_PMID = re.compile(r"[1-9]\d{0,8}")
_PMC = re.compile(r"PMC\d{1,9}")
_NCT = re.compile(r"NCT\d{8}")


def clean(value: Any) -> str:
    """The identifier as text without surrounding spaces; "" for None, NaN, pandas' NA or blank.

    >>> clean(None), clean(float("nan")), clean("  "), clean(27458945.0), clean(" NCT02360215 ")
    ('', '', '', '27458945', 'NCT02360215')
    """
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    try:
        if value != value:  # NaN-like (pandas.NA raises TypeError on bool())
            return ""
    except (TypeError, ValueError):
        return ""
    return str(value).strip()


def doi_url(doi: Any) -> str | None:
    """https://doi.org/<DOI> (percent-encoded, so it is also safe inside a Markdown link), or None.

    Accepts the DOI bare or with a ``doi:`` / ``https://doi.org/`` prefix; a DOI must start ``10.<registrant>/``.

    >>> doi_url("10.1016/S1470-2045(17)30441-2")
    'https://doi.org/10.1016/S1470-2045%2817%2930441-2'
    >>> doi_url("doi:10.1001/jama.2016.9839"), doi_url("nan"), doi_url("10.1001")
    ('https://doi.org/10.1001/jama.2016.9839', None, None)
    """
    text = re.sub(r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/)", "", clean(doi), flags=re.IGNORECASE)
    if not _DOI.fullmatch(text):
        return None
    return "https://doi.org/" + quote(text, safe="/.-;:_")


def pubmed_url(pmid: Any) -> str | None:
    """https://pubmed.ncbi.nlm.nih.gov/<PMID>/ for a PMID of digits (``PMID:`` prefix allowed), or None.

    >>> pubmed_url("27458945")
    'https://pubmed.ncbi.nlm.nih.gov/27458945/'
    >>> pubmed_url(27458945) == pubmed_url(27458945.0) == pubmed_url("PMID: 27458945") == pubmed_url("27458945")
    True
    >>> pubmed_url("nan"), pubmed_url("2745a"), pubmed_url("0")
    (None, None, None)
    """
    text = re.sub(r"^pmid:\s*", "", clean(pmid), flags=re.IGNORECASE)
    return f"https://pubmed.ncbi.nlm.nih.gov/{text}/" if _PMID.fullmatch(text) else None


def pmc_url(pmcid: Any) -> str | None:
    """https://pmc.ncbi.nlm.nih.gov/articles/<PMCID>/ for an id like ``PMC7940785``, or None.

    >>> pmc_url("PMC7940785"), pmc_url("7940785")
    ('https://pmc.ncbi.nlm.nih.gov/articles/PMC7940785/', None)
    """
    text = clean(pmcid).upper()
    return f"https://pmc.ncbi.nlm.nih.gov/articles/{text}/" if _PMC.fullmatch(text) else None


def nct_url(nct_id: Any) -> str | None:
    """https://clinicaltrials.gov/study/<NCT id> for an id of 'NCT' and eight digits, or None.

    >>> nct_url("NCT02360215"), nct_url("nct02360215"), nct_url("NCT123")
    ('https://clinicaltrials.gov/study/NCT02360215', 'https://clinicaltrials.gov/study/NCT02360215', None)
    """
    text = clean(nct_id).upper()
    return f"https://clinicaltrials.gov/study/{text}" if _NCT.fullmatch(text) else None


def web_url(url: Any) -> str | None:
    """An http(s) address with a host and no spaces, as it is; anything else (``javascript:``, ``ftp:``, a
    relative path, text with spaces) gives None.

    >>> web_url("https://www.themednet.org/publications/x"), web_url("javascript:alert(1)"), web_url("www.x.org")
    ('https://www.themednet.org/publications/x', None, None)
    """
    text = clean(url)
    if not text or re.search(r"\s|[<>\"']", text):
        return None
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
        return None
    return text


def verified_in_url(verified_in: Any) -> str | None:
    """The page a figure was verified in, from ``verified_in`` (``PMID:…``, ``DOI:…``, ``PMC:…``, ``URL:…`` or a
    bare http(s) address — see data/README.md), or None.

    >>> verified_in_url("PMID:27458945"), verified_in_url("DOI:10.1093/neuonc/not114")
    ('https://pubmed.ncbi.nlm.nih.gov/27458945/', 'https://doi.org/10.1093/neuonc/not114')
    >>> verified_in_url("PMC:PMC7940785"), verified_in_url("URL:https://iris.univr.it/handle/11562/1154369")
    ('https://pmc.ncbi.nlm.nih.gov/articles/PMC7940785/', 'https://iris.univr.it/handle/11562/1154369')
    >>> verified_in_url(None), verified_in_url("abstract, p. 3"), verified_in_url("URL:javascript:alert(1)")
    (None, None, None)
    """
    text = clean(verified_in)
    kind, sep, rest = text.partition(":")
    kind = kind.strip().upper()
    if sep and kind == "PMID":
        return pubmed_url(rest)
    if sep and kind == "DOI":
        return doi_url(rest)
    if sep and kind == "PMC":
        return pmc_url(rest.strip())
    if sep and kind == "URL":
        return web_url(rest)
    return web_url(text)


def source_record_url(source_id: Any) -> str | None:
    """The KB's own bibliography record of a source (the Sources page filtered to it), or None.

    >>> source_record_url("ref050"), source_record_url(None)
    ('/sources?q=ref050', None)
    """
    text = clean(source_id)
    return f"/sources?q={quote(text)}" if re.fullmatch(r"[\w.-]{1,80}", text) else None


def read_in_url(verified_in: Any = None, doi: Any = None, pmid: Any = None, source_verified_in: Any = None,
                source_id: Any = None) -> str | None:
    """Where a figure was read: the page in the row's ``verified_in`` if it names one, else its source's DOI, its
    PubMed record, the page the source itself was verified in, and last the source's record in the KB's
    bibliography (a source with no identifier at all). None when none of them exists.

    >>> read_in_url("URL:https://iris.univr.it/handle/1", "10.1/x", "1")
    'https://iris.univr.it/handle/1'
    >>> read_in_url(float("nan"), None, "27458945")
    'https://pubmed.ncbi.nlm.nih.gov/27458945/'
    >>> read_in_url(None, None, None, None, "ref050")
    '/sources?q=ref050'
    """
    return (verified_in_url(verified_in) or doi_url(doi) or pubmed_url(pmid) or verified_in_url(source_verified_in)
            or source_record_url(source_id))


# For st.column_config.LinkColumn(display_text=…): the part of each URL a reader recognises.
DOI_TEXT = r"https://doi\.org/(.*)"
PUBMED_TEXT = r"https://pubmed\.ncbi\.nlm\.nih\.gov/(\d+)/"
NCT_TEXT = r"https://clinicaltrials\.gov/study/(NCT\d+)"
# the web site's host, or "sources" for a record in the KB's own bibliography (one capture group, as Streamlit
# shows the first group of the match)
HOST_TEXT = r"((?<=^https?://(?:www\.)?)[^/]+|(?<=^/)sources(?=\?))"
