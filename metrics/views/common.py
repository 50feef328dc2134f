"""What every dashboard page shares: who may read it, the period it shows, bad input, and the response.

Every page needs a signed-in user who may view the quarterly figures (board members, editors, reviewers,
administrators; not partners).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property, wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from commitments.periods import Quarter
from metrics import dashboards
from metrics.dashboards import Period
from metrics.forms import DateInput, PeriodForm
from metrics.links import period_query
from metrics.models import ReportingQuarter
from metrics.rules import Population
from metrics.services import markers_pending
from metrics.tables import Table, download

# Every staff role may view the quarterly figures (``commitments.roles``); partners may not.
VIEW_PERMISSION = "metrics.view_quartermetric"


# The fields of the as-of date (the date input's three and the YYYY-MM-DD of older links): what the 400 page's
# date input replaces, keeping every other parameter of the address.
DATE_FIELDS = ("as_of", "as_of_day", "as_of_month", "as_of_year")


class BadInputError(Exception):
    """The query string cannot be read: answered with a 400 page listing each field's problem.

    With the form that read a period (``PeriodForm``), a bad as-of date comes back in a GOV.UK date input
    under the error summary, as typed, for the reader to correct.
    """

    def __init__(self, errors: dict[str, list[str]], form: PeriodForm | None = None) -> None:
        super().__init__(errors)
        self.errors = errors
        self.form = form

    def context(self, request: HttpRequest) -> dict[str, Any]:
        """What ``400.html`` shows: the errors, and the date input to correct a bad as-of date."""
        date_input = self.form.as_of_input() if self.form is not None and "as_of" in self.form.errors else None
        kept = [(name, value) for name, value in request.GET.items() if name not in (*DATE_FIELDS, "page", "download")]
        return {"errors": self.errors, "date_input": date_input, "kept": kept}


def may_read_dashboards(user: Any) -> bool:
    """Whether the user's roles include reading the quarterly figures (``commitments.roles``)."""
    return bool(user.has_perm(VIEW_PERMISSION))


def dashboard(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Sign-in, the permission to read figures, and bad input answered with a 400 page."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not may_read_dashboards(request.user):
            raise PermissionDenied("Your role does not include the board dashboards.")
        try:
            return view(request, *args, **kwargs)
        except BadInputError as error:
            return render(request, "400.html", error.context(request), status=400)

    return wrapped


def form_errors(form: Any) -> dict[str, list[str]]:
    """A form's errors keyed by each field's label, as the 400 page lists them."""
    return {
        str(form.fields[name].label or name) if name in form.fields else name: list(messages)
        for name, messages in form.errors.items()
    }


def read_period(request: HttpRequest, quarters: list[ReportingQuarter]) -> Period:
    """The period the query string asks for; the last completed quarter by default.

    The quarter in progress, when asked for, shows its figures so far, as of today. ``population`` says which
    commitments every figure and list counts: the key commitments by default, or everything.
    """
    form = PeriodForm(request.GET)
    if not form.is_valid():
        raise BadInputError(form_errors(form), form)
    as_of: date | None = form.cleaned_data["as_of"]
    quarter: Quarter | None = Quarter.containing(as_of) if as_of else form.cleaned_data["quarter"]
    if not quarters:
        raise Http404("No quarterly figures have been computed yet.")
    reporting = dashboards.default_quarter(quarters) if quarter is None else dashboards.quarter_row(quarters, quarter)
    if reporting is None:
        raise Http404(f"The tracker has no figures for {quarter}.")
    population: str = form.cleaned_data["population"]
    return (
        Period(reporting, as_of, population=population)
        if as_of
        else Period.of_quarter(reporting, population=population)
    )


@dataclass(frozen=True)
class Option:
    """One option of a select: ``dashboards/_options.html`` renders a list of them."""

    value: str
    label: str
    selected: bool = False


def quarter_options(
    quarters: list[ReportingQuarter], selected: Quarter | None, as_of: date | None = None
) -> list[Option]:
    """The quarter selector's options, latest first: the quarter in progress and signed-off quarters marked.

    With ``as_of`` (time travel) the quarter containing that day is selected and says so, so the selector
    always shows the period the page shows.
    """
    today = timezone.localdate()
    options = []
    for row in reversed(quarters):
        quarter = row.quarter
        notes = []
        if as_of is not None and quarter == Quarter.containing(as_of):
            notes.append(f"as of {as_of:%-d %B %Y}")
        elif not quarter.is_over(today):
            notes.append("in progress: figures so far")
        if row.is_locked:
            notes.append("signed off")
        label = quarter.label + "".join(f" ({note})" for note in notes)
        options.append(Option(quarter.label, label, quarter == selected))
    return options


def choice_options(form: Any, name: str) -> list[Option]:
    """A filter's options with the chosen one selected (listed here: Django's widget templates are slow)."""
    chosen = str(form.data.get(name, ""))
    return [Option(str(value), str(label), str(value) == chosen) for value, label in form.fields[name].choices]


class CountedPaginator(Paginator):
    """Pages of a list whose length is already known (counted apart, or read from the stored figures)."""

    def __init__(self, object_list: Any, per_page: int, *, count: int) -> None:
        super().__init__(object_list, per_page)
        self._known = count

    @cached_property
    def count(self) -> int:
        """The length given, not counted again."""
        return self._known


def page_context(
    request: HttpRequest,
    period: Period,
    quarters: list[ReportingQuarter],
    *,
    updating: bool | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """What every page with a period shows: the period, its selector, and whether figures are updating.

    ``updating`` is ``markers_pending()``, read here unless the view has read it already.
    """
    return {
        "period": period,
        "quarter_options": quarter_options(quarters, period.quarter, period.as_of if period.time_travel else None),
        "population_options": [
            Option(str(value), str(label), value == period.population) for value, label in Population.choices
        ],
        "period_query": period_query(period),
        "as_of_input": DateInput.of(period.as_of if period.time_travel else None),
        "updating": markers_pending() if updating is None else updating,
        "today": timezone.localdate(),
        **extra,
    }


def respond(
    request: HttpRequest, template: str, context: dict[str, Any], tables: list[Table], filename: str
) -> HttpResponse:
    """The page, or the CSV of the table ``?download=<id>`` names."""
    wanted = request.GET.get("download")
    if wanted:
        return download(tables, wanted, filename)
    return render(request, template, {**context, "tables": {table.id: table for table in tables}})
