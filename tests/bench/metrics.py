"""Time the metrics engine against one hand-written SQL statement, and how fresh figures are after an approval.

PostgreSQL only. For each size N (commitments; 10 updates each by default), in a throwaway database
(Django's test-database machinery) holding synthetic data only (``metrics.synthetic.generate_synthetic``,
fixed seed), it measures:

1. the baseline: one SQL statement, written here, that finds each commitment's latest approved update as
   of a quarter's last day (``DISTINCT ON``) and counts commitments by status and by confidence for every
   scope at once (``GROUP BY GROUPING SETS``); run twice, the second timed;
2. the engine: ``metrics_recompute(quarters=[that quarter])``, writes included (run twice, the second
   reported), and its ratio to 1;
3. the full rebuild: ``metrics_recompute()`` of every quarter since 2017, every row written for the first
   time; and (3b) again, as the nightly job runs it, with the spans and rows stored (all computed again,
   only what differs written);
4. the incremental path: K approvals through the services (create, submit, approve) with the task not
   sent, so each approval only writes its outbox marker, then ``markers_process()`` timed;
5. approval to fresh figures with a real Celery worker on a Redis database of its own: the time from the
   approval to the marker being gone (the recompute has committed);
6. the incremental path after an edit of a commitment itself (its deadline re-baselined by an approved request,
   or its area moved within its foundation, every quarter since its deal's publication), then
   ``markers_process()`` timed, printed next to (4);
7. time travel at 100,000 (else at the largest of the growth sizes): ``metrics_as_of(day=...)`` for random days, and
8. the overview page with ``?as_of=`` those days, signed in as a board member.

The growth of the full rebuild (3) is then tabulated over ``--growth-sizes`` (default 10,000 and
100,000; ``--growth-sizes 10000 100000 1000000`` adds a million): the time, the time per commitment and
the peak resident memory of this process during the rebuild, and whether the time per commitment rises
by at most 20% from one size to the next (growth at most linear). A growth size not in ``--sizes`` gets a
throwaway database of its own in which only the full rebuild (and time travel, where 7 says) is timed.

Each size has a time budget: a step that would clearly exceed it stops and says what it measured and
its estimate. It prints the machine and each goal as met or not met, and always exits 0.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    Commitment,
    CommitmentOrganisation,
    Document,
    Organisation,
    OrganisationRole,
    StatusUpdate,
    Theme,
    UpdateState,
)
from commitments.periods import Quarter
from metrics import services as metric_services
from metrics.models import Basis, QuarterMetric, RecomputeMarker, ScopeType
from metrics.services import FIRST_QUARTER, markers_process, metrics_as_of, metrics_recompute, quarters_until
from metrics.synthetic import DEAL_CODE, LABEL, LAST_AS_OF, generate_synthetic
from programmes.models import Programme

DEFAULT_SIZES = (10_000, 100_000)
DEFAULT_GROWTH_SIZES = (10_000, 100_000)
DEFAULT_SEED = 20170830  # the Life Sciences Industrial Strategy was published on 30 August 2017
GOAL_ENGINE_RATIO = 1.5
GOAL_REBUILD_SECONDS = 10.0
GOAL_REBUILD_AT = 100_000
GOAL_INCREMENTAL_P95 = 0.050
GOAL_FRESH_P95 = 2.0
GOAL_TIME_TRAVEL_P95 = 0.200
# Growth at most linear: the time per commitment rises by at most this factor from one size to the next.
GROWTH_TOLERANCE = 1.2
NEEDS_POSTGRESQL = "metrics benchmark needs PostgreSQL: set DATABASE_URL"

STATUSES = list(DeliveryStatus.values)
CONFIDENCES = list(DeliveryConfidence.values)
SERVER = {"version": "not known"}  # read from the throwaway database: the configured one need not exist
COUNTED = ["commitments", *STATUSES, *CONFIDENCES, "no_confidence"]


@dataclass
class Step:
    """One measured step of one size."""

    label: str
    seconds: float | None = None
    ratio: float | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Result:
    """What one size measured."""

    size: int
    updates: int
    steps: list[Step] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    goals: list[str] = field(default_factory=list)
    rebuild_peak_mb: float | None = None  # this process's peak resident memory during the full rebuild (3)


class Budget:
    """The seconds one size may spend measuring (data generation not counted)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.started = time.perf_counter()

    def left(self) -> float:
        return self.seconds - (time.perf_counter() - self.started)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench metrics", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: [int(part.replace("_", "")) for part in text.split(",") if part.strip()],
        default=list(DEFAULT_SIZES),
        help="synthetic commitments per run, comma-separated (default 10000,100000)",
    )
    parser.add_argument("--updates-per-commitment", type=int, default=10, help="approved updates each (default 10)")
    parser.add_argument("--approvals", type=int, default=50, help="approvals timed on the incremental path (50)")
    parser.add_argument("--worker-approvals", type=int, default=10, help="approvals timed with a real worker (10)")
    parser.add_argument("--budget-seconds", type=float, default=1200.0, help="time budget per size (default 1200)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    parser.add_argument(
        "--growth-sizes",
        type=lambda text: int(text.replace("_", "")),
        nargs="+",
        default=list(DEFAULT_GROWTH_SIZES),
        help="sizes the full rebuild's growth is tabulated over (default 10000 100000; 1000000 is accepted)",
    )
    parser.add_argument("--time-travel-days", type=int, default=20, help="random days timed as of (default 20)")
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    """Measure every size in a database of its own; report. Always returns 0."""
    options = _parse(argv)
    if connection.vendor != "postgresql":
        print(NEEDS_POSTGRESQL, flush=True)
        return 0
    settings.DEBUG = False  # no query log
    load_at_start = os.getloadavg()[0]
    results: list[Result] = []
    growth_only = sorted(set(options.growth_sizes) - set(options.sizes))
    for size in [*options.sizes, *growth_only]:
        try:
            results.append(_one_size(options, size, growth_only=size in growth_only))
        except Exception as error:
            print(f"size {size:,}: failed: {type(error).__name__}: {error}", flush=True)
            results.append(Result(size, size * options.updates_per_commitment, checks=[f"FAILED: {error}"]))
    _report(options, results, load_at_start)
    return 0


