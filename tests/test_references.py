"""The bibliography: every reference of the seed review parsed, checked against data/sources.csv one for one."""

import csv

import pytest

from kb.config import DATA_DIR, SEED_DIR
from kb.references import CORRECTIONS, parse_reference, parse_seed, reference_lines, split_authors

SEEDS = sorted(SEED_DIR.glob("003_*.txt"))
if not SEEDS:
    pytest.skip(f"seed texts not found in {SEED_DIR} (set KB_SEEDS to ../shared/seeds)", allow_module_level=True)
SEED = SEEDS[0]
PARSED = parse_seed(SEED)
ROWS = list(csv.DictReader((DATA_DIR / "sources.csv").open(encoding="utf-8")))
BY_REF = {int(r["ref_number"]): r for r in ROWS if r["ref_number"]}


def test_seed_has_263_references():
    assert len(reference_lines(SEED.read_text(encoding="utf-8"))) == 263


def test_sources_holds_265_rows_263_references_and_the_two_seeds():
    assert len(ROWS) == 265
    assert sorted(BY_REF) == list(range(1, 264))
    assert {r["source_id"] for r in ROWS if not r["ref_number"]} == {"seed_srs_review", "seed_imaging_review"}


def test_no_source_is_duplicated():
    ids = [r["source_id"] for r in ROWS]
    assert len(ids) == len(set(ids))
    titles = [r["title"].lower() for r in ROWS]
    assert len(titles) == len(set(titles))


@pytest.mark.parametrize("parsed", PARSED, ids=lambda p: f"ref{int(p['ref_number']):03d}")
def test_each_reference_matches_its_row(parsed):
    row = BY_REF[int(parsed["ref_number"])]
    assert row["source_id"] == f"ref{int(parsed['ref_number']):03d}"
    for field in ("authors", "first_author", "title", "journal", "year", "volume", "pages"):
        assert row[field] == parsed.get(field, ""), field
    if int(parsed["ref_number"]) in CORRECTIONS:
        assert row["note"], "a corrected entry says so in its note"


@pytest.mark.parametrize("number, must_have, must_not_have", [
    (26, "brain metastases: a randomized controlled trial", "metastasesa"),
    (227, "5-year outcomes from the phase III CROWN study", "phathe"),
    (226, "from the phase III CROWN study", None),
])
def test_garbled_titles_are_corrected(number, must_have, must_not_have):
    title = BY_REF[number]["title"]
    assert must_have in title
    if must_not_have:
        assert must_not_have not in title
    assert "corrected" in BY_REF[number]["note"].lower() or "completed" in BY_REF[number]["note"].lower()


def test_nccn_entry_keeps_the_year_its_citation_gives_and_the_version_in_its_title():
    assert BY_REF[12]["year"] == "2025" and "4.2024" in BY_REF[12]["title"] and "year" in BY_REF[12]["note"].lower()


@pytest.mark.parametrize("line, first_author, title, journal, year", [
    ("Subbiah, V., Burris H. A. 3rd & Kurzrock, R. Basket trials. Cancer 130, 186–200 (2023).",
     "Subbiah V", "Basket trials", "Cancer", "2023"),
    ("Long, G. V. et al. ABC 7-year follow-up. Lancet Oncol. https://doi.org/10.1016/s1470-2045(24)00735-6 (2025).",
     "Long GV", "ABC 7-year follow-up", "Lancet Oncol.", "2025"),
    ("US Food and Drug Administration. FDA–NBTS public workshop. FDA (2019).",
     "US Food and Drug Administration", "FDA–NBTS public workshop", "FDA", "2019"),
    ("Tomé, W. A. & Fowler, J. F. Selective boosting. Int. J. Radiat. Oncol. Biol. Phys. 48, 593–599 (2000).",
     "Tomé WA", "Selective boosting", "Int. J. Radiat. Oncol. Biol. Phys.", "2000"),
    ("Wiggenraad, R. et al. Dose-effect relation. A systematic review. Radiother. Oncol. 98, 292–297 (2011).",
     "Wiggenraad R", "Dose-effect relation. A systematic review", "Radiother. Oncol.", "2011"),
])
def test_parse_reference_cases(line, first_author, title, journal, year):
    parsed = parse_reference(line)
    assert (parsed["first_author"], parsed["title"], parsed["journal"], parsed["year"]) == (
        first_author, title, journal, year)


def test_unreadable_author_block_raises_a_clear_error():
    with pytest.raises(ValueError, match="cannot read an author"):
        split_authors("not a reference at all")
