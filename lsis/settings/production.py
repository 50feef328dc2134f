"""Production settings: every secret and host comes from the environment, with no default.

Starting without SECRET_KEY, ALLOWED_HOSTS or DATABASE_URL fails at once with a message naming the
missing variable, rather than running with an unsafe fallback.
"""

from django.core.exceptions import ImproperlyConfigured

from lsis.settings.base import *  # noqa: F403
from lsis.settings.base import env

_REQUIRED = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL")
_missing = [name for name in _REQUIRED if not env.str(name, default="").strip()]
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables, which are not set: "
        + ", ".join(_missing)
        + ". See .env.example and the configuration table in README.md."
    )

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)

# --- Database connections and pooling (docs/deploy.md; docs/adr/0010-production-topology.md) ------------
# A kept connection is checked before a request reuses it, so one the server or a pooler closed meanwhile
# (a restart, a failover, an idle timeout) is replaced rather than failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# DATABASE_POOLER=pgbouncer: DATABASE_URL goes through PgBouncer in transaction mode, where each transaction
# may run on another server connection. A server-side cursor (QuerySet.iterator(), which the API's exports
# stream from outside any transaction) would then be looked for on a connection that never declared it, so
# the cursors are client-side. Session state does not survive either: migrations, which
# take a session-level advisory lock, connect to PostgreSQL directly (the migrate process's DATABASE_URL).
DATABASE_POOLER = env.str("DATABASE_POOLER", default="").strip().lower()
if DATABASE_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(
        f"DATABASE_POOLER={DATABASE_POOLER!r}: leave it empty (direct connections) or set pgbouncer "
        "(PgBouncer in transaction mode)."
    )
DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_POOLER == "pgbouncer"

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
LSIS_ENVIRONMENT = "production"

# --- Logging and Sentry ------------------------------------------------------------------------------
# One JSON object per line unless LOG_FORMAT says otherwise. Errors go to Sentry only where SENTRY_DSN is set;
# without it the SDK is not even initialised. Tracing is off unless SENTRY_TRACES_SAMPLE_RATE is above 0.

from lsis.observability.logging import logging_settings  # noqa: E402
from lsis.observability.sentry import sentry_init  # noqa: E402
from lsis.settings.base import LOG_LEVEL  # noqa: E402

LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = logging_settings(log_format=LOG_FORMAT, level=LOG_LEVEL)
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_RELEASE = env.str("SENTRY_RELEASE", default="")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if not 0.0 <= SENTRY_TRACES_SAMPLE_RATE <= 1.0:
    raise ImproperlyConfigured("SENTRY_TRACES_SAMPLE_RATE is the share of requests traced: from 0 to 1.")
if SENTRY_DSN:
    sentry_init(
        dsn=SENTRY_DSN,
        environment=LSIS_ENVIRONMENT,
        release=SENTRY_RELEASE or None,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
