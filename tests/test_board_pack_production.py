"""The board pack PDF under production static files: collected, hashed and compressed, DEBUG off."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

from commitments import roles
from metrics.services import metrics_recompute

PRODUCTION_STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}


@pytest.fixture(scope="module")
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Static files collected as a deployment collects them: hashed names and a manifest."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STORAGES=PRODUCTION_STORAGES, STATIC_ROOT=root, WHITENOISE_KEEP_ONLY_HASHED_FILES=True):
        call_command("collectstatic", "--no-input", verbosity=0)
    return root


@pytest.fixture
def production_static(collected_static: Path):
    """Serve and render with the collected files only, as production does (no finders, DEBUG off)."""
    with override_settings(
        STORAGES=PRODUCTION_STORAGES,
        STATIC_ROOT=collected_static,
        STATICFILES_DIRS=[],
        WHITENOISE_USE_FINDERS=False,
        WHITENOISE_AUTOREFRESH=False,
        DEBUG=False,
    ):
        yield collected_static


@pytest.mark.slow  # collectstatic, hashed and compressed, then a PDF
def test_board_pack_pdf_embeds_hashed_static_files_in_production(
    production_static, client_for, caplog: pytest.LogCaptureFixture
):
    metrics_recompute()
    board = client_for(roles.BOARD_MEMBER)
    page = board.get(reverse("dashboards:board_pack"))
    assert page.status_code == 200
    # The page links the hashed name, which only the manifest can map back to the source file.
    hashed = list(production_static.rglob("print.*.css"))
    assert hashed, "collectstatic wrote no hashed print stylesheet"
    assert hashed[0].name in page.content.decode()

    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        pdf = board.get(reverse("dashboards:board_pack_pdf"))

    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    failures = [record.getMessage() for record in caplog.records if record.name.startswith("weasyprint")]
    assert not [message for message in failures if "Failed to load" in message], failures
