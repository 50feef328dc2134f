"""Open-data releases of signed-off quarters: their files on the seeded data, versions, permissions, admin, page.

The files are checked as a reader would check them: CSV parsed per RFC 4180 against the CSV on the Web metadata
that describes it, and the 360Giving package validated against the standard's own schemas (no network).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.test import Client
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from commitments import roles
from commitments.models import Commitment, OrganisationKind
from commitments.periods import Quarter
from commitments.services import commitment_set_published, update_approve, update_create, update_submit
from metrics import tasks
from metrics.models import Release, ReleaseFile, ReportingQuarter
from metrics.release_files import FILE_NAMES, build_files, release_data
from metrics.release_models import ReleaseImmutableError
from metrics.releases import QuarterNotSignedOffError, release_publish
from metrics.services import quarter_lock
from programmes.models import AmountNature, FundingAmount
from tests.helpers import correct_text

QUARTER = Quarter(2019, 1)
STANDARDS = Path(settings.BASE_DIR).parent / "shared" / "standards" / "360giving"
GOVERNMENT = {OrganisationKind.GOVERNMENT_DEPARTMENT, OrganisationKind.AGENCY_REGULATOR}


@pytest.fixture(autouse=True)
def _eager_tasks(settings: Any) -> None:
    """Tasks run in-process, as on the embedded default, even when the suite runs with a broker: the release
    a sign-off enqueues is published before the test reads it."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


@pytest.fixture
def reviewer(user_with_role: Callable[..., Any]) -> Any:
    """A reviewer: signs quarters off and publishes restatements."""
    return user_with_role(roles.REVIEWER)


@pytest.fixture
def released(reviewer: Any, commit: Callable[[], None]) -> Release:
    """2019-20 Q1 signed off by a reviewer, and what the sign-off published once it committed."""
    quarter_lock(quarter=QUARTER, user=reviewer)
    commit()  # the sign-off's transaction commits: the task publishes the release (eagerly, without a broker)
    return Release.objects.get(quarter__year=QUARTER.year, quarter__number=QUARTER.number)


def files_of(release: Release) -> dict[str, bytes]:
    """Each file's bytes, by name."""
    return {row.name: bytes(row.content) for row in ReleaseFile.objects.filter(release=release)}


def parsed(content: bytes) -> list[list[str]]:
    """The records of an RFC 4180 file (strict: a malformed quote fails)."""
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline=""), strict=True))


def metadata_of(files: dict[str, bytes]) -> dict[str, Any]:
    """The CSV on the Web metadata."""
    return json.loads(files["csv-metadata.json"])


# --- publication -------------------------------------------------------------------------------------------


def test_signing_a_quarter_off_publishes_version_1_with_every_file(released: Release, reviewer: Any) -> None:
    assert released.version == 1
    assert released.published_by == reviewer
    assert released.note == ""
    rows = list(ReleaseFile.objects.filter(release=released))
    assert [row.name for row in rows] == list(FILE_NAMES)
    for row in rows:
        assert row.size == len(bytes(row.content))
        assert row.sha256 == hashlib.sha256(bytes(row.content)).hexdigest()


def test_a_quarter_not_signed_off_has_no_release(reviewer: Any) -> None:
    with pytest.raises(QuarterNotSignedOffError):
        release_publish(quarter=QUARTER, user=reviewer)
    assert not Release.objects.exists()


def test_only_those_who_may_publish_releases_do(released: Release, user_with_role: Callable[..., Any]) -> None:
    for role in (roles.EDITOR, roles.BOARD_MEMBER, roles.PARTNER, roles.ADMINISTRATOR):
        with pytest.raises(PermissionDenied):
            release_publish(quarter=QUARTER, user=user_with_role(role), note="Corrected")
    assert Release.objects.count() == 1


def test_publishing_the_same_data_again_makes_no_new_version(released: Release, reviewer: Any) -> None:
    again = release_publish(quarter=QUARTER, user=reviewer, note="Nothing changed")
    assert not again.created
    assert again.release == released
    assert tasks.publish_release(released.quarter_id) == 1  # the task, run twice, publishes nothing more
    assert Release.objects.count() == 1


