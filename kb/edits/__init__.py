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

Where each part lives (this package re-exports every name other code uses: ``from kb import edits``):
``kinds`` (what can be edited, keys), ``fields`` (form fields, CHECK lists), ``errors``, ``records`` (load, version,
canonical form), ``validation``, ``apply`` (``_converge``: rows → target), ``transaction`` (the writer lock, the
transaction, follow-up cleanup), ``proposals`` (stored proposals, ``Conflict``), ``propose``, ``review`` (accept,
reject, withdraw), ``audit`` (diff, history), ``duplicates`` (is this source already in?), ``importing`` (CSV).
"""

from __future__ import annotations

from kb.edits.apply import _converge
from kb.edits.audit import DiffLine, HistoryEntry, changed_records, diff, diff_frame, history
from kb.edits.duplicates import TITLE_DUPLICATE_SCORE, likely_duplicate_sources
from kb.edits.errors import (Conflict, DuplicateWarning, EditError, EditingDisabled, ReviewError, ValidationFailed,
                             describe_problem)
from kb.edits.fields import LONG_TEXT, VOCABULARY_PARENTS, Field, enumerations, field_specs
from kb.edits.importing import ImportReport, check_import, propose_import
from kb.edits.kinds import ID_PATTERN, KIND_TITLES, KINDS, TITLE_COLUMNS, pk_columns, q, record_tables
from kb.edits.proposals import Proposal, get_proposal, list_proposals, pending_count
from kb.edits.propose import propose_create, propose_retire, propose_revert, propose_update
from kb.edits.records import (_canonical, _load, _plain, as_form, format_value, load_record, record_options, to_json,
                              version)
from kb.edits.review import accept, reject, withdraw
from kb.edits.transaction import (WRITE_LOCK, _finish_cleanup_locked, _transaction, ensure_runtime_schema,
                                  finish_cleanup, pending_cleanup_count)
from kb.edits.validation import MIN_REASON_LENGTH, check_reason, check_record, extra_rules
from kb.validate import Problem, label

# Every name above is part of the package's surface; the underscored ones are used by kb.auth, kb.rebuild and tests.
__all__ = [
    "Conflict", "DiffLine", "DuplicateWarning", "EditError", "EditingDisabled", "Field", "HistoryEntry", "ID_PATTERN",
    "ImportReport", "KINDS", "KIND_TITLES", "LONG_TEXT", "MIN_REASON_LENGTH", "Problem", "Proposal", "ReviewError",
    "TITLE_COLUMNS", "TITLE_DUPLICATE_SCORE", "VOCABULARY_PARENTS", "ValidationFailed", "WRITE_LOCK", "_canonical",
    "_converge", "_finish_cleanup_locked", "_load", "_plain", "_transaction", "accept", "as_form", "changed_records",
    "check_import", "check_reason", "check_record", "describe_problem", "diff", "diff_frame", "ensure_runtime_schema",
    "enumerations", "extra_rules", "field_specs", "finish_cleanup", "format_value", "get_proposal", "history",
    "label", "likely_duplicate_sources", "list_proposals", "load_record", "pending_cleanup_count", "pending_count",
    "pk_columns", "propose_create", "propose_import", "propose_retire", "propose_revert", "propose_update", "q",
    "record_options", "record_tables", "reject", "to_json", "version", "withdraw",
]
