"""Bad input is refused with a message staff understand, through the admin, and nothing is saved."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from commitments import roles
from commitments.models import Commitment, StatusUpdate
from commitments.services import commitment_set_published
from programmes.models import FundingAmount
from programmes.services import funding_amount_save
from tests.admin_forms import change_form_data

pytestmark = pytest.mark.django_db


def _amount_add_data(**overrides: object) -> dict[str, object]:
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    data: dict[str, object] = {
        "key": "TEST-AMOUNT-1",
        "amount_text": "£10m",
        "qualifier": "exact",
        "low": "10000000",
        "high": "10000000",
        "nature": "new_money",
        "commitment": commitment.pk,
        "source_document": commitment.source_document_id,
        "source_quote": "backed by up to £79m",
    }
    data.update(overrides)
    return data


def test_amount_with_low_above_high_is_refused(client_for):
    client = client_for(None)
    response = client.post(reverse("admin:programmes_fundingamount_add"), _amount_add_data(low="20000000"))
    assert response.status_code == 200
    assert "is below the lower bound" in response.content.decode()
    assert not FundingAmount.objects.filter(key="TEST-AMOUNT-1").exists()


def test_negative_money_is_refused(client_for):
    client = client_for(None)
    response = client.post(reverse("admin:programmes_fundingamount_add"), _amount_add_data(low="-5", high="10"))
    assert "An amount of money cannot be negative." in response.content.decode()
    assert not FundingAmount.objects.filter(key="TEST-AMOUNT-1").exists()


def test_amount_with_sound_bounds_is_saved_with_who_made_it(client_for):
    client = client_for(None)
    response = client.post(reverse("admin:programmes_fundingamount_add"), _amount_add_data())
    assert response.status_code == 302
    amount = FundingAmount.objects.get(key="TEST-AMOUNT-1")
    assert amount.low == Decimal("10000000")
    assert amount.created_by is not None
    assert amount.history.first().history_user == amount.created_by


def test_part_of_cycle_is_refused(client_for, user_with_role):
    outer = FundingAmount.objects.exclude(commitment=None).filter(part_of=None).first()
    assert outer is not None
    inner = FundingAmount.objects.exclude(commitment=None).exclude(pk=outer.pk).filter(part_of=None).first()
    assert inner is not None
    inner.part_of = outer
    funding_amount_save(amount=inner, user=user_with_role(roles.REVIEWER))
    client = client_for(None)
    url = reverse("admin:programmes_fundingamount_change", args=[outer.pk])
    data = change_form_data(client.get(url), part_of=inner.pk)
    response = client.post(url, data)
    assert response.status_code == 200
    assert "“part of” links cannot go round in a circle" in response.content.decode()
    outer.refresh_from_db()
    assert outer.part_of_id is None


def test_progress_outside_0_to_100_is_refused(client_for):
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    client = client_for(None)
    data = {
        "commitment": commitment.pk,
        "as_of": "2019-03-31",
        "status": "in_progress",
        "progress": "150",
        "narrative": "Going well.",
        "state": "draft",
    }
    response = client.post(reverse("admin:commitments_statusupdate_add"), data)
    assert "Progress is a percentage: it cannot be above 100." in response.content.decode()
    assert not StatusUpdate.objects.filter(narrative="Going well.").exists()


def test_unknown_status_is_refused(client_for):
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    client = client_for(None)
    data = {
        "commitment": commitment.pk,
        "as_of": "2019-03-31",
        "status": "nearly_there",
        "narrative": "Unknown status.",
        "state": "draft",
    }
    response = client.post(reverse("admin:commitments_statusupdate_add"), data)
    assert "Select a valid choice. nearly_there is not one of the available choices." in response.content.decode()
    assert not StatusUpdate.objects.filter(narrative="Unknown status.").exists()


def test_parent_from_another_deal_is_refused(client_for):
    sd1 = Commitment.objects.filter(deal__code="SD1").first()
    assert sd1 is not None
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    client = client_for(None)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    data = change_form_data(client.get(url), parent=sd1.pk)
    response = client.post(url, data)
    assert response.status_code == 200
    assert "a sub-item must belong to the same deal" in response.content.decode()
    commitment.refresh_from_db()
    assert commitment.parent_id is None


def test_area_of_another_foundation_is_refused(client_for):
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    other_area = Commitment.objects.get(reference="SD2-BUSENV-REG-G1").area
    assert other_area is not None
    client = client_for(None)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    response = client.post(url, change_form_data(client.get(url), area=other_area.pk))
    assert "not to the chosen foundation" in response.content.decode()
    commitment.refresh_from_db()
    assert commitment.area is not None
    assert commitment.area.code == "HARP"


def test_a_sound_edit_through_the_admin_is_saved_and_audited(client_for, user_with_role):
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    # A published deadline moves by a request (commitments.delivery_plan): its words are corrected while withdrawn.
    commitment_set_published(commitment=commitment, user=user_with_role(roles.REVIEWER), published=False)
    client = client_for(None)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    response = client.post(url, change_form_data(client.get(url), target_date_text="by March 2021"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    commitment.refresh_from_db()
    assert commitment.target_date_text == "by March 2021"
    latest = commitment.history.first()
    assert latest.history_user is not None
    # The words and what they read as: a deadline, the last day of March 2021 (commitments.dates).
    assert sorted(latest.diff_against(latest.prev_record).changed_fields) == [
        "target_date",
        "target_date_text",
        "timing_kind",
    ]
    assert commitment.target_date == date(2021, 3, 31)
