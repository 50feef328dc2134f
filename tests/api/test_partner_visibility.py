"""A partner cannot tell an unpublished commitment from one that does not exist.

Links from what a partner sees (a commitment's ``parent``, ``continues`` and ``elaborates``, an amount's
``part_of``) never name an unpublished record, in JSON, CSV or XLSX; every filter and detail address
naming an unpublished commitment answers exactly as one naming a missing commitment. Staff see it all.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import django_filters
import pytest
from django.db.models import ForeignKey
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, Document
from lsis.api.urls import router
from metrics import rules
from programmes.api.serializers import CommitmentSerializer
from programmes.models import AmountNature, FundingAmount, with_funding_and_programmes
from programmes.money import AmountQualifier
from tests.factories import CommitmentFactory
from tests.helpers import streamed

pytestmark = pytest.mark.django_db
V1 = "/api/v1"
PROBE = "visibility probe"
MISSING = "NO-SUCH-COMMITMENT"
LINKS = ("parent", "continues", "elaborates")


@pytest.fixture
def partner(api_for: Callable[[str], APIClient]) -> APIClient:
    return api_for(roles.PARTNER)


@pytest.fixture
def staff(api_for: Callable[[str], APIClient]) -> APIClient:
    return api_for(roles.EDITOR)


def _amount(key: str, commitment: Commitment, part_of: FundingAmount | None = None) -> FundingAmount:
    return FundingAmount.objects.create(
        key=key,
        amount_text="£10m",
        qualifier=AmountQualifier.EXACT,
        low=Decimal(10_000_000),
        high=Decimal(10_000_000),
        nature=AmountNature.NEW_MONEY,
        commitment=commitment,
        part_of=part_of,
        source_document=Document.objects.get(code="SD2"),
        source_quote="£10m",
    )


@dataclass(frozen=True)
class Linked:
    """A published record linking to an unpublished one, and the addresses that show the published one."""

    secret: str  # the unpublished commitment's reference, which must not appear
    value: str  # what the link holds for staff: that reference, or the key of the commitment's amount
    urls: tuple[tuple[str, dict[str, str]], ...]


def _link(name: str) -> Linked:
    hidden = CommitmentFactory.create(reference=f"HIDDEN-{name.upper().replace('_', '-')}", published=False)
    if name == "part_of":
        shown = CommitmentFactory.create(reference="SHOWN-FUNDED", published=True, text=PROBE)
        hidden_amount = _amount(f"{hidden.reference}-A1", hidden)
        amount = _amount("SHOWN-FUNDED-A1", shown, part_of=hidden_amount)
        listing = (f"{V1}/funding/", {"commitment": shown.reference})
        detail: tuple[str, dict[str, str]] = (f"{V1}/funding/{amount.key}/", {})
        return Linked(hidden.reference, hidden_amount.key, (listing, detail))
    shown = CommitmentFactory.create(reference="SHOWN-LINKED", published=True, text=PROBE, **{name: hidden})
    listing = (f"{V1}/commitments/", {"search": PROBE})
    detail = (f"{V1}/commitments/{shown.reference}/", {})
    return Linked(hidden.reference, hidden.reference, (listing, detail))


def _bodies(client: APIClient, linked: Linked) -> Iterator[tuple[str, bytes]]:
    """Every answer showing the published record: JSON list and detail, CSV and XLSX (unzipped)."""
    (list_url, params), (detail_url, _) = linked.urls
    for url, query in ((list_url, params), (detail_url, {})):
        response = client.get(url, query)
        assert response.status_code == 200, response.content
        yield url, response.content
    for export in ("csv", "xlsx"):
        response = client.get(list_url, {**params, "format": export})
        assert response.status_code == 200
        content = streamed(response)
        if export == "xlsx":
            with zipfile.ZipFile(io.BytesIO(content)) as workbook:
                content = b"".join(workbook.read(name) for name in workbook.namelist())
        yield f"{list_url} as {export}", content


@pytest.mark.parametrize("link", [*LINKS, "part_of"])
def test_links_to_unpublished_records_are_null_for_partners(link: str, partner: APIClient, staff: APIClient) -> None:
    linked = _link(link)
    shown = b"SHOWN-"
    for where, body in _bodies(partner, linked):
        assert shown in body, where
        assert linked.secret.encode() not in body, where
    # Staff see the link: the published record does point to the unpublished one.
    for where, body in _bodies(staff, linked):
        assert linked.secret.encode() in body, where
    detail_url = linked.urls[1][0]
    assert partner.get(detail_url).json()[link] is None
    assert staff.get(detail_url).json()[link] == linked.value


@pytest.mark.parametrize("role", [roles.PARTNER, roles.EDITOR])
def test_the_documented_serializer_agrees_on_links_to_unpublished_commitments(
    role: str, api_for: Callable[[str], APIClient]
) -> None:
    """CommitmentSerializer (the declared shape) and the plain-rows records null the same links."""
    links = {name: CommitmentFactory.create(reference=f"HIDDEN-{name.upper()}", published=False) for name in LINKS}
    CommitmentFactory.create(reference="SHOWN-LINKED", published=True, text=PROBE, **links)
    staff = role != roles.PARTNER
    expected = CommitmentSerializer(
        with_funding_and_programmes(
            rules.with_overdue(
                Commitment.objects.filter(text=PROBE).with_details(published_only=not staff), on=timezone.localdate()
            )
        ),
        many=True,
    ).data
    listed = api_for(role).get(f"{V1}/commitments/", {"search": PROBE}).json()["results"]
    assert json.loads(JSONRenderer().render(expected)) == listed
    assert [{name: record[name] for name in LINKS} for record in listed] == [
        {name: None if not staff else linked.reference for name, linked in links.items()}
    ]


def test_a_sub_item_of_an_unpublished_commitment_is_top_level_for_partners(
    partner: APIClient, staff: APIClient
) -> None:
    """Otherwise a sub-item with no parent shown would give the hidden parent away."""
    _link("parent")

    def listed(client: APIClient, top_level: str) -> list[str]:
        response = client.get(f"{V1}/commitments/", {"search": PROBE, "top_level": top_level})
        assert response.status_code == 200, response.content
        return [row["reference"] for row in response.json()["results"]]

    assert listed(partner, "true") == ["SHOWN-LINKED"]
    assert listed(partner, "false") == []
    assert listed(staff, "true") == []
    assert listed(staff, "false") == ["SHOWN-LINKED"]


def _commitment_filters() -> list[tuple[str, str]]:
    """Every list endpoint's filter that names a commitment: (list address, parameter)."""
    found = []
    for prefix, viewset, _ in router.registry:
        filterset = getattr(viewset, "filterset_class", None)
        if filterset is None:
            continue
        model = filterset._meta.model
        for name, declared in filterset.base_filters.items():
            if not isinstance(declared, django_filters.ModelChoiceFilter | django_filters.ModelMultipleChoiceFilter):
                continue
            field = model._meta.get_field(declared.field_name)
            if isinstance(field, ForeignKey) and field.related_model is Commitment:
                found.append((f"{V1}/{prefix}/", name))
    return found