# --- One size ----------------------------------------------------------------------------------------


def _one_size(options: argparse.Namespace, size: int, *, growth_only: bool = False) -> Result:
    updates = size * options.updates_per_commitment
    result = Result(size, updates)
    print(f"\n[{size:,} commitments] creating a throwaway PostgreSQL database and migrating it...", flush=True)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    test_name = connection.settings_dict["NAME"]
    try:
        print(
            f"[{size:,}] generating {updates:,} approved updates under “{LABEL}” (seed {options.seed})...", flush=True
        )
        seconds, _ = _timed(lambda: generate_synthetic(commitments=size, updates=updates, seed=options.seed))
        _analyze()
        result.checks.append(f"synthetic data generated in {seconds:.1f} s (not part of the budget), then analysed")
        if growth_only:
            _measure_growth(options, result)
        else:
            _measure(options, result, test_name)
    except Exception as error:  # keep what was measured before it failed
        print(f"[{size:,}] failed: {type(error).__name__}: {error}", flush=True)
        result.checks.append(f"FAILED: {type(error).__name__}: {error}")
    finally:
        connection.close()
        try:
            connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
        except Exception:  # a session left on it (a killed worker's): force it
            from tests.celery_worker import Database

            connection.settings_dict["NAME"] = old_name
            Database(_server_url(), test_name).drop()
    return result


def _measure(options: argparse.Namespace, result: Result, test_name: str) -> None:
    SERVER["version"] = _postgres_version()
    budget = Budget(options.budget_seconds)
    quarter = Quarter.containing(LAST_AS_OF)  # the last quarter the synthetic updates reach
    day = quarter.end

    print(f"[{result.size:,}] (1) baseline SQL as of {day}...", flush=True)
    _baseline(day)
    baseline_seconds, baseline_rows = _timed(lambda: _baseline(day))
    result.steps.append(
        Step(
            f"(1) baseline: one SQL statement, GROUPING SETS, as of {quarter.label} end",
            baseline_seconds,
            1.0,
            [f"{len(baseline_rows)} scope rows; second of two runs"],
        )
    )

    print(f"[{result.size:,}] (2) metrics_recompute(quarters=[{quarter.label}])...", flush=True)
    first, _ = _timed(lambda: metrics_recompute(quarters=[quarter]))
    engine_seconds, report = _timed(lambda: metrics_recompute(quarters=[quarter]))
    ratio = engine_seconds / baseline_seconds if baseline_seconds else math.nan
    result.steps.append(
        Step(
            f"(2) engine: metrics_recompute(quarters=[{quarter.label}])",
            engine_seconds,
            ratio,
            [f"{report.rows} rows upserted; second run (first, inserting: {first:.2f} s)"],
        )
    )
    result.goals.append(_verdict(f"(2) engine <= {GOAL_ENGINE_RATIO}x the baseline", ratio, GOAL_ENGINE_RATIO, "x"))
    result.checks.append(_compare(baseline_rows, quarter))

    _progress(result, result.steps[0])
    _progress(result, result.steps[1])
    _full_rebuild(result, budget, engine_seconds, baseline_seconds)  # prints (3), and (3b) where it runs it
    _incremental(options, result, budget, baseline_seconds)
    _progress(result, result.steps[-1])
    _incremental_edit(options, result, budget, baseline_seconds)
    _progress(result, result.steps[-1])
    _with_worker(options, result, budget, test_name)
    _progress(result, result.steps[-1])
    if result.size == _time_travel_size(options):
        _time_travel(options, result, budget, baseline_seconds)


