"""The Celery application. Configuration lives in Django settings under the ``CELERY_`` prefix."""

import os
from typing import Any

from celery import Celery, Task
from kombu import Producer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lsis.settings.local")

app = Celery("lsis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue_within_timeout(task: Task[..., Any], *args: Any, **kwargs: Any) -> None:
    """Send ``task`` to the broker, waiting for it at most ``CELERY_ENQUEUE_TIMEOUT_SECONDS`` at a time.

    For work a request asks for: the broker gets one attempt on a connection of its own whose connect and
    socket timeouts are that setting (kombu's pooled connections keep the workers' longer ones), with no
    publish retries. A broker that is down, or accepts the connection but never answers, raises kombu's
    ``OperationalError`` within about that time; the caller decides what waits for the next attempt.
    Without a broker (``CELERY_TASK_ALWAYS_EAGER``) the task runs here, as ``delay`` would run it.
    """
    if app.conf.task_always_eager:
        task.apply_async(args, kwargs)
        return
    from django.conf import settings

    timeout = float(settings.CELERY_ENQUEUE_TIMEOUT_SECONDS)
    options = {"socket_connect_timeout": timeout, "socket_timeout": timeout, "max_retries": 0}
    with app.connection_for_write(connect_timeout=timeout, transport_options=options) as connection:
        # What ``apply_async(connection=...)`` builds, spelled out: the stubs know only ``producer``.
        task.apply_async(args, kwargs, producer=Producer(connection, auto_declare=False), retry=False)
