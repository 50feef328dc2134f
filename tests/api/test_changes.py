"""The change feed (``GET /api/v1/changes/``): a partner replaying it holds exactly the published data.

Tests run inside a transaction that never commits, so the feed, published after commit, is published here
by running the commit's callbacks (``django_capture_on_commit_callbacks(execute=True)``), as a request's
commit would; the endpoint also publishes what is left pending when it is read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, Document, Organisation, StatusUpdate
from commitments.periods import Quarter
from commitments.services import commitment_edit, commitment_set_published, update_approve
from lsis.core.models import FeedEntry, FeedHead, FeedPending, FeedState
from lsis.core.tasks import publish_changes, reconcile_changes
from metrics import rules
from metrics.models import QuarterMetric
from metrics.services import metrics_recompute, quarter_lock
from metrics.tasks import feed_day_passed
from programmes.models import FundingAmount, Programme
from programmes.services import funding_amount_save, programme_delete, programme_save
from tests.helpers import ANONYMOUS, DRAFT_UPDATE

URL = "/api/v1/changes/"
# Each kind, the path of its list endpoint (the kind's name) and the field its records are identified by.
KINDS = {
    "documents": "code",
    "frameworks": "code",
    "themes": "uuid",
    "organisations": "uuid",
    "programmes": "uuid",
    "funding": "key",
    "commitments": "reference",
    "updates": "uuid",
    "quarters": "code",
    "releases": "code",
}
Snapshot = dict[str, dict[str, Any]]


@pytest.fixture(autouse=True)
def _eager_tasks(settings: Any) -> None:
    """Tasks run in-process, as on the embedded default, even when the suite runs with a broker: the release
    a sign-off enqueues is published before the test reads it."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Callable[..., Any]) -> Callable[[], Any]:
    """A block whose changes are followed by what their commit runs: the feed published, as after a request."""

    @contextmanager
    def block() -> Iterator[None]:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            yield

    return block


@pytest.fixture
def partner(api_for: Callable[[str], APIClient]) -> APIClient:
    """A partner's API client."""
    return api_for(roles.PARTNER)


def _source() -> Document:
    return Document.objects.order_by("pk").first()  # type: ignore[return-value]  # seeded


def new_organisation(**fields: Any) -> Organisation:
    """An organisation, cited from the first document."""
    return Organisation.objects.create(source_document=_source(), **fields)


def new_programme(name: str) -> Programme:
    """A programme to be saved, citing the first document's title (the quote must be in the document)."""
    document = _source()
    return Programme(name=name, kind="fund", source_document=document, source_quote=document.title)


def read_feed(client: APIClient, *, cursor: str = "", page_size: int = 1000, **params: Any) -> tuple[list[Any], str]:
    """Every entry from ``cursor`` on, page by page; and the cursor to read on from."""
    entries: list[Any] = []
    while True:
        answer = client.get(URL, {"cursor": cursor, "page_size": page_size, **params})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        entries += body["results"]
        cursor = body["next"]
        if not body["has_more"]:
            return entries, cursor


def replay(entries: list[Any]) -> Snapshot:
    """A partner's copy built from the entries, in order."""
    copy: Snapshot = defaultdict(dict)
    for entry in entries:
        if entry["action"] in ("created", "updated"):
            copy[entry["kind"]][entry["id"]] = entry["record"]
        else:
            assert entry["record"] is None
            copy[entry["kind"]].pop(entry["id"], None)
    return copy


def listed(client: APIClient, path: str, identifier: str, **params: Any) -> dict[str, Any]:
    """Every record of a list endpoint, every page, by identifier."""
    records: dict[str, Any] = {}
    page = 1
    while True:
        answer = client.get(f"/api/v1/{path}/", {"page": page, "page_size": 200, **params})
        assert answer.status_code == 200, answer.content
        body = answer.json()
        records.update({str(record[identifier]): record for record in body["results"]})
        if not body["next"]:
            return records
        page += 1


