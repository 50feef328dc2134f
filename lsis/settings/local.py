"""Local development: debug on, a fixed development secret, demo users allowed."""

from lsis.settings.base import *  # noqa: F403
from lsis.settings.base import env

DEBUG = env.bool("DEBUG", default=True)
# Only ever used on a developer's machine; production.py refuses to start without a real one.
SECRET_KEY = env.str("SECRET_KEY", default="local-development-only-not-secret")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
LSIS_ENVIRONMENT = "local"
# Password of the demo users created by `create_demo_users` (local only).
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="lsis-demo-only")
# Serve static files straight from their sources, without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
