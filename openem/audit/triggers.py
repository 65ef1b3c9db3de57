"""The database's own refusal to change the audit log: triggers that reject UPDATE, DELETE and TRUNCATE
of the audit table, whoever sends them (the ORM, raw SQL, a database console).

They are created by migration 0003, and checked after every ``migrate`` (``ensure``, on post_migrate):
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
SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE} (UPDATE refused)'); END
    """,
    f"""
    CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
    BEGIN SELECT RAISE(ABORT, '{MESSAGE} (DELETE refused)'); END
    """,
]
SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"]


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
            return bool(cursor.fetchone()[0] == 2)
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [TABLE])
        return bool(cursor.fetchone()[0] == 2)


def ensure(connection: Any) -> None:
    """Put the triggers back if the audit table exists without them (after a table rebuild)."""
    if TABLE in connection.introspection.table_names() and not installed(connection):
        if connection.vendor == "postgresql":
            remove(connection)  # a half-present set: start again
        install(connection)
