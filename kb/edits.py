"""Editing: proposals, review, audit history, revert and CSV import — with no lost updates.

Lifecycle contract:

- An editor's change is a **proposal** (``propose_create``, ``propose_update``, ``propose_retire``,
  ``propose_revert``, ``propose_import``). It is validated first (every problem at once, per field, in words) and
  tried against the database constraints in a transaction that is rolled back; nothing reaches the tables readers
  see. Every proposal needs a reason.
- Another editor ``accept``s or ``reject``s it with a comment; nobody reviews their own (checked here and by a CHECK
  in ``proposals``). ``accept`` applies every change of the proposal **in one transaction together with its
  audit_log row** (before and after as JSON) and the record's new version.
- **Versions.** A record's version is the number of its audit_log rows. A proposal remembers the version it was
  made from; saving or accepting over a newer version raises ``Conflict``, whose message says what changed
  meanwhile, by whom and why. All writes go through ``WRITE_LOCK`` and a DuckDB transaction, and
  ``record_versions``' key stops two writers committing the same version even from separate connections.
- **Where.** Every function takes ``con``: the editorial store (``kb.store.Store``, opened per operation under a
  lock that other processes respect; an accept is published as a new release before it returns) or a plain DuckDB
  connection to a store file (tests, one-off scripts). Nothing here knows which.
- **Records** are what an editor sees as one thing: a study *with* its arms, arm interventions, outcomes, sources,
  histologies and settings; a source; a guideline; a recommendation; a dose schedule; a drug–SRS toxicity signal;
  an imaging row. They are JSON-able dicts ``{table: [row, ...]}``.
- **Retire** removes a record from the tables readers query (nothing to filter in reader queries) and keeps it
  whole in audit_log's ``before_json``, from where a revert brings it back. A record that others still cite cannot
  be retired (the message lists who cites it). DuckDB cannot delete a row and the rows referencing it in one
  transaction, so a retired study's arms and study row are deleted in follow-up steps recorded in
  ``pending_cleanup`` with the audit row; ``finish_cleanup`` runs before every write, so a crash in between is
  finished by the next write.
- ``KB_READ_ONLY=1`` turns every write into ``EditingDisabled``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterator, Mapping, Sequence

import duckdb
import pandas as pd

from kb import validate
from kb.config import read_only
from kb.schema import RUNTIME_SCHEMA_PATH, create_schema, tables
from kb.store import holding, publish_if_ahead
from kb.validate import Problem, label

WRITE_LOCK = threading.Lock()  # one writer at a time in this process (DuckDB allows one writing process per file)

# ------------------------------------------------------------------------------------------------ what can be edited
# Root table -> (noun, the child tables that belong to the record, in the order they are written).
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "studies": ("study", ("study_sources", "study_histologies", "study_settings", "arms", "arm_interventions",
                          "outcomes")),
    "sources": ("source", ()),
    "guidelines": ("guideline", ()),
    "recommendations": ("recommendation", ()),
    "dose_schedules": ("dose schedule", ()),
    "drug_toxicity": ("drug–SRS toxicity signal", ()),
    "imaging": ("imaging row", ()),
}
KIND_TITLES = {"studies": "Studies", "sources": "Sources", "guidelines": "Guidelines",
               "recommendations": "Recommendations", "dose_schedules": "Dose schedules",
               "drug_toxicity": "Drug–SRS toxicity", "imaging": "Imaging"}
# The column shown next to the id in pickers.
TITLE_COLUMNS = {"studies": "short_name", "sources": "title", "guidelines": "short_name",
                 "recommendations": "recommendation", "dose_schedules": "description", "drug_toxicity": "finding",
                 "imaging": "summary"}
# Children deleted with the record's first transaction (nothing references them).
_LEAF_CHILDREN = ("outcomes", "arm_interventions", "study_sources", "study_histologies", "study_settings")
LONG_TEXT = {"note", "description", "key_result", "finding", "summary", "recommendation", "sequencing_guidance",
             "authors", "title", "population", "scope", "size_note", "population_note", "concurrency_window",
             "primary_endpoint", "risk_endpoint"}
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,119}")
MIN_REASON_LENGTH = 3
TITLE_DUPLICATE_SCORE = 90  # rapidfuzz token_sort_ratio at or above which two titles are "near-identical"


# ------------------------------------------------------------------------------------------------ errors
class EditError(Exception):
    """Base class: ``str(exc)`` is a sentence for the editor."""


class EditingDisabled(EditError):
    def __init__(self) -> None:
        super().__init__("Editing is disabled on this instance: it is a reader (KB_READ_ONLY=1) and serves the "
                         "published releases only. Edits are made on the one editor instance.")


class ValidationFailed(EditError):
    """The change breaks rules; ``problems`` lists every one, with table, row (line) and column."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(describe_problem(p) for p in problems[:5]))


class Conflict(EditError):
    """Somebody else's change was accepted since this one was made. ``changes`` says what changed meanwhile."""

    def __init__(self, message: str, changes: list[str]):
        self.changes = changes
        super().__init__(message)


class ReviewError(EditError):
    """Not allowed to review (own proposal, not pending, not an editor)."""


class DuplicateWarning(EditError):
    """A new source looks like one already in the KB; ``duplicates`` is [(source_id, why)]."""

    def __init__(self, duplicates: list[tuple[str, str]]):
        self.duplicates = duplicates
        super().__init__("This source may already be in the KB: "
                         + "; ".join(f"{sid} ({why})" for sid, why in duplicates))


