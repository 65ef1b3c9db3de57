# Kept positions sealed to their match (FindingEvidence.seal): those kept before are sealed here, with the
# server's secret key, as they stand (a copy already altered still fails its digest when next read).

from django.db import migrations, models


def seal_kept(apps, schema_editor):
    from openem.crime.models import evidence_seal

    FindingEvidence = apps.get_model("crime", "FindingEvidence")
    for e in (
        FindingEvidence.objects.select_related("finding")
        .only("finding__id", "finding__crime_id", "finding__person_id", "sha256")
        .iterator()
    ):
        e.seal = evidence_seal(e.finding.pk, e.finding.crime_id, e.finding.person_id, e.sha256)
        e.save(update_fields=["seal"])


class Migration(migrations.Migration):
    dependencies = [
        ("crime", "0005_crime_batches_plural"),
    ]

    operations = [
        migrations.AddField(
            model_name="findingevidence",
            name="seal",
            field=models.CharField(
                default="",
                editable=False,
                help_text="a keyed digest (HMAC with the server's secret key) of the positions' digest and whose "
                "match they are: positions moved to another match, or altered with their digest made again, are "
                "refused",
                max_length=64,
            ),
        ),
        migrations.RunPython(seal_kept, migrations.RunPython.noop),
    ]
