"""The figures' labels follow a renamed record at once, not at the nightly rebuild.

Each row of figures is labelled with the name of its group (``QuarterMetric.scope_label``): a deal's
title, a theme's or an organisation's or a programme's name. When one of those records is renamed
(``commitments.hooks.RECORD_RENAMED``), the live rows of every scope that groups commitments by it are
relabelled in one statement. Which scopes those are is read from the engine's ``SCOPES`` (the path from a
commitment to the record's key and label), so a new scope needs nothing here. Figures signed off keep
the label they were signed off with.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

from commitments.models import Commitment
from lsis.core.changes import data_changed
from metrics.engine import SCOPES, Scope
from metrics.feed_kinds import every_figure_changed
from metrics.models import Basis, QuarterMetric


def _record_model(path: str) -> type[Model] | None:
    """The model a scope's path ends on (``deal__code`` → Document), or None for a commitment's own field."""
    model: Any = Commitment
    *relations, _ = path.split("__")
    for name in relations:
        model = model._meta.get_field(name).related_model
    return None if model is Commitment else model


def _scopes_labelled_by(model: type[Model]) -> list[Scope]:
    return [
        scope
        for scope in SCOPES
        if scope.key and scope.label and _record_model(scope.key) is model and _record_model(scope.label) is model
    ]


def scope_labels_follow(*, record: Model) -> int:
    """Relabel the live figures of the scopes grouped by ``record`` with its name now; return the rows changed."""
    changed = 0
    for scope in _scopes_labelled_by(type(record)):
        key = str(getattr(record, scope.key.rsplit("__", 1)[1]))  # type: ignore[union-attr]  # checked above
        label = getattr(record, scope.label.rsplit("__", 1)[1])  # type: ignore[union-attr]  # checked above
        changed += (
            QuarterMetric.objects.filter(basis=Basis.LIVE, scope_type=scope.scope_type, scope_key=key)
            .exclude(scope_label=label)
            .update(scope_label=label)
        )
    if changed:
        data_changed()  # a bulk update sends no signal: the pages' caches must still see the new names
        every_figure_changed()  # nor does the change feed hear of it: it compares every figure
    return changed
