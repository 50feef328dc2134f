"""The delivery plan of a commitment: changes of its deadline (four eyes), its milestones and dependencies.

Re-baselining: the target date the documents print is the baseline, and stays. Once a commitment is
published, its deadline moves only by a request (``baseline_change_request``) that a reviewer other than
the requester decides (``baseline_change_approve`` / ``baseline_change_reject``); an approval sets the
commitment's ``forecast_date``. ``commitments.services.commitment_edit`` refuses a change of a published
commitment's target date, pointing here.

Milestones are dated steps towards a commitment; overdue milestones count in the figures, so every write
tells them (``commitments_changing``). Dependencies say that one commitment's delivery waits on another's;
a dependency that would close a loop (A depends on B ... depends on A) is refused, naming the loop.

Every write checks its permission, validates (``ValidationError`` with the field's message), audits
(``stamp_change``: who, and why, in the record's history) and returns the record written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from commitments.models import BaselineChange, BaselineChangeState, Commitment, Dependency, Milestone
from commitments.services import WorkflowError, commitments_changing
from lsis.core.services import require_permission as _require
from lsis.core.services import stamp_change as _stamp

REQUEST_PERMISSION = "commitments.add_baselinechange"
DECIDE_PERMISSION = "commitments.decide_baselinechange"
ADD_MILESTONE_PERMISSION = "commitments.add_milestone"
CHANGE_MILESTONE_PERMISSION = "commitments.change_milestone"
DELETE_MILESTONE_PERMISSION = "commitments.delete_milestone"
ADD_DEPENDENCY_PERMISSION = "commitments.add_dependency"
DELETE_DEPENDENCY_PERMISSION = "commitments.delete_dependency"


def _day(value: date | None) -> str:
    return f"{value.day} {value:%B %Y}" if value else "no deadline"


def current_deadline(commitment: Commitment) -> date | None:
    """The deadline a commitment is held to now: its forecast if a change was approved, else its baseline."""
    return commitment.forecast_date or commitment.target_date


# --- changes of a deadline ----------------------------------------------------------------------------------


def baseline_change_request_refusals(
    *, commitment: Commitment, proposed_date: date | None, reason: str
) -> dict[str, str]:
    """Why a request to move ``commitment``'s deadline to ``proposed_date`` would be refused, by field; empty if not.

    The admin's form asks this, so that a refusal is shown on its field; the service checks the same.
    """
    errors: dict[str, str] = {}
    if not commitment.published:
        errors["commitment"] = (
            f"{commitment.reference} is not published: change its target date on the commitment itself"
        )
    if not (reason or "").strip():
        errors["reason"] = "Say why the deadline should move"
    previous = current_deadline(commitment)
    if proposed_date is None:
        errors["proposed_date"] = "Enter the new deadline"
    elif proposed_date == previous:
        errors["proposed_date"] = f"The deadline is {_day(previous)} already: enter a different date"
    pending = BaselineChange.objects.filter(commitment=commitment, state=BaselineChangeState.PENDING).first()
    if pending is not None:
        errors["commitment"] = (
            f"{commitment.reference} already has a request to move its deadline to {_day(pending.proposed_date)} "
            "waiting for a decision: it must be decided before another is made"
        )
    return errors


@transaction.atomic
def baseline_change_request(*, commitment: Commitment, proposed_date: date, reason: str, user: Any) -> BaselineChange:
    """Ask for a published commitment's deadline to move to ``proposed_date``, saying why.

    Records the deadline it moves from (the forecast, or the baseline). One request waits for a decision
    per commitment at a time.
    """
    _require(user, REQUEST_PERMISSION, "ask for a change of deadline")
    stored = Commitment.objects.select_for_update().get(pk=commitment.pk)
    errors = baseline_change_request_refusals(commitment=stored, proposed_date=proposed_date, reason=reason)
    previous = current_deadline(stored)
    if errors:
        raise ValidationError(errors)
    change = BaselineChange(
        commitment=stored,
        previous_date=previous,
        proposed_date=proposed_date,
        reason=reason.strip(),
        state=BaselineChangeState.PENDING,
        requested_by=user,
    )
    change.full_clean(exclude=["commitment", "created_by", "modified_by"], validate_constraints=False)
    _stamp(change, user, "Change of deadline requested")
    try:
        with transaction.atomic():  # a savepoint: two requests at once both passed the check above
            change.save()
    except IntegrityError:
        raise ValidationError(
            {"commitment": f"{stored.reference} already has a request waiting for a decision."}
        ) from None
    return change


def baseline_change_may_decide(*, change: BaselineChange, user: Any) -> bool:
    """Whether ``user`` may approve or reject ``change`` now: a reviewer, not its requester, while it waits.

    The admin's buttons ask this; the services enforce the same.
    """
    return (
        bool(user and user.is_authenticated and user.has_perm(DECIDE_PERMISSION))
        and change.state == BaselineChangeState.PENDING
        and change.requested_by_id != user.pk
    )


def _decidable(change: BaselineChange, reviewer: Any, verb: str) -> BaselineChange:
    _require(reviewer, DECIDE_PERMISSION, f"{verb} changes of deadline")
    stored = BaselineChange.objects.select_for_update().get(pk=change.pk)
    if stored.state != BaselineChangeState.PENDING:
        raise WorkflowError(f"This request was {stored.get_state_display().lower()} already.")
    if stored.requested_by_id is not None and stored.requested_by_id == reviewer.pk:
        raise WorkflowError(f"You asked for this change of deadline, so someone else must {verb} it.")
    return stored


@transaction.atomic
def baseline_change_approve(*, change: BaselineChange, reviewer: Any, note: str = "") -> BaselineChange:
    """Approve a request: the commitment's forecast becomes the proposed date; its baseline stays.

    The figures and the API follow from the earlier of the old and new deadlines.
    """
    stored = _decidable(change, reviewer, "approve")
    commitment = Commitment.objects.select_for_update().get(pk=stored.commitment_id)
    before = current_deadline(commitment)
    days = [day for day in (before, stored.proposed_date) if day is not None]
    commitments_changing(commitments=[commitment], from_date=min(days) if days else None)
    commitment.forecast_date = stored.proposed_date
    _stamp(commitment, reviewer, f"Deadline re-baselined to {_day(stored.proposed_date)}")
    # The version check of the save makes sure nobody changed the commitment since it was read here.
    commitment.save(update_fields=["forecast_date", "modified_at", "modified_by"])
    stored.state = BaselineChangeState.APPROVED
    stored.decided_by = reviewer
    stored.decided_at = timezone.now()
    stored.decision_note = (note or "").strip()
    _stamp(stored, reviewer, "Change of deadline approved")
    stored.save()
    return stored


@transaction.atomic
def baseline_change_reject(*, change: BaselineChange, reviewer: Any, note: str) -> BaselineChange:
    """Reject a request, saying why; the commitment's deadline stays as it was."""
    if not (note or "").strip():
        raise ValidationError({"decision_note": "Say why the change of deadline is rejected"})
    stored = _decidable(change, reviewer, "reject")
    stored.state = BaselineChangeState.REJECTED
    stored.decided_by = reviewer
    stored.decided_at = timezone.now()
    stored.decision_note = note.strip()
    _stamp(stored, reviewer, "Change of deadline rejected")
    stored.save()
    return stored


