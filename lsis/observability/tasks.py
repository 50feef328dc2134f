"""One log line per Celery task run, under the id of the request that enqueued it.

django-structlog's Celery receiver, adapted. When a task is published (``delay``, ``apply_async``, or
``app.send_task`` on a producer of its own as ``lsis.celery.enqueue_within_timeout`` does), Celery's
``before_task_publish`` signal puts the enqueuing request's id into the message's headers. When the task
runs, its lines carry that id with the task's id and name, and when it ends one ``task_finished`` line says
how (succeeded, failed, retried) and how long it took. A task run in-process (eager, where there is no
broker) finds the request id in the context of the request that runs it, and gives that context back after.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from celery import states
from celery.signals import after_task_publish, before_task_publish, task_postrun, task_prerun
from django_structlog.celery.receivers import CeleryReceiver

# The message header django-structlog carries the enqueuing context in.
CONTEXT_HEADER = "__django_structlog__"

_OUTCOMES = {
    states.SUCCESS: "succeeded",
    states.FAILURE: "failed",
    states.RETRY: "retried",
    states.IGNORED: "ignored",
    states.REJECTED: "rejected",
}

logger = structlog.get_logger("lsis.tasks")


def _carried_context(request: Any) -> dict[str, Any]:
    """The context a task's message carried: a header of a worker's request, or of an eager one's headers."""
    carried = getattr(request, CONTEXT_HEADER, None) or (getattr(request, "headers", None) or {}).get(CONTEXT_HEADER)
    return carried if isinstance(carried, dict) else {}


class TaskLogReceiver(CeleryReceiver):
    """Carries the request id into tasks and logs each task's run; ``connect_signals`` wires it to Celery."""

    def __init__(self) -> None:
        super().__init__()
        # The context of whatever ran an eager task (its request), given back when the task ends.
        self._outer_contexts: dict[str, dict[str, Any]] = {}

    def get_task_context(self) -> dict[str, Any]:
        """What a published task carries from the code that enqueued it: the request id, and nothing else."""
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        return {"request_id": request_id} if request_id else {}

    def receiver_task_prerun(self, task_id: str, task: Any, *args: Any, **kwargs: Any) -> None:
        """Start the task's log context: its id, its name and the request id it was enqueued under."""
        outer = structlog.contextvars.get_contextvars()
        self._outer_contexts[task_id] = outer
        request_id = _carried_context(task.request).get("request_id")
        if not isinstance(request_id, str):
            request_id = outer.get("request_id") if task.request.is_eager else None
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(task_id=task_id, task_name=task.name, request_id=request_id)
        task.request._django_structlog_started_at = time.monotonic_ns()

    def receiver_task_postrun(
        self, task_id: str, task: Any, retval: Any = None, state: str | None = None, **kwargs: Any
    ) -> None:
        """Log the task's ``task_finished`` line, then give back the context it ran in."""
        # No state: the task raised and the exception goes on to the caller (eager, propagating).
        outcome = _OUTCOMES.get(state, str(state).lower()) if state is not None else "failed"
        fields: dict[str, Any] = {"outcome": outcome}
        started = getattr(task.request, "_django_structlog_started_at", None)
        if started is not None:
            # To a tenth of a millisecond, as the request lines are (django-structlog rounds to whole ones).
            fields["duration_ms"] = round((time.monotonic_ns() - started) / 1_000_000, 1)
        if outcome == "failed" and isinstance(retval, BaseException):
            fields["error"] = type(retval).__name__
        try:
            if outcome == "failed":
                logger.error("task_finished", **fields)
            elif outcome == "retried":
                logger.warning("task_finished", **fields)
            else:
                logger.info("task_finished", **fields)
        finally:
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(**self._outer_contexts.pop(task_id, {}))

    def connect_signals(self) -> None:
        """Connect to Celery's signals: publishing (in every process) and running (workers and eager runs)."""
        before_task_publish.connect(self.receiver_before_task_publish, dispatch_uid="lsis-task-log-publish")
        after_task_publish.connect(self.receiver_after_task_publish, dispatch_uid="lsis-task-log-published")
        task_prerun.connect(self.receiver_task_prerun, dispatch_uid="lsis-task-log-prerun")
        task_postrun.connect(self.receiver_task_postrun, dispatch_uid="lsis-task-log-postrun")

    def connect_worker_signals(self) -> None:
        """The same signals: the receiver serves workers and in-process runs alike."""
        self.connect_signals()
