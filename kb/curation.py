"""Merging a curation batch into data/: ``python -m kb merge data/staging/<batch> [...]``.

A batch folder holds ``<table>.csv`` files with the table's columns, and optionally ``vocab_additions.csv``
(table,id,name,extra) and ``sources_patch.csv`` (source_id,pmid,doi,verified_in,note). The merge appends the rows
to data/ only when data/ plus every batch validate together; otherwise it lists the problems and writes nothing.
"""

from __future__ import annotations

import csv
from pathlib import Path

from kb.build import load_and_validate
from kb.config import DATA_DIR, TABLES
from kb.schema import tables

# Vocabulary tables a batch may extend, with the column that each `vocab_additions.csv` field goes to.
VOCAB_COLUMNS = {
    "endpoints": ("endpoint_id", "name", "description"),
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
            new[extra_col] = (row.get("extra") or "").strip() or _default_extra(table)
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


def merge(batches: list[Path], data_dir: Path = DATA_DIR) -> list[str]:
    """Validate data/ + batches together; if valid, append every batch's rows to data/. Returns problems."""
    for batch in batches:
        apply_vocab_additions(batch, data_dir)
    _, problems = load_and_validate(data_dir, batches)
    if problems:
        return [str(p) for p in problems]
    for batch in batches:
        apply_sources_patch(batch, data_dir)
        for table in TABLES:
            extra = batch / f"{table}.csv"
            if not extra.exists():
                continue
            target = data_dir / f"{table}.csv"
            write_rows(target, tables()[table].column_names, read_rows(target) + read_rows(extra))
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