def describe_problem(p: Problem) -> str:
    """'Arms, row 2, total dose (Gy): …' — the words under a form field."""
    where = KIND_TITLES.get(p.table, p.table.replace("_", " ").capitalize())
    if p.line is not None:
        where += f", {'line' if p.file == 'csv' else 'row'} {p.line}"
    if p.column:
        where += f", {label(p.column)}"
    return f"{where}: {p.message}"


# ------------------------------------------------------------------------------------------------ schema helpers
def q(name: str) -> str:
    """Quote a column or table name that comes from our schema (never from a user)."""
    known = tables()
    if name not in known and not any(name in t.column_names for t in known.values()):
        raise ValueError(f"unknown identifier {name!r}")
    return '"' + name + '"'


def record_tables(table: str) -> tuple[str, ...]:
    """The tables a record of ``table`` spans, root first."""
    return (table,) + KINDS[table][1]


def pk_columns(table: str) -> tuple[str, ...]:
    return tables()[table].primary_key


def _pk(table: str, row: Mapping[str, Any]) -> tuple:
    return tuple(row.get(c) for c in pk_columns(table))


@lru_cache(maxsize=1)
def _check_constraints() -> list[tuple[str, str, tuple[str, ...]]]:
    """(table, expression, columns) of every CHECK in schema.sql."""
    con = duckdb.connect()
    create_schema(con, runtime=False)
    rows = con.execute("SELECT table_name, expression, constraint_column_names FROM duckdb_constraints() "
                       "WHERE constraint_type = 'CHECK'").fetchall()
    con.close()
    return [(t, e, tuple(dict.fromkeys(c))) for t, e, c in rows]


@lru_cache(maxsize=1)
def enumerations() -> dict[tuple[str, str], tuple[str, ...]]:
    """Allowed values of every column with a ``CHECK (col IN (...))`` in schema.sql.

    >>> enumerations()[("outcomes", "unit")][:3]
    ('%', 'pct_change', 'months')
    """
    found = {}
    for table, expr, _cols in _check_constraints():
        m = re.fullmatch(r"\(\(?\"?(\w+)\"? IN \((.*)\)\)?\)", expr or "")
        if m and " OR " not in expr:
            found[(table, m.group(1))] = tuple(re.findall(r"'((?:[^']|'')*)'", m.group(2)))
    return found


@dataclass(frozen=True)
class Field:
    """One input of an edit form."""

    name: str
    label: str
    sql_type: str
    required: bool
    choices: tuple[str, ...] | None = None   # allowed values (a vocabulary or a CHECK list)
    long: bool = False                       # multi-line text
    key: bool = False                        # the record's id
    references: str | None = None            # an editable table this column points to (pick from its records)
    help: str | None = None                  # one or two sentences for the form (kb.field_words)
    choice_labels: tuple[tuple[str, str], ...] = ()  # (value, what a reader calls it) for ``choices``

    def choice_label(self, value: str) -> str:
        """A choice by name, not id: 'rct' -> 'Randomized controlled trial'; '' -> 'not set'."""
        if value in (None, ""):
            return "not set"
        return dict(self.choice_labels).get(value, value)


VOCABULARY_PARENTS = {"pub_types", "designs", "evidence_levels", "histologies", "settings", "interventions",
                      "endpoints", "subgroups", "toxicities", "drugs", "rec_topics", "imaging_modalities"}


def field_specs(con: duckdb.DuckDBPyConnection, table: str) -> list[Field]:
    """The form fields of ``table``: label and help in a clinician's words (kb.field_words), type, required, choices
    (vocabularies and CHECK lists) with the names readers know them by, long text."""
    from kb import field_words

    described = tables()[table]
    fks = {c: (p, pc) for c, p, pc in described.foreign_keys}
    enums = enumerations()
    out = []
    for col in described.columns:
        choices = enums.get((table, col.name))
        names: dict[str, str] = {}
        if choices:
            names = {c: field_words.choice_word(c) for c in choices}
        if col.name in fks and fks[col.name][0] in VOCABULARY_PARENTS:
            parent, parent_col = fks[col.name]
            names = {str(k): (f"{k} — {n}" if parent == "evidence_levels" else str(n))
                     for k, n in _vocabulary_names(con, parent, parent_col)}
            choices = tuple(names)
        if col.type == "BOOLEAN":
            choices = ("true", "false")
            names = {"true": "yes", "false": "no"}
        parent = fks.get(col.name, (None,))[0]
        out.append(Field(col.name, field_words.form_label(col.name, table), col.type, not col.nullable, choices,
                         col.name in LONG_TEXT, col.name in described.primary_key,
                         parent if parent in KINDS else None, field_words.help_text(col.name, table),
                         tuple(names.items())))
    return out


def _vocabulary_names(con: duckdb.DuckDBPyConnection, table: str, column: str) -> list[tuple[Any, str]]:
    """(key, name) of a vocabulary, by key; the key itself where the table has no ``name`` column."""
    cur = con.cursor()
    try:
        columns = {r[0] for r in cur.execute("SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = ?", [table]).fetchall()}
        name = "name" if "name" in columns else column
        return [(k, n) for k, n in cur.execute("SELECT " + q(column) + ", " + q(name) + " FROM " + q(table)
                                                + " ORDER BY 1").fetchall()]
    finally:
        cur.close()


