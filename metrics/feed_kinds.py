"""The metrics app's kinds of the change feed (``lsis.core.feed``): reporting quarters and quarterly figures.

A figure's key in the feed is ``<quarter>/<basis>/<population>/<scope_type>/<scope_key>``, e.g.
``2019-20-Q1/live/key/deal/SD2``: the quarter first, so that every figure of a quarter and basis is one
prefix (``figures_changed``). Figures are written in bulk, with no signals: the services that write them
call ``figures_changed`` for the quarters they wrote, and a change of a quarter's sign-off or of the day
its live figures describe names its figures here.

In the feed a figure's ``updating`` is always false: it says that approvals are waiting to be counted at
the moment of a request, which is no part of the figure; the counted figures arrive as later entries.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db.models import Q

from lsis.core.feed import (
    ALL,
    PREFIX,
    FeedKind,
    changed_fields,
    feed_changed,
    feed_changed_many,
    feed_kind_register,
    feed_watch,
)
from programmes.feed_kinds import COMMITMENTS

QUARTERS, METRICS, RELEASES = "quarters", "metrics", "releases"
Pairs = Iterable[tuple[str, str]]


def quarter_code(year: int, number: int) -> str:
    """The API's code of a quarter, e.g. ``2019-20-Q1`` (as ``metrics.api.serializers.quarter_code``)."""
    from commitments.periods import Quarter

    return Quarter(year, number).label.replace(" ", "-")


def figures_changed(*, year: int, number: int, basis: str | None = None) -> None:
    """Record, in the current transaction, that figures of that quarter (and basis, if given) may have changed."""
    prefix = f"{quarter_code(year, number)}/{basis + '/' if basis else ''}"
    feed_changed(METRICS, prefix + PREFIX)


def day_passed(*, today: date) -> int:
    """Record that the published commitments whose overdue flags turn today may have changed; return how many.

    Being overdue depends on the day (``metrics.rules``): a commitment whose target date, or one of whose
    milestones' due date, was yesterday reads differently today with no write to mark it. Run just after
    midnight (``metrics.feed_day_passed``), so the feed follows the API's lists within minutes.
    """
    from commitments.models import Commitment
    from metrics import rules

    yesterday = today - timedelta(days=1)
    turning = rules.overdue_may_change(after=yesterday, until=today) | rules.milestone_overdue_may_change(
        after=yesterday, until=today
    )
    references = list(Commitment.objects.published().filter(turning).values_list("reference", flat=True).distinct())
    feed_changed_many((COMMITMENTS, reference) for reference in references)
    return len(references)


def every_figure_changed() -> None:
    """Record that any figure may have changed (a scope relabelled in every quarter)."""
    feed_changed(METRICS, ALL)


def register() -> None:
    """Register the kinds and what changes them (from ``MetricsConfig.ready``)."""
    from metrics.api import views
    from metrics.api.releases import ReleaseSerializer
    from metrics.models import Release, ReleaseFile, ReportingQuarter

    feed_kind_register(
        FeedKind(
            name=QUARTERS,
            records=_quarters,
            exists=lambda keys: set(_quarter_rows(keys)),
            keys=lambda prefix: [key for key in _quarter_rows(None) if key.startswith(prefix)],
            schema=views.ReportingQuarterViewSet.serializer_class,
            description="Reporting quarters and their sign-off.",
        )
    )
    feed_kind_register(
        FeedKind(
            name=METRICS,
            records=_figures,
            exists=lambda keys: set(_figure_rows(keys)),
            keys=_figure_keys,
            schema=views.QuarterMetricViewSet.serializer_class,
            description="Quarterly figures, every quarter, basis and population.",
        )
    )
    feed_kind_register(
        FeedKind(
            name=RELEASES,
            records=_releases,
            exists=lambda keys: set(_release_rows(keys)),
            keys=lambda prefix: [key for key in _release_rows(None) if key.startswith(prefix)],
            schema=ReleaseSerializer,
            description="Open-data releases of signed-off quarters (a release never changes: created only).",
        )
    )
    feed_watch(ReportingQuarter, _quarter_and_figures, before_save=_quarter_before)
    # A release is written once, with its files after it: the files' save names the release again.
    feed_watch(Release, lambda release: [(RELEASES, release.code)])
    feed_watch(ReleaseFile, lambda file: [(RELEASES, file.release.code)])


def _quarter_and_figures(quarter: Any) -> Pairs:
    return [(QUARTERS, quarter_code(quarter.year, quarter.number))]


def _quarter_before(quarter: Any) -> Pairs:
    """A sign-off shows in every figure of the quarter; a new day for the live figures, in their ``as_of``."""
    if changed_fields(quarter, "locked_at", "live_as_of") is None:
        return []
    return [(METRICS, f"{quarter_code(quarter.year, quarter.number)}/{PREFIX}")]