def _time_travel_size(options: argparse.Namespace) -> int:
    """Time travel is timed at the goal's size where it is measured, else at the largest growth size."""
    sizes = set(options.sizes) | set(options.growth_sizes)
    return GOAL_REBUILD_AT if GOAL_REBUILD_AT in sizes else max(options.growth_sizes)


def _measure_growth(options: argparse.Namespace, result: Result) -> None:
    """A growth size only: the full rebuild (3) in one call and, at the size 7 names, time travel."""
    SERVER["version"] = _postgres_version()
    budget = Budget(options.budget_seconds)
    label = f"(3) full rebuild: metrics_recompute() of {len(quarters_until(timezone.localdate()))} quarters"
    print(f"[{result.size:,}] {label}...", flush=True)
    seconds, report, result.rebuild_peak_mb = _with_peak_memory(metrics_recompute)
    result.steps.append(Step(label, seconds, None, [f"{report.rows:,} rows, one call"]))
    _progress(result, result.steps[-1])
    if result.size == _time_travel_size(options):
        _time_travel(options, result, budget, None)


def _progress(result: Result, step: Step) -> None:
    seconds = f"{step.seconds:.3f} s" if step.seconds is not None else "-"
    print(f"[{result.size:,}]     {step.label.split(':')[0]}: {seconds} ({'; '.join(step.notes)})", flush=True)


def _full_rebuild(result: Result, budget: Budget, engine_seconds: float, baseline_seconds: float) -> None:
    quarters = quarters_until(timezone.localdate())
    label = f"(3) full rebuild: metrics_recompute() of {len(quarters)} quarters"
    step = Step(label)
    result.steps.append(step)
    goal = f"(3) full rebuild < {GOAL_REBUILD_SECONDS:.0f} s at {GOAL_REBUILD_AT:,}"
    print(f"[{result.size:,}] {label}...", flush=True)
    if len(quarters) * engine_seconds <= budget.left():
        step.seconds, report, result.rebuild_peak_mb = _with_peak_memory(metrics_recompute)
        step.notes.append(f"{report.rows:,} rows, one call")
    else:
        # Too slow to risk in one call: quarter by quarter, so that it can stop within the budget.
        spent, last = 0.0, 0.0
        for done, quarter in enumerate(quarters, start=1):
            last, _ = _timed(partial(metrics_recompute, quarters=[quarter]))
            spent += last
            estimate = spent + (len(quarters) - done) * last  # a floor: later quarters hold more updates
            if done < len(quarters) and estimate > budget.left() + spent:
                step.notes.append(
                    f"{done} of {len(quarters)} quarters in {spent:.1f} s, quarter by quarter; "
                    f"stopped: would exceed the budget (estimate {estimate:.0f} s at least, "
                    f"up to {len(quarters) * engine_seconds:.0f} s at the step (2) time per quarter)"
                )
                step.seconds = None
                break
        else:
            step.seconds = spent
            step.notes.append("quarter by quarter (one call could have exceeded the budget)")
    if step.seconds is not None:
        step.ratio = step.seconds / baseline_seconds if baseline_seconds else math.nan
    _progress(result, step)
    if result.size == GOAL_REBUILD_AT:
        result.goals.append(_verdict(goal, step.seconds, GOAL_REBUILD_SECONDS, " s"))
        if step.seconds is not None:
            _nightly_rebuild(result, budget, step.seconds, baseline_seconds)
    elif step.seconds is not None:
        scaled = step.seconds * GOAL_REBUILD_AT / result.size
        result.goals.append(
            f"{goal}: not measured at {GOAL_REBUILD_AT:,} (linear extrapolation from {result.size:,}: {scaled:.1f} s)"
        )


def _nightly_rebuild(result: Result, budget: Budget, first_seconds: float, baseline_seconds: float) -> None:
    """(3b) the full rebuild again, as the nightly job runs it: every span and row already stored.

    Everything is computed again; only the spans and rows found to differ are written (none, here).
    """
    label = "(3b) nightly rebuild: metrics_recompute() again, spans and rows stored"
    step = Step(label)
    result.steps.append(step)
    if first_seconds > budget.left():
        step.notes.append("not run: would exceed the budget")
        return
    print(f"[{result.size:,}] {label}...", flush=True)
    step.seconds, report = _timed(metrics_recompute)
    step.ratio = step.seconds / baseline_seconds if baseline_seconds else math.nan
    step.notes.append(f"{report.rows:,} rows written (only those whose figures differ)")
    _progress(result, step)
    goal = f"(3b) nightly rebuild < {GOAL_REBUILD_SECONDS:.0f} s at {GOAL_REBUILD_AT:,}"
    result.goals.append(_verdict(goal, step.seconds, GOAL_REBUILD_SECONDS, " s"))