# ------------------------------------------------------------------------------------------------ connections
def ensure_runtime_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the editor tables on a database built before they existed (idempotent; not when read-only)."""
    if read_only():
        return
    cur = con.cursor()
    try:
        present = cur.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = 'main' AND "
                              "table_name = 'login_attempts' AND column_name = 'attempt_id'").fetchone()[0]
        present = present and cur.execute("SELECT count(*) FROM information_schema.tables "
                                          "WHERE table_name = 'pending_cleanup' AND table_schema = 'main'").fetchone()[0]
        if not present:
            cur.execute(RUNTIME_SCHEMA_PATH.read_text(encoding="utf-8"))
    finally:
        cur.close()


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection, dry_run: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """The one way to write: the writer lock, pending cleanup finished, then BEGIN … COMMIT (or ROLLBACK)."""
    if read_only():
        raise EditingDisabled()
    with holding(con), WRITE_LOCK:
        ensure_runtime_schema(con)
        _finish_cleanup_locked(con)
        cur = con.cursor()
        try:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("ROLLBACK" if dry_run else "COMMIT")
        finally:
            cur.close()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    result = cur.execute(sql, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, r)) for r in result.fetchall()]


def _has_table(cur: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
                            "AND table_schema = 'main'", [name]).fetchone()[0])


# ------------------------------------------------------------------------------------------------ records
def _check_kind(table: str) -> None:
    if table not in KINDS:
        raise ValueError(f"{table!r} is not an editable record type (one of {', '.join(KINDS)})")


def _load(cur: duckdb.DuckDBPyConnection, table: str, record_id: str) -> dict[str, list[dict]] | None:
    _check_kind(table)
    (pk,) = pk_columns(table)
    root = _rows(cur, "SELECT * FROM " + q(table) + " WHERE " + q(pk) + " = ?", [record_id])
    if not root:
        return None
    record = {table: root}
    for child in KINDS[table][1]:
        if child == "arm_interventions":
            sql = ("SELECT * FROM arm_interventions WHERE arm_id IN (SELECT arm_id FROM arms WHERE study_id = ?) "
                   "ORDER BY arm_id, intervention_id")
        else:
            sql = ("SELECT * FROM " + q(child) + " WHERE study_id = ? ORDER BY "
                   + ", ".join(q(c) for c in pk_columns(child)))
        record[child] = _rows(cur, sql, [record_id])
    return _canonical(record)


def load_record(con: duckdb.DuckDBPyConnection, table: str, record_id: str) -> dict[str, list[dict]] | None:
    """The record as ``{table: [rows]}`` (a study with its children), or None when there is none."""
    cur = con.cursor()
    try:
        return _load(cur, table, record_id)
    finally:
        cur.close()


def _version(cur: duckdb.DuckDBPyConnection, table: str, record_id: str) -> int:
    return int(cur.execute("SELECT count(*) FROM audit_log WHERE table_name = ? AND record_id = ?",
                           [table, record_id]).fetchone()[0])


def version(con: duckdb.DuckDBPyConnection, table: str, record_id: str) -> int:
    """How many accepted changes the record has had (0 for a record as loaded from data/)."""
    cur = con.cursor()
    try:
        return _version(cur, table, record_id)
    finally:
        cur.close()


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return float(value)
    return value


def _canonical(record: Mapping[str, Sequence[Mapping[str, Any]]] | None) -> dict[str, list[dict]] | None:
    """Rows with every column, sorted by key; the form used in proposals and audit_log JSON."""
    if record is None:
        return None
    out = {}
    for table, rows in record.items():
        cols = tables()[table].column_names
        full = [{c: _plain(r.get(c)) for c in cols} for r in rows]
        out[table] = sorted(full, key=lambda r: tuple(str(v) for v in _pk(table, r)))
    return out


def to_json(record: Mapping | None) -> str | None:
    return None if record is None else json.dumps(record, ensure_ascii=False, sort_keys=True)


def record_options(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """Every live record of ``table``: id and a label for a picker ('rtog0614 — RTOG 0614 (memantine…)')."""
    _check_kind(table)
    (pk,) = pk_columns(table)
    cur = con.cursor()
    try:
        frame = cur.execute("SELECT " + q(pk) + " AS id, CAST(" + q(TITLE_COLUMNS[table]) + " AS VARCHAR) AS title "
                            "FROM " + q(table) + " ORDER BY 1").df()
    finally:
        cur.close()
    frame["label"] = frame["id"] + " — " + frame["title"].fillna("").str.slice(0, 90)
    return frame


def as_form(record: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[dict[str, str]]]:
    """The record as text, as a form shows it (None → '', booleans 'true'/'false', 27.0 → '27')."""
    return {t: [{c: format_value(v) for c, v in r.items()} for r in rows] for t, rows in record.items()}


def format_value(value: Any) -> str:
    """A cell as text: '' for NULL, 'true'/'false', whole floats without '.0'.

    >>> [format_value(v) for v in (None, True, 27.0, 0.35, 12, "x")]
    ['', 'true', '27', '0.35', '12', 'x']
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


# ------------------------------------------------------------------------------------------------ validation
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


# ------------------------------------------------------------------------------------------------ applying
def _execute(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any], table: str, line: int | None,
             changed: Sequence[str] = ()) -> None:
    try:
        cur.execute(sql, list(params))
    except duckdb.Error as exc:
        raise ValidationFailed([_translate(table, line, exc, changed)]) from exc


