# syntax=docker/dockerfile:1
# LSIS Tracker: one image for every process of the production topology (docs/deploy.md). The command
# chooses the process: gunicorn by default, `celery -A lsis worker`, `celery -A lsis beat`, or
# `python manage.py migrate --no-input` (compose.yaml runs each). Everything is installed at build time:
# the container needs no network at run time but PostgreSQL, Redis and, for e-mail, GOV.UK Notify.
#
#   docker build -t lsis-tracker .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- Front-end packages (GOV.UK Frontend, Chart.js) from npm, as package-lock.json pins them ---------------
FROM node:20-bookworm-slim AS frontend
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

# --- Python packages: the project's own dependencies (not [dev]), at the versions constraints.txt pins ---
FROM ${PYTHON_IMAGE} AS python-packages
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml ./
COPY requirements/constraints.txt requirements/constraints.txt
RUN python -m venv /opt/venv \
 && python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
      > requirements.txt \
 && /opt/venv/bin/pip install -c requirements/constraints.txt -r requirements.txt

# --- The image the processes run in ----------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# Pango and HarfBuzz for WeasyPrint (the board pack PDF, docs/adr/0004-board-pack-pdf.md) with a font for
# text the stylesheets' fonts do not cover; pg_dump and pg_restore for make backup / make restore (the
# client is Debian bookworm's PostgreSQL 15: it must be no older than the server).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core postgresql-client \
 && rm -rf /var/lib/apt/lists/*
# The processes run as a user of their own, who cannot change the code they run.
RUN groupadd --system lsis \
 && useradd --system --gid lsis --create-home --home-dir /home/lsis --shell /usr/sbin/nologin lsis
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=lsis.settings.production
WORKDIR /app
COPY --from=python-packages /opt/venv /opt/venv
COPY --from=frontend /build/node_modules ./node_modules
COPY . .
# The static files, collected and hashed once here; WhiteNoise serves them with a year's Cache-Control.
# The production settings refuse to load without a secret, hosts and a database: these values exist only
# for this step (collectstatic connects to no database) and are not kept in the image.
RUN SECRET_KEY=collectstatic-at-build-time-only ALLOWED_HOSTS=localhost DATABASE_URL=sqlite:////tmp/unused.sqlite3 \
      python manage.py collectstatic --no-input \
 && python -m compileall -q lsis commitments programmes metrics
USER lsis
EXPOSE 8000
# Liveness only (/healthz answers while the process does); the load balancer's readiness probe is /readyz.
# The worker, beat and migrate services replace or disable this check (compose.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["gunicorn", "lsis.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--graceful-timeout", "20", "--timeout", "60"]
