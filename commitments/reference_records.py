"""Writes of the records commitments are grouped by: organisations and themes.

The figures are kept per group (a lead organisation, a theme, a foundation, an area), each row labelled
with the group's name. A new name must reach those labels at once, as every other edit reaches the
figures: these services fire ``hooks.RECORD_RENAMED``, which the metrics app answers by relabelling its
rows. Which groups a commitment is in (its themes, its lead organisations) is changed through
``commitments.services`` and ``commitments.classification``, not here.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from commitments import hooks
from commitments.models import Organisation, Theme
from lsis.core.services import require_permission, stamp_change


def _renamed(instance: Organisation | Theme) -> bool:
    if instance.pk is None:
        return False
    stored = type(instance).objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    return stored is not None and stored != instance.name


@transaction.atomic
def organisation_save(*, organisation: Organisation, user: Any) -> Organisation:
    """Add or change an organisation; a new name relabels the figures of the commitments it leads."""
    adding = organisation.pk is None
    require_permission(
        user,
        "commitments.add_organisation" if adding else "commitments.change_organisation",
        "add organisations" if adding else "change organisations",
    )
    organisation.full_clean()
    renamed = _renamed(organisation)
    stamp_change(organisation, user, "Organisation added" if adding else "Organisation edited")
    organisation.save()
    if renamed:
        hooks.fire(hooks.RECORD_RENAMED, record=organisation)
    return organisation


@transaction.atomic
def theme_save(*, theme: Theme, user: Any) -> Theme:
    """Add or change a theme (a foundation, an area or a theme of a framework); a new name relabels its figures."""
    adding = theme.pk is None
    require_permission(
        user,
        "commitments.add_theme" if adding else "commitments.change_theme",
        "add themes" if adding else "change themes",
    )
    theme.full_clean()
    renamed = _renamed(theme)
    stamp_change(theme, user, "Theme added" if adding else "Theme edited")
    theme.save()
    if renamed:
        hooks.fire(hooks.RECORD_RENAMED, record=theme)
    return theme
