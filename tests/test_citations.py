"""Exports: BibTeX, RIS and CSL-JSON of the real sources read back with well-kept parsers (bibtexparser 2,
rispy, json) — what Zotero will import."""

from __future__ import annotations

import json

import bibtexparser
import pytest
import rispy
from bibtexparser.middlewares import LatexDecodingMiddleware

from kb import citations, search


@pytest.fixture(scope="module")
def records(con) -> list[dict]:
    return search.load_documents(con).to_dict("records")


def clean(value) -> str:
    return citations._text(value)


def test_bibtex_of_every_source_parses_back(records):
    library = bibtexparser.parse_string(citations.to_bibtex(records), append_middleware=[LatexDecodingMiddleware()])
    assert not library.failed_blocks
    assert len(library.entries) == len(records)
    keys = [e.key for e in library.entries]
    assert len(set(keys)) == len(keys)
    by_note = {e["note"].split()[-1]: e for e in library.entries}
    for record in records:
        entry = by_note[record["source_id"]]
        assert entry["title"].strip("{}") == " ".join(clean(record["title"]).split())
        assert entry["year"] == clean(record["year"])
        if clean(record["doi"]):
            assert entry["doi"] == record["doi"]


def test_bibtex_authors_and_et_al(records):
    brown = next(r for r in records if r["source_id"] == "ref028")           # "Brown, P. D. et al."
    lamba = next(r for r in records if r["source_id"] == "ref002")           # three named authors
    entries = bibtexparser.parse_string(citations.to_bibtex([brown, lamba])).entries
    assert entries[0]["author"] == "Brown, P. D. and others"
    assert entries[1]["author"] == "Lamba, N. and Wen, P. Y. and Aizer, A. A."
    assert entries[0].key == "brown2016"
    assert entries[0]["pages"] == "401--409"      # en dash → BibTeX's double hyphen


def test_bibtex_escapes_latex_specials_and_keeps_unicode():
    record = {"source_id": "x1", "authors": "Pérez-García, J. M. & Smith_Jones, A.", "year": 2020, "journal": "J & K",
              "title": "50% of {braces}, $money$, #hash, under_score and ~tilde — Pérez"}
    library = bibtexparser.parse_string(citations.to_bibtex([record]), append_middleware=[LatexDecodingMiddleware()])
    entry = library.entries[0]
    assert not library.failed_blocks
    assert entry["title"].strip("{}").replace("{", "").replace("}", "") == \
        "50% of braces, $money$, #hash, under_score and ~tilde — Pérez"
    assert entry["journal"] == "J & K"
    assert "Pérez-García" in entry["author"]


def test_duplicate_author_years_get_distinct_keys():
    records = [{"source_id": f"s{i}", "authors": "Brown, P. D. et al.", "year": 2016, "title": f"T{i}"}
               for i in range(3)]
    keys = [e.key for e in bibtexparser.parse_string(citations.to_bibtex(records)).entries]
    assert keys == ["brown2016", "brown2016a", "brown2016b"]


def test_ris_of_every_source_parses_back(records):
    entries = rispy.loads(citations.to_ris(records))
    assert len(entries) == len(records)
    for record, entry in zip(records, entries):
        assert entry["type_of_reference"] == "JOUR"
        assert entry["title"] == " ".join(clean(record["title"]).split())
        assert entry["year"] == clean(record["year"])
        if clean(record["doi"]):
            assert entry["doi"] == record["doi"]
        if clean(record["pmid"]):
            assert entry["accession_number"] == record["pmid"]
    perez = entries[[r["source_id"] for r in records].index("ref237")]
    assert perez["authors"] == ["Pérez-García, J. M."]


def test_csl_json_of_every_source_parses_back(records):
    items = json.loads(citations.to_csl_json(records))
    assert [i["id"] for i in items] == [r["source_id"] for r in records]
    by_id = {i["id"]: i for i in items}
    assert by_id["ref028"]["issued"] == {"date-parts": [[2016]]}
    assert by_id["ref028"]["DOI"] == "10.1001/jama.2016.9839"
    assert by_id["ref002"]["author"] == [{"family": "Lamba", "given": "N."}, {"family": "Wen", "given": "P. Y."},
                                         {"family": "Aizer", "given": "A. A."}]
    assert by_id["ref012"]["author"] == [{"literal": "National Comprehensive Cancer Network"}]
    assert all(i["type"] == "article-journal" and i["title"] for i in items)


@pytest.mark.parametrize("authors, first, expected", [
    ("Subbiah, V., Burris H. A. 3rd & Kurzrock, R.", None,
     [{"family": "Subbiah", "given": "V."}, {"family": "Burris", "given": "H. A. 3rd"},
      {"family": "Kurzrock", "given": "R."}]),
    ("Belohlávek, O., Simonová, G., Kantorová, I., Novotný, J. Jr. & Liscák, R.", None,
     [{"family": "Belohlávek", "given": "O."}, {"family": "Simonová", "given": "G."},
      {"family": "Kantorová", "given": "I."}, {"family": "Novotný", "given": "J. Jr."},
      {"family": "Liscák", "given": "R."}]),
    ("Roth O’Brien, D. A. et al.", None, [{"family": "Roth O’Brien", "given": "D. A."}]),
    (None, "Bernardes da Cunha S", [{"family": "Bernardes da Cunha", "given": "S."}]),
    ("US Food and Drug Administration", None, [{"literal": "US Food and Drug Administration"}]),
])
def test_author_lists_parse_into_family_and_given_names(authors, first, expected):
    assert citations.parse_authors(authors, first)[0] == expected


def listed_names(authors) -> list[str]:
    """The people a stored author list names ("Lamba, N., Wen, P. Y. & Aizer, A. A." -> 3), counted independently of
    kb.citations: one set of initials per person."""
    import re

    text = re.sub(r",?\s*\bet al\.?$", "", clean(authors))
    return re.findall(r"(?:^|,|&)\s*([^,&]+?)(?:,\s*|\s+)(?:[A-Z]\.\s?-?)+(?:\s*(?:Jr|Sr|2nd|3rd)\.?)?(?=\s*(?:,|&|$))",
                      text)


def test_every_listed_author_reaches_bibtex_ris_and_csl_json(records):
    people = [r for r in records if clean(r["authors"]) and "," in clean(r["authors"])]
    bib = {e["note"].split()[-1]: e for e in bibtexparser.parse_string(
        citations.to_bibtex(people), append_middleware=[LatexDecodingMiddleware()]).entries}
    ris = rispy.loads(citations.to_ris(people))
    csl = {i["id"]: i for i in json.loads(citations.to_csl_json(people))}
    multi = 0
    for record, ris_entry in zip(people, ris):
        expected = len(listed_names(record["authors"]))
        more = clean(record["authors"]).endswith(("et al.", "et al"))
        names = [n for n in bib[record["source_id"]]["author"].split(" and ") if n != "others"]
        assert len(names) == expected, record["authors"]
        assert len(ris_entry["authors"]) == expected and len(csl[record["source_id"]]["author"]) == expected
        assert bib[record["source_id"]]["author"].endswith(" and others") == more
        assert ("ends with et al" in csl[record["source_id"]].get("note", "")) == more
        multi += expected > 1
    assert multi >= 30  # the lists that name several people, e.g. Ammirati et al.'s five authors


def test_a_single_author_written_without_a_comma_is_a_person():
    entry = bibtexparser.parse_string(citations.to_bibtex([{"source_id": "x", "authors": "Barnett G. et al.",
                                                            "year": 2010, "title": "t"}])).entries[0]
    assert entry["author"] == "Barnett, G. and others"
