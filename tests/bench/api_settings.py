"""Settings of the API benchmark's server: the test settings, the bench URLconf, production-like connections."""

from lsis.settings.test import *  # noqa: F403
from lsis.settings.test import DATABASES

ROOT_URLCONF = "tests.bench.api_urls"
DEBUG = False
# Keep database connections open between requests, as production does (CONN_MAX_AGE there).
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["ATOMIC_REQUESTS"] = True
