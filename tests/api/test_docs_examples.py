"""The curl examples of docs/api.md, run as written against a live server.

The server is a separate process with a SQLite database of its own (migrated, seeded with the real data,
demo users), so the examples see exactly what a new installation serves, and the session's test database
is left alone. The same whatever the suite's database, the examples are skipped when it is PostgreSQL: CI runs
them once, in its SQLite run.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from tests.helpers import own_sqlite_database

DOCS = Path(settings.BASE_DIR) / "docs" / "api.md"
MANAGE = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
SIGN_OFF_2019_20_Q1 = (
    "from django.contrib.auth import get_user_model; from commitments.periods import Quarter; "
    "from metrics.services import quarter_lock; "
    "quarter_lock(quarter=Quarter(2019, 1), user=get_user_model().objects.get(username='reviewer'))"
)


def curl_examples() -> list[str]:
    """The shell blocks of the page that call curl."""
    blocks = re.findall(r"```sh\n(.*?)```", DOCS.read_text(), flags=re.S)
    return [block for block in blocks if "curl " in block]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A server on a fresh, seeded database; the environment the examples expect."""
    folder = tmp_path_factory.mktemp("api-docs")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lsis.settings.local",
        "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
        "CELERY_BROKER_URL": "",
        "DEBUG": "false",
    }

    def manage(*args: str) -> str:
        done = subprocess.run([*MANAGE, *args], env=env, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    manage("migrate", "--no-input")
    manage("seed")
    manage("create_demo_users")
    # One quarter signed off: its open-data release is published as the sign-off commits (the releases' examples).
    manage("shell", "-c", SIGN_OFF_2019_20_Q1)
    tokens = {
        "TOKEN": manage("issue_token", "partner"),
        "EDITOR_TOKEN": manage("issue_token", "editor"),
        "REVIEWER_TOKEN": manage("issue_token", "reviewer"),
    }
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603 - our own manage.py, no shell
        [*MANAGE, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{base}/api/schema/", timeout=2):  # noqa: S310 - loopback
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not start")
        yield {**env, **tokens, "LSIS_API": f"{base}/api/v1"}
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_page_has_examples_of_reading_exporting_caching_and_writing() -> None:
    text = "\n".join(curl_examples())
    for needle in ("format=csv", "cursor=", "If-None-Match", "If-Match", "-X POST"):
        assert needle in text


@own_sqlite_database  # the server's database is its own: the examples run once, in CI's SQLite run
@pytest.mark.parametrize("example", curl_examples(), ids=lambda block: block.strip().splitlines()[0][:60])
def test_each_curl_example_runs_as_written(live_api: dict[str, str], example: str, tmp_path: Path) -> None:
    done = subprocess.run(  # noqa: S603 - the documented commands, against our own server
        ["/bin/bash", "-euo", "pipefail", "-c", example],
        env=live_api,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{example}\n--- stdout\n{done.stdout[-2000:]}\n--- stderr\n{done.stderr[-2000:]}"
    if "If-None-Match" in example:
        assert done.stdout.strip().splitlines()[-1] == "304"
    if "/submit/" in example:
        assert '"state":"submitted"' in done.stdout
