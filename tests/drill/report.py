"""The drill's figures as a plain-text table, and the guarantees that decide its exit status."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from tests.drill.checks import Figures, Freshness, Reminders
from tests.drill.faults import RESTART_POSTGRES, Event
from tests.drill.load import BOARD_PAGE, KINDS, SIGN_IN, Sample


@dataclass
class Outcome:
    """Everything the report prints."""

    seconds: float
    clients: int
    setting: str
    samples: list[Sample]
    events: list[Event]
    approvals_made: int
    approvals_found: int
    figures: Figures
    reminders: Reminders
    freshness: Freshness
    client_errors: list[str] = field(default_factory=list)
    causes: Counter[str] = field(default_factory=Counter)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))]


def _failed(sample: Sample) -> bool:
    return sample.status >= 500 or sample.status == 0


def in_restart(sample: Sample, events: list[Event]) -> bool:
    """Whether the request was in flight (sent, queued or served) while PostgreSQL was restarting."""
    end = sample.at + sample.ms / 1000
    return any(e.name == RESTART_POSTGRES and sample.at <= e.ended and end >= e.started for e in events)


def failures(outcome: Outcome) -> list[str]:
    """Each guarantee the drill did not keep (empty: all kept).

    Every server error fails it, those of requests in flight while PostgreSQL restarted included: such a
    request is run again on a new connection (``DATABASE_RETRY_SECONDS``), and must be answered.
    """
    server_errors = [s for s in outcome.samples if _failed(s)]
    counts = Counter(s.kind for s in outcome.samples)
    failed = []
    if server_errors:
        during = sum(1 for s in server_errors if in_restart(s, outcome.events))
        failed.append(
            f"{len(server_errors)} server errors or requests with no answer ({during} during the PostgreSQL restart)"
        )
    failed += [f"no {kind} request completed" for kind in KINDS if not counts[kind]]
    if outcome.approvals_made == 0:
        failed.append("no approval was made")
    if outcome.approvals_found != outcome.approvals_made:
        failed.append(f"approvals lost: {outcome.approvals_made - outcome.approvals_found}")
    if not outcome.figures.equal:
        failed.append(f"stored figures differ from a full recompute ({outcome.figures.differing} rows)")
    if outcome.reminders.duplicates:
        failed.append(f"{outcome.reminders.duplicates} reminders sent twice")
    if outcome.reminders.messages == 0:
        failed.append("no reminder was sent: the reminders were not exercised")
    if outcome.freshness.seconds is None:
        failed.append(f"figures not fresh again: {outcome.freshness.markers_left} recompute markers left")
    failed += [f"client failed: {error}" for error in outcome.client_errors]
    return failed


def render(outcome: Outcome) -> str:
    """The report: the table of requests, the faults, then each guarantee."""
    lines = [
        f"Fault drill: {outcome.seconds:g} s, {outcome.clients} clients, loopback; {outcome.setting}",
        "",
        f"{'kind':<14} {'requests':>8} {'p50 ms':>8} {'p95 ms':>8} {'5xx':>5} {'no answer':>9}  other errors",
    ]
    for kind in (*KINDS, SIGN_IN):
        mine = [s for s in outcome.samples if s.kind == kind]
        # A redirect is an error only for a board page (signed out); signing in answers 302 when it works.
        others = Counter(s.status for s in mine if 400 <= s.status < 500 or (kind == BOARD_PAGE and s.status == 302))
        times = [s.ms for s in mine]
        lines.append(
            f"{kind:<14} {len(mine):>8} {percentile(times, 0.5):>8.0f} {percentile(times, 0.95):>8.0f} "
            f"{sum(1 for s in mine if s.status >= 500):>5} {sum(1 for s in mine if s.status == 0):>9}  "
            + (", ".join(f"{status}: {n}" for status, n in sorted(others.items())) or "none")
        )
    lines += ["", "faults (s into the run):"]
    lines += [f"  {e.started:6.1f}-{e.ended:5.1f}  {e.name}: {e.detail}" for e in outcome.events]
    bad = [s for s in outcome.samples if _failed(s)]
    excused = sum(1 for s in bad if in_restart(s, outcome.events))
    lines += [
        "",
        f"server errors (5xx or no answer): {len(bad)}, of which {excused} in flight during the PostgreSQL restart",
    ]
    lines += [
        f"  {s.at:6.1f}-{s.at + s.ms / 1000:5.1f} s  {s.kind}: {s.method} {s.path} -> {s.status or 'no answer'}"
        + (" (in flight during the restart)" if in_restart(s, outcome.events) else "")
        for s in sorted(bad, key=lambda s: s.at)[:20]
    ]
    if outcome.causes:
        lines.append("errors in the web log (a request whose connection was lost logs one, then runs again):")
    lines += [f"  ({n}x) {cause}" for cause, n in outcome.causes.most_common()]
    reminders, figures, fresh = outcome.reminders, outcome.figures, outcome.freshness
    lines += [
        f"approvals answered 2xx: {outcome.approvals_made}; found approved in the database: {outcome.approvals_found}",
        f"figures equal to a full recompute: {'yes' if figures.equal else 'NO'} ({figures.rows} rows compared"
        + (f", {figures.differing} differ)" if not figures.equal else ")"),
        f"reminders: {reminders.messages} digests written, {reminders.sent} sent, {reminders.emails} e-mails, "
        f"{reminders.queued} left queued; duplicates: {reminders.duplicate_reminders} in the ledger, "
        f"{reminders.duplicate_messages} messages, {reminders.duplicate_emails} e-mails per person and day",
        "fresh after the last fault: "
        + (
            f"{fresh.seconds:.1f} s ({fresh.after_load:.1f} s after the clients stopped writing)"
            if fresh.seconds is not None
            else f"NOT within the wait ({fresh.markers_left} markers left)"
        ),
        "",
    ]
    failed = failures(outcome)
    lines.append("drill: PASSED" if not failed else "drill: FAILED: " + "; ".join(failed))
    return "\n".join(lines)
