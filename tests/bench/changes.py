"""Time a page of the change feed (``GET /api/v1/changes/``) with 100,000 changes in it.

In a throwaway database (PostgreSQL when ``DATABASE_URL`` names one, otherwise a SQLite file) holding
SYNTHETIC feed entries only: N entries of a kind named ``synthetic``, keys ``SYNTHETIC-000001`` on, each
record a made-up commitment-sized document marked ``"synthetic": true``. No real record is in it, and
nothing of it is kept. As a partner with a token, through the whole stack (authentication, throttles,
the query string, the sweep of pending changes, the page, JSON), it times

(a) the baseline: the same 200 entries read with ``values_list`` and encoded with orjson, no view;
(b) the first page of 200 (no cursor);
(c) a page of 200 from the middle (cursor at N/2);
(d) the last page (cursor 200 before the end);
(e) a page of 200 of one kind (``kind=``), the other kind's entries interleaved.

It prints p50 and p95 of each, its ratio to (a) in this same run, the queries per page, and whether the
goal is met (p95 under 300 ms for every page of 200). It always exits 0.
``python -m tests.bench.changes --sizes 100000 --repeats 50``; ``make bench`` runs it with its defaults.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from typing import Any

GOAL_P95_SECONDS = 0.300
PAGE = 200


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.changes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="feed entries (100000)")
    parser.add_argument("--repeats", type=int, default=50, help="requests per page measured (50)")
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    """Measure each size in a database of its own; report. Always returns 0."""
    from django.conf import settings

    options = _parse(argv)
    settings.DEBUG = False
    load = os.getloadavg()[0]
    for size in options.sizes:
        try:
            _one_size(size, options.repeats, load)
        except Exception as error:
            print(f"[{size:,}] failed: {type(error).__name__}: {error}", flush=True)
    return 0


def synthetic_record(number: int) -> dict[str, Any]:
    """A made-up record the size of a commitment's, clearly synthetic."""
    return {
        "synthetic": True,
        "reference": f"SYNTHETIC-{number:06d}",
        "text": "Synthetic commitment text for the benchmark. " * 8,
        "themes": [{"code": f"SYN-T{index}", "name": "Synthetic theme"} for index in range(4)],
        "organisations": [{"name": "Synthetic Organisation Ltd", "role": "lead"} for _ in range(3)],
        "funding": [{"key": f"SYN-F{number}", "amount_text": "£1m", "low": "1000000.00"}],
        "delivery": {"status": "in_progress", "confidence": "amber", "progress": number % 100, "as_of": "2026-06-30"},
    }


def _fill(size: int) -> float:
    from django.utils import timezone

    from lsis.core.feed import HEAD_KEY
    from lsis.core.models import FeedEntry, FeedHead

    started = time.perf_counter()
    at = timezone.now() - timedelta(days=1)
    batch: list[FeedEntry] = []
    for seq in range(1, size + 1):
        # Two kinds interleaved, one entry in ten of the second, for the ``kind=`` page.
        kind = "synthetic-other" if seq % 10 == 0 else "synthetic"
        action = "updated" if seq % 3 else "created"
        record = synthetic_record(seq)
        batch.append(FeedEntry(seq=seq, kind=kind, key=record["reference"], action=action, record=record, at=at))
        if len(batch) == 5_000:
            FeedEntry.objects.bulk_create(batch)
            batch = []
    FeedEntry.objects.bulk_create(batch)
    FeedHead.objects.update_or_create(key=HEAD_KEY, defaults={"seq": size})
    return time.perf_counter() - started


