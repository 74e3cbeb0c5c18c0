"""Export sources as BibTeX, RIS and CSL-JSON — the three formats Zotero (and most reference managers) import.

Every function takes source records (dicts with the ``sources`` columns: authors, first_author, title, journal,
year, volume, issue, pages, doi, pmid, pub_type, source_id) and returns text. Authors are parsed from the
Nature-style lists stored in the KB ("Lamba, N., Wen, P. Y. & Aizer, A. A.", "Brown, P. D. et al."); an
"et al." becomes BibTeX's ``and others`` (RIS and CSL-JSON have no such marker, so only the named authors go).

Formats followed: BibTeX as read by biblatex/Zotero (UTF-8, braces protect capitals, LaTeX specials escaped);
RIS as specified by Research Information Systems (``TAG  - value`` lines, ``ER  -`` ends a record); CSL-JSON
as in the Citation Style Language schema (https://citeproc-js.readthedocs.io/en/latest/csl-json/markup.html).

Given ``release_id`` (the release the records were read from), every export names it, so a paper can cite the exact
version: BibTeX opens with an ``@comment``, RIS records carry it as ``DB`` (name of database), CSL-JSON items as
``source`` (the database the item comes from).

>>> record = {"source_id": "ref028", "authors": "Brown, P. D. et al.", "title": "Effect of radiosurgery alone",
...           "journal": "JAMA", "year": 2016, "volume": "316", "pages": "401–409", "doi": "10.1001/jama.2016.9839"}
>>> print(to_bibtex([record]).splitlines()[0])
@article{brown2016,
>>> json.loads(to_csl_json([record]))[0]["author"]
[{'family': 'Brown', 'given': 'P. D.'}]
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any, Iterable

# RIS and CSL-JSON have no "and others": a note says the author list stops where the KB's does.
ET_AL_NOTE = "; author list as stored in the KB ends with et al."

# Our publication types → BibTeX entry types, RIS types and CSL types. Guidelines from organisations without
# a journal become reports.
_RIS_TYPE = {"guideline": "JOUR", "review": "JOUR"}
_CSL_TYPE = "article-journal"

_INITIALS = re.compile(r"^(?:[A-Z][A-Za-z]?\.?[\s-]*)+(?:\s*(?:Jr|Sr|2nd|3rd|II|III)\.?)?$")
_FAMILY_INITIALS = re.compile(r"^(?P<family>.+?)\s+(?P<given>(?:[A-Z]\.\s?)+)(?P<suffix>Jr\.?|Sr\.?|2nd|3rd|II|III)?$")


def _text(value: Any) -> str:
    if value is None:
        return ""
    try:
        if value != value:  # NaN / NA
            return ""
    except (TypeError, ValueError):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_authors(authors: str | None, first_author: str | None = None) -> tuple[list[dict[str, str]], bool]:
    """Stored author list → ([{"family", "given"} or {"literal"}], has_more).

    >>> parse_authors("Lamba, N., Wen, P. Y. & Aizer, A. A.")
    ([{'family': 'Lamba', 'given': 'N.'}, {'family': 'Wen', 'given': 'P. Y.'}, {'family': 'Aizer', 'given': 'A. A.'}], False)
    >>> parse_authors("Pérez-García, J. M. et al.")
    ([{'family': 'Pérez-García', 'given': 'J. M.'}], True)
    >>> parse_authors("National Comprehensive Cancer Network")
    ([{'literal': 'National Comprehensive Cancer Network'}], False)
    >>> parse_authors(None, "Brown PD")
    ([{'family': 'Brown', 'given': 'P. D.'}], True)
    >>> parse_authors("Barnett G. et al.")
    ([{'family': 'Barnett', 'given': 'G.'}], True)
    """
    text = _text(authors)
    if not text:
        first = _text(first_author)
        match = re.fullmatch(r"(.+?)\s+([A-Z]{1,4})", first)
        if match:
            return [{"family": match.group(1), "given": " ".join(c + "." for c in match.group(2))}], True
        return ([{"literal": first}], True) if first else ([], False)
    more = bool(re.search(r"\bet al\.?$", text))
    text = re.sub(r",?\s*\bet al\.?$", "", text).strip()
    if "," not in text:
        match = _FAMILY_INITIALS.match(text)  # "Barnett G." — one person written without a comma
        if match:
            return [{"family": match.group("family"), "given": match.group("given").strip()}], more
        return [{"literal": text}], more
    people: list[dict[str, str]] = []
    for chunk in re.split(r"\s+&\s+|\s+and\s+", text):
        pieces = [p.strip() for p in chunk.split(",") if p.strip()]
        i = 0
        while i < len(pieces):
            piece = pieces[i]
            if i + 1 < len(pieces) and _INITIALS.match(pieces[i + 1]):
                people.append({"family": piece, "given": pieces[i + 1]})
                i += 2
                continue
            match = _FAMILY_INITIALS.match(piece)
            if match:
                given = match.group("given").strip() + (" " + match.group("suffix") if match.group("suffix") else "")
                people.append({"family": match.group("family"), "given": given})
            else:
                people.append({"literal": piece})
            i += 1
    return people, more


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def citation_key(record: dict[str, Any]) -> str:
    """``<first author's family name><year>`` in ASCII lower case, e.g. ``perezgarcia2023``."""
    people, _ = parse_authors(record.get("authors"), record.get("first_author"))
    name = people[0].get("family") or people[0].get("literal", "") if people else ""
    base = re.sub(r"[^a-z0-9]", "", _ascii(name).lower())[:20] or "source"
    return base + _text(record.get("year"))


