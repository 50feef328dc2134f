"""Lineage runs from the 2017 strategy's recommendations through the Sector Deals to the deliveries the
2020 Update reports, each step quoting its document."""

from __future__ import annotations

import re

import pytest

from commitments.models import Commitment, Document, StatusUpdate
from commitments.sources import normalised_source

pytestmark = pytest.mark.django_db


def _chain_back(commitment: Commitment) -> list[str]:
    chain = [commitment.reference]
    while commitment.continues is not None:
        commitment = commitment.continues
        chain.append(commitment.reference)
    return chain


def test_every_recommendation_of_the_strategy_is_answered_by_a_deal_commitment():
    strategy = Document.objects.get(code="LSIS-2017")
    recommendations = Commitment.objects.filter(deal=strategy)
    assert recommendations.count() >= 2
    for recommendation in recommendations:
        assert recommendation.continued_by.filter(deal__kind="sector_deal").exists(), recommendation.reference


def test_the_digital_innovation_hubs_run_from_recommendation_to_both_deals_to_the_2020_launch():
    delivery = Commitment.objects.get(reference="SD2-INFRA-GC7")
    assert _chain_back(delivery) == ["SD2-INFRA-GC7", "SD1-INFRA-G4", "LSIS-2017-INFRA-S1"]
    recommendation = Commitment.objects.get(reference="LSIS-2017-INFRA-S1")
    assert "between two and five Digital Innovation Hubs" in recommendation.text
    launched = StatusUpdate.objects.filter(
        commitment=delivery, source_document__code="LSIS-UPDATE-2020", source_quote__contains="Digital Innovation Hub"
    )
    assert launched.exists()


def test_every_launch_the_2020_update_reports_is_a_dated_status_record_quoting_it():
    update = Document.objects.get(code="LSIS-UPDATE-2020")
    text = normalised_source(update.source_file)
    clauses = [clause for sentence in re.split(r"\.\s", text) for clause in sentence.split(", ")]
    launches = [re.sub(r"^(and|Additionally,?) ", "", c.strip()) for c in clauses if "has been launched" in c]
    assert len(launches) >= 3
    records = StatusUpdate.objects.filter(source_document=update)
    for launch in launches:
        assert records.filter(source_quote__contains=launch).exists(), launch
    assert {record.as_of for record in records} == {update.published_on}
    assert records.filter(
        commitment__reference="SD1-IDEAS-HARP-G1", source_quote__contains="500,000 UK Biobank"
    ).exists()
