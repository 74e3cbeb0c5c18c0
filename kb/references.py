"""Parse the SRS review's reference list (Nature style) into `sources` rows.

The list in ``shared/seeds/003_*.txt`` has one reference per line after the line ``References``::

    Brown, P. D. et al. Effect of radiosurgery alone vs ... trial. JAMA 316, 401–409 (2016).

This module is kept so the parse can be re-run and re-checked (``python -m kb parse-references SEED``); the result
was checked by hand and lives in ``data/sources.csv``, where the known defects of the extracted list are corrected
(see ``CORRECTIONS`` and the ``note`` column).
"""

from __future__ import annotations

import re
from pathlib import Path

# Initials such as "P. D.", "J.-C.", "H. R. R.", optionally followed by Jr./3rd.
_INITIALS = r"(?:[A-ZÀ-Þ][a-z]?\.(?:[ -]?[A-ZÀ-Þ][a-z]?\.)*)(?: Jr\.| 3rd)?"
_AUTHOR = re.compile(rf"(?P<surname>[^,&]+?),? (?P<initials>{_INITIALS})")

# Tail: "Journal Abbrev. 45, 427–434 (1999)." or "Journal https://doi.org/10.x/y (2025)."
_TAIL_VOLUME = re.compile(
    r"^(?P<journal>.+?) (?P<volume>\d+[A-Za-z]?), (?P<pages>[^()]+?),? \((?P<year>\d{4})\)\.?$"
)
_TAIL_DOI = re.compile(r"^(?P<journal>.+?) https://doi\.org/(?P<doi>\S+) \((?P<year>\d{4})\)\.?$")
_TAIL_PUBLISHER = re.compile(r"^(?P<journal>.+?) \((?P<publisher>[^()]+), (?P<year>\d{4})\)\.?$")
_TAIL_YEAR_ONLY = re.compile(r"^(?P<journal>.+?) \((?P<year>\d{4})\)\.?$")

# Words that may appear in a journal abbreviation although they are not capitalised.
_JOURNAL_LOWER_OK = {"npj", "iScience", "e", "of", "and"}

# Corporate authors and lines whose author block does not follow "Surname, I." (checked by hand).
CORPORATE_AUTHORS = ("National Comprehensive Cancer Network", "US Food and Drug Administration")

# Corrections of the seed list as extracted (see shared/seeds/README.md). Keyed by reference number.
CORRECTIONS: dict[int, dict[str, str]] = {
    26: {
        "title": "Stereotactic radiosurgery plus whole-brain radiation therapy vs stereotactic radiosurgery alone "
        "for treatment of brain metastases: a randomized controlled trial",
        "note": "Title corrected: the extracted list runs 'metastases' into 'a randomized' ('metastasesa').",
    },
    12: {  # the citation's year, not the version's (issue 15): the version stays in the title
        "year": "2025",
        "note": "Year 2025 as the review's citation gives it ('(National Comprehensive Cancer Network, 2025)', "
        "outside the usual place in the extracted list); the version, 4.2024, stays in the title.",
    },
    226: {
        "title": "Post hoc analysis of lorlatinib intracranial efficacy and safety in patients with ALK-positive "
        "advanced non-small-cell lung cancer from the phase III CROWN study",
        "note": "Title completed: the extracted list stops at 'in patients with.'.",
    },
    227: {
        "title": "Lorlatinib versus crizotinib in patients with advanced ALK-positive non-small cell lung cancer: "
        "5-year outcomes from the phase III CROWN study",
        "note": "Title corrected: the extracted list reads 'from phathe se III CROWN study'.",
    },
}


def reference_lines(seed_text: str) -> list[str]:
    """Return the reference lines: every line after ``References`` up to ``Acknowledgements``.

    >>> reference_lines("x\\nReferences\\nA, B. T. J 1, 2 (2000).\\nAcknowledgements\\n")
    ['A, B. T. J 1, 2 (2000).']
    """
    lines = seed_text.splitlines()
    start = lines.index("References") + 1
    end = lines.index("Acknowledgements", start)
    return [line.strip() for line in lines[start:end] if line.strip()]


def split_authors(text: str) -> tuple[str, str, str]:
    """Split a reference into (authors, first_author, rest).

    >>> split_authors("Kocher, M. et al. Adjuvant whole-brain radiotherapy. J. Clin. Oncol. 29, 134–141 (2011).")[:2]
    ('Kocher, M. et al.', 'Kocher M')
    """
    for corporate in CORPORATE_AUTHORS:
        if text.startswith(corporate + ". "):
            return corporate, corporate, text[len(corporate) + 2 :]
    pos = 0
    names: list[str] = []
    while True:
        match = _AUTHOR.match(text, pos)
        if not match:
            raise ValueError(f"cannot read an author at: {text[pos:pos + 40]!r}")
        names.append(f"{match['surname'].strip()} {match['initials'].replace('.', '').replace(' ', '')}")
        pos = match.end()
        if text.startswith(" et al.", pos):
            pos += len(" et al.")
            break
        if text.startswith(", ", pos):
            # another author follows ", " unless the title starts here (title never starts with "Surname, I.")
            nxt = _AUTHOR.match(text, pos + 2)
            if nxt and nxt.start() == pos + 2:
                pos += 2
                continue
        if text.startswith(" & ", pos):
            pos += 3
            continue
        break
    authors = text[:pos].strip()
    rest = text[pos:].lstrip()
    first = names[0]
    return authors, first, rest


