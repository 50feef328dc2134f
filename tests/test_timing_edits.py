"""Staff editing a commitment's written timing: the words are read again, so "overdue" follows them.

``commitment_edit`` (which the admin calls) reads new words with ``commitments.dates.parse_timing``, the
one parser, into the timing's kind, start and deadline; words that read as no timing are refused on their
field, and a deadline typed with new words must be the one they give. Through the admin the stored figures
follow at once (the eager recompute of ``tests/test_edits_reach_figures.py``).
"""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from commitments import roles
from commitments.dates import TimingKind
from commitments.models import Commitment
from commitments.services import commitment_create, commitment_edit, commitment_set_published
from metrics import rules
from tests.admin_forms import change_form_data
from tests.test_edits_reach_figures import eager_tasks, figures_follow  # noqa: F401  (the figures' fixtures)
from tests.test_metrics import CHECKED

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

# Not started, published, "by spring 2019": overdue in every quarter checked after May 2019.
REFERENCE = "SD2-IDEAS-CLINRES-GC2"
LAST_DAY = CHECKED[-1].end


@pytest.fixture(autouse=True)
def _withdrawn(user_with_role):
    """A published commitment's deadline moves by a request (``commitments.delivery_plan``): its words are
    corrected while it is withdrawn from partners, then it is published again."""
    commitment_set_published(
        commitment=Commitment.objects.get(reference=REFERENCE), user=user_with_role(roles.REVIEWER), published=False
    )


def _timing(commitment: Commitment) -> tuple[str, str, date | None, date | None]:
    commitment.refresh_from_db()
    return commitment.target_date_text, commitment.timing_kind, commitment.starts_on, commitment.target_date


def _overdue(commitment: Commitment) -> bool:
    return rules.is_overdue(target_date=commitment.target_date, status=commitment.delivery_status, day=LAST_DAY)


@pytest.mark.parametrize(
    ("words", "kind", "starts_on", "deadline"),
    [
        ("between April 2019 and March 2021", TimingKind.WINDOW, date(2019, 4, 1), date(2021, 3, 31)),
        ("in the first quarter of 2019", TimingKind.WINDOW, date(2019, 1, 1), date(2019, 3, 31)),
        ("from autumn 2019", TimingKind.START, date(2019, 9, 1), None),
        ("by March 2021", TimingKind.DEADLINE, None, date(2021, 3, 31)),
        # Counted from the document the commitment is quoted from (Sector Deal 2, December 2018).
        ("over the next three years", TimingKind.DURATION, date(2018, 12, 1), date(2021, 12, 31)),
        ("annually", TimingKind.RECURRING, None, None),
        ("", TimingKind.NONE, None, None),
    ],
)
def test_the_edit_service_reads_new_words_into_kind_start_and_deadline(
    user_with_role, words, kind, starts_on, deadline
):
    commitment = Commitment.objects.get(reference=REFERENCE)
    assert _overdue(commitment)
    commitment_edit(commitment=commitment, user=user_with_role(roles.REVIEWER), changes={"target_date_text": words})
    assert _timing(commitment) == (words, kind, starts_on, deadline)
    assert _overdue(commitment) == (deadline is not None and deadline < LAST_DAY)
    latest = commitment.history.first()
    assert latest is not None
    assert latest.history_change_reason == "Commitment edited"


def test_words_that_read_as_no_timing_are_refused_on_their_field(user_with_role):
    commitment = Commitment.objects.get(reference=REFERENCE)
    before = _timing(commitment)
    with pytest.raises(ValidationError) as refusal:
        commitment_edit(
            commitment=commitment, user=user_with_role(roles.REVIEWER), changes={"target_date_text": "soon"}
        )
    assert set(refusal.value.message_dict) == {"target_date_text"}
    assert "“soon” does not read as a timing" in refusal.value.message_dict["target_date_text"][0]
    assert _timing(commitment) == before


