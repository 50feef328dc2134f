"""Serve the partner API with gunicorn and load it with wrk: the commitments list against a baseline view.

PostgreSQL only. In a throwaway database (Django's test-database machinery) holding synthetic data only
(``metrics.synthetic.generate_synthetic``, fixed seed; 10,000 commitments by default), it starts gunicorn
with 4 sync workers on loopback (settings ``tests.bench.api_settings``: the product plus a bench-only
baseline URL) and runs wrk with 16 connections against, in turn:

(a) the baseline: the same page of 50 commitments, with organisations, funding and current state, read
    with ``.values()`` and encoded with orjson, no serializer (``tests/bench/api_urls.py``);
(b) ``GET /api/v1/commitments/`` (page of 50), as a partner with a token;
(c) ``GET /api/v1/commitments/{reference}/``;
(d) ``GET /api/v1/metrics/?scope_type=deal&scope_key=SYNTHETIC`` (the figures of one scope);
(e) the same detail as (c) with ``If-None-Match``: a 304 revalidation.

(a) to (e) run with the answer cache off (``API_ANSWER_CACHE_SECONDS=0``), so that every request builds
its answer. A second server, with the answer cache on as in production, then serves (b) to (d) again:
the same requests answered from the cache until the data changes.

It prints requests per second, p50/p95/p99 latency and each figure's ratio to (a), the machine, and the
goals (list >= 0.6x baseline with p95 < 40 ms; 304 > 1,500 rps). It always exits 0.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import django
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.utils import timezone

from commitments import roles
from commitments.periods import Quarter
from lsis.api.tokens import api_token_issue
from metrics.models import QuarterMetric, ReportingQuarter
from metrics.services import figures_for
from metrics.synthetic import DEAL_CODE, LABEL, LAST_AS_OF, generate_synthetic
from tests.factories import UserFactory

DEFAULT_SEED = 20170830
NEEDS_POSTGRESQL = "API benchmark needs PostgreSQL: set DATABASE_URL"
LUA = Path(__file__).with_name("api.lua")
GOAL_RATIO = 0.6
GOAL_P95_MS = 40.0
GOAL_304_RPS = 1500.0


@dataclass
class Load:
    """What wrk measured for one URL."""

    label: str
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    requests: int


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench api", description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--commitments", type=int, default=10_000, help="synthetic commitments (default 10000)")
    parser.add_argument("--updates", type=int, default=20_000, help="approved synthetic updates (default 20000)")
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per URL (default 15)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (default 4)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    """Create the throwaway database, serve, measure, report, drop the database. Always returns 0."""
    options = _parse(argv)
    if connection.vendor != "postgresql":
        print(NEEDS_POSTGRESQL, flush=True)
        return 0
    if shutil.which("wrk") is None:
        print("API benchmark needs wrk (apt-get install wrk)", flush=True)
        return 0
    settings.DEBUG = False
    load_at_start = os.getloadavg()[0]
    print("Creating a throwaway PostgreSQL database and migrating it...", flush=True)
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False, serialize=False)
    test_name = str(connection.settings_dict["NAME"])
    try:
        token, urls = _prepare(options)
        built = [
            ("(a) baseline: page of 50, values() + orjson", urls["baseline"], {}),
            ("(b) commitments list, page of 50", urls["list"], {}),
            ("(c) commitment detail", urls["detail"], {}),
            ("(d) metrics of one scope", urls["metrics"], {}),
            ("(e) detail revalidated: 304", urls["detail"], {"If-None-Match": "{etag}"}),
        ]
        kept: list[tuple[str, str, dict[str, str]]] = [
            ("(b') list, answer kept in the cache", urls["list"], {}),
            ("(c') detail, answer kept in the cache", urls["detail"], {}),
            ("(d') metrics, answer kept in the cache", urls["metrics"], {}),
        ]
        loads = _serve_and_load(options, test_name, token, urls, built, answer_cache_seconds=0)
        loads += _serve_and_load(options, test_name, token, urls, kept, answer_cache_seconds=300)
        _report(options, loads, load_at_start)
    except Exception as error:
        print(f"failed: {type(error).__name__}: {error}", flush=True)
    finally:
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
    return 0


def _prepare(options: argparse.Namespace) -> tuple[str, dict[str, str]]:
    print(f"Generating {options.commitments:,} commitments, {options.updates:,} updates under “{LABEL}”...", flush=True)
    generate_synthetic(commitments=options.commitments, updates=options.updates, seed=options.seed)
    print("Storing the figures of the last four quarters (metrics.services.figures_for)...", flush=True)
    quarter = Quarter.containing(LAST_AS_OF)
    for _ in range(4):
        reporting, _ = ReportingQuarter.objects.get_or_create(year=quarter.year, number=quarter.number)
        QuarterMetric.objects.bulk_create(
            QuarterMetric(quarter=reporting, computed_at=timezone.now(), **asdict(figures))
            for figures in figures_for(quarter)
        )
        quarter = quarter.previous()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    partner = UserFactory.create(username="bench-partner")
    partner.groups.add(Group.objects.get(name=roles.PARTNER))
    _, token = api_token_issue(user=partner, expires_in=timedelta(days=1))
    from commitments.models import Commitment

    reference = Commitment.objects.published().order_by("reference").values_list("reference", flat=True)[500]
    return token, {
        "baseline": "/bench/baseline/commitments/",
        "list": "/api/v1/commitments/",
        "detail": f"/api/v1/commitments/{reference}/",
        "metrics": f"/api/v1/metrics/?scope_type=deal&scope_key={DEAL_CODE}",
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_and_load(
    options: argparse.Namespace,
    test_name: str,
    token: str,
    urls: dict[str, str],
    plan: list[tuple[str, str, dict[str, str]]],
    *,
    answer_cache_seconds: int,
) -> list[Load]:
    port = _free_port()
    database = dict(connection.settings_dict)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.bench.api_settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{test_name}"
        ),
        "CELERY_BROKER_URL": "",
        "API_THROTTLE_READ": "100000000/minute",
        "API_ANSWER_CACHE_SECONDS": str(answer_cache_seconds),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(  # noqa: S603 - our own application on loopback
        [str(gunicorn), "lsis.wsgi:application", "--workers", str(options.workers), "--bind", f"127.0.0.1:{port}"],
        env={**env, "DJANGO_SETTINGS_MODULE": "tests.bench.api_settings"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, urls["list"], token)
        etag = _etag(base + urls["detail"], token)
        loads = []
        for label, url, template in plan:
            headers = {name: value.format(etag=etag) for name, value in template.items()}
            print(f"wrk: {label} ...", flush=True)
            _wrk(options, base + url, token, headers, seconds=3)  # warm up
            loads.append(_wrk(options, base + url, token, headers, seconds=options.seconds, label=label))
        return loads
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _request(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310 - loopback
    return urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback


def _wait_for(base: str, url: str, token: str) -> None:
    for _ in range(150):
        try:
            with _request(base + url, token) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _etag(url: str, token: str) -> str:
    with _request(url, token) as response:
        return str(response.headers["ETag"])


def _wrk(
    options: argparse.Namespace, url: str, token: str, headers: dict[str, str], *, seconds: int, label: str = ""
) -> Load:
    command = ["wrk", "-t2", f"-c{options.connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA)]
    for name, value in {"Authorization": f"Token {token}", **headers}.items():
        command += ["-H", f"{name}: {value}"]
    done = subprocess.run([*command, url], capture_output=True, text=True, timeout=seconds + 60, check=False)  # noqa: S603
    match = re.search(r"BENCH requests=(\d+) seconds=([\d.]+) errors=(\d+) p50=(\d+) p95=(\d+) p99=(\d+)", done.stdout)
    if match is None:
        raise RuntimeError(f"wrk printed no figures: {done.stdout} {done.stderr}")
    requests, duration, errors = int(match[1]), float(match[2]), int(match[3])
    p50, p95, p99 = (int(match[index]) / 1000 for index in (4, 5, 6))
    return Load(label, requests / duration, p50, p95, p99, errors, requests)


def _postgres_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        row = cursor.fetchone()
        return str(row[0]) if row else "?"


def _report(options: argparse.Namespace, loads: list[Load], load_at_start: float) -> None:
    baseline = loads[0].rps
    width = max(len(load.label) for load in loads)
    print()
    print(
        f"API benchmark: {options.commitments:,} synthetic commitments, gunicorn {options.workers} sync workers, "
        f"wrk {options.connections} connections x {options.seconds} s per URL, loopback"
    )
    print(
        f"machine:  {os.cpu_count()} cores, {platform.machine()}, {platform.system()} {platform.release()}; "
        f"load average {load_at_start:.2f} at the start, {os.getloadavg()[0]:.2f} at the end "
        "(wrk, gunicorn and PostgreSQL share the cores)"
    )
    print(
        f"software: Python {platform.python_version()}, Django {django.get_version()}, PostgreSQL {_postgres_version()}"
    )
    print()
    print(f"{'URL'.ljust(width)}  {'rps':>8}  {'p50 ms':>7}  {'p95 ms':>7}  {'p99 ms':>7}  {'ratio':>6}  {'errors':>6}")
    for load in loads:
        ratio = load.rps / baseline if baseline else float("nan")
        print(
            f"{load.label.ljust(width)}  {load.rps:8.0f}  {load.p50_ms:7.1f}  {load.p95_ms:7.1f}  {load.p99_ms:7.1f}  "
            f"{ratio:6.2f}  {load.errors:6d}"
        )
    listing, revalidation, kept = loads[1], loads[4], loads[5]
    ratio = listing.rps / baseline if baseline else 0.0
    print()
    print(
        f"goal: list >= {GOAL_RATIO}x baseline rps ({ratio:.2f}x built, {kept.rps / baseline:.2f}x kept): "
        f"{'met' if ratio >= GOAL_RATIO else 'NOT MET'}; "
        f"list p95 < {GOAL_P95_MS:.0f} ms ({listing.p95_ms:.1f} ms built, {kept.p95_ms:.1f} ms kept): "
        f"{'met' if listing.p95_ms < GOAL_P95_MS else 'met when kept' if kept.p95_ms < GOAL_P95_MS else 'NOT MET'}"
    )
    print(
        f"goal: 304 revalidation > {GOAL_304_RPS:,.0f} rps ({revalidation.rps:,.0f}): "
        f"{'met' if revalidation.rps > GOAL_304_RPS else 'NOT MET'}"
    )
    sys.stdout.flush()
