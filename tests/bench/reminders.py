"""Time the daily reminder run on synthetic data, and count its queries per batch of people.

In a throwaway database (PostgreSQL when ``DATABASE_URL`` names one, otherwise a SQLite file) holding
synthetic data only (``metrics.synthetic.generate_synthetic`` with owners, fixed seed): N commitments with
their approved updates, owned in turn by U synthetic staff, a few of them reviewers. For the day 14 days
after the due day of the cycle under way today (every kind applies: due soon, due today, overdue and the
escalation), it times

(a) the plan alone (a dry run), counting the queries of each batch of people;
(b) the full run as the beat job runs it: the plan, the messages and reminders written, and every message
    delivered in-process (Django's in-memory e-mail backend, so the time is the tracker's own);
(c) a second run the same day, which finds everything in the ledger and sends nothing.

It prints each time, the queries per batch, and whether the goal is met (the run under 60 s, the same number
of queries in every batch). It always exits 0. ``python -m tests.bench.reminders --sizes 100000 --owners 1000``;
``make bench`` runs it with its defaults after the others.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import timedelta


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.reminders", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000], help="commitments (100000)")
    parser.add_argument("--owners", type=int, default=1_000, help="synthetic staff owning them (1000)")
    parser.add_argument("--reviewers", type=int, default=10, help="of whom reviewers (10)")
    parser.add_argument("--updates-per-commitment", type=int, default=2, help="approved updates each (2)")
    parser.add_argument("--seed", type=int, default=20170830)
    return parser.parse_args(argv)


def run(argv: list[str]) -> int:
    """Measure each size in a database of its own; report. Always returns 0."""
    from django.conf import settings

    options = _parse(argv)
    settings.DEBUG = False
    # One log line per delivered message would drown the report.
    logging.getLogger("celery").setLevel(logging.WARNING)
    load = os.getloadavg()[0]
    for size in options.sizes:
        try:
            _one_size(options, size, load)
        except Exception as error:
            print(f"[{size:,}] failed: {type(error).__name__}: {error}", flush=True)
    return 0


def _one_size(options: argparse.Namespace, size: int, load: float) -> None:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core import mail
    from django.db import connection
    from django.test.utils import CaptureQueriesContext, override_settings
    from django.utils import timezone

    from commitments import roles
    from lsis.celery import app
    from lsis.core.models import Message, Reminder
    from metrics import reminders
    from metrics.reminder_services import reminders_send
    from metrics.synthetic import generate_synthetic
    from metrics.update_cycle import Cycle
    from tests.bench.throwaway import print_header, throwaway_database

    with throwaway_database(size=size, name="reminders"):
        updates = size * options.updates_per_commitment
        print(f"[{size:,}] generating {updates:,} approved updates and {options.owners:,} owners...", flush=True)
        started = time.perf_counter()
        generate_synthetic(commitments=size, updates=updates, seed=options.seed, owners=options.owners)
        generated = time.perf_counter() - started
        users = get_user_model().objects
        reviewer_group = Group.objects.get(name=roles.REVIEWER)
        for user in users.filter(username__startswith="synthetic-owner-").order_by("pk")[: options.reviewers]:
            user.groups.add(reviewer_group)
        day = Cycle.on(timezone.localdate()).due_on + timedelta(days=reminders.ESCALATION_DAYS)
        outstanding = Cycle.on(day).outstanding().count()

        # (a) the plan alone, queries counted batch by batch
        per_batch: list[int] = []
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            seen = 0
            digests = 0
            for batch in reminders.plan_batches(day=day):
                per_batch.append(len(captured) - seen)
                seen = len(captured)
                digests += len(batch)
            planned = time.perf_counter() - started

        # (b) the full run, delivered in-process, and (c) the same day again
        app.conf.update(task_always_eager=True)
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            mail.outbox = []
            started = time.perf_counter()
            report = reminders_send(day=day)
            full = time.perf_counter() - started
            started = time.perf_counter()
            again = reminders_send(day=day)
            second = time.perf_counter() - started
            sent = len(mail.outbox)

        print_header(
            f"Reminders: the daily run for {size:,} commitments and {options.owners:,} people",
            load=load,
            notes=[
                f"synthetic data generated in {generated:.1f} s; {outstanding:,} commitments outstanding in the "
                f"cycle on {day.isoformat()} (due {Cycle.on(day).due_on.isoformat()})",
                f"batches of {reminders.BATCH_SIZE} people; the first batch's queries include the run's own "
                "(the escalation's list, the submissions waiting, who reviews, who sees unpublished commitments)",
            ],
        )
        print(f"(a) plan only (dry run):        {planned:7.2f} s   {digests:,} digests; queries per batch: {per_batch}")
        print(
            f"(b) full run, delivered:        {full:7.2f} s   {report.messages:,} messages, {report.reminders:,} "
            f"reminders, {sent:,} e-mails; {Message.objects.count():,} messages, "
            f"{Reminder.objects.count():,} reminders stored"
        )
        print(f"(c) the same day again:         {second:7.2f} s   {again.messages:,} messages (the ledger holds them)")
        steady = per_batch[1:] or per_batch
        met = full < 60 and len(set(steady)) <= 1 and again.messages == 0
        print(f"goal (full run < 60 s, constant queries per batch, nothing twice): {'met' if met else 'NOT met'}")


def main() -> int:
    """Configure Django, then run."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lsis.settings.test")
    import django

    django.setup()
    return run(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
