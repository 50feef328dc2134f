"""Every seeded record cites its source document and quotes it verbatim."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from commitments.models import Commitment, Framework, Organisation, StatusUpdate, Theme
from commitments.sources import SOURCES_DIR, quote_occurs_in
from metrics.models import RegionalStatistic
from programmes.models import FundingAmount, Programme

pytestmark = pytest.mark.django_db

SOURCED_MODELS = [Framework, Theme, Organisation, Commitment, Programme, FundingAmount, RegionalStatistic]


@pytest.mark.parametrize("model", SOURCED_MODELS, ids=lambda model: model.__name__)
def test_every_record_quotes_its_document_verbatim(model):
    records = list(model.objects.select_related("source_document"))
    assert records, f"no {model.__name__} was seeded"
    missing = [
        f"{record}: {record.source_quote[:60]}"
        for record in records
        if not quote_occurs_in(record.source_quote, record.source_document.source_file)
    ]
    assert missing == []


def test_area_contexts_are_verbatim():
    contexts = Theme.objects.exclude(context="").select_related("source_document")
    assert contexts.count() == 11  # 8 areas and the 3 foundations that print no areas
    for theme in contexts:
        assert theme.context.startswith("Life Sciences Sector Deal 1:")
        assert quote_occurs_in(theme.context, theme.source_document.source_file), theme.code


def test_evidence_from_documents_quotes_them():
    evidence = StatusUpdate.objects.exclude(source_document=None).select_related("source_document")
    assert evidence.exists()
    for update in evidence:
        assert update.source_document is not None
        assert quote_occurs_in(update.source_quote, update.source_document.source_file), update


def test_quotes_not_in_the_document_are_detected():
    assert not quote_occurs_in("Wellcome Trust has committed £9bn to the Leap Fund", "002_39c3279f54f75428.txt")


def test_copied_sources_match_the_shared_seeds():
    shared = Path(settings.BASE_DIR).parent / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip("../shared/seeds is not beside this checkout")
    originals = sorted(shared.glob("*.txt"))
    assert originals, f"no sources in {shared}"
    for original in originals:
        assert (SOURCES_DIR / original.name).read_bytes() == original.read_bytes(), original.name
