"""Webhooks record who last saved them: deliveries through a webhook are withheld from the
queues that person may not view. Existing webhooks have none (not held)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("queue_dashboard", "0004_alert_rule_owner"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhook",
            name="changed_by",
            field=models.ForeignKey(
                blank=True, editable=False, null=True,
                on_delete=django.db.models.deletion.SET_NULL, related_name="+",
                to=settings.AUTH_USER_MODEL, verbose_name="last changed by"),
        ),
    ]
