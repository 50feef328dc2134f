"""Every role (anonymous, partner, board, editor, reviewer) against every endpoint and method."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, Framework, Organisation, StatusUpdate, Theme
from programmes.models import AmountNature, FundingAmount, Programme
from programmes.money import AmountQualifier
from programmes.services import funding_amount_save
from tests.api.conftest import API_ROLES
from tests.helpers import ANONYMOUS, first

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("quarterly_figures")]

STAFF = [roles.BOARD_MEMBER, roles.EDITOR, roles.REVIEWER]
V1 = "/api/v1"


def _approved_published_update() -> StatusUpdate:
    return first(StatusUpdate.objects.published().order_by("pk"))


# Every GET endpoint, with a record every signed-in role may see.
READ_ENDPOINTS: dict[str, Callable[[], str]] = {
    "deals": lambda: f"{V1}/deals/",
    "deal": lambda: f"{V1}/deals/SD2/",
    "documents": lambda: f"{V1}/documents/",
    "document": lambda: f"{V1}/documents/SD2/",
    "frameworks": lambda: f"{V1}/frameworks/",
    "framework": lambda: f"{V1}/frameworks/{first(Framework.objects.all()).code}/",
    "themes": lambda: f"{V1}/themes/",
    "theme": lambda: f"{V1}/themes/{first(Theme.objects.all()).uuid}/",
    "foundations": lambda: f"{V1}/foundations/",
    "foundation": lambda: f"{V1}/foundations/IDEAS/",
    "areas": lambda: f"{V1}/areas/",
    "area": lambda: f"{V1}/areas/{first(Theme.objects.areas()).code}/",
    "organisations": lambda: f"{V1}/organisations/",
    "organisation": lambda: f"{V1}/organisations/{first(Organisation.objects.all()).uuid}/",
    "programmes": lambda: f"{V1}/programmes/",
    "programme": lambda: f"{V1}/programmes/{first(Programme.objects.all()).uuid}/",
    "funding": lambda: f"{V1}/funding/",
    "funding amount": lambda: f"{V1}/funding/{first(FundingAmount.objects.filter(commitment__published=True)).key}/",
    "commitments": lambda: f"{V1}/commitments/",
    "commitment": lambda: f"{V1}/commitments/SD2-IDEAS-HARP-G1/",
    "commitment updates": lambda: f"{V1}/commitments/SD2-IDEAS-HARP-G1/updates/",
    "updates": lambda: f"{V1}/updates/",
    "update": lambda: f"{V1}/updates/{_approved_published_update().uuid}/",
    "quarters": lambda: f"{V1}/quarters/",
    "quarter": lambda: f"{V1}/quarters/2019-20-Q1/",
    "metrics": lambda: f"{V1}/metrics/",
    "glossary": lambda: f"{V1}/glossary/",
}


@pytest.mark.parametrize("role", API_ROLES)
@pytest.mark.parametrize("endpoint", READ_ENDPOINTS)
def test_every_signed_in_role_reads_every_endpoint_and_anonymous_none(
    api_for: Callable[[str], APIClient], role: str, endpoint: str
) -> None:
    response = api_for(role).get(READ_ENDPOINTS[endpoint]())
    assert response.status_code == (401 if role == ANONYMOUS else 200), response.content
    if role == ANONYMOUS:
        assert response.json()["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("role", API_ROLES)
@pytest.mark.parametrize("method", ["put", "delete", "post"])
@pytest.mark.parametrize("url", [f"{V1}/commitments/SD2-IDEAS-HARP-G1/", f"{V1}/commitments/", f"{V1}/glossary/"])
def test_methods_the_read_endpoints_do_not_have(
    api_for: Callable[[str], APIClient], role: str, method: str, url: str
) -> None:
    response = getattr(api_for(role), method)(url, {}, format="json")
    assert response.status_code == (401 if role == ANONYMOUS else 405)
    assert set(response.json()) == {"status", "code", "detail", "fields"}


@pytest.mark.parametrize("role", API_ROLES)
def test_unpublished_commitments_do_not_exist_for_partners(
    api_for: Callable[[str], APIClient], role: str, unpublished: Commitment, user_with_role: Callable[..., Any]
) -> None:
    # The commitment is given money of its own, so that its amount is looked up too.
    funding = funding_amount_save(
        amount=FundingAmount(
            key=f"{unpublished.reference}-A1",
            amount_text="£10m",
            qualifier=AmountQualifier.EXACT,
            low=Decimal(10_000_000),
            high=Decimal(10_000_000),
            nature=AmountNature.NEW_MONEY,
            commitment=unpublished,
            source_document=unpublished.source_document,
            source_quote="£10m",
        ),
        user=user_with_role(roles.REVIEWER),
    )
    client = api_for(role)
    detail = client.get(f"{V1}/commitments/{unpublished.reference}/")
    updates = client.get(f"{V1}/commitments/{unpublished.reference}/updates/")
    amount = client.get(f"{V1}/funding/{funding.key}/")
    listed = client.get(f"{V1}/commitments/", {"page_size": 200})
    if role == ANONYMOUS:
        assert {detail.status_code, updates.status_code, amount.status_code, listed.status_code} == {401}
        return
    references = [row["reference"] for row in listed.json()["results"]]
    if role == roles.PARTNER:
        assert detail.status_code == 404
        assert updates.status_code == 404
        assert unpublished.reference not in references
        assert listed.json()["count"] == Commitment.objects.published().count()
        assert amount.status_code == 404
    else:
        assert detail.status_code == 200
        assert updates.status_code == 200
        assert amount.status_code == 200
        assert unpublished.reference in references
        assert listed.json()["count"] == Commitment.objects.count()


@pytest.mark.parametrize("role", API_ROLES)
@pytest.mark.parametrize("state", ["draft", "submitted", "returned"])
def test_updates_in_review_do_not_exist_for_partners(
    api_for: Callable[[str], APIClient],
    role: str,
    state: str,
    draft_by_colleague: Callable[..., StatusUpdate],
    user_with_role: Callable[..., Any],
) -> None:
    from commitments.services import update_return

    update = draft_by_colleague(submitted=state != "draft")
    if state == "returned":
        update = update_return(update=update, reviewer=user_with_role(roles.REVIEWER), reason="Add evidence.")
    client = api_for(role)
    detail = client.get(f"{V1}/updates/{update.uuid}/")
    listed = client.get(f"{V1}/updates/", {"commitment": update.commitment.reference})
    if role == ANONYMOUS:
        assert detail.status_code == 401
    elif role == roles.PARTNER:
        assert detail.status_code == 404
        assert str(update.uuid) not in [row["uuid"] for row in listed.json()["results"]]
        assert all("workflow" not in row for row in listed.json()["results"])
    else:
        assert detail.status_code == 200
        assert detail.json()["workflow"]["state"] == state
        if state == "returned":
            assert detail.json()["workflow"]["return_reason"] == "Add evidence."


def _create(client: APIClient, update: StatusUpdate) -> int:
    payload = {
        "commitment": "SD2-PEOPLE-G3",
        "as_of": "2019-09-30",
        "status": "in_progress",
        "narrative": "Written through the API.",
    }
    return client.post(f"{V1}/updates/", payload, format="json").status_code


def _edit(client: APIClient, update: StatusUpdate) -> int:
    return client.patch(
        f"{V1}/updates/{update.uuid}/", {"narrative": "Edited."}, format="json", HTTP_IF_MATCH=f'"{update.version}"'
    ).status_code


def _submit(client: APIClient, update: StatusUpdate) -> int:
    return client.post(f"{V1}/updates/{update.uuid}/submit/", HTTP_IF_MATCH=f'"{update.version}"').status_code


def _approve(client: APIClient, update: StatusUpdate) -> int:
    return client.post(f"{V1}/updates/{update.uuid}/approve/", HTTP_IF_MATCH=f'"{update.version}"').status_code


def _return(client: APIClient, update: StatusUpdate) -> int:
    return client.post(
        f"{V1}/updates/{update.uuid}/return/",
        {"reason": "Cite the evidence."},
        format="json",
        HTTP_IF_MATCH=f'"{update.version}"',
    ).status_code


# (action, whether it acts on a submitted update, the status each role gets)
WRITES = [
    (
        _create,
        False,
        {ANONYMOUS: 401, roles.PARTNER: 403, roles.BOARD_MEMBER: 403, roles.EDITOR: 201, roles.REVIEWER: 201},
    ),
    (
        _edit,
        False,
        {ANONYMOUS: 401, roles.PARTNER: 403, roles.BOARD_MEMBER: 403, roles.EDITOR: 200, roles.REVIEWER: 200},
    ),
    (
        _submit,
        False,
        {ANONYMOUS: 401, roles.PARTNER: 403, roles.BOARD_MEMBER: 403, roles.EDITOR: 200, roles.REVIEWER: 200},
    ),
    (
        _approve,
        True,
        {ANONYMOUS: 401, roles.PARTNER: 403, roles.BOARD_MEMBER: 403, roles.EDITOR: 403, roles.REVIEWER: 200},
    ),
    (
        _return,
        True,
        {ANONYMOUS: 401, roles.PARTNER: 403, roles.BOARD_MEMBER: 403, roles.EDITOR: 403, roles.REVIEWER: 200},
    ),
]


@pytest.mark.parametrize("role", API_ROLES)
@pytest.mark.parametrize(("write", "on_submitted", "expected"), WRITES, ids=[w[0].__name__[1:] for w in WRITES])
def test_writes_by_role(
    api_for: Callable[[str], APIClient],
    draft_by_colleague: Callable[..., StatusUpdate],
    role: str,
    write: Callable[[APIClient, StatusUpdate], int],
    on_submitted: bool,
    expected: dict[str, int],
) -> None:
    update = draft_by_colleague(submitted=on_submitted)
    before = StatusUpdate.objects.count(), update.version
    status = write(api_for(role), update)
    assert status == expected[role]
    update.refresh_from_db()
    changed = (StatusUpdate.objects.count(), update.version) != before
    assert changed == (status in (200, 201))
