"""The commitments app's kinds of the change feed (``lsis.core.feed``).

Documents, frameworks, themes, organisations and status updates, read through their API endpoints as a
partner reads them.

Each kind names the changes that may change its records: its own model's, and those of the records it
shows something of (a theme shows its framework's code). What a save may change elsewhere is read before
the save (``before_save``): only a change of what those records show names them, so a plain edit of a
document names one record, and a new code names every record that shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lsis.core.feed import ALL, changed_fields, feed_kind_register, feed_watch

DOCUMENTS, FRAMEWORKS, THEMES, ORGANISATIONS, UPDATES = "documents", "frameworks", "themes", "organisations", "updates"
Pairs = Iterable[tuple[str, str]]


def register() -> None:
    """Register the kinds and what changes them (from ``CommitmentsConfig.ready``)."""
    from commitments.api import views
    from commitments.models import (
        Commitment,
        Document,
        EvidenceLink,
        Framework,
        Organisation,
        OrganisationAlias,
        StatusUpdate,
        Theme,
    )
    from lsis.api.feed_records import viewset_kind

    feed_kind_register(viewset_kind(DOCUMENTS, views.DocumentViewSet, description="Documents and deals."))
    feed_kind_register(viewset_kind(FRAMEWORKS, views.FrameworkViewSet, description="Frameworks of themes."))
    feed_kind_register(viewset_kind(THEMES, views.ThemeViewSet, description="Themes, foundations and areas."))
    feed_kind_register(viewset_kind(ORGANISATIONS, views.OrganisationViewSet, description="Organisations."))
    feed_kind_register(
        viewset_kind(UPDATES, views.StatusUpdateViewSet, description="Approved updates of published commitments.")
    )

    # A document's code shows in the frameworks, themes and updates citing it: a new code names them all.
    feed_watch(Document, lambda document: [(DOCUMENTS, document.code)], before_save=_document_renamed)
    feed_watch(Framework, lambda framework: [(FRAMEWORKS, framework.code)], before_save=_framework_renamed)
    feed_watch(Theme, lambda theme: [(THEMES, str(theme.uuid))])
    # An update that began as a partner's proposal shows the proposing organisation's name.
    feed_watch(
        Organisation,
        lambda organisation: [(ORGANISATIONS, str(organisation.uuid))],
        before_save=_updates_proposed_by_renamed,
    )
    feed_watch(OrganisationAlias, _alias_of)
    feed_watch(StatusUpdate, lambda update: [(UPDATES, str(update.uuid))])
    feed_watch(EvidenceLink, _link_of)
    # Publishing or withdrawing a commitment shows or hides its approved updates; a new reference shows in them.
    feed_watch(Commitment, lambda commitment: [], before_save=_updates_of_changed_commitment)


def _document_renamed(document: Any) -> Pairs:
    changed = changed_fields(document, "code")
    if changed is None:
        return []
    return [(DOCUMENTS, changed["code"]), (FRAMEWORKS, ALL), (THEMES, ALL), (UPDATES, ALL)]


def _framework_renamed(framework: Any) -> Pairs:
    changed = changed_fields(framework, "code")
    return [] if changed is None else [(FRAMEWORKS, changed["code"]), (THEMES, ALL)]


def _alias_of(alias: Any) -> Pairs:
    from commitments.models import Organisation

    found = Organisation.objects.filter(pk=alias.organisation_id).values_list("uuid", flat=True).first()
    return [] if found is None else [(ORGANISATIONS, str(found))]


def _link_of(link: Any) -> Pairs:
    from commitments.models import StatusUpdate

    found = StatusUpdate.objects.filter(pk=link.update_id).values_list("uuid", flat=True).first()
    return [] if found is None else [(UPDATES, str(found))]


def _updates_proposed_by_renamed(organisation: Any) -> Pairs:
    from commitments.models import StatusUpdate

    if changed_fields(organisation, "name") is None:
        return []
    uuids = StatusUpdate.objects.filter(proposal__organisation_id=organisation.pk).values_list("uuid", flat=True)
    return [(UPDATES, str(uuid)) for uuid in uuids]


def _updates_of_changed_commitment(commitment: Any) -> Pairs:
    from commitments.models import StatusUpdate

    if changed_fields(commitment, "reference", "published") is None:
        return []
    uuids = StatusUpdate.objects.filter(commitment_id=commitment.pk).values_list("uuid", flat=True)
    return [(UPDATES, str(uuid)) for uuid in uuids]