def _one_size(size: int, repeats: int, load: float) -> None:
    import orjson
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    from commitments import roles
    from lsis.api.changes import cursor_for
    from lsis.api.tokens import api_token_issue
    from lsis.core.feed import feed_head
    from lsis.core.models import FeedEntry
    from tests.bench.throwaway import Timing, print_header, throwaway_database
    from tests.factories import UserFactory

    with throwaway_database(size=size, name="changes"):
        print(f"[{size:,}] writing {size:,} SYNTHETIC feed entries...", flush=True)
        filled = _fill(size)
        from django.contrib.auth.models import Group

        partner = UserFactory.create(username="synthetic-partner")
        partner.groups.add(Group.objects.get(name=roles.PARTNER))
        _, token = api_token_issue(user=partner, expires_in=None)
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        epoch = feed_head().epoch

        def baseline() -> None:
            rows = FeedEntry.objects.filter(seq__gt=size // 2).order_by("seq")
            orjson.dumps(list(rows.values_list("seq", "kind", "key", "action", "at", "record")[:PAGE]))

        pages: dict[str, dict[str, str]] = {
            "(b) first page of 200": {},
            "(c) page of 200 from the middle": {"cursor": cursor_for(epoch, size // 2)},
            "(d) last page of 200": {"cursor": cursor_for(epoch, size - PAGE)},
            "(e) page of 200 of one kind": {"kind": "synthetic", "cursor": cursor_for(epoch, size // 2)},
        }
        unthrottled = {"DEFAULT_THROTTLE_RATES": {"read": "1000000/minute"}}
        from django.conf import settings

        rest = {**settings.REST_FRAMEWORK, **unthrottled}
        timings: list[Timing] = []
        with override_settings(REST_FRAMEWORK=rest):
            base = Timing("(a) baseline: values_list + orjson, no view")
            for _ in range(repeats):
                started = time.perf_counter()
                baseline()
                base.seconds.append(time.perf_counter() - started)
            timings.append(base)
            for label, params in pages.items():
                # The throttle keeps every request of the last minute per token: each page starts with an
                # empty history, so that no page pays for the requests of the pages before it.
                cache.clear()
                timing = Timing(label)
                query: dict[str, str | int] = {"page_size": PAGE, **params}
                # ``kind`` names a kind the feed carries: the synthetic kinds are registered for the run only.
                for _ in range(repeats + 1):
                    with CaptureQueriesContext(connection) as queries:
                        started = time.perf_counter()
                        answer = client.get("/api/v1/changes/", query)
                        took = time.perf_counter() - started
                    assert answer.status_code == 200, answer.content[:300]
                    assert len(answer.json()["results"]) == PAGE
                    timing.seconds.append(took)
                    timing.queries = len(queries)
                timing.seconds = timing.seconds[1:]  # the first warms the caches up
                timings.append(timing)

        print_header(
            f"Change feed: a page of {PAGE} with {size:,} SYNTHETIC changes in the feed",
            load=load,
            notes=[
                f"{size:,} synthetic entries written in {filled:.1f} s; {repeats} requests per page, as a partner "
                "with a token, through the whole stack (Django's test client, no network)",
            ],
        )
        floor = base.percentile(0.5)
        print(f"{'page'.ljust(40)}  {'p50 ms':>7}  {'p95 ms':>7}  {'ratio p50':>9}  {'queries':>7}")
        for timing in timings:
            p50, p95 = timing.percentile(0.5), timing.percentile(0.95)
            ratio = p50 / floor if floor else float("nan")
            print(f"{timing.label.ljust(40)}  {p50 * 1000:7.1f}  {p95 * 1000:7.1f}  {ratio:8.1f}x  {timing.queries:7d}")
        met = all(timing.percentile(0.95) < GOAL_P95_SECONDS for timing in timings[1:])
        print(f"goal (p95 < {GOAL_P95_SECONDS * 1000:.0f} ms for every page of {PAGE}): {'met' if met else 'NOT met'}")


def _register_synthetic_kinds() -> None:
    """Kinds named ``synthetic`` and ``synthetic-other`` for ``kind=``: never registered outside this run."""
    from lsis.core.feed import FeedKind, feed_kind_register

    for name in ("synthetic", "synthetic-other"):
        feed_kind_register(FeedKind(name=name, records=lambda keys: {}, exists=lambda keys: set(), keys=lambda p: []))


def main() -> int:
    """Configure Django, then run."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lsis.settings.test")
    import django

    django.setup()
    _register_synthetic_kinds()
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