def _translate(table: str, line: int | None, exc: Exception, changed: Sequence[str]) -> Problem:
    """A database refusal as a field-level sentence."""
    text = str(exc)
    m = re.search(r"CHECK constraint failed on table \"?(\w+)\"? with expression CHECK\((.*)\)$", text, re.S)
    if m:
        cols = next((c for t, e, c in _check_constraints() if t == m.group(1) and e == m.group(2)), ())
        return Problem(m.group(1), line, cols[0] if cols else None,
                       f"the database refuses this value (rule: {m.group(2)})")
    m = re.search(r'key "(\w+): (.*?)" does not exist in the referenced table', text)
    if m:
        return Problem(table, line, m.group(1), f"unknown {label(m.group(1))} {m.group(2)!r}")
    if "still referenced by a foreign key" in text:
        indexed = {c for c, _p, _pc in tables()[table].foreign_keys} | set(pk_columns(table))
        blocked = [c for c in changed if c in indexed] or list(changed)[:1]
        return Problem(table, line, blocked[0] if blocked else None,
                       f"{label(blocked[0]) if blocked else 'this field'} cannot be changed in place while other "
                       "records cite this one (a limitation of the database engine, DuckDB) — ask the maintainer")
    m = re.search(r'Duplicate key "(\w+): (.*?)" violates', text)
    if m:
        return Problem(table, line, m.group(1), f"{m.group(2)} is already used by another record")
    m = re.search(r"NOT NULL constraint failed: \w+\.(\w+)", text)
    if m:
        return Problem(table, line, m.group(1), f"{label(m.group(1))} is required")
    return Problem(table, line, None, "the database refused the change: " + text.splitlines()[0][:200])


def _insert(cur, table: str, row: Mapping[str, Any], line: int | None) -> None:
    cols = tables()[table].column_names
    _execute(cur, "INSERT INTO " + q(table) + " (" + ", ".join(q(c) for c in cols) + ") VALUES ("
             + ", ".join("?" * len(cols)) + ")", [row.get(c) for c in cols], table, line)


def _where_pk(table: str) -> str:
    return " WHERE " + " AND ".join(q(c) + " = ?" for c in pk_columns(table))


def _update(cur, table: str, old: Mapping[str, Any], new: Mapping[str, Any], line: int | None) -> None:
    changed = [c for c in tables()[table].column_names if old.get(c) != new.get(c)]
    if changed:
        _execute(cur, "UPDATE " + q(table) + " SET " + ", ".join(q(c) + " = ?" for c in changed) + _where_pk(table),
                 [new.get(c) for c in changed] + list(_pk(table, old)), table, line, changed)


def _delete(cur, table: str, row: Mapping[str, Any]) -> None:
    _execute(cur, "DELETE FROM " + q(table) + _where_pk(table), list(_pk(table, row)), table, None)


def _converge(cur: duckdb.DuckDBPyConnection, table: str, current: Mapping[str, list[dict]] | None,
              target: Mapping[str, list[dict]] | None) -> list[tuple[int, str, str]]:
    """Make the record's rows equal ``target`` (None = retire). Returns deletions DuckDB only allows in a later
    transaction: (step, table, id) — arms after their outcomes and interventions, a study after its children."""
    current, target = current or {}, target or {}
    deferred: list[tuple[int, str, str]] = []
    cur_rows = {t: {_pk(t, r): r for r in current.get(t, [])} for t in record_tables(table)}
    tgt_keys = {t: {_pk(t, r) for r in target.get(t, [])} for t in record_tables(table)}
    # 1. rows nobody references: delete now
    for t in _LEAF_CHILDREN if table == "studies" else ():
        for key, r in cur_rows[t].items():
            if key not in tgt_keys[t]:
                _delete(cur, t, r)
    # 2. the record's own row
    root_now = next(iter(cur_rows[table].values()), None)
    root_new = (target.get(table) or [None])[0]
    had_children = any(current.get(t) for t in KINDS[table][1])
    if root_new is None and root_now is not None:
        if had_children:
            deferred.append((2, table, root_now[pk_columns(table)[0]]))
        else:
            _delete(cur, table, root_now)
    elif root_now is None and root_new is not None:
        _insert(cur, table, root_new, None)
    elif root_now is not None:
        _update(cur, table, root_now, root_new, None)
    # 3. children: arms first (outcomes point at them), then the rest
    for t in (("arms",) + tuple(c for c in KINDS[table][1] if c != "arms")) if table == "studies" else ():
        if t == "arms":
            for key, r in cur_rows[t].items():
                if key not in tgt_keys[t]:
                    deferred.append((1, t, r["arm_id"]))
        for i, r in enumerate(target.get(t, [])):
            old = cur_rows[t].get(_pk(t, r))
            if old is None:
                _insert(cur, t, r, i + 1)
            else:
                _update(cur, t, old, r, i + 1)
    return deferred


