"""The glossary page, and where signing in leads: the dashboards, or for a partner the API's page.

Both live in ``metrics``, the top layer: the glossary gathers every app's vocabulary (``metrics.glossary``),
and whether a user may read the dashboards is the metrics app's permission (``common.may_read_dashboards``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve, reverse

from metrics.glossary import glossary
from metrics.views.common import may_read_dashboards

# Where a user who may not read the dashboards (a partner) lands: the page about the API (lsis.pages).
API_ACCESS_URL_NAME = "api_access"


def glossary_page(request: HttpRequest) -> HttpResponse:
    """What every status, confidence rating, measure and nature of money means; open to anyone."""
    return render(request, "pages/glossary.html", {"glossary": glossary(), "page": "glossary"})


def _is_dashboard(url: str) -> bool:
    try:
        return resolve(urlsplit(url).path).namespace == "dashboards"
    except Resolver404:
        return False


class SignInView(LoginView):
    """The service's sign-in page, and where it leads.

    Someone who may read the dashboards goes on to them (or to the page they asked for); anyone else, such
    as a partner, to the page about the API, never to a dashboard that would only refuse them.
    """

    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        """The page asked for, or the overview; for a user without the dashboards, the API's page instead."""
        wanted = super().get_success_url()
        if may_read_dashboards(self.request.user) or not _is_dashboard(wanted):
            return wanted
        return reverse(API_ACCESS_URL_NAME)
