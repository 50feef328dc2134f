"""The quarterly update cycle: which commitments owe the quarter's update, by when, and whether it is done.

Once a quarter ends, an update for it is due from every counted commitment that was in delivery when the
quarter began (``rules.is_update_due``), by ``commitments.periods.update_due_on``: the tenth working day
after the quarter (``UPDATE_DUE_WORKING_DAYS``). It is done by an approved update as of a day in the
quarter (``rules.approved_update_in``, the same rule as freshness in the figures); until then it is due,
and after the due day overdue. The tasks page, the reminders, the commitment page and the ``tasks``
command all read the cycle here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import models
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from commitments.models import Commitment, CommitmentQuerySet, StatusUpdate, UpdateState
from commitments.periods import Quarter, update_cycle, update_due_on
from metrics import rules


class CycleState(models.TextChoices):
    """Where a commitment stands in a cycle."""

    DUE = "due", "Due"
    OVERDUE = "overdue", "Overdue"
    DONE = "done", "Done"


@dataclass(frozen=True)
class Cycle:
    """One quarter's round of updates: the quarter, and the day its updates are due."""

    quarter: Quarter
    due_on: date

    @classmethod
    def for_quarter(cls, quarter: Quarter) -> Cycle:
        """The cycle of ``quarter``."""
        return cls(quarter=quarter, due_on=update_due_on(quarter))

    @classmethod
    def on(cls, today: date | None = None) -> Cycle:
        """The cycle under way on ``today``: the last completed quarter's."""
        return cls.for_quarter(update_cycle(today or timezone.localdate()))

    @property
    def period(self) -> str:
        """The quarter's label, the period the cycle's reminders are keyed by."""
        return self.quarter.label

    def state(self, *, done: bool, today: date) -> CycleState:
        """Python: a commitment's state in the cycle on ``today``: done, else due until the due day, then overdue."""
        if done:
            return CycleState.DONE
        return CycleState.OVERDUE if today > self.due_on else CycleState.DUE

    def days_overdue(self, today: date) -> int:
        """Calendar days past the due day (0 until then)."""
        return max((today - self.due_on).days, 0)

    def owing(self, commitments: CommitmentQuerySet | None = None) -> CommitmentQuerySet:
        """ORM: the commitments (of ``commitments``) an update is due from for the quarter.

        Annotated ``update_done`` (an approved update as of a day in the quarter) and ``update_waiting``
        (the id of the latest one submitted and waiting for review, or None).
        """
        quarter = self.quarter
        counted = (commitments if commitments is not None else Commitment.objects.all()).filter(
            rules.counted_on(quarter.end)
        )
        waiting = StatusUpdate.objects.filter(
            commitment=OuterRef("pk"), state=UpdateState.SUBMITTED, as_of__range=(quarter.start, quarter.end)
        ).order_by("-submitted_at", "-pk")
        return (
            counted.annotate(before=rules.covering_span(quarter.start - timedelta(days=1)))
            .filter(rules.update_due_span("before"))
            .annotate(
                update_done=rules.approved_update_in(start=quarter.start, end=quarter.end),
                update_waiting=Subquery(waiting.values("pk")[:1]),
            )
        )

    def outstanding(self, commitments: CommitmentQuerySet | None = None) -> CommitmentQuerySet:
        """ORM: the commitments that owe the quarter's update and have not had it approved."""
        # ``update_done`` is the annotation ``owing`` adds, which the type checker does not follow.
        return self.owing(commitments).filter(update_done=False)  # type: ignore[misc]
