"""Settings shared by every environment, one section per concern.

Values that differ between environments come from the environment (django-environ), read once here.
Secrets have no default in production (see ``production.py``).
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -----------------------------------------------------------------------------------------

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # third party
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "import_export",
    "django_celery_beat",
    "axes",
    "csp",
    # ours
    "lsis.core",
    "commitments",
    "programmes",
    "metrics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the database: a NUL in the path, query string or form fields is a 400.
    "lsis.middleware.RefuseNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before everything that reads the database: a request whose PostgreSQL connection was lost before it
    # could commit is run again (lsis/retry.py, DATABASE_RETRY_SECONDS).
    "lsis.retry.RetryLostConnectionMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, so that it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lsis.urls"
WSGI_APPLICATION = "lsis.wsgi.application"
ASGI_APPLICATION = "lsis.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database --------------------------------------------------------------------------------------
# SQLite in the project folder unless DATABASE_URL names another database.

DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for a writer rather than fail at once; WAL lets readers and one writer overlap.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;", "transaction_mode": "IMMEDIATE"}
    )

# Seconds a request may spend being run again after its PostgreSQL connection was lost (a restart or a
# failover), pausing 0.1 s, then 0.2 s, and so on between runs; 0 answers such a request with a 500 at once.
DATABASE_RETRY_SECONDS = env.float("DATABASE_RETRY_SECONDS", default=10.0)

# --- Authentication and passwords ------------------------------------------------------------------

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "/admin/"

# Lock out an account and address after repeated failed sign-ins (django-axes).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# The client address by the same rule as the API's limits (API_CLIENT_IP_HEADER below). django-ipware,
# which AXES_IPWARE_* would configure, is not installed: this callable is the only rule axes follows.
AXES_CLIENT_IP_CALLABLE = "lsis.client_address.client_address"
# Sessions end after SESSION_IDLE_MINUTES without a request, and in any case SESSION_COOKIE_AGE after signing in
# (lsis/sessions.py; docs/security.md). 30 minutes: the common limit for a government service whose pages hold
# unpublished figures, long enough to read a board pack; 12 hours: a working day, so nobody signs in for a week.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_COOKIE_AGE = env.int("SESSION_MAX_HOURS", default=12) * 3600
if SESSION_IDLE_MINUTES < 2 or SESSION_COOKIE_AGE < SESSION_IDLE_MINUTES * 60:
    raise ImproperlyConfigured("SESSION_IDLE_MINUTES must be 2 or more, and SESSION_MAX_HOURS no shorter than it.")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1, "lsis.sessions.IdleSessionMiddleware"
)

# A locked-out sign-in, on the dashboards or the admin, gets the service's GOV.UK page (templates/lockout.html)
# with 429 and Retry-After, not axes' plain text (lsis/sign_in.py).
AXES_LOCKOUT_CALLABLE = "lsis.sign_in.lockout_response"

# --- Templates -------------------------------------------------------------------------------------

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lsis.context_processors.environment",
            ],
        },
    },
]

# --- Internationalisation --------------------------------------------------------------------------

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------------
# GOV.UK Frontend and other front-end packages come from npm (node_modules) and are served by whitenoise.

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    ("govuk-frontend", BASE_DIR / "node_modules" / "govuk-frontend" / "dist" / "govuk"),
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security headers ------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "style-src": ["'self'"],
        "script-src": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# --- Cache ---------------------------------------------------------------------------------------
# Request and failed-token counts, and the API's kept answers, row counts and token checks. Their keys
# carry the data stamp, so a cache per process stays correct; with several processes, a shared one
# (CACHE_URL=redis://...) counts each token's requests across all of them and shares what is kept.

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
    # Nothing kept in the cache is the only copy, so a Redis that restarts or is down is a miss, never an
    # error: reads are built from the database, and requests go uncounted (django-redis logs each failure).
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}
    )
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# --- Partner REST API v1 (lsis/api/, <app>/api/; docs/api.md) ---------------------------------------
# Partners authenticate with hashed, expiring, revocable django-rest-knox tokens (docs/adr/0003-api-tokens.md);
# staff may also use their admin session. Anonymous users may read only the schema and the docs.

INSTALLED_APPS.insert(INSTALLED_APPS.index("commitments"), "knox")

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "lsis.api.schema.ApiAutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "lsis.api.auth.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["drf_orjson_renderer.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["lsis.api.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "lsis.api.pagination.PageNumberPagination",
    "DEFAULT_THROTTLE_CLASSES": ["lsis.api.throttles.TokenScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "read": env.str("API_THROTTLE_READ", default="1200/minute"),
        "export": env.str("API_THROTTLE_EXPORT", default="30/minute"),
        "write": env.str("API_THROTTLE_WRITE", default="120/minute"),
        "proposal": env.str("API_THROTTLE_PROPOSAL", default="20/hour"),  # partners' proposed updates
    },
    "EXCEPTION_HANDLER": "lsis.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Wrong or expired tokens from one client address before further wrong ones are refused (429) for the
# period; a valid token is always accepted.
API_FAILED_TOKEN_LIMIT = env.int("API_FAILED_TOKEN_LIMIT", default=20)
API_FAILED_TOKEN_PERIOD = 300  # seconds
# Where the client address comes from, for the failed-token limit, the request throttles and the sign-in
# lockout alike (lsis/client_address.py). Unset: the connection's address; forwarding headers are ignored.
# Behind reverse proxies: the header they fill in (X-Forwarded-For) and how many of them there are; the
# client is the entry that many from the right. Set it only if every request comes through them.
API_CLIENT_IP_HEADER = env.str("API_CLIENT_IP_HEADER", default="")
API_TRUSTED_PROXY_COUNT = env.int("API_TRUSTED_PROXY_COUNT", default=1)
if API_TRUSTED_PROXY_COUNT < 1:
    raise ImproperlyConfigured("API_TRUSTED_PROXY_COUNT counts the proxies in front of the site: 1 or more.")
# JSON answers are kept in the cache under their ETag's inputs (data stamp, day, user, URL, format),
# so the same request is answered from the cache until the data changes; 0 turns this off.
API_ANSWER_CACHE_SECONDS = env.int("API_ANSWER_CACHE_SECONDS", default=300)
API_ANSWER_CACHE_MAX_BYTES = 512 * 1024
REST_KNOX = {
    "TOKEN_TTL": None,  # each token's expiry is chosen when it is issued (issue_token --expires-days)
    "TOKEN_PREFIX": "lsis_",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LSIS Tracker API",
    "DESCRIPTION": (
        "Delivery of the Life Sciences Industrial Strategy and its Sector Deals, for partners and OLS staff. "
        "Authenticate with `Authorization: Token <token>`. Every failure has the same JSON body (`Error`). "
        "Guide: docs/api.md."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "DeliveryStatusEnum": "commitments.delivery.DeliveryStatus",
        "DeliveryConfidenceEnum": "commitments.delivery.DeliveryConfidence",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums"],
}

# --- Celery ----------------------------------------------------------------------------------------
# Without a broker URL, tasks run eagerly in-process so that `make run` needs no Redis.

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
# Redis re-delivers an unacknowledged task after this long: longer than the longest task (time limit 300 s).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    # One connection attempt when publishing: an approval must not wait on a broker that is down.
    "max_retries": 0,
    "socket_connect_timeout": 1,
    # The workers' and beat's own connections: a broker that stops answering fails them after this long.
    "socket_timeout": 5,
}
# Publishing must not hold up a request when the broker is down: the outbox sweep covers it.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# How long a request waits for the broker when it enqueues work after its commit (the recompute an
# approval asks for), connecting and for each reply, in seconds. A broker that is down or silent then
# costs a request at most about this long; the work waits in the outbox for the periodic sweep
# (lsis.celery.enqueue_within_timeout).
CELERY_ENQUEUE_TIMEOUT_SECONDS = env.float("CELERY_ENQUEUE_TIMEOUT_SECONDS", default=0.5)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The one place the periodic jobs are declared; django-celery-beat stores them at start-up.
CELERY_BEAT_SCHEDULE = {
    "metrics-sweep-every-minute": {"task": "metrics.recompute_pending", "schedule": 60.0},
    # The change feed: what a process killed after its commit left unpublished, then nightly every record
    # compared with the feed (a commitment becomes overdue as days pass): docs/adr/0009-change-feed.md.
    "changes-publish-every-minute": {"task": "core.changes_publish", "schedule": 60.0},
    "changes-nightly-reconcile": {"task": "core.changes_reconcile", "schedule": crontab(hour=3, minute=15)},
    # A commitment (or a milestone) whose date passed yesterday reads overdue today, with no write to mark it.
    "changes-day-passed": {"task": "metrics.feed_day_passed", "schedule": crontab(hour=0, minute=1)},
    "metrics-nightly-full-rebuild": {
        "task": "metrics.rebuild_all",
        "schedule": crontab(hour=2, minute=30),
    },
    "metrics-quarter-end-snapshot": {
        "task": "metrics.quarter_end_snapshot",
        "schedule": crontab(hour=1, minute=0, day_of_month=1, month_of_year="1,4,7,10"),
    },
    # The day's reminders, early on every day (a digest goes out only on days something is due; weekly
    # digests on Mondays): docs/adr/0008-update-cycle-and-reminders.md.
    "reminders-daily": {"task": "metrics.send_reminders", "schedule": crontab(hour=7, minute=0)},
    # Messages a lost worker or a failed provider left queued are sent again.
    "reminders-retry-queued": {"task": "metrics.send_queued_messages", "schedule": crontab(minute="*/15")},
    # What GOV.UK Notify made of the messages sent (delivered, or failed for good): does nothing without Notify.
    "reminders-notify-statuses": {"task": "metrics.poll_notify_statuses", "schedule": crontab(minute="7,37")},
}

# --- The quarterly update cycle and reminders -----------------------------------------------------------

#: A quarter's update is due this many working days (England) after the quarter ends.
UPDATE_DUE_WORKING_DAYS = env.int("UPDATE_DUE_WORKING_DAYS", default=10)

# E-mail: the console on the embedded default; SMTP where EMAIL_URL says so (smtp://user:pass@host:port,
# submission://... for STARTTLS); GOV.UK Notify where NOTIFY_API_KEY is set (production).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="LSIS Tracker <lsis-tracker@localhost>")
NOTIFY_API_KEY = env.str("NOTIFY_API_KEY", default="")
#: Where Notify's API is (tests point it at a local fake of that API).
NOTIFY_BASE_URL = env.str("NOTIFY_BASE_URL", default="https://api.notifications.service.gov.uk")
#: The Notify e-mail template every digest is sent with: ((subject)) and ((body)) as its personalisation.
NOTIFY_TEMPLATE_IDS = {"digest": env.str("NOTIFY_DIGEST_TEMPLATE_ID", default="")}
if NOTIFY_API_KEY:
    EMAIL_BACKEND = "lsis.core.notify.NotifyDigestBackend"
#: The site's address, for the links in the messages.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- Source documents ------------------------------------------------------------------------------

FIXTURES_DIR = BASE_DIR / "fixtures"

# --- Environment ---------------------------------------------------------------------------------
# Which settings module is in force; demo users may only be created where this is not "production".

LSIS_ENVIRONMENT = "base"
DEMO_PASSWORD = ""

# --- Logging ---------------------------------------------------------------------------------------
# Every record goes to standard error through structlog (lsis/observability/; docs/logging.md): readable lines
# here (LOG_FORMAT=console), one JSON object per line in production (LOG_FORMAT=json). Each request is one
# `request_finished` line and each task run one `task_finished` line, both under the request's id.

from lsis.observability.logging import logging_settings as _logging_settings  # noqa: E402

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="console")
LOGGING_CONFIG = "lsis.observability.logging.logging_configure"
LOGGING = _logging_settings(log_format=LOG_FORMAT, level=LOG_LEVEL)
# At the top (only the health probes, inserted below, come before it), so that every response, a refused one
# too, has an X-Request-ID and a line. It reads the user's id when the response is ready, after authentication,
# and never looks the user up itself, so it adds no query.
MIDDLEWARE.insert(0, "lsis.observability.requests.RequestLogMiddleware")

# --- Record history (django-simple-history) ---
# The admin's history pages show old versions but never revert to one: a revert would save the record past
# the services that check permission, validate and audit (lsis.admin.ReadOnlyHistoryMixin refuses it).

SIMPLE_HISTORY_REVERT_DISABLED = True

# --- Spreadsheet import and export (django-import-export) ---
# Staff export commitments and status updates, and import status updates as their own drafts
# (the service in commitments/imports.py, the adapters in commitments/resources.py; docs/spreadsheets.md).
# CSV and Excel only; the dry-run preview always comes
# first; only users who may write updates (commitments.add_statusupdate) may import, and anyone who may
# view a list (board members too) may export it.

from import_export.formats import base_formats as _spreadsheet_formats  # noqa: E402

IMPORT_EXPORT_FORMATS = [_spreadsheet_formats.CSV, _spreadsheet_formats.XLSX]
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_SKIP_ADMIN_CONFIRM = False
IMPORT_EXPORT_SKIP_ADMIN_LOG = False
# Characters Excel cannot hold (control characters pasted into a narrative) become U+FFFD, not a failed export.
IMPORT_EXPORT_ESCAPE_ILLEGAL_CHARS_ON_EXPORT = True
# Limits on an uploaded file (lsis/spreadsheets.py; docs/spreadsheets.md): a file over one is refused on the
# import form before its rows are checked. A 10,000-row file of updates is about 3 MB as CSV and 0.8 MB as a
# workbook that unzips to 6 MB (8 times its size). No cell may be longer than a narrative (20,000 characters,
# commitments.models.NARRATIVE_MAX_LENGTH, as in the API).
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=10_000_000)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=10_000)  # rows below the headings
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=50)
IMPORT_MAX_UNCOMPRESSED_BYTES = env.int("IMPORT_MAX_UNCOMPRESSED_BYTES", default=50_000_000)  # a workbook, unzipped
IMPORT_MAX_COMPRESSION_RATIO = env.int("IMPORT_MAX_COMPRESSION_RATIO", default=100)  # unzipped size / zipped size
# The import page (and a refused confirmation's message) lists the problems of this many rows, then counts the rest.
IMPORT_ERROR_ROWS_SHOWN = env.int("IMPORT_ERROR_ROWS_SHOWN", default=50)

# --- Board dashboards ---
# Server-rendered pages in the GOV.UK Design System (metrics/views.py, templates/dashboards/). Everyone signs in
# on the service's own page; the admin keeps its login at /admin/login/. Chart.js and axe-core come from npm
# like GOV.UK Frontend (axe-core only for the browser tests).

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards:overview"
LOGOUT_REDIRECT_URL = "login"
STATICFILES_DIRS = [
    *STATICFILES_DIRS,
    ("chart.js", BASE_DIR / "node_modules" / "chart.js" / "dist"),
]
DASHBOARD_PAGE_SIZE = 50

# --- Health ---
# /healthz (liveness) and /readyz (readiness) for load balancers and orchestrators (lsis/core/health.py;
# docs/health.md). Their middleware comes first: a probe by the instance's address is answered before host
# validation, HTTPS redirection, sessions and CSRF; the answers say only up or down.

MIDDLEWARE.insert(0, "lsis.core.health.HealthProbeMiddleware")
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
#: /readyz fails when the metrics sweep (every 60 s) has not succeeded for this long (with a broker only).
HEALTH_SWEEP_WINDOW_SECONDS = env.int("HEALTH_SWEEP_WINDOW_SECONDS", default=300)
