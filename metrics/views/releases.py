"""The open-data releases page: every signed-off quarter's versions and their files to download."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from metrics.releases import releases_list
from metrics.views.common import dashboard


@dashboard
def releases(request: HttpRequest) -> HttpResponse:
    """Each release, latest first, with its files (downloaded from the API, which serves them unchanged)."""
    return render(request, "dashboards/releases.html", {"releases": list(releases_list()), "page": "releases"})
