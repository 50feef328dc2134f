"""Measures of the sector and of delivery.

``QuarterMetric`` rows hold the progress figures per scope and quarter that the dashboards and the API
read; ``metrics.engine`` computes them, set-based, from the approved status updates. ``ReportingQuarter``
says which quarters the board has signed off (locked). ``RecomputeMarker`` is the outbox that makes
recomputation lossless. ``RegionalStatistic`` is reference data printed in Sector Deal 2.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.db import models

from commitments.models import SourcedModel
from commitments.periods import Quarter
from lsis.models import PublicModel
from metrics.rules import Population, freshness, mean_progress, share_delivered


class RegionalStatistic(PublicModel, SourcedModel):
    """Life sciences employment and turnover in one region, from Sector Deal 2's regional table."""

    region = models.CharField(max_length=100, unique=True)
    region_as_printed = models.CharField(
        max_length=100, help_text="The label as printed, where it differs from the region's usual name."
    )
    employment = models.PositiveIntegerField(help_text="People employed in life sciences.")
    turnover_millions = models.DecimalField(max_digits=10, decimal_places=1, help_text="Turnover in £ million.")
    turnover_text = models.CharField(max_length=40, help_text="The turnover cell as printed.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.region


class ReportingQuarter(models.Model):
    """A financial-year quarter the tracker reports on, and whether the board has signed it off."""

    year = models.PositiveSmallIntegerField(help_text="Calendar year the financial year starts in.")
    number = models.PositiveSmallIntegerField(help_text="1 (April-June) to 4 (January-March).")
    locked_at = models.DateTimeField(null=True, blank=True, help_text="When the board signed the figures off.")
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    live_as_of = models.DateField(
        null=True,
        blank=True,
        help_text=(
            "The day the live figures describe: the quarter's last day once it is over; while it is in "
            "progress, the day they were last computed for (Quarter.figures_day)."
        ),
    )

    class Meta:
        ordering = ["year", "number"]
        permissions = [("lock_reportingquarter", "Can record the board's sign-off of a quarter")]
        constraints = [
            models.UniqueConstraint(fields=["year", "number"], name="reporting_quarter_unique"),
            models.CheckConstraint(condition=models.Q(number__gte=1, number__lte=4), name="reporting_quarter_1_to_4"),
        ]

    def __str__(self) -> str:
        return self.quarter.label

    @cached_property
    def quarter(self) -> Quarter:
        """The period this row reports on (read many times a page: kept once built)."""
        return Quarter(self.year, self.number)

    @property
    def is_locked(self) -> bool:
        """Whether the board has signed the quarter's figures off."""
        return self.locked_at is not None

    def live_figures_current(self, today: date | None = None) -> bool:
        """Whether the live figures describe the day they should (``Quarter.figures_day``).

        That is the last day of a quarter that is over, and today for the quarter in progress; until they
        do, they are recomputed in full rather than adjusted.
        """
        return self.live_as_of == self.quarter.figures_day(today)


class ScopeType(models.TextChoices):
    """What a row of figures is about."""

    TRACKER = "tracker", "Whole tracker"
    DEAL = "deal", "Deal"
    FOUNDATION = "foundation", "Foundation"
    AREA = "area", "Area"
    THEME = "theme", "Theme"
    ACTOR = "actor", "Actor"
    LEAD_ORGANISATION = "lead_organisation", "Lead organisation"
    PROGRAMME = "programme", "Programme"


class Basis(models.TextChoices):
    """Whether figures are kept up to date or frozen at sign-off."""

    LIVE = "live", "Live (recomputed)"
    SIGNED_OFF = "signed_off", "Signed off (frozen when the quarter was locked)"


class QuarterMetric(models.Model):
    """The delivery figures of one scope for one quarter, as of the quarter's last day (``as_of``)."""

    quarter = models.ForeignKey(ReportingQuarter, on_delete=models.CASCADE, related_name="metrics")
    basis = models.CharField(max_length=12, choices=Basis.choices, default=Basis.LIVE)
    # Every scope's figures are kept for both populations, computed in the same pass (``metrics.rules``).
    population = models.CharField(
        max_length=3,
        choices=Population.choices,
        default=Population.ALL,
        help_text="Which commitments the figures count: the key commitments, or every kind (``all``).",
    )
    scope_type = models.CharField(max_length=20, choices=ScopeType.choices)
    scope_key = models.CharField(max_length=100, help_text="Stable key: a code, reference or UUID.")
    scope_label = models.CharField(max_length=300)

    commitments = models.PositiveIntegerField(default=0)
    not_started = models.PositiveIntegerField(default=0)
    in_progress = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    not_being_pursued = models.PositiveIntegerField(default=0)
    green = models.PositiveIntegerField(default=0)
    amber_green = models.PositiveIntegerField(default=0)
    amber = models.PositiveIntegerField(default=0)
    amber_red = models.PositiveIntegerField(default=0)
    red = models.PositiveIntegerField(default=0)
    no_confidence = models.PositiveIntegerField(default=0)
    progress_reported = models.PositiveIntegerField(default=0, help_text="Commitments with a progress figure.")
    progress_total = models.PositiveIntegerField(default=0, help_text="Sum of those progress figures.")
    overdue = models.PositiveIntegerField(default=0)
    stale = models.PositiveIntegerField(default=0, help_text="Commitments with no approved update in the quarter.")
    new_money_low = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    new_money_high = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    new_money_open_ended = models.PositiveIntegerField(
        default=0, help_text="New-money amounts with no stated ceiling (“over £20m”), counted at their floor."
    )
    restated_low = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    restated_high = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    target_low = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    target_high = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    spent = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal(0))
    improved = models.PositiveIntegerField(default=0)
    worsened = models.PositiveIntegerField(default=0)
    status_changed = models.PositiveIntegerField(default=0)
    # Empty only in figures signed off before these were kept: they were not recorded then.
    newly_delivered = models.PositiveIntegerField(
        null=True, default=0, help_text="Delivered now, not at the previous quarter end."
    )
    newly_rated = models.PositiveIntegerField(
        null=True, default=0, help_text="Rated now, with no confidence rating at the previous quarter end."
    )
    rating_withdrawn = models.PositiveIntegerField(
        null=True, default=0, help_text="Rated at the previous quarter end, with no confidence rating now."
    )
    # Empty only in figures signed off before these were kept, like the movements above.
    updates_due = models.PositiveIntegerField(
        null=True,
        default=0,
        help_text="Commitments an update is due from for the quarter: in delivery when it began.",
    )
    updates_done = models.PositiveIntegerField(
        null=True,
        default=0,
        help_text="Of those, commitments with an approved update as of a day in the quarter.",
    )
    milestones_overdue = models.PositiveIntegerField(
        null=True,
        default=0,
        help_text="Milestones of the commitments counted, past their due day and not done by then.",
    )
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["quarter", "basis", "population", "scope_type", "scope_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["quarter", "basis", "population", "scope_type", "scope_key"],
                name="quarter_metric_unique_scope",
            ),
        ]
        indexes = [
            models.Index(fields=["scope_type", "scope_key", "population", "basis"], name="metric_scope_population_idx")
        ]

    def __str__(self) -> str:
        return f"{self.scope_label}, {self.quarter}"

    @property
    def as_of(self) -> date:
        """The day the figures describe.

        The quarter's last day, or for the live figures of the quarter in progress, the day they were
        computed for (``ReportingQuarter.live_as_of``).
        """
        if self.basis == Basis.LIVE and self.quarter.live_as_of is not None:
            return self.quarter.live_as_of
        return self.quarter.quarter.end

    @property
    def share_delivered(self) -> Decimal | None:
        """Delivered commitments as a share of all counted (``metrics.rules.share_delivered``)."""
        return share_delivered(delivered=self.delivered, commitments=self.commitments)

    @property
    def mean_progress(self) -> Decimal | None:
        """Mean progress of the ``progress_reported`` commitments reporting a figure (``metrics.rules``)."""
        return mean_progress(progress_total=self.progress_total, progress_reported=self.progress_reported)

    @property
    def freshness(self) -> Decimal | None:
        """The quarter's updates done as a share of those due (``metrics.rules.freshness``); None if not recorded."""
        if self.updates_done is None or self.updates_due is None:
            return None
        return freshness(updates_done=self.updates_done, updates_due=self.updates_due)


