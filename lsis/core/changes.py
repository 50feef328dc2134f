"""The data stamp: one counter that moves on whenever the data the API and the dashboards show changes.

Every save, delete and many-to-many change of a tracked model calls ``data_changed``: users, groups
and API tokens, and every model of the apps that register themselves with ``track_app`` in their
``AppConfig.ready`` (the commitments and programmes apps, and the metrics rows people read). The stamp
knows no app: each tells it which of its models to track. Code that writes in bulk, bypassing signals
(``bulk_create``, ``QuerySet.update``, raw SQL), calls it itself. The stamp moves once per transaction,
after it commits: a reader that sees the new stamp also sees the new data, and a rolled-back
transaction moves nothing.

A process killed between a commit and the stamp's move leaves the stamp behind until the next change;
the validators built on it also carry the date, so such a stale validator lasts until midnight at most.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from lsis.core.models import DataStamp

STAMP_KEY = "data"


def data_changed() -> None:
    """Move the data stamp on once the current transaction commits (at once outside a transaction).

    Called any number of times in one transaction, it moves the stamp once. If the part of the
    transaction that called it is rolled back to a savepoint, Django drops the callback with it, and
    the next call registers it again.
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(callback is _move_stamp for _, callback, _ in connection.run_on_commit):
        return
    # Robust: the data has committed by then, so a failure to move the stamp must not fail the request.
    transaction.on_commit(_move_stamp, robust=True)


def _move_stamp() -> None:
    now = int(time.time())
    with transaction.atomic():
        stamp = DataStamp.objects.select_for_update().filter(key=STAMP_KEY).first()
        if stamp is None:
            DataStamp.objects.get_or_create(key=STAMP_KEY, defaults={"changed_at": now})
            return
        stamp.version += 1
        # Strictly later in whole seconds, so that Last-Modified tells every version apart.
        stamp.changed_at = max(now, stamp.changed_at + 1)
        stamp.save(update_fields=["version", "changed_at"])


@dataclass(frozen=True)
class Stamp:
    """The data stamp as read: which database (epoch), which version, and when it changed (Unix seconds)."""

    epoch: str
    version: int
    changed_at: int


_STAMP_TABLE = DataStamp._meta.db_table
_STAMP_SQL = f'SELECT "epoch", "version", "changed_at" FROM "{_STAMP_TABLE}" WHERE "key" = %s'  # noqa: S608


def data_stamp() -> Stamp | None:
    """The current stamp, or None before the first change was recorded."""
    # Read on every API request: a fixed statement costs a fraction of building the query each time.
    with connection.cursor() as cursor:
        cursor.execute(_STAMP_SQL, [STAMP_KEY])
        row = cursor.fetchone()
    return None if row is None else Stamp(str(row[0]), int(row[1]), int(row[2]))


def request_data_stamp(request: Any) -> Stamp | None:
    """The stamp as first read while answering ``request``: its validators and caches agree on one version."""
    target = getattr(request, "_request", request)  # DRF's Request wraps Django's
    if not hasattr(target, "_data_stamp"):
        target._data_stamp = data_stamp()
    return target._data_stamp


def _on_change(sender: Any, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # loaddata: the loading code moves the stamp when it is done
        return
    data_changed()


def _on_m2m_change(sender: Any, action: str, **kwargs: Any) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        data_changed()


def _track(model: type[models.Model]) -> None:
    """Listen to every change of ``model`` and of its many-to-many relations."""
    uid = f"data-stamp-{model._meta.label_lower}"
    post_save.connect(_on_change, sender=model, dispatch_uid=uid)
    post_delete.connect(_on_change, sender=model, dispatch_uid=uid)
    for field in model._meta.local_many_to_many:
        through: Any = field.remote_field.through  # a model once the apps are ready
        m2m_changed.connect(_on_m2m_change, sender=through, dispatch_uid=f"data-stamp-{through._meta.label_lower}")


def track_app(app_config: AppConfig, *, untracked: Iterable[str] = ()) -> list[type[models.Model]]:
    """Move the stamp on every change of the app's models but ``untracked`` (model names); called from its ready().

    Leave out derived rows written in bulk: the services that write them call ``data_changed`` themselves,
    and listening to their deletes would stop Django deleting them in one statement. History tables are
    never tracked. Returns the models tracked.
    """
    skipped = {name.lower() for name in untracked}
    tracked = [
        model
        for model in app_config.get_models()
        if model._meta.model_name not in skipped and not hasattr(model, "instance_type")
    ]
    for model in tracked:
        _track(model)
    return tracked


def track_accounts() -> None:
    """Move the stamp on every change of users, groups and API tokens (called once, when apps are ready).

    API tokens: authentication results are cached under the stamp, so a revoked token stops at once.
    """
    for model in (
        apps.get_model(settings.AUTH_USER_MODEL),
        apps.get_model("auth", "Group"),
        apps.get_model("knox", "AuthToken"),
    ):
        _track(model)
