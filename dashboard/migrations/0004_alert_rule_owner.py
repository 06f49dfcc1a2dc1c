"""Alert rules get an owner (whose view permissions bound the queues a rule covers) and a
coverage note. Existing rules take as owner whoever last created or edited them according to
the audit log; a rule with no such record has none and covers nothing until someone saves it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def owners_from_audit(apps, schema_editor):  # type: ignore[no-untyped-def]
    """One read of the audit log's rule creations and edits, newest first (not one LIKE scan
    per rule): the first row naming a rule is its last editor."""
    AlertRule = apps.get_model("queue_dashboard", "AlertRule")
    AuditLog = apps.get_model("queue_dashboard", "AuditLog")
    orphans = set(AlertRule.objects.filter(owner__isnull=True).values_list("pk", flat=True))
    if not orphans:
        return
    owners: dict[int, int] = {}
    rows = (AuditLog.objects
            .filter(action__in=("alerts.rule.create", "alerts.rule.edit"), outcome="ok",
                    user__isnull=False, detail__startswith="rule ")
            .order_by("-created_at", "-id").values_list("detail", "user_id"))
    for detail, user_id in rows.iterator(chunk_size=2000):
        # "rule <pk> 'name': ..." as the views write it.
        word = detail[len("rule "):].split(" ", 1)[0]
        if word.isascii() and word.isdigit() and int(word) in orphans:
            owners.setdefault(int(word), user_id)
            if len(owners) == len(orphans):
                break
    for pk, user_id in owners.items():
        AlertRule.objects.filter(pk=pk).update(owner_id=user_id)


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