def _figure_key(record: dict[str, Any]) -> str:
    parts = ("quarter", "basis", "population", "scope_type", "scope_key")
    return "/".join(str(record[part]) for part in parts)


def assert_replay_is_the_published_data(client: APIClient) -> None:
    """Reading the feed from the start rebuilds every kind's list exactly, as the partner reads them."""
    copy = replay(read_feed(client)[0])
    for kind, identifier in KINDS.items():
        assert copy[kind] == listed(client, kind, identifier), kind
    # Figures: every quarter, basis and population (``updating`` is a moment's, no part of a figure).
    figures: dict[str, Any] = {}
    for basis in ("live", "signed_off"):
        for record in _every_figure(client, basis, {key.split("/")[0] for key in copy["metrics"]}):
            figures[_figure_key(record)] = record
    assert len(copy["metrics"]) == QuarterMetric.objects.count()
    strip = {key: {**record, "updating": False} for key, record in figures.items()}
    assert copy["metrics"] == strip


def _every_figure(client: APIClient, basis: str, quarters: set[str]) -> list[Any]:
    found: list[Any] = []
    for quarter in sorted(quarters):
        for population in ("key", "all"):
            found += listed(
                client, "metrics", "scope_key", quarter=quarter, population=population, basis=basis
            ).values()
    return found


@pytest.mark.django_db
def test_a_replay_from_the_start_is_the_published_data_after_every_kind_of_change(
    partner: APIClient,
    api_for: Callable[[str], APIClient],
    user_with_role: Callable[..., Any],
    committed: Callable[[], Any],
    draft_by_colleague: Callable[..., StatusUpdate],
) -> None:
    """Creates, edits, an approval, a withdrawal and a republication, deletions and two changes of one record."""
    admin = user_with_role(None)
    reviewer = user_with_role(roles.REVIEWER)
    with committed():
        metrics_recompute(quarters=[Quarter(2019, 1)])
    with committed():  # signed off, the quarter's open-data release is published
        quarter_lock(quarter=Quarter(2019, 1), user=reviewer)
    with committed():
        organisation = new_organisation(name="Feed Test Biosciences Ltd", kind="company")
    with committed():
        organisation.name = "Feed Test Biosciences plc"  # shown by name in the commitments it takes part in
        organisation.save()
    with committed():
        commitment = Commitment.objects.get(reference="SD2-PEOPLE-G3")
        commitment_edit(commitment=commitment, user=admin, changes={"text": f"{commitment.text} (revised)"})
    update = draft_by_colleague(submitted=True)
    with committed():
        update_approve(update=update, reviewer=reviewer)  # a new update, and the commitment's delivery state
    withdrawn = Commitment.objects.get(reference="SD2-PEOPLE-G4")
    with committed():
        commitment_set_published(commitment=withdrawn, user=admin, published=False)
    assert replay(read_feed(partner)[0])["commitments"].get("SD2-PEOPLE-G4") is None
    republished = Commitment.objects.filter(published=True).exclude(pk=withdrawn.pk).order_by("reference").last()
    assert republished is not None
    with committed():
        commitment_set_published(commitment=republished, user=admin, published=False)
    with committed():
        commitment_set_published(commitment=Commitment.objects.get(pk=republished.pk), user=admin, published=True)
    # Two transactions change one record before either is published: the feed ends on the later.
    amount = FundingAmount.objects.filter(commitment__isnull=True).order_by("key").first()
    assert amount is not None
    with transaction.atomic():
        amount.amount_text = "£1m (first)"
        funding_amount_save(amount=amount, user=admin)
    with transaction.atomic():
        amount.amount_text = "£2m (second)"
        funding_amount_save(amount=amount, user=admin)
    # A programme linked to a commitment shows in its record; deleted, it leaves it.
    with committed():
        fund = programme_save(programme=new_programme("Feed test fund"), user=admin)
    with committed():
        gone = programme_save(
            programme=new_programme("Feed test programme, deleted"),
            user=admin,
            commitments=[commitment],
        )
    assert [p["name"] for p in replay(read_feed(partner)[0])["commitments"][commitment.reference]["programmes"]] == [
        "Feed test programme, deleted"
    ]
    with committed():
        programme_delete(programme=gone, user=admin)
    assert fund.pk is not None
    entries = read_feed(partner)[0]
    assert replay(entries)["funding"][amount.key]["amount_text"] == "£2m (second)"
    assert_replay_is_the_published_data(partner)
    # The same for staff: they read the partners' feed too.
    assert read_feed(api_for(roles.REVIEWER))[0] == entries
    assert {"created", "updated", "withdrawn", "deleted"} <= {entry["action"] for entry in entries}
    assert [entry["id"] for entry in entries if entry["kind"] == "releases"] == ["2019-20-Q1-v1"]
    withdrawals = [entry for entry in entries if entry["id"] == "SD2-PEOPLE-G4"]
    assert withdrawals[-1]["action"] == "withdrawn"