# --- milestones ---------------------------------------------------------------------------------------------

_MILESTONE_FIELDS = {"title", "due_on", "done_on", "owner"}


def milestone_validated(milestone: Milestone) -> None:
    """Raise ``ValidationError`` (by field) if ``milestone`` may not be saved; the admin's rows ask this too."""
    errors: dict[str, list[str]] = {}
    try:
        milestone.full_clean(exclude=["commitment", "created_by", "modified_by"])
    except ValidationError as error:
        errors = error.message_dict
    if not (milestone.title or "").strip() and "title" not in errors:
        errors["title"] = ["Enter the milestone's title"]
    if milestone.done_on is not None and milestone.done_on > timezone.localdate() and "done_on" not in errors:
        errors["done_on"] = ["A milestone cannot be done on a day still to come"]
    if errors:
        raise ValidationError(errors)


def _milestone_days(*milestones: Milestone | None) -> date | None:
    """The earliest day on which the milestones' overdue state can move (their due and done days)."""
    days = [
        day
        for milestone in milestones
        if milestone is not None
        for day in (milestone.due_on, milestone.done_on)
        if day is not None
    ]
    return min(days) if days else None


@transaction.atomic
def milestone_create(
    *,
    commitment: Commitment,
    title: str,
    due_on: date,
    user: Any,
    done_on: date | None = None,
    owner: Any = None,
) -> Milestone:
    """Add a milestone to a commitment; the figures, which count overdue milestones, follow."""
    _require(user, ADD_MILESTONE_PERMISSION, "add milestones")
    milestone = Milestone(
        commitment=commitment, title=(title or "").strip(), due_on=due_on, done_on=done_on, owner=owner
    )
    return milestone_save(milestone=milestone, user=user)


@transaction.atomic
def milestone_save(*, milestone: Milestone, user: Any) -> Milestone:
    """Save a new or changed milestone as a form edited it (the admin's inline rows use this)."""
    stored = Milestone.objects.filter(pk=milestone.pk).first() if milestone.pk else None
    if stored is None:
        _require(user, ADD_MILESTONE_PERMISSION, "add milestones")
    else:
        _require(user, CHANGE_MILESTONE_PERMISSION, "change milestones")
    milestone_validated(milestone)
    commitments_changing(commitments=[milestone.commitment], from_date=_milestone_days(milestone, stored))
    _stamp(milestone, user, "Milestone added" if stored is None else "Milestone changed")
    milestone.save()
    return milestone