def _finish_cleanup_locked(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Run the follow-up deletions of accepted changes, lowest step first, each in its own transaction."""
    errors = []
    cur = con.cursor()
    try:
        if not _has_table(cur, "pending_cleanup"):
            return errors
        for cleanup_id, table, record_id in cur.execute(
                "SELECT cleanup_id, table_name, record_id FROM pending_cleanup ORDER BY step, cleanup_id").fetchall():
            if table not in ("arms", "studies"):
                continue
            cur.execute("BEGIN TRANSACTION")
            try:
                cur.execute("DELETE FROM " + q(table) + _where_pk(table), [record_id])
                cur.execute("DELETE FROM pending_cleanup WHERE cleanup_id = ?", [cleanup_id])
                cur.execute("COMMIT")
            except duckdb.Error as exc:
                cur.execute("ROLLBACK")
                errors.append(f"{table} {record_id}: {exc}")
    finally:
        cur.close()
    return errors


def finish_cleanup(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Finish deletions left by accepted retirements (after a crash, too). Returns problems, normally []."""
    if read_only():
        return []
    with holding(con), WRITE_LOCK:
        ensure_runtime_schema(con)
        return _finish_cleanup_locked(con)


def pending_cleanup_count(con: duckdb.DuckDBPyConnection) -> int:
    cur = con.cursor()
    try:
        return int(cur.execute("SELECT count(*) FROM pending_cleanup").fetchone()[0]) \
            if _has_table(cur, "pending_cleanup") else 0
    finally:
        cur.close()


# ------------------------------------------------------------------------------------------------ diffs
@dataclass(frozen=True)
class DiffLine:
    table: str
    key: str
    column: str | None      # None: the whole row was added or removed
    before: Any
    after: Any

    def __str__(self) -> str:
        where = "" if self.table in KINDS else f"{self.table.replace('_', ' ')} {self.key}: "
        if self.column is None:
            return where + ("added" if self.before is None else "removed")
        return f"{where}{label(self.column)}: {_show(self.before)} → {_show(self.after)}"


def _show(value: Any) -> str:
    if value is None:
        return "(empty)"
    text = format_value(value)
    return repr(text[:80] + "…") if len(text) > 80 else repr(text)


def diff(before: Mapping[str, list[dict]] | None, after: Mapping[str, list[dict]] | None) -> list[DiffLine]:
    """What differs between two versions of a record, field by field (rows added or removed as one line).

    >>> a = {"sources": [{"source_id": "s1", "title": "Old", "year": 2016}]}
    >>> b = {"sources": [{"source_id": "s1", "title": "New", "year": 2016}]}
    >>> [str(x) for x in diff(a, b)]
    ["title: 'Old' → 'New'"]
    """
    lines = []
    before, after = before or {}, after or {}
    for t in list(dict.fromkeys(list(before) + list(after))):
        old = {_pk(t, r): r for r in before.get(t, [])}
        new = {_pk(t, r): r for r in after.get(t, [])}
        for key in list(dict.fromkeys(list(old) + list(new))):
            shown = ", ".join(map(str, key))
            if key not in new:
                lines.append(DiffLine(t, shown, None, old[key], None))
            elif key not in old:
                lines.append(DiffLine(t, shown, None, None, new[key]))
            else:
                for c in new[key]:
                    if old[key].get(c) != new[key].get(c):
                        lines.append(DiffLine(t, shown, c, old[key].get(c), new[key].get(c)))
    return lines


def diff_frame(before: Mapping | None, after: Mapping | None) -> pd.DataFrame:
    """The diff as a table to show: part, field, before, after."""
    rows = []
    for d in diff(before, after):
        part = "record" if d.table in KINDS else f"{d.table.replace('_', ' ')} {d.key}"
        if d.column is None:
            rows.append({"part": part, "field": "(row)", "before": "" if d.before is None else "present",
                         "after": "" if d.after is None else "added"})
        else:
            rows.append({"part": part, "field": label(d.column), "before": format_value(d.before),
                         "after": format_value(d.after)})
    return pd.DataFrame(rows, columns=["part", "field", "before", "after"])


# ------------------------------------------------------------------------------------------------ proposals
@dataclass
class Proposal:
    proposal_id: int
    created_at: Any
    editor: str
    action: str
    table_name: str
    record_id: str
    reason: str
    status: str
    reviewer: str | None
    reviewed_at: Any
    review_comment: str | None
    changes: list[dict] = field(default_factory=list)

    @property
    def title(self) -> str:
        noun = KINDS.get(self.table_name, (self.table_name,))[0]
        return f"#{self.proposal_id} {self.action} {noun} {self.record_id} — by {self.editor}"


def _require_editor(cur: duckdb.DuckDBPyConnection, name: str) -> None:
    row = cur.execute("SELECT active FROM editors WHERE name = ?", [name]).fetchone()
    if not (row and row[0]):
        raise ReviewError(f"{name!r} is not an editor; only signed-in editors can propose or review changes.")


def _store_proposal(cur: duckdb.DuckDBPyConnection, editor: str, action: str, table: str, record_id: str,
                    reason: str, changes: list[dict]) -> int:
    next_id = cur.execute("SELECT greatest((SELECT coalesce(max(proposal_id), 0) FROM proposals), "
                          "(SELECT coalesce(max(proposal_id), 0) FROM audit_log)) + 1").fetchone()[0]
    cur.execute("INSERT INTO proposals (proposal_id, created_at, editor, action, table_name, record_id, reason, "
                "changes_json, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')",
                [next_id, _now(), editor, action, table, record_id, reason.strip(), json.dumps(changes,
                                                                                             ensure_ascii=False)])
    return int(next_id)


def _conflict(cur: duckdb.DuckDBPyConnection, table: str, record_id: str, base_version: int,
              base: Mapping | None, whose: str) -> Conflict:
    """The refusal when the record moved on: who changed it since ``base_version``, why, and what changed."""
    now = _version(cur, table, record_id)
    entries = cur.execute("SELECT editor, reviewer, changed_at, reason FROM audit_log WHERE table_name = ? "
                          "AND record_id = ? ORDER BY audit_id OFFSET ?", [table, record_id, base_version]).fetchall()
    current = _load(cur, table, record_id)
    changes = [str(d) for d in diff(base, current)]
    who = "; ".join(f"{e} (accepted by {r}) at {str(at)[:16]} UTC — {why!r}" for e, r, at, why in entries)
    noun = KINDS[table][0]
    accepted = now - base_version
    message = (f"Not saved: the {noun} {record_id} has changed since {whose} ({accepted} "
               f"{'change' if accepted == 1 else 'changes'} accepted since then). Changed meanwhile by "
               f"{who or 'another editor'}. "
               + ("What changed: " + "; ".join(changes[:12]) + ". " if changes else "")
               + "Reload the record and make your change again.")
    return Conflict(message, changes)


def _propose(con: duckdb.DuckDBPyConnection, editor: str, action: str, table: str, record_id: str, reason: str,
             target_raw: Mapping | None, base_version: int | None, creating: bool,
             confirm_duplicates: bool = True) -> int:
    problems = check_reason(reason)
    with _transaction(con) as cur:
        _require_editor(cur, editor)
        current = _load(cur, table, record_id) if record_id else None
        now = _version(cur, table, record_id) if record_id else 0
        if base_version is not None and now != base_version:
            raise _conflict(cur, table, record_id, base_version, _base_state(cur, table, record_id, base_version),
                            "you opened it")
        if target_raw is None:
            if current is None:
                raise ValidationFailed([Problem(table, None, None, f"there is no {KINDS[table][0]} {record_id!r}")])
            target = None
            problems += _external_references(cur, table, current, None)
        else:
            target, found = check_record(cur, table, None if creating else record_id, target_raw, creating)
            problems += found
            if not creating and current is None:
                problems.append(Problem(table, None, None, f"there is no {KINDS[table][0]} {record_id!r} to edit"))
            if creating:
                record_id = target[table][0][pk_columns(table)[0]] if target.get(table) else record_id
            if current is not None and not problems:
                problems += _external_references(cur, table, current, target)
        if not problems and target is not None and current == target:
            problems.append(Problem(table, None, None, "nothing changed — edit a field before saving"))
        if problems:
            raise ValidationFailed(problems)
        if table == "sources" and creating and not confirm_duplicates:
            dupes = likely_duplicate_sources(cur, target["sources"][0])
            if dupes:
                raise DuplicateWarning(dupes)
        _dry_run(cur, table, current, target)
        change = {"action": action, "table": table, "record_id": record_id, "base_version": now,
                  "before": current, "after": target}
        return _store_proposal(cur, editor, action, table, record_id, reason, [change])


def _base_state(cur: duckdb.DuckDBPyConnection, table: str, record_id: str, base_version: int) -> dict | None:
    """The record as it was at ``base_version`` (from the audit row that produced the next version)."""
    row = cur.execute("SELECT before_json FROM audit_log WHERE table_name = ? AND record_id = ? ORDER BY audit_id "
                      "OFFSET ? LIMIT 1", [table, record_id, base_version]).fetchone()
    return json.loads(row[0]) if row and row[0] else None


def _dry_run(cur: duckdb.DuckDBPyConnection, table: str, current: Mapping | None, target: Mapping | None) -> None:
    """Try the change against the database constraints inside the caller's transaction, then undo it.

    DuckDB has no savepoints, so this runs in its own short transaction on a second cursor of the same
    connection (the caller holds the writer lock, so nothing else writes meanwhile)."""
    probe = cur.cursor() if hasattr(cur, "cursor") else None
    runner = probe or cur
    try:
        runner.execute("BEGIN TRANSACTION")
        try:
            _converge(runner, table, current, target)
        finally:
            runner.execute("ROLLBACK")
    finally:
        if probe is not None:
            probe.close()


def propose_create(con: duckdb.DuckDBPyConnection, editor: str, table: str, raw: Mapping, reason: str,
                   confirm_duplicates: bool = False) -> int:
    """Propose a new record. ``raw`` is ``{table: [row], child: [rows]}`` of text. A new source that looks like
    an existing one raises ``DuplicateWarning`` unless ``confirm_duplicates``."""
    _check_kind(table)
    (pk,) = pk_columns(table)
    record_id = str((raw.get(table) or [{}])[0].get(pk) or "").strip()
    return _propose(con, editor, "create", table, record_id, reason, raw, None, True, confirm_duplicates)


def propose_update(con: duckdb.DuckDBPyConnection, editor: str, table: str, record_id: str, raw: Mapping,
                   base_version: int, reason: str) -> int:
    """Propose new values for a record opened at ``base_version``; ``Conflict`` if it has moved on since."""
    _check_kind(table)
    return _propose(con, editor, "update", table, record_id, reason, raw, base_version, False)


def propose_retire(con: duckdb.DuckDBPyConnection, editor: str, table: str, record_id: str, base_version: int,
                   reason: str) -> int:
    """Propose removing a record from what readers see (kept in the audit log; a revert restores it)."""
    _check_kind(table)
    return _propose(con, editor, "retire", table, record_id, reason, None, base_version, False)


def propose_revert(con: duckdb.DuckDBPyConnection, editor: str, audit_id: int, reason: str) -> int:
    """Propose putting a record back as it was before the accepted change ``audit_id`` (itself reviewed)."""
    cur = con.cursor()
    try:
        row = cur.execute("SELECT table_name, record_id, before_json FROM audit_log WHERE audit_id = ?",
                          [audit_id]).fetchone()
    finally:
        cur.close()
    if row is None:
        raise ValidationFailed([Problem("audit_log", None, None, f"there is no change #{audit_id}")])
    table, record_id, before_json = row
    _check_kind(table)
    target = json.loads(before_json) if before_json else None
    base = version(con, table, record_id)
    exists = load_record(con, table, record_id) is not None
    if target is not None and not exists:
        return _propose(con, editor, "revert", table, record_id, reason, target, base, True)
    return _propose(con, editor, "revert", table, record_id, reason, target, base, False)


def _proposal_from_row(row: Mapping[str, Any]) -> Proposal:
    return Proposal(row["proposal_id"], row["created_at"], row["editor"], row["action"], row["table_name"],
                    row["record_id"], row["reason"], row["status"], row["reviewer"], row["reviewed_at"],
                    row["review_comment"], json.loads(row["changes_json"]))


def get_proposal(con: duckdb.DuckDBPyConnection, proposal_id: int) -> Proposal | None:
    cur = con.cursor()
    try:
        rows = _rows(cur, "SELECT * FROM proposals WHERE proposal_id = ?", [proposal_id]) \
            if _has_table(cur, "proposals") else []
    finally:
        cur.close()
    return _proposal_from_row(rows[0]) if rows else None


def list_proposals(con: duckdb.DuckDBPyConnection, status: str | None = "pending", limit: int = 200) -> list[Proposal]:
    """Proposals, newest first (pending by default; ``status=None`` for all)."""
    cur = con.cursor()
    try:
        if not _has_table(cur, "proposals"):
            return []
        rows = _rows(cur, "SELECT * FROM proposals WHERE ? IS NULL OR status = ? ORDER BY proposal_id DESC LIMIT ?",
                     [status, status, limit])
    finally:
        cur.close()
    return [_proposal_from_row(r) for r in rows]


def pending_count(con: duckdb.DuckDBPyConnection) -> int:
    cur = con.cursor()
    try:
        return int(cur.execute("SELECT count(*) FROM proposals WHERE status = 'pending'").fetchone()[0]) \
            if _has_table(cur, "proposals") else 0
    finally:
        cur.close()


def _pending(cur: duckdb.DuckDBPyConnection, proposal_id: int, reviewer: str) -> Proposal:
    rows = _rows(cur, "SELECT * FROM proposals WHERE proposal_id = ?", [proposal_id])
    if not rows:
        raise ReviewError(f"There is no proposal #{proposal_id}.")
    p = _proposal_from_row(rows[0])
    if p.status != "pending":
        raise ReviewError(f"Proposal #{proposal_id} is already {p.status}"
                          + (f" by {p.reviewer}." if p.reviewer else "."))
    _require_editor(cur, reviewer)
    if reviewer == p.editor:
        raise ReviewError("You cannot review your own proposal — another editor must accept or reject it.")
    return p


def accept(con: duckdb.DuckDBPyConnection, proposal_id: int, reviewer: str, comment: str = "") -> list[int]:
    """Apply a pending proposal: every change, its audit_log row and its new version in one transaction.

    Raises ``Conflict`` when a record moved on since the proposal was made (nothing is written; the proposal stays
    pending so the reviewer can reject it), ``ReviewError`` for one's own proposal. Returns the audit ids.
    On the editorial store the new release is published before this returns (``Store.last_release``)."""
    with holding(con):
        audit_ids = _accept(con, proposal_id, reviewer, comment)
        finish_cleanup(con)
        publish_if_ahead(con)
    return audit_ids


def _accept(con: duckdb.DuckDBPyConnection, proposal_id: int, reviewer: str, comment: str) -> list[int]:
    with _transaction(con) as cur:
        p = _pending(cur, proposal_id, reviewer)
        audit_ids = []
        audit_id = cur.execute("SELECT coalesce(max(audit_id), 0) FROM audit_log").fetchone()[0]
        cleanup_id = cur.execute("SELECT coalesce(max(cleanup_id), 0) FROM pending_cleanup").fetchone()[0]
        now = _now()
        for change in p.changes:
            table, record_id, base = change["table"], change["record_id"], change["base_version"]
            current_version = _version(cur, table, record_id)
            if current_version != base:
                raise _conflict(cur, table, record_id, base, change["before"], f"proposal #{proposal_id} was made")
            current = _load(cur, table, record_id)
            deferred = _converge(cur, table, current, change["after"])
            audit_id += 1
            audit_ids.append(audit_id)
            action = "import" if p.action == "import" else change["action"]
            cur.execute("INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [audit_id, now, p.editor, reviewer, action, table, record_id, p.reason,
                         to_json(current), to_json(change["after"]), proposal_id])
            cur.execute("INSERT INTO record_versions VALUES (?, ?, ?, ?)",
                        [table, record_id, current_version + 1, audit_id])
            for step, t, rid in deferred:
                cleanup_id += 1
                cur.execute("INSERT INTO pending_cleanup VALUES (?, ?, ?, ?, ?)", [cleanup_id, audit_id, step, t, rid])
        cur.execute("UPDATE proposals SET status = 'accepted', reviewer = ?, reviewed_at = ?, review_comment = ? "
                    "WHERE proposal_id = ?", [reviewer, now, (comment or "").strip() or None, proposal_id])
    return audit_ids


