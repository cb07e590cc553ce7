"""Versioned schema. A migration is appended, never edited; both dialects move together."""

from __future__ import annotations

GENESIS = "0" * 64
"""The hash the first audit entry follows (store/base.py uses this one)."""

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
    (
        3,  # incidents, their append-only timeline, and the counter their ids come from
        [
            """CREATE TABLE incidents (
                id TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE, title TEXT NOT NULL,
                severity INTEGER NOT NULL, status TEXT NOT NULL,
                commander TEXT NOT NULL DEFAULT '', opened_at REAL NOT NULL,
                resolved_at REAL, acknowledged_at REAL, runbook TEXT NOT NULL DEFAULT '',
                group_key TEXT NOT NULL DEFAULT '', impact TEXT NOT NULL DEFAULT '',
                affected TEXT NOT NULL DEFAULT '', updated_at REAL NOT NULL,
                revision INTEGER NOT NULL DEFAULT 0)""",
            "CREATE INDEX incidents_status ON incidents (status, updated_at)",
            "CREATE INDEX incidents_group ON incidents (group_key)",
            "CREATE TABLE incident_counter (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
            "INSERT INTO incident_counter (name, value) VALUES ('incident', 1000)",
            """CREATE TABLE timeline (
                id INTEGER PRIMARY KEY, incident_id TEXT NOT NULL REFERENCES incidents (id),
                at REAL NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
                operator TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX timeline_incident ON timeline (incident_id, at)",
            # alert and audit refs are written once per incident and kind (idempotent polls)
            """CREATE UNIQUE INDEX timeline_once ON timeline (incident_id, kind, ref)
               WHERE substr(ref, 1, 6) IN ('alert:', 'audit:')""",
            """CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline
               BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END""",
            """CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline
               BEGIN SELECT RAISE(ABORT, 'the incident timeline is append-only'); END""",
        ],
        [
            """CREATE TABLE incidents (
                id TEXT PRIMARY KEY, number BIGINT NOT NULL UNIQUE, title TEXT NOT NULL,
                severity INTEGER NOT NULL, status TEXT NOT NULL,
                commander TEXT NOT NULL DEFAULT '', opened_at DOUBLE PRECISION NOT NULL,
                resolved_at DOUBLE PRECISION, acknowledged_at DOUBLE PRECISION,
                runbook TEXT NOT NULL DEFAULT '', group_key TEXT NOT NULL DEFAULT '',
                impact TEXT NOT NULL DEFAULT '', affected TEXT NOT NULL DEFAULT '',
                updated_at DOUBLE PRECISION NOT NULL, revision BIGINT NOT NULL DEFAULT 0)""",
            "CREATE INDEX incidents_status ON incidents (status, updated_at)",
            "CREATE INDEX incidents_group ON incidents (group_key)",
            "CREATE TABLE incident_counter (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
            "INSERT INTO incident_counter (name, value) VALUES ('incident', 1000)",
            """CREATE TABLE timeline (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                incident_id TEXT NOT NULL REFERENCES incidents (id),
                at DOUBLE PRECISION NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL,
                operator TEXT NOT NULL DEFAULT '', ref TEXT NOT NULL DEFAULT '')""",
            "CREATE INDEX timeline_incident ON timeline (incident_id, at)",
            """CREATE UNIQUE INDEX timeline_once ON timeline (incident_id, kind, ref)
               WHERE substr(ref, 1, 6) IN ('alert:', 'audit:')""",
            """CREATE FUNCTION oncall_timeline_append_only() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'the incident timeline is append-only'; END $$""",
            """CREATE TRIGGER timeline_append_only BEFORE UPDATE OR DELETE ON timeline
               FOR EACH ROW EXECUTE FUNCTION oncall_timeline_append_only()""",
        ],
    ),
    (
        4,  # the audit head: the newest entry's id and hash, moved in each append's
        # transaction, so a cut at the chain's end (rows deleted behind the triggers) shows
        [
            """CREATE TABLE audit_head (one INTEGER PRIMARY KEY CHECK (one = 1),
                entries INTEGER NOT NULL, hash TEXT NOT NULL)""",
            f"""INSERT INTO audit_head (one, entries, hash) VALUES (1,
                coalesce((SELECT max(id) FROM audit), 0),
                coalesce((SELECT hash FROM audit ORDER BY id DESC LIMIT 1), '{GENESIS}'))""",
            """CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
               BEGIN SELECT RAISE(ABORT, 'the audit head only moves forward'); END""",
            """CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
               WHEN NEW.entries < OLD.entries
               BEGIN SELECT RAISE(ABORT, 'the audit head only moves forward'); END""",
        ],
        [
            """CREATE TABLE audit_head (one INTEGER PRIMARY KEY CHECK (one = 1),
                entries BIGINT NOT NULL, hash TEXT NOT NULL)""",
            f"""INSERT INTO audit_head (one, entries, hash) VALUES (1,
                coalesce((SELECT max(id) FROM audit), 0),
                coalesce((SELECT hash FROM audit ORDER BY id DESC LIMIT 1), '{GENESIS}'))""",
            """CREATE FUNCTION oncall_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'the audit head only moves forward'; END $$""",
            """CREATE TRIGGER audit_head_kept BEFORE DELETE ON audit_head
               FOR EACH ROW EXECUTE FUNCTION oncall_audit_head_forward()""",
            """CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head
               FOR EACH ROW WHEN (NEW.entries < OLD.entries)
               EXECUTE FUNCTION oncall_audit_head_forward()""",
            # TRUNCATE skips row triggers: refuse it on every append-only table
            """CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
               FOR EACH STATEMENT EXECUTE FUNCTION oncall_audit_head_forward()""",
            """CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
               FOR EACH STATEMENT EXECUTE FUNCTION oncall_audit_append_only()""",
            """CREATE TRIGGER timeline_no_truncate BEFORE TRUNCATE ON timeline
               FOR EACH STATEMENT EXECUTE FUNCTION oncall_timeline_append_only()""",
        ],
    ),
]

LATEST = MIGRATIONS[-1][0]