@transaction.atomic
def milestone_edit(*, milestone: Milestone, user: Any, changes: Mapping[str, Any]) -> Milestone:
    """Change a milestone's title, due day, done day or owner (``changes``, by name)."""
    _require(user, CHANGE_MILESTONE_PERMISSION, "change milestones")
    unknown = set(changes) - _MILESTONE_FIELDS
    if unknown:
        raise ValidationError(f"These cannot be changed on a milestone: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(milestone, name, value)
    return milestone_save(milestone=milestone, user=user)


@transaction.atomic
def milestone_delete(*, milestone: Milestone, user: Any) -> None:
    """Remove a milestone; the figures follow from its earliest day."""
    _require(user, DELETE_MILESTONE_PERMISSION, "delete milestones")
    stored = Milestone.objects.select_related("commitment").get(pk=milestone.pk)
    commitments_changing(commitments=[stored.commitment], from_date=_milestone_days(stored))
    _stamp(stored, user, "Milestone removed")
    stored.delete()


# --- dependencies -------------------------------------------------------------------------------------------


def dependency_cycle(*, commitment_id: int, depends_on_id: int, replacing: int | None = None) -> list[int] | None:
    """The loop a dependency of ``commitment_id`` on ``depends_on_id`` would close, as ids from one to itself.

    None when there is none. One walk over the whole dependency graph, read in one query whatever its size:
    the loop exists if ``commitment_id`` is reachable from ``depends_on_id``. ``replacing``: the id of a
    dependency the new one replaces (a changed row), left out of the graph.
    """
    if commitment_id == depends_on_id:
        return [commitment_id, commitment_id]
    graph = Dependency.objects.all() if replacing is None else Dependency.objects.exclude(pk=replacing)
    edges: dict[int, list[int]] = {}
    for source, target in graph.values_list("commitment_id", "depends_on_id").order_by():
        edges.setdefault(source, []).append(target)
    # Depth-first, remembering how each commitment was reached, so that the loop can be named.
    came_from: dict[int, int | None] = {depends_on_id: None}
    stack = [depends_on_id]
    while stack:
        current = stack.pop()
        if current == commitment_id:
            path = [current]
            step = came_from[current]
            while step is not None:
                path.append(step)
                step = came_from[step]
            # ``path`` runs back from commitment_id to depends_on_id: the loop is the new edge, then it forwards.
            return [commitment_id, *reversed(path)]
        for following in edges.get(current, ()):
            if following not in came_from:
                came_from[following] = current
                stack.append(following)
    return None


@transaction.atomic
def dependency_create(*, commitment: Commitment, depends_on: Commitment, user: Any, note: str = "") -> Dependency:
    """Record that ``commitment``'s delivery depends on ``depends_on``'s; a loop of dependencies is refused."""
    _require(user, ADD_DEPENDENCY_PERMISSION, "add dependencies")
    return dependency_save(
        dependency=Dependency(commitment=commitment, depends_on=depends_on, note=(note or "").strip()), user=user
    )


@transaction.atomic
def dependency_save(*, dependency: Dependency, user: Any) -> Dependency:
    """Save a new or changed dependency as a form edited it (the admin's inline rows use this)."""
    stored = Dependency.objects.filter(pk=dependency.pk).first() if dependency.pk else None
    if stored is None:
        _require(user, ADD_DEPENDENCY_PERMISSION, "add dependencies")
    else:
        _require(user, "commitments.change_dependency", "change dependencies")
    dependency_validated(dependency)
    _stamp(dependency, user, "Dependency added" if stored is None else "Dependency changed")
    dependency.save()
    return dependency


def dependency_validated(dependency: Dependency) -> None:
    """Raise ``ValidationError`` (by field) if ``dependency`` may not be saved: on itself, twice, or a loop.

    The admin's rows ask this too.
    """
    errors: dict[str, list[str]] = {}
    try:
        dependency.full_clean(exclude=["commitment", "created_by", "modified_by"], validate_constraints=False)
    except ValidationError as error:
        errors = error.message_dict
    if "depends_on" not in errors and dependency.depends_on_id is not None and dependency.commitment_id is not None:
        message = _dependency_refusal(dependency)
        if message:
            errors["depends_on"] = [message]
    if errors:
        raise ValidationError(errors)


def _dependency_refusal(dependency: Dependency) -> str | None:
    """Why ``dependency`` may not be recorded (itself, a duplicate, a loop), or None."""
    source, target = dependency.commitment_id, dependency.depends_on_id
    if source == target:
        return "A commitment cannot depend on itself"
    duplicate = Dependency.objects.filter(commitment_id=source, depends_on_id=target).exclude(pk=dependency.pk)
    if duplicate.exists():
        return f"{dependency.commitment} already depends on {dependency.depends_on}"
    # A changed row: its old edge is not part of the graph it is checked against.
    loop = dependency_cycle(commitment_id=source, depends_on_id=target, replacing=dependency.pk)
    if loop is None:
        return None
    references = dict(Commitment.objects.filter(pk__in=set(loop)).values_list("pk", "reference"))
    named = " → ".join(references[pk] for pk in loop)
    return f"That would make a loop of dependencies: {named}. A commitment cannot wait on itself"


@transaction.atomic
def dependency_delete(*, dependency: Dependency, user: Any) -> None:
    """Remove a dependency."""
    _require(user, DELETE_DEPENDENCY_PERMISSION, "delete dependencies")
    stored = Dependency.objects.get(pk=dependency.pk)
    _stamp(stored, user, "Dependency removed")
    stored.delete()
