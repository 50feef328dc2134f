"""How a seed run writes a record: tagged in its history as seeded, and corrected only where staff have not edited it.

Seeding is idempotent and never overwrites staff edits: a record is identified by its natural key
(document code, organisation name, commitment reference, funding key, ...); a missing record is created,
an existing one is left exactly as it is, whoever last changed it (docs/adr/0001-domain-model.md).

``python manage.py seed --apply-corrections`` is the one deliberate exception, for databases seeded from
earlier fixtures: each record the seed wrote is brought to what the fixtures now say, each change
recorded in the history with a reason naming it, and every record staff have changed since the seed last
wrote it is left alone and reported (docs/fixtures.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models

if TYPE_CHECKING:
    from commitments.seeding.context import SeedContext

SEED_REASON = "Loaded from fixtures by seed"
# The history reason of a correction starts with this and names what it corrected.
CORRECTION_REASON = "Fixture correction"
# History entries the seed (or a correction) wrote, as opposed to staff.
WRITTEN_BY_SEED = models.Q(history_change_reason=SEED_REASON) | models.Q(
    history_change_reason__startswith=CORRECTION_REASON
)


def save(instance: Any, *, reason: str = SEED_REASON) -> None:
    """Validate and save a new record, tagging its history entry as seeded (or as a correction)."""
    instance.full_clean(validate_unique=False, validate_constraints=False)
    instance._change_reason = reason[:100]
    instance.save()


def seeded_as(record: Any) -> Any | None:
    """The record as the seed (or a correction) last wrote it: its latest history entry written by either."""
    return record.history.filter(WRITTEN_BY_SEED).order_by("-history_date", "-history_id").first()


def edited_since_seeded(record: Any, names: Any) -> list[str]:
    """The fields among ``names`` that someone other than the seed has changed since the seed last wrote them."""
    seeded = seeded_as(record)
    if seeded is None:
        return list(names)
    return [name for name in names if getattr(seeded, name) != getattr(record, name)]


def correct(ctx: SeedContext, record: Any, desired: dict[str, Any], label: str) -> None:
    """Bring a record the seed wrote to the fixtures' values, unless staff have edited it since.

    Each correction is one save whose history reason names the record and the fields corrected; a record
    with a field staff changed (among those the fixtures transcribe) is left as it is and reported.
    """
    changed = [name for name, value in desired.items() if getattr(record, name) != value]
    if not changed:
        return
    edited = edited_since_seeded(record, desired)
    if edited:
        ctx.report.skipped.append(f"{label}: {', '.join(edited)} edited; fixtures would change {', '.join(changed)}")
        return
    for name in changed:
        setattr(record, name, desired[name])
    fields = ", ".join(name.removesuffix("_id") for name in changed)
    try:
        save(record, reason=f"{CORRECTION_REASON}: {label} ({fields})")
    except ValidationError as error:
        ctx.error(label, f"the correction of {fields} does not validate: {error}")
        return
    ctx.report.corrected.append(f"{label}: {fields}")


def link_set(ctx: SeedContext, place: str, record: Any, field_name: str, key: str, target: Any) -> None:
    """Set a link of a record created in this run to ``target`` (named ``key``), once every record exists."""
    setattr(record, field_name, target)
    try:
        record.full_clean(validate_unique=False, validate_constraints=False)
    except Exception as error:
        ctx.error(place, f"{field_name} {key}: {error}")
        return
    record._change_reason = SEED_REASON
    record.save(update_fields=[field_name])


def link_correct(ctx: SeedContext, record: Any, field_name: str, target: Any, label: str) -> None:
    """Correct a link of a record that existed before this run to ``target`` (None: no link)."""
    record.refresh_from_db()
    correct(ctx, record, {f"{field_name}_id": getattr(target, "pk", None)}, label)
