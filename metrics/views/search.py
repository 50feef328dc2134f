"""The search page: commitments found by reference, text, organisations, programmes and themes.

The rule (how a query is read, matched, ranked and quoted) is ``commitments.search``, which the API's
``?search=`` uses too; who may find which commitments is ``commitments.api.permissions.visible_commitments``,
as everywhere else. Two queries whatever the number of results: the count, and the page with its excerpts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from commitments import search as commitment_search
from commitments.api.permissions import visible_commitments
from commitments.models import Commitment, CommitmentQuerySet
from metrics.views.common import CountedPaginator, dashboard

PAGE_SIZE = 20
# Results counted and listed at most. Counting every match of a word nearly every commitment holds costs as
# much as ranking them; past this many the page says "more than" and asks for more words.
MAX_LISTED = 1000
# What a result shows besides its excerpt: read with the page, in the same query.
_SHOWN = ("reference", "text", "delivery_status", "published", "foundation__name", "area__name")


class SearchForm(forms.Form):
    """The search box: what to look for among the commitments, and the page of results."""

    q = forms.CharField(
        required=False,
        max_length=commitment_search.MAX_QUERY_LENGTH,
        label="Search commitments",
        error_messages={"max_length": f"Search terms must be {commitment_search.MAX_QUERY_LENGTH} characters or fewer"},
    )
    page = forms.IntegerField(
        required=False,
        min_value=1,
        error_messages={"invalid": "Page must be a number", "min_value": "Page must be 1 or more"},
    )


@dataclass(frozen=True)
class Result:
    """One commitment found, with the excerpt of its text to show (``commitments.search.Part``s)."""

    commitment: Commitment
    excerpt: list[commitment_search.Part]


@dashboard
def search(request: HttpRequest) -> HttpResponse:
    """Commitments the query finds, best first, a page at a time; a GOV.UK error for a query that cannot be read."""
    form = SearchForm(request.GET)
    context: dict[str, Any] = {"form": form, "page": "search", "query": request.GET.get("q", "")[:500]}
    if not form.is_valid():
        errors = [(name, message) for name, messages in form.errors.items() for message in messages]
        return render(request, "dashboards/search.html", {**context, "errors": errors}, status=400)
    query = commitment_search.parse(form.cleaned_data["q"])
    context["query"] = query.text
    if query.is_empty:
        return render(request, "dashboards/search.html", context)
    visible: CommitmentQuerySet = visible_commitments(request.user)
    # Counted without ranking, and only up to one past the most listed.
    count = commitment_search.matching(visible, query).order_by().values("pk")[: MAX_LISTED + 1].count()
    # Past the most listed, the best of the first matches found are listed (and the page says so): ranking
    # every match of a word nearly every commitment holds would read the whole table for each search.
    more_than_listed = count > MAX_LISTED
    found = commitment_search.ranked(
        visible.select_related("foundation", "area").only(*_SHOWN),
        query,
        among=MAX_LISTED if more_than_listed else None,
    )
    paginator = CountedPaginator(found, PAGE_SIZE, count=min(count, MAX_LISTED))
    page = paginator.get_page(form.cleaned_data["page"] or 1)
    context.update(
        searched=True,
        results=[Result(commitment, commitment_search.excerpt(commitment, query)) for commitment in page.object_list],
        page_obj=page,
        count=min(count, MAX_LISTED),
        more_than_listed=more_than_listed,
        page_query="?" + urlencode({"q": query.text}),
    )
    return render(request, "dashboards/search.html", context)
