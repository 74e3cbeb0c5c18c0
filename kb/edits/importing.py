"""CSV import: check a whole file of records (every problem, by line and column) and propose it as one change."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from kb.edits.apply import _converge
from kb.edits.errors import ValidationFailed
from kb.edits.kinds import _check_kind, pk_columns
from kb.edits.proposals import _conflict, _require_editor, _store_proposal
from kb.edits.records import _load, _version, as_form
from kb.edits.transaction import _transaction
from kb.edits.validation import _external_references, check_reason, check_record
from kb.schema import tables
from kb.validate import Problem


@dataclass
class ImportReport:
    table: str
    changes: list[dict]
    problems: list[Problem]
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.changes)

    def problem_frame(self) -> pd.DataFrame:
        return pd.DataFrame([{"line": p.line, "column": p.column or "", "problem": p.message} for p in self.problems],
                            columns=["line", "column", "problem"])


def check_import(con: duckdb.DuckDBPyConnection, table: str, data: bytes | str) -> ImportReport:
    """Validate a CSV of ``table`` records. Every problem of the whole file is listed (line and column).

    The header must have the id column; other columns may be a subset of the table's — for an existing id only
    the columns in the file change (a study's arms and outcomes are kept), a new id creates a record.
    """
    _check_kind(table)
    (pk,) = pk_columns(table)
    report = ImportReport(table, [], [])
    add = report.problems.append
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        add(Problem(table, None, None, f"the file is not UTF-8 text ({exc.reason})", "csv"))
        return report
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    columns = tables()[table].column_names
    if pk not in header:
        add(Problem(table, 1, pk, f"the header needs the id column {pk!r}", "csv"))
    unknown = [h for h in header if h not in columns]
    if unknown:
        add(Problem(table, 1, None, f"unknown column(s) {', '.join(unknown)} — {table} has: {', '.join(columns)}",
                    "csv"))
    if len(set(header)) != len(header):
        add(Problem(table, 1, None, "a column name appears twice in the header", "csv"))
    if report.problems:
        return report
    seen: dict[str, int] = {}
    refs: dict[Any, int] = {}
    cur = con.cursor()
    try:
        for line, row in enumerate(reader, start=2):
            if None in row:
                add(Problem(table, line, None, "more cells than the header has columns", "csv"))
                continue
            rid = (row.get(pk) or "").strip()
            if rid in seen:
                add(Problem(table, line, pk, f"{rid!r} appears twice in the file (also line {seen[rid]})", "csv"))
                continue
            seen[rid] = line
            current = _load(cur, table, rid) if rid else None
            raw = as_form(current) if current else {table: [{}]}
            raw[table][0].update({k: v for k, v in row.items() if k in columns})
            typed, problems = check_record(cur, table, rid if current else None, raw, creating=current is None)
            for p in problems:
                add(Problem(table, line, p.column, (f"{p.table} row {p.line}: " if p.table != table else "")
                            + p.message, "csv"))
            if problems:
                continue
            ref = typed[table][0].get("ref_number") if table == "sources" else None
            if ref is not None:
                if ref in refs:
                    add(Problem(table, line, "ref_number", f"reference number {ref} is also on line {refs[ref]}",
                                "csv"))
                refs[ref] = line
            if typed == current:
                report.unchanged += 1
                continue
            if current is not None:
                for p in _external_references(cur, table, current, typed):
                    add(Problem(table, line, p.column, p.message, "csv"))
            report.changes.append({"action": "update" if current else "create", "table": table, "record_id": rid,
                                   "base_version": _version(cur, table, rid), "before": current, "after": typed,
                                   "_line": line})
    finally:
        cur.close()
    if not report.problems and report.changes:
        report.problems += _dry_run_import(con, table, report.changes)
    report.created = sum(c["action"] == "create" for c in report.changes)
    report.updated = sum(c["action"] == "update" for c in report.changes)
    return report


def _dry_run_import(con: duckdb.DuckDBPyConnection, table: str, changes: list[dict]) -> list[Problem]:
    """Each row against the database constraints, then all of them together; nothing is kept."""
    problems = []
    for change in changes:
        try:
            with _transaction(con, dry_run=True) as cur:
                _converge(cur, table, change["before"], change["after"])
        except ValidationFailed as exc:
            problems += [Problem(table, change["_line"], p.column, p.message, "csv") for p in exc.problems]
    if not problems:
        try:
            with _transaction(con, dry_run=True) as cur:
                for change in changes:
                    _converge(cur, table, change["before"], change["after"])
        except ValidationFailed as exc:
            problems += [Problem(table, None, p.column, "together with the other rows: " + p.message, "csv")
                         for p in exc.problems]
    return problems


def propose_import(con: duckdb.DuckDBPyConnection, editor: str, table: str, data: bytes | str, reason: str) -> int:
    """Validate a CSV and, only if the whole file is valid, save it as one proposal (one audit row per record
    when accepted). Raises ``ValidationFailed`` listing every problem; nothing is written then."""
    report = check_import(con, table, data)
    problems = check_reason(reason) + report.problems
    if not problems and not report.changes:
        problems.append(Problem(table, None, None, "the file changes nothing (every row equals the KB)", "csv"))
    if problems:
        raise ValidationFailed(problems)
    with _transaction(con) as cur:
        _require_editor(cur, editor)
        changes = []
        for c in report.changes:
            if _version(cur, table, c["record_id"]) != c["base_version"]:
                raise _conflict(cur, table, c["record_id"], c["base_version"], c["before"], "the file was checked")
            changes.append({k: v for k, v in c.items() if k != "_line"})
        label_ = f"{len(changes)} records ({report.created} new, {report.updated} changed)"
        return _store_proposal(cur, editor, "import", table, label_, reason, changes)
