"""Conditional reads: validators from the data stamp, 304 before the answer is built, and the stamp moving.

A test runs inside a transaction that never commits, and the data stamp moves after a commit, so these
tests call the ``commit`` fixture where a request or a job would have committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.http import http_date, parse_http_date
from rest_framework.test import APIClient

from commitments import roles
from commitments.models import Commitment, Organisation, Theme, ThemeKind
from commitments.periods import Quarter
from commitments.services import commitment_edit, update_approve, update_create, update_submit
from lsis.core.changes import data_changed, data_stamp
from metrics.models import RecomputeMarker, RegionalStatistic
from metrics.services import metrics_recompute
from programmes.models import Programme
from tests.factories import CommitmentFactory

V1 = "/api/v1"
pytestmark = pytest.mark.django_db


@pytest.fixture
def partner(api_for: Callable[[str], APIClient]) -> APIClient:
    return api_for(roles.PARTNER)


@pytest.fixture
def stamped(commit: Callable[[], None]) -> None:
    """A data stamp to start from (the seeded data was loaded before any test)."""
    data_changed()
    commit()


def _revalidates(client: APIClient, url: str, params: dict[str, Any] | None = None) -> Callable[[], int]:
    """The status of a revalidation of the answer ``url`` gives now, each time it is called."""
    first = client.get(url, params or {})
    assert first.status_code == 200
    etag = first["ETag"]
    return lambda: client.get(url, params or {}, HTTP_IF_NONE_MATCH=etag).status_code


@pytest.mark.usefixtures("stamped")
@pytest.mark.parametrize(
    ("url", "params"),
    [
        (f"{V1}/commitments/", {"deal": "SD2"}),
        (f"{V1}/commitments/SD2-IDEAS-HARP-G1/", {}),
        (f"{V1}/commitments/SD2-IDEAS-HARP-G1/updates/", {}),
        (f"{V1}/organisations/", {}),
        (f"{V1}/metrics/", {"scope_type": "deal"}),
        (f"{V1}/glossary/", {}),
        (f"{V1}/commitments/", {"format": "csv"}),
    ],
)
def test_every_read_answers_304_while_nothing_changes(
    partner: APIClient, django_assert_max_num_queries: Any, url: str, params: dict[str, Any]
) -> None:
    first = partner.get(url, params)
    assert first.status_code == 200
    assert first["Cache-Control"] == "private, no-cache"
    assert parse_http_date(first["Last-Modified"]) <= timezone.now().timestamp() + 1
    # The answer is not built: the stamp is read, the token's check comes from the cache.
    with django_assert_max_num_queries(1):
        again = partner.get(url, params, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert not again.content
    assert again["ETag"] == first["ETag"]
    assert again["Last-Modified"] == first["Last-Modified"]
    assert partner.get(url, params, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"]).status_code == 304
    earlier = http_date(parse_http_date(first["Last-Modified"]) - 1)
    assert partner.get(url, params, HTTP_IF_MODIFIED_SINCE=earlier).status_code == 200


@pytest.mark.usefixtures("stamped")
def test_a_change_to_a_nested_record_is_seen_once_committed(partner: APIClient, commit: Callable[[], None]) -> None:
    involved = Commitment.objects.published().filter(organisations__isnull=False).first()
    assert involved is not None
    url = f"{V1}/commitments/{involved.reference}/"
    revalidate = _revalidates(partner, url)
    before = partner.get(url)
    organisation = Organisation.objects.get(uuid=before.json()["organisations"][0]["uuid"])
    organisation.name = f"{organisation.name} (renamed)"
    organisation.save()
    assert revalidate() == 304  # not committed yet: other requests still see the old data
    commit()
    assert revalidate() == 200
    after = partner.get(url)
    assert any(item["name"].endswith("(renamed)") for item in after.json()["organisations"])
    assert parse_http_date(after["Last-Modified"]) > parse_http_date(before["Last-Modified"])


@pytest.mark.usefixtures("stamped")
def test_many_to_many_changes_move_the_stamp(partner: APIClient, commit: Callable[[], None]) -> None:
    revalidate = _revalidates(partner, f"{V1}/commitments/SD2-IDEAS-HARP-G1/")
    Commitment.objects.get(reference="SD2-IDEAS-HARP-G1").themes.add(Theme.objects.filter(kind=ThemeKind.AREA)[0])
    commit()
    assert revalidate() == 200


@pytest.mark.usefixtures("stamped")
def test_an_approval_moves_the_commitment_and_the_lists(
    partner: APIClient, user_with_role: Callable[..., Any], commit: Callable[[], None]
) -> None:
    detail = _revalidates(partner, f"{V1}/commitments/SD2-PEOPLE-G3/")
    listing = _revalidates(partner, f"{V1}/commitments/", {"status": "delivered"})
    author, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    update = update_create(
        commitment=Commitment.objects.get(reference="SD2-PEOPLE-G3"),
        author=author,
        as_of=date(2020, 3, 31),
        status="delivered",
        confidence="green",
        progress=100,
        narrative="Delivered.",
    )
    update_approve(update=update_submit(update=update, user=author), reviewer=reviewer)
    commit()
    assert detail() == 200
    assert listing() == 200
    delivered = partner.get(f"{V1}/commitments/", {"status": "delivered", "page_size": "200"}).json()
    assert "SD2-PEOPLE-G3" in {record["reference"] for record in delivered["results"]}
    assert delivered["count"] == len(delivered["results"])  # the cached count moved with the stamp


@pytest.mark.usefixtures("stamped")
def test_a_recompute_moves_the_figures(partner: APIClient, commit: Callable[[], None]) -> None:
    revalidate = _revalidates(partner, f"{V1}/metrics/", {"scope_type": "deal"})
    metrics_recompute(quarters=[Quarter(2019, 1)])
    commit()
    assert revalidate() == 200


@pytest.mark.usefixtures("stamped")
def test_a_new_role_is_a_new_answer(
    partner: APIClient, token_for: Callable[..., str], commit: Callable[[], None]
) -> None:
    """Roles decide what a user sees, so a change of groups moves the stamp."""
    from django.contrib.auth.models import Group
    from knox.models import AuthToken

    token = token_for(roles.PARTNER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    commit()
    revalidate = _revalidates(client, f"{V1}/commitments/")
    user = AuthToken.objects.get(token_key=token[:15]).user
    user.groups.add(Group.objects.get(name=roles.REVIEWER))
    commit()
    assert revalidate() == 200


@pytest.mark.usefixtures("stamped")
def test_validators_differ_by_user_format_and_day(
    partner: APIClient, api_for: Callable[[str], APIClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"{V1}/commitments/"
    etag = partner.get(url)["ETag"]
    assert api_for(roles.PARTNER).get(url)["ETag"] != etag  # another partner
    assert api_for(roles.REVIEWER).get(url)["ETag"] != etag
    assert partner.get(url, {"format": "csv"})["ETag"] != etag
    assert partner.get(url, {"page": 2})["ETag"] != etag
    # A commitment becomes overdue when its target date passes: tomorrow's answer is another.
    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr("lsis.api.views.timezone.localdate", lambda: tomorrow)
    later = partner.get(url, HTTP_IF_NONE_MATCH=etag)
    assert later.status_code == 200
    assert later["ETag"] != etag


def test_the_stamp_moves_once_per_transaction_and_never_for_a_rollback(commit: Callable[[], None]) -> None:
    data_changed()
    commit()
    stamp = data_stamp()
    assert stamp is not None
    organisation = Organisation.objects.first()
    assert organisation is not None
    organisation.name += " (1)"
    organisation.save()
    organisation.name += " (2)"
    organisation.save()
    commit()
    after_two_saves = data_stamp()
    assert after_two_saves is not None
    assert after_two_saves.version == stamp.version + 1
    assert after_two_saves.changed_at > stamp.changed_at

    def save_then_fail() -> None:
        with transaction.atomic():
            organisation.name += " (rolled back)"
            organisation.save()
            raise RuntimeError

    with pytest.raises(RuntimeError):
        save_then_fail()
    commit()
    after_rollback = data_stamp()
    assert after_rollback is not None
    assert after_rollback.version == after_two_saves.version


def _rename(model: Any, field: str) -> Callable[[], None]:
    def change() -> None:
        record = model.objects.order_by("pk").first()
        assert record is not None, model
        setattr(record, field, getattr(record, field) + " (renamed)")
        record.save()

    return change


# One record of each app that registers itself with the data stamp (its AppConfig.ready), and the
# accounts lsis.core tracks itself.
REGISTERED = {
    "commitments": _rename(Organisation, "name"),
    "programmes": _rename(Programme, "name"),
    "metrics": _rename(RegionalStatistic, "source_quote"),
    "accounts": lambda: Group.objects.create(name="Readers"),
}


@pytest.mark.usefixtures("stamped")
@pytest.mark.parametrize("app", REGISTERED)
def test_each_app_tells_the_stamp_which_records_move_it(app: str, commit: Callable[[], None]) -> None:
    before = data_stamp()
    assert before is not None
    REGISTERED[app]()
    commit()
    after = data_stamp()
    assert after is not None
    assert after.version == before.version + 1


@pytest.mark.usefixtures("stamped")
def test_derived_rows_are_left_out(commit: Callable[[], None]) -> None:
    """The metrics app leaves its derived rows out: the services writing them move the stamp themselves."""
    before = data_stamp()
    assert before is not None
    commitment = Commitment.objects.order_by("pk").first()
    assert commitment is not None
    RecomputeMarker.objects.create(commitment=commitment, from_date=date(2019, 4, 1))
    commit()
    after = data_stamp()
    assert after is not None
    assert after.version == before.version


def test_last_modified_tells_versions_apart_within_a_second(commit: Callable[[], None]) -> None:
    """Two changes in the same second still get different Last-Modified values (whole seconds apart)."""
    moments = []
    for _ in range(3):
        data_changed()
        commit()
        stamp = data_stamp()
        assert stamp is not None
        moments.append(stamp.changed_at)
    assert moments[1] - moments[0] >= 1
    assert moments[2] - moments[1] >= 1


@pytest.mark.usefixtures("stamped")
def test_if_match_on_a_read_that_has_changed_is_412(partner: APIClient) -> None:
    response = partner.get(f"{V1}/commitments/", HTTP_IF_MATCH='"1-0000"')
    assert response.status_code == 412
    assert response.json()["code"] == "precondition_failed"


@pytest.mark.usefixtures("stamped")
def test_the_same_request_is_answered_from_the_cache_until_a_change_commits(
    partner: APIClient,
    django_assert_max_num_queries: Any,
    commit: Callable[[], None],
    user_with_role: Callable[..., Any],
) -> None:
    url = f"{V1}/commitments/"
    first = partner.get(url, {"deal": "SD2"})
    with django_assert_max_num_queries(1):  # the data stamp only
        again = partner.get(url, {"deal": "SD2"})
    assert again.status_code == 200
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert again["Content-Type"] == "application/json"
    # The same URL asked as CSV is another answer, never the kept JSON.
    as_csv = partner.get(url, {"deal": "SD2"}, HTTP_ACCEPT="text/csv")
    assert as_csv["Content-Type"].startswith("text/csv")
    reference = first.json()["results"][0]["reference"]
    commitment_edit(
        commitment=Commitment.objects.get(reference=reference),
        user=user_with_role(roles.REVIEWER),
        changes={"jobs_text": "1,000 jobs"},
    )
    assert partner.get(url, {"deal": "SD2"}).content == first.content  # not committed yet: still the kept answer
    commit()
    changed = partner.get(url, {"deal": "SD2"}).json()["results"][0]
    assert changed["jobs_text"] == "1,000 jobs"


@pytest.mark.usefixtures("stamped")
def test_answers_asked_at_another_host_are_their_own(partner: APIClient) -> None:
    """Paging links carry the host the list was asked at, so an answer kept for one host is not another's."""
    url = f"{V1}/commitments/"
    here = partner.get(url, HTTP_HOST="localhost")
    there = partner.get(url, HTTP_HOST="127.0.0.1")
    assert here.json()["next"].startswith("http://localhost/")
    assert there.json()["next"].startswith("http://127.0.0.1/")
    assert here["ETag"] != there["ETag"]


