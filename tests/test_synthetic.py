"""Synthetic data is generated reproducibly, labelled, and never into a database with real commitments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from commitments.models import Commitment
from tests.helpers import own_sqlite_database

pytestmark = pytest.mark.django_db


def test_refuses_a_database_with_real_commitments():
    before = Commitment.objects.count()
    with pytest.raises(CommandError, match="holds real commitments"):
        call_command("generate_synthetic", commitments=10, updates=10, stdout=StringIO())
    assert Commitment.objects.count() == before


def _run(database, *args):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "DJANGO_SETTINGS_MODULE": "lsis.settings.test"}
    return subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout


SUMMARY = (
    "from commitments.models import Commitment, StatusUpdate;"
    "from metrics.models import QuarterMetric;"
    "print(Commitment.objects.count(), StatusUpdate.objects.count(),"
    " sorted(Commitment.objects.values_list('reference','actor','area__code'))[:5],"
    " sorted(StatusUpdate.objects.values_list('as_of','status'))[:5],"
    " set(Commitment.objects.values_list('deal__title', flat=True)),"
    " QuarterMetric.objects.filter(scope_type='tracker').count() > 0)"
)


@own_sqlite_database  # two SQLite files of its own, whatever the suite's database
def test_generates_the_same_labelled_data_for_the_same_seed(tmp_path):
    # Both runs start from the same empty, migrated database: migrated once, then copied.
    migrated = tmp_path / "migrated.sqlite3"
    _run(migrated, "migrate", "--no-input")
    outputs = []
    for name in ("a", "b"):
        database = tmp_path / f"{name}.sqlite3"
        shutil.copyfile(migrated, database)
        assert "Generated 60 synthetic commitments and 400 updates" in _run(
            database, "generate_synthetic", "--commitments", "60", "--updates", "400", "--seed", "7"
        )
        _run(database, "recompute_metrics")
        outputs.append(_run(database, "shell", "-c", SUMMARY))
    assert outputs[0] == outputs[1]
    assert "60 400 [('SYN-000001'" in outputs[0]
    assert "{'Synthetic data for benchmarks'}" in outputs[0]
    assert outputs[0].strip().endswith("True")
