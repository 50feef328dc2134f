"""Partners' proposed updates in the admin: reviewers accept or decline them; nobody else can, even by URL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from commitments import roles
from commitments.models import Commitment, Organisation, PartnerMembership, Proposal, ProposalState, StatusUpdate
from commitments.proposals import partner_membership_save, proposal_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
WELLCOME, LINKED = "Wellcome Trust", "SD2-IDEAS-HARP-S2"


@pytest.fixture
def partner(user_with_role: Callable[..., Any]) -> Any:
    """A partner user of Wellcome Trust, which leads SD2-IDEAS-HARP-S2 in the real data."""
    user = user_with_role(roles.PARTNER, first_name="Pat", last_name="Partner")
    membership = PartnerMembership(user=user, organisation=Organisation.objects.get(name=WELLCOME))
    partner_membership_save(membership=membership, user=user_with_role(roles.REVIEWER))
    return user


@pytest.fixture
def proposal(partner: Any) -> Proposal:
    """A pending proposal of the partner's."""
    return proposal_create(
        author=partner,
        commitment=Commitment.objects.get(reference=LINKED),
        as_of=date(2020, 6, 30),
        status="in_progress",
        narrative="The first awards of the programme have been made.",
        evidence_links=[],
    )


def _url(proposal: Proposal, view: str) -> str:
    return reverse(f"admin:commitments_proposal_{view}", args=[proposal.pk])


def _signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_reviewers_list_filter_and_read_proposals(client_for: Callable[..., Client], proposal: Proposal) -> None:
    reviewer = client_for(roles.REVIEWER)
    listed = reviewer.get(reverse("admin:commitments_proposal_changelist"), {"state__exact": "pending"})
    assert listed.status_code == 200
    assert LINKED in listed.content.decode()
    organisation = Organisation.objects.get(name=WELLCOME)
    by_organisation = reviewer.get(
        reverse("admin:commitments_proposal_changelist"), {"organisation__id__exact": organisation.pk}
    )
    assert LINKED in by_organisation.content.decode()
    declined = reviewer.get(reverse("admin:commitments_proposal_changelist"), {"state__exact": "declined"})
    assert LINKED not in declined.content.decode()
    page = reviewer.get(_url(proposal, "change"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Accept as a draft" in text
    assert "Decline" in text
    assert "The first awards of the programme have been made." in text


def test_a_reviewer_accepts_a_proposal_as_a_draft_of_their_own(
    user_with_role: Callable[..., Any], proposal: Proposal
) -> None:
    reviewer = user_with_role(roles.REVIEWER)
    client = _signed_in(reviewer)
    assert client.get(_url(proposal, "accept")).status_code == 200
    answer = client.post(_url(proposal, "accept"))
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.ACCEPTED
    assert proposal.draft is not None
    assert answer.status_code == 302
    assert answer["Location"] == reverse("admin:commitments_statusupdate_change", args=[proposal.draft.pk])
    assert proposal.draft.author == reviewer
    assert proposal.decided_by == reviewer
    # The draft's page credits the proposing organisation and person.
    draft_page = client.get(answer["Location"]).content.decode()
    assert "Proposed by" in draft_page
    assert "Wellcome Trust (Pat Partner)" in draft_page
    # A decided proposal offers no decision, and refuses one by URL.
    assert "Accept as a draft" not in client.get(_url(proposal, "change")).content.decode()
    assert client.post(_url(proposal, "accept")).status_code == 403
    assert client.post(_url(proposal, "decline"), {"reason": "Please cite the awards."}).status_code == 403
    assert StatusUpdate.objects.filter(proposal__isnull=False).count() == 1


def test_declining_asks_for_a_reason_and_says_so_when_it_is_missing(
    client_for: Callable[..., Client], proposal: Proposal
) -> None:
    reviewer = client_for(roles.REVIEWER)
    blank = reviewer.post(_url(proposal, "decline"), {"reason": "  "})
    assert blank.status_code == 200
    text = blank.content.decode()
    assert "There is a problem" in text
    assert "Say why the proposal is declined" in text
    assert 'href="#id_reason"' in text
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PENDING
    declined = reviewer.post(_url(proposal, "decline"), {"reason": "Please cite the announcement of the awards."})
    assert declined.status_code == 302
    proposal.refresh_from_db()
    assert (proposal.state, proposal.decline_reason) == (
        ProposalState.DECLINED,
        "Please cite the announcement of the awards.",
    )


@pytest.mark.parametrize("role", [roles.EDITOR, roles.BOARD_MEMBER, roles.ADMINISTRATOR])
def test_other_staff_read_proposals_but_cannot_decide_even_by_url(
    role: str, client_for: Callable[..., Client], proposal: Proposal
) -> None:
    client = client_for(role)
    page = client.get(_url(proposal, "change"))
    assert page.status_code == 200
    assert "Accept as a draft" not in page.content.decode()
    for view in ("accept", "decline"):
        assert client.get(_url(proposal, view)).status_code == 403
        assert client.post(_url(proposal, view), {"reason": "Please cite the announcement."}).status_code == 403
    proposal.refresh_from_db()
    assert proposal.state == ProposalState.PENDING


def test_nobody_adds_changes_or_deletes_a_proposal_in_the_admin(
    client_for: Callable[..., Client], proposal: Proposal
) -> None:
    superuser = client_for(None)
    assert superuser.get(reverse("admin:commitments_proposal_add")).status_code == 403
    assert superuser.post(_url(proposal, "change"), {"narrative": "Changed."}).status_code == 403
    assert superuser.post(_url(proposal, "delete"), {"post": "yes"}).status_code == 403
    assert Proposal.objects.filter(pk=proposal.pk, narrative__startswith="The first awards").exists()


def test_partners_are_sent_to_sign_in(partner: Any, proposal: Proposal) -> None:
    answer = _signed_in(partner).get(_url(proposal, "accept"))
    assert answer.status_code == 302
    assert answer["Location"].startswith("/admin/login/")


def test_reviewers_keep_memberships_and_only_partners_belong(
    client_for: Callable[..., Client], user_with_role: Callable[..., Any]
) -> None:
    reviewer = client_for(roles.REVIEWER)
    new_partner = user_with_role(roles.PARTNER)
    organisation = Organisation.objects.get(name=WELLCOME)
    added = reviewer.post(
        reverse("admin:commitments_partnermembership_add"), {"user": new_partner.pk, "organisation": organisation.pk}
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    membership = PartnerMembership.objects.get(user=new_partner)
    assert membership.organisation == organisation
    assert membership.history.latest().history_change_reason == "Membership added"
    # A member of staff is not offered, and refused.
    editor = UserFactory.create(is_staff=True)
    editor.groups.add(Group.objects.get(name=roles.EDITOR))
    refused = reviewer.post(
        reverse("admin:commitments_partnermembership_add"), {"user": editor.pk, "organisation": organisation.pk}
    )
    assert refused.status_code == 200
    assert not PartnerMembership.objects.filter(user=editor).exists()
    # Editors read memberships but do not keep them.
    editor_client = client_for(roles.EDITOR)
    assert editor_client.get(reverse("admin:commitments_partnermembership_changelist")).status_code == 200
    assert editor_client.get(reverse("admin:commitments_partnermembership_add")).status_code == 403
    deleted = editor_client.post(
        reverse("admin:commitments_partnermembership_delete", args=[membership.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 403
    assert (
        reviewer.post(
            reverse("admin:commitments_partnermembership_delete", args=[membership.pk]), {"post": "yes"}
        ).status_code
        == 302
    )
    assert not PartnerMembership.objects.filter(user=new_partner).exists()
