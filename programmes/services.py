"""Writes of the programmes app: the programmes delivering commitments, and funding amounts.

The admin and anything else that changes these calls here. A programme link or an amount of money is part
of its commitment: only those who may change the commitment change it (``commitments.permissions``), and
the figures are told before the write (``commitments.services.commitments_changing``), so a change reaches
them the way an approval does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from commitments import hooks, search
from commitments.models import Commitment, Organisation
from commitments.services import commitments_changing, deals_published_on, require_may_change_commitment
from lsis.core.services import require_permission as _require
from lsis.core.services import stamp_change as _stamp
from programmes.models import FundingAmount, Programme
from programmes.totals import ProgrammeTree

CHANGE_PROGRAMME_PERMISSION = "programmes.change_programme"
ADD_PROGRAMME_PERMISSION = "programmes.add_programme"
DELETE_PROGRAMME_PERMISSION = "programmes.delete_programme"
ADD_FUNDING_PERMISSION = "programmes.add_fundingamount"
CHANGE_FUNDING_PERMISSION = "programmes.change_fundingamount"
DELETE_FUNDING_PERMISSION = "programmes.delete_fundingamount"


def _changing(commitment_ids: Iterable[int | None], user: Any, *, also: Iterable[int | None] = ()) -> None:
    """Lock and check the commitments changed; tell the figures they change from their deals' publication.

    ``also``: commitments whose figures move too without their being changed (no permission asked).
    """
    ids = {pk for pk in commitment_ids if pk is not None}
    moved = ids | {pk for pk in also if pk is not None}
    if not moved:
        return
    commitments = list(Commitment.objects.select_for_update().filter(pk__in=moved))
    for commitment in commitments:
        if commitment.pk in ids:
            require_may_change_commitment(user, commitment)
    deals = deals_published_on(commitment.deal_id for commitment in commitments)
    commitments_changing(commitments=commitments, from_date=min(deals) if deals else None)


@transaction.atomic
def commitment_programmes_set(*, commitment: Commitment, user: Any, programmes: Iterable[Programme]) -> None:
    """Set the programmes delivering ``commitment``: only for a commitment the user may change."""
    _require(user, CHANGE_PROGRAMME_PERMISSION, "change the programmes delivering commitments")
    wanted = {programme.pk for programme in programmes}
    if wanted == set(commitment.programmes.values_list("pk", flat=True)):
        return
    _changing([commitment.pk], user)
    commitment.programmes.set(wanted)
    search.documents_refresh(commitment_ids=[commitment.pk])  # its search document names its programmes


@transaction.atomic
def programme_save(*, programme: Programme, user: Any, commitments: Iterable[Commitment] | None = None) -> Programme:
    """Add or change a programme and, if given, the commitments it delivers.

    Adding or removing a commitment needs the right to change it (a published one: those who may publish).
    """
    _require(
        user,
        ADD_PROGRAMME_PERMISSION if programme.pk is None else CHANGE_PROGRAMME_PERMISSION,
        "add programmes" if programme.pk is None else "change programmes",
    )
    programme.full_clean()
    stored_name = stored_short_name = None
    if programme.pk is not None:
        _parent_changing(programme, user)
        stored_name, stored_short_name = Programme.objects.filter(pk=programme.pk).values_list(
            "name", "short_name"
        ).first() or (None, None)
    _stamp(programme, user, "Programme added" if programme.pk is None else "Programme edited")
    programme.save()
    if stored_name is not None and stored_name != programme.name:
        hooks.fire(hooks.RECORD_RENAMED, record=programme)  # its figures are labelled with its name
    # The search documents of the commitments it delivers hold its names: rebuilt in one statement.
    with search.refreshed_together():
        if stored_name is not None and (stored_name, stored_short_name) != (programme.name, programme.short_name):
            search.documents_refresh(commitment_ids=programme.commitments.values_list("pk", flat=True))
        if commitments is not None:
            wanted = {commitment.pk for commitment in commitments}
            current = set(programme.commitments.values_list("pk", flat=True))
            if wanted != current:
                _changing(wanted ^ current, user)
                programme.commitments.set(wanted)
                search.documents_refresh(commitment_ids=wanted ^ current)
    return programme


def _parent_changing(programme: Programme, user: Any) -> None:
    """Moving a programme into another fund moves its money: tell the figures of the commitments that hold it.

    An amount counts under its programme and every programme that one is part of (``programmes.totals``),
    so the money attributed to this programme or one inside it leaves the old funds and joins the new ones.
    """
    stored = Programme.objects.filter(pk=programme.pk).values_list("parent_id", flat=True).first()
    if stored == programme.parent_id:
        return
    tree = ProgrammeTree.load()
    inside = [pk for pk in tree.parent if programme.pk in tree.counting(pk)]
    holders = FundingAmount.objects.filter(programme_id__in=inside).values_list("commitment_id", flat=True)
    _changing((), user, also=holders)


@transaction.atomic
def programme_delete(*, programme: Programme, user: Any) -> None:
    """Delete a programme; the commitments it delivered leave its scope."""
    _require(user, DELETE_PROGRAMME_PERMISSION, "delete programmes")
    delivered = list(programme.commitments.values_list("pk", flat=True))
    _changing(delivered, user)
    _stamp(programme, user, "Programme deleted")
    programme.delete()
    search.documents_refresh(commitment_ids=delivered)  # their search documents no longer name it


def _commitments_of_amount(amount: FundingAmount) -> tuple[set[int | None], set[int | None]]:
    """The commitments an amount's change changes (its own, before and after), and those it moves besides.

    An amount that is part of another of the same nature is left out of the totals, so changing the
    larger amount moves the money of the commitments of its parts too.
    """
    own: set[int | None] = {amount.commitment_id}
    parts: set[int | None] = set()
    if amount.pk is not None:
        own |= set(FundingAmount.objects.filter(pk=amount.pk).values_list("commitment_id", flat=True))
        parts |= set(FundingAmount.objects.filter(part_of_id=amount.pk).values_list("commitment_id", flat=True))
    return own, parts


@transaction.atomic
def funding_amount_save(
    *, amount: FundingAmount, user: Any, joint_funders: Iterable[Organisation] | None = None
) -> FundingAmount:
    """Add or change an amount of money and, if given, its joint funders; on a commitment, only one the user may change.

    ``amount.version`` must be the version the user read. The figures of its commitment (before and after
    a move to another) follow. An amount has one funder or, where the text names several for it without
    their shares, joint funders (``FundingAmount.joint_funders_refusal``); each change is in its history.
    """
    _require(
        user,
        ADD_FUNDING_PERMISSION if amount.pk is None else CHANGE_FUNDING_PERMISSION,
        "add funding amounts" if amount.pk is None else "change funding amounts",
    )
    amount.full_clean()
    wanted = None if joint_funders is None else {organisation.pk: organisation for organisation in joint_funders}
    current = list(amount.joint_funders.all()) if amount.pk is not None else []
    refusal = FundingAmount.joint_funders_refusal(
        funder=amount.funder, joint_funders=current if wanted is None else wanted.values()
    )
    if refusal:
        raise ValidationError({"joint_funders": refusal})
    own, parts = _commitments_of_amount(amount)
    _changing(own, user, also=parts)
    _stamp(amount, user, "Amount added" if amount.pk is None else "Amount edited")
    amount.save()
    if wanted is not None and set(wanted) != {organisation.pk for organisation in current}:
        amount.joint_funders.set(wanted.values())
    return amount


@transaction.atomic
def funding_amount_delete(*, amount: FundingAmount, user: Any) -> None:
    """Delete an amount of money; on a commitment, only one the user may change."""
    _require(user, DELETE_FUNDING_PERMISSION, "delete funding amounts")
    own, parts = _commitments_of_amount(amount)
    _changing(own, user, also=parts)
    _stamp(amount, user, "Amount deleted")
    amount.delete()
