"""The data stamp's one row."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


def _random_hex() -> str:
    return uuid.uuid4().hex


class DataStamp(models.Model):
    """How many times, and when last, the data the API and the dashboards show has changed.

    One row, moved on after every committed change to a tracked record (``lsis.core.changes``). A
    read can then tell whether anything it would show has changed since a client's copy, without
    building the answer: the API's ETag and Last-Modified come from it. ``epoch`` is new whenever the
    row is created, so validators from before a database was emptied never match again.

    Every request reads this row, so its columns are plain text and integers: read with a fixed
    statement, they need no conversion on any database.
    """

    key = models.CharField(max_length=20, primary_key=True)
    epoch = models.CharField(max_length=32, default=_random_hex, editable=False)
    version = models.PositiveBigIntegerField(default=1)
    changed_at = models.PositiveBigIntegerField(
        help_text="Seconds since 1970-01-01 UTC, strictly later for every version."
    )

    class Meta:
        # The table the row has always lived in (it began in the commitments app): moving the model
        # moved no data.
        db_table = "commitments_datastamp"

    def __str__(self) -> str:
        return f"{self.key} version {self.version}"


# --- people: their team and how often they want reminders -------------------------------------------------


class ReminderFrequency(models.TextChoices):
    """How often a person wants their reminders."""

    NONE = "none", "Never: I check my tasks myself"
    DAILY = "daily", "A daily digest, on days something needs me"
    WEEKLY = "weekly", "A weekly digest, on Mondays"


class StaffProfile(models.Model):
    """What the tracker knows of a member of staff beyond their account: their team and reminder preference."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    team = models.CharField(
        max_length=200, blank=True, help_text="The team partners see as a commitment's owner (never a person)."
    )
    reminder_frequency = models.CharField(
        max_length=10, choices=ReminderFrequency.choices, default=ReminderFrequency.DAILY
    )

    def __str__(self) -> str:
        return f"{self.user}: {self.team or 'no team'}"


# --- the ledger of messages sent ------------------------------------------------------------------------


class MessageStatus(models.TextChoices):
    """Where a message stands, up to the provider's last word."""

    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed, will be tried again"
    PERMANENT_FAILURE = "permanent-failure", "Failed permanently"


class Message(models.Model):
    """One e-mail to one person: a digest. At most one per person and digest period (``key``).

    Written (queued) in the same transaction as the reminders it carries, then sent by a task that takes
    its primary key; ``status`` follows it to the provider's last word.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="messages")
    key = models.CharField(max_length=40, help_text="The digest period: daily:2026-12-07 or weekly:2026-W50.")
    address = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=20, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True, help_text="The last error the sending met.")
    provider_reference = models.CharField(
        max_length=100, blank=True, help_text="The provider's id for the message (GOV.UK Notify's notification id)."
    )
    provider_status = models.CharField(max_length=40, blank=True, help_text="The provider's delivery status.")
    run = models.UUIDField(editable=False, help_text="The reminder run that wrote it.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["recipient", "key"], name="message_one_per_person_and_period")]
        indexes = [models.Index(fields=["status"], name="message_status_idx")]

    def __str__(self) -> str:
        return f"{self.key} to {self.address}: {self.get_status_display()}"


class Reminder(models.Model):
    """The ledger: one reminder of one kind for one period to one person, ever (the unique key).

    A reminder is written with the message that carries it, so a reminder is either in the ledger and on
    its way, or not yet sent and still to be sent.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reminders")
    kind = models.CharField(max_length=40)
    period = models.CharField(max_length=40, help_text="The quarter (2026-27 Q2) or the day the reminder is for.")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reminders")
    detail = models.TextField(blank=True, help_text="What the reminder listed.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "kind", "period"], name="reminder_once_per_kind_and_period")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.period} to {self.recipient}"


# --- the change feed (``lsis.core.feed``) ------------------------------------------------------------------


class FeedHead(models.Model):
    """The feed's one row: the last sequence number given, locked by whoever appends to the feed.

    Appending is serialised on this row, and reads committed data only after taking it, so sequence
    numbers follow the order in which changes became visible: commit order.
    """

    key = models.CharField(max_length=20, primary_key=True)
    epoch = models.CharField(
        max_length=32, default=_random_hex, editable=False, help_text="New whenever the feed starts afresh."
    )
    seq = models.PositiveBigIntegerField(default=0, help_text="The last sequence number given.")

    def __str__(self) -> str:
        return f"{self.key} at {self.seq}"


class FeedPending(models.Model):
    """A record of one kind that may have changed (``key`` empty: any of that kind), written with the change.

    Rows are written in the transaction that makes the change, so they commit with it or not at all;
    publishing the feed reads them after commit and deletes the ones it handled.
    """

    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=200, blank=True, help_text="Empty: every record of the kind.")

    def __str__(self) -> str:
        return f"{self.kind} {self.key or '(all)'}"


class FeedState(models.Model):
    """What the feed last said of one record: a digest of its record, and whether partners saw it."""

    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=200)
    digest = models.CharField(max_length=64, blank=True)
    visible = models.BooleanField(default=False)
    exists = models.BooleanField(default=True)
    seq = models.PositiveBigIntegerField(help_text="The entry that last changed it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="feedstate_one_per_record")]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"


class FeedAction(models.TextChoices):
    """What happened to a record, as a partner sees it."""

    CREATED = "created", "Created (newly visible)"
    UPDATED = "updated", "Updated"
    WITHDRAWN = "withdrawn", "Withdrawn from publication"
    DELETED = "deleted", "Deleted"


class FeedEntry(models.Model):
    """One change in the feed, in commit order: the record as a partner reads it (none once it is gone)."""

    seq = models.PositiveBigIntegerField(primary_key=True)
    kind = models.CharField(max_length=40)
    key = models.CharField(max_length=200)
    action = models.CharField(max_length=10, choices=FeedAction.choices)
    record = models.JSONField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["kind", "seq"], name="feedentry_kind_seq")]
        verbose_name_plural = "feed entries"

    def __str__(self) -> str:
        return f"{self.seq} {self.action} {self.kind} {self.key}"


# --- periodic jobs' last success (``lsis.core.heartbeats``, ``lsis.core.health``) ----------------------------


class JobHeartbeat(models.Model):
    """When a periodic job last finished successfully: what the readiness check reads to see the job keeps up.

    One row per job, overwritten by every successful run. Not tracked by the data stamp nor the change feed:
    it says nothing about the data people read.
    """

    name = models.CharField(max_length=200, unique=True, help_text="The job: its Celery task's name.")
    succeeded_at = models.DateTimeField(help_text="When its last successful run finished.")

    def __str__(self) -> str:
        return f"{self.name} succeeded at {self.succeeded_at:%Y-%m-%d %H:%M:%S %Z}"
