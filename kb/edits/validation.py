"""Validating a whole record before it is proposed: kb.validate's rules per row, the CHECKs it does not say in
words yet, keys used twice or by other records, rows outside the record that still cite it, and the reason.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import duckdb

from kb import validate
from kb.edits.fields import enumerations
from kb.edits.kinds import ID_PATTERN, KINDS, _check_kind, _pk, pk_columns, q, record_tables
from kb.edits.records import _canonical
from kb.edits.transaction import _rows
from kb.schema import tables
from kb.validate import Problem

MIN_REASON_LENGTH = 3


def _known_keys(cur: duckdb.DuckDBPyConnection, table: str, record_id: str,
                typed_arms: set[str]) -> dict[str, dict[str, set]]:
    """For each table of the record: 'parent.column' -> keys a foreign key may point to."""
    out: dict[str, dict[str, set]] = {}
    cache: dict[str, set] = {}
    for t in record_tables(table):
        known: dict[str, set] = {}
        for _col, parent, parent_col in tables()[t].foreign_keys:
            name = parent + "." + parent_col
            if t != table and parent == table:
                known[name] = {record_id}               # children belong to this record
            elif t != table and parent == "arms":
                known[name] = typed_arms                # outcomes and interventions name this study's arms
            else:
                if name not in cache:
                    cache[name] = {r[0] for r in cur.execute(
                        "SELECT " + q(parent_col) + " FROM " + q(parent)).fetchall()}
                known[name] = cache[name]
        out[t] = known
    return out


def _enum_problems(table: str, typed: Mapping[str, Any], line: int | None) -> list[Problem]:
    problems = []
    for (t, col), allowed in enumerations().items():
        value = typed.get(col)
        if t == table and value is not None and str(value) not in allowed:
            problems.append(Problem(table, line, col, f"{str(value)[:60]!r} is not allowed — choose one of: "
                                                      + ", ".join(allowed)))
    return problems


def extra_rules(table: str, r: Mapping[str, Any], line: int | None = None) -> list[Problem]:
    """CHECKs of schema.sql that kb/validate.py does not (yet) say in words; found by the property tests in
    tests/test_edits.py. Also the CHECK (col IN …) lists, via ``enumerations``."""
    problems = _enum_problems(table, r, line)

    def add(col: str, message: str) -> None:
        problems.append(Problem(table, line, col, message))

    if table == "sources" and r.get("ref_number") is not None and not 1 <= r["ref_number"] <= 263:
        add("ref_number", f"reference number {r['ref_number']} is outside the review's 1–263 (leave it empty for a "
                          "source the review does not cite)")
    if table == "outcomes":
        if r.get("timepoint_months") is not None and r["timepoint_months"] <= 0:
            add("timepoint_months", f"the time point must be after the start (got {r['timepoint_months']:g} months)")
        if r.get("unit") == "%":
            if r.get("ci_low") is not None and r["ci_low"] < 0:
                add("ci_low", f"a percentage's lower 95% CI cannot be below 0 (got {r['ci_low']:g})")
            if r.get("ci_high") is not None and r["ci_high"] > 100:
                add("ci_high", f"a percentage's upper 95% CI cannot be above 100 (got {r['ci_high']:g})")
        if r.get("statistic") == "count" and r.get("value") is not None and r["value"] < 0:
            add("value", f"a count cannot be negative (got {r['value']:g})")
    if table == "drug_toxicity" and r.get("effect_value") is not None and r["effect_value"] <= 0:
        add("effect_value", f"an effect size (OR, HR, RR…) must be greater than 0 (got {r['effect_value']:g})")
    return problems


def check_record(con_or_cur: duckdb.DuckDBPyConnection, table: str, record_id: str | None,
                 raw: Mapping[str, Sequence[Mapping[str, Any]]], creating: bool) -> tuple[dict, list[Problem]]:
    """Validate a whole record from form or CSV text. Returns the typed record and every problem found.

    ``raw`` is ``{table: [row, …]}``; child rows may leave ``study_id`` empty (it is this study).
    Problems carry the table, the row number within that table (None for the record's own fields) and the column.
    """
    _check_kind(table)
    (pk,) = pk_columns(table)
    problems: list[Problem] = []
    for t in raw:
        if t not in record_tables(table):
            problems.append(Problem(table, None, None, f"a {KINDS[table][0]} has no {t}"))
    roots = list(raw.get(table) or [])
    if len(roots) != 1:
        return {}, problems + [Problem(table, None, None, "exactly one record is needed")]
    root_raw = dict(roots[0])
    rid = str(root_raw.get(pk) or "").strip() if creating else (record_id or "")
    if creating and not ID_PATTERN.fullmatch(rid):
        problems.append(Problem(table, None, pk, "an id of letters, digits and _ . : + - (no spaces, up to 120 "
                                                 "characters) is required, e.g. smith2024"))
    if not creating and str(root_raw.get(pk) or record_id).strip() != record_id:
        problems.append(Problem(table, None, pk, "the id of an existing record cannot be changed"))
    root_raw[pk] = rid
    children_raw: dict[str, list[dict]] = {}
    for child in KINDS[table][1]:
        rows = []
        for r in raw.get(child) or []:
            r = dict(r)
            if "study_id" in tables()[child].column_names and not str(r.get("study_id") or "").strip():
                r["study_id"] = rid
            rows.append(r)
        children_raw[child] = rows
    arm_ids = {str(r.get("arm_id") or "").strip() for r in children_raw.get("arms", [])} - {""}

    cur = con_or_cur.cursor()
    try:
        known = _known_keys(cur, table, rid, arm_ids)
        typed: dict[str, list[dict]] = {}
        for t, rows in [(table, [root_raw])] + list(children_raw.items()):
            out = []
            for i, r in enumerate(rows):
                line = None if t == table else i + 1
                rec, row_problems = validate.validate_record(t, r, known[t])
                problems += [Problem(t, line, p.column, p.message) for p in row_problems]
                # kb/validate.py now mirrors most of these CHECKs: say each field's problem once
                said = {p.column for p in row_problems}
                problems += [p for p in extra_rules(t, rec, line) if p.column not in said]
                for c in pk_columns(t):
                    if rec.get(c) is not None and t in ("arms", "outcomes") and not ID_PATTERN.fullmatch(str(rec[c])):
                        problems.append(Problem(t, line, c, "ids have letters, digits and _ . : + - only"))
                out.append(rec)
            typed[t] = out
        problems += _duplicate_keys(typed, table)
        problems += _collisions(cur, table, rid, typed, creating)
        if table == "dose_schedules" and typed[table]:
            links = _rows(cur, "SELECT study_id, source_id FROM study_sources WHERE source_id = ?",
                          [typed[table][0].get("source_id")])
            problems += [Problem(p.table, None, p.column, p.message)
                         for p in validate.dose_schedule_study_problems(typed[table], links)]
        if table == "studies":
            frames = {t: [dict(r, _line=None if t == table else i + 1, _file=None) for i, r in enumerate(rows)]
                      for t, rows in typed.items()}
            problems += [Problem(p.table, p.line, p.column, p.message) for p in validate._cross_table(frames)]
    finally:
        cur.close()
    return _canonical(typed), _unique(problems)


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _duplicate_keys(typed: Mapping[str, list[dict]], table: str) -> list[Problem]:
    problems = []
    for t, rows in typed.items():
        if t == table:
            continue
        seen: dict[tuple, int] = {}
        for i, r in enumerate(rows):
            key = _pk(t, r)
            if None in key:
                continue
            if key in seen:
                problems.append(Problem(t, i + 1, pk_columns(t)[-1],
                                        f"{', '.join(map(str, key))} is listed twice (also row {seen[key]})"))
            seen.setdefault(key, i + 1)
    return problems


def _collisions(cur: duckdb.DuckDBPyConnection, table: str, rid: str, typed: Mapping[str, list[dict]],
                creating: bool) -> list[Problem]:
    """Ids already used elsewhere: the record itself (when creating), arms and outcomes of other studies,
    reference numbers of other sources."""
    problems = []
    (pk,) = pk_columns(table)
    if creating and rid and cur.execute("SELECT count(*) FROM " + q(table) + " WHERE " + q(pk) + " = ?",
                                        [rid]).fetchone()[0]:
        problems.append(Problem(table, None, pk, f"a {KINDS[table][0]} with id {rid!r} already exists — edit it "
                                                 "instead, or choose another id"))
    for child in ("arms", "outcomes"):
        (cpk,) = pk_columns(child)
        for i, r in enumerate(typed.get(child, [])):
            if r.get(cpk) is None:
                continue
            owner = cur.execute("SELECT study_id FROM " + q(child) + " WHERE " + q(cpk) + " = ?",
                                [r[cpk]]).fetchone()
            if owner and owner[0] != rid:
                problems.append(Problem(child, i + 1, cpk, f"{r[cpk]!r} is already used by study {owner[0]!r}"))
    if table == "sources":
        ref = typed[table][0].get("ref_number")
        if ref is not None:
            other = cur.execute("SELECT source_id FROM sources WHERE ref_number = ? AND source_id <> ?",
                                [ref, rid]).fetchone()
            if other:
                problems.append(Problem(table, None, "ref_number", f"reference number {ref} is already used by "
                                                                   f"{other[0]}"))
    return problems


def _external_references(cur: duckdb.DuckDBPyConnection, table: str, current: Mapping[str, list[dict]],
                         target: Mapping[str, list[dict]] | None) -> list[Problem]:
    """Rows outside the record that still cite rows the change removes ('dose schedule X cites this study')."""
    problems = []
    own = {t: {_pk(t, r) for r in rows} for t, rows in current.items()}
    kept = {t: {_pk(t, r) for r in rows} for t, rows in (target or {}).items()}
    for t, rows in current.items():
        for r in rows:
            if _pk(t, r) in kept.get(t, set()):
                continue
            for child, child_table in tables().items():
                for col, parent, parent_col in child_table.foreign_keys:
                    if parent != t:
                        continue
                    refs = _rows(cur, "SELECT * FROM " + q(child) + " WHERE " + q(col) + " = ?", [r[parent_col]])
                    outside = [x for x in refs if _pk(child, x) not in own.get(child, set())]
                    if outside:
                        ids = ", ".join(str(_pk(child, x)[0]) for x in outside[:8])
                        more = f" and {len(outside) - 8} more" if len(outside) > 8 else ""
                        noun = KINDS.get(child, (child.replace("_", " "),))[0]
                        problems.append(Problem(t, None, parent_col,
                                                f"{r[parent_col]} is still cited by {len(outside)} {noun} row(s) "
                                                f"({ids}{more}) — change or retire those first"))
    return problems


def check_reason(reason: str | None) -> list[Problem]:
    if len((reason or "").strip()) < MIN_REASON_LENGTH:
        return [Problem("proposals", None, "reason", "every change needs a reason (e.g. 'corrected from Table 2 "
                                                     "of the full text')")]
    return []