def reject(con: duckdb.DuckDBPyConnection, proposal_id: int, reviewer: str, comment: str) -> None:
    """Reject a pending proposal with a comment saying why (required)."""
    if len((comment or "").strip()) < MIN_REASON_LENGTH:
        raise ValidationFailed([Problem("proposals", None, "review_comment",
                                        "say why the proposal is rejected, so its author can fix it")])
    with _transaction(con) as cur:
        _pending(cur, proposal_id, reviewer)
        cur.execute("UPDATE proposals SET status = 'rejected', reviewer = ?, reviewed_at = ?, review_comment = ? "
                    "WHERE proposal_id = ?", [reviewer, _now(), comment.strip(), proposal_id])


def withdraw(con: duckdb.DuckDBPyConnection, proposal_id: int, editor: str) -> None:
    """The author takes back their own pending proposal."""
    with _transaction(con) as cur:
        rows = _rows(cur, "SELECT * FROM proposals WHERE proposal_id = ?", [proposal_id])
        if not rows or rows[0]["editor"] != editor or rows[0]["status"] != "pending":
            raise ReviewError("Only the author can withdraw a pending proposal.")
        cur.execute("UPDATE proposals SET status = 'withdrawn', reviewed_at = ? WHERE proposal_id = ?",
                    [_now(), proposal_id])


