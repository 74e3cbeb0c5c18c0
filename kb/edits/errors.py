"""The refusals an editor may meet; ``str(exc)`` is always a sentence for the editor."""

from __future__ import annotations

from kb.edits.kinds import KIND_TITLES
from kb.validate import Problem, label


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
