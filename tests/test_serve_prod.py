"""The production topology: the container files describe it (docs/deploy.md), and on this machine it serves.

The image cannot be built here, so the tests read the Dockerfile and compose.yaml and check what they say
against the topology (exactly one beat, workers, gunicorn behind a health check, one image and one
environment for every process) and the dependencies (every package the image installs pinned). The slow
test starts ``lsis.ops.topology.Topology`` on PostgreSQL and Redis against a database of its own and fetches
a page and a collected static file from gunicorn.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from lsis.ops.serve import cache_url_from_broker, serve_environment
from lsis.ops.topology import PROJECT_DIR, Topology
from tests.celery_worker import Database, private_redis_url, send_task
from tests.helpers import SUITE_ON_POSTGRESQL

APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((PROJECT_DIR / "compose.yaml").read_text(encoding="utf-8"))


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else list(command)


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    text = (PROJECT_DIR / "Dockerfile").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, arguments = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


# --- compose.yaml ------------------------------------------------------------------------------------------


def test_compose_runs_exactly_one_beat_and_two_workers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= services.keys()
    beats = [name for name, service in services.items() if "beat" in _command(service)]
    assert beats == ["beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert _command(services["beat"])[:4] == ["celery", "-A", "lsis", "beat"]
    assert _command(services["worker"])[:4] == ["celery", "-A", "lsis", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2


def test_compose_web_is_gunicorn_with_a_liveness_check(compose: dict[str, Any]) -> None:
    web = compose["services"]["web"]
    command = _command(web)
    assert command[:2] == ["gunicorn", "lsis.wsgi"]
    assert command[command.index("--bind") + 1] == "0.0.0.0:8000"
    assert web["deploy"]["replicas"] >= 2
    assert "http://127.0.0.1:8000/healthz" in " ".join(web["healthcheck"]["test"])
    # Only the web processes answer HTTP: the others must not inherit the image's /healthz check.
    assert compose["services"]["beat"]["healthcheck"] == {"disable": True}
    assert compose["services"]["migrate"]["healthcheck"] == {"disable": True}
    assert "inspect ping" in " ".join(compose["services"]["worker"]["healthcheck"]["test"])


def test_compose_every_process_has_the_same_image_and_environment(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {services[name]["image"] for name in APP_SERVICES} == {"lsis-tracker:latest"}
    web_env = services["web"]["environment"]
    for name in ("worker", "beat"):
        assert services[name]["environment"] == web_env
    assert web_env["DJANGO_SETTINGS_MODULE"] == "lsis.settings.production"
    for variable in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL", "CACHE_URL"):
        assert web_env[variable], variable
    # Redis is the broker and the shared cache, in two databases.
    assert urlsplit(web_env["CACHE_URL"]).path != urlsplit(web_env["CELERY_BROKER_URL"]).path
    # The processes go through PgBouncer in transaction mode; migrate alone connects directly, for its lock.
    assert services["pgbouncer"]["environment"]["POOL_MODE"] == "transaction"
    assert web_env["DATABASE_POOLER"] == "pgbouncer"
    assert "@pgbouncer:" in web_env["DATABASE_URL"]
    migrate_env = services["migrate"]["environment"]
    assert "@postgres:5432/" in migrate_env["DATABASE_URL"]
    assert migrate_env["DATABASE_POOLER"] == ""
    different = {key for key in migrate_env.keys() | web_env.keys() if migrate_env.get(key) != web_env.get(key)}
    assert different == {"DATABASE_URL", "DATABASE_POOLER"}


def test_compose_processes_start_after_the_migration(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert _command(services["migrate"]) == ["python", "manage.py", "migrate", "--no-input"]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


# --- Dockerfile and .dockerignore ----------------------------------------------------------------------------


def test_dockerfile_installs_the_pinned_runtime_dependencies_only() -> None:
    instructions = _dockerfile_instructions()
    runs = " ".join(arguments for keyword, arguments in instructions if keyword == "RUN")
    assert "pip install -c requirements/constraints.txt -r requirements.txt" in runs
    # requirements.txt is pyproject's [project] dependencies, not the dev extra.
    assert '["project"]["dependencies"]' in runs
    assert "optional-dependencies" not in runs
    assert "npm ci" in runs
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "postgresql-client"):
        assert package in runs
    assert "manage.py collectstatic --no-input" in runs


def test_dockerfile_runs_gunicorn_as_a_user_of_its_own() -> None:
    instructions = _dockerfile_instructions()
    keywords = [keyword for keyword, _ in instructions]
    froms = [arguments for keyword, arguments in instructions if keyword == "FROM"]
    assert "${PYTHON_IMAGE} AS runtime" in froms
    assert any(arguments.startswith("node:") for arguments in froms)
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in (PROJECT_DIR / "Dockerfile").read_text(encoding="utf-8")
    # The last stage (the image) switches to its user before the command, and the user is not root.
    last_stage = keywords[len(keywords) - 1 - keywords[::-1].index("FROM") :]
    assert "USER" in last_stage
    user = [arguments for keyword, arguments in instructions if keyword == "USER"][-1]
    assert user not in {"root", "0"}
    cmd = [arguments for keyword, arguments in instructions if keyword == "CMD"][-1]
    assert cmd.startswith('["gunicorn", "lsis.wsgi"')
    healthcheck = [arguments for keyword, arguments in instructions if keyword == "HEALTHCHECK"][-1]
    assert "http://127.0.0.1:8000/healthz" in healthcheck


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image() -> None:
    ignored = set((PROJECT_DIR / ".dockerignore").read_text(encoding="utf-8").split())
    assert {".env", ".git", ".venv", "node_modules", "staticfiles", "db.sqlite3*", "backups", ".serve-prod"} <= ignored


def test_every_package_the_image_installs_is_pinned_in_the_constraints() -> None:
    # pip install -c constraints.txt fails (or, worse, picks a version of the day) for a package the file does
    # not pin: follow the runtime dependencies through the installed packages' metadata, as pip would on
    # Linux with Python 3.11, and check each one is pinned.
    pinned = {}
    for line in (PROJECT_DIR / "requirements" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pinned[canonicalize_name(name)] = version.strip()
    project = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    todo = [(Requirement(spec), "") for spec in project["dependencies"]]
    seen: set[tuple[str, frozenset[str]]] = set()
    unpinned = []
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        if name not in pinned:
            unpinned.append(name)
            continue
        for spec in metadata.requires(requirement.name) or []:
            todo.extend((Requirement(spec), wanted) for wanted in ["", *requirement.extras])
    assert not unpinned, f"not pinned in requirements/constraints.txt: {sorted(set(unpinned))}"
    assert len(seen) > 40  # the walk went through the tree, not just the direct dependencies


# --- python -m lsis.ops.serve (make serve-prod) ----------------------------------------------------------


def test_serve_refuses_without_postgresql_and_redis() -> None:
    environment = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "CELERY_BROKER_URL"}}
    environment["DATABASE_URL"] = "sqlite:///db.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "lsis.ops.serve"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "DATABASE_URL must name a PostgreSQL database" in done.stderr
    assert "(it names another database)" in done.stderr
    assert "CELERY_BROKER_URL must name the Redis broker" in done.stderr
    assert "(it is empty)" in done.stderr


def test_serve_fills_in_the_loopback_environment_and_keeps_its_secret(tmp_path: Path) -> None:
    given = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/lsis", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/3"}
    env = serve_environment(environ=given, state_dir=tmp_path)
    assert env["ALLOWED_HOSTS"] == "127.0.0.1,localhost"
    assert env["CACHE_URL"] == "redis://127.0.0.1:6379/4"
    assert env["SECURE_SSL_REDIRECT"] == "false"
    assert len(env["SECRET_KEY"]) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert serve_environment(environ=given, state_dir=tmp_path)["SECRET_KEY"] == env["SECRET_KEY"]
    chosen = serve_environment(
        environ={**given, "SECRET_KEY": "s" * 60, "CACHE_URL": "locmemcache://"}, state_dir=tmp_path
    )
    assert (chosen["SECRET_KEY"], chosen["CACHE_URL"]) == ("s" * 60, "locmemcache://")
    assert cache_url_from_broker("redis://:pw@redis:6379/15") == "redis://:pw@redis:6379/14"
    assert cache_url_from_broker("redis://redis:6379") == "redis://redis:6379/1"


# --- The topology on this machine --------------------------------------------------------------------------

on_postgresql_and_redis = pytest.mark.skipif(
    not (SUITE_ON_POSTGRESQL and os.environ.get("DATABASE_URL") and os.environ.get("CELERY_BROKER_URL")),
    reason="needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://... (the production processes)",
)


@pytest.fixture
def own_database() -> Iterator[Database]:
    database = Database(os.environ["DATABASE_URL"], f"lsis_topology_{os.getpid()}_{uuid.uuid4().hex[:8]}")
    database.create()
    try:
        yield database
    finally:
        database.drop()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@on_postgresql_and_redis
def test_topology_serves_pages_and_collected_static_files(own_database: Database, tmp_path: Path) -> None:
    # A Redis database no other test process reads: these workers must not take the suite's tasks.
    redis_url = private_redis_url(os.environ["CELERY_BROKER_URL"], spare=True)
    env = {
        "SECRET_KEY": "topology-test-" + uuid.uuid4().hex * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": own_database.url,
        "CELERY_BROKER_URL": redis_url,
        "CACHE_URL": redis_url,
        "SECURE_SSL_REDIRECT": "false",
    }
    manifest = PROJECT_DIR / "staticfiles" / "staticfiles.json"
    with Topology(env=env, port=_free_port(), web_workers=2, celery_workers=1, log_dir=tmp_path) as topology:
        # Collecting hashes and compresses every file again (a minute or more): what was collected is kept.
        topology.prepare(collectstatic=not manifest.exists())
        topology.start()
        # Readiness waits for the metrics sweep's first success; beat sends it only a minute after starting.
        send_task(redis_url, "metrics.recompute_pending")
        topology.wait_ready(timeout=60)
        assert len(topology.worker_pids()) == 1

        with urllib.request.urlopen(f"{topology.url}/help/", timeout=10) as page:  # noqa: S310 (loopback)
            assert page.status == 200
            assert b"<html" in page.read()

        import json

        hashed = json.loads(manifest.read_text(encoding="utf-8"))["paths"]["dashboards/print.css"]
        assert hashed != "dashboards/print.css"
        with urllib.request.urlopen(f"{topology.url}/static/{hashed}", timeout=10) as static:  # noqa: S310
            assert static.status == 200
            cache_control = static.headers["Cache-Control"]
        max_age = int(re.search(r"max-age=(\d+)", cache_control).group(1))  # type: ignore[union-attr]
        assert max_age >= 365 * 24 * 3600
        assert "immutable" in cache_control
    assert topology.worker_pids() == []