# ------------------------------------------------------------------------------------------------ history
@dataclass(frozen=True)
class HistoryEntry:
    audit_id: int
    changed_at: Any
    editor: str
    reviewer: str | None
    action: str
    reason: str
    proposal_id: int | None
    before: dict | None
    after: dict | None

    @property
    def changes(self) -> list[DiffLine]:
        return diff(self.before, self.after)


def history(con: duckdb.DuckDBPyConnection, table: str, record_id: str) -> list[HistoryEntry]:
    """Every accepted change of a record, newest first."""
    cur = con.cursor()
    try:
        rows = cur.execute("SELECT audit_id, changed_at, editor, reviewer, action, reason, proposal_id, before_json, "
                           "after_json FROM audit_log WHERE table_name = ? AND record_id = ? ORDER BY audit_id DESC",
                           [table, record_id]).fetchall()
    finally:
        cur.close()
    return [HistoryEntry(a, at, e, r, act, why, pid, json.loads(b) if b else None, json.loads(af) if af else None)
            for a, at, e, r, act, why, pid, b, af in rows]


def changed_records(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """Records with accepted changes, most recent first (includes retired ones, which only the history shows)."""
    cur = con.cursor()
    try:
        return cur.execute("SELECT table_name, record_id, count(*) AS changes, max(changed_at) AS last_changed, "
                           "arg_max(action, audit_id) AS last_action FROM audit_log GROUP BY ALL "
                           "ORDER BY last_changed DESC LIMIT ?", [limit]).df()
    finally:
        cur.close()


# ------------------------------------------------------------------------------------------------ duplicates
def _normal_title(title: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", " ", (title or "").lower()).strip()


def likely_duplicate_sources(con_or_cur: duckdb.DuckDBPyConnection, source: Mapping[str, Any],
                             exclude_id: str | None = None) -> list[tuple[str, str]]:
    """Existing sources with the same DOI or PMID, or a near-identical title (rapidfuzz token_sort_ratio ≥ 90).

    Returns [(source_id, why)], strongest first."""
    from rapidfuzz import fuzz, process

    cur = con_or_cur.cursor()
    try:
        rows = cur.execute("SELECT source_id, doi, pmid, title FROM sources").fetchall()
    finally:
        cur.close()
    found: dict[str, str] = {}
    doi = str(source.get("doi") or "").strip().lower()
    pmid = str(source.get("pmid") or "").strip()
    for sid, d, p, _t in rows:
        if sid == exclude_id:
            continue
        if doi and d and d.strip().lower() == doi:
            found.setdefault(sid, f"same DOI {d}")
        if pmid and p and p.strip() == pmid:
            found.setdefault(sid, f"same PMID {p}")
    title = _normal_title(str(source.get("title") or ""))
    if len(title) >= 12:
        choices = {sid: _normal_title(t) for sid, _d, _p, t in rows if sid != exclude_id}
        for _choice, score, sid in process.extract(title, choices, scorer=_title_similarity,
                                                   score_cutoff=TITLE_DUPLICATE_SCORE, limit=5):
            found.setdefault(sid, f"title {score:.0f}% similar")
    return list(found.items())


def _title_similarity(a: str, b: str, score_cutoff: float | None = None, **_: Any) -> float:
    """Word-order-insensitive similarity; a long title that is a truncation of the other also counts
    (subtitle dropped: 'Effect of radiosurgery alone vs …' against '… : a randomized clinical trial')."""
    from rapidfuzz import fuzz

    score = fuzz.token_sort_ratio(a, b)
    if min(len(a), len(b)) >= 60:
        score = max(score, fuzz.partial_ratio(a, b))
    return score if score_cutoff is None or score >= score_cutoff else 0.0


# ------------------------------------------------------------------------------------------------ CSV import
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
