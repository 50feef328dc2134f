"""Writes of the records commitments are grouped by: organisations and themes.

The figures are kept per group (a lead organisation, a theme, a foundation, an area), each row labelled
with the group's name. A new name must reach those labels at once, as every other edit reaches the
figures: these services fire ``hooks.RECORD_RENAMED``, which the metrics app answers by relabelling its
rows. The commitments' search documents (``commitments.search``) hold these names and an organisation's
aliases too: each service here rebuilds those of the commitments concerned. Which groups a commitment is
in (its themes, its lead organisations) is changed through ``commitments.services`` and
``commitments.classification``, not here.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q

from commitments import hooks, search
from commitments.models import Commitment, CommitmentOrganisation, Organisation, OrganisationAlias, Theme
from lsis.core.services import require_permission, stamp_change


def _require_save(user: Any, instance: Organisation | OrganisationAlias | Theme, noun: str) -> bool:
    """Refuse a user who may not add (a new record) or change ``instance``; return whether it is new."""
    adding = instance.pk is None
    verb = "add" if adding else "change"
    require_permission(user, f"commitments.{verb}_{instance._meta.model_name}", f"{verb} {noun}")
    return adding


def _renamed(instance: Organisation | Theme) -> bool:
    if instance.pk is None:
        return False
    stored = type(instance).objects.filter(pk=instance.pk).values_list("name", flat=True).first()
    return stored is not None and stored != instance.name


@transaction.atomic
def organisation_save(*, organisation: Organisation, user: Any) -> Organisation:
    """Add or change an organisation; a new name relabels the figures of the commitments it leads."""
    adding = _require_save(user, organisation, "organisations")
    organisation.full_clean()
    renamed = _renamed(organisation)
    stamp_change(organisation, user, "Organisation added" if adding else "Organisation edited")
    organisation.save()
    if renamed:
        hooks.fire(hooks.RECORD_RENAMED, record=organisation)
        _organisation_documents_refresh(organisation.pk)
    return organisation


def _organisation_documents_refresh(organisation_id: int) -> None:
    """Rebuild the search documents of the commitments an organisation takes part in: they hold its names."""
    involved = CommitmentOrganisation.objects.filter(organisation_id=organisation_id)
    search.documents_refresh(commitment_ids=involved.values_list("commitment_id", flat=True))


@transaction.atomic
def organisation_alias_save(*, alias: OrganisationAlias, user: Any) -> OrganisationAlias:
    """Add or change another spelling of an organisation's name; its commitments are then found by it too."""
    adding = _require_save(user, alias, "organisation aliases")
    alias.full_clean()
    stored = OrganisationAlias.objects.filter(pk=alias.pk).values_list("organisation_id", flat=True).first()
    stamp_change(alias, user, "Alias added" if adding else "Alias edited")
    alias.save()
    for organisation_id in {alias.organisation_id, stored}:
        if organisation_id is not None:
            _organisation_documents_refresh(organisation_id)
    return alias


@transaction.atomic
def organisation_alias_delete(*, alias: OrganisationAlias, user: Any) -> None:
    """Remove another spelling of an organisation's name; its commitments are no longer found by it."""
    require_permission(user, "commitments.delete_organisationalias", "remove organisation aliases")
    stamp_change(alias, user, "Alias removed")
    alias.delete()
    _organisation_documents_refresh(alias.organisation_id)


@transaction.atomic
def theme_save(*, theme: Theme, user: Any) -> Theme:
    """Add or change a theme (a foundation, an area or a theme of a framework); a new name relabels its figures."""
    adding = _require_save(user, theme, "themes")
    theme.full_clean()
    renamed = _renamed(theme)
    stamp_change(theme, user, "Theme added" if adding else "Theme edited")
    theme.save()
    if renamed:
        hooks.fire(hooks.RECORD_RENAMED, record=theme)
        classified = Commitment.objects.filter(Q(foundation_id=theme.pk) | Q(area_id=theme.pk) | Q(themes=theme.pk))
        search.documents_refresh(commitment_ids=classified.values_list("pk", flat=True))
    return theme
