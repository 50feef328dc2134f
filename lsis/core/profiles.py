"""Writes to a member of staff's profile (``StaffProfile``): their team and how often they want reminders.

Here, in lsis core, because the user admin (``lsis.admin_accounts``) saves the profile too and may import
no domain app; ``commitments.ownership`` offers it beside the owners' service.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from lsis.core.changes import data_changed
from lsis.core.models import ReminderFrequency, StaffProfile

# Those who change another person's profile: the people who manage accounts (``commitments.roles``).
CHANGE_ACCOUNTS_PERMISSION = "auth.change_user"
TEAM_MAX_LENGTH = StaffProfile._meta.get_field("team").max_length or 200


@transaction.atomic
def staff_profile_update(
    *,
    user: Any,
    team: str | None = None,
    reminder_frequency: str | None = None,
    actor: Any = None,
) -> StaffProfile:
    """Set ``user``'s team and/or reminder frequency (None leaves a value as it is); returns the profile.

    ``actor`` is who makes the change, ``user`` themselves unless given: a member of staff sets their own
    preferences, and only those who manage accounts set someone else's. The team is what partners see as
    a commitment's owner, so a change of team moves the data stamp.
    """
    actor = user if actor is None else actor
    if not (actor and actor.is_authenticated and actor.is_active):
        raise PermissionDenied("Sign in to change your preferences.")
    if actor.pk != user.pk and not actor.has_perm(CHANGE_ACCOUNTS_PERMISSION):
        raise PermissionDenied("You may change only your own preferences.")
    if not user.is_staff:
        raise PermissionDenied("Only members of staff have a team and reminders.")
    errors: dict[str, str] = {}
    if team is not None:
        team = " ".join(team.split())
        if len(team) > TEAM_MAX_LENGTH:
            errors["team"] = f"Team must be {TEAM_MAX_LENGTH} characters or fewer."
    if reminder_frequency is not None and reminder_frequency not in ReminderFrequency.values:
        errors["reminder_frequency"] = "Choose how often you want reminders: never, daily or weekly."
    if errors:
        raise ValidationError(errors)
    profile, _ = StaffProfile.objects.select_for_update().get_or_create(user=user)
    changed: list[str] = []
    if team is not None and team != profile.team:
        profile.team = team
        changed.append("team")
    if reminder_frequency is not None and reminder_frequency != profile.reminder_frequency:
        profile.reminder_frequency = reminder_frequency
        changed.append("reminder_frequency")
    if changed:
        profile.save(update_fields=changed)
    if "team" in changed:
        data_changed()
    return profile
