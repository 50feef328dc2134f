"""The Celery application. Configuration lives in Django settings under the ``CELERY_`` prefix."""

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging
from kombu import Producer

from lsis.observability.logging import logging_configure
from lsis.observability.tasks import TaskLogReceiver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lsis.settings.local")

app = Celery("lsis")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Every task published here, by delay, apply_async or send_task on a producer of its own, carries the id of
# the request that enqueued it; every task run, in a worker or in-process, logs one line under that id.
task_log_receiver = TaskLogReceiver()
task_log_receiver.connect_signals()


@setup_logging.connect
def _logging_as_django(**kwargs: Any) -> None:
    """A worker logs through Django's LOGGING (JSON lines in production), not Celery's own format."""
    from django.conf import settings

    logging_configure(settings.LOGGING)


def enqueue_within_timeout(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Send the task registered as ``task_name`` to the broker, waiting at most ``CELERY_ENQUEUE_TIMEOUT_SECONDS``.

    By name, so that the code asking for work imports no task module (the tasks import the services, not
    the other way round). For work a request asks for: the broker gets one attempt on a connection of its
    own whose connect and socket timeouts are that setting (kombu's pooled connections keep the workers'
    longer ones), with no publish retries. A broker that is down, or accepts the connection but never
    answers, raises kombu's ``OperationalError`` within about that time; the caller decides what waits for
    the next attempt. Without a broker (``CELERY_TASK_ALWAYS_EAGER``) the task runs here, as ``delay``
    would run it.
    """
    if app.conf.task_always_eager:
        if task_name not in app.tasks:
            # The apps' task modules are found when a worker starts; a process with no worker finds them now.
            app.loader.import_default_modules()
        app.tasks[task_name].apply_async(args, kwargs)
        return
    from django.conf import settings

    timeout = float(settings.CELERY_ENQUEUE_TIMEOUT_SECONDS)
    options = {"socket_connect_timeout": timeout, "socket_timeout": timeout, "max_retries": 0}
    with app.connection_for_write(connect_timeout=timeout, transport_options=options) as connection:
        app.send_task(task_name, args, kwargs, producer=Producer(connection, auto_declare=False), retry=False)
