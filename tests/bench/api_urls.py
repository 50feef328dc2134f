"""The product's URLs plus the benchmark's baseline view (bench only: never part of the product's URLconf).

The baseline returns the same page of 50 published commitments as ``/api/v1/commitments/`` (same order,
same nested organisations, funding and current state, same token authentication), read with
``.values()`` and encoded with orjson: no DRF view, serializer, filter or paginator.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from commitments.models import Commitment, CommitmentOrganisation
from lsis.api.auth import ThrottledTokenAuthentication
from lsis.urls import urlpatterns as product_urlpatterns
from programmes.models import FundingAmount

PAGE = 50
FIELDS = (
    "pk",
    "reference",
    "uuid",
    "deal__code",
    "deal__title",
    "foundation__code",
    "foundation__name",
    "area__code",
    "area__name",
    "actor",
    "section",
    "position",
    "lead_in",
    "text",
    "source_document__code",
    "source_quote",
    "target_date_text",
    "target_date",
    "jobs",
    "jobs_text",
    "delivery_status",
    "delivery_confidence",
    "progress",
    "delivery_as_of",
    "published",
    "modified_at",
)


def baseline_commitments(request: HttpRequest) -> HttpResponse:
    """A page of published commitments with their organisations, funding and state: values() and orjson."""
    try:
        authenticated = ThrottledTokenAuthentication().authenticate(Request(request))
    except AuthenticationFailed:
        authenticated = None
    if authenticated is None:
        return JsonResponse({"detail": "not authenticated"}, status=401)
    published = Commitment.objects.published()
    count = published.count()
    rows = list(published.order_by("reference").values(*FIELDS)[:PAGE])
    ids = [row.pop("pk") for row in rows]
    organisations: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for involved in (
        CommitmentOrganisation.objects.filter(commitment_id__in=ids)
        .order_by("role", "organisation__name")
        .values("commitment_id", "organisation__uuid", "organisation__name", "role")
    ):
        involvement: dict[str, Any] = dict(involved)
        organisations[involvement.pop("commitment_id")].append(involvement)
    funding: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for money in (
        FundingAmount.objects.filter(commitment_id__in=ids)
        .order_by("key")
        .values("commitment_id", "key", "amount_text", "qualifier", "low", "high", "nature", "period_text")
    ):
        amount: dict[str, Any] = dict(money)
        funding[amount.pop("commitment_id")].append(amount)
    for row, pk in zip(rows, ids, strict=True):
        row["organisations"] = organisations[pk]
        row["funding"] = funding[pk]
    body = {"count": count, "results": rows}
    return HttpResponse(orjson.dumps(body, default=str), content_type="application/json")


urlpatterns = [path("bench/baseline/commitments/", baseline_commitments), *product_urlpatterns]
