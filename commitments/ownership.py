"""Who keeps each commitment fresh: its accountable owner and contributors, and staff's own preferences.

The owner is the member of staff asked for the quarterly update (``metrics.update_cycle``); contributors
help and see the commitment in their tasks too. Reviewers assign them (``assign_owner_commitment``,
``commitments.roles``), one commitment at a time on its admin page or many at once (by area or lead
organisation, ``programmes.admin_owners``). Partners see the owner's team, never the person, so a change
of owner moves the data stamp. Owners change no figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce
from operator import or_
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from simple_history.utils import bulk_update_with_history

from commitments.models import Commitment
from lsis.core.changes import data_changed
from lsis.core.profiles import staff_profile_update
from lsis.core.services import require_permission
from lsis.models import ConcurrentEditError

__all__ = ["ASSIGN_OWNER_PERMISSION", "commitment_assign_owners", "staff_profile_update"]

ASSIGN_OWNER_PERMISSION = "commitments.assign_owner_commitment"
OWNERS_ASSIGNED = "Owner and contributors assigned"

Contributors = Commitment.contributors.through


def _staff_refusal(person: Any) -> str | None:
    if not (person.is_staff and person.is_active):
        return f"{person.get_username()} is not an active member of staff: only staff own or contribute to commitments."
    return None


@transaction.atomic
def commitment_assign_owners(
    *,
    commitments: QuerySet[Commitment] | Iterable[Commitment],
    owner: Any,
    contributors: Iterable[Any] | None = None,
    user: Any,
    replace_contributors: bool = False,
) -> int:
    """Make ``owner`` (a member of staff, or None for nobody) the owner of every one of ``commitments``.

    ``contributors`` are added to each commitment's contributors, or replace them with
    ``replace_contributors``; the owner is never also a contributor. Needs the permission to assign owners.
    Commitment instances passed (not a queryset) must be as stored: one saved since it was read is refused
    (``ConcurrentEditError``). A constant number of queries whatever the number of commitments; each
    commitment whose owner or contributors change gets a history entry naming ``user``. Returns how many
    commitments were assigned.
    """
    require_permission(user, ASSIGN_OWNER_PERMISSION, "assign owners to commitments")
    people = list(contributors or ())
    errors: dict[str, list[str]] = {}
    if owner is not None and (refusal := _staff_refusal(owner)):
        errors["owner"] = [refusal]
    refusals = [refusal for person in people if (refusal := _staff_refusal(person))]
    if refusals:
        errors["contributors"] = refusals
    if errors:
        raise ValidationError(errors)
    wanted = {person.pk for person in people} - ({owner.pk} if owner is not None else set())

    read: dict[int, Commitment] = {}
    if isinstance(commitments, QuerySet):
        ids = list(commitments.order_by().values_list("pk", flat=True))
    else:
        read = {commitment.pk: commitment for commitment in commitments}
        ids = list(read)
    if not ids:
        return 0
    stored = list(Commitment.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    for commitment in stored:
        given = read.get(commitment.pk)
        if given is not None and given.version != commitment.version:
            raise ConcurrentEditError(given, given.version)

    current: dict[int, set[int]] = {commitment.pk: set() for commitment in stored}
    for commitment_id, person_id in Contributors.objects.filter(commitment_id__in=current).values_list(
        "commitment_id", "user_id"
    ):
        current[commitment_id].add(person_id)
    owner_id = owner.pk if owner is not None else None
    after = {
        pk: ((wanted if replace_contributors else held | wanted) - ({owner_id} if owner_id else set()))
        for pk, held in current.items()
    }
    removed = [(pk, person) for pk, held in current.items() for person in held - after[pk]]
    added = [
        Contributors(commitment_id=pk, user_id=person) for pk, held in current.items() for person in after[pk] - held
    ]
    changed = [
        commitment
        for commitment in stored
        if commitment.owner_id != owner_id or current[commitment.pk] != after[commitment.pk]
    ]

    if removed:
        by_commitment: dict[int, list[int]] = {}
        for pk, person in removed:
            by_commitment.setdefault(pk, []).append(person)
        # One DELETE for every commitment's removals.
        Contributors.objects.filter(
            reduce(or_, (Q(commitment_id=pk, user_id__in=persons) for pk, persons in by_commitment.items()))
        ).delete()
    if added:
        Contributors.objects.bulk_create(added, ignore_conflicts=True)
    if changed:
        now = timezone.now()
        names = dict(get_user_model().objects.filter(pk__in=set().union(*after.values())).values_list("pk", "username"))
        for commitment in changed:
            commitment.owner_id = owner_id
            commitment.modified_by = user
            commitment.modified_at = now
            # The version moves as a save would move it: a form opened before this change is refused.
            commitment.version += 1
            people_after = ", ".join(sorted(names.get(pk, str(pk)) for pk in after[commitment.pk])) or "none"
            commitment._change_reason = f"{OWNERS_ASSIGNED} (contributors: {people_after})"  # type: ignore[attr-defined]
        bulk_update_with_history(
            changed,
            Commitment,
            ["owner", "modified_by", "modified_at", "version"],
            default_user=user,
            default_change_reason=OWNERS_ASSIGNED,
        )
        data_changed()
    for commitment in stored:  # the instances the caller holds now hold what is stored
        given = read.get(commitment.pk)
        if given is not None:
            given.owner_id, given.version = commitment.owner_id, commitment.version
            given.modified_by, given.modified_at = commitment.modified_by, commitment.modified_at
    return len(stored)