@contextmanager
def _no_task() -> Iterator[None]:
    """Approvals write their outbox marker but send no task (Celery eager off, no broker): we process it."""
    with mock.patch.object(metric_services, "_enqueue_recompute", return_value=None):
        yield


def _incremental(options: argparse.Namespace, result: Result, budget: Budget, baseline_seconds: float) -> None:
    label = f"(4) incremental: markers_process() after one approval, x{options.approvals}"
    step = Step(label)
    result.steps.append(step)
    print(f"[{result.size:,}] {label}...", flush=True)
    editor, reviewer = _staff("bench-incremental")
    ids = list(Commitment.objects.filter(deal__code=DEAL_CODE).order_by("pk").values_list("pk", flat=True))
    rng = random.Random(options.seed)  # noqa: S311 - reproducible choice, not security
    today = timezone.localdate()
    RecomputeMarker.objects.all().delete()
    times: list[float] = []
    started = time.perf_counter()
    for n in range(options.approvals):
        with _no_task():
            _approve(rng, ids, editor, reviewer, today)
        if RecomputeMarker.objects.count() != 1:
            raise RuntimeError("the approval did not leave exactly one marker")
        seconds, processed = _timed(markers_process)
        if processed != 1 or RecomputeMarker.objects.exists():
            raise RuntimeError(f"markers_process() processed {processed} markers, expected 1")
        times.append(seconds)
        spent = time.perf_counter() - started
        estimate = spent / (n + 1) * options.approvals
        if n + 1 < options.approvals and estimate - spent > budget.left():
            step.notes.append(f"stopped after {n + 1}: would exceed the budget (estimate {estimate:.0f} s)")
            break
    p50, p95 = _percentile(times, 50), _percentile(times, 95)
    step.seconds = p95
    step.ratio = p95 / baseline_seconds if baseline_seconds else math.nan
    step.notes.insert(0, f"p95; p50 {p50 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, n={len(times)}")
    result.goals.append(
        _verdict(f"(4) incremental p95 < {GOAL_INCREMENTAL_P95 * 1000:.0f} ms", p95, GOAL_INCREMENTAL_P95, " s")
    )


def _incremental_edit(options: argparse.Namespace, result: Result, budget: Budget, baseline_seconds: float) -> None:
    """(6): as (4), after an edit of the commitment itself instead of an approval."""
    from commitments.delivery_plan import baseline_change_approve, baseline_change_request, current_deadline
    from commitments.services import commitment_edit

    label = f"(6) incremental: markers_process() after one edit (deadline or area), x{options.approvals}"
    step = Step(label)
    result.steps.append(step)
    print(f"[{result.size:,}] {label}...", flush=True)
    editor, reviewer = _staff("bench-edit")
    decider = _staff("bench-decide")[1]
    ids = list(Commitment.objects.filter(deal__code=DEAL_CODE).order_by("pk").values_list("pk", flat=True))
    areas: dict[int, list[int]] = {}
    for pk, parent_id in Theme.objects.areas().values_list("pk", "parent_id"):
        areas.setdefault(parent_id, []).append(pk)
    rng = random.Random(options.seed)  # noqa: S311 - reproducible choice, not security
    RecomputeMarker.objects.all().delete()
    times: list[float] = []
    started = time.perf_counter()
    for n in range(options.approvals):
        commitment = Commitment.objects.get(pk=rng.choice(ids))
        if n % 2:
            others = [pk for pk in areas.get(commitment.foundation_id, []) if pk != commitment.area_id]
            changes: dict[str, Any] = {"area": Theme.objects.get(pk=rng.choice(others))} if others else {}
        else:
            changes = {}
            # A published commitment's deadline moves by a request another reviewer approves (its forecast).
            proposed = date(rng.randint(2018, 2024), rng.randint(1, 12), 1)
            if proposed == current_deadline(commitment):
                proposed += timedelta(days=31)
            change = baseline_change_request(
                commitment=commitment, proposed_date=proposed, reason="Bench.", user=editor
            )
        with _no_task():
            if changes:
                commitment_edit(commitment=commitment, user=reviewer, changes=changes)
            else:
                baseline_change_approve(change=change, reviewer=decider)
        if RecomputeMarker.objects.count() != 1:
            raise RuntimeError("the edit did not leave exactly one marker")
        seconds, processed = _timed(markers_process)
        if processed != 1 or RecomputeMarker.objects.exists():
            raise RuntimeError(f"markers_process() processed {processed} markers, expected 1")
        times.append(seconds)
        spent = time.perf_counter() - started
        estimate = spent / (n + 1) * options.approvals
        if n + 1 < options.approvals and estimate - spent > budget.left():
            step.notes.append(f"stopped after {n + 1}: would exceed the budget (estimate {estimate:.0f} s)")
            break
    p50, p95 = _percentile(times, 50), _percentile(times, 95)
    step.seconds = p95
    step.ratio = p95 / baseline_seconds if baseline_seconds else math.nan
    approval = next((s for s in result.steps if s.label.startswith("(4)")), None)
    beside = f"; approval (4) p95 {approval.seconds * 1000:.0f} ms" if approval and approval.seconds else ""
    step.notes.insert(0, f"p95; p50 {p50 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, n={len(times)}{beside}")
    result.goals.append(
        _verdict(
            f"(6) incremental after an edit p95 < {GOAL_INCREMENTAL_P95 * 1000:.0f} ms", p95, GOAL_INCREMENTAL_P95, " s"
        )
    )