def _parse_quarter(code: str) -> tuple[int, int] | None:
    from django.core.exceptions import ValidationError

    from metrics.api.views import parse_quarter_code

    try:
        quarter = parse_quarter_code(code)
    except ValidationError:
        return None
    return quarter.year, quarter.number


def _quarter_rows(keys: list[str] | None) -> dict[str, Any]:
    """Quarters by code, of ``keys`` (every one if None)."""
    from lsis.api.feed_records import partner_view
    from metrics.api.views import ReportingQuarterViewSet

    rows = partner_view(ReportingQuarterViewSet).get_queryset()
    if keys is not None:
        wanted = [pair for pair in map(_parse_quarter, keys) if pair is not None]
        if not wanted:
            return {}
        rows = rows.filter(_any_of(Q(year=year, number=number) for year, number in wanted))
    return {quarter_code(row.year, row.number): row for row in rows}


def _quarters(keys: list[str]) -> dict[str, Any]:
    from lsis.api.feed_records import partner_view
    from metrics.api.views import ReportingQuarterViewSet

    view = partner_view(ReportingQuarterViewSet)
    found = _quarter_rows(keys)
    data = view.get_serializer(list(found.values()), many=True).data
    return dict(zip(found, data, strict=True))


def _release_rows(keys: list[str] | None) -> dict[str, Any]:
    """Releases by code, of ``keys`` (every one if None), with their files listed."""
    from metrics.api.releases import parse_release_code
    from metrics.releases import releases_list

    rows = releases_list()
    if keys is not None:
        wanted = [named for named in map(parse_release_code, keys) if named is not None]
        if not wanted:
            return {}
        rows = rows.filter(
            _any_of(
                Q(quarter__year=quarter.year, quarter__number=quarter.number, version=version)
                for quarter, version in wanted
            )
        )
    return {row.code: row for row in rows}


def _releases(keys: list[str]) -> dict[str, Any]:
    """The releases as the API lists them to a partner."""
    from lsis.api.feed_records import partner_view
    from metrics.api.releases import ReleaseViewSet

    view = partner_view(ReleaseViewSet)
    found = _release_rows(keys)
    data = view.get_serializer(list(found.values()), many=True).data
    return dict(zip(found, data, strict=True))


def _any_of(conditions: Iterable[Q]) -> Q:
    combined = Q(pk__in=[])
    for condition in conditions:
        combined |= condition
    return combined


def _figure_key(row: Any) -> str:
    code = quarter_code(row.quarter.year, row.quarter.number)
    return f"{code}/{row.basis}/{row.population}/{row.scope_type}/{row.scope_key}"


def _figure_rows(keys: list[str]) -> dict[str, Any]:
    """The figures ``keys`` name, by key: one statement per quarter and basis named."""
    from metrics.models import QuarterMetric

    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for key in keys:
        parts = key.split("/", 4)
        if len(parts) == 5:
            groups[(parts[0], parts[1])].add(parts[4])
    found: dict[str, Any] = {}
    wanted = set(keys)
    for (code, basis), scope_keys in groups.items():
        quarter = _parse_quarter(code)
        if quarter is None:
            continue
        rows = QuarterMetric.objects.select_related("quarter").filter(
            quarter__year=quarter[0], quarter__number=quarter[1], basis=basis, scope_key__in=scope_keys
        )
        for row in rows.order_by("pk"):
            key = _figure_key(row)
            if key in wanted:
                found[key] = row
    return found


def _figures(keys: list[str]) -> dict[str, Any]:
    """The figures as the API lists them to a partner (``updating`` false: see the module's docstring)."""
    from lsis.api.feed_records import partner_view
    from metrics.api.views import QuarterMetricViewSet

    view = partner_view(QuarterMetricViewSet)
    found = _figure_rows(keys)
    serializer_class = view.get_serializer_class()
    context = {**view.get_serializer_context(), "updating": False}
    data = serializer_class(list(found.values()), many=True, context=context).data
    return dict(zip(found, data, strict=True))


def _figure_keys(prefix: str) -> list[str]:
    from metrics.models import QuarterMetric

    rows = QuarterMetric.objects.order_by()
    parts = prefix.split("/")
    quarter = _parse_quarter(parts[0]) if parts[0] else None
    if quarter is not None:
        rows = rows.filter(quarter__year=quarter[0], quarter__number=quarter[1])
    keys = (
        f"{quarter_code(year, number)}/{basis}/{population}/{scope_type}/{scope_key}"
        for year, number, basis, population, scope_type, scope_key in rows.values_list(
            "quarter__year", "quarter__number", "basis", "population", "scope_type", "scope_key"
        )
    )
    return [key for key in keys if key.startswith(prefix)]
