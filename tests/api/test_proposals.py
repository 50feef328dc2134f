"""Partners propose status updates through the API; reviewers accept them (as a draft) or decline them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, Organisation, PartnerMembership, Proposal, StatusUpdate
from commitments.periods import Quarter
from commitments.proposals import partner_membership_save
from commitments.reference_records import organisation_save
from commitments.services import commitment_set_published
from metrics.models import QuarterMetric
from metrics.services import metrics_recompute

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
# The real data: Wellcome Trust leads SD2-IDEAS-HARP-S2 (which carries money) and SD2-IDEAS-HARP-S1 (which does
# not); no organisation takes part in SD2-IDEAS-HARP-G1; Genomics England leads SD2-IDEAS-HARP-G4.
WELLCOME, GENOMICS = "Wellcome Trust", "Genomics England"
LINKED, LINKED_TOO, UNLINKED = "SD2-IDEAS-HARP-S2", "SD2-IDEAS-HARP-S1", "SD2-IDEAS-HARP-G1"

LINK = {"url": "https://wellcome.org/news/example", "title": "Announcement"}
PROPOSAL: dict[str, Any] = {
    "commitment": LINKED,
    "as_of": "2020-06-30",
    "status": "in_progress",
    "confidence": "amber_green",
    "progress": 30,
    "narrative": "The first awards of the programme have been made to three research teams.",
    "evidence_links": [LINK],
}


@pytest.fixture
def partner_of(user_with_role: Callable[..., Any]) -> Callable[[str], Any]:
    """A new partner user belonging to the organisation named, made a member by a reviewer."""
    reviewer = user_with_role(roles.REVIEWER)

    def make(name: str) -> Any:
        partner = user_with_role(roles.PARTNER, first_name="Pat", last_name="Partner")
        membership = PartnerMembership(user=partner, organisation=Organisation.objects.get(name=name))
        partner_membership_save(membership=membership, user=reviewer)
        return partner

    return make


@pytest.fixture
def wellcome(partner_of: Callable[[str], Any], api_as: Callable[[Any], APIClient]) -> APIClient:
    """An API client for a partner of Wellcome Trust."""
    return api_as(partner_of(WELLCOME))


def _propose(client: APIClient, **changes: Any) -> Any:
    return client.post(f"{V1}/proposals/", {**PROPOSAL, **changes}, format="json")


def test_a_partner_proposes_and_reads_their_organisations_proposals(
    partner_of: Callable[[str], Any], api_as: Callable[[Any], APIClient]
) -> None:
    author, colleague = partner_of(WELLCOME), partner_of(WELLCOME)
    created = _propose(api_as(author))
    assert created.status_code == 201, created.content
    body = created.json()
    assert created["Location"] == f"{V1}/proposals/{body['uuid']}/"
    assert created["ETag"] == '"1"'
    assert body["state"] == "pending"
    assert body["commitment"] == LINKED
    assert body["organisation"]["name"] == WELLCOME
    assert body["evidence_links"] == PROPOSAL["evidence_links"]
    assert body["decline_reason"] == ""
    # Who proposed and decided it, and the draft, are staff's business.
    assert not {"author", "decided_by", "draft"} & set(body)
    proposal = Proposal.objects.get(uuid=body["uuid"])
    assert proposal.author == author
    assert proposal.history.latest().history_change_reason == "Proposed"

    # A colleague of the same organisation sees it too.
    reader = api_as(colleague)
    listed = reader.get(f"{V1}/proposals/")
    assert listed.status_code == 200
    assert [row["uuid"] for row in listed.json()["results"]] == [body["uuid"]]
    one = reader.get(f"{V1}/proposals/{body['uuid']}/")
    assert one.status_code == 200
    assert one["ETag"] == '"1"'
    assert reader.get(f"{V1}/proposals/", {"state": "pending", "commitment": LINKED}).json()["count"] == 1
    assert reader.get(f"{V1}/proposals/", {"state": "declined"}).json()["count"] == 0


def test_another_organisations_partner_neither_lists_nor_reads_it(
    wellcome: APIClient,
    partner_of: Callable[[str], Any],
    api_as: Callable[[Any], APIClient],
    user_with_role: Callable[..., Any],
) -> None:
    uuid = _propose(wellcome).json()["uuid"]
    other = api_as(partner_of(GENOMICS))
    assert other.get(f"{V1}/proposals/").json()["count"] == 0
    missing = other.get(f"{V1}/proposals/{uuid}/")
    assert missing.status_code == 404
    # Exactly as for a proposal that does not exist.
    assert missing.json() == other.get(f"{V1}/proposals/00000000-0000-4000-8000-000000000000/").json()
    # A partner who belongs to no organisation sees none either; a colleague of the author's sees it.
    assert api_as(user_with_role(roles.PARTNER)).get(f"{V1}/proposals/").json()["count"] == 0
    assert api_as(partner_of(WELLCOME)).get(f"{V1}/proposals/").json()["count"] == 1


def test_unlinked_unpublished_and_unknown_commitments_are_the_same_not_found(
    wellcome: APIClient, user_with_role: Callable[..., Any]
) -> None:
    commitment_set_published(
        commitment=Commitment.objects.get(reference=LINKED_TOO), user=user_with_role(roles.REVIEWER), published=False
    )
    answers = [_propose(wellcome, commitment=reference) for reference in (UNLINKED, LINKED_TOO, "SD9-NO-SUCH-1")]
    assert [answer.status_code for answer in answers] == [404, 404, 404]
    bodies = [answer.json() for answer in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    assert bodies[0] == wellcome.get(f"{V1}/commitments/SD9-NO-SUCH-1/").json()
    assert not Proposal.objects.exists()


def test_only_partners_with_an_organisation_propose(
    api_for: Callable[[str], APIClient], api_as: Callable[[Any], APIClient], user_with_role: Callable[..., Any]
) -> None:
    without = api_as(user_with_role(roles.PARTNER))
    refused = _propose(without)
    assert refused.status_code == 403
    assert "organisation" in refused.json()["detail"]
    # Refused before the body is read: whatever it holds.
    assert without.post(f"{V1}/proposals/", {"narrative": 5}, format="json").status_code == 403
    assert _propose(api_for(roles.EDITOR)).status_code == 403
    assert _propose(api_for(roles.REVIEWER)).status_code == 403
    assert not Proposal.objects.exists()


def test_a_proposal_is_held_to_the_rules_of_a_status_update(
    wellcome: APIClient, api_for: Callable[[str], APIClient]
) -> None:
    future = (timezone.localdate() + timedelta(days=2)).isoformat()
    refused = _propose(wellcome, as_of=future)
    # Values the schema allows but a rule of the records refuses: 422 naming the field, as for a draft.
    assert refused.status_code == 422
    # The same words as for a draft update: one rule, stated once.
    draft = api_for(roles.EDITOR).post(f"{V1}/updates/", {**PROPOSAL, "as_of": future}, format="json")
    assert refused.json()["fields"]["as_of"] == draft.json()["fields"]["as_of"]

    no_money = _propose(wellcome, commitment=LINKED_TOO, funding_spent="100.00")
    assert no_money.status_code == 422
    assert "carries no money" in no_money.json()["fields"]["funding_spent"][0]
    assert _propose(wellcome, funding_spent="1000.00").status_code == 201

    bad_link = _propose(wellcome, as_of="2020-03-31", evidence_links=[{"url": "not a link", "title": "x"}])
    assert bad_link.status_code == 400
    assert "evidence_links" in bad_link.json()["fields"]
    assert _propose(wellcome, narrative="   ").status_code == 400
    assert Proposal.objects.count() == 1


def _accept(client: APIClient, uuid: str, etag: str = '"1"') -> Any:
    return client.post(f"{V1}/proposals/{uuid}/accept/", HTTP_IF_MATCH=etag)


def test_accepting_writes_a_draft_by_the_reviewer_crediting_the_partner_and_four_eyes_apply(
    wellcome: APIClient, api_for: Callable[[str], APIClient], user_with_role: Callable[..., Any], settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    uuid = _propose(wellcome).json()["uuid"]
    reviewer, other_reviewer = api_for(roles.REVIEWER), api_for(roles.REVIEWER)
    assert reviewer.post(f"{V1}/proposals/{uuid}/accept/").status_code == 428
    accepted = _accept(reviewer, uuid)
    assert accepted.status_code == 200, accepted.content
    body = accepted.json()
    assert body["state"] == "accepted"
    assert accepted["ETag"] == '"2"'
    draft = StatusUpdate.objects.get(uuid=body["draft"])
    assert draft.state == "draft"
    assert draft.author is not None
    assert body["decided_by"] == draft.author.username
    assert (draft.commitment.reference, draft.as_of.isoformat(), draft.narrative) == (
        LINKED,
        PROPOSAL["as_of"],
        PROPOSAL["narrative"],
    )
    assert [(link.url, link.title) for link in draft.evidence_links.all()] == [(LINK["url"], LINK["title"])]

    read = reviewer.get(f"{V1}/updates/{draft.uuid}/")
    assert read.json()["workflow"]["author"] == draft.author.username
    assert read.json()["proposed_by"] == {"organisation": WELLCOME, "person": "Pat Partner"}

    submitted = reviewer.post(f"{V1}/updates/{draft.uuid}/submit/", HTTP_IF_MATCH=read["ETag"])
    assert submitted.status_code == 200
    # Four eyes: the reviewer who accepted it wrote the draft, so another approves it.
    own = reviewer.post(f"{V1}/updates/{draft.uuid}/approve/", HTTP_IF_MATCH=submitted["ETag"])
    assert own.status_code == 409
    approved = other_reviewer.post(f"{V1}/updates/{draft.uuid}/approve/", HTTP_IF_MATCH=submitted["ETag"])
    assert approved.status_code == 200, approved.content

    # Partners see the approved update credited to the organisation, never the person.
    seen = wellcome.get(f"{V1}/updates/{draft.uuid}/")
    assert seen.status_code == 200
    assert seen.json()["proposed_by"] == {"organisation": WELLCOME}
    assert wellcome.get(f"{V1}/proposals/{uuid}/").json()["state"] == "accepted"

    # The organisation renamed, the change feed carries the update's new credit.
    cursor = wellcome.get(f"{V1}/changes/", {"page_size": 1000}).json()["next"]
    while (page := wellcome.get(f"{V1}/changes/", {"cursor": cursor, "page_size": 1000}).json())["has_more"]:
        cursor = page["next"]
    cursor = page["next"]
    organisation = Organisation.objects.get(name=WELLCOME)
    organisation.name = "Wellcome"
    organisation_save(organisation=organisation, user=user_with_role(roles.REVIEWER))
    entries = wellcome.get(f"{V1}/changes/", {"cursor": cursor, "kind": "updates"}).json()["results"]
    assert [(entry["id"], entry["record"]["proposed_by"]) for entry in entries] == [
        (str(draft.uuid), {"organisation": "Wellcome"})
    ]


def test_declining_needs_a_reason_the_partner_reads(wellcome: APIClient, api_for: Callable[[str], APIClient]) -> None:
    uuid = _propose(wellcome).json()["uuid"]
    reviewer = api_for(roles.REVIEWER)
    url = f"{V1}/proposals/{uuid}/decline/"
    blank = reviewer.post(url, {"reason": ""}, format="json", HTTP_IF_MATCH='"1"')
    assert blank.status_code == 400
    assert "reason" in blank.json()["fields"]
    short = reviewer.post(url, {"reason": "No."}, format="json", HTTP_IF_MATCH='"1"')
    assert short.status_code == 400
    assert "at least" in short.json()["fields"]["reason"][0]
    reason = "Please cite the announcement of the awards."
    declined = reviewer.post(url, {"reason": reason}, format="json", HTTP_IF_MATCH='"1"')
    assert declined.status_code == 200, declined.content
    seen = wellcome.get(f"{V1}/proposals/{uuid}/").json()
    assert (seen["state"], seen["decline_reason"]) == ("declined", reason)
    assert not StatusUpdate.objects.filter(narrative=PROPOSAL["narrative"]).exists()


def test_a_decided_proposal_cannot_be_decided_again(wellcome: APIClient, api_for: Callable[[str], APIClient]) -> None:
    reviewer = api_for(roles.REVIEWER)
    declined_uuid = _propose(wellcome).json()["uuid"]
    reason = {"reason": "Please cite the announcement of the awards."}
    reviewer.post(f"{V1}/proposals/{declined_uuid}/decline/", reason, format="json", HTTP_IF_MATCH='"1"')
    accepted_uuid = _propose(wellcome, as_of="2020-03-31").json()["uuid"]
    assert _accept(reviewer, accepted_uuid).status_code == 200
    for uuid in (declined_uuid, accepted_uuid):
        again = _accept(reviewer, uuid, '"2"')
        assert again.status_code == 409, again.content
        assert again.json()["code"] == "conflict"
        refused = reviewer.post(f"{V1}/proposals/{uuid}/decline/", reason, format="json", HTTP_IF_MATCH='"2"')
        assert refused.status_code == 409
    assert StatusUpdate.objects.filter(narrative=PROPOSAL["narrative"]).count() == 1


@pytest.mark.parametrize("role", [roles.EDITOR, roles.BOARD_MEMBER, roles.ADMINISTRATOR, roles.PARTNER])
def test_only_reviewers_decide(
    role: str, wellcome: APIClient, partner_of: Callable[[str], Any], api_as: Callable[[Any], APIClient], api_for: Any
) -> None:
    uuid = _propose(wellcome).json()["uuid"]
    client = api_as(partner_of(WELLCOME)) if role == roles.PARTNER else api_for(role)
    assert _accept(client, uuid).status_code == 403
    reason = {"reason": "Please cite the announcement of the awards."}
    assert client.post(f"{V1}/proposals/{uuid}/decline/", reason, format="json", HTTP_IF_MATCH='"1"').status_code == 403
    # The proposing partner cannot accept their own either.
    assert _accept(wellcome, uuid).status_code == 403
    assert Proposal.objects.get(uuid=uuid).state == "pending"
    if role != roles.PARTNER:
        # Staff read every proposal, with who proposed it.
        assert client.get(f"{V1}/proposals/{uuid}/").json()["author"]


def test_proposing_is_rate_limited_per_token(wellcome: APIClient) -> None:
    from django.conf import settings

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "proposal": "2/hour"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        statuses = [_propose(wellcome, as_of=f"2020-0{month}-01").status_code for month in (1, 2, 3)]
        assert statuses == [201, 201, 429]
        refused = _propose(wellcome, as_of="2020-04-01")
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) > 0
        assert refused.json()["code"] == "throttled"
        # Reading is not limited by it.
        assert wellcome.get(f"{V1}/proposals/").status_code == 200
    assert Proposal.objects.count() == 2


def test_proposals_never_reach_the_figures_nor_the_published_updates(
    wellcome: APIClient, api_for: Callable[[str], APIClient]
) -> None:
    # The quarters of the proposals' dates, and today's.
    quarters = [Quarter.containing(date(2020, 3, 31)), Quarter.containing(date(2020, 6, 30))]
    quarters.append(Quarter.containing(timezone.localdate()))

    def figures() -> list[tuple[Any, ...]]:
        metrics_recompute(quarters=quarters)
        stored = QuarterMetric.objects.order_by("quarter__year", "quarter__number", "scope_type", "scope_key", "pk")
        return list(
            stored.values_list("population", "scope_type", "scope_key", "commitments", "delivered", "in_progress")
        )

    before = figures()
    assert before
    commitment_before = Commitment.objects.values("delivery_status", "progress").get(reference=LINKED)
    updates_before = wellcome.get(f"{V1}/updates/").json()["count"]

    pending = _propose(wellcome, status="delivered", progress=100).json()["uuid"]
    accepted = _propose(wellcome, as_of="2020-03-31", status="delivered", progress=100).json()["uuid"]
    assert _accept(api_for(roles.REVIEWER), accepted).status_code == 200

    assert figures() == before
    assert Commitment.objects.values("delivery_status", "progress").get(reference=LINKED) == commitment_before
    listed = wellcome.get(f"{V1}/updates/").json()
    assert listed["count"] == updates_before
    assert pending not in str(listed)
    assert wellcome.get(f"{V1}/commitments/{LINKED}/updates/").json() == []


def test_lists_cost_the_same_queries_however_many_proposals_and_export(
    wellcome: APIClient, api_for: Callable[[str], APIClient]
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reviewer = api_for(roles.REVIEWER)
    counts = []
    for month in ("01", "02", "03"):
        uuid = _propose(wellcome, as_of=f"2020-{month}-28").json()["uuid"]
        if month == "02":
            assert _accept(reviewer, uuid).status_code == 200
        with CaptureQueriesContext(connection) as queries:
            assert reviewer.get(f"{V1}/proposals/").status_code == 200
        counts.append(len(queries))
    assert counts[1] == counts[2]
    exported = wellcome.get(f"{V1}/proposals/", {"format": "csv"})
    assert exported.status_code == 200
    text = b"".join(exported.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert text.count(LINKED) == 3
    assert "author" not in text.splitlines()[0]
