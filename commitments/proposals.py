"""Partners propose status updates; reviewers accept them (as a draft) or decline them with a reason.

A partner user speaks for one organisation (``PartnerMembership``, kept by reviewers). They may propose an
update of a published commitment their organisation takes part in (lead, partner or funder); any other
commitment does not exist for them (``ProposalCommitmentNotFound``, answered as any missing record is).
A proposal is held to the same rules as a status update's content (``services.update_content_check``)::

    pending ──accept──▶ accepted  (a draft update written by the reviewer, crediting the proposal)
       └─────decline (with a reason the partner reads)──▶ declined

A proposal is never a status update: it counts in no figure and is never published. Accepting it writes a
draft through ``services.update_create`` with the reviewer as its author, so the draft then goes through
review like any other, and four eyes means another reviewer approves it. Only the proposing organisation's
partners and staff ever see a proposal.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from commitments import roles, services
from commitments.models import (
    Commitment,
    CommitmentQuerySet,
    Organisation,
    PartnerMembership,
    Proposal,
    ProposalQuerySet,
    ProposalState,
    StatusUpdate,
    UpdateState,
)
from lsis.core.services import require_permission as _require
from lsis.core.services import stamp_change as _stamp

DECIDE_PERMISSION = "commitments.decide_proposal"
VIEW_PERMISSION = "commitments.view_proposal"
ADD_MEMBERSHIP_PERMISSION = "commitments.add_partnermembership"
CHANGE_MEMBERSHIP_PERMISSION = "commitments.change_partnermembership"
DELETE_MEMBERSHIP_PERMISSION = "commitments.delete_partnermembership"

#: The fewest characters of a reason for declining: about a short sentence the partner can act on.
DECLINE_REASON_MIN = 10
#: The longest reason for declining, in characters.
DECLINE_REASON_MAX = 5000


class ProposalCommitmentNotFound(Http404):
    """The commitment is unknown, unpublished or not one of the author's organisation's: to them it does not exist."""


# --- who speaks for which organisation ------------------------------------------------------------------------


def is_partner(user: Any) -> bool:
    """Whether ``user`` is an active user holding the Partner role."""
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and any(group.name == roles.PARTNER for group in user.groups.all())
    )


def partner_organisation(*, user: Any) -> Organisation | None:
    """The organisation ``user`` speaks for: their membership's, if they are an active partner; else None."""
    if not is_partner(user):
        return None
    membership = PartnerMembership.objects.select_related("organisation").filter(user=user).first()
    return membership.organisation if membership is not None else None


def partner_membership_refusals(*, membership: PartnerMembership) -> dict[str, str]:
    """Why ``membership`` may not be saved, by field; empty if it may. The admin's form asks this too."""
    user = membership.user if membership.user_id else None
    if user is not None and (user.is_staff or not any(group.name == roles.PARTNER for group in user.groups.all())):
        return {"user": f"{user} does not hold the Partner role: only partner users belong to an organisation"}
    return {}


@transaction.atomic
def partner_membership_save(*, membership: PartnerMembership, user: Any) -> PartnerMembership:
    """Make (or change) the organisation a partner user belongs to. Reviewers do."""
    adding = membership.pk is None
    _require(
        user,
        ADD_MEMBERSHIP_PERMISSION if adding else CHANGE_MEMBERSHIP_PERMISSION,
        "say which organisation a partner belongs to",
    )
    membership.full_clean()
    refusals = partner_membership_refusals(membership=membership)
    if refusals:
        raise ValidationError(refusals)
    _stamp(membership, user, "Membership added" if adding else "Membership changed")
    membership.save()
    return membership


@transaction.atomic
def partner_membership_delete(*, membership: PartnerMembership, user: Any) -> None:
    """End a partner user's membership: they propose nothing more and see no proposals (theirs stay)."""
    _require(user, DELETE_MEMBERSHIP_PERMISSION, "remove a partner from an organisation")
    _stamp(membership, user, "Membership removed")
    membership.delete()


# --- reads -------------------------------------------------------------------------------------------------------


def proposal_commitments(*, user: Any) -> CommitmentQuerySet:
    """The commitments ``user`` may propose updates of: published, and their organisation's (any role)."""
    organisation = partner_organisation(user=user)
    if organisation is None:
        return Commitment.objects.none()
    linked = organisation.involvements.values("commitment_id")
    return Commitment.objects.published().filter(pk__in=linked)


def proposals_for(*, user: Any) -> ProposalQuerySet:
    """The proposals ``user`` may see: every one for staff who may view them, their organisation's for a partner."""
    if user is not None and user.is_authenticated and user.has_perm(VIEW_PERMISSION):
        return Proposal.objects.all()
    organisation = partner_organisation(user=user)
    if organisation is None:
        return Proposal.objects.none()
    return Proposal.objects.filter(organisation=organisation)


def proposal_may_decide(*, proposal: Proposal, user: Any) -> bool:
    """Whether ``user`` may accept or decline ``proposal`` now: a reviewer, and a pending proposal."""
    return bool(user and user.is_authenticated and user.has_perm(DECIDE_PERMISSION)) and (
        proposal.state == ProposalState.PENDING
    )


