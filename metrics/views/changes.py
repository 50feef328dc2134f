"""What changed between the ends of two quarters."""

from __future__ import annotations

from datetime import date

from django.http import Http404, HttpRequest, HttpResponse

from commitments.periods import Quarter
from metrics import dashboards
from metrics.forms import ComparisonForm, DateInput
from metrics.rules import Population
from metrics.services import markers_pending
from metrics.table_builders import changes_tables
from metrics.views.common import BadInputError, Option, dashboard, form_errors, quarter_options, respond


@dashboard
def changes(request: HttpRequest) -> HttpResponse:
    """What changed between the ends of two quarters."""
    quarters = dashboards.reporting_quarters()
    form = ComparisonForm(request.GET)
    if not form.is_valid():
        raise BadInputError(form_errors(form), form)
    if len(quarters) < 2:
        raise Http404("There are not yet two quarters to compare.")
    as_of: date | None = form.cleaned_data["as_of"]
    until: Quarter | None = Quarter.containing(as_of) if as_of else form.cleaned_data["until"]
    if until is None:
        default = dashboards.default_quarter(quarters)
        if default is None:
            raise Http404("No quarterly figures have been computed yet.")
        until = default.quarter
    since = form.cleaned_data["since"] or until.previous()
    for quarter in (since, until):
        if dashboards.quarter_row(quarters, quarter) is None:
            raise Http404(f"The tracker has no figures for {quarter}.")
    if since >= until:
        raise BadInputError({"From the end of": ["Choose a quarter before the one you compare it with."]})
    # A quarter in progress is compared as of today, never as of its last day, which is still to come.
    later = as_of or until.figures_day()
    population: str = form.cleaned_data["population"]
    data = dashboards.changes_between(
        since.end,
        later,
        quarters,
        updates_limit=None if request.GET.get("download") else 200,
        population=population,
    )
    context = {
        "changes": data,
        "since": since,
        "until": until,
        "as_of": as_of,
        "as_of_input": DateInput.of(as_of),
        "until_in_progress": as_of is None and not until.is_over(),
        "population": population,
        "population_options": [
            Option(str(value), str(label), value == population) for value, label in Population.choices
        ],
        "since_options": quarter_options(quarters, since),
        "until_options": quarter_options(quarters, until, as_of),
        "updating": markers_pending(),
        "page": "changes",
    }
    return respond(
        request, "dashboards/changes.html", context, changes_tables(data), f"changes-{since}-{until}".replace(" ", "")
    )
