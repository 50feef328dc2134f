"""Who may do what in the admin: every view, every role, and the holes that were closed."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from knox.models import AuthToken

from commitments import roles
from commitments.models import Commitment, Organisation
from lsis.admin import MISSING_VERSION
from programmes.models import FundingAmount
from tests.admin_forms import change_form_data

pytestmark = pytest.mark.django_db

REFERENCE = "SD2-IDEAS-HARP-G1"


def _change_url(record: Any) -> str:
    opts = record._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[record.pk])


def _revert_url(record: Any) -> str:
    opts = record._meta
    latest = record.history.first()
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_simple_history", args=[record.pk, latest.history_id])


# --- the history page never writes -------------------------------------------------------------------


@pytest.mark.parametrize("role", [roles.BOARD_MEMBER, roles.EDITOR, roles.REVIEWER, roles.ADMINISTRATOR, None])
@pytest.mark.parametrize(
    ("model", "lookup", "field"),
    [(Commitment, {"reference": REFERENCE}, "text"), (Organisation, {"name": "Wellcome Trust"}, "name")],
    ids=["commitment", "organisation"],
)
def test_reverting_through_the_history_page_is_refused_for_everyone(client_for, role, model, lookup, field):
    record = model.objects.get(**lookup)
    client = client_for(role)
    superuser = client_for(None)
    # The model's fields as the change form sends them, with the current version: what a revert posts.
    data = change_form_data(superuser.get(_change_url(record)), **{field: "Rewritten through the history page"})
    versions = record.history.count()

    page = client.get(_revert_url(record))
    response = client.post(_revert_url(record), data)

    assert page.status_code == 200  # those who may view still read the old version
    assert 'name="_save"' not in page.content.decode()
    assert response.status_code == 403
    record.refresh_from_db()
    assert getattr(record, field) != "Rewritten through the history page"
    assert record.history.count() == versions


@pytest.mark.parametrize("role", [roles.BOARD_MEMBER, roles.REVIEWER])
def test_the_history_list_stays_readable_and_offers_no_revert(client_for, role):
    commitment = Commitment.objects.get(reference=REFERENCE)
    url = reverse("admin:commitments_commitment_history", args=[commitment.pk])
    page = client_for(role).get(url)
    assert page.status_code == 200
    assert "View history" in page.content.decode()  # not "Change history", even for those who may change


# --- no save without the version the user opened ----------------------------------------------------------


def test_a_change_without_the_version_it_was_read_at_is_refused(client_for, user_with_role):
    commitment = Commitment.objects.get(reference=REFERENCE)
    client = client_for(roles.REVIEWER)
    url = _change_url(commitment)
    data = change_form_data(client.get(url), text="An edit that did not say which version it changes.")
    # Someone else saves in between; the stale form then arrives without its version.
    commitment.refresh_from_db()
    commitment.jobs_text = "changed meanwhile"
    commitment.modified_by = user_with_role(roles.REVIEWER)
    commitment.save()
    del data["version"]

    response = client.post(url, data)

    assert response.status_code == 200
    assert MISSING_VERSION in response.context["adminform"].form.non_field_errors()
    commitment.refresh_from_db()
    assert commitment.jobs_text == "changed meanwhile"
    assert commitment.text != "An edit that did not say which version it changes."


def test_a_change_with_its_version_is_saved(client_for):
    commitment = Commitment.objects.get(reference=REFERENCE)
    client = client_for(roles.REVIEWER)
    url = _change_url(commitment)
    response = client.post(url, change_form_data(client.get(url), jobs_text="Two hundred jobs"))
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert commitment.jobs_text == "Two hundred jobs"


# --- editors and published commitments ------------------------------------------------------------------


def _involvement_rows(response: Any, organisation: Organisation) -> dict[str, Any]:
    """The change form's data with one more organisation involved (the involvement inline's management data)."""
    data = change_form_data(response)
    prefix = response.context["inline_admin_formsets"][0].formset.prefix
    total = int(data[f"{prefix}-TOTAL_FORMS"])
    data.update(
        {
            f"{prefix}-TOTAL_FORMS": str(total + 1),
            f"{prefix}-{total}-organisation": organisation.pk,
            f"{prefix}-{total}-role": "lead",
        }
    )
    return data


@pytest.mark.parametrize("published", [True, False], ids=["published", "unpublished"])
def test_editors_change_the_organisations_of_an_unpublished_commitment_only(client_for, published):
    commitment = Commitment.objects.get(reference=REFERENCE)
    commitment.published = published
    commitment.save()
    organisation = Organisation.objects.exclude(involvements__commitment=commitment).first()
    editor = client_for(roles.EDITOR)
    url = _change_url(commitment)
    page = editor.get(url)
    # The rows are shown read-only on a published commitment: no field to add an organisation.
    involvements = page.context["inline_admin_formsets"][0]
    assert involvements.has_add_permission is not published
    data = _involvement_rows(client_for(roles.REVIEWER).get(url), organisation)

    response = editor.post(url, data)

    assert response.status_code == (403 if published else 302)
    assert commitment.involvements.filter(organisation=organisation).exists() is not published


def _funding_of(*, published: bool) -> FundingAmount:
    funding = FundingAmount.objects.filter(commitment__isnull=False).select_related("commitment").first()
    commitment = funding.commitment
    if commitment.published != published:
        commitment.published = published
        commitment.save()
    return funding


def test_editors_cannot_change_the_funding_of_a_published_commitment(client_for):
    funding = _funding_of(published=True)
    editor = client_for(roles.EDITOR)
    data = change_form_data(client_for(roles.REVIEWER).get(_change_url(funding)), amount_text="£1")

    page = editor.get(_change_url(funding))
    response = editor.post(_change_url(funding), data)

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert response.status_code == 403
    funding.refresh_from_db()
    assert funding.amount_text != "£1"


def test_editors_change_the_funding_of_an_unpublished_commitment_but_cannot_move_it_to_a_published_one(client_for):
    funding = _funding_of(published=False)
    published = Commitment.objects.filter(published=True).exclude(pk=funding.commitment_id).first()
    editor = client_for(roles.EDITOR)
    url = _change_url(funding)

    moved = editor.post(url, change_form_data(editor.get(url), commitment=published.pk, amount_text="£2"))
    assert moved.status_code == 200
    assert "commitment" in moved.context["adminform"].form.errors
    funding.refresh_from_db()
    assert (funding.commitment_id, funding.amount_text) != (published.pk, "£2")

    assert editor.post(url, change_form_data(editor.get(url), amount_text="£3")).status_code == 302
    funding.refresh_from_db()
    assert funding.amount_text == "£3"


def test_editors_cannot_add_funding_to_a_published_commitment(client_for):
    published = Commitment.objects.filter(published=True).first()
    before = FundingAmount.objects.count()
    response = client_for(roles.EDITOR).post(
        reverse("admin:programmes_fundingamount_add"),
        {"key": "test-funding", "amount_text": "£5m", "commitment": published.pk, "nature": "new"},
    )
    assert response.status_code == 200
    assert "commitment" in response.context["adminform"].form.errors
    assert FundingAmount.objects.count() == before


# --- token expiry ---------------------------------------------------------------------------------------


def test_the_admin_refuses_a_token_that_outlives_the_maximum(client_for, user_with_role):
    partner = user_with_role(roles.PARTNER)
    response = client_for(None).post(reverse("admin:knox_authtoken_add"), {"user": partner.pk, "expires_days": 3000000})
    assert response.status_code == 200
    assert "3650" in str(response.context["adminform"].form.errors["expires_days"])
    assert not AuthToken.objects.filter(user=partner).exists()


@pytest.mark.parametrize("days", ["3651", "3000000", "100000000000", "-1"])
def test_issue_token_refuses_an_expiry_beyond_the_maximum(user_with_role, days):
    user = user_with_role(roles.PARTNER, username="acme")
    with pytest.raises(CommandError, match="3650"):
        call_command("issue_token", "acme", "--expires-days", days, stdout=StringIO(), stderr=StringIO())
    assert not AuthToken.objects.filter(user=user).exists()


def test_the_longest_allowed_token_is_issued(user_with_role):
    user = user_with_role(roles.PARTNER, username="acme")
    call_command("issue_token", "acme", "--expires-days", "3650", stdout=StringIO(), stderr=StringIO())
    assert AuthToken.objects.get(user=user).expiry is not None
