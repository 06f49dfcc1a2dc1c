"""Alert rules, the state of each rule on each queue it watches, its events and deliveries.

Each transition (fired, resolved) of one alert is an ``AlertEvent`` unique on (state,
generation, transition), and each delivery of an event is unique on (event, channel): two
evaluator processes that decide the same transition at once insert one row, and the loser's
transaction rolls back, so every alert is delivered once whatever runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertKind(models.TextChoices):
    DEPTH = "depth", _("Queue depth above N")
    OLDEST_WAITING = "oldest_waiting", _("Oldest waiting job older than N seconds")
    FAILURE_RATE = "failure_rate", _("Failure rate above N % over the window")
    NO_WORKERS = "no_workers", _("No workers while jobs wait")
    SCHEDULER_MISSED = "scheduler_missed", _("A job scheduler missed its run by N seconds")


class Webhook(models.Model):
    """Where alerts are POSTed: Slack-compatible (``{"text": ...}``) or generic JSON."""

    class Format(models.TextChoices):
        SLACK = "slack", _("Slack-compatible")
        GENERIC = "generic", _("Generic JSON")

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.URLField(_("URL"), max_length=2000)
    format = models.CharField(_("format"), max_length=8, choices=Format.choices,
                              default=Format.GENERIC)
    secret = models.CharField(_("signing secret"), max_length=200, blank=True)
    enabled = models.BooleanField(_("enabled"), default=True)
    #: Who last saved it: deliveries through it are withheld from the queues that person
    #: may not view (a webhook carries no alert past whoever last pointed it somewhere).
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+",
                                   editable=False, verbose_name=_("last changed by"))

    class Meta:
        ordering = ("name",)
        verbose_name = _("alert webhook")
        verbose_name_plural = _("alert webhooks")

    def __str__(self) -> str:
        return self.name


class AlertRule(models.Model):
    class Coverage(models.TextChoices):
        """Why a rule covers no queue (blank: it covers what its owner may view)."""

        NO_OWNER = "no_owner", _(
            "Covers no queue: its owner was deleted. Saving the rule makes you its owner.")
        NO_ACCESS = "no_access", _(
            "Covers no queue: its owner may not view the queues it names.")

    name = models.CharField(_("name"), max_length=200)
    #: Whose view permissions bound the queues the rule covers: the last person who saved it.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+",
                              verbose_name=_("owner"))
    connection = models.CharField(_("connection"), max_length=100)
    queue_pattern = models.CharField(
        _("queue or pattern"), max_length=256,
        help_text=_("A queue name, or an fnmatch pattern (mail-*)."))
    kind = models.CharField(_("kind"), max_length=20, choices=AlertKind.choices,
                            default=AlertKind.DEPTH)
    state = models.CharField(
        _("counted state"), max_length=20, blank=True,
        help_text=_("Depth rules: the state counted (blank: waiting + prioritized)."))
    threshold = models.FloatField(_("threshold"))
    resolve_threshold = models.FloatField(
        _("resolve threshold"), null=True, blank=True,
        help_text=_("Resolves at or below this value (blank: the threshold)."))
    window_seconds = models.PositiveIntegerField(
        _("window (s)"), default=300, help_text=_("Failure rate rules: the window measured."))
    for_seconds = models.PositiveIntegerField(
        _("for (s)"), default=60, help_text=_("Fires when the condition held this long."))
    resolve_for_seconds = models.PositiveIntegerField(
        _("resolve after (s)"), default=60,
        help_text=_("Resolves when the condition stayed clear this long."))
    enabled = models.BooleanField(_("enabled"), default=True)
    email_to = models.TextField(
        _("email recipients"), blank=True, help_text=_("Addresses, comma or line separated."))
    webhooks = models.ManyToManyField(Webhook, blank=True, related_name="rules",
                                      verbose_name=_("webhooks"),
                                      help_text=_("Webhooks are added on the alerts page."))
    #: Set by the evaluator when the rule covers no queue because of its owner.
    coverage = models.CharField(_("coverage"), max_length=10, blank=True, editable=False,
                                choices=Coverage.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")

    def __str__(self) -> str:
        return self.name

    @property
    def clear_threshold(self) -> float:
        return self.threshold if self.resolve_threshold is None else self.resolve_threshold

    def recipients(self) -> list[str]:
        return [a.strip() for a in self.email_to.replace("\n", ",").split(",") if a.strip()]


class AlertState(models.Model):
    """One rule on one queue: ok, pending (breached, not yet for long enough) or firing."""

    class Status(models.TextChoices):
        OK = "ok", _("ok")
        PENDING = "pending", _("pending")
        FIRING = "firing", _("firing")

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="states")
    connection = models.CharField(max_length=100)
    queue = models.CharField(max_length=256)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OK)
    value = models.FloatField(null=True, blank=True)
    breach_since = models.DateTimeField(null=True, blank=True)
    clear_since = models.DateTimeField(null=True, blank=True)
    fired_at = models.DateTimeField(null=True, blank=True)
    #: Bumped on each firing: events of one firing share it (the unique key of a transition).
    generation = models.PositiveIntegerField(default=0)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.CharField(max_length=150, blank=True)
    silenced_until = models.DateTimeField(null=True, blank=True)
    #: Set while the rule cannot be evaluated (Redis away): "unknown", status kept as it was.
    error = models.TextField(blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    evaluations = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("rule__name", "queue")
        constraints = [
            models.UniqueConstraint(fields=("rule", "connection", "queue"),
                                    name="qd_alert_state_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} on {self.connection}:{self.queue}"


class AlertEvent(models.Model):
    class Kind(models.TextChoices):
        FIRED = "fired", _("fired")
        RESOLVED = "resolved", _("resolved")
        ACKNOWLEDGED = "acknowledged", _("acknowledged")
        SILENCED = "silenced", _("silenced")
        UNSILENCED = "unsilenced", _("silence lifted")

    state = models.ForeignKey(AlertState, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    generation = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    value = models.FloatField(null=True, blank=True)
    username = models.CharField(max_length=150, blank=True)
    detail = models.TextField(blank=True)
    #: "fired" or "resolved" on a transition (its unique key with state and generation).
    transition = models.CharField(max_length=8, null=True, blank=True, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            # Not a conditional constraint (MySQL has none): ``transition`` is NULL on the
            # other events, and NULLs never collide in a unique index.
            models.UniqueConstraint(fields=("state", "generation", "transition"),
                                    name="qd_alert_transition_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.state}"


class AlertDelivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    #: "email" or "webhook:<id>": with the event, the unique key of a delivery.
    channel = models.CharField(max_length=40)
    webhook = models.ForeignKey(Webhook, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ("-id",)
        constraints = [
            models.UniqueConstraint(fields=("event", "channel"), name="qd_alert_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.pk}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(AlertDelivery, on_delete=models.CASCADE,
                                 related_name="attempt_log")
    created_at = models.DateTimeField(auto_now_add=True)
    ok = models.BooleanField(default=False)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("id",)


class EvaluatorLease(models.Model):
    """Which evaluator process leads: taken and renewed by one conditional UPDATE."""

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField()


__all__ = [
    "AlertDelivery",
    "AlertEvent",
    "AlertKind",
    "AlertRule",
    "AlertState",
    "DeliveryAttempt",
    "EvaluatorLease",
    "Webhook",
]
