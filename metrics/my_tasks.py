"""What one member of staff has to do: the tasks page (``/tasks/``), the admin's home and the ``tasks`` command.

``tasks_for(user=, today=)`` reads, in a fixed number of queries whatever the number of tasks:

- the quarter's updates due or overdue (``metrics.update_cycle``) on commitments the person owns or
  contributes to;
- milestones they own that are overdue (``metrics.rules``) or due within ``MILESTONE_HORIZON_DAYS``;
- their drafts, and their updates a reviewer returned, with the reason;
- for reviewers, the submitted updates they may review (four eyes: ``commitments.services``), with their age;
- for those who decide changes of deadline, the requests waiting for a decision that are not their own.

Each task links to where the work is done, in the admin. The rules are called, never restated here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from commitments import proposals
from commitments.models import (
    BaselineChange,
    BaselineChangeState,
    Commitment,
    Milestone,
    Proposal,
    ProposalState,
    StatusUpdate,
    UpdateState,
)
from commitments.services import EDITOR_PERMISSION, REVIEWER_PERMISSION, updates_awaiting_review
from metrics import rules
from metrics.update_cycle import Cycle, CycleState

#: Milestones due within this many days from today are listed before they are overdue.
MILESTONE_HORIZON_DAYS = 14
DECIDE_BASELINE_PERMISSION = "commitments.decide_baselinechange"

# GOV.UK tag colours by what a task's tag says.
TAG_CLASSES = {
    "Due": "govuk-tag--blue",
    "Due soon": "govuk-tag--blue",
    "Overdue": "govuk-tag--red",
    "Waiting for review": "govuk-tag--yellow",
    "Draft": "govuk-tag--grey",
    "Returned": "govuk-tag--orange",
    "Waiting for a decision": "govuk-tag--yellow",
}


@dataclass(frozen=True)
class Task:
    """One thing to do, and where to do it."""

    reference: str
    title: str
    url: str
    tag: str
    due_on: date | None = None
    days_overdue: int = 0
    age_days: int | None = None
    note: str = ""
    contributor: bool = False
    action: str = ""

    @property
    def tag_class(self) -> str:
        """The GOV.UK tag modifier for the tag."""
        return TAG_CLASSES.get(self.tag, "")


@dataclass(frozen=True)
class Section:
    """One kind of task: the page's summary card, the command's heading."""

    key: str
    title: str
    empty: str
    tasks: list[Task] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many tasks the section holds."""
        return len(self.tasks)


@dataclass(frozen=True)
class TaskList:
    """A person's tasks on a day, by section (only the sections their roles have)."""

    today: date
    cycle: Cycle
    sections: list[Section]

    @property
    def total(self) -> int:
        """How many tasks in all."""
        return sum(section.count for section in self.sections)

    @property
    def overdue(self) -> int:
        """How many tasks are overdue."""
        return sum(1 for section in self.sections for task in section.tasks if task.tag == "Overdue")

    def section(self, key: str) -> Section | None:
        """The section ``key``, if the person has it."""
        return next((section for section in self.sections if section.key == key), None)


