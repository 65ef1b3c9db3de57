"""The default notification policy, as rows administrators can edit."""

from django.db import migrations


def seed(apps, schema_editor):
    from openem.alerts.triage import DEFAULT_POLICY

    Rule = apps.get_model("alerts", "NotificationRule")
    if Rule.objects.exists():
        return
    for i, rule in enumerate(DEFAULT_POLICY):
        Rule.objects.create(
            position=(i + 1) * 10,
            name=rule.name,
            delivery=rule.delivery.value,
            types=sorted(t.value for t in rule.types) if rule.types else [],
            high_risk_only=rule.high_risk_only,
            min_severity=rule.min_severity.value if rule.min_severity else "",
        )


class Migration(migrations.Migration):
    dependencies = [("alerts", "0003_incidents")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