def _journal_like(text: str) -> bool:
    """True when every word looks like part of a journal name (abbreviated or capitalised)."""
    for word in text.split():
        bare = word.strip(".,:;()")
        if not bare or bare in _JOURNAL_LOWER_OK or word.endswith("."):
            continue
        if not (bare[0].isupper() or bare[0].isdigit()):
            return False
    return True


def split_title_journal(rest: str) -> dict[str, str]:
    """Split "Title. Journal Vol, pages (Year)." into its fields."""
    fields: dict[str, str] = {}
    for pattern in (_TAIL_DOI, _TAIL_VOLUME, _TAIL_PUBLISHER, _TAIL_YEAR_ONLY):
        match = pattern.match(rest)
        if match:
            fields = {k: v for k, v in match.groupdict().items() if v is not None}
            break
    if not fields:
        raise ValueError(f"cannot read journal/year in: {rest!r}")
    title_journal = fields.pop("journal")
    # The title ends at the earliest ". " after which everything reads like a journal name.
    cut = None
    for match in re.finditer(r"[.?] ", title_journal):
        if _journal_like(title_journal[match.end():]):
            cut = match
            break
    if cut is None and "publisher" in fields:  # a report with no journal: "Title (Publisher, Year)."
        fields["title"], fields["journal"] = title_journal, fields.pop("publisher")
        return fields
    if cut is None:
        raise ValueError(f"cannot split title and journal in: {title_journal!r}")
    fields["title"] = title_journal[: cut.start() + (1 if cut.group(0).startswith("?") else 0)].strip()
    fields["journal"] = title_journal[cut.end():].strip()
    if "publisher" in fields:
        fields["journal"] = f"{fields['journal']} ({fields.pop('publisher')})"
    return fields


def parse_reference(text: str) -> dict[str, str]:
    """Parse one reference line into authors, first_author, title, journal, year, volume, pages, doi.

    >>> r = parse_reference("Brown, P. D. et al. Memantine trial. Neuro-Oncol. 15, 1429–1437 (2013).")
    >>> (r["first_author"], r["title"], r["journal"], r["year"], r["volume"], r["pages"])
    ('Brown PD', 'Memantine trial', 'Neuro-Oncol.', '2013', '15', '1429–1437')
    """
    authors, first, rest = split_authors(text)
    fields = split_title_journal(rest)
    fields.update(authors=authors, first_author=first)
    return fields


_PUB_TYPE_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("guideline", re.compile(r"guideline|consensus|position statement|appropriate use|recommendations|workshop"
                             r"|quality assurance", re.I)),
    ("meta_analysis", re.compile(r"meta-analys|systematic review|pooled analysis|umbrella review", re.I)),
    ("randomized_trial", re.compile(r"randomi[sz]ed|phase III|phase 3 trial", re.I)),
    ("preclinical", re.compile(r"\bmouse\b|\bmice\b|murine|in vitro|exonuclease|cellular radiosensitivity", re.I)),
    ("review", re.compile(r"\breview\b|perspectives|future directions|challenges|riddles|landscape|paradigm", re.I)),
    ("prospective", re.compile(r"prospective|phase (I|II|1|2)\b|phase 2b|single-arm|trial", re.I)),
    ("retrospective", re.compile(r"retrospective|multi-institutional|cohort|institutional|analysis|outcomes"
                                 r"|experience|patients", re.I)),
]


def guess_pub_type(title: str) -> str:
    """A first guess of the publication type from the title; data/sources.csv holds the hand-checked value.

    >>> guess_pub_type("Memantine for the prevention of cognitive dysfunction: a randomized, placebo-controlled trial")
    'randomized_trial'
    """
    for pub_type, pattern in _PUB_TYPE_RULES:
        if pattern.search(title):
            return pub_type
    return "other"


def parse_seed(path: Path) -> list[dict[str, str]]:
    """Parse every reference of the seed review, numbered from 1, with CORRECTIONS applied."""
    rows = []
    for number, line in enumerate(reference_lines(path.read_text(encoding="utf-8")), start=1):
        row = parse_reference(line)
        row["ref_number"] = str(number)
        row["raw"] = line
        row.update(CORRECTIONS.get(number, {}))
        rows.append(row)
    return rows