def test_the_same_data_gives_the_same_bytes(released: Release) -> None:
    reporting = released.quarter
    first = build_files(release_data(reporting), quarter_label="2019-20 Q1", version=1, issued=date(2026, 1, 1))
    second = build_files(release_data(reporting), quarter_label="2019-20 Q1", version=1, issued=date(2026, 1, 1))
    assert [(built.name, built.content) for built in first] == [(built.name, built.content) for built in second]
    stored = files_of(released)
    for built in first:  # the data tables are those published; only the metadata carries the day of issue
        if built.name.endswith(".csv"):
            assert built.content == stored[built.name]


def test_a_release_never_changes_and_a_restatement_is_a_new_version(released: Release, reviewer: Any) -> None:
    before = files_of(released)
    commitment = Commitment.objects.get(reference="SD2-PEOPLE-G1")
    correct_text("SD2-PEOPLE-G1", commitment.text + " (corrected)")

    assert files_of(Release.objects.get(pk=released.pk)) == before  # edited after publication: unchanged
    released.note = "changed"
    with pytest.raises(ReleaseImmutableError):
        released.save()
    with pytest.raises(ReleaseImmutableError):
        released.delete()
    with pytest.raises(ReleaseImmutableError):
        ReleaseFile.objects.filter(release=released).update(content=b"")
    with pytest.raises(ReleaseImmutableError):
        Release.objects.filter(pk=released.pk).delete()

    restated = release_publish(quarter=QUARTER, user=reviewer, note="The text of SD2-PEOPLE-G1 corrected")
    assert restated.created
    assert restated.release.version == 2
    assert restated.release.note == "The text of SD2-PEOPLE-G1 corrected"
    assert files_of(Release.objects.get(pk=released.pk)) == before  # version 1 byte for byte
    after = files_of(restated.release)
    assert b"(corrected)" in after["commitments.csv"]
    assert after["delivery.csv"] == before["delivery.csv"]
    assert not release_publish(quarter=QUARTER, user=reviewer).created  # and no version 3 for the same data


# --- the CSV files and their metadata ----------------------------------------------------------------------


def _valid(value: str, datatype: str) -> bool:
    try:
        if datatype == "date":
            date.fromisoformat(value)
        elif datatype == "decimal":
            Decimal(value)
        elif datatype == "integer":
            int(value)
        elif datatype == "boolean":
            return value in ("true", "false")
        elif datatype == "anyURI":
            return value.startswith(("http://", "https://"))
    except ValueError:
        return False
    return True


def test_csv_files_follow_rfc_4180_and_their_csvw_description(released: Release) -> None:
    files = files_of(released)
    metadata = metadata_of(files)
    assert metadata["@context"] == "http://www.w3.org/ns/csvw"
    assert "Open Government Licence v3.0" in json.dumps(metadata["dc:license"])
    assert metadata["dc:publisher"] == "Office for Life Sciences"
    assert metadata["dc:issued"]["@value"] == released.published_at.date().isoformat()
    assert metadata["dialect"]["lineTerminators"] == ["\r\n"]
    assert [table["url"] for table in metadata["tables"]] == ["commitments.csv", "delivery.csv", "funding.csv"]
    keys: dict[str, set[str]] = {}
    for table in metadata["tables"]:
        content = files[table["url"]]
        assert not content.startswith(b"\xef\xbb\xbf")  # no byte-order mark
        assert content.endswith(b"\r\n")
        assert b"\n" not in content.replace(b"\r\n", b"")  # every line end outside a quoted field is CRLF
        records = parsed(content)
        columns = table["tableSchema"]["columns"]
        assert records[0] == [column["name"] for column in columns]  # every column described, in order
        assert len(records) > 1
        for record in records[1:]:
            assert len(record) == len(columns)
            for value, column in zip(record, columns, strict=True):
                assert value or not column["required"], (table["url"], column["name"], record[0])
                assert not value or _valid(value, column["datatype"]), (table["url"], column["name"], value)
        key = table["tableSchema"]["primaryKey"]
        position = records[0].index(key)
        values = [record[position] for record in records[1:]]
        assert len(set(values)) == len(values), f"{table['url']}: {key} repeats"
        keys[table["url"]] = set(values)
    (foreign,) = metadata["tables"][1]["tableSchema"]["foreignKeys"]
    assert foreign["reference"]["resource"] == "commitments.csv"
    assert keys["delivery.csv"] == keys["commitments.csv"]


