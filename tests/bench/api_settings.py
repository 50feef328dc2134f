"""Settings of the API benchmark's server: the test settings, the bench URLconf, production-like serving."""

from lsis.settings.test import *  # noqa: F403
from lsis.settings.test import DATABASES

ROOT_URLCONF = "tests.bench.api_urls"
DEBUG = False
# Keep database connections open between requests, as production does (CONN_MAX_AGE there).
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# Production serves collected static files and never re-scans them per request; the test settings'
# autorefresh walks the static folders on every request.
WHITENOISE_AUTOREFRESH = False
