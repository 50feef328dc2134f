"""Time the board dashboards' server-side rendering on synthetic data, and count their queries.

In a throwaway database (Django's test-database machinery; PostgreSQL when ``DATABASE_URL`` names one,
otherwise a SQLite file) holding synthetic data only (``metrics.synthetic.generate_synthetic``, fixed
seed), for each size N it computes the figures of every quarter with the engine (a full rebuild, as the
nightly job does), signs in a board member with the Django test client and times, R times each after a
warm-up:

(a) the baseline: the sign-in page (middleware, session, template; no figures read);
(b) the quarter overview as it opens: the last completed quarter, read from the stored figures;
(c) a scope detail page (a synthetic foundation: its history and the first page of its commitments,
    with their stored state) of that quarter;
(d) the same scope detail for an earlier quarter (the commitments' state as of that quarter's end);
(e) the overview of the quarter in progress, whose figures so far are stored as of today like any quarter's.

It prints p50 and p95 of each, its ratio to (a), the queries each page ran, the machine, and whether the
goal is met (p95 under 50 ms, at most 10 queries). It always exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments import roles
from commitments.periods import Quarter, last_completed
from metrics.services import metrics_recompute
from metrics.synthetic import LABEL, generate_synthetic
from tests.bench.throwaway import Timing, print_header, throwaway_database

DEFAULT_SIZES = (10_000,)
DEFAULT_SEED = 20170830  # the Life Sciences Industrial Strategy was published on 30 August 2017
GOAL_P95 = 0.050
GOAL_QUERIES = 10


class Page(Timing):
    """One measured page."""


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench dashboards", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="commitments (10000)")
    parser.add_argument("--updates-per-commitment", type=int, default=10, help="approved updates each (10)")
    parser.add_argument("--repeats", type=int, default=50, help="timed renders of each page (50)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    """Measure each size in a database of its own; report. Always returns 0."""
    options = _parse(argv)
    settings.DEBUG = False  # no query log outside the counted renders
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    load_at_start = os.getloadavg()[0]
    for size in options.sizes:
        try:
            pages, notes = _one_size(options, size)
            _report(options, size, pages, notes, load_at_start)
        except Exception as error:
            print(f"[{size:,}] failed: {type(error).__name__}: {error}", flush=True)
    return 0


def _one_size(options: argparse.Namespace, size: int) -> tuple[list[Page], list[str]]:
    notes: list[str] = []
    with throwaway_database(size=size, name="dashboards"):
        updates = size * options.updates_per_commitment
        print(f"[{size:,}] generating {updates:,} approved updates under “{LABEL}”...", flush=True)
        started = time.perf_counter()
        generate_synthetic(commitments=size, updates=updates, seed=options.seed)
        notes.append(f"synthetic data generated in {time.perf_counter() - started:.0f} s")
        latest, earlier = _store_figures(notes)
        return _measure(options, latest, earlier), notes


def _store_figures(notes: list[str]) -> tuple[Quarter, Quarter]:
    """Compute every quarter's figures with the engine; return the quarter pages open on, and an earlier one."""
    started = time.perf_counter()
    report = metrics_recompute()
    notes.append(f"every quarter's figures computed by the engine in {time.perf_counter() - started:.0f} s")
    notes.append(f"{report.rows:,} rows of figures stored")
    _analyze()
    return last_completed(), Quarter(2020, 1)


def _analyze() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _measure(options: argparse.Namespace, latest: Quarter, earlier: Quarter) -> list[Page]:
    user = get_board_member()
    client = Client()
    client.force_login(user)
    foundation = "SYNF1"
    scope = reverse("dashboards:scope", args=["foundation", foundation])
    targets = [
        (Page("(a) baseline: the sign-in page"), Client(), reverse("login"), {}),
        (Page(f"(b) quarter overview as it opens, {latest}"), client, reverse("dashboards:overview"), {}),
        (Page(f"(c) scope detail, foundation {foundation}, {latest}"), client, scope, {}),
        (Page(f"(d) scope detail, foundation {foundation}, {earlier}"), client, scope, {"quarter": earlier.label}),
        (
            Page(f"(e) overview of the quarter in progress, {latest.next()}, so far"),
            client,
            reverse("dashboards:overview"),
            {"quarter": latest.next().label},
        ),
    ]
    for page, who, url, params in targets:
        print(f"  timing {page.label}...", flush=True)
        response = who.get(url, params)
        if response.status_code != 200:
            raise RuntimeError(f"{url} answered {response.status_code}")
        with CaptureQueriesContext(connection) as queries:
            who.get(url, params)
        page.queries = len(queries.captured_queries)
        for _ in range(options.repeats):
            started = time.perf_counter()
            who.get(url, params)
            page.seconds.append(time.perf_counter() - started)
    return [page for page, *_ in targets]


def get_board_member() -> User:
    """A board member to sign in as."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username="bench-board-member")
    user.groups.add(Group.objects.get(name=roles.BOARD_MEMBER))
    return user


def _report(options: argparse.Namespace, size: int, pages: list[Page], notes: list[str], load: float) -> None:
    baseline = pages[0].percentile(0.95)
    width = max(len(page.label) for page in pages)
    print_header(
        f"Dashboard rendering benchmark: {size:,} synthetic commitments, {options.repeats} renders per page",
        load=load,
        notes=notes,
    )
    print()
    print(f"{'page'.ljust(width)}  {'p50 ms':>7}  {'p95 ms':>7}  {'ratio':>6}  {'queries':>7}")
    for page in pages:
        p95 = page.percentile(0.95)
        print(
            f"{page.label.ljust(width)}  {page.percentile(0.5) * 1000:7.1f}  {p95 * 1000:7.1f}  "
            f"{p95 / baseline if baseline else float('nan'):6.1f}  {page.queries:7d}"
        )
    print()
    print(
        f"goal: the overview and a scope detail page p95 under {GOAL_P95 * 1000:.0f} ms, at most {GOAL_QUERIES} queries"
    )
    for page in pages[1:]:
        p95 = page.percentile(0.95)
        verdict = "met" if p95 < GOAL_P95 and page.queries <= GOAL_QUERIES else "NOT MET"
        print(f"  {page.label.split(':')[0].split(',')[0]}: {p95 * 1000:.1f} ms, {page.queries} queries: {verdict}")
    sys.stdout.flush()
