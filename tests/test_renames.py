"""A renamed deal, theme, organisation or programme relabels its figures at once, not at the nightly rebuild.

The figures are stored per group and labelled with the group's name; the breakdowns and the API show
that label. Each rename below goes through the admin's change form, as staff make it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from commitments import roles
from commitments.models import Document, Organisation, OrganisationRole, Theme
from commitments.periods import Quarter
from metrics.models import Basis, QuarterMetric, ScopeType
from metrics.services import metrics_recompute
from programmes.models import Programme
from tests.admin_forms import change_form_data

pytestmark = pytest.mark.django_db

QUARTER = Quarter(2019, 4)
NEW_NAME = "Renamed in the rename test"


@pytest.fixture
def figures():
    metrics_recompute(quarters=[QUARTER])


def _labels(scope_type: str, key: str) -> set[str]:
    return set(
        QuarterMetric.objects.filter(scope_type=scope_type, scope_key=key, basis=Basis.LIVE).values_list(
            "scope_label", flat=True
        )
    )


def _rename(client: Any, model: str, pk: int, field: str = "name") -> None:
    url = reverse(f"admin:{model}_change", args=[pk])
    response = client.post(url, change_form_data(client.get(url), **{field: NEW_NAME}))
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""


def _api_label(client: Any, scope_type: str, key: str) -> str:
    code = QUARTER.label.replace(" Q", "-Q")
    rows = client.get("/api/v1/metrics/", {"quarter": code, "scope_type": scope_type}).json()["results"]
    return next(row["scope_label"] for row in rows if row["scope_key"] == key)


def test_a_renamed_lead_organisation_relabels_its_figures(figures, client_for, api_for):
    organisation = Organisation.objects.filter(involvements__role=OrganisationRole.LEAD).order_by("pk").first()
    assert organisation is not None
    key = str(organisation.uuid)
    assert _labels(ScopeType.LEAD_ORGANISATION, key) == {organisation.name}
    _rename(client_for(roles.REVIEWER), "commitments_organisation", organisation.pk)
    assert _labels(ScopeType.LEAD_ORGANISATION, key) == {NEW_NAME}
    assert _api_label(api_for(roles.BOARD_MEMBER), ScopeType.LEAD_ORGANISATION, key) == NEW_NAME
    organisation.refresh_from_db()
    assert organisation.history.latest().history_change_reason == "Organisation edited"


# Themes and documents are changed by superusers only (tests/test_admin_access.py).
def test_a_renamed_area_relabels_its_figures(figures, admin_client):
    area = Theme.objects.areas().filter(area_commitments__isnull=False).order_by("pk").first()
    assert area is not None
    assert _labels(ScopeType.AREA, area.code) == {area.name}
    _rename(admin_client, "commitments_theme", area.pk)
    assert _labels(ScopeType.AREA, area.code) == {NEW_NAME}


def test_a_renamed_programme_relabels_its_figures(figures, client_for):
    programme = Programme.objects.filter(commitments__isnull=False).order_by("pk").first()
    assert programme is not None
    key = str(programme.uuid)
    assert _labels(ScopeType.PROGRAMME, key) == {programme.name}
    _rename(client_for(roles.REVIEWER), "programmes_programme", programme.pk)
    assert _labels(ScopeType.PROGRAMME, key) == {NEW_NAME}


def test_a_deal_given_another_title_relabels_its_figures(figures, admin_client):
    deal = Document.objects.filter(commitments__isnull=False).order_by("pk").first()
    assert deal is not None
    assert _labels(ScopeType.DEAL, deal.code) == {deal.title}
    _rename(admin_client, "commitments_document", deal.pk, field="title")
    assert _labels(ScopeType.DEAL, deal.code) == {NEW_NAME}


def test_figures_signed_off_keep_the_name_they_were_signed_off_with(figures, client_for):
    organisation = Organisation.objects.filter(involvements__role=OrganisationRole.LEAD).order_by("pk").first()
    assert organisation is not None
    key, before = str(organisation.uuid), organisation.name
    signed = QuarterMetric.objects.filter(scope_type=ScopeType.LEAD_ORGANISATION, scope_key=key).first()
    assert signed is not None
    signed.pk, signed.basis = None, Basis.SIGNED_OFF  # as quarter_lock freezes them
    signed.save()
    _rename(client_for(roles.REVIEWER), "commitments_organisation", organisation.pk)
    frozen = QuarterMetric.objects.filter(scope_type=ScopeType.LEAD_ORGANISATION, scope_key=key, basis=Basis.SIGNED_OFF)
    assert set(frozen.values_list("scope_label", flat=True)) == {before}


def test_only_those_who_may_change_an_organisation_rename_it(client_for):
    organisation = Organisation.objects.order_by("pk").first()
    assert organisation is not None
    url = reverse("admin:commitments_organisation_change", args=[organisation.pk])
    response = client_for(roles.BOARD_MEMBER).post(url, {"name": NEW_NAME})
    assert response.status_code == 403
    organisation.refresh_from_db()
    assert organisation.name != NEW_NAME