def _keys(records: list[dict[str, Any]]) -> list[str]:
    """Unique citation keys: brown2016, brown2016a, brown2016b…"""
    seen: dict[str, int] = {}
    keys = []
    for record in records:
        key = citation_key(record)
        n = seen.get(key, 0)
        seen[key] = n + 1
        keys.append(key if n == 0 else key + chr(ord("a") + (n - 1) % 26) + ("" if n <= 26 else str(n // 26)))
    return keys


def _pages(record: dict[str, Any]) -> tuple[str, str]:
    pages = _text(record.get("pages")).replace("—", "–")
    if "–" in pages or "-" in pages:
        start, _, end = re.split(r"([–-])", pages, maxsplit=1)
        return start.strip(), end.strip()
    return pages, ""


# ------------------------------------------------------------------------------------------------ BibTeX
_LATEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
          "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_LATEX_RE = re.compile(r"[\\{}&%$#_~^]")


def bibtex_escape(text: str) -> str:
    r"""Escape LaTeX's special characters (UTF-8 letters stay as they are; biblatex and Zotero read UTF-8).

    >>> print(bibtex_escape("50% & {x}"))
    50\% \& \{x\}
    """
    return _LATEX_RE.sub(lambda m: _LATEX[m.group()], " ".join(text.split()))


def _bib_name(person: dict[str, str]) -> str:
    if "literal" in person:
        return "{" + bibtex_escape(person["literal"]) + "}"
    return bibtex_escape(person["family"]) + ", " + bibtex_escape(person["given"])


def stamp(release_id: str | None) -> str:
    """'BrainMets KB release 2026-12-01.0007-3fa2c1d9' — how every export names the release it came from."""
    return f"BrainMets KB release {release_id}" if release_id else ""


def to_bibtex(records: Iterable[dict[str, Any]], release_id: str | None = None) -> str:
    """BibTeX entries (@article, or @misc without a journal), one per record."""
    records = list(records)
    out = [f"@comment{{{bibtex_escape(stamp(release_id))}}}\n"] if release_id else []
    for key, record in zip(_keys(records), records):
        people, more = parse_authors(record.get("authors"), record.get("first_author"))
        names = [_bib_name(p) for p in people] + (["others"] if more else [])
        start, end = _pages(record)
        journal = _text(record.get("journal"))
        fields = [
            ("author", " and ".join(names)),
            ("title", "{" + bibtex_escape(_text(record.get("title"))) + "}"),
            ("journal" if journal else "howpublished", bibtex_escape(journal)),
            ("year", _text(record.get("year"))),
            ("volume", bibtex_escape(_text(record.get("volume")))),
            ("number", bibtex_escape(_text(record.get("issue")))),
            ("pages", bibtex_escape(start + ("--" + end if end else ""))),
            ("doi", bibtex_escape(_text(record.get("doi")))),
            ("pmid", _text(record.get("pmid"))),
            ("note", bibtex_escape("BrainMets KB " + _text(record.get("source_id")))),
        ]
        body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
        out.append(f"@{'article' if journal else 'misc'}{{{key},\n{body}\n}}\n")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ RIS
def _ris_value(text: str) -> str:
    return " ".join(text.split())


def to_ris(records: Iterable[dict[str, Any]], release_id: str | None = None) -> str:
    """RIS records (``TY  - JOUR`` … ``ER  -``)."""
    lines: list[str] = []
    for record in records:
        people, more = parse_authors(record.get("authors"), record.get("first_author"))
        lines.append("TY  - " + _RIS_TYPE.get(_text(record.get("pub_type")), "JOUR"))
        for person in people:
            name = person.get("literal") or person["family"] + ", " + person["given"]
            lines.append("AU  - " + _ris_value(name))
        start, end = _pages(record)
        doi, pmid = _text(record.get("doi")), _text(record.get("pmid"))
        for tag, value in (("TI", record.get("title")), ("JO", record.get("journal")), ("PY", record.get("year")),
                           ("VL", record.get("volume")), ("IS", record.get("issue")), ("SP", start), ("EP", end),
                           ("DO", doi), ("AN", pmid),
                           ("UR", f"https://doi.org/{doi}" if doi else
                            (f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid else "")),
                           ("N1", "BrainMets KB " + _text(record.get("source_id")) + (ET_AL_NOTE if more else "")),
                           ("DB", stamp(release_id))):
            value = _ris_value(_text(value))
            if value:
                lines.append(f"{tag}  - {value}")
        lines.append("ER  - ")
        lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ CSL-JSON
def to_csl_json(records: Iterable[dict[str, Any]], release_id: str | None = None) -> str:
    """A CSL-JSON array (what Zotero's "Import from clipboard/file" and citeproc read)."""
    items = []
    for record in records:
        people, more = parse_authors(record.get("authors"), record.get("first_author"))
        start, end = _pages(record)
        item: dict[str, Any] = {"id": _text(record.get("source_id")), "type": _CSL_TYPE,
                                "title": _text(record.get("title")), "author": people}
        if more:
            item["note"] = ET_AL_NOTE.strip("; ")
        year = _text(record.get("year"))
        if year.isdigit():
            item["issued"] = {"date-parts": [[int(year)]]}
        for key, value in (("container-title", record.get("journal")), ("volume", record.get("volume")),
                           ("issue", record.get("issue")), ("page", start + ("-" + end if end else "")),
                           ("DOI", record.get("doi")), ("PMID", record.get("pmid"))):
            if _text(value):
                item[key] = _text(value)
        if item.get("DOI"):
            item["URL"] = "https://doi.org/" + item["DOI"]
        if release_id:
            item["source"] = stamp(release_id)
        items.append(item)
    return json.dumps(items, ensure_ascii=False, indent=2)


FORMATS = {
    "bibtex": ("BibTeX", "bib", "application/x-bibtex", to_bibtex),
    "ris": ("RIS", "ris", "application/x-research-info-systems", to_ris),
    "csl": ("CSL-JSON", "json", "application/vnd.citationstyles.csl+json", to_csl_json),
}