def test_the_files_hold_published_data_only(released: Release) -> None:
    unpublished = Commitment.objects.filter(published=False)
    commitment_set_published(
        commitment=Commitment.objects.get(reference="SD2-PEOPLE-G4"), user=released.published_by, published=False
    )
    files = files_of(release_publish(quarter=QUARTER, user=released.published_by, note="Withdrawn").release)
    references = {record[0] for record in parsed(files["commitments.csv"])[1:]}
    assert "SD2-PEOPLE-G4" not in references
    assert not references & set(unpublished.values_list("reference", flat=True))
    funding = parsed(files["funding.csv"])
    position = funding[0].index("commitment")
    assert {record[position] for record in funding[1:]} - {""} <= references
    assert b"owner" not in parsed(files["commitments.csv"])[0][0].encode()  # who owns it: never, only the team


def test_delivery_is_each_commitments_state_at_the_quarter_end(released: Release, reviewer: Any) -> None:
    records = parsed(files_of(released)["delivery.csv"])
    header = records[0]
    rows = {record[0]: dict(zip(header, record, strict=True)) for record in records[1:]}
    assert set(rows) == set(
        Commitment.objects.filter(published=True, deal__published_on__lte=QUARTER.end).values_list(
            "reference", flat=True
        )
    )
    for row in rows.values():
        assert row["status"] in {"not_started", "in_progress", "delivered", "not_being_pursued"}
        assert (row["governing_update"] == "") == (row["as_of"] == "")
        assert not row["as_of"] or date.fromisoformat(row["as_of"]) <= QUARTER.end


def test_an_update_approved_after_sign_off_is_published_as_a_restatement(
    released: Release, reviewer: Any, user_with_role: Callable[..., Any]
) -> None:
    before = files_of(released)
    author = user_with_role(roles.EDITOR)
    update = update_create(
        commitment=Commitment.objects.get(reference="SD2-PEOPLE-G1"),
        author=author,
        as_of=date(2019, 6, 1),
        status="delivered",
        narrative="Delivered in May 2019, reported late.",
    )
    update = update_approve(update=update_submit(update=update, user=author), reviewer=reviewer)
    restated = release_publish(quarter=QUARTER, user=reviewer, note="A late update for SD2-PEOPLE-G1").release
    assert restated.version == 2
    records = parsed(files_of(restated)["delivery.csv"])
    row = next(dict(zip(records[0], record, strict=True)) for record in records if record[0] == "SD2-PEOPLE-G1")
    assert row["status"] == "delivered"
    assert row["progress"] == "100"
    assert row["as_of"] == "2019-06-01"
    assert row["governing_update"] == str(update.uuid)
    assert files_of(Release.objects.get(pk=released.pk)) == before


def test_signing_off_in_the_admin_publishes_the_release(reviewer: Any, django_capture_on_commit_callbacks: Any) -> None:
    client = Client()
    client.force_login(reviewer)
    reporting = ReportingQuarter.objects.get_or_create(year=QUARTER.year, number=QUARTER.number)[0]
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            "/admin/metrics/reportingquarter/",
            {"action": "sign_off_selected", "_selected_action": [str(reporting.pk)], "confirm": "yes"},
        )
    assert answer.status_code == 302
    release = Release.objects.get(quarter=reporting)
    assert release.version == 1
    assert release.published_by == reviewer


