"""Every role against every staff action in the admin, including the refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from commitments import roles
from commitments.models import Commitment, Organisation, StatusUpdate, UpdateState
from commitments.services import update_create, update_submit
from tests.admin_forms import change_form_data

pytestmark = pytest.mark.django_db

ROLES = [roles.EDITOR, roles.REVIEWER, roles.BOARD_MEMBER, roles.ADMINISTRATOR, roles.PARTNER]


def _unpublished_commitment() -> Commitment:
    commitment = Commitment.objects.get(reference="SD2-PEOPLE-G4")
    commitment.published = False
    commitment.save()
    return commitment


def _someone_elses_update(user_with_role: Callable[..., Any], *, submitted: bool) -> StatusUpdate:
    author = user_with_role(roles.EDITOR)
    update = update_create(
        commitment=Commitment.objects.get(reference="SD2-PEOPLE-G3"),
        author=author,
        as_of=date(2019, 6, 30),
        status="in_progress",
        narrative="Written by a colleague.",
    )
    return update_submit(update=update, user=author) if submitted else update


def view_commitments(client: Client, user_with_role: Callable[..., Any]) -> bool:
    return client.get(reverse("admin:commitments_commitment_changelist")).status_code == 200


def _edit(client: Client, commitment: Commitment) -> bool:
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    page = client.get(url)
    if page.status_code != 200 or 'name="_save"' not in page.content.decode():
        return False
    client.post(url, change_form_data(page, jobs_text="Edited"))
    commitment.refresh_from_db()
    return commitment.jobs_text == "Edited"


def edit_unpublished_commitment(client: Client, user_with_role: Callable[..., Any]) -> bool:
    return _edit(client, _unpublished_commitment())


def edit_published_commitment(client: Client, user_with_role: Callable[..., Any]) -> bool:
    return _edit(client, Commitment.objects.get(reference="SD2-PEOPLE-G4"))


def publish_commitment(client: Client, user_with_role: Callable[..., Any]) -> bool:
    commitment = _unpublished_commitment()
    client.post(
        reverse("admin:commitments_commitment_changelist"),
        {"action": "publish_selected", "_selected_action": [commitment.pk]},
    )
    commitment.refresh_from_db()
    return commitment.published


def write_update(client: Client, user_with_role: Callable[..., Any]) -> bool:
    commitment = Commitment.objects.get(reference="SD2-PEOPLE-G3")
    client.post(
        reverse("admin:commitments_statusupdate_add"),
        {
            "commitment": commitment.pk,
            "as_of": "2019-06-30",
            "status": "in_progress",
            "narrative": "Permission matrix.",
            "evidence_links-TOTAL_FORMS": "0",
            "evidence_links-INITIAL_FORMS": "0",
        },
    )
    return StatusUpdate.objects.filter(narrative="Permission matrix.").exists()


def submit_update(client: Client, user_with_role: Callable[..., Any]) -> bool:
    update = _someone_elses_update(user_with_role, submitted=False)
    client.post(reverse("admin:commitments_statusupdate_transition", args=[update.pk, "submit"]))
    update.refresh_from_db()
    return update.state == UpdateState.SUBMITTED


def approve_update(client: Client, user_with_role: Callable[..., Any]) -> bool:
    update = _someone_elses_update(user_with_role, submitted=True)
    client.post(reverse("admin:commitments_statusupdate_transition", args=[update.pk, "approve"]))
    update.refresh_from_db()
    return update.state == UpdateState.APPROVED


def return_update(client: Client, user_with_role: Callable[..., Any]) -> bool:
    update = _someone_elses_update(user_with_role, submitted=True)
    client.post(reverse("admin:commitments_statusupdate_transition", args=[update.pk, "return"]), {"reason": "No."})
    update.refresh_from_db()
    return update.state == UpdateState.RETURNED


def add_organisation(client: Client, user_with_role: Callable[..., Any]) -> bool:
    client.post(
        reverse("admin:commitments_organisation_add"),
        {
            "name": "Permission Matrix Ltd",
            "kind": "company",
            "source_document": Commitment.objects.values_list("source_document_id", flat=True).first(),
            "source_quote": "UCB",
            "aliases-TOTAL_FORMS": "0",
            "aliases-INITIAL_FORMS": "0",
        },
    )
    return Organisation.objects.filter(name="Permission Matrix Ltd").exists()


def add_user(client: Client, user_with_role: Callable[..., Any]) -> bool:
    client.post(
        reverse("admin:auth_user_add"),
        {"username": "new-colleague", "password1": "a-long-passphrase-2026", "password2": "a-long-passphrase-2026"},
    )
    return get_user_model().objects.filter(username="new-colleague").exists()


def sign_off_quarter(client: Client, user_with_role: Callable[..., Any]) -> bool:
    from commitments.periods import Quarter
    from metrics.services import reporting_quarters_ensure

    row = reporting_quarters_ensure()[Quarter.from_label("2019-20 Q1")]
    client.post(
        reverse("admin:metrics_reportingquarter_changelist"),
        {"action": "sign_off_selected", "_selected_action": [row.pk], "confirm": "yes"},
    )
    row.refresh_from_db()
    return row.is_locked


ACTIONS = [
    view_commitments,
    edit_unpublished_commitment,
    edit_published_commitment,
    publish_commitment,
    write_update,
    submit_update,
    approve_update,
    return_update,
    add_organisation,
    add_user,
    sign_off_quarter,
]

# Who may do what: everything not listed is refused.
ALLOWED = {
    roles.EDITOR: {view_commitments, edit_unpublished_commitment, write_update, submit_update},
    roles.REVIEWER: {
        view_commitments,
        edit_unpublished_commitment,
        edit_published_commitment,
        publish_commitment,
        write_update,
        submit_update,
        approve_update,
        return_update,
        add_organisation,
        sign_off_quarter,
    },
    roles.BOARD_MEMBER: {view_commitments},
    roles.ADMINISTRATOR: {view_commitments, add_user},
    roles.PARTNER: set(),
}


@pytest.mark.parametrize("action", ACTIONS, ids=lambda action: action.__name__)
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(role, action, user_with_role):
    client = Client()
    client.force_login(user_with_role(role))
    assert action(client, user_with_role) is (action in ALLOWED[role])
