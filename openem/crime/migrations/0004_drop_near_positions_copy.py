"""Finding.evidence (the near positions only) is replaced by FindingEvidence, filled from it by 0003: a
migration of its own, so that the copy is committed before the table it came from is altered."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("crime", "0003_evidence_and_progress"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="finding",
            name="evidence",
        ),
    ]