# --- 360Giving ---------------------------------------------------------------------------------------------


def giving_validator() -> Draft202012Validator:
    """The package schema, its reference to the grant schema resolved to the local copy.

    The schemas name their dialect as ``http://json-schema.org/draft/2020-12/schema``, which ``referencing``
    does not recognise by that spelling: their resources are made as Draft 2020-12 explicitly.
    """
    package = json.loads((STANDARDS / "360-giving-package-schema.json").read_text())
    grant = json.loads((STANDARDS / "360-giving-schema.json").read_text())
    grant_resource = DRAFT202012.create_resource(grant)
    registry = Registry().with_resources(
        [
            (package["$id"], DRAFT202012.create_resource(package)),
            (grant["$id"], grant_resource),
            # The package schema names the grant schema by its earlier address.
            (package["properties"]["grants"]["items"]["$ref"], grant_resource),
        ]
    )
    return Draft202012Validator(package, registry=registry, format_checker=_formats())


def _formats() -> FormatChecker:
    """Formats checked as the standard means them: its dates are ``oneOf`` a date-time or a plain date.

    ``jsonschema`` checks ``date-time`` only with an optional package; without it every string passes as a
    date-time, and a plain date would then match both branches.
    """
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if "T" not in value.upper():
            raise ValueError(f"{value} has no time")
        datetime.fromisoformat(value)
        return True

    return checker


def test_the_grants_are_a_valid_360giving_package(released: Release) -> None:
    package = json.loads(files_of(released)["funding-360giving.json"])
    giving_validator().validate(package)
    assert package["version"] == "1.4"
    assert "360Giving" in package["description"]
    assert "Creative Commons Attribution 4.0" in package["description"]
    assert any("360Giving" in note["body"] for note in metadata_of(files_of(released))["notes"])


def test_only_government_grants_are_in_the_package_every_value_from_the_database(released: Release) -> None:
    package = json.loads(files_of(released)["funding-360giving.json"])
    assert package["grants"]
    for grant in package["grants"]:
        amount = FundingAmount.objects.select_related("funder", "commitment__deal").get(
            key=grant["id"].removeprefix("360G-ols-lsis-")
        )
        assert amount.nature == AmountNature.NEW_MONEY
        assert amount.funder is not None
        assert amount.funder.kind in GOVERNMENT
        assert amount.commitment is not None
        assert amount.commitment.published
        assert Decimal(str(grant["amountAwarded"])) == amount.low == amount.high
        assert grant["awardDate"] == amount.commitment.deal.published_on.isoformat()
        assert grant["fundingOrganization"] == [
            {"id": f"360G-ols-lsis-org-{amount.funder.uuid}", "name": amount.funder.name}
        ]
        (recipient,) = grant["recipientOrganization"]
        assert amount.commitment.involvements.filter(role="lead", organisation__name=recipient["name"]).exists()
    # Money that is not a grant stays out: the £15.6m grant already made, targets, leveraged money, context.
    keys = {grant["id"].removeprefix("360G-ols-lsis-") for grant in package["grants"]}
    not_grants = FundingAmount.objects.exclude(nature=AmountNature.NEW_MONEY).values_list("key", flat=True)
    assert not keys & set(not_grants)
    assert "left out" in package["description"]
    assert any("not grants" in note["body"] for note in metadata_of(files_of(released))["notes"])


# --- the task, the command, the admin and the page ---------------------------------------------------------


def test_the_task_publishes_once_whatever_the_runs(reviewer: Any) -> None:
    reporting = quarter_lock(quarter=QUARTER, user=reviewer)  # its callback not run: as if the broker was down
    assert not Release.objects.exists()
    assert tasks.publish_release(reporting.pk) == 1
    assert tasks.publish_release(reporting.pk) == 1
    assert Release.objects.count() == 1
    assert tasks.publish_release(ReportingQuarter.objects.get(year=2019, number=2).pk) is None  # not signed off


