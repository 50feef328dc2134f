"""Who may do what in the admin: every view, every role, and the holes that were closed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from io import StringIO
from typing import TYPE_CHECKING, Any
from uuid import uuid4

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Model
from django.forms import MultiWidget
from django.http import HttpRequest, HttpResponseBase
from django.test import Client, RequestFactory
from django.urls import reverse
from django.urls.resolvers import RoutePattern
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from knox.models import AuthToken

from commitments import roles
from commitments.admin_updates import TRANSITIONS
from commitments.delivery_plan import baseline_change_request
from commitments.imports import IMPORT_COLUMNS
from commitments.models import BaselineChange, Commitment, Organisation, PartnerMembership, Proposal, StatusUpdate
from commitments.proposals import partner_membership_save, proposal_create
from commitments.services import commitment_edit, commitment_set_published, update_create, update_submit
from lsis.admin import MISSING_VERSION
from lsis.core.models import Message, Reminder
from metrics.models import QuarterMetric, Release, ReportingQuarter, ScopeType
from metrics.releases import release_publish_signed_off
from programmes.models import FundingAmount
from tests.admin_forms import change_form_data
from tests.factories import UserFactory

if TYPE_CHECKING:
    # The test client's response, with its json() (stubs only).
    from django.test.client import _MonkeyPatchedWSGIResponse

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


@pytest.mark.parametrize("role", [roles.BOARD_MEMBER, roles.EDITOR, None], ids=["board member", "editor", "superuser"])
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
    commitment_edit(
        commitment=commitment, user=user_with_role(roles.REVIEWER), changes={"jobs_text": "changed meanwhile"}
    )
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
    commitment_set_published(commitment=commitment, user=_make_user(roles.REVIEWER), published=published)
    organisation = Organisation.objects.exclude(involvements__commitment=commitment).first()
    assert organisation is not None
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
    assert funding is not None
    commitment = funding.commitment
    assert commitment is not None
    commitment_set_published(commitment=commitment, user=_make_user(roles.REVIEWER), published=published)
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
    published = Commitment.objects.filter(published=True).exclude(funding=funding).first()
    assert published is not None
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
    assert published is not None
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


# --- every admin view, every role ----------------------------------------------------------------------
#
# The views are read from the admin itself: each registered ModelAdmin's URL list and its actions. ACCESS
# says, for each model and kind of view, which roles may use it; a view or action it does not cover fails
# the test, so a new admin view is checked without anyone remembering to add it here.

EDITOR, REVIEWER, BOARD_MEMBER, ADMINISTRATOR, PARTNER = (
    roles.EDITOR,
    roles.REVIEWER,
    roles.BOARD_MEMBER,
    roles.ADMINISTRATOR,
    roles.PARTNER,
)
ANONYMOUS = "anonymous"
ALL_ROLES = (EDITOR, REVIEWER, BOARD_MEMBER, ADMINISTRATOR, PARTNER, ANONYMOUS)

NOBODY: frozenset[str] = frozenset()
STAFF = frozenset({EDITOR, REVIEWER, BOARD_MEMBER, ADMINISTRATOR})  # who may look at every tracker record
WRITERS = frozenset({EDITOR, REVIEWER})
REVIEWERS = frozenset({REVIEWER})
ADMINISTRATORS = frozenset({ADMINISTRATOR})

# Who may use a view: one set of roles, or, where it depends on the record, one per sample record (SAMPLES).
Allowed = frozenset[str] | dict[str, frozenset[str]]


def standard_views(
    *,
    view: frozenset[str],
    add: frozenset[str] = NOBODY,
    change: Allowed = NOBODY,
    delete: Allowed = NOBODY,
    delete_selected: Allowed | None = None,
    bulk_delete: bool = True,
) -> dict[str, Allowed]:
    """The views every ModelAdmin has: list, history, add, change, delete, and (unless it deletes nothing, even
    for superusers) the bulk delete action."""
    views: dict[str, Allowed] = {
        "changelist": view,
        "history": view,
        "object": STAFF,  # Django's <id>/ redirect to <id>/change/, for anyone signed in to the admin
        "add": add,
        "change": change,
        "delete": delete,
    }
    if bulk_delete:
        views["action:delete_selected"] = delete if delete_selected is None else delete_selected
    return views


SUPERUSERS_ONLY = standard_views(view=NOBODY)

ACCESS: dict[str, dict[str, Allowed]] = {
    "auth.group": standard_views(view=ADMINISTRATORS),
    "auth.user": {
        **standard_views(view=ADMINISTRATORS, add=ADMINISTRATORS, change=ADMINISTRATORS),
        "password_change": ADMINISTRATORS,
    },
    "axes.accessattempt": {**SUPERUSERS_ONLY, "action:cleanup_expired_attempts": NOBODY},
    "axes.accessfailurelog": SUPERUSERS_ONLY,
    "axes.accesslog": SUPERUSERS_ONLY,
    "django_celery_beat.clockedschedule": SUPERUSERS_ONLY,
    "django_celery_beat.crontabschedule": SUPERUSERS_ONLY,
    "django_celery_beat.intervalschedule": SUPERUSERS_ONLY,
    "django_celery_beat.periodictask": {
        **SUPERUSERS_ONLY,
        "action:enable_tasks": NOBODY,
        "action:disable_tasks": NOBODY,
        "action:toggle_tasks": NOBODY,
        "action:run_tasks": NOBODY,
    },
    "django_celery_beat.solarschedule": SUPERUSERS_ONLY,
    "knox.authtoken": SUPERUSERS_ONLY,
    "commitments.document": standard_views(view=STAFF),
    "commitments.framework": standard_views(view=STAFF),
    "commitments.theme": standard_views(view=STAFF),
    "commitments.organisation": {
        **standard_views(view=STAFF, add=REVIEWERS, change=REVIEWERS),
        "simple_history": NOBODY,
    },
    "commitments.commitment": {
        **standard_views(view=STAFF, add=REVIEWERS, change={"published": REVIEWERS, "unpublished": WRITERS}),
        "simple_history": {"published": NOBODY, "unpublished": NOBODY},
        "export": STAFF,
        "action:publish_selected": {"unpublished": REVIEWERS},
        "action:withdraw_selected": {"published": REVIEWERS},
        "assign_owners": REVIEWERS,
    },
    "commitments.statusupdate": {
        **standard_views(
            view=STAFF,
            add=WRITERS,
            change={"draft": WRITERS, "submitted": NOBODY},
            delete={"draft": WRITERS, "submitted": NOBODY},
            delete_selected={"draft": WRITERS},
        ),
        "simple_history": NOBODY,
        "export": STAFF,
        "import": WRITERS,
        "process_import": WRITERS,
        "transition:submit": {"draft": WRITERS},
        "transition:approve": {"submitted": REVIEWERS},
        "transition:return": {"submitted": REVIEWERS},
        "action:submit_selected": {"draft": WRITERS},
        "action:approve_selected": {"submitted": REVIEWERS},
        "action:return_selected": {"submitted": REVIEWERS},
    },
    "commitments.baselinechange": {
        **standard_views(view=STAFF, add=WRITERS, bulk_delete=False),
        "simple_history": NOBODY,
        "approve": {"pending": REVIEWERS},
        "reject": {"pending": REVIEWERS},
    },
    # Partners' proposed updates: read by staff, decided by reviewers, never edited or deleted.
    "commitments.proposal": {
        **standard_views(view=STAFF, bulk_delete=False),
        "simple_history": NOBODY,
        "accept": {"pending": REVIEWERS},
        "decline": {"pending": REVIEWERS},
    },
    "commitments.partnermembership": {
        **standard_views(view=STAFF, add=REVIEWERS, change=REVIEWERS, delete=REVIEWERS),
        "simple_history": NOBODY,
    },
    "commitments.themerule": {
        **standard_views(view=STAFF, add=REVIEWERS, change=REVIEWERS, delete=REVIEWERS),
        "simple_history": NOBODY,
    },
    "commitments.themeexception": {
        **standard_views(view=STAFF, add=REVIEWERS, change=REVIEWERS, delete=REVIEWERS),
        "simple_history": NOBODY,
    },
    "programmes.programme": {**standard_views(view=STAFF, add=REVIEWERS, change=REVIEWERS), "simple_history": NOBODY},
    "programmes.fundingamount": {
        **standard_views(
            view=STAFF,
            add=WRITERS,
            change={"of a published commitment": REVIEWERS, "of an unpublished commitment": WRITERS},
        ),
        "simple_history": NOBODY,
    },
    "metrics.regionalstatistic": standard_views(view=STAFF),
    "metrics.reportingquarter": {
        **standard_views(view=STAFF),
        "action:sign_off_selected": REVIEWERS,
        "action:publish_restatement": {"signed off": REVIEWERS},
    },
    # Open-data releases: read-only for everyone; a restatement is published from the quarters' list.
    "metrics.release": standard_views(view=STAFF, bulk_delete=False),
    "metrics.quartermetric": standard_views(view=STAFF, bulk_delete=False),
    # The reminders' ledger and the messages sent: read-only, for reviewers and administrators.
    "core.message": standard_views(view=REVIEWERS | ADMINISTRATORS, bulk_delete=False),
    "core.reminder": standard_views(view=REVIEWERS | ADMINISTRATORS, bulk_delete=False),
}


@dataclass(frozen=True)
class Kind:
    """How a kind of view is exercised: who may open it (GET), and what a POST from an allowed role does."""

    get: str  # "allowed": the roles in ACCESS; "viewers": whoever may see the list; "redirect"; "" (POST only)
    post: str  # "writes": must change something; "reads": must change nothing; "" (no POST)


KINDS = {
    "changelist": Kind(get="allowed", post=""),
    "history": Kind(get="allowed", post=""),
    "export": Kind(get="allowed", post=""),
    "object": Kind(get="redirect", post=""),
    "change": Kind(get="viewers", post="writes"),
    "simple_history": Kind(get="viewers", post="writes"),
    "add": Kind(get="allowed", post="reads"),  # posted empty: the form comes back with its errors
    "delete": Kind(get="allowed", post="writes"),
    "password_change": Kind(get="allowed", post="writes"),
    "import": Kind(get="allowed", post="reads"),  # the dry-run preview
    "process_import": Kind(get="", post="writes"),
    "transition": Kind(get="allowed", post="writes"),
    "approve": Kind(get="allowed", post="writes"),  # a request to change a deadline
    "reject": Kind(get="allowed", post="writes"),
    "accept": Kind(get="allowed", post="writes"),  # a partner's proposed update
    "decline": Kind(get="allowed", post="writes"),
    "action": Kind(get="", post="writes"),
    "assign_owners": Kind(get="allowed", post="reads"),  # posted empty: the form comes back with its errors
}

# The field a change form's POST changes, per model, where some role may change records.
CHANGES = {
    "auth.user": {"first_name": "Changed"},
    "commitments.commitment": {"text": "Changed in the access test."},
    "commitments.organisation": {"name": "Changed in the access test"},
    "commitments.statusupdate": {"narrative": "Changed in the access test."},
    "commitments.themerule": {"reason": "Changed in the access test."},
    "commitments.themeexception": {"reason": "Changed in the access test."},
    "programmes.programme": {"name": "Changed in the access test"},
    "programmes.fundingamount": {"amount_text": "£1 (changed)"},
}
# The parameters of admin URLs given as unnamed regex groups (django-simple-history's revert form).
REGEX_PARAMETERS = {"simple_history": ("object_id", "history_id")}


def _make_user(role: str) -> Any:
    user = UserFactory.create(is_staff=role in roles.STAFF_ROLES)
    user.groups.add(Group.objects.get(name=role))
    return user


def _unpublished(reference: str) -> Commitment:
    return commitment_set_published(
        commitment=Commitment.objects.get(reference=reference), user=_make_user(roles.REVIEWER), published=False
    )


def _funding_sample(*, published: bool) -> FundingAmount:
    # Two different commitments: unpublishing one leaves the other published.
    amounts = FundingAmount.objects.filter(commitment__isnull=False).select_related("commitment").order_by("pk")
    if published:
        funding = amounts.filter(commitment__reference=REFERENCE).first()
    else:
        funding = amounts.exclude(commitment__reference=REFERENCE).first()
    assert funding is not None
    assert funding.commitment is not None
    if not published:
        _unpublished(funding.commitment.reference)
    return funding


def _update_sample(*, submitted: bool) -> StatusUpdate:
    author = _make_user(EDITOR)
    update = update_create(
        commitment=Commitment.objects.get(reference=REFERENCE),
        author=author,
        as_of=date(2019, 9, 30) if submitted else date(2019, 6, 30),
        status="in_progress",
        narrative="Written for the access test.",
    )
    return update_submit(update=update, user=author) if submitted else update


def _baseline_change_sample() -> BaselineChange:
    return baseline_change_request(
        commitment=Commitment.objects.get(reference=REFERENCE),
        proposed_date=date(2031, 3, 31),
        reason="Asked for in the access test.",
        user=_make_user(EDITOR),
    )


def _membership_sample() -> PartnerMembership:
    membership = PartnerMembership(
        user=_make_user(PARTNER), organisation=Organisation.objects.get(name="Wellcome Trust")
    )
    return partner_membership_save(membership=membership, user=_make_user(REVIEWER))


def _proposal_sample() -> Proposal:
    # Wellcome Trust leads SD2-IDEAS-HARP-S2 in the real data.
    return proposal_create(
        author=_membership_sample().user,
        commitment=Commitment.objects.get(reference="SD2-IDEAS-HARP-S2"),
        as_of=date(2020, 6, 30),
        status="in_progress",
        narrative="Proposed for the access test.",
    )


def _quarter_sample() -> ReportingQuarter:
    return ReportingQuarter.objects.create(year=2019, number=1)


def _signed_off_quarter() -> ReportingQuarter:
    """2019-20 Q2, signed off, its open data not yet published."""
    return ReportingQuarter.objects.create(
        year=2019, number=2, locked_at=timezone.now(), locked_by=_make_user(roles.REVIEWER)
    )


def _signed_off_sample() -> Release:
    """2019-20 Q2 signed off and its release published."""
    published = release_publish_signed_off(quarter_id=_signed_off_quarter().pk)
    assert published is not None
    return published.release


def _message_sample() -> Message:
    message = Message.objects.create(
        recipient=UserFactory.create(), key="daily:2026-10-14", address="someone@example.gov.uk", run=uuid4()
    )
    Reminder.objects.create(recipient=message.recipient, kind="due_today", period="2026-27 Q2", message=message)
    return message


def _interval_sample() -> IntervalSchedule:
    return IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)


# Records to try each view on, per model: name -> maker. The first is the one used where ACCESS gives one set.
SAMPLES: dict[str, dict[str, Callable[[], Any]]] = {
    "auth.group": {"": lambda: Group.objects.get(name=roles.EDITOR)},
    "auth.user": {"": lambda: UserFactory.create(first_name="Sample")},
    "axes.accessattempt": {
        "": lambda: AccessAttempt.objects.create(
            username="someone", ip_address="192.0.2.1", user_agent="test", failures_since_start=1
        )
    },
    "axes.accessfailurelog": {
        "": lambda: AccessFailureLog.objects.create(username="someone", ip_address="192.0.2.1", user_agent="test")
    },
    "axes.accesslog": {
        "": lambda: AccessLog.objects.create(username="someone", ip_address="192.0.2.1", user_agent="test")
    },
    "django_celery_beat.clockedschedule": {"": lambda: ClockedSchedule.objects.create(clocked_time=timezone.now())},
    "django_celery_beat.crontabschedule": {"": lambda: CrontabSchedule.objects.create(minute="5")},
    "django_celery_beat.intervalschedule": {"": _interval_sample},
    "django_celery_beat.periodictask": {
        "": lambda: PeriodicTask.objects.create(
            name="sample", task="metrics.tasks.recompute_pending", interval=_interval_sample()
        )
    },
    "django_celery_beat.solarschedule": {
        "": lambda: SolarSchedule.objects.create(event="sunrise", latitude=Decimal("51.5"), longitude=Decimal("-0.1"))
    },
    "knox.authtoken": {"": lambda: AuthToken.objects.create(user=UserFactory.create())[0]},
    "core.message": {"": lambda: _message_sample()},
    "core.reminder": {"": lambda: _message_sample().reminders.get()},
    "commitments.commitment": {
        "published": lambda: Commitment.objects.get(reference=REFERENCE),
        "unpublished": lambda: _unpublished("SD2-PEOPLE-G2"),
    },
    "commitments.statusupdate": {
        "draft": lambda: _update_sample(submitted=False),
        "submitted": lambda: _update_sample(submitted=True),
    },
    "commitments.baselinechange": {"pending": _baseline_change_sample},
    "commitments.proposal": {"pending": _proposal_sample},
    "commitments.partnermembership": {"": _membership_sample},
    "programmes.fundingamount": {
        "of a published commitment": lambda: _funding_sample(published=True),
        "of an unpublished commitment": lambda: _funding_sample(published=False),
    },
    "metrics.reportingquarter": {"": _quarter_sample, "signed off": lambda: _signed_off_quarter()},
    "metrics.release": {"": _signed_off_sample},
    "metrics.quartermetric": {
        "": lambda: QuarterMetric.objects.create(
            quarter=_quarter_sample(),
            scope_type=ScopeType.TRACKER,
            scope_key="tracker",
            scope_label="Tracker",
            computed_at=timezone.now(),
        )
    },
}


@dataclass(frozen=True)
class View:
    """One view of one admin: its kind (a key of ACCESS) and how to build its URL for a record."""

    kind: str
    url: Callable[[Any], str]

    @property
    def family(self) -> str:
        """The kind without its detail: "transition" for "transition:approve"."""
        return self.kind.split(":", 1)[0]


def _label(model: type[Model]) -> str:
    return model._meta.label_lower


def _superuser_request() -> HttpRequest:
    request = RequestFactory().get("/admin/")
    request.user = UserFactory.build(is_staff=True, is_superuser=True)
    return request


def _views(model_admin: Any) -> list[View]:
    """Every URL of the admin, one View per kind (each transition its own), and one per action."""
    opts = model_admin.model._meta
    prefix = f"{opts.app_label}_{opts.model_name}_"
    views = []
    for pattern in model_admin.urls:
        route = pattern.pattern
        if pattern.name is None:
            kind = "object" if str(route) == "<path:object_id>/" else f"unnamed URL {route}"
        else:
            kind = pattern.name.removeprefix(prefix)
        if isinstance(route, RoutePattern):
            parameters = tuple(route.converters)
        else:
            named = tuple(route.regex.groupindex)
            parameters = named or REGEX_PARAMETERS.get(kind, tuple(f"group {n}" for n in range(route.regex.groups)))
        views.extend(_expand(pattern.name, kind, parameters))
    if model_admin.list_editable:
        views.append(View("changelist:list_editable", lambda record: ""))
    changelist = reverse(f"admin:{prefix}changelist")
    for name in model_admin.get_actions(_superuser_request()):
        views.append(View(f"action:{name}", lambda record: changelist))
    return views


def _expand(name: str | None, kind: str, parameters: tuple[str, ...]) -> list[View]:
    def url(record: Any, extra: dict[str, Any] | None = None) -> str:
        values = {"object_id": record.pk, "id": record.pk, "history_id": getattr(record, "_history_id", None)}
        values.update(extra or {})
        if name is None:
            return f"/admin/{record._meta.app_label}/{record._meta.model_name}/{record.pk}/"
        return reverse(f"admin:{name}", args=[values.get(parameter, parameter) for parameter in parameters])

    if "transition" in parameters:
        return [View(f"{kind}:{step}", partial(url, extra={"transition": step})) for step in TRANSITIONS]
    unknown = set(parameters) - {"object_id", "id", "history_id"}
    return [View(f"{kind} (parameters {sorted(unknown)} unknown to this test)" if unknown else kind, url)]


def _registered() -> dict[str, Any]:
    return {_label(model): model_admin for model, model_admin in admin.site._registry.items()}


def test_the_table_covers_every_admin_view_and_action():
    """Every URL and action of every registered admin has a row in ACCESS, and every row still exists."""
    registered = _registered()
    exposed = {(label, view.kind) for label, model_admin in registered.items() for view in _views(model_admin)}
    covered = {(label, kind) for label, kinds in ACCESS.items() for kind in kinds}
    assert sorted(exposed - covered) == [], "admin views no row of ACCESS covers"
    assert sorted(covered - exposed) == [], "rows of ACCESS for views the admin no longer has"
    families = {kind.split(":", 1)[0] for _, kind in exposed}
    assert families <= set(KINDS), f"kinds of view this test does not know how to exercise: {families - set(KINDS)}"
    assert set(ACCESS) == set(registered)


# --- the requests ---


def _fingerprint(record: Any) -> tuple[Any, ...]:
    """Row counts of every table (history and the admin's log included) and the record's own values."""
    tables = sorted(
        {
            model._meta.db_table
            for model in apps.get_models(include_auto_created=True)
            # An unmanaged model's table is not the database's (the engine's temporary state table).
            if model._meta.managed and model._meta.db_table not in ("django_session",)
        }
    )
    quote = connection.ops.quote_name
    # The table names are the models' own, quoted: nothing from outside goes into the statement.
    sql = " UNION ALL ".join(f"SELECT {index}, COUNT(*) FROM {quote(table)}" for index, table in enumerate(tables))  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        counts = sorted(cursor.fetchall())
    row = list(type(record)._default_manager.filter(pk=record.pk).values())
    return (counts, row)


def _change_data(superuser: Client, record: Any, label: str) -> dict[str, Any]:
    url = reverse(f"admin:{record._meta.app_label}_{record._meta.model_name}_change", args=[record.pk])
    response = superuser.get(url)
    data = change_form_data(response, **CHANGES.get(label, {}))
    # A field of several inputs (a date and a time) is posted as each of them.
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        if isinstance(field.widget, MultiWidget) and key in data:
            parts = field.widget.decompress(data.pop(key))
            assert parts is not None, key
            # widgets_names is Django's (the suffix of each input's name); its stubs leave it out.
            suffixes = field.widget.widgets_names  # type: ignore[attr-defined]
            data.update({key + suffix: part for suffix, part in zip(suffixes, parts, strict=True)})
    return data


def _import_file() -> SimpleUploadedFile:
    row = [REFERENCE, "31/03/2025", "In progress", "", "", "Imported in the access test.", "", "", ""]
    lines = [",".join(IMPORT_COLUMNS), ",".join(row)]
    return SimpleUploadedFile("updates.csv", "\n".join(lines).encode(), content_type="text/csv")


def _post_data(view: View, record: Any, label: str, superuser: Client, change_data: dict[int, Any]) -> Any:
    """A plausible POST for the view: what the admin's own page would send."""
    family = view.family
    if family in ("change", "simple_history"):
        # The same for every role (each finds the record as it was): built once per record.
        if id(record) not in change_data:
            change_data[id(record)] = _change_data(superuser, record, label)
        return change_data[id(record)]
    if family == "delete":
        return {"post": "yes"}
    if family in ("transition", "approve", "reject", "accept", "decline"):
        return {"reason": "Please add the evidence."}
    if family == "action":
        return {
            "action": view.kind.split(":", 1)[1],
            ACTION_CHECKBOX_NAME: [record.pk],
            "index": "0",
            "confirm": "yes",
            "reason": "Please add the evidence.",
            "post": "yes",
        }
    if family == "password_change":
        return {
            "password1": "a long new passphrase 2187",
            "password2": "a long new passphrase 2187",
            "usable_password": "true",
        }
    if family == "import":
        return {"format": "0", "import_file": _import_file()}
    if family == "process_import":
        # The preview of an upload, as the import page shows it before the import is confirmed.
        upload = reverse(f"admin:{record._meta.app_label}_{record._meta.model_name}_import")
        preview = superuser.post(upload, {"format": "0", "import_file": _import_file()})
        return dict(preview.context["confirm_form"].initial)
    return {}


def _sample_records(label: str) -> dict[str, Any]:
    makers = SAMPLES.get(label)
    if makers is None:
        model = apps.get_model(label)
        makers = {"": lambda: model._default_manager.order_by("pk").first()}
    records = {}
    for name, make in makers.items():
        record = make()
        assert record is not None, f"{label}: no record to try its views on; add one to SAMPLES"
        latest = getattr(record, "history", None)
        record._history_id = latest.first().history_id if latest is not None else None
        records[name] = record
    return records


def _cases(label: str, model_admin: Any) -> list[tuple[View, str, frozenset[str]]]:
    """(view, sample name, roles allowed) for every view of the admin, as ACCESS lays them out."""
    cases: list[tuple[View, str, frozenset[str]]] = []
    first_sample = next(iter(SAMPLES.get(label, {"": None})))
    for view in _views(model_admin):
        allowed = ACCESS.get(label, {}).get(view.kind)
        if allowed is None:
            continue  # reported by test_the_table_covers_every_admin_view_and_action
        per_sample = allowed if isinstance(allowed, dict) else {first_sample: allowed}
        cases.extend((view, sample, roles_allowed) for sample, roles_allowed in per_sample.items())
    return cases


def _refused(response: HttpResponseBase, role: str) -> str | None:
    """What is wrong with how the request was refused, or None if it was refused as it should be."""
    if role in (PARTNER, ANONYMOUS):
        location = response.get("Location", "")
        return None if response.status_code == 302 and location.startswith("/admin/login/") else "not sent to sign in"
    return None if response.status_code == 403 else "not 403"


@pytest.mark.parametrize("label", sorted(ACCESS))
def test_every_view_of_every_admin_answers_each_role_as_the_table_says(label, client_for):
    """GET and POST every view of one admin as every role: the answer, and nothing changed unless allowed."""
    model_admin = _registered()[label]
    records = _sample_records(label)
    superuser = client_for(None)
    clients, users = {ANONYMOUS: Client()}, {}
    for role in ALL_ROLES[:-1]:
        users[role], clients[role] = _make_user(role), Client()
        clients[role].force_login(users[role])
    viewers = ACCESS[label]["changelist"]
    assert isinstance(viewers, frozenset)
    problems: list[str] = []
    change_data: dict[int, Any] = {}

    for view, sample, allowed in _cases(label, model_admin):
        record = records[sample]
        kind = KINDS[view.family]
        url = view.url(record)
        for role, client in clients.items():
            where = f"{role} {view.kind} {sample}".strip()
            may_open = role in (viewers if kind.get == "viewers" else allowed)
            with transaction.atomic():
                if kind.get:
                    response = client.get(url)
                    if kind.get == "redirect" and may_open:
                        if response.status_code != 302 or "/admin/login/" in response["Location"]:
                            problems.append(f"{where}: GET {url} answered {response.status_code}, not a redirect")
                    elif may_open:
                        if response.status_code != 200:
                            problems.append(f"{where}: GET {url} answered {response.status_code}, not 200")
                    elif (wrong := _refused(response, role)) is not None:
                        problems.append(f"{where}: GET {url} answered {response.status_code}: {wrong}")
                if kind.post:
                    data = _post_data(view, record, label, superuser, change_data)
                    before = _fingerprint(record)
                    response = client.post(url, data)
                    changed = _fingerprint(record) != before
                    if role in allowed:
                        if response.status_code in (403, 404, 405) or response.status_code >= 500:
                            problems.append(f"{where}: POST {url} answered {response.status_code}")
                        elif kind.post == "writes" and not changed:
                            problems.append(f"{where}: POST {url} ({response.status_code}) changed nothing")
                        elif kind.post == "reads" and changed:
                            problems.append(f"{where}: POST {url} changed something")
                    else:
                        if changed:
                            problems.append(f"{where}: POST {url} changed something it may not")
                        if (wrong := _refused(response, role)) is not None:
                            problems.append(f"{where}: POST {url} answered {response.status_code}: {wrong}")
                transaction.set_rollback(True)  # the next role finds the records as they were
            session_key = client.session.session_key
            if role in users and (session_key is None or not client.session.exists(session_key)):
                client.force_login(users[role])  # a password change started a session the rollback undid

    assert problems == [], "\n".join(problems)


# --- administrators manage accounts, not their own rights ------------------------------------------------


def test_administrators_give_roles_but_make_nobody_a_superuser(client_for, user_with_role):
    administrator = Client()
    administrator.force_login(user_with_role(roles.ADMINISTRATOR))
    user = user_with_role(roles.BOARD_MEMBER)
    url = reverse("admin:auth_user_change", args=[user.pk])
    permission = Permission.objects.get(codename="publish_commitment")
    data = _change_data(client_for(None), user, "")
    data.update(
        {"is_superuser": "on", "user_permissions": [permission.pk], "groups": [Group.objects.get(name=REVIEWER).pk]}
    )

    assert administrator.post(url, data).status_code == 302

    user.refresh_from_db()
    assert list(user.groups.values_list("name", flat=True)) == [REVIEWER]  # the role is theirs to give
    assert not user.is_superuser
    assert not user.user_permissions.exists()


def test_administrators_change_neither_their_own_roles_nor_a_superusers_account(client_for, user_with_role):
    own = user_with_role(roles.ADMINISTRATOR)
    superuser = user_with_role(None)
    administrator = Client()
    administrator.force_login(own)
    superuser_client = client_for(None)

    own_data = _change_data(superuser_client, own, "")
    own_data["groups"] = [Group.objects.get(name=REVIEWER).pk, Group.objects.get(name=ADMINISTRATOR).pk]
    administrator.post(reverse("admin:auth_user_change", args=[own.pk]), own_data)
    own.refresh_from_db()
    assert list(own.groups.values_list("name", flat=True)) == [ADMINISTRATOR]

    password = superuser.password
    change = administrator.post(
        reverse("admin:auth_user_change", args=[superuser.pk]), _change_data(superuser_client, superuser, "")
    )
    new_password = administrator.post(
        reverse("admin:auth_user_password_change", args=[superuser.pk]),
        {"password1": "taken over 81 times", "password2": "taken over 81 times", "usable_password": "true"},
    )
    assert (change.status_code, new_password.status_code) == (403, 403)
    superuser.refresh_from_db()
    assert superuser.password == password


# --- the pickers' search (the admin's autocomplete) ------------------------------------------------------------
#
# One URL for the whole site (/admin/autocomplete/), so not among the ModelAdmin views the table above covers:
# it answers those who may view the records it finds, sends anyone else not signed in to the admin to sign in,
# and refuses (403) someone signed in to the admin without the permission to view them.

COMMITMENT_PICKERS = [
    ("commitments", "statusupdate", "commitment"),
    ("commitments", "themeexception", "commitment"),
    ("programmes", "fundingamount", "commitment"),
    ("commitments", "commitment", "parent"),
]


def _search(client: Client, picker: tuple[str, str, str], term: str) -> _MonkeyPatchedWSGIResponse:
    app_label, model_name, field_name = picker
    return client.get(
        "/admin/autocomplete/",
        {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term},
    )


@pytest.mark.parametrize("role", ALL_ROLES)
def test_the_commitment_pickers_search_answers_each_role_as_it_may_view_commitments(role):
    client = Client()
    if role != ANONYMOUS:
        client.force_login(_make_user(role))
    may_view = ACCESS["commitments.commitment"]["changelist"]
    for picker in COMMITMENT_PICKERS:
        response = _search(client, picker, "HARP")
        if role in may_view:
            assert response.status_code == 200, picker
            assert f"{REFERENCE}: " in " ".join(found["text"] for found in response.json()["results"]), picker
        else:
            assert _refused(response, role) is None, (picker, response.status_code)


def test_the_pickers_search_refuses_staff_who_may_not_view_commitments():
    nobody = Client()
    nobody.force_login(UserFactory.create(is_staff=True))  # signed in to the admin, with no role
    assert _search(nobody, COMMITMENT_PICKERS[0], "HARP").status_code == 403