# Publication types corrected by hand after reading each title (the rules above are only a first guess).
PUB_TYPE_CHECKED: dict[int, str] = {
    2: "review", 11: "review", 15: "guideline", 22: "randomized_trial", 23: "meta_analysis", 25: "randomized_trial",
    30: "other", 35: "review", 37: "retrospective", 42: "retrospective", 46: "review", 48: "prospective",
    49: "review", 51: "review", 56: "retrospective", 57: "review", 60: "retrospective", 62: "retrospective",
    73: "review", 75: "other", 78: "retrospective", 82: "retrospective", 88: "retrospective",
    90: "retrospective", 91: "randomized_trial", 92: "review", 93: "other", 94: "other", 100: "other",
    103: "other", 104: "retrospective", 105: "retrospective", 106: "other", 107: "other", 112: "retrospective",
    113: "retrospective", 114: "retrospective", 117: "retrospective", 118: "retrospective", 119: "review",
    120: "review", 122: "retrospective", 123: "retrospective", 124: "retrospective", 125: "retrospective",
    128: "retrospective", 129: "retrospective", 130: "retrospective", 131: "retrospective",
    135: "retrospective", 136: "retrospective", 138: "other", 139: "other", 140: "other", 141: "guideline",
    143: "review", 146: "other", 148: "review", 149: "retrospective", 151: "retrospective", 153: "other",
    154: "review", 157: "retrospective", 162: "other", 166: "retrospective", 169: "prospective", 175: "other",
    178: "retrospective", 180: "retrospective", 181: "retrospective", 182: "retrospective", 184: "review",
    191: "review", 192: "preclinical", 193: "review", 195: "other", 197: "other", 199: "preclinical",
    200: "review", 202: "preclinical", 203: "preclinical", 204: "retrospective", 206: "review",
    210: "retrospective", 212: "retrospective", 213: "retrospective", 215: "retrospective", 218: "other",
    220: "review", 221: "review", 223: "randomized_trial", 224: "randomized_trial", 225: "randomized_trial",
    235: "randomized_trial", 239: "prospective", 244: "preclinical", 249: "prospective", 250: "retrospective",
    251: "retrospective", 253: "retrospective", 254: "retrospective", 255: "retrospective",
    256: "retrospective", 259: "retrospective", 262: "meta_analysis",
}

# The two seed reviews themselves (shared/seeds/README.md).
SEED_SOURCES: list[dict[str, str]] = [
    {"source_id": "seed_srs_review", "cited_in": "seed_review",
     "authors": "Mansouri, A., Ozair, A., Bhanja, D. et al.", "first_author": "Mansouri A",
     "title": "Stereotactic radiosurgery for patients with brain metastases: current principles, expanding "
              "indications and opportunities for multidisciplinary care",
     "journal": "Nat. Rev. Clin. Oncol.", "year": "2025", "volume": "22", "pages": "327–347",
     "doi": "10.1038/s41571-025-01013-1", "pub_type": "review", "verification": "verified",
     "verified_in": "DOI:10.1038/s41571-025-01013-1",
     "note": "Seed review: its reference list is the backbone of this table (ref001–ref263)."},
    {"source_id": "seed_imaging_review", "cited_in": "seed_review",
     "authors": "", "first_author": "",
     "title": "Brain metastases: the role of clinical imaging",
     "journal": "Br. J. Radiol.", "year": "2022", "volume": "95", "issue": "1130", "pages": "20210944",
     "doi": "", "pub_type": "review", "verification": "verified", "verified_in": "https://pure.eur.nl/en/publications/brain-metastases-the-role-of-clinical-imaging",
     "note": "Seed imaging review. The seed record names no authors and gives no DOI; both left empty because they could not be verified (the publisher record checked lists neither)."},
]

SOURCE_COLUMNS = ["source_id", "ref_number", "cited_in", "authors", "first_author", "title", "journal", "year",
                  "volume", "issue", "pages", "doi", "pmid", "pub_type", "verification", "verified_in", "note"]


def source_rows(seed_path: Path) -> list[dict[str, str]]:
    """Rows for data/sources.csv: the 263 parsed references (ref001…) then the two seeds."""
    rows = []
    for parsed in parse_seed(seed_path):
        number = int(parsed["ref_number"])
        rows.append({
            **{c: "" for c in SOURCE_COLUMNS},
            **{k: v for k, v in parsed.items() if k in SOURCE_COLUMNS},
            "source_id": f"ref{number:03d}", "cited_in": "srs_review_2025",
            "pub_type": PUB_TYPE_CHECKED.get(number, guess_pub_type(parsed["title"])),
            "verification": "secondary",
            "note": parsed.get("note", ""),
        })
    rows += [{**{c: "" for c in SOURCE_COLUMNS}, **seed} for seed in SEED_SOURCES]
    return rows