@pytest.mark.django_db
def test_walking_by_small_pages_gives_every_change_once_and_resumes_where_it_left(
    partner: APIClient, committed: Callable[[], Any]
) -> None:
    """No gaps, no repeats; the last ``next`` is where new changes start; ``kind`` walks one kind."""
    everything, end = read_feed(partner)
    walked, again = read_feed(partner, page_size=7)
    assert walked == everything
    assert again == end
    sequence = [entry["seq"] for entry in walked]
    assert sequence == sorted(set(sequence))
    assert read_feed(partner, cursor=end) == ([], end)
    with committed():
        organisation = new_organisation(name="Feed Cursor Ltd", kind="company")
    new, later = read_feed(partner, cursor=end)
    assert [(entry["kind"], entry["id"], entry["action"]) for entry in new] == [
        ("organisations", str(organisation.uuid), "created")
    ]
    assert read_feed(partner, cursor=later) == ([], later)
    organisations, _ = read_feed(partner, kind="organisations")
    assert organisations == [entry for entry in [*everything, *new] if entry["kind"] == "organisations"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "0123456789ab-01"}, "cursor"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "5.0"}, "page_size"),
        ({"kind": "proposals"}, "kind"),
        ({"kind": ""}, "kind"),
        ({"ordering": "seq"}, "ordering"),
    ],
)
def test_bad_parameters_are_refused_by_name(partner: APIClient, params: dict[str, str], field: str) -> None:
    """A malformed cursor, a page size out of range, an unknown kind or parameter: 400 naming it."""
    answer = partner.get(URL, params)
    assert answer.status_code == 400
    assert field in answer.json()["fields"]


@pytest.mark.django_db
def test_a_cursor_of_a_feed_started_afresh_is_a_conflict(partner: APIClient) -> None:
    """Well formed, but not a position in this feed: 409, read again from the start."""
    _, end = read_feed(partner)
    epoch, position = end.split("-")
    other = "f" * 12 if epoch != "f" * 12 else "e" * 12
    assert partner.get(URL, {"cursor": f"{other}-{position}"}).status_code == 409
    assert partner.get(URL, {"cursor": f"{epoch}-{int(position) + 1}"}).status_code == 409


@pytest.mark.django_db
def test_only_partners_and_staff_read_it(api_for: Callable[[str], APIClient]) -> None:
    """Anonymous callers are refused; partners and staff read."""
    assert api_for(ANONYMOUS).get(URL).status_code == 401
    for role in (roles.PARTNER, roles.BOARD_MEMBER, roles.EDITOR, roles.REVIEWER):
        assert api_for(role).get(URL, {"page_size": 1}).status_code == 200


