"""The health endpoints a load balancer or an orchestrator probes: liveness (``/healthz``) and readiness (``/readyz``).

Liveness says the process is up and answering; it touches nothing else, so a database outage never gets
healthy processes restarted. Readiness says the instance can do its work: the database answers a query, the
cache keeps what it is given, the broker accepts a connection, and the periodic metrics sweep has succeeded
recently. The checks are django-health-check's (the database and the cache) and two of ours built on its
base class (the broker and the sweep's heartbeat).

The answers name each check and whether it passed, nothing more: what went wrong (which may name hosts or
carry a driver's message) goes to the log. Both endpoints are answered by ``HealthProbeMiddleware``, first in
the middleware, so that a probe by the instance's address is not refused by ALLOWED_HOSTS nor redirected to
HTTPS, and gets no session or CSRF cookie. docs/health.md is the operators' guide.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import logging
from collections.abc import Callable
from typing import Any

import kombu
from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import resolve
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views import View
from django.views.decorators.http import require_safe
from health_check import Cache, Database, HealthCheck  # type: ignore[import-untyped]
from health_check.exceptions import HealthCheckException, ServiceUnavailable  # type: ignore[import-untyped]

from lsis.core.heartbeats import job_heartbeat_last_success

logger = logging.getLogger(__name__)

#: The paths the probes use, answered before host validation and every other middleware.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})

#: How long the broker check waits to connect and for each reply, in seconds.
BROKER_TIMEOUT_SECONDS = 1.0

#: When this process started. A sweep that has never succeeded is given one window from then: on a first
#: deploy, beat sends the first sweep a minute after it starts, and every instance would otherwise stay out
#: of service until it has run.
PROCESS_STARTED = timezone.now()


@dataclasses.dataclass
class Broker(HealthCheck):
    """The Celery broker accepts a connection and answers within ``timeout``; no retries."""

    url: str = dataclasses.field(default="", repr=False)  # may carry a password
    timeout: datetime.timedelta = dataclasses.field(
        default=datetime.timedelta(seconds=BROKER_TIMEOUT_SECONDS), repr=False
    )

    def run(self) -> None:
        """Connect to the broker once (kombu's Redis transport pings it on connecting)."""
        seconds = self.timeout.total_seconds()
        options = {"socket_connect_timeout": seconds, "socket_timeout": seconds, "max_retries": 0}
        try:
            with kombu.Connection(self.url, connect_timeout=seconds, transport_options=options) as connection:
                connection.ensure_connection(max_retries=0)
        except Exception as error:
            raise ServiceUnavailable("The broker did not answer.") from error


@dataclasses.dataclass
class Heartbeat(HealthCheck):
    """The periodic job ``job`` has finished successfully within the last ``window``."""

    job: str = ""
    window: datetime.timedelta = dataclasses.field(default=datetime.timedelta(minutes=5), repr=False)

    def run(self) -> None:
        """Read the job's last success (one query)."""
        succeeded_at = job_heartbeat_last_success(name=self.job)
        if succeeded_at is None:
            if timezone.now() - PROCESS_STARTED <= self.window:
                return  # starting: the first sweep is still to come
            raise ServiceUnavailable(f"{self.job} has never succeeded.")
        age = timezone.now() - succeeded_at
        if age > self.window:
            raise ServiceUnavailable(f"{self.job} last succeeded {age.total_seconds():.0f} s ago.")


def _passes(name: str, check: Any) -> bool:
    """Run one check here, in the request's thread (and so on its database connection); log why it failed."""
    try:
        if inspect.iscoroutinefunction(check.run):
            async_to_sync(check.run)()
        else:
            check.run()
    except HealthCheckException as error:
        logger.warning("Readiness check %s failed: %s", name, error, exc_info=True)
        return False
    except Exception:
        logger.exception("Readiness check %s failed unexpectedly", name)
        return False
    return True


def _probe_answer(body: dict[str, Any], *, status: int = 200) -> HttpResponse:
    response = JsonResponse(body, status=status)
    add_never_cache_headers(response)  # Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def liveness(request: HttpRequest) -> HttpResponse:
    """200 ``{"status": "ok"}`` while the process answers; reads nothing, not even the database."""
    return _probe_answer({"status": "ok"})


class ReadinessView(View):
    """200 when every check that applies passes, 503 otherwise; the body names each check: "pass" or "fail".

    The broker is checked when there is one (``CELERY_BROKER_URL``), and the sweep (``sweep_job``) when the
    tasks run on workers (with beat): when they run eagerly, in-process, neither exists. The checks run one
    after the other in the request's thread, so that the database check uses the request's connection.
    """

    http_method_names = ["get", "head"]
    #: The periodic job whose heartbeat is checked (the metrics sweep's task name); empty: none.
    sweep_job = ""

    def checks(self) -> dict[str, Any]:
        """The checks that apply under the current settings, by the name the answer gives them."""
        checks: dict[str, Any] = {"database": Database(), "cache": Cache()}
        if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
            checks["broker"] = Broker(url=settings.CELERY_BROKER_URL)
            if self.sweep_job:
                window = datetime.timedelta(seconds=settings.HEALTH_SWEEP_WINDOW_SECONDS)
                checks["sweep"] = Heartbeat(job=self.sweep_job, window=window)
        return checks

    def get(self, request: HttpRequest) -> HttpResponse:
        """Run the checks; answer which passed."""
        results = {name: "pass" if _passes(name, check) else "fail" for name, check in self.checks().items()}
        ready = all(result == "pass" for result in results.values())
        return _probe_answer({"status": "ok" if ready else "fail", "checks": results}, status=200 if ready else 503)


class HealthProbeMiddleware:
    """Answer the probes' two paths at once, before host validation, HTTPS redirection, sessions and CSRF.

    A load balancer probes each instance by its address, which is not among ALLOWED_HOSTS; that is safe here
    because the answers use nothing from the request (no Host, no cookie) and say only up or down. The views
    are the ones the URLconf maps the paths to, so the answers are the same either way.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Hand a probe straight to its view; anything else goes on through the middleware."""
        if request.path_info in PROBE_PATHS:
            match = resolve(request.path_info)
            response: HttpResponse = match.func(request, *match.args, **match.kwargs)
            return response
        return self.get_response(request)
