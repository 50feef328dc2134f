"""Open-data releases of signed-off quarters: publishing a version, and reading the versions published.

When the board signs a quarter off (``metrics.services.quarter_lock``), the quarter's release is published by
the task ``metrics.publish_release`` (``release_publish_signed_off``) once the sign-off has committed;
reviewers publish a restatement (a new version) when the data of a signed-off quarter has been corrected
since. A version is never changed (``metrics.release_models``), and publishing data equal to the latest
version's makes none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from commitments.periods import Quarter
from lsis.core.changes import data_changed
from metrics.models import Release, ReleaseFile, ReportingQuarter
from metrics.release_files import build_files, release_data

logger = logging.getLogger(__name__)

PUBLISH_PERMISSION = "metrics.publish_release"
VIEW_PERMISSION = "metrics.view_release"
_LOCK_KEY = 0x4C53_5245  # "LSRE": one publication of a quarter at a time


class QuarterNotSignedOffError(ValidationError):
    """Only a quarter the board has signed off has a release."""


@dataclass(frozen=True)
class PublishResult:
    """The release that holds the data now, and whether this call published it."""

    release: Release
    created: bool


def may_publish_releases(user: Any) -> bool:
    """Whether the user may publish a restatement (reviewers, ``commitments.roles``)."""
    return bool(user and user.is_authenticated and user.has_perm(PUBLISH_PERMISSION))


def release_publish(*, quarter: Quarter, user: Any, note: str = "") -> PublishResult:
    """Publish the open data of a signed-off ``quarter`` as a new version, unless the latest holds the same data.

    Needs ``publish_release`` (403 otherwise); a quarter not signed off is refused. ``note`` says why the
    version restates the one before. The files are built from the database, the same bytes for the same data.
    """
    if not may_publish_releases(user):
        raise PermissionDenied("You do not have permission to publish a quarter's open data.")
    reporting = ReportingQuarter.objects.filter(year=quarter.year, number=quarter.number).first()
    if reporting is None or not reporting.is_locked:
        raise QuarterNotSignedOffError(
            f"{quarter.label} has not been signed off; its open data is published when the board signs it off."
        )
    return _publish(reporting_id=reporting.pk, user=user, note=note.strip())


def release_publish_signed_off(*, quarter_id: int) -> PublishResult | None:
    """Publish the release of a quarter just signed off (the task's work): as the person who signed it off.

    The sign-off is what authorises the first release. Safe to run twice: the second finds the same data
    published. None for a quarter that is not (or no longer) signed off.
    """
    reporting = ReportingQuarter.objects.filter(pk=quarter_id).first()
    if reporting is None or not reporting.is_locked:
        return None
    return _publish(reporting_id=reporting.pk, user=reporting.locked_by, note="")


@transaction.atomic
def _publish(*, reporting_id: int, user: Any, note: str) -> PublishResult:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_KEY, reporting_id])
    reporting = ReportingQuarter.objects.select_for_update().get(pk=reporting_id)
    data = release_data(reporting)
    latest = Release.objects.filter(quarter=reporting).order_by("-version").first()
    if latest is not None and latest.content_sha256 == data.data_digest:
        return PublishResult(latest, created=False)
    version = latest.version + 1 if latest is not None else 1
    now = timezone.now()
    files = build_files(data, quarter_label=reporting.quarter.label, version=version, issued=timezone.localdate(now))
    release = Release.objects.create(
        quarter=reporting,
        version=version,
        published_at=now,
        published_by=user if getattr(user, "is_authenticated", False) else None,
        note=note,
        content_sha256=data.data_digest,
    )
    ReleaseFile.objects.bulk_create(
        [
            ReleaseFile(
                release=release,
                name=built.name,
                media_type=built.media_type,
                content=built.content,
                sha256=built.sha256,
                size=len(built.content),
                position=position,
            )
            for position, built in enumerate(files)
        ]
    )
    data_changed()
    logger.info("Published %s", release)
    return PublishResult(release, created=True)


# --- reads --------------------------------------------------------------------------------------------------


def releases_list(*, quarter: Quarter | None = None) -> QuerySet[Release]:
    """Published releases, latest quarter first and each quarter's latest version first, with their files."""
    rows = Release.objects.select_related("quarter").prefetch_related(files_prefetch())
    if quarter is not None:
        rows = rows.filter(quarter__year=quarter.year, quarter__number=quarter.number)
    return rows.order_by("-quarter__year", "-quarter__number", "-version")


def files_prefetch() -> Prefetch:
    """The files of releases, without their bytes (listed, not downloaded)."""
    return Prefetch("files", queryset=ReleaseFile.objects.defer("content").order_by("position"))


def release_find(*, quarter: Quarter, version: int) -> Release | None:
    """One version of a quarter's release, or None."""
    return releases_list(quarter=quarter).filter(version=version).first()


def release_file_find(*, release: Release, name: str) -> ReleaseFile | None:
    """One file of a release, with its bytes, or None."""
    return ReleaseFile.objects.filter(release=release, name=name).first()
