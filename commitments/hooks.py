"""Named hooks: how code in ``commitments`` tells the apps above it that something happened.

``commitments`` sits below ``programmes`` and ``metrics`` and imports neither. Where a commitment's
change matters to them (the figures must follow an edit), the service fires a named hook, and the app
that cares registers a function for it when it is ready (``AppConfig.ready``). Functions run in the
caller's transaction, in the order they were registered; a hook nobody registered for does nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

#: Fired before a change to what the figures read about some commitments (their attributes, links or
#: money), in the transaction making it: ``commitment_ids`` (the commitments concerned) and
#: ``from_date`` (the earliest day whose figures the change can move); with ``created=True``, just
#: after new commitments were added (they were in no figure before).
COMMITMENTS_CHANGING = "commitments_changing"
#: Fired before commitments are deleted, in the transaction deleting them: ``commitment_ids``.
COMMITMENTS_DELETING = "commitments_deleting"
#: Fired after an update is approved, in the approval's transaction: ``update`` and ``user`` (the reviewer).
UPDATE_APPROVED = "update_approved"
#: Fired after a commitment is published or withdrawn, in that transaction: ``commitment`` and
#: ``was_published`` (the flag before the change).
PUBLICATION_CHANGED = "publication_changed"
#: Fired after a record commitments are grouped by (an organisation, a theme, a deal, a programme) was
#: renamed, in that transaction: ``record``. The figures' rows are labelled with such names.
RECORD_RENAMED = "record_renamed"
#: Piped (``pipe``): a queryset of commitments and ``on`` (a day), annotated with ``is_overdue`` on that day.
#: Overdue is a delivery rule, which the metrics app holds (``metrics.rules``); the API reads it this way.
ANNOTATE_OVERDUE = "annotate_overdue"
#: Piped: a queryset of milestones and ``on`` (a day), annotated with ``is_overdue`` on that day (the API reads it).
ANNOTATE_MILESTONE_OVERDUE = "annotate_milestone_overdue"

_registry: dict[str, list[Callable[..., Any]]] = defaultdict(list)


def register(name: str, fn: Callable[..., Any]) -> None:
    """Call ``fn`` whenever ``name`` is fired; registering the same function twice has no effect."""
    if fn not in _registry[name]:
        _registry[name].append(fn)


def pipe(name: str, value: Any, **kwargs: Any) -> Any:
    """Pass ``value`` through every function registered for ``name`` in turn (``fn(value, **kwargs)``)."""
    for fn in list(_registry.get(name, ())):
        value = fn(value, **kwargs)
    return value


def fire(name: str, **kwargs: Any) -> None:
    """Call every function registered for ``name`` with ``kwargs``."""
    for fn in list(_registry.get(name, ())):
        fn(**kwargs)
