"""Deleting a person or a user keeps their audit events (bare ids, no constraint, no SET_NULL), and the
database refuses any change to the audit table (triggers chosen for the connection's database)."""

from typing import Any

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from openem.audit import triggers


def install_triggers(apps: Any, schema_editor: Any) -> None:
    triggers.install(schema_editor.connection)


def remove_triggers(apps: Any, schema_editor: Any) -> None:
    triggers.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_more_actions"),
        ("cases", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="person",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="audit_events",
                to="cases.person",
            ),
        ),
        # After the AlterFields: on SQLite they rebuild the table, which would drop triggers made before.
        migrations.RunPython(install_triggers, remove_triggers),
    ]
