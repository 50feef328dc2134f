"""The Django admin shows the Sector Deal data usefully, to the right people, without N+1 queries."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments import roles
from commitments.models import Commitment, Organisation, Theme
from programmes.models import FundingAmount, Programme
from tests.admin_forms import change_form_data

pytestmark = pytest.mark.django_db


def _changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


# The seed writes none of these: test_admin_access opens their change pages on records it makes for them.
NOT_SEEDED = {
    "axes.accessattempt",
    "axes.accessfailurelog",
    "axes.accesslog",
    "django_celery_beat.clockedschedule",
    "django_celery_beat.crontabschedule",
    "django_celery_beat.intervalschedule",
    "django_celery_beat.periodictask",
    "django_celery_beat.solarschedule",
    "knox.authtoken",
    "commitments.baselinechange",
    "commitments.partnermembership",
    "commitments.proposal",
    "core.message",
    "core.reminder",
    "metrics.quartermetric",
    "metrics.release",
    "metrics.reportingquarter",
}


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda model: model.__name__)
def test_every_model_lists_and_opens_for_staff(client_for, model):
    client = client_for(None)
    assert client.get(_changelist(model)).status_code == 200
    record = model._default_manager.first()
    if model._meta.label_lower in NOT_SEEDED:
        assert record is None, f"{model._meta.label_lower} is seeded now: open its record here too"
        return
    assert record is not None, f"no {model._meta.label_lower} to open"
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[record.pk])
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "deal__id__exact={sd2}",
        "actor__exact=sector",
        "delivery_status__exact=in_progress",
        "delivery_confidence__exact=green",
        "foundation__id__exact={ideas}",
        "organisations__id__exact={wellcome}",
        "q=Wellcome",
    ],
)
def test_commitment_filters_and_search(client_for, query):
    ids = {
        "sd2": Commitment.objects.filter(deal__code="SD2").values_list("deal_id", flat=True).first(),
        "ideas": Theme.objects.get(code="IDEAS").pk,
        "wellcome": Organisation.objects.named("Wellcome Trust").get().pk,
    }
    response = client_for(roles.BOARD_MEMBER).get(_changelist(Commitment) + "?" + query.format(**ids))
    assert response.status_code == 200
    assert "errornote" not in response.content.decode()


def test_area_filter_shows_exactly_that_areas_commitments(client_for):
    harp = Theme.objects.get(code="HARP")
    response = client_for(roles.BOARD_MEMBER).get(_changelist(Commitment) + f"?area__id__exact={harp.pk}")
    shown = {row.reference for row in response.context["cl"].result_list}
    assert shown == set(Commitment.objects.filter(area=harp).values_list("reference", flat=True))
    assert "SD2-IDEAS-HARP-G1" in shown


def test_search_by_an_alias_finds_the_organisations_commitments(client_for):
    response = client_for(roles.BOARD_MEMBER).get(_changelist(Commitment) + "?q=MHRA")
    shown = {row.reference for row in response.context["cl"].result_list}
    assert "SD2-BUSENV-REG-G1" in shown


def test_commitment_page_shows_source_funding_and_organisations(client_for):
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    page = (
        client_for(roles.BOARD_MEMBER)
        .get(reverse("admin:commitments_commitment_change", args=[commitment.pk]))
        .content.decode()
    )
    assert "up to £79m" in page
    assert "Industrial Strategy Challenge Fund" in page
    assert commitment.source_quote[:40] in page


def test_commitment_list_runs_the_same_queries_for_few_and_many_rows(client_for):
    client = client_for(roles.BOARD_MEMBER)
    harp = Commitment.objects.filter(area__code="HARP").first()
    assert harp is not None
    few = harp.area_id
    with CaptureQueriesContext(connection) as small:
        client.get(_changelist(Commitment) + f"?area__id__exact={few}")
    with CaptureQueriesContext(connection) as large:
        client.get(_changelist(Commitment))
    assert Commitment.objects.count() > 50  # a full page
    assert len(large) == len(small)


@pytest.mark.parametrize("model", [Organisation, Programme, FundingAmount])
def test_other_lists_do_not_grow_queries_with_rows(client_for, model):
    client = client_for(None)
    with CaptureQueriesContext(connection) as first:
        client.get(_changelist(model) + "?p=1")
    with CaptureQueriesContext(connection) as searched:
        client.get(_changelist(model) + "?q=zzzz-no-match")
    # An empty result and a full page differ by at most the count query the admin skips when empty.
    assert len(first) - len(searched) <= 1


def test_board_members_read_but_cannot_change(client_for):
    client = client_for(roles.BOARD_MEMBER)
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.post(url, {"text": "Changed"}).status_code == 403
    assert client.get(reverse("admin:commitments_commitment_add")).status_code == 403
    commitment.refresh_from_db()
    assert commitment.text != "Changed"


def test_editors_cannot_add_organisations_but_reviewers_can(client_for):
    url = reverse("admin:commitments_organisation_add")
    assert client_for(roles.EDITOR).get(url).status_code == 403
    assert client_for(roles.REVIEWER).get(url).status_code == 200


def test_partners_have_no_admin(client_for):
    response = client_for(roles.PARTNER).get(_changelist(Commitment))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_history_shows_who_changed_what(client_for, user_with_role):
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    commitment.published = False  # editors change unpublished commitments
    commitment.save()
    client = client_for(roles.EDITOR)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    response = client.post(url, change_form_data(client.get(url), jobs="650", jobs_text="650 jobs"))
    assert response.status_code == 302
    history = client.get(reverse("admin:commitments_commitment_history", args=[commitment.pk])).content.decode()
    editor = commitment.history.first().history_user
    assert editor.username in history
    assert "Loaded from fixtures by seed" in history
    # The history list shows what changed, field by field.
    assert "650 jobs" in history


def test_organisation_autocomplete_matches_aliases(client_for):
    client = client_for(None)
    response = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "commitments",
            "model_name": "commitmentorganisation",
            "field_name": "organisation",
            "term": "MHRA",
        },
    )
    assert response.status_code == 200
    names = [result["text"] for result in response.json()["results"]]
    assert names == ["Medicines and Healthcare Products Regulatory Agency"]


def _commitment_picker(client, term):
    response = client.get(
        "/admin/autocomplete/",
        {"app_label": "commitments", "model_name": "statusupdate", "field_name": "commitment", "term": term},
    )
    assert response.status_code == 200
    return [result["text"] for result in response.json()["results"]]


def test_the_commitment_picker_shows_reference_and_text_and_finds_by_either(client_for):
    client = client_for(roles.EDITOR)
    harp = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    label = next(text for text in _commitment_picker(client, "SD2-IDEAS-HARP-G1") if text.startswith(harp.reference))
    assert label.startswith(f"{harp.reference}: {' '.join(harp.text.split())[:40]}")
    assert len(label) <= len(harp.reference) + 2 + 80
    # A word of the text finds it too, and so do parts of a reference.
    word = max((word for word in harp.text.split() if word.isalpha()), key=len)
    assert any(text.startswith(f"{harp.reference}: ") for text in _commitment_picker(client, word))
    found = _commitment_picker(client, "HARP G1")
    assert [text.split(":")[0] for text in found] == ["SD1-IDEAS-HARP-G1", "SD2-IDEAS-HARP-G1"]


def test_the_commitment_picker_lists_the_first_deal_first_then_by_reference(client_for):
    references = [text.split(":")[0] for text in _commitment_picker(client_for(roles.EDITOR), "HARP")]
    deals = [Commitment.objects.get(reference=reference).deal.published_on for reference in references]
    assert deals == sorted(deals)
    for published in set(deals):
        of_deal = [ref for ref, day in zip(references, deals, strict=True) if day == published]
        assert of_deal == sorted(of_deal)


def test_a_chosen_commitment_is_shown_with_its_text_on_the_update_form(client_for):
    harp = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    url = reverse("admin:commitments_statusupdate_add")
    page = client_for(roles.EDITOR).get(url, {"commitment": harp.pk}).content.decode()
    assert f"selected>{harp.reference}: {' '.join(harp.text.split())[:30]}" in page


def test_pages_say_when_they_are_not_the_live_service(client_for):
    page = client_for(roles.BOARD_MEMBER).get(reverse("admin:index")).content.decode()
    assert "Test environment." in page
    assert "LSIS Tracker" in page
