"""The OpenAPI schema and its documentation pages (open to anyone; assets from drf-spectacular-sidecar).

Neither page allows inline scripts or styles ('unsafe-inline'). Swagger UI sets its styles through the DOM's
style properties, which a policy does not restrict, and its start-up script is served as a file. Redoc writes
<style> elements: they carry the response's nonce (``csp.constants.NONCE``), which the page hands to Redoc
(templates/drf_spectacular/redoc.html), except one its bundle writes as it loads, allowed by its hash. Both run
their search or validation in a worker made from a blob. Redoc's footer shows its maker's logo from their
website: img-src 'self' refuses it, on purpose, so the page still loads nothing from another origin.
"""

from __future__ import annotations

from csp.constants import NONCE
from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

_WORKERS = {"worker-src": ["'self'", "blob:"]}
# Before Redoc starts (so before it has the nonce), its bundle writes one <style> element of its own: the
# perfect-scrollbar rules, first empty, then filled. Those two exact contents are allowed by their hashes; they
# change only with drf-spectacular-sidecar, and the browser test fails if they do (tests/test_sign_in_service.py).
_REDOC_BUNDLE_STYLES = [
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty element
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar's rules
]

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        csp_update(_WORKERS)(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path(
        "docs/redoc/",
        csp_update({**_WORKERS, "style-src": [NONCE, *_REDOC_BUNDLE_STYLES]})(
            SpectacularRedocView.as_view(url_name="api-schema")
        ),
        name="api-redoc",
    ),
]
