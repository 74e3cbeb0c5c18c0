"""Merging a curation batch into data/: ``python -m kb merge data/staging/<batch> [...]``.

A batch folder holds ``<table>.csv`` files with the table's columns (new rows), and optionally:

- ``replace/<table>.csv``: corrected versions of rows already in data/, matched on the primary key (a curator who
  verified an existing ``unverified`` row writes the whole row here);
- ``vocab_additions.csv`` (table,id,name,extra) and ``sources_patch.csv`` (source_id,pmid,doi,verified_in,note).

The merge works on a scratch copy of data/: it applies everything there, validates the result as a whole and only
then copies the changed files back (each atomically). If anything is wrong it lists the problems and data/ is left
exactly as it was.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kb.build import load_and_validate
from kb.config import DATA_DIR, TABLES
from kb.schema import tables

# Vocabulary tables a batch may extend, with the column that each `vocab_additions.csv` field goes to.
VOCAB_COLUMNS = {
    "endpoints": ("endpoint_id", "name", "description"),
    "subgroups": ("subgroup_id", "name", "description"),
    "toxicities": ("toxicity", "name", None),
    "drugs": ("drug_id", "name", "drug_class"),
    "imaging_modalities": ("modality_id", "name", "kind"),
    "histologies": ("histology_id", "name", "primary_site"),
    "settings": ("setting_id", "name", "description"),
    "interventions": ("intervention_id", "name", "kind"),
    "rec_topics": ("topic_id", "name", None),
}


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    """Write a CSV atomically (temp file, then rename) so a crash never leaves half a file."""
    tmp = path.with_suffix(".csv.tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: ("" if r.get(c) is None else r.get(c)) for c in columns} for r in rows)
    tmp.replace(path)


def apply_vocab_additions(batch: Path, data_dir: Path = DATA_DIR) -> int:
    path = batch / "vocab_additions.csv"
    if not path.exists():
        return 0
    added = 0
    for row in read_rows(path):
        table = row["table"].strip()
        id_col, name_col, extra_col = VOCAB_COLUMNS[table]
        target = data_dir / f"{table}.csv"
        existing = read_rows(target)
        if any(r[id_col] == row["id"].strip() for r in existing):
            continue
        new = {c: "" for c in tables()[table].column_names}
        new[id_col], new[name_col] = row["id"].strip(), row["name"].strip()
        if extra_col:
            extra = (row.get("extra") or "").strip()
            if extra.startswith(extra_col + "="):  # curators sometimes name the column: "drug_class=mixed"
                extra = extra[len(extra_col) + 1:].strip()
            new[extra_col] = extra or _default_extra(table)
        write_rows(target, tables()[table].column_names, existing + [new])
        added += 1
    return added


def _default_extra(table: str) -> str:
    return {"drugs": "other", "imaging_modalities": "other", "histologies": "other", "interventions": "none"}.get(
        table, "")


def apply_sources_patch(batch: Path, data_dir: Path = DATA_DIR) -> int:
    """Fill PMID/DOI of sources from a batch (never overwrite a different value: report it instead)."""
    path = batch / "sources_patch.csv"
    if not path.exists():
        return 0
    target = data_dir / "sources.csv"
    rows = read_rows(target)
    by_id = {r["source_id"]: r for r in rows}
    changed = 0
    for patch in read_rows(path):
        row = by_id.get(patch["source_id"].strip())
        if row is None:
            continue
        for col in ("pmid", "doi"):
            value = (patch.get(col) or "").strip().removeprefix("https://doi.org/")
            if col == "pmid":
                value = value.removeprefix("PMID:").strip()
            if value and not row[col]:
                row[col] = value
                changed += 1
            elif value and row[col] and row[col].lower() != value.lower():
                print(f"  {row['source_id']}: {col} {row[col]!r} kept; batch says {value!r}")
        seen_in = (patch.get("verified_in") or "").strip()
        if seen_in and row["verification"] != "verified" and (row["pmid"] or row["doi"]):
            # the curator read this record's identifiers on the page named in verified_in
            row["verification"], row["verified_in"] = "verified", seen_in
            changed += 1
    write_rows(target, tables()["sources"].column_names, rows)
    return changed


def apply_replacements(batch: Path, data_dir: Path = DATA_DIR) -> list[str]:
    """Swap in the rows of ``batch/replace/<table>.csv`` by primary key. Returns problems (unknown keys)."""
    problems: list[str] = []
    for table in TABLES:
        path = batch / "replace" / f"{table}.csv"
        if not path.exists():
            continue
        key = tables()[table].primary_key
        target = data_dir / f"{table}.csv"
        rows = read_rows(target)
        position = {tuple(r[c] for c in key): i for i, r in enumerate(rows)}
        for line, new in enumerate(read_rows(path), start=2):
            k = tuple((new.get(c) or "").strip() for c in key)
            if k not in position:
                problems.append(f"{path} line {line}: there is no {table} row {'/'.join(k)!r} to replace "
                                f"(new rows go in {batch / (table + '.csv')})")
                continue
            rows[position[k]] = new
        write_rows(target, tables()[table].column_names, rows)
    return problems


@contextmanager
def _applied(batches: list[Path], data_dir: Path) -> Iterator[tuple[Path, list[str]]]:
    """A scratch copy of data/ with the batches applied, and the problems of the result as a whole."""
    with tempfile.TemporaryDirectory(prefix="kb-merge-") as scratch:
        work = Path(scratch) / data_dir.name  # same folder name, so messages read "data/outcomes.csv line 7"
        work.mkdir()
        for path in data_dir.glob("*.csv"):
            shutil.copy2(path, work / path.name)
        problems: list[str] = []
        for batch in batches:
            apply_vocab_additions(batch, work)
            apply_sources_patch(batch, work)  # before validation, so patched identifiers are checked too
            problems += apply_replacements(batch, work)
        if not problems:
            _, found = load_and_validate(work, batches)
            problems = [str(p) for p in found]
        if not problems:
            for batch in batches:
                for table in TABLES:
                    extra = batch / f"{table}.csv"
                    if extra.exists():
                        target = work / f"{table}.csv"
                        write_rows(target, tables()[table].column_names, read_rows(target) + read_rows(extra))
        yield work, problems


def check(batches: list[Path], data_dir: Path = DATA_DIR) -> list[str]:
    """The problems data/ would have after merging these batches (nothing is written)."""
    with _applied([Path(b) for b in batches], data_dir) as (_, problems):
        return problems


def merge(batches: list[Path], data_dir: Path = DATA_DIR) -> list[str]:
    """Apply batches to a scratch copy of data/, validate it whole, then copy it back. Returns problems."""
    with _applied([Path(b) for b in batches], data_dir) as (work, problems):
        if problems:
            return problems
        for path in sorted(work.glob("*.csv")):
            final = data_dir / path.name
            if not final.exists() or final.read_bytes() != path.read_bytes():
                tmp = final.with_suffix(".csv.tmp")
                shutil.copy2(path, tmp)
                tmp.replace(final)
    return []


def register_cli(sub) -> None:
    p = sub.add_parser("merge", help="validate curation batches with data/ and append them to data/")
    p.add_argument("batches", nargs="+", help="batch folders, e.g. data/staging/studies_a")

    def run(args) -> int:
        problems = merge([Path(b) for b in args.batches])
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} problem(s); nothing merged.")
            return 1
        print("Merged.")
        return 0

    p.set_defaults(func=run)
