"""Synthetic data is generated reproducibly, labelled, and never into a database with real commitments."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import datetime
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from commitments.models import Commitment
from tests.helpers import SUITE_ON_POSTGRESQL, own_sqlite_database

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


def _migrated_twice(tmp_path):
    """Two SQLite files holding the same empty, migrated database: migrated once, then copied."""
    migrated = tmp_path / "migrated.sqlite3"
    _run(migrated, "migrate", "--no-input")
    for name in ("a", "b"):
        database = tmp_path / f"{name}.sqlite3"
        shutil.copyfile(migrated, database)
        yield database


@own_sqlite_database  # two SQLite files of its own, whatever the suite's database
def test_generates_the_same_labelled_data_for_the_same_seed(tmp_path):
    outputs = []
    for database in _migrated_twice(tmp_path):
        assert "Generated 60 synthetic commitments and 400 updates" in _run(
            database, "generate_synthetic", "--commitments", "60", "--updates", "400", "--seed", "7"
        )
        _run(database, "recompute_metrics")
        outputs.append(_run(database, "shell", "-c", SUMMARY))
    assert outputs[0] == outputs[1]
    assert "60 400 [('SYN-000001'" in outputs[0]
    assert "{'Synthetic data for benchmarks'}" in outputs[0]
    assert outputs[0].strip().endswith("True")


# Every synthetic row by what it holds (not its id, uuid or timestamps), for comparing two generations.
DUMP = "from tests.test_synthetic import synthetic_rows; print(repr(synthetic_rows()))"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def synthetic_rows() -> list[tuple[object, ...]]:
    """The synthetic rows of the big tables, by reference rather than id, sorted."""
    from commitments.models import CommitmentOrganisation, StatusUpdate
    from programmes.models import FundingAmount, Programme

    synthetic = Commitment.objects.filter(deal__code="SYNTHETIC")
    rows: list[tuple[object, ...]] = []
    rows += synthetic.values_list(
        "reference",
        "actor",
        "section",
        "position",
        "text",
        "target_date_text",
        "target_date",
        "published",
        "area__code",
        "foundation__code",
        "version",
        "delivery_status",
        "lead_in",
        "timing_kind",
    )
    rows += Commitment.themes.through.objects.filter(commitment__in=synthetic).values_list(
        "commitment__reference", "theme__code"
    )
    rows += CommitmentOrganisation.objects.filter(commitment__in=synthetic).values_list(
        "commitment__reference", "organisation__name", "role"
    )
    rows += Programme.commitments.through.objects.filter(commitment__in=synthetic).values_list(
        "commitment__reference", "programme__name"
    )
    rows += FundingAmount.objects.filter(commitment__in=synthetic).values_list(
        "key", "amount_text", "qualifier", "low", "high", "nature", "commitment__reference", "version", "period_text"
    )
    rows += [
        (*row[:-2], _iso(row[-2]), _iso(row[-1]))
        for row in StatusUpdate.objects.filter(commitment__in=synthetic).values_list(
            "commitment__reference",
            "as_of",
            "status",
            "confidence",
            "progress",
            "narrative",
            "state",
            "author__username",
            "reviewed_by__username",
            "version",
            "return_reason",
            "reviewed_at",
            "approved_at",
        )
    ]
    return sorted(rows, key=repr)


@own_sqlite_database
def test_the_same_seed_gives_the_same_rows_row_by_row(tmp_path):
    outputs = []
    for database in _migrated_twice(tmp_path):
        _run(database, "generate_synthetic", "--commitments", "40", "--updates", "300", "--seed", "3")
        outputs.append(_run(database, "shell", "-c", DUMP))
    assert outputs[0] == outputs[1]
    assert "SYN-000040" in outputs[0]


def test_writes_the_same_rows_as_a_sqlite_database_and_fills_columns_as_the_orm(tmp_path, monkeypatch):
    # Here in the suite's database (on PostgreSQL: by COPY), beside its real data for once; then in a SQLite
    # file of its own (by bulk_create). The same seed must give the same rows.
    from commitments.models import CommitmentOrganisation, StatusUpdate
    from metrics import synthetic
    from programmes.models import FundingAmount

    monkeypatch.setattr(synthetic, "real_commitments_present", lambda: False)
    report = synthetic.generate_synthetic(commitments=40, updates=300, seed=3)
    assert (report.commitments, report.updates) == (40, 300)
    here = synthetic_rows()
    assert len([row for row in here if len(row) == 13]) == 300

    # Every column the generator does not set holds what a new instance holds; uuids are fresh version 4
    # ones, timestamps set, as bulk_create would have left them.
    for model in (Commitment, CommitmentOrganisation, FundingAmount, StatusUpdate):
        fresh = model()
        rows = model.objects.filter(**{"deal__code" if model is Commitment else "commitment__deal__code": "SYNTHETIC"})
        assert rows.exists()
        for row in rows:
            for field in model._meta.concrete_fields:
                value = getattr(row, field.attname)
                if field.primary_key or field.name in {"created_at", "modified_at"}:
                    assert value is not None
                elif field.name == "uuid":
                    assert value.version == 4
                elif not field.null:
                    assert value is not None, (model.__name__, field.name)
                if field.name in {
                    "version",
                    "lead_in",
                    "jobs_text",
                    "timing_kind",
                    "delivery_status",
                    "delivery_confidence",
                    "return_reason",
                    "period_text",
                    "funding_spent",
                }:
                    assert value == getattr(fresh, field.attname), (model.__name__, field.name)
        if any(field.name == "uuid" for field in model._meta.concrete_fields):
            uuids = [getattr(row, "uuid") for row in rows]  # noqa: B009 - not every model here has one
            assert len(set(uuids)) == len(uuids)

    if SUITE_ON_POSTGRESQL:
        # The search documents are built for the synthetic commitments written by COPY.
        assert not Commitment.objects.filter(deal__code="SYNTHETIC", search_vector=None).exists()
    database = tmp_path / "other.sqlite3"
    _run(database, "migrate", "--no-input")
    _run(database, "generate_synthetic", "--commitments", "40", "--updates", "300", "--seed", "3")
    assert _run(database, "shell", "-c", DUMP).strip().splitlines()[-1] == repr(here)