class RecomputeMarker(models.Model):
    """Outbox: a commitment whose figures changed from a date on, written in the approval's transaction.

    A publication or withdrawal records the flag it changed (``was_published``): the first such marker
    of a commitment holds the flag its stored figures were computed with; likewise an edit of the commitment
    itself records what the figures read about it before (``before``). A task deletes markers once it
    has recomputed what they name, in the same transaction as its results; a periodic sweep picks up any
    marker whose task never ran, so nothing is lost when the broker is down or a worker dies.
    """

    commitment = models.ForeignKey("commitments.Commitment", on_delete=models.CASCADE, related_name="+")
    from_date = models.DateField(help_text="The earliest as-of date whose figures may have changed.")
    was_published = models.BooleanField(
        null=True,
        blank=True,
        help_text="For a publication or withdrawal: whether the commitment was published before it. "
        "Empty for a change of delivery state.",
    )
    before = models.JSONField(
        null=True,
        blank=True,
        help_text="For an edit of the commitment itself (its dates, scopes or money): what the figures read "
        "about it before the edit. Empty for a change of delivery state or publication.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.commitment_id} from {self.from_date}"


class DeliverySpan(models.Model):
    """Derived: the days over which one approved update set its commitment's delivery state.

    An approved update governs from its as-of date until the as-of date of the commitment's next
    approved update (``ends``, exclusive; open while there is none). Of several approved updates with the
    same as-of date only the latest approved governs (``commitments.models.LATEST_FIRST``). "The state as
    of a day" is then a range lookup instead of a ranking over every update, and the spans are the record
    of what the stored figures were computed from, which the incremental recompute diffs against.
    Kept by ``metrics.services``, in the same transaction as the figures.
    """

    # Derived rows, rewritten in bulk: no database-level foreign keys (their checks made a rebuild ten times
    # slower). Django still deletes a commitment's spans with it; approved updates are never deleted, and a
    # span carries the state it needs, so it points at its update for the record only.
    commitment = models.ForeignKey(
        "commitments.Commitment",
        on_delete=models.CASCADE,
        related_name="delivery_spans",
        db_constraint=False,
        db_index=False,  # the (commitment, starts) index serves
    )
    update = models.ForeignKey(
        "commitments.StatusUpdate", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False, db_index=False
    )
    starts = models.DateField()
    ends = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=20)
    confidence = models.CharField(max_length=20, blank=True)
    progress = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="As reported, or implied by the status (delivered 100, not started 0)."
    )
    spent = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["commitment", "starts"]
        indexes = [
            models.Index(fields=["commitment", "starts"], name="delivery_span_commitment_idx"),
            # Time travel finds the spans starting between two days (``rules.state_may_change``).
            models.Index(fields=["starts"], name="delivery_span_starts_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.commitment_id} from {self.starts}"


class DayState(models.Model):
    """Derived, for one computation: what each counted commitment adds to its scopes' figures as of a day.

    A temporary table (``metrics.day_states``), filled in one statement from the delivery spans covering the
    day and the previous quarter's end, so that the engine's grouped passes (one per kind of scope) sum a
    narrow row per commitment instead of each joining the spans again and deciding every rule again: its
    state on the day and then, and the rules decided for it once (fresh, the quarter's update due, overdue
    on either day, each movement), as 0 or 1, with its milestones overdue on either day. It lives for the
    transaction that fills it; no migration creates it.
    """

    commitment = models.OneToOneField(
        "commitments.Commitment",
        on_delete=models.DO_NOTHING,
        primary_key=True,
        related_name="day_state",
        db_constraint=False,
    )
    kind = models.CharField(max_length=30)
    status = models.CharField(max_length=20, null=True)
    confidence = models.CharField(max_length=20, null=True)
    progress = models.PositiveSmallIntegerField(null=True)
    spent = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    fresh = models.PositiveSmallIntegerField()
    due = models.PositiveSmallIntegerField()
    overdue = models.PositiveSmallIntegerField()
    milestones_overdue = models.PositiveIntegerField()
    improved = models.PositiveSmallIntegerField()
    worsened = models.PositiveSmallIntegerField()
    status_changed = models.PositiveSmallIntegerField()
    newly_delivered = models.PositiveSmallIntegerField()
    newly_rated = models.PositiveSmallIntegerField()
    rating_withdrawn = models.PositiveSmallIntegerField()
    before_status = models.CharField(max_length=20, null=True)
    before_confidence = models.CharField(max_length=20, null=True)
    before_progress = models.PositiveSmallIntegerField(null=True)
    before_spent = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    before_overdue = models.PositiveSmallIntegerField()
    before_milestones_overdue = models.PositiveIntegerField()

    class Meta:
        managed = False
        db_table = "metrics_day_state"

    def __str__(self) -> str:
        return f"{self.commitment_id}: {self.status}"


# Open-data releases live in a module of their own; imported here so that Django finds them.
from metrics.release_models import Release, ReleaseFile  # noqa: E402

__all__ = [
    "Basis",
    "DayState",
    "DeliverySpan",
    "QuarterMetric",
    "RecomputeMarker",
    "RegionalStatistic",
    "Release",
    "ReleaseFile",
    "ReportingQuarter",
    "ScopeType",
]
