"""Periodic jobs' heartbeats: each successful run of a watched job records when it finished."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from lsis.core.models import JobHeartbeat


def job_heartbeat_record(*, name: str) -> None:
    """Record that the job ``name`` has just finished successfully (its row is created or overwritten).

    One statement (an insert that updates the existing row on conflict), so two runs finishing together
    both succeed and the later time wins; atomic by itself, it needs no transaction of its own. Written in
    bulk, it sends no signals: the data stamp and the change feed do not move.
    """
    JobHeartbeat.objects.bulk_create(
        [JobHeartbeat(name=name, succeeded_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=["succeeded_at"],
    )


def job_heartbeat_last_success(*, name: str) -> datetime | None:
    """When the job ``name`` last finished successfully, or None if it never has (one query)."""
    return JobHeartbeat.objects.filter(name=name).values_list("succeeded_at", flat=True).first()