COMMITMENT_FILTERS = _commitment_filters()


def test_the_commitment_filters_are_found() -> None:
    assert {(f"{V1}/updates/", "commitment"), (f"{V1}/funding/", "commitment")} <= set(COMMITMENT_FILTERS)


def _same_apart_from(first: Any, second: Any, first_value: str, second_value: str) -> None:
    assert first.status_code == second.status_code
    assert first["Content-Type"] == second["Content-Type"]
    assert first.content.replace(first_value.encode(), b"?") == second.content.replace(second_value.encode(), b"?")


@pytest.mark.parametrize(("url", "parameter"), COMMITMENT_FILTERS)
@pytest.mark.parametrize("export", [None, "csv"])
def test_a_filter_naming_an_unpublished_commitment_answers_as_for_a_missing_one(
    url: str, parameter: str, export: str | None, partner: APIClient, staff: APIClient, unpublished: Commitment
) -> None:
    extra = {"format": export} if export else {}
    hidden = partner.get(url, {parameter: unpublished.reference, **extra})
    missing = partner.get(url, {parameter: MISSING, **extra})
    assert missing.status_code == 404  # well formed, names nothing: not found, as its own URL would be
    _same_apart_from(hidden, missing, unpublished.reference, MISSING)
    assert staff.get(url, {parameter: unpublished.reference, **extra}).status_code == 200


@pytest.mark.parametrize("path", ["commitments/{}/", "commitments/{}/updates/", "funding/{}-A1/"])
def test_detail_addresses_of_unpublished_records_answer_as_missing_ones(
    path: str, partner: APIClient, staff: APIClient
) -> None:
    hidden = CommitmentFactory.create(reference="HIDDEN-DETAIL", published=False)
    _amount(f"{hidden.reference}-A1", hidden)
    url = f"{V1}/{path}"
    hidden_response = partner.get(url.format(hidden.reference))
    missing = partner.get(url.format(MISSING))
    assert missing.status_code == 404
    _same_apart_from(hidden_response, missing, hidden.reference, MISSING)
    assert staff.get(url.format(hidden.reference)).status_code == 200
