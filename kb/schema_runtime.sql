-- Editor run-time tables. They live only in the database (never in data/); kb/schema.create_schema runs this file
-- after schema.sql, and kb/edits.ensure_runtime_schema runs it again on a database built before it existed, so
-- every statement is idempotent (IF NOT EXISTS). No foreign keys here: DuckDB refuses UPDATEs of rows that are
-- referenced, and proposals are updated (status) when reviewed.

-- Editor accounts. `password_hash` is 'scrypt$n$r$p$salt$hash' (kb/auth.py); NULL for accounts that sign in with
-- the OIDC provider only. Carried over a rebuild (kb/build.py CARRY_OVER_TABLES).
CREATE TABLE IF NOT EXISTS editors (
    name VARCHAR PRIMARY KEY,
    password_hash VARCHAR,
    sign_in VARCHAR NOT NULL CHECK (sign_in IN ('password', 'oidc')),
    created_at TIMESTAMP NOT NULL,
    active BOOLEAN NOT NULL,
    CHECK (sign_in <> 'password' OR password_hash LIKE 'scrypt$%')
);

-- Every sign-in attempt: repeated failures lock the name (kb/auth.py). An attempt is written as a failure before its
-- password is checked (so parallel guesses each count) and set to success afterwards if it was right. Rows older
-- than a day are pruned, and the table is capped, so anonymous callers cannot grow it without limit.
CREATE TABLE IF NOT EXISTS login_attempts (
    name VARCHAR NOT NULL,
    attempted_at TIMESTAMP NOT NULL,
    success BOOLEAN NOT NULL,
    attempt_id VARCHAR
);
-- Databases created before attempt_id existed gain it here (this file is run again by ensure_runtime_schema).
ALTER TABLE login_attempts ADD COLUMN IF NOT EXISTS attempt_id VARCHAR;

-- A proposed change waits here until another editor accepts or rejects it. `changes_json` is a list of
-- {action, table, record_id, base_version, before, after}; one item for a form, many for a CSV import.
-- Carried over a rebuild so review comments and rejected proposals are kept.
CREATE TABLE IF NOT EXISTS proposals (
    proposal_id INTEGER PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    editor VARCHAR NOT NULL,
    action VARCHAR NOT NULL CHECK (action IN ('create', 'update', 'retire', 'revert', 'import')),
    table_name VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    reason VARCHAR NOT NULL CHECK (length(trim(reason)) > 0),
    changes_json VARCHAR NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'withdrawn')),
    reviewer VARCHAR,
    reviewed_at TIMESTAMP,
    review_comment VARCHAR,
    CHECK (reviewer IS NULL OR reviewer <> editor),                 -- nobody reviews their own change
    CHECK (status NOT IN ('accepted', 'rejected') OR reviewer IS NOT NULL)
);

-- One row per accepted version of a record (insert-only). A record's version is the number of its audit_log rows;
-- this key makes it impossible for two writers to both commit the same next version.
CREATE TABLE IF NOT EXISTS record_versions (
    table_name VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    audit_id INTEGER NOT NULL,
    PRIMARY KEY (table_name, record_id, version)
);

-- Rows an accepted change still has to delete. DuckDB cannot delete a row and the rows referencing it in one
-- transaction, so retiring a study deletes its outcomes and links with the audit row, and its arms and the study
-- row itself in the next steps (kb/edits.finish_cleanup, run before every write and idempotent after a crash).
CREATE TABLE IF NOT EXISTS pending_cleanup (
    cleanup_id INTEGER PRIMARY KEY,
    audit_id INTEGER NOT NULL,
    step INTEGER NOT NULL,
    table_name VARCHAR NOT NULL,
    record_id VARCHAR NOT NULL
);