def test_the_command_publishes_a_restatement(released: Release, reviewer: Any) -> None:
    out = io.StringIO()
    call_command("publish_release", "--quarter", "2019-20-Q1", stdout=out)
    assert "no new version" in out.getvalue()
    correct_text("SD2-PEOPLE-G1", "Corrected text")
    call_command("publish_release", "--quarter", "2019-20-Q1", "--note", "Target date corrected", stdout=out)
    assert "Published 2019-20-Q1-v2" in out.getvalue()
    assert Release.objects.get(version=2).note == "Target date corrected"
    with pytest.raises(CommandError, match="not been signed off"):
        call_command("publish_release", "--quarter", "2019-20-Q2")
    with pytest.raises(CommandError, match="not a quarter"):
        call_command("publish_release", "--quarter", "2019-20-Q7")


def _admin_action(client: Client, quarter: ReportingQuarter, **extra: str) -> Any:
    return client.post(
        "/admin/metrics/reportingquarter/",
        {"action": "publish_restatement", "_selected_action": [str(quarter.pk)], **extra},
    )


def test_reviewers_publish_a_restatement_from_the_admin(
    released: Release, reviewer: Any, client_for: Callable[[str], Client]
) -> None:
    client = Client()
    client.force_login(reviewer)
    asked = _admin_action(client, released.quarter)
    assert asked.status_code == 200
    assert b"Publish a restatement" in asked.content
    assert _admin_action(client, released.quarter, confirm="yes").status_code == 200  # a note is needed
    correct_text("SD2-PEOPLE-G1", "Corrected text")
    done = _admin_action(client, released.quarter, confirm="yes", reason="Text corrected")
    assert done.status_code == 302
    assert Release.objects.get(version=2).published_by == reviewer
    for role in (roles.EDITOR, roles.BOARD_MEMBER):
        assert _admin_action(client_for(role), released.quarter, confirm="yes", reason="x").status_code == 403
    assert Release.objects.count() == 2


def test_the_admin_shows_releases_read_only(released: Release, client_for: Callable[[str], Client]) -> None:
    client = client_for(roles.REVIEWER)
    assert client.get("/admin/metrics/release/").status_code == 200
    page = client.get(f"/admin/metrics/release/{released.pk}/change/")
    assert page.status_code == 200
    assert b"commitments.csv" in page.content
    assert b"SHA-256" in page.content
    assert b'name="_save"' not in page.content
    assert client.get(f"/admin/metrics/release/{released.pk}/delete/").status_code == 403
    assert client.get("/admin/metrics/release/add/").status_code == 403


def test_the_page_lists_releases_for_those_who_see_the_dashboards(
    released: Release, client_for: Callable[[str], Client]
) -> None:
    page = client_for(roles.BOARD_MEMBER).get("/open-data/")
    assert page.status_code == 200
    assert b"2019-20 Q1, version 1" in page.content
    assert b"/api/v1/releases/2019-20-Q1-v1/files/commitments.csv/" in page.content
    table = client_for(roles.BOARD_MEMBER).get("/open-data/", {"download": "releases"})
    assert table["Content-Type"].startswith("text/csv")
    assert b"Delivery state at the quarter's end" in table.content
    # The page's links download the files as published, signed in as for the page.
    download = client_for(roles.BOARD_MEMBER).get("/api/v1/releases/2019-20-Q1-v1/files/delivery.csv/")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == released.files.get(name="delivery.csv").sha256
    assert client_for(roles.PARTNER).get("/open-data/").status_code == 403
    assert Client().get("/open-data/").status_code == 302  # to sign in
    assert b'href="/open-data/"' in client_for(roles.BOARD_MEMBER).get("/").content
    pack = client_for(roles.BOARD_MEMBER).get("/board-pack/", {"quarter": "2019-20 Q1"})
    assert b'href="/open-data/"' in pack.content
    assert (
        b'href="/open-data/"'
        not in client_for(roles.BOARD_MEMBER).get("/board-pack/", {"quarter": "2019-20 Q2"}).content
    )
