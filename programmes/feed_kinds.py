"""The programmes app's kinds of the change feed (``lsis.core.feed``): programmes, commitments and funding.

A commitment's record shows much of other records: its deal, foundation, area and themes by name, its
organisations by name, its money, its programmes, its sub-items, links and dependencies by reference, its
delivery state (set by the latest approved update) and its owner's team. Each of those names the
commitments that show it when it changes; what only changes when a record is renamed, published or
withdrawn is read before the save, so that a plain edit names few records (``lsis.core.feed``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lsis.core.feed import ALL, changed_fields, feed_kind_register, feed_watch

PROGRAMMES, COMMITMENTS, FUNDING = "programmes", "commitments", "funding"
Pairs = Iterable[tuple[str, str]]
_LINKS = ("parent_id", "continues_id", "elaborates_id")


def register() -> None:
    """Register the kinds and what changes them (from ``ProgrammesConfig.ready``)."""
    from commitments.models import (
        Commitment,
        CommitmentOrganisation,
        Dependency,
        Document,
        Framework,
        Milestone,
        Organisation,
        StatusUpdate,
        Theme,
    )
    from lsis.api.feed_records import viewset_kind
    from lsis.core.models import StaffProfile
    from programmes.api import views
    from programmes.models import FundingAmount, Programme

    feed_kind_register(viewset_kind(PROGRAMMES, views.ProgrammeViewSet, description="Programmes and funds."))
    feed_kind_register(
        viewset_kind(COMMITMENTS, views.CommitmentViewSet, description="Published commitments, in full.")
    )
    feed_kind_register(
        viewset_kind(
            FUNDING, views.FundingAmountViewSet, description="Amounts of programmes and published commitments."
        )
    )

    # Deleting a programme (or a theme) unlinks its commitments with no many-to-many signal: name them always.
    feed_watch(Programme, _programme_and_commitments)
    feed_watch(Commitment, _commitment_and_links, before_save=_commitment_before)
    feed_watch(FundingAmount, _amount_and_commitment, before_save=_amount_before)
    feed_watch(CommitmentOrganisation, lambda involvement: _references(involvement.commitment_id))
    feed_watch(Milestone, lambda milestone: _references(milestone.commitment_id))
    feed_watch(Dependency, lambda edge: _references(edge.commitment_id, edge.depends_on_id))
    # An approval sets the commitment's delivery state.
    feed_watch(StatusUpdate, lambda update: _references(update.commitment_id))
    # A commitment shows its owner's team.
    feed_watch(StaffProfile, _commitments_owned)
    # Names and codes commitments show.
    feed_watch(Document, lambda document: [], before_save=_shown_by_all(("code", "title"), FUNDING, PROGRAMMES))
    feed_watch(Framework, lambda framework: [], before_save=_shown_by_all(("code",)))
    feed_watch(Theme, _commitments_of_theme, before_save=_shown_by_all(("code", "name", "framework_id")))
    feed_watch(Organisation, lambda organisation: [], before_save=_organisation_renamed)


def _references(*commitment_ids: int | None) -> Pairs:
    from commitments.models import Commitment

    ids = [pk for pk in commitment_ids if pk is not None]
    if not ids:
        return []
    return [
        (COMMITMENTS, reference)
        for reference in Commitment.objects.filter(pk__in=ids).values_list("reference", flat=True)
    ]


def _commitment_and_links(commitment: Any) -> Pairs:
    """The commitment, and those it is a sub-item, continuation or elaboration of (their records list it)."""
    return [(COMMITMENTS, commitment.reference), *_references(*(getattr(commitment, link) for link in _LINKS))]


def _commitment_before(commitment: Any) -> Pairs:
    """A new reference, publication or withdrawal shows in every record linking to it, and in its money's."""
    changed = changed_fields(commitment, "reference", "published", *_LINKS)
    if changed is None:
        return []
    pairs: list[tuple[str, str]] = list(_references(*(changed.get(link) for link in _LINKS)))
    if "reference" in changed or "published" in changed:
        pairs += [(COMMITMENTS, changed.get("reference", commitment.reference)), (COMMITMENTS, ALL), (FUNDING, ALL)]
    return pairs


def _amount_and_commitment(amount: Any) -> Pairs:
    return [(FUNDING, amount.key), *_references(amount.commitment_id)]


def _amount_before(amount: Any) -> Pairs:
    """An amount moved to another commitment leaves the first; a new key shows in the amounts it is part of."""
    changed = changed_fields(amount, "key", "commitment_id")
    if changed is None:
        return []
    pairs: list[tuple[str, str]] = list(_references(changed.get("commitment_id")))
    if "key" in changed:
        pairs += [(FUNDING, changed["key"]), (FUNDING, ALL)]
    return pairs


def _programme_and_commitments(programme: Any) -> Pairs:
    from programmes.models import Programme

    links = Programme.commitments.through.objects.filter(programme_id=programme.pk)
    return [(PROGRAMMES, str(programme.uuid)), *_references(*links.values_list("commitment_id", flat=True))]


def _commitments_of_theme(theme: Any) -> Pairs:
    from commitments.models import Commitment

    links = Commitment.themes.through.objects.filter(theme_id=theme.pk)
    return _references(*links.values_list("commitment_id", flat=True))


def _organisation_renamed(organisation: Any) -> Pairs:
    from commitments.models import CommitmentOrganisation

    if changed_fields(organisation, "name") is None:
        return []
    ids = CommitmentOrganisation.objects.filter(organisation_id=organisation.pk).values_list("commitment_id", flat=True)
    return _references(*ids)


def _commitments_owned(profile: Any) -> Pairs:
    from commitments.models import Commitment

    references = Commitment.objects.filter(owner_id=profile.user_id).values_list("reference", flat=True)
    return [(COMMITMENTS, reference) for reference in references]


def _shown_by_all(fields: tuple[str, ...], *others: str) -> Any:
    """A change of ``fields`` names every commitment (and every record of ``others``): names shown everywhere."""

    def before_save(record: Any) -> Pairs:
        if changed_fields(record, *fields) is None:
            return []
        return [(COMMITMENTS, ALL), *((kind, ALL) for kind in others)]

    return before_save
