"""Top-level URL configuration."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "LSIS Tracker"
admin.site.site_title = "LSIS Tracker"
admin.site.index_title = "Delivery of the Life Sciences Industrial Strategy"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    # --- Partner REST API (lsis/api/) ---
    path("api/v1/", include("lsis.api.urls")),
    path("api/", include("lsis.api.docs_urls")),
]
