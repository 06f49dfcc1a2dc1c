"""The rule and webhook forms: every field checked, with a clear message per field."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils.translation import gettext_lazy as _

from dashboard import conf
from dashboard.alerts.models import AlertKind, AlertRule, Webhook
from dashboard.services.common import STATES
from dashboard.templatetags.queue_dashboard import state_label
from queuecore import validate_queue_name

_PATTERN_CHARS = frozenset("*?[")
MAX_WINDOW = 7 * 86400  # a week: BullMQ keeps per-minute metrics for about that long at most


class AlertRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    connection = forms.ChoiceField(label=_("connection"))
    state = forms.ChoiceField(label=_("counted state"), required=False,
                              help_text=AlertRule._meta.get_field("state").help_text)

    class Meta:
        model = AlertRule
        fields = ("name", "connection", "queue_pattern", "kind", "state", "threshold",
                  "resolve_threshold", "window_seconds", "for_seconds", "resolve_for_seconds",
                  "enabled", "email_to", "webhooks")
        widgets = {
            "webhooks": forms.CheckboxSelectMultiple,
            "email_to": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["connection"]).choices = [
            (c.name, c.title) for c in conf.get_settings().connections]
        cast(forms.ChoiceField, self.fields["state"]).choices = [
            ("", _("waiting + prioritized")), *((s, state_label(s)) for s in STATES)]
        self.fields["queue_pattern"].help_text = _(
            "A queue name, or an fnmatch pattern (mail-*). The rule covers only the queues "
            "its owner may view, and whoever saves it becomes its owner.")
        self.fields["threshold"].widget.attrs.update(min="0", step="any")
        self.fields["resolve_threshold"].widget.attrs.update(min="0", step="any")

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if not name.strip():
            raise ValidationError(_("Give the rule a name."))
        return name.strip()

    def clean_queue_pattern(self) -> str:
        pattern: str = self.cleaned_data["queue_pattern"]
        if any(ord(ch) < 32 for ch in pattern):
            raise ValidationError(_("A queue name has no control characters."))
        if not _PATTERN_CHARS & set(pattern):
            try:
                validate_queue_name(pattern)
            except ValueError as exc:
                raise ValidationError(str(exc)) from exc
        return pattern

    def clean_email_to(self) -> str:
        raw: str = self.cleaned_data["email_to"]
        addresses = [a.strip() for a in raw.replace("\n", ",").split(",") if a.strip()]
        bad = []
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                bad.append(address)
        if bad:
            raise ValidationError(
                _("Not an email address: %(bad)s"), params={"bad": ", ".join(bad)[:200]})
        return ", ".join(addresses)

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        threshold = data.get("threshold")
        resolve = data.get("resolve_threshold")
        kind = data.get("kind")
        if threshold is not None and threshold < 0:
            self.add_error("threshold", _("The threshold is a number >= 0."))
        if kind == AlertKind.FAILURE_RATE and threshold is not None and threshold >= 100:
            self.add_error("threshold", _("A failure rate threshold is a percentage below 100."))
        if resolve is not None and threshold is not None and not 0 <= resolve <= threshold:
            self.add_error("resolve_threshold",
                           _("The resolve threshold is between 0 and the threshold."))
        if data.get("state") and kind != AlertKind.DEPTH:
            self.add_error("state", _("Only depth rules count a chosen state."))
        window = data.get("window_seconds")
        if window is not None and not 60 <= window <= MAX_WINDOW:
            self.add_error("window_seconds",
                           _("The window is between 60 seconds and 7 days."))
        for field in ("for_seconds", "resolve_for_seconds"):
            value = data.get(field)
            if value is not None and value > MAX_WINDOW:
                self.add_error(field, _("At most 7 days."))
        return data


class WebhookForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(label=_("URL"), max_length=2000, assume_scheme="https")
    secret = forms.CharField(
        label=_("signing secret"), required=False, max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Signs each request (HMAC-SHA256). Left blank when editing: unchanged."))
    clear_secret = forms.BooleanField(label=_("remove the secret"), required=False)

    class Meta:
        model = Webhook
        fields = ("name", "url", "format", "secret", "enabled")

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        URLValidator(schemes=["http", "https"])(url)
        return url

    def save(self, commit: bool = True) -> Webhook:
        webhook: Webhook = super().save(commit=False)
        if self.cleaned_data.get("clear_secret"):
            webhook.secret = ""
        elif not self.cleaned_data.get("secret") and self.instance.pk:
            webhook.secret = Webhook.objects.get(pk=self.instance.pk).secret
        if commit:
            webhook.save()
        return webhook
