"""Reading published data: filters, strict query strings, paging, exports, conditional GET, the glossary."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from commitments import roles, search
from commitments.delivery import CONFIDENCE_MEANINGS, STATUS_MEANINGS
from commitments.models import Commitment, Organisation, OrganisationRole, StatusUpdate, Theme, ThemeKind
from commitments.services import commitment_set_published
from metrics import rules
from programmes.api.serializers import CommitmentSerializer
from programmes.models import Programme, with_funding_and_programmes
from tests.helpers import streamed

pytestmark = pytest.mark.django_db
V1 = "/api/v1"


@pytest.fixture
def partner(api_for: Callable[[str], APIClient]) -> APIClient:
    return api_for(roles.PARTNER)


def _references(client: APIClient, **params: Any) -> set[str]:
    response = client.get(f"{V1}/commitments/", {"page_size": 200, **params})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] <= 200
    return {row["reference"] for row in body["results"]}


def _published_references(queryset: Any) -> set[str]:
    return set(queryset.filter(published=True).values_list("reference", flat=True))


def test_filters_select_what_they_name(partner: APIClient, unpublished: Commitment) -> None:
    lead = Organisation.objects.filter(involvements__role=OrganisationRole.LEAD).first()
    programme = Programme.objects.filter(commitments__isnull=False).first()
    assert lead is not None
    assert programme is not None
    cases = {
        "deal": ({"deal": "SD1"}, Commitment.objects.filter(deal__code="SD1")),
        "foundation": ({"foundation": "PEOPLE"}, Commitment.objects.filter(foundation__code="PEOPLE")),
        "area": ({"area": "HARP"}, Commitment.objects.filter(area__code="HARP")),
        "actor": ({"actor": "sector"}, Commitment.objects.filter(actor="sector")),
        "organisation": ({"organisation": str(lead.uuid)}, Commitment.objects.filter(organisations=lead)),
        "lead organisation": (
            {"organisation": str(lead.uuid), "organisation_role": "lead"},
            Commitment.objects.filter(involvements__organisation=lead, involvements__role="lead"),
        ),
        "programme": ({"programme": str(programme.uuid)}, Commitment.objects.filter(programmes=programme)),
        "status": ({"status": "in_progress"}, Commitment.objects.filter(delivery_status="in_progress")),
        "confidence none": ({"confidence": "none"}, Commitment.objects.filter(delivery_confidence="")),
        "overdue": ({"overdue": "true"}, Commitment.objects.filter(rules.overdue_condition(on=timezone.localdate()))),
        "target from": (
            {"target_date_from": "2021-01-01", "target_date_to": "2023-12-31"},
            Commitment.objects.filter(target_date__range=(date(2021, 1, 1), date(2023, 12, 31))),
        ),
        # The search page's rule (tests/test_search.py pins what it finds), which finds "genomes" in the text.
        "search": ({"search": "genomes"}, search.matching(Commitment.objects.all(), "genomes")),
        "top level": ({"top_level": "true", "deal": "SD2"}, Commitment.objects.filter(parent=None, deal__code="SD2")),
    }
    for name, (params, expected) in cases.items():
        wanted = _published_references(expected)
        assert wanted, f"the seeded data should exercise the {name} filter"
        assert _references(partner, **params) == wanted, name
    everything = _published_references(Commitment.objects.all())
    overdue = _references(partner, overdue="true")
    assert _references(partner, overdue="false") == everything - overdue


def test_updated_since(partner: APIClient) -> None:
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    cutoff = timezone.now()
    commitment.jobs_text = "Touched"
    commitment.save()
    assert _references(partner, updated_since=cutoff.isoformat()) == {commitment.reference}


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("status=finished", "status"),
        ("confidence=purple", "confidence"),
        ("organisation=not-a-uuid", "organisation"),
        ("overdue=maybe", "overdue"),
        ("target_date_from=2020-13-45", "target_date_from"),
        ("updated_since=yesterday", "updated_since"),
        ("updated_since=2063-03-04T10:07:51%2B24:00", "updated_since"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=ten", "page_size"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("ordering=text", "ordering"),
        ("ordering=", "ordering"),
        ("colour=blue", "colour"),
        ("status=delivered&status=in_progress", "status"),
        ("format=pdf", "format"),
        ("cursor=garbage!!", "cursor"),
        ("cursor=&page=0", "page"),
        ("cursor=&ordering=text", "ordering"),
        ("format=csv&page=0", "page"),
    ],
)
def test_bad_query_strings_are_refused_with_the_parameter_named(partner: APIClient, query: str, parameter: str) -> None:
    response = partner.get(f"{V1}/commitments/?{query}")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["status"] == 400
    assert body["code"] == "invalid"
    assert parameter in body["fields"], body
    assert all(isinstance(message, str) and message for message in body["fields"][parameter])


def test_detail_endpoints_take_no_query_parameters(partner: APIClient) -> None:
    response = partner.get(f"{V1}/commitments/SD2-IDEAS-HARP-G1/", {"status": "delivered"})
    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_page_numbers_and_a_page_past_the_end(partner: APIClient) -> None:
    first = partner.get(f"{V1}/commitments/", {"page_size": 10}).json()
    second = partner.get(first["next"]).json()
    assert first["count"] == Commitment.objects.published().count()
    assert len(first["results"]) == len(second["results"]) == 10
    assert not {r["reference"] for r in first["results"]} & {r["reference"] for r in second["results"]}
    assert partner.get(f"{V1}/commitments/", {"page": 999}).status_code == 404


def test_a_cursor_walk_sees_every_row_once_while_rows_are_added(
    partner: APIClient, user_with_role: Callable[..., Any]
) -> None:
    from tests.factories import CommitmentFactory

    seen: list[str] = []
    url: str | None = f"{V1}/commitments/?cursor=&page_size=25"
    added = False
    while url:
        body = partner.get(url).json()
        assert "count" not in body
        seen.extend(row["reference"] for row in body["results"])
        if not added:
            CommitmentFactory.create(reference="AAA-ADDED-BEHIND", published=True)
            CommitmentFactory.create(reference="ZZZ-ADDED-AHEAD", published=True)
            added = True
        url = body["next"]
    expected = set(Commitment.objects.published().values_list("reference", flat=True)) - {"AAA-ADDED-BEHIND"}
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    assert seen == sorted(seen)


def test_csv_export_streams_every_matching_row(partner: APIClient) -> None:
    response = partner.get(f"{V1}/commitments/", {"format": "csv", "deal": "SD2"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="commitments.csv"' in response["Content-Disposition"]
    text = streamed(response).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = Commitment.objects.published().filter(deal__code="SD2")
    assert len(rows) == expected.count()
    by_reference = {row["reference"]: row for row in rows}
    harp = by_reference["SD2-IDEAS-HARP-G1"]
    commitment = expected.get(reference="SD2-IDEAS-HARP-G1")
    assert harp["text"] == commitment.text
    assert harp["deal.code"] == "SD2"
    assert harp["foundation.code"] == "IDEAS"
    # One line per organisation, its name and role on the same line of their columns.
    organisations = next(row for row in rows if row["organisations.name"])
    involved = expected.get(reference=organisations["reference"]).involvements.all()
    lines = zip(
        organisations["organisations.name"].split("\n"), organisations["organisations.role"].split("\n"), strict=True
    )
    assert dict(lines) == {item.organisation.name: item.role for item in involved}


def test_xlsx_export(partner: APIClient) -> None:
    response = partner.get(f"{V1}/updates/", {"format": "xlsx"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(streamed(response)), read_only=True)
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0][:3] == ("uuid", "commitment", "as_of")
    assert not [name for name in rows[0] if name.startswith("workflow")]
    assert len(rows) - 1 == StatusUpdate.objects.published().count()


def test_exports_are_csv_or_xlsx_of_lists_only(partner: APIClient) -> None:
    assert partner.get(f"{V1}/commitments/SD2-IDEAS-HARP-G1/", {"format": "csv"}).status_code == 400
    response = partner.get(f"{V1}/commitments/", {"format": "csv", "status": "nope"})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_conditional_get_answers_304_until_the_data_changes(partner: APIClient, commit: Any) -> None:
    commitment = Commitment.objects.published().filter(organisations__isnull=False).first()
    assert commitment is not None
    url = f"{V1}/commitments/{commitment.reference}/"
    first = partner.get(url)
    etag = first["ETag"]
    assert etag.startswith('"')
    assert first["Cache-Control"] == "private, no-cache"
    again = partner.get(url, HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag
    assert not again.content
    listed = partner.get(f"{V1}/commitments/", {"deal": "SD2"})
    assert partner.get(f"{V1}/commitments/", {"deal": "SD2"}, HTTP_IF_NONE_MATCH=listed["ETag"]).status_code == 304
    # A change to a nested record (an organisation's name) changes the representation, so the ETag.
    organisation = commitment.organisations.first()
    assert organisation is not None
    organisation.name = organisation.name + " (renamed)"
    organisation.save()
    commit()
    changed = partner.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag


def test_status_update_etag_is_its_version_and_last_modified_is_not_guessed(partner: APIClient) -> None:
    update = StatusUpdate.objects.published().first()
    assert update is not None
    response = partner.get(f"{V1}/updates/{update.uuid}/")
    assert response["ETag"] == f'"{update.version}"'
    assert partner.get(f"{V1}/updates/{update.uuid}/", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304


def test_commitment_record(partner: APIClient) -> None:
    body = partner.get(f"{V1}/commitments/SD2-IDEAS-HARP-G1/").json()
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    assert body["uuid"] == str(commitment.uuid)
    assert body["source_quote"] == commitment.source_quote
    assert body["delivery"]["status"] == commitment.delivery_status
    assert {o["name"] for o in body["organisations"]} == set(commitment.organisations.values_list("name", flat=True))
    assert {f["key"] for f in body["funding"]} == set(commitment.funding.values_list("key", flat=True))
    assert "id" not in body
    assert "pk" not in body


def test_children_and_continued_commitments_are_named_by_reference(
    partner: APIClient, api_for: Callable[[str], APIClient], user_with_role: Callable[..., Any]
) -> None:
    parent = Commitment.objects.filter(children__isnull=False).distinct().first()
    assert parent is not None
    child = parent.children.order_by("reference").first()
    assert child is not None
    commitment_set_published(commitment=child, user=user_with_role(roles.REVIEWER), published=False)
    partner_view = partner.get(f"{V1}/commitments/{parent.reference}/").json()
    staff_view = api_for(roles.EDITOR).get(f"{V1}/commitments/{parent.reference}/").json()
    assert child.reference not in partner_view["children"]
    assert child.reference in staff_view["children"]
    continuing = Commitment.objects.filter(continues__isnull=False, continues__published=True, published=True).first()
    assert continuing is not None, "the seeded data has a published commitment continuing a published one"
    assert continuing.continues is not None
    body = partner.get(f"{V1}/commitments/{continuing.reference}/").json()
    assert body["continues"] == continuing.continues.reference


def test_approved_updates_of_a_commitment_latest_first(partner: APIClient) -> None:
    commitment = Commitment.objects.filter(updates__state="approved", published=True).first()
    assert commitment is not None
    body = partner.get(f"{V1}/commitments/{commitment.reference}/updates/").json()
    expected = list(commitment.updates.approved().latest_first().values_list("uuid", flat=True))
    assert [row["uuid"] for row in body] == [str(uuid) for uuid in expected]


def test_glossary_publishes_the_definitions_the_tracker_uses(partner: APIClient) -> None:
    body = partner.get(f"{V1}/glossary/").json()
    assert {term["value"]: term["meaning"] for term in body["statuses"]} == dict(STATUS_MEANINGS)
    assert {term["value"]: term["meaning"] for term in body["confidences"]} == dict(CONFIDENCE_MEANINGS)


def test_metrics_for_one_scope_and_quarter(partner: APIClient, quarterly_figures: list[Any]) -> None:
    from metrics.models import RecomputeMarker

    # Without ``population``, the key commitments' figures, as the dashboards open on.
    row = next(
        r for r in quarterly_figures if r.scope_type == "deal" and r.scope_key == "SD2" and r.population == "key"
    )
    body = partner.get(f"{V1}/metrics/", {"scope_type": "deal", "scope_key": "SD2", "quarter": "2019-20-Q1"}).json()
    assert body["count"] == 1
    figures = body["results"][0]
    assert figures["commitments"] == row.commitments
    assert figures["delivered"] == row.delivered
    assert figures["quarter"] == "2019-20-Q1"
    assert figures["locked"] is False
    assert figures["updating"] is False
    assert figures["computed_at"]
    RecomputeMarker.objects.create(
        commitment=Commitment.objects.get(reference="SD2-IDEAS-HARP-G1"), from_date=date(2019, 4, 1)
    )
    body = partner.get(f"{V1}/metrics/", {"scope_type": "deal", "scope_key": "SD2"}).json()
    assert body["results"][0]["updating"] is True
    assert partner.get(f"{V1}/metrics/", {"quarter": "2019 Q1"}).status_code == 400
    assert partner.get(f"{V1}/metrics/", {"scope_type": "galaxy"}).status_code == 400


def test_metrics_give_the_quarters_updates_freshness_and_milestones_overdue(
    partner: APIClient, user_with_role: Callable[..., Any]
) -> None:
    from commitments.periods import Quarter
    from metrics.services import markers_process, metrics_recompute
    from tests.helpers import milestone_write

    commitment = Commitment.objects.get(reference="SD2-PEOPLE-G1")
    editor = user_with_role(roles.EDITOR)
    milestone_write(commitment=commitment, due_on=date(2019, 5, 1), user=editor)  # overdue at the quarter's end
    milestone_write(commitment=commitment, due_on=date(2019, 5, 1), done_on=date(2019, 6, 1), user=editor)
    markers_process()
    metrics_recompute(quarters=[Quarter(2019, 1)])
    query = {"scope_type": "tracker", "scope_key": "all", "quarter": "2019-20-Q1", "population": "all"}
    figures = partner.get(f"{V1}/metrics/", query).json()["results"][0]
    assert figures["milestones_overdue"] == 1
    assert 0 <= figures["updates_done"] <= figures["updates_due"] <= figures["commitments"]
    assert figures["updates_due"] > 0
    share = rules.freshness(updates_done=figures["updates_done"], updates_due=figures["updates_due"])
    assert share is not None
    assert figures["freshness"] == str(share.quantize(Decimal("0.0001")))


def test_metrics_do_not_count_an_unpublished_commitment(partner: APIClient, unpublished: Commitment) -> None:
    from commitments.periods import Quarter
    from metrics.services import metrics_recompute

    metrics_recompute(quarters=[Quarter(2019, 1)])
    published = Commitment.objects.published()
    for scope_type, scope_key, expected in [
        ("tracker", "all", published.count()),
        ("deal", "SD2", published.filter(deal__code="SD2").count()),
        ("foundation", unpublished.foundation.code, published.filter(foundation=unpublished.foundation).count()),
    ]:
        # Every kind of commitment (population all), as the counts above read them.
        query = {"scope_type": scope_type, "scope_key": scope_key, "quarter": "2019-20-Q1", "population": "all"}
        body = partner.get(f"{V1}/metrics/", query).json()
        assert body["results"][0]["commitments"] == expected, scope_type
    assert Commitment.objects.filter(deal__code="SD2").count() == published.filter(deal__code="SD2").count() + 1


def test_quarters_say_whether_they_are_signed_off(
    partner: APIClient, quarterly_figures: list[Any], user_with_role: Callable[..., Any], commit: Callable[[], None]
) -> None:
    from commitments.periods import Quarter
    from metrics.services import quarter_lock

    assert partner.get(f"{V1}/quarters/2019-20-Q1/").json()["locked"] is False
    quarter_lock(quarter=Quarter(2019, 1), user=user_with_role(roles.REVIEWER))
    commit()  # the sign-off moves the data stamp, so the answer kept before it is not given again
    body = partner.get(f"{V1}/quarters/2019-20-Q1/").json()
    assert body == {**body, "label": "2019-20 Q1", "start": "2019-04-01", "end": "2019-06-30", "locked": True}
    assert partner.get(f"{V1}/quarters/2019-Q1/").status_code == 404


@pytest.mark.parametrize("role", [roles.PARTNER, roles.REVIEWER])
def test_commitment_records_are_what_the_documented_serializer_gives(
    role: str, api_for: Callable[[str], APIClient], unpublished: Commitment, user_with_role: Callable[..., Any]
) -> None:
    """The list and detail build records from plain rows; they must equal CommitmentSerializer's, field for field."""
    # The seeded data tags no themes; tag some, so that themes are compared too.
    harp = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    harp.themes.add(*Theme.objects.filter(kind=ThemeKind.FOUNDATION)[:2])
    parent = Commitment.objects.filter(children__isnull=False).first()
    assert parent is not None
    commitment_set_published(
        commitment=parent.children.order_by("reference")[0], user=user_with_role(roles.REVIEWER), published=False
    )
    client = api_for(role)
    staff = role != roles.PARTNER
    visible = Commitment.objects.all() if staff else Commitment.objects.published()
    expected = CommitmentSerializer(
        with_funding_and_programmes(
            rules.with_overdue(visible.with_details(published_only=not staff), on=timezone.localdate()).order_by(
                "reference"
            )
        ),
        many=True,
    ).data
    listed = client.get(f"{V1}/commitments/", {"page_size": 200}).json()["results"]
    assert json.loads(JSONRenderer().render(expected)) == listed
    assert listed[0] == client.get(f"{V1}/commitments/{listed[0]['reference']}/").json()
    assert any(record["themes"] for record in listed)
    assert any(record["children"] for record in listed)
    assert any(record["continues"] for record in listed)
    assert any(amount["funder"] for record in listed for amount in record["funding"])
    # An amount several organisations give jointly names them all, in the record as in /funding/.
    joint = [amount for record in listed for amount in record["funding"] if amount["joint_funders"]]
    assert joint
    for amount in joint:
        assert amount["joint_funders"] == client.get(f"{V1}/funding/{amount['key']}/").json()["joint_funders"]
    assert all(amount["funder"] is None for amount in joint)
    assert any(record["programmes"] for record in listed)
    assert (unpublished.reference in {record["reference"] for record in listed}) == staff
