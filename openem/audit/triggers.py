"""The database's own refusal to change the audit log: triggers that reject UPDATE, DELETE and TRUNCATE
of the audit table, whoever sends them (the ORM, raw SQL, a database console).

They are created by migrations 0003 and 0004 (SQLite's refusal of INSERT OR REPLACE), and checked
after every ``migrate`` (``ensure``, on post_migrate):
on SQLite a later migration that rebuilds the audit table (most AlterField/RemoveField operations do)
drops its triggers with the old table, and they must come back. tests/security/test_audit_complete.py
fails if they are missing.
"""

from __future__ import annotations

from typing import Any

TABLE = "audit_auditevent"
MESSAGE = "the audit log is append-only: its events cannot be changed or deleted"

# restrict_violation (SQLSTATE 23001) reaches Django as IntegrityError, as SQLite's RAISE(ABORT) does.
POSTGRESQL_INSTALL = [
    f"""
    CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    f"""
    CREATE TRIGGER {TABLE}_no_update_delete BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()
    """,
    f"""
    CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()
    """,
]
POSTGRESQL_REMOVE = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_update_delete ON {TABLE}",
    f"DROP FUNCTION IF EXISTS {TABLE}_append_only()",
]

# SQLite has no TRUNCATE: "DELETE FROM t" without WHERE is a DELETE, and fires the delete trigger.
# INSERT OR REPLACE (and REPLACE INTO) of an existing id deletes the old row without firing the delete
# trigger (SQLite fires it then only with recursive_triggers on): refuse an insert whose id exists.
# PostgreSQL's INSERT ... ON CONFLICT DO UPDATE is an UPDATE, and its update trigger refuses it.
SQLITE_NO_REPLACE = f"""
    CREATE TRIGGER IF NOT EXISTS {TABLE}_no_replace BEFORE INSERT ON {TABLE}
    WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM {TABLE} WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{MESSAGE} (INSERT over an existing event refused)'); END
    """
SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE} (UPDATE refused)'); END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE} (DELETE refused)'); END
    """,
    SQLITE_NO_REPLACE,
]
SQLITE_REMOVE = [
    f"DROP TRIGGER IF EXISTS {TABLE}_no_update",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_delete",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_replace",
]
# How many triggers a complete set has, by database.
EXPECTED = {"postgresql": 2, "sqlite": 3}


def _statements(vendor: str, install: bool) -> list[str]:
    if vendor == "postgresql":
        return POSTGRESQL_INSTALL if install else POSTGRESQL_REMOVE
    if vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_REMOVE
    raise NotImplementedError(
        f"the audit log's append-only triggers exist for PostgreSQL and SQLite, not for {vendor}: "
        "write them for this database before using it"
    )


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, install=True):
            cursor.execute(sql)


def remove(connection: Any) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, install=False):
            cursor.execute(sql)


def installed(connection: Any) -> bool:
    """Whether the triggers are in place (for checks and tests)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND tgname LIKE %s",
                [TABLE, f"{TABLE}_no_%"],
            )
            return bool(cursor.fetchone()[0] == EXPECTED["postgresql"])
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        return bool(cursor.fetchone()[0] == EXPECTED["sqlite"])


def ensure(connection: Any) -> None:
    """Put the triggers back if the audit table exists without them (after a table rebuild)."""
    if TABLE in connection.introspection.table_names() and not installed(connection):
        if connection.vendor == "postgresql":
            remove(connection)  # a half-present set: start again
        install(connection)


def remove_no_replace(connection: Any) -> None:
    """Undo migration 0004: SQLite's insert trigger only (PostgreSQL has none to remove)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_replace")