def test_a_deadline_typed_with_new_words_must_be_the_one_they_give(user_with_role):
    commitment = Commitment.objects.get(reference=REFERENCE)
    reviewer = user_with_role(roles.REVIEWER)
    before = _timing(commitment)
    with pytest.raises(ValidationError) as refusal:
        commitment_edit(
            commitment=commitment,
            user=reviewer,
            changes={"target_date_text": "by March 2021", "target_date": date(2019, 5, 1)},
        )
    assert set(refusal.value.message_dict) == {"target_date"}
    assert "gives 31 March 2021" in refusal.value.message_dict["target_date"][0]
    assert _timing(commitment) == before
    # The deadline the words give, typed with them, is accepted; a deadline alone stays a correction of it.
    changes = {"target_date_text": "by March 2021", "target_date": date(2021, 3, 31)}
    commitment_edit(commitment=commitment, user=reviewer, changes=changes)
    assert _timing(commitment) == ("by March 2021", TimingKind.DEADLINE, None, date(2021, 3, 31))
    commitment_edit(commitment=commitment, user=reviewer, changes={"target_date": date(2021, 6, 30)})
    assert _timing(commitment) == ("by March 2021", TimingKind.DEADLINE, None, date(2021, 6, 30))


def test_a_new_commitment_takes_its_timing_from_its_words(user_with_role):
    template = Commitment.objects.get(reference=REFERENCE)
    commitment = Commitment(
        reference="SD2-IDEAS-CLINRES-GC99",
        deal=template.deal,
        foundation=template.foundation,
        area=template.area,
        actor=template.actor,
        section=template.section,
        text="A commitment added by staff.",
        source_document=template.source_document,
        source_quote="A commitment added by staff.",
        target_date_text="between April 2019 and March 2021",
    )
    commitment_create(commitment=commitment, user=user_with_role(None))
    assert _timing(commitment) == (
        "between April 2019 and March 2021",
        TimingKind.WINDOW,
        date(2019, 4, 1),
        date(2021, 3, 31),
    )


def _change_url(commitment: Commitment) -> str:
    return reverse("admin:commitments_commitment_change", args=[commitment.pk])


def test_the_admin_shows_unreadable_words_on_the_field_and_saves_nothing(client, user_with_role):
    commitment = Commitment.objects.get(reference=REFERENCE)
    before = _timing(commitment)
    client.force_login(user_with_role(roles.REVIEWER))
    url = _change_url(commitment)
    response = client.post(url, change_form_data(client.get(url), target_date_text="when funding allows"))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"target_date_text"}
    assert "“when funding allows” does not read as a timing" in errors["target_date_text"][0]
    assert "does not read as a timing" in response.content.decode()
    assert _timing(commitment) == before


def test_the_admin_refuses_a_deadline_the_new_words_do_not_give(client, user_with_role):
    commitment = Commitment.objects.get(reference=REFERENCE)
    before = _timing(commitment)
    client.force_login(user_with_role(roles.REVIEWER))
    url = _change_url(commitment)
    data = change_form_data(client.get(url), target_date_text="from autumn 2019", target_date="2019-05-01")
    response = client.post(url, data)
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"target_date"}
    assert _timing(commitment) == before


def test_new_words_in_the_admin_move_overdue_in_the_stored_figures(client, user_with_role, figures_follow):  # noqa: F811
    commitment = Commitment.objects.get(reference=REFERENCE)
    client.force_login(user_with_role(roles.REVIEWER))
    url = _change_url(commitment)
    tracker = ("tracker", "all")
    before = figures_follow(lambda: None, moves=False)[CHECKED[-1]][tracker]["overdue"] + 1  # counted once published

    def edit() -> None:
        # Withdrawn (the fixture), corrected and published again in one save.
        data = change_form_data(client.get(url), target_date_text="from autumn 2019", published="on")
        response = client.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors

    # A start date is never overdue: the old deadline (31 May 2019) goes with the old words.
    after = figures_follow(edit)
    assert after[CHECKED[-1]][tracker]["overdue"] == before - 1
    assert _timing(commitment) == ("from autumn 2019", TimingKind.START, date(2019, 9, 1), None)