def _short(text: str, length: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _admin(name: str, *args: Any, **query: Any) -> str:
    url = reverse(f"admin:commitments_{name}", args=args)
    return f"{url}?{urlencode(query)}" if query else url


def _days_since(moment: Any, today: date) -> int | None:
    return None if moment is None else max((today - timezone.localdate(moment)).days, 0)


def _mine(user: Any) -> Any:
    """The commitments ``user`` owns or contributes to (one subquery, no duplicates)."""
    contributed = Commitment.contributors.through.objects.filter(user_id=user.pk).values("commitment_id")
    return Commitment.objects.filter(Q(owner_id=user.pk) | Q(pk__in=contributed))


def _updates_due(user: Any, cycle: Cycle, today: date) -> Section:
    quarter = cycle.quarter
    # ``update_waiting``: the update waiting for review, if any; the task then links to it, not to a new one.
    commitments = cycle.outstanding(_mine(user)).order_by("reference").only("id", "reference", "text", "owner_id")
    tasks = []
    for commitment in commitments:
        state = cycle.state(done=False, today=today)
        waiting_id = commitment.update_waiting  # type: ignore[attr-defined]
        tasks.append(
            Task(
                reference=commitment.reference,
                title=_short(commitment.text),
                url=_admin("statusupdate_change", waiting_id)
                if waiting_id
                else _admin("statusupdate_add", commitment=commitment.pk, as_of=quarter.end.isoformat()),
                tag="Waiting for review" if waiting_id else str(state.label),
                due_on=cycle.due_on,
                days_overdue=cycle.days_overdue(today) if state == CycleState.OVERDUE else 0,
                contributor=commitment.owner_id != user.pk,
                action="See the update waiting for review"
                if waiting_id
                else f"Write the update as of {quarter.end:%-d %B %Y}",
            )
        )
    return Section(
        key="updates",
        title=f"Updates due for {quarter.label}",
        empty=f"Nothing to do: every commitment you own or contribute to has its {quarter.label} update.",
        tasks=tasks,
    )


def _milestones(user: Any, today: date) -> Section:
    horizon = today + timedelta(days=MILESTONE_HORIZON_DAYS)
    milestones = (
        rules.with_milestone_overdue(Milestone.objects.filter(owner_id=user.pk), on=today)
        .filter(Q(is_overdue=True) | Q(done_on__isnull=True, due_on__gte=today, due_on__lte=horizon))
        .select_related("commitment")
        .only("id", "title", "due_on", "done_on", "commitment__id", "commitment__reference")
        .order_by("due_on", "pk")
    )
    tasks = [
        Task(
            reference=milestone.commitment.reference,
            title=milestone.title,
            url=_admin("commitment_change", milestone.commitment.pk) + "#milestones-group",
            tag="Overdue" if milestone.is_overdue else "Due soon",  # type: ignore[attr-defined]
            due_on=milestone.due_on,
            days_overdue=max((today - milestone.due_on).days, 0) if milestone.is_overdue else 0,  # type: ignore[attr-defined]
            action="Record it done, or move it",
        )
        for milestone in milestones
    ]
    return Section(
        key="milestones",
        title=f"Milestones overdue or due in the next {MILESTONE_HORIZON_DAYS} days",
        empty="Nothing to do: none of your milestones is overdue or due soon.",
        tasks=tasks,
    )


def _own_updates(user: Any, today: date) -> tuple[Section, Section]:
    updates = (
        StatusUpdate.objects.filter(author_id=user.pk, state__in=(UpdateState.DRAFT, UpdateState.RETURNED))
        .select_related("commitment", "reviewed_by")
        .order_by("as_of", "pk")
    )
    drafts: list[Task] = []
    returned: list[Task] = []
    for update in updates:
        url = _admin("statusupdate_change", update.pk)
        if update.state == UpdateState.RETURNED:
            by = update.reviewed_by.get_full_name() or update.reviewed_by.get_username() if update.reviewed_by else ""
            returned.append(
                Task(
                    reference=update.commitment.reference,
                    title=f"Update as of {update.as_of:%-d %B %Y}",
                    url=url,
                    tag="Returned",
                    age_days=_days_since(update.reviewed_at, today),
                    note=update.return_reason,
                    action=f"Returned by {by}: change it and submit it again"
                    if by
                    else "Change it and submit it again",
                )
            )
        else:
            drafts.append(
                Task(
                    reference=update.commitment.reference,
                    title=f"Update as of {update.as_of:%-d %B %Y}",
                    url=url,
                    tag="Draft",
                    age_days=_days_since(update.created_at, today),
                    action="Finish it and submit it for review",
                )
            )
    return (
        Section(key="drafts", title="My drafts", empty="Nothing to do: you have no drafts.", tasks=drafts),
        Section(
            key="returned",
            title="Updates returned to me",
            empty="Nothing to do: no update of yours has been returned.",
            tasks=returned,
        ),
    )


def _reviews(user: Any, today: date) -> Section:
    updates = (
        updates_awaiting_review(user=user, updates=StatusUpdate.objects.all())
        .select_related("commitment", "author")
        .order_by("submitted_at", "pk")
    )
    tasks = [
        Task(
            reference=update.commitment.reference,
            title=f"Update as of {update.as_of:%-d %B %Y}"
            + (f" by {update.author.get_full_name() or update.author.get_username()}" if update.author else ""),
            url=_admin("statusupdate_change", update.pk),
            tag="Waiting for review",
            age_days=_days_since(update.submitted_at, today),
            action="Approve it, or return it with a reason",
        )
        for update in updates
    ]
    return Section(
        key="reviews",
        title="Updates waiting for my review",
        empty="Nothing to do: no update is waiting for your review.",
        tasks=tasks,
    )


def _baseline_changes(user: Any, today: date) -> Section:
    changes = (
        BaselineChange.objects.filter(state=BaselineChangeState.PENDING)
        .exclude(requested_by_id=user.pk)
        .select_related("commitment")
        .order_by("created_at", "pk")
    )
    tasks = [
        Task(
            reference=change.commitment.reference,
            title=f"Move the deadline to {change.proposed_date:%-d %B %Y}",
            url=_admin("baselinechange_change", change.pk),
            tag="Waiting for a decision",
            age_days=_days_since(change.created_at, today),
            note=change.reason,
            action="Approve or reject the request",
        )
        for change in changes
    ]
    return Section(
        key="baseline_changes",
        title="Changes of deadline waiting for my decision",
        empty="Nothing to do: no request to change a deadline is waiting for you.",
        tasks=tasks,
    )


def _proposals(user: Any, today: date) -> Section:
    pending = (
        Proposal.objects.filter(state=ProposalState.PENDING)
        .select_related("commitment", "organisation")
        .order_by("created_at", "pk")
    )
    tasks = [
        Task(
            reference=proposal.commitment.reference,
            title=f"Update as of {proposal.as_of:%-d %B %Y} proposed by {proposal.organisation.name}",
            url=_admin("proposal_change", proposal.pk),
            tag="Waiting for a decision",
            age_days=_days_since(proposal.created_at, today),
            note=_short(proposal.narrative),
            action="Accept it as a draft, or decline it with a reason",
        )
        for proposal in pending
    ]
    return Section(
        key="proposals",
        title="Partners' proposals waiting for my decision",
        empty="Nothing to do: no partner's proposal is waiting for a decision.",
        tasks=tasks,
    )


def tasks_for(*, user: Any, today: date | None = None) -> TaskList:
    """``user``'s tasks on ``today`` (default: today), by section; only the sections their roles have."""
    today = today or timezone.localdate()
    cycle = Cycle.on(today)
    sections = [_updates_due(user, cycle, today), _milestones(user, today)]
    if user.has_perm(EDITOR_PERMISSION):
        sections.extend(_own_updates(user, today))
    if user.has_perm(REVIEWER_PERMISSION):
        sections.append(_reviews(user, today))
    if user.has_perm(DECIDE_BASELINE_PERMISSION):
        sections.append(_baseline_changes(user, today))
    if user.has_perm(proposals.DECIDE_PERMISSION):
        sections.append(_proposals(user, today))
    return TaskList(today=today, cycle=cycle, sections=sections)