# --- writes ------------------------------------------------------------------------------------------------------


def _links(proposal: Proposal) -> list[services.EvidenceLinkData]:
    return [services.EvidenceLinkData(url=link["url"], title=link["title"]) for link in proposal.evidence_links]


@transaction.atomic
def proposal_create(
    *,
    author: Any,
    commitment: Commitment | None,
    as_of: date,
    status: str,
    narrative: str,
    confidence: str = "",
    progress: int | None = None,
    funding_spent: Decimal | None = None,
    evidence_links: Sequence[services.EvidenceLinkData] = (),
) -> Proposal:
    """Propose an update of ``commitment`` for the author's organisation; it waits for a reviewer's decision.

    ``author`` must be an active partner user with a membership (else ``PermissionDenied``). ``commitment``
    (None: the one asked for is unknown) must be published and one the organisation takes part in, else
    ``ProposalCommitmentNotFound``, the same for all three. The content is held to a status update's rules.
    """
    if not is_partner(author):
        raise PermissionDenied("Only partners propose updates; OLS staff write them (POST /updates/).")
    organisation = partner_organisation(user=author)
    if organisation is None:
        raise PermissionDenied(
            "Your account does not belong to an organisation yet: ask the Office for Life Sciences to add it."
        )
    if commitment is None or not proposal_commitments(user=author).filter(pk=commitment.pk).exists():
        raise ProposalCommitmentNotFound()
    content = StatusUpdate(
        commitment=commitment,
        as_of=as_of,
        status=status,
        confidence=confidence,
        progress=progress,
        narrative=narrative,
        funding_spent=funding_spent,
        state=UpdateState.DRAFT,
    )
    # The rule of one update in progress per commitment and day is about staff's drafts, which a partner
    # neither sees nor should learn of: it is applied when the proposal is accepted and becomes a draft.
    content.same_day_checked = True  # type: ignore[attr-defined]
    services.update_content_check(update=content, evidence_links=evidence_links)
    proposal = Proposal(
        commitment=commitment,
        organisation=organisation,
        author=author,
        as_of=as_of,
        status=status,
        confidence=confidence,
        progress=progress,
        narrative=narrative,
        funding_spent=funding_spent,
        evidence_links=[{"url": link.url, "title": link.title} for link in evidence_links],
        created_by=author,
    )
    _stamp(proposal, author, "Proposed")
    proposal.save()
    return proposal


def _pending(proposal: Proposal, verb: str) -> None:
    if proposal.state != ProposalState.PENDING:
        raise services.WorkflowError(
            f"Only a pending proposal can be {verb}; this one was {proposal.get_state_display().lower()} already."
        )


@transaction.atomic
def proposal_accept(*, proposal: Proposal, reviewer: Any) -> Proposal:
    """Accept a pending proposal: it becomes a draft update, written by ``reviewer``, crediting the proposal.

    The draft then goes through review as any other (submit, then approve by another reviewer: four eyes).
    The draft is held to every rule of a draft at this moment, the one update in progress per day included.
    ``proposal.version`` must be the version the reviewer read.
    """
    _require(reviewer, DECIDE_PERMISSION, "accept proposed updates")
    _pending(proposal, "accepted")
    draft = services.update_create(
        commitment=proposal.commitment,
        author=reviewer,
        as_of=proposal.as_of,
        status=proposal.status,
        narrative=proposal.narrative,
        confidence=proposal.confidence,
        progress=proposal.progress,
        funding_spent=proposal.funding_spent,
        evidence_links=_links(proposal),
    )
    proposal.state = ProposalState.ACCEPTED
    proposal.decided_by = reviewer
    proposal.decided_at = timezone.now()
    proposal.draft = draft
    _stamp(proposal, reviewer, "Accepted as a draft")
    proposal.save()
    return proposal


def decline_reason_refusal(*, reason: str) -> str | None:
    """Why ``reason`` will not do as the reason for declining a proposal, or None. The admin's form asks this."""
    if len((reason or "").strip()) < DECLINE_REASON_MIN:
        return (
            f"Say why the proposal is declined, in at least {DECLINE_REASON_MIN} characters: "
            "the partner reads it, and can then propose again"
        )
    if len(reason) > DECLINE_REASON_MAX:
        return f"Keep the reason to {DECLINE_REASON_MAX} characters or fewer"
    return None


@transaction.atomic
def proposal_decline(*, proposal: Proposal, reviewer: Any, reason: str) -> Proposal:
    """Decline a pending proposal, saying why; the proposing organisation's partners read the reason.

    ``proposal.version`` must be the version the reviewer read.
    """
    _require(reviewer, DECIDE_PERMISSION, "decline proposed updates")
    _pending(proposal, "declined")
    refusal = decline_reason_refusal(reason=reason)
    if refusal:
        raise ValidationError({"reason": refusal})
    proposal.state = ProposalState.DECLINED
    proposal.decline_reason = reason.strip()
    proposal.decided_by = reviewer
    proposal.decided_at = timezone.now()
    _stamp(proposal, reviewer, "Declined")
    proposal.save()
    return proposal
