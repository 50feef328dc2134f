"""The detailed chapters' funded or dated commitments are all transcribed, and money the documents report
as delivery is a funding record, not only words in a status record."""

from __future__ import annotations

import re

import pytest
from django.db.models import Q

from commitments.models import Commitment, Section, StatusUpdate
from programmes.models import AmountNature, FundingAmount
from programmes.money import parse_amount

pytestmark = pytest.mark.django_db

MONEY = re.compile(r"£\d[\d,.]*(?:m|bn)?")


def test_the_genomes_commitment_holds_one_million_within_five_years_and_the_five_million_aspiration():
    genomes = Commitment.objects.get(section=Section.CHAPTER, text__contains="at least one million whole genomes")
    assert genomes.target_date_text == "within five years"
    assert "five million genomic analyses" in genomes.text
    assert genomes.elaborates is not None
    assert genomes.elaborates.reference == "SD2-IDEAS-HARP-G3"
    assert genomes.continues is not None
    assert genomes.continues.reference == "SD1-IDEAS-HARP-G1"


def test_the_cohort_grows_from_one_million_healthy_participants_to_five_million():
    cohort = Commitment.objects.get(text__contains="cohort of one million healthy participants initially")
    assert "aiming to grow to five million" in cohort.text
    assert cohort.elaborates is not None
    assert cohort.elaborates.reference == "SD2-IDEAS-HARP-G1"
    assert cohort.organisations.filter(name="NHS").exists()


def test_every_regional_investment_with_an_amount_is_a_funding_record():
    regional = Commitment.objects.filter(deal__code="SD2", foundation__code="PLACES", section=Section.CHAPTER)
    with_money = [c for c in regional if MONEY.search(c.text)]
    assert len(with_money) >= 19
    assert [c.reference for c in with_money if not c.funding.exists()] == []


def test_money_in_a_status_record_from_a_document_is_a_funding_record():
    """Each sum a document's delivery report states is held as an amount, on a commitment or a programme."""
    missing = []
    evidence = StatusUpdate.objects.exclude(source_document=None).select_related("commitment")
    for update in evidence:
        for phrase in MONEY.findall(update.source_quote):
            value = parse_amount(phrase.rstrip(".,")).low
            recorded = FundingAmount.objects.filter(Q(low=value) | Q(high=value)).filter(
                Q(commitment=update.commitment)
                | Q(commitment__continues=update.commitment)
                | Q(commitment__parent=update.commitment)
                | Q(commitment=update.commitment.parent)
                | Q(programme__commitments=update.commitment)
                | Q(source_quote__contains=phrase)
            )
            if not recorded.exists():
                missing.append(f"{update.commitment.reference}: {phrase}")
    assert missing == []


def test_money_the_chapters_bound_with_up_to_is_counted_as_up_to():
    """The key commitment prints "£24m", the chapter "up to £24m": the money is counted once, as "up to"."""
    for phrase in ("up to £24m", "up to £50m"):
        chapter = FundingAmount.objects.get(amount_text=phrase, commitment__section=Section.CHAPTER)
        key = chapter.parts.get(commitment__section=Section.KEY_COMMITMENTS)
        assert key.nature == chapter.nature == AmountNature.NEW_MONEY
        assert not FundingAmount.objects.counted_in_totals().filter(pk=key.pk).exists()
        assert FundingAmount.objects.counted_in_totals().filter(pk=chapter.pk).exists()


def test_could_exceed_reads_as_a_floor():
    parsed = parse_amount("could exceed £640m")
    assert (parsed.qualifier, parsed.low, parsed.high) == ("over", 640_000_000, None)
