"""Version 1 of the API: every endpoint under ``/api/v1/``.

Paths end with a slash (a GET without one is redirected). An unknown path answers with the API's JSON 404.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path, re_path
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from commitments.api import views as commitments
from lsis.api.changes import ChangesViewSet
from metrics.api import views as metrics
from metrics.api.glossary import GlossaryViewSet
from programmes.api import views as programmes

router = SimpleRouter()
router.register("deals", commitments.DealViewSet, basename="deal")
router.register("documents", commitments.DocumentViewSet, basename="document")
router.register("frameworks", commitments.FrameworkViewSet, basename="framework")
router.register("themes", commitments.ThemeViewSet, basename="theme")
router.register("foundations", commitments.FoundationViewSet, basename="foundation")
router.register("areas", commitments.AreaViewSet, basename="area")
router.register("organisations", commitments.OrganisationViewSet, basename="organisation")
router.register("programmes", programmes.ProgrammeViewSet, basename="programme")
router.register("funding", programmes.FundingAmountViewSet, basename="fundingamount")
router.register("commitments", programmes.CommitmentViewSet, basename="commitment")
router.register("updates", commitments.StatusUpdateViewSet, basename="statusupdate")
router.register("proposals", commitments.ProposalViewSet, basename="proposal")
router.register("quarters", metrics.ReportingQuarterViewSet, basename="quarter")
router.register("metrics", metrics.QuarterMetricViewSet, basename="metric")
router.register("changes", ChangesViewSet, basename="change")
router.register("releases", metrics.ReleaseViewSet, basename="release")


class NotFoundView(APIView):
    """Any other path: the API's 404 (after authentication, like every endpoint)."""

    schema = None

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        """Not found."""
        raise exceptions.NotFound("There is no such endpoint; see /api/docs/ for the ones there are.")

    post = put = patch = delete = get


app_name = "api"
urlpatterns = [
    re_path(r"^", include(router.urls)),
    # The glossary gathers every app's vocabulary, so the top layer serves it (metrics.glossary).
    path("glossary/", GlossaryViewSet.as_view({"get": "glossary"}), name="glossary"),
    # Only paths ending in a slash, so that Django still redirects a path missing its slash.
    re_path(r"^.*/$", NotFoundView.as_view()),
]
