"""The overview's tiles: each headline count, and the reporting gap, linking to the commitments behind it.

A tile names what its figure counts and, for a percentage, what it is a share of; its link opens the whole
tracker's list of commitments filtered by the same rule the count applies (``metrics.dashboards.commitments_on``
reads the rules' ORM side), so the list is as long as the count says.
"""

from __future__ import annotations

from dataclasses import dataclass

from commitments.delivery import DeliveryStatus
from metrics.dashboards import Period, ScopeFigures
from metrics.engine import TRACKER_KEY
from metrics.links import scope_url
from metrics.models import ScopeType
from metrics.tables import percent


@dataclass(frozen=True)
class Tile:
    """One figure of the overview, what it counts, and the list of the commitments behind it."""

    figure: str
    label: str
    href: str
    tone: str = ""  # "green" or "red": the border of an on-track or at-risk tile


def commitments_url(period: Period, **filters: str) -> str:
    """The whole tracker's list of commitments on the period, filtered (``CommitmentFilterForm``)."""
    url = scope_url(period, ScopeType.TRACKER, TRACKER_KEY, **filters)
    return url if filters else url + "#commitments"


def headline_tiles(period: Period, tracker: ScopeFigures) -> list[Tile]:
    """The headline counts: commitments, delivered, on track, at risk, overdue and progress."""
    counted = tracker.commitments
    of = f"of {counted:,} {period.population_label}"
    mean = tracker.mean_progress
    return [
        Tile(f"{counted:,}", f"{period.population_label} counted", commitments_url(period)),
        Tile(
            percent(tracker.share_delivered),
            f"delivered: {tracker.delivered:,} {of}",
            commitments_url(period, status=DeliveryStatus.DELIVERED),
        ),
        Tile(
            f"{tracker.on_track:,}",
            f"on track (green, amber/green), {of}",
            commitments_url(period, confidence="on_track"),
            "green",
        ),
        Tile(
            f"{tracker.at_risk:,}",
            f"at risk (amber/red, red), {of}",
            commitments_url(period, confidence="at_risk"),
            "red",
        ),
        Tile(
            f"{tracker.overdue:,}",
            f"overdue (target date passed, not delivered), {of}",
            commitments_url(period, overdue="on"),
        ),
        Tile(
            "n/a" if mean is None else f"{mean:.0f}%",
            f"mean progress of the {tracker.progress_reported:,} {of} reporting a progress figure",
            commitments_url(period, progress="reported"),
        ),
    ]


def reporting_gap_tiles(period: Period, tracker: ScopeFigures) -> list[Tile]:
    """What is not reported: no confidence rating, no approved update this quarter, no progress figure."""
    of = f"of {tracker.commitments:,} {period.population_label}"
    return [
        Tile(
            f"{tracker.no_confidence:,}",
            f"{of} have no confidence rating (not rated)",
            commitments_url(period, confidence="none"),
        ),
        Tile(
            f"{tracker.stale:,}",
            f"{of} have no approved update this quarter",
            commitments_url(period, stale="on"),
        ),
        Tile(
            f"{tracker.commitments - tracker.progress_reported:,}",
            f"{of} report no progress figure",
            commitments_url(period, progress="not_reported"),
        ),
    ]