def _with_worker(options: argparse.Namespace, result: Result, budget: Budget, test_name: str) -> None:
    label = f"(5) approval to fresh figures, real worker on Redis, x{options.worker_approvals}"
    step = Step(label)
    result.steps.append(step)
    goal = f"(5) approval-to-fresh p95 < {GOAL_FRESH_P95:.0f} s"
    print(f"[{result.size:,}] {label}...", flush=True)
    if budget.left() <= 0:
        step.notes.append("not measured: the budget was spent")
        result.goals.append(f"{goal}: not measured")
        return
    from tests.celery_worker import Worker, private_redis_url, with_path

    try:
        import redis

        broker_url = private_redis_url(os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0")
        broker = redis.Redis.from_url(broker_url, socket_timeout=5, socket_connect_timeout=5)
        broker.flushdb()
    except Exception as error:
        step.notes.append(f"not measured: Redis unreachable ({error})")
        result.goals.append(f"{goal}: not measured")
        return
    env = {
        **os.environ,
        "DATABASE_URL": with_path(_server_url(), f"/{test_name}"),
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_SETTINGS_MODULE": "lsis.settings.test",
    }
    log_dir = Path(tempfile.mkdtemp(prefix="lsis-bench-worker-"))
    worker = Worker(env, log_dir / "worker.log")
    editor, reviewer = _staff("bench-worker")
    ids = list(Commitment.objects.filter(deal__code=DEAL_CODE).order_by("pk").values_list("pk", flat=True))
    rng = random.Random(options.seed + 1)  # noqa: S311 - reproducible choice, not security
    today = timezone.localdate()
    current = Quarter.containing(today)
    times: list[float] = []
    try:
        RecomputeMarker.objects.all().delete()
        worker.start(timeout=60)
        with _broker(broker_url):
            started_all = time.perf_counter()
            for n in range(options.worker_approvals):
                before = _tracker_computed_at(current)
                started = time.perf_counter()
                _approve(rng, ids, editor, reviewer, today)  # commits, then sends the task to Redis
                timeout = max(5.0, budget.left())
                while RecomputeMarker.objects.exists():
                    if time.perf_counter() - started > timeout:
                        raise _OverBudgetError(
                            f"estimate more than {timeout:.0f} s per approval: the marker was still there after "
                            f"{timeout:.0f} s, the budget left"
                        )
                    time.sleep(0.002)
                times.append(time.perf_counter() - started)
                after = _tracker_computed_at(current)
                if before is not None and (after is None or after <= before):
                    raise RuntimeError("the marker is gone but the tracker row was not recomputed")
                spent = time.perf_counter() - started_all
                estimate = spent / (n + 1) * options.worker_approvals
                if n + 1 < options.worker_approvals and estimate - spent > budget.left():
                    step.notes.append(f"stopped after {n + 1}: would exceed the budget (estimate {estimate:.0f} s)")
                    break
    except _OverBudgetError as error:
        step.notes.append(f"stopped: would exceed the budget ({error})")
    except Exception as error:
        step.notes.append(f"stopped by an error: {type(error).__name__}: {error}")
    finally:
        worker.stop()
        broker.flushdb()
        broker.close()
        for leftover in log_dir.iterdir():
            leftover.unlink()
        log_dir.rmdir()
    if not times:
        result.goals.append(f"{goal}: not measured")
        return
    p50, p95 = _percentile(times, 50), _percentile(times, 95)
    step.seconds = p95
    step.notes.insert(0, f"p95; p50 {p50 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, n={len(times)}")
    result.goals.append(_verdict(goal, p95, GOAL_FRESH_P95, " s"))


def _time_travel(options: argparse.Namespace, result: Result, budget: Budget, baseline_seconds: float | None) -> None:
    """(7) and (8): the figures as of random days, computed on demand, and the overview page showing them."""
    from tests.bench.dashboards import get_board_member

    rng = random.Random(options.seed + 2)  # noqa: S311 - reproducible choice, not security
    first, today = FIRST_QUARTER.start, timezone.localdate()
    days = [first + timedelta(days=rng.randrange((today - first).days + 1)) for _ in range(options.time_travel_days)]
    client = Client()
    client.force_login(get_board_member())
    overview = reverse("dashboards:overview")

    def page(day: date) -> None:
        response = client.get(overview, {"as_of": day.isoformat()})
        if response.status_code != 200:
            raise RuntimeError(f"{overview}?as_of={day} answered {response.status_code}")

    targets = [
        (f"(7) time travel: metrics_as_of(day=...), random days, x{len(days)}", lambda day: metrics_as_of(day=day)),
        (f"(8) time travel: the overview page ?as_of= random days, x{len(days)}", page),
    ]
    for label, action in targets:
        step = Step(label)
        result.steps.append(step)
        print(f"[{result.size:,}] {label}...", flush=True)
        action(days[-1])  # warmed on a day of its own, so the first timed day pays no one-off cost
        times: list[float] = []
        for day in days:
            if budget.left() <= 0 and times:
                step.notes.append(f"stopped after {len(times)}: the budget was spent")
                break
            times.append(_timed(partial(action, day))[0])
        p50, p95 = _percentile(times, 50), _percentile(times, 95)
        step.seconds = p95
        step.ratio = p95 / baseline_seconds if baseline_seconds else None
        step.notes.insert(0, f"p95; p50 {p50 * 1000:.0f} ms, max {max(times) * 1000:.0f} ms, n={len(times)}")
        goal = f"{label.split(':')[0]} p95 < {GOAL_TIME_TRAVEL_P95 * 1000:.0f} ms at {result.size:,}"
        result.goals.append(_verdict(goal, p95, GOAL_TIME_TRAVEL_P95, " s"))
        _progress(result, step)


class _OverBudgetError(Exception):
    """One approval took longer than the budget had left."""


@contextmanager
def _broker(url: str) -> Iterator[None]:
    """Celery not eager and publishing to ``url`` for the block, as with CELERY_BROKER_URL set; then restored."""
    from lsis.celery import app

    overrides = {"broker_url": url, "task_always_eager": False}
    changes = app.conf.changes
    assert changes is not None, "a configured app keeps its changes"
    saved_changes = {key: changes[key] for key in overrides if key in changes}
    saved_settings = (settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER)
    saved_env = os.environ.get("CELERY_BROKER_URL")
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = url, False
    os.environ["CELERY_BROKER_URL"] = url  # Celery prefers it to its configuration
    _forget_broker_connections(app)
    app.conf.update(overrides)
    try:
        yield
    finally:
        for key in overrides:
            changes.pop(key, None)
        app.conf.update(saved_changes)
        settings.CELERY_BROKER_URL, settings.CELERY_TASK_ALWAYS_EAGER = saved_settings
        if saved_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = saved_env
        _forget_broker_connections(app)


def _forget_broker_connections(app: Any) -> None:
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def _tracker_computed_at(quarter: Quarter) -> Any:
    return (
        QuarterMetric.objects.filter(
            quarter__year=quarter.year,
            quarter__number=quarter.number,
            basis=Basis.LIVE,
            population="all",
            scope_type=ScopeType.TRACKER,
            scope_key="all",
        )
        .values_list("computed_at", flat=True)
        .first()
    )


def _staff(prefix: str) -> tuple[Any, Any]:
    users = get_user_model().objects
    editor = users.create_user(username=f"{prefix}-editor")
    editor.groups.add(Group.objects.get(name=roles.EDITOR))
    reviewer = users.create_user(username=f"{prefix}-reviewer")
    reviewer.groups.add(Group.objects.get(name=roles.REVIEWER))
    return editor, reviewer


def _approve(rng: random.Random, ids: list[int], editor: Any, reviewer: Any, as_of: date) -> StatusUpdate:
    """Create, submit and approve one update of a random synthetic commitment through the services."""
    from commitments.services import update_approve, update_create, update_submit

    commitment = Commitment.objects.get(pk=rng.choice(ids))
    update = update_create(
        commitment=commitment,
        author=editor,
        as_of=as_of,
        status=rng.choice(STATUSES),
        confidence=rng.choice(["", *CONFIDENCES]),
        narrative="Synthetic update (benchmark).",
    )
    update_submit(update=update, user=editor)
    return update_approve(update=update, reviewer=reviewer)


# --- The baseline ------------------------------------------------------------------------------------


def _baseline_sql() -> str:
    quote = connection.ops.quote_name
    themes_field = Commitment._meta.get_field("themes")
    programmes_field = Programme._meta.get_field("commitments")
    themes_through = Commitment.themes.through._meta.db_table
    programmes_through = Programme.commitments.through._meta.db_table
    status_counts = ",\n        ".join(
        f"count(*) FILTER (WHERE COALESCE(l.status, 'not_started') = '{value}') AS {value}" for value in STATUSES
    )
    confidence_counts = ",\n        ".join(
        f"count(*) FILTER (WHERE l.confidence = '{value}') AS {value}" for value in CONFIDENCES
    )
    return f"""
    WITH latest AS (
        SELECT DISTINCT ON (s.commitment_id) s.commitment_id, s.status, s.confidence
        FROM {quote(StatusUpdate._meta.db_table)} s
        WHERE s.state = %(approved)s AND s.as_of <= %(day)s
        ORDER BY s.commitment_id, s.as_of DESC, s.approved_at DESC NULLS LAST, s.id DESC
    )
    SELECT
        CASE
            WHEN GROUPING(d.code) = 0 THEN 'deal'
            WHEN GROUPING(f.code) = 0 THEN 'foundation'
            WHEN GROUPING(a.code) = 0 THEN 'area'
            WHEN GROUPING(c.actor) = 0 THEN 'actor'
            WHEN GROUPING(t.uuid) = 0 THEN 'theme'
            WHEN GROUPING(o.uuid) = 0 THEN 'lead_organisation'
            WHEN GROUPING(p.uuid) = 0 THEN 'programme'
            ELSE 'tracker'
        END AS scope_type,
        CASE
            WHEN GROUPING(d.code) = 0 THEN d.code
            WHEN GROUPING(f.code) = 0 THEN f.code
            WHEN GROUPING(a.code) = 0 THEN a.code
            WHEN GROUPING(c.actor) = 0 THEN c.actor
            WHEN GROUPING(t.uuid) = 0 THEN t.uuid::text
            WHEN GROUPING(o.uuid) = 0 THEN o.uuid::text
            WHEN GROUPING(p.uuid) = 0 THEN p.uuid::text
            ELSE 'all'
        END AS scope_key,
        count(*) AS commitments,
        {status_counts},
        {confidence_counts},
        count(*) FILTER (WHERE COALESCE(l.confidence, '') = '') AS no_confidence
    FROM {quote(Commitment._meta.db_table)} c
    JOIN {quote(Document._meta.db_table)} d ON d.id = c.deal_id
    LEFT JOIN {quote(Theme._meta.db_table)} f ON f.id = c.foundation_id
    LEFT JOIN {quote(Theme._meta.db_table)} a ON a.id = c.area_id
    LEFT JOIN {quote(themes_through)} ct ON ct.{themes_field.m2m_column_name()} = c.id
    LEFT JOIN {quote(Theme._meta.db_table)} t ON t.id = ct.{themes_field.m2m_reverse_name()}
    LEFT JOIN {quote(CommitmentOrganisation._meta.db_table)} co ON co.commitment_id = c.id AND co.role = %(lead)s
    LEFT JOIN {quote(Organisation._meta.db_table)} o ON o.id = co.organisation_id
    LEFT JOIN {quote(programmes_through)} pc ON pc.{programmes_field.m2m_reverse_name()} = c.id
    LEFT JOIN {quote(Programme._meta.db_table)} p ON p.id = pc.{programmes_field.m2m_column_name()}
    LEFT JOIN latest l ON l.commitment_id = c.id
    WHERE d.published_on <= %(day)s
    GROUP BY GROUPING SETS ((), (d.code), (f.code), (a.code), (c.actor), (t.uuid), (o.uuid), (p.uuid))
    """  # noqa: S608 - table names from the models, values as parameters


def _baseline(day: date) -> list[dict[str, Any]]:
    sql = _baseline_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, {"approved": UpdateState.APPROVED, "day": day, "lead": OrganisationRole.LEAD})
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _compare(baseline_rows: list[dict[str, Any]], quarter: Quarter) -> str:
    """Check the baseline against the engine's stored rows: the same counts for every scope."""
    stored = {
        (row["scope_type"], row["scope_key"]): row
        # The baseline counts every kind of commitment: the engine's population "all".
        for row in QuarterMetric.objects.filter(
            quarter__year=quarter.year, quarter__number=quarter.number, basis=Basis.LIVE, population="all"
        ).values("scope_type", "scope_key", *COUNTED)
    }
    compared, differing = 0, []
    for row in baseline_rows:
        if row["scope_key"] is None:  # commitments without an area, theme, lead or programme
            continue
        compared += 1
        engine = stored.get((row["scope_type"], row["scope_key"]))
        if engine is None or any(engine[name] != row[name] for name in COUNTED):
            differing.append(f"{row['scope_type']}/{row['scope_key']}")
    verdict = "agree" if not differing and compared == len(stored) else "DISAGREE"
    detail = f"; differing: {', '.join(differing[:5])}" if differing else ""
    return (
        f"baseline and engine {verdict} on counts by status and confidence: {compared} baseline scopes, "
        f"{len(stored)} stored rows{detail}"
    )


