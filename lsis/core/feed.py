"""The change feed: every change partners may see, in commit order, for partners keeping a copy in sync.

The feed knows no app. Each app registers its kinds of record (``feed_kind_register``) and says which
records a change of one of its models may change (``feed_watch``), from its ``AppConfig.ready``.

1. A writing transaction records only *which* records may have changed: a ``FeedPending`` row per kind and
   key, written in the same transaction by the watched models' signals and by code that writes in bulk
   (``feed_changed``). Key ``""`` stands for every record of the kind; a key ending in ``*``, for every
   record whose key starts with what precedes it (the figures of one quarter, say).
2. After the transaction commits, ``changes_publish`` takes the feed's lock (its ``FeedHead`` row), reads
   the pending rows, computes each named record as a partner reads it now, compares it with what the feed
   last said (``FeedState``) and appends a ``FeedEntry`` only where a partner would see a difference;
   then it deletes the pending rows it handled. All in one transaction.

Appending is serialised by the lock and reads committed data only after taking it, so sequence numbers
follow commit order, and the last entry of each record is its current state, even when two transactions
changed the same record. A process killed between a commit and the publishing leaves pending rows: the
periodic task and the endpoint itself publish them. ``changes_reconcile`` compares every record of every
kind, and writes nothing when the feed is right (docs/adr/0009-change-feed.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save
from django.utils import timezone

from lsis.core.models import FeedAction, FeedEntry, FeedHead, FeedPending, FeedState

logger = logging.getLogger(__name__)

#: Every record of a kind, as a pending key.
ALL = ""
#: A pending key ending with this stands for every key starting with what precedes it.
PREFIX = "*"
HEAD_KEY = "feed"
# Pending rows handled in one transaction, and records compared per statement: short transactions, few statements.
PUBLISH_BATCH = 1000
CHUNK = 500

Pairs = Iterable[tuple[str, str]]
Implied = Callable[[Any], Pairs]


@dataclass(frozen=True)
class FeedKind:
    """A kind of record the feed carries, and how to read it as a partner does.

    - ``records(keys)``: the records partners see among ``keys``, by key, exactly as the API gives them
      (the same code paths as its list and detail endpoints, never a second representation).
    - ``exists(keys)``: which of ``keys`` name a record that exists at all (published or not).
    - ``keys(prefix)``: the keys of every record that exists whose key starts with ``prefix`` (``""``: all).
    - ``schema``: what documents a record in the API's schema (a serializer), or None.
    """

    name: str
    records: Callable[[list[str]], dict[str, Any]]
    exists: Callable[[list[str]], set[str]]
    keys: Callable[[str], Iterable[str]]
    schema: Any = None
    description: str = ""


_kinds: dict[str, FeedKind] = {}


def feed_kind_register(kind: FeedKind) -> None:
    """Carry ``kind`` in the feed (called from an app's ``ready``); registering a name again replaces it."""
    _kinds[kind.name] = kind


def feed_kinds() -> list[FeedKind]:
    """The registered kinds, in the order they were registered (what records point to comes first)."""
    return list(_kinds.values())


# --- recording what may have changed ----------------------------------------------------------------------


class _Publish:
    """The after-commit callback of one transaction (or savepoint): publishes, and knows what it marked pending.

    Django drops the callbacks of a savepoint rolled back, and what they knew with them; so a key marked in
    a rolled-back savepoint is marked again by the next change, never taken as already pending.
    """

    def __init__(self) -> None:
        self.marked: set[tuple[str, str]] = set()
        # Django names a robust callback that failed by its __qualname__, which an instance lacks.
        self.__qualname__ = "changes_publish"

    def __call__(self) -> None:
        _publish_robustly()


def feed_changed(kind: str, key: str = ALL) -> None:
    """Record, in the current transaction, that ``kind``'s record ``key`` may have changed (``""``: any of them).

    For code that writes in bulk, bypassing the signals of the watched models. The feed is published once
    the transaction commits (at once outside a transaction); saying so twice writes one pending row.
    """
    feed_changed_many([(kind, key)])


def feed_changed_many(pairs: Pairs) -> None:
    """``feed_changed`` for each (kind, key) of ``pairs``."""
    wanted = list(dict.fromkeys((kind, str(key)) for kind, key in pairs))
    if not wanted:
        return
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        FeedPending.objects.bulk_create([FeedPending(kind=kind, key=key) for kind, key in wanted])
        _publish_robustly()
        return
    callbacks = [(sids, callback) for sids, callback, _ in connection.run_on_commit if isinstance(callback, _Publish)]
    marked = set().union(*(callback.marked for _, callback in callbacks))
    new = [(kind, key) for kind, key in wanted if (kind, key) not in marked and (kind, ALL) not in marked]
    if not new:
        return
    FeedPending.objects.bulk_create([FeedPending(kind=kind, key=key) for kind, key in new])
    here = set(connection.savepoint_ids)
    holder = next((callback for sids, callback in callbacks if sids == here), None)
    if holder is None:
        holder = _Publish()
        # Robust: the data has committed by then; a failure here must not fail the request (the sweep repairs it).
        transaction.on_commit(holder, robust=True)
    holder.marked.update(new)


def _publish_robustly() -> None:
    try:
        changes_publish()
    except Exception:  # the change itself has committed; the periodic sweep publishes it
        logger.exception("Publishing the change feed failed; the periodic sweep will publish it.")


# --- the watched models' signals ----------------------------------------------------------------------------

_implied: dict[type[models.Model], list[Implied]] = defaultdict(list)


def feed_watch(model: type[models.Model], implied: Implied, *, before_save: Implied | None = None) -> None:
    """On every save, delete and many-to-many change of ``model``, mark pending the records ``implied`` names.

    ``implied(instance)`` names the (kind, key) pairs whose records a change of ``instance`` may change:
    its own, and those that show something of it (over-approximate: the comparison drops what did not
    change). It is called after a save and before a delete (while what points to the record is still
    there). ``before_save(instance)`` is called before a save, to name what only the stored row knows (the
    record's key before a rename, the commitments it was linked to).
    """
    _implied[model].append(implied)
    uid = f"feed-{model._meta.label_lower}"
    post_save.connect(_on_save, sender=model, dispatch_uid=uid)
    pre_delete.connect(_on_delete, sender=model, dispatch_uid=uid)
    if before_save is not None:
        pre_save.connect(_before_save(before_save), sender=model, weak=False, dispatch_uid=f"{uid}-{id(before_save)}")
    for field in model._meta.many_to_many:
        through: Any = field.remote_field.through
        m2m_changed.connect(_on_m2m_change, sender=through, dispatch_uid=f"feed-{through._meta.label_lower}")


def _implied_by(instance: models.Model) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for implied in _implied.get(type(instance), ()):
        pairs.extend(implied(instance))
    return pairs


def _on_save(sender: Any, instance: models.Model, **kwargs: Any) -> None:
    if kwargs.get("raw"):  # loaddata: reconcile afterwards (``changes_reconcile``)
        return
    feed_changed_many(_implied_by(instance))


def _on_delete(sender: Any, instance: models.Model, **kwargs: Any) -> None:
    feed_changed_many(_implied_by(instance))


def _before_save(before_save: Implied) -> Callable[..., None]:
    def receiver(sender: Any, instance: models.Model, **kwargs: Any) -> None:
        if kwargs.get("raw") or instance.pk is None:
            return
        feed_changed_many(before_save(instance))

    return receiver


def _on_m2m_change(sender: Any, instance: models.Model, action: str, **kwargs: Any) -> None:
    """Both ends of a link changed: the record holding the link and each record linked to or from."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    other: Any = kwargs["model"]
    pk_set = kwargs.get("pk_set")
    if action == "pre_clear":
        # What is about to be unlinked: the through rows pointing to ``instance`` name the other ends.
        links = [f for f in sender._meta.fields if f.is_relation]
        mine = next((f for f in links if f.related_model is type(instance)), None)
        theirs = next((f for f in links if f.related_model is other and f is not mine), None)
        if mine is not None and theirs is not None:
            pk_set = set(sender.objects.filter(**{mine.name: instance.pk}).values_list(theirs.attname, flat=True))
    pairs = _implied_by(instance)
    if pk_set and other in _implied:
        for linked in other.objects.filter(pk__in=pk_set):
            pairs.extend(_implied_by(linked))
    feed_changed_many(pairs)


# --- publishing -----------------------------------------------------------------------------------------


def changes_publish() -> int:
    """Append to the feed what the pending rows name and a partner would see changed; return the entries written.

    Called after every commit that marked something pending, by the periodic sweep, and by the feed's
    endpoint when rows are pending. Each batch is one short transaction holding the feed's lock.
    """
    written = 0
    while True:
        count, more = _publish_batch()
        written += count
        if not more:
            break
    # What this connection's transaction marked so far is published now (when publishing ran inside it): a
    # later change of the same records must mark them again.
    for _, callback, _ in transaction.get_connection().run_on_commit:
        if isinstance(callback, _Publish):
            callback.marked.clear()
    return written


def changes_pending() -> bool:
    """Whether some change has not been published yet."""
    return FeedPending.objects.exists()


@transaction.atomic
def changes_reconcile() -> int:
    """Compare every record of every kind with the feed and append what differs; return the entries written.

    The nightly repair of anything a bulk write failed to mark (and of what the day changes: a commitment
    becomes overdue when its date passes). Writes nothing when the feed is right.
    """
    head, _ = _lock_head()
    written = _compare_all(head, {kind.name: {ALL} for kind in feed_kinds()})
    head.save(update_fields=["seq"])
    return written


@transaction.atomic
def _publish_batch() -> tuple[int, bool]:
    head, created = _lock_head()
    # Read after the lock is held: every pending row read here belongs to a committed change, and every
    # record read below is at least as new as that change.
    rows = list(FeedPending.objects.order_by("pk").values_list("pk", "kind", "key")[: PUBLISH_BATCH + 1])
    more, rows = len(rows) > PUBLISH_BATCH, rows[:PUBLISH_BATCH]
    wanted: dict[str, set[str]] = defaultdict(set)
    if created:
        # A new feed (the first publishing after installation) starts with every record there is.
        wanted.update({kind.name: {ALL} for kind in feed_kinds()})
    elif not rows:
        return 0, False
    for _, kind, key in rows:
        wanted[kind].add(key)
    written = _compare_all(head, wanted)
    head.save(update_fields=["seq"])
    FeedPending.objects.filter(pk__in=[pk for pk, _, _ in rows]).delete()
    return written, more


def _lock_head() -> tuple[FeedHead, bool]:
    """The feed's head row, locked; and whether this call created it (a feed starting afresh)."""
    head = FeedHead.objects.select_for_update().filter(key=HEAD_KEY).first()
    if head is not None:
        return head, False
    _, created = FeedHead.objects.get_or_create(key=HEAD_KEY)
    return FeedHead.objects.select_for_update().get(key=HEAD_KEY), created


def _compare_all(head: FeedHead, wanted: dict[str, set[str]]) -> int:
    written = 0
    for name in sorted(wanted, key=_kind_order):
        kind = _kinds.get(name)
        if kind is None:
            logger.warning("The change feed has no kind %r; its pending rows are dropped.", name)
            continue
        keys = sorted(_expand(kind, wanted[name]))
        for start in range(0, len(keys), CHUNK):
            written += _compare(kind, keys[start : start + CHUNK], head)
    return written


def _kind_order(name: str) -> int:
    order = list(_kinds)
    return order.index(name) if name in _kinds else len(order)


def _expand(kind: FeedKind, keys: Collection[str]) -> set[str]:
    """The keys named, each prefix expanded to the records it covers, those the feed last showed included."""
    plain = {key for key in keys if key != ALL and not key.endswith(PREFIX)}
    prefixes = {key.removesuffix(PREFIX) for key in keys if key == ALL or key.endswith(PREFIX)}
    if ALL in prefixes:
        prefixes = {ALL}
    for prefix in prefixes:
        plain.update(kind.keys(prefix))
        states = FeedState.objects.filter(kind=kind.name)
        if prefix:
            states = states.filter(key__startswith=prefix)
        plain.update(states.values_list("key", flat=True))
    return plain


def canonical(record: Any) -> Any:
    """``record`` as JSON reads it back: what the feed stores, and what its digest is of."""
    return json.loads(json.dumps(record, cls=DjangoJSONEncoder))


def _digest(record: Any) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _compare(kind: FeedKind, keys: list[str], head: FeedHead) -> int:
    """Append an entry for each of ``keys`` whose record a partner would see differently from the feed's last."""
    current = kind.records(keys)
    absent = [key for key in keys if key not in current]
    existing = kind.exists(absent) if absent else set()
    states = {state.key: state for state in FeedState.objects.filter(kind=kind.name, key__in=keys)}
    now = timezone.now()
    entries: list[FeedEntry] = []
    kept: list[FeedState] = []
    forgotten: list[int] = []
    for key in keys:
        state = states.get(key)
        seen = state is not None and state.visible
        record = None
        if key in current:
            record = canonical(current[key])
            digest = _digest(record)
            if seen and state is not None and state.digest == digest:
                continue
            action = FeedAction.UPDATED if seen else FeedAction.CREATED
        elif seen:
            digest = ""
            action = FeedAction.WITHDRAWN if key in existing else FeedAction.DELETED
        else:
            # Never shown to partners, or already withdrawn: nothing to tell them. A record gone is forgotten.
            if state is not None and key not in existing:
                forgotten.append(state.pk)
            continue
        head.seq += 1
        entries.append(FeedEntry(seq=head.seq, kind=kind.name, key=key, action=action, record=record, at=now))
        if action == FeedAction.DELETED:
            assert state is not None  # noqa: S101 - seen implies a state
            forgotten.append(state.pk)
        else:
            visible = action != FeedAction.WITHDRAWN
            kept.append(FeedState(kind=kind.name, key=key, digest=digest, visible=visible, seq=head.seq))
    FeedEntry.objects.bulk_create(entries)
    if kept:
        FeedState.objects.bulk_create(
            kept,
            update_conflicts=True,
            unique_fields=["kind", "key"],
            update_fields=["digest", "visible", "exists", "seq"],
        )
    if forgotten:
        FeedState.objects.filter(pk__in=forgotten).delete()
    return len(entries)


def stored_values(instance: models.Model, *fields: str) -> dict[str, Any] | None:
    """The stored row's ``fields`` of ``instance`` (for ``before_save``: what a save is about to change), or None."""
    if instance.pk is None:
        return None
    return type(instance)._default_manager.filter(pk=instance.pk).values(*fields).first()


def changed_fields(instance: models.Model, *fields: str) -> dict[str, Any] | None:
    """The stored values of those of ``fields`` a save of ``instance`` is about to change (None if none or new)."""
    before = stored_values(instance, *fields)
    if before is None:
        return None
    changed = {name: value for name, value in before.items() if getattr(instance, name) != value}
    return changed or None


def feed_head() -> FeedHead:
    """The feed's head (its epoch and last sequence number); a new feed is filled with every record first."""
    head = FeedHead.objects.filter(key=HEAD_KEY).first()
    if head is None:
        changes_publish()
        head = FeedHead.objects.get(key=HEAD_KEY)
    return head