@pytest.mark.usefixtures("stamped")
def test_if_modified_since_from_nowhere_is_ignored(partner: APIClient, commit: Callable[[], None]) -> None:
    """A date later than any this server sent is a client's clock, not a copy; the server's own is honoured."""
    for _ in range(5):  # a burst of changes: Last-Modified moves a second each, ahead of the clock
        data_changed()
        commit()
    url = f"{V1}/commitments/"
    last_modified = partner.get(url)["Last-Modified"]
    later = max(parse_http_date(last_modified), int(timezone.now().timestamp())) + 86400
    assert partner.get(url, HTTP_IF_MODIFIED_SINCE=http_date(later)).status_code == 200
    # The server's own date is honoured even when changes have moved it ahead of the clock.
    assert partner.get(url, HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304


def test_an_account_given_a_deleted_accounts_id_gets_its_own_answers(
    api_as: Callable[[Any], APIClient], user_with_role: Callable[..., Any]
) -> None:
    """SQLite gives the id of the last account deleted to the next one made; a kept answer is not passed on.

    Nothing commits here, so the data stamp stays where it was, as when a test's deletion is rolled back.
    """
    hidden = CommitmentFactory.create(reference="HIDDEN-FROM-PARTNERS", published=False)
    url = f"{V1}/commitments/{hidden.reference}/"
    reviewer = user_with_role(roles.REVIEWER)
    staff_answer = api_as(reviewer).get(url)
    partner_answer = api_as(user_with_role(roles.PARTNER)).get(url)
    assert (staff_answer.status_code, partner_answer.status_code) == (200, 404)
    reused_id = reviewer.pk
    reviewer.delete()
    successor = user_with_role(roles.PARTNER, pk=reused_id)

    answer = api_as(successor).get(url)

    assert answer.status_code == 404
    assert hidden.reference not in answer.content.decode()