# --- Helpers -----------------------------------------------------------------------------------------


def _analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def _server_url() -> str:
    return os.environ.get("DATABASE_URL", "")


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    outcome = action()
    return time.perf_counter() - start, outcome


def _with_peak_memory(action: Callable[[], Any]) -> tuple[float, Any, float]:
    """Time ``action``; with the peak resident memory of this process while it ran, in MB.

    On Linux the peak is reset before (``/proc/self/clear_refs``) and read after (``VmHWM``); elsewhere it
    is the peak since the process started (``ru_maxrss``).
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        reset = True
    except OSError:
        reset = False
    seconds, outcome = _timed(action)
    if reset:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return seconds, outcome, int(line.split()[1]) / 1024
    # ru_maxrss is in kB on Linux, in bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return seconds, outcome, peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def _percentile(values: list[float], percent: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def _verdict(goal: str, measured: float | None, limit: float, unit: str) -> str:
    if measured is None or math.isnan(measured):
        return f"{goal}: not measured"
    met = measured < limit if "<=" not in goal else measured <= limit
    shown = f"{measured:.2f}{unit}" if unit != " s" or measured >= 1 else f"{measured * 1000:.0f} ms"
    return f"{goal}: {shown}: {'met' if met else 'NOT MET'}"


def _postgres_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
        return str(row[0]) if row else "?"


def _report(options: argparse.Namespace, results: list[Result], load_at_start: float) -> None:
    print()
    print(
        f"Metrics benchmark: {', '.join(f'{result.size:,}' for result in results)} synthetic commitments, "
        f"{options.updates_per_commitment} approved updates each (seed {options.seed}); "
        f"budget {options.budget_seconds:.0f} s per size"
    )
    print(
        f"machine:  {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
        f"load average {load_at_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    )
    print(f"software: Python {platform.python_version()}, Django {django.get_version()}")
    host = connection.settings_dict.get("HOST") or "the local socket"
    print(f"database: PostgreSQL {SERVER['version']} at {host}")
    for result in results:
        print()
        print(f"== {result.size:,} commitments, {result.updates:,} approved updates ==")
        if result.steps:
            width = max(len(step.label) for step in result.steps)
            print(f"{'step'.ljust(width)}  {'seconds':>9}  {'ratio':>7}  notes")
            print(f"{'-' * width}  {'-' * 9}  {'-' * 7}  {'-' * 5}")
            for step in result.steps:
                seconds = f"{step.seconds:9.3f}" if step.seconds is not None else f"{'-':>9}"
                ratio = f"{step.ratio:7.2f}" if step.ratio is not None and not math.isnan(step.ratio) else f"{'-':>7}"
                print(f"{step.label.ljust(width)}  {seconds}  {ratio}  {'; '.join(step.notes)}")
        for check in result.checks:
            print(f"check: {check}")
        if result.goals:
            print("goals:")
            for goal in result.goals:
                print(f"  {goal}")
    _report_growth(options, results)
    sys.stdout.flush()


def _report_growth(options: argparse.Namespace, results: list[Result]) -> None:
    """The full rebuild (3) at each growth size: time, time per commitment, peak memory, and the growth."""
    rebuilds = {
        result.size: (step.seconds, result.rebuild_peak_mb)
        for result in results
        if result.size in options.growth_sizes
        for step in result.steps
        if step.label.startswith("(3)") and step.seconds is not None and "one call" in "; ".join(step.notes)
    }
    print()
    print("== growth of the full rebuild (3), metrics_recompute() in one call ==")
    print(f"{'commitments':>12}  {'seconds':>9}  {'us/commitment':>13}  {'peak RSS':>9}  time per commitment")
    previous: tuple[int, float] | None = None
    verdicts: list[bool] = []
    for size in sorted(set(options.growth_sizes)):
        if size not in rebuilds:
            print(f"{size:>12,}  {'-':>9}  {'-':>13}  {'-':>9}  not measured")
            previous = None
            continue
        seconds, peak = rebuilds[size]
        per = seconds / size
        growth = ""
        if previous is not None:
            factor = per / (previous[1] / previous[0])
            verdicts.append(factor <= GROWTH_TOLERANCE)
            growth = f"{factor:.2f}x from {previous[0]:,}: {'at most linear' if verdicts[-1] else 'MORE THAN LINEAR'}"
        shown_peak = f"{peak:6.0f} MB" if peak is not None else f"{'-':>9}"
        print(f"{size:>12,}  {seconds:9.3f}  {per * 1e6:13.1f}  {shown_peak}  {growth}")
        previous = (size, seconds)
    goal = f"full rebuild grows at most linearly (time per commitment up by at most {GROWTH_TOLERANCE - 1:.0%} a size)"
    if not verdicts:
        print(f"goal: {goal}: not measured (two consecutive sizes needed)")
    else:
        print(f"goal: {goal}: {'met' if all(verdicts) else 'NOT MET'}")
