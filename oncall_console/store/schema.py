"""Versioned schema. A migration is appended, never edited; both dialects move together."""

from __future__ import annotations

# (version, sqlite statements, postgresql statements)
MIGRATIONS: list[tuple[int, list[str], list[str]]] = [
    (
        1,
        [
            """CREATE TABLE audit (
                id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,
                intent_id INTEGER, operator TEXT NOT NULL, ssh_client TEXT NOT NULL,
                console TEXT NOT NULL, backend TEXT NOT NULL, action TEXT NOT NULL,
                target TEXT NOT NULL, params TEXT NOT NULL, preview TEXT NOT NULL,
                outcome TEXT NOT NULL, message TEXT NOT NULL,
                prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
            "CREATE INDEX audit_at ON audit (at)",
            """CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
               BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
            """CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
               BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
            """CREATE TABLE runbook_progress (
                runbook TEXT NOT NULL, scope TEXT NOT NULL, step TEXT NOT NULL,
                done INTEGER NOT NULL, operator TEXT NOT NULL, at REAL NOT NULL,
                note TEXT NOT NULL DEFAULT '', PRIMARY KEY (runbook, scope, step))""",
        ],
        [
            """CREATE TABLE audit (
                id BIGINT PRIMARY KEY, at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL,
                intent_id BIGINT, operator TEXT NOT NULL, ssh_client TEXT NOT NULL,
                console TEXT NOT NULL, backend TEXT NOT NULL, action TEXT NOT NULL,
                target TEXT NOT NULL, params TEXT NOT NULL, preview TEXT NOT NULL,
                outcome TEXT NOT NULL, message TEXT NOT NULL,
                prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""",
            "CREATE INDEX audit_at ON audit (at)",
            """CREATE FUNCTION oncall_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$""",
            """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
               FOR EACH ROW EXECUTE FUNCTION oncall_audit_append_only()""",
            """CREATE TABLE runbook_progress (
                runbook TEXT NOT NULL, scope TEXT NOT NULL, step TEXT NOT NULL,
                done BOOLEAN NOT NULL, operator TEXT NOT NULL, at DOUBLE PRECISION NOT NULL,
                note TEXT NOT NULL DEFAULT '', PRIMARY KEY (runbook, scope, step))""",
        ],
    ),
    (
        2,
        [
            "CREATE TABLE locks (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at REAL NOT NULL)"
        ],
        [
            "CREATE TABLE locks (key TEXT PRIMARY KEY, holder TEXT NOT NULL,"
            " expires_at DOUBLE PRECISION NOT NULL)"
        ],
    ),
]

LATEST = MIGRATIONS[-1][0]
