"""Top-level URL configuration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.generic import RedirectView

from lsis import pages
from lsis.admin import LabelledAutocompleteJsonView
from lsis.core import health

admin.site.site_header = "LSIS Tracker"
admin.site.site_title = "LSIS Tracker"
admin.site.index_title = "Delivery of the Life Sciences Industrial Strategy"

# Errors no view answered: JSON under /api/, GOV.UK pages elsewhere.
handler400 = "lsis.handlers.bad_request"
handler403 = "lsis.handlers.permission_denied"
handler404 = "lsis.handlers.page_not_found"
handler500 = "lsis.handlers.server_error"

urlpatterns: list[URLPattern | URLResolver] = [
    # Probes (docs/health.md), answered first by lsis.core.health.HealthProbeMiddleware: liveness, and
    # readiness, which watches the heartbeat of the metrics sweep (by its task's name, RECOMPUTE_TASK in
    # metrics.services: the layers forbid importing it here).
    path("healthz", health.liveness, name="healthz"),
    path("readyz", health.ReadinessView.as_view(sweep_job="metrics.recompute_pending"), name="readyz"),
    # Before the admin's own: every picker's search, labelled as the searched model's admin says (lsis.admin).
    path("admin/autocomplete/", admin.site.admin_view(LabelledAutocompleteJsonView.as_view(admin_site=admin.site))),
    path("admin/", admin.site.urls),
    # --- Partner REST API (lsis/api/) ---
    path("api/v1/", include("lsis.api.urls")),
    path("api/", include("lsis.api.docs_urls")),
]

# --- Board dashboards (metrics/urls.py): the home page, sign-in and sign-out ---
urlpatterns += [
    path("", include("metrics.urls")),
    # Sign-in (a partner lands on the API's page, never on a dashboard that refuses them) and the glossary.
    path("", include("metrics.site_urls")),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # GOV.UK Frontend's stylesheet asks for its fonts and images under /assets/.
    re_path(r"^assets/(?P<path>.+)$", RedirectView.as_view(url="/static/govuk-frontend/assets/%(path)s")),
]

# --- The pages every GOV.UK service publishes, open to anyone and linked from every page's footer (the
# glossary, in metrics.site_urls, too) ---
urlpatterns += [
    path("help/", pages.help_page, name="help"),
    path("accessibility/", pages.accessibility, name="accessibility"),
    path("cookies/", pages.cookies, name="cookies"),
    path("privacy/", pages.privacy, name="privacy"),
    # Signed in: where a partner lands, about the API.
    path("api-access/", pages.api_access, name="api_access"),
]
