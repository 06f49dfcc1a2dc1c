"""Alert rules get an owner (whose view permissions bound the queues a rule covers) and a
coverage note. Existing rules take as owner whoever last created or edited them according to
the audit log; a rule with no such record has none and covers nothing until someone saves it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def owners_from_audit(apps, schema_editor):  # type: ignore[no-untyped-def]
    AlertRule = apps.get_model("queue_dashboard", "AlertRule")
    AuditLog = apps.get_model("queue_dashboard", "AuditLog")
    for rule in AlertRule.objects.filter(owner__isnull=True):
        last = (AuditLog.objects
                .filter(action__in=("alerts.rule.create", "alerts.rule.edit"), outcome="ok",
                        user__isnull=False, detail__startswith=f"rule {rule.pk} ")
                .order_by("-created_at", "-id").first())
        if last is not None:
            AlertRule.objects.filter(pk=rule.pk).update(owner_id=last.user_id)


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("queue_dashboard", "0003_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertrule",
            name="owner",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL,
                related_name="+", to=settings.AUTH_USER_MODEL, verbose_name="owner"),
        ),
        migrations.AddField(
            model_name="alertrule",
            name="coverage",
            field=models.CharField(
                blank=True, editable=False, max_length=10, verbose_name="coverage",
                choices=[
                    ("no_owner", "Covers no queue: its owner was deleted. Saving the rule "
                     "makes you its owner."),
                    ("no_access", "Covers no queue: its owner may not view the queues it "
                     "names."),
                ]),
        ),
        migrations.RunPython(owners_from_audit, migrations.RunPython.noop),
    ]
