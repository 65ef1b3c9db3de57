"""SQLite's INSERT OR REPLACE over an existing audit event replaced it without firing the delete trigger:
a trigger now refuses any insert whose id exists (see ``triggers.py``). Installs whatever of the set is
missing, so a database migrated before this gets the new trigger and keeps the others."""

from typing import Any

from django.db import migrations

from openem.audit import triggers


def install_missing(apps: Any, schema_editor: Any) -> None:
    triggers.ensure(schema_editor.connection)


def remove_no_replace(apps: Any, schema_editor: Any) -> None:
    triggers.remove_no_replace(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_only")]

    operations = [migrations.RunPython(install_missing, remove_no_replace)]