@pytest.mark.django_db
def test_a_page_takes_the_same_queries_however_many_entries_it_holds(partner: APIClient) -> None:
    """Reading 5 entries or 500 costs the same statements."""
    partner.get(URL, {"page_size": 1})  # authentication and the throttle warmed up
    counts = []
    for size in (5, 500):
        with CaptureQueriesContext(connection) as queries:
            answer = partner.get(URL, {"page_size": size})
        assert len(answer.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_changes_a_killed_process_left_pending_are_published_by_the_task(
    partner: APIClient, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """Committed, but the process died before publishing: the periodic task publishes them."""
    _, end = read_feed(partner)
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        organisation = new_organisation(name="Feed Orphan Ltd", kind="company")
    assert FeedPending.objects.exists()
    assert publish_changes.apply().get() == 1
    assert not FeedPending.objects.exists()
    new, _ = read_feed(partner, cursor=end)
    assert [entry["id"] for entry in new] == [str(organisation.uuid)]


@pytest.mark.django_db
def test_the_endpoint_publishes_what_was_left_pending_before_reading(
    partner: APIClient, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    """A partner never waits for the sweep: reading the feed publishes what is pending first."""
    _, end = read_feed(partner)
    with django_capture_on_commit_callbacks(execute=False), transaction.atomic():
        commitment = Commitment.objects.get(reference="SD2-PEOPLE-G3")
        commitment.text = "Retitled while the publisher was down"
        commitment.save()
    new, _ = read_feed(partner, cursor=end)
    assert [(entry["id"], entry["record"]["text"]) for entry in new] == [
        ("SD2-PEOPLE-G3", "Retitled while the publisher was down")
    ]


@pytest.mark.django_db
def test_nothing_is_written_when_nothing_changed(committed: Callable[[], Any]) -> None:
    """A save that changes nothing a partner sees, a rolled-back change, and the nightly reconciliation add nothing."""
    publish_changes.apply()
    before = FeedEntry.objects.count()
    with committed():
        document = _source()
        document.save()  # saved as it was: its record is the same
        title = document.title
        document.title = "A title changed and changed back in one transaction"
        document.save()
        document.title = title
        document.save()
    with committed():
        try:
            with transaction.atomic():
                new_organisation(name="Rolled back Ltd", kind="company")
                raise RuntimeError
        except RuntimeError:
            pass
    assert reconcile_changes.apply().get() == 0
    assert FeedEntry.objects.count() == before
    assert not FeedPending.objects.exists()


@pytest.mark.django_db
def test_an_unpublished_commitment_and_its_updates_and_money_never_reach_the_feed(
    partner: APIClient, user_with_role: Callable[..., Any], committed: Callable[[], Any]
) -> None:
    """Withdrawn: its record, its approved updates and its money leave the copy, and edits of it add nothing."""
    admin = user_with_role(None)
    commitment = Commitment.objects.filter(published=True, updates__state="approved").order_by("reference").first()
    assert commitment is not None
    _, end = read_feed(partner)
    with committed():
        commitment_set_published(commitment=commitment, user=admin, published=False)
    new, later = read_feed(partner, cursor=end)
    withdrawn = {(entry["kind"], entry["id"]) for entry in new if entry["action"] == "withdrawn"}
    updates = {str(uuid) for uuid in commitment.updates.filter(state="approved").values_list("uuid", flat=True)}
    amounts = set(FundingAmount.objects.filter(commitment=commitment).values_list("key", flat=True))
    assert withdrawn >= {("commitments", commitment.reference)} | {("updates", u) for u in updates}
    assert withdrawn >= {("funding", key) for key in amounts}
    with committed():
        stored = Commitment.objects.get(pk=commitment.pk)
        stored.text = "Edited while withdrawn"
        stored.save()
    assert read_feed(partner, cursor=later)[0] == []


@pytest.mark.django_db
def test_a_feed_started_afresh_begins_with_every_published_record(partner: APIClient) -> None:
    """A new installation (or a feed emptied): the first read fills it; cursors of the old feed are refused."""
    _, old = read_feed(partner)
    FeedEntry.objects.all().delete()
    FeedState.objects.all().delete()
    FeedHead.objects.all().delete()
    entries, _ = read_feed(partner)
    assert {entry["action"] for entry in entries} == {"created"}
    assert_replay_is_the_published_data(partner)
    assert partner.get(URL, {"cursor": old}).status_code == 409


@pytest.mark.django_db
def test_a_rename_reaches_every_record_that_shows_the_name(partner: APIClient, committed: Callable[[], Any]) -> None:
    """An organisation's new name is an update of each published commitment it takes part in, and only those."""
    organisation = Organisation.objects.filter(involvements__commitment__published=True).distinct().first()
    assert organisation is not None
    showing = set(
        Commitment.objects.filter(published=True, involvements__organisation=organisation).values_list(
            "reference", flat=True
        )
    )
    _, end = read_feed(partner)
    with committed():
        organisation.name = f"{organisation.name} (renamed)"
        organisation.save()
    new, _ = read_feed(partner, cursor=end)
    commitments = {entry["id"] for entry in new if entry["kind"] == "commitments"}
    assert commitments == showing
    for entry in new:
        if entry["kind"] == "commitments":
            names = [party["name"] for party in entry["record"]["organisations"]]
            assert organisation.name in names
    assert ("organisations", str(organisation.uuid), "updated") in {(e["kind"], e["id"], e["action"]) for e in new}


@pytest.mark.django_db
def test_a_commitment_turning_overdue_at_midnight_reaches_the_feed_by_the_new_day_task(
    partner: APIClient, committed: Callable[[], Any]
) -> None:
    """No write marks a commitment whose target date has just passed: the task run after midnight does."""
    commitment = (
        Commitment.objects.published()
        .filter(target_date__isnull=False)
        .filter(delivery_status__in=rules.UNFINISHED)
        .order_by("target_date", "reference")
        .first()
    )
    assert commitment is not None
    assert commitment.target_date is not None
    day_before = datetime.combine(commitment.target_date, datetime.min.time(), tzinfo=ZoneInfo("Europe/London"))
    with time_machine.travel(day_before + timedelta(hours=12), tick=False):
        with committed():
            reconcile_changes.delay()  # the feed as of that day (the seeded feed was published today)
        _, cursor = read_feed(partner)
        assert listed(partner, "commitments", "reference")[commitment.reference]["overdue"] is False
    with time_machine.travel(day_before + timedelta(days=1, minutes=1), tick=False):
        assert read_feed(partner, cursor=cursor)[0] == []  # nothing was written: the feed lags the list
        with committed():
            assert feed_day_passed.delay().get() >= 1
        entries, _ = read_feed(partner, cursor=cursor)
        mine = [entry for entry in entries if entry["id"] == commitment.reference]
        assert [entry["action"] for entry in mine] == ["updated"]
        assert mine[0]["record"]["overdue"] is True
        assert mine[0]["record"] == listed(partner, "commitments", "reference")[commitment.reference]


@pytest.mark.django_db
def test_a_write_whose_feed_publishing_fails_is_still_answered_and_published_by_the_sweep(
    api_for: Callable[[str], APIClient],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The change has committed when the feed is published: a failure then (a lost Redis, a lost database
    connection) is logged and left to the periodic task, never turned into an error of the request."""
    from lsis.core import feed

    def broken() -> None:
        raise ConnectionError("Redis went away")

    real = feed.changes_publish
    monkeypatch.setattr(feed, "changes_publish", broken)
    editor = api_for(roles.EDITOR)
    with django_capture_on_commit_callbacks(execute=True):
        draft = editor.post(
            "/api/v1/updates/",
            DRAFT_UPDATE,
            format="json",
        )
    assert draft.status_code == 201, draft.content
    assert "Publishing the change feed failed" in caplog.text
    assert FeedPending.objects.exists()

    monkeypatch.setattr(feed, "changes_publish", real)
    publish_changes()
    assert not FeedPending.objects.exists()
