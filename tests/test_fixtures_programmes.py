"""Programmes are part of a fund only where the text puts them there and their money is the fund's.

``parent`` puts a programme's money in the figures of every programme above it (``programmes.totals``), so
a programme the Industrial Strategy Challenge Fund only backs, beside others' money, stays out of it: the
Health Advanced Research Programme, which holds Wellcome Trust's £250m Leap Fund (docs/fixtures.md,
"Part of a fund, or backed by it").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from commitments.sources import normalise
from programmes.models import AmountNature, FundingAmount, Programme
from programmes.totals import ProgrammeTree

pytestmark = pytest.mark.django_db

CHALLENGE_FUND = "Industrial Strategy Challenge Fund"
HARP = "Health Advanced Research Programme"


def _sector_deal_2() -> str:
    return normalise(next(Path(settings.FIXTURES_DIR, "sources").glob("002_*.txt")).read_text(encoding="utf-8"))


def _under(fund: Programme) -> list[FundingAmount]:
    tree = ProgrammeTree.load()
    return [
        amount
        for amount in FundingAmount.objects.filter(programme__isnull=False).select_related("funder", "programme")
        if fund.pk in tree.counting(amount.programme_id)
    ]


def test_harp_is_backed_by_the_challenge_fund_not_part_of_it():
    text = _sector_deal_2()
    # The words the decision rests on: a coalition, backed by the fund, with the charities' money in it.
    for words in (
        "Backed by £210m of Industrial Strategy Challenge Funding (ISCF) from UK Research and Innovation (UKRI), "
        "the first set of HARP projects are now becoming a reality",
        "would require a coalition of partners and that charities would play a leading role",
        "Wellcome Trust has decided to play a significant role in filling this gap through a major new £250m "
        "commitment to their far-reaching Leap Fund programme",
    ):
        assert words in text, words
    harp = Programme.objects.get(name=HARP)
    assert harp.parent is None
    assert harp.funder is None  # its amounts name their funders, UKRI's and Wellcome Trust's
    backing = FundingAmount.objects.get(key="PRG-HARP-A1")
    assert (backing.amount_text, backing.nature, getattr(backing.funder, "name", None)) == (
        "£210m",
        AmountNature.CONTEXT,
        "UK Research and Innovation",
    )
    leap_fund = Programme.objects.get(name="Leap Fund")
    assert leap_fund.parent == harp
    assert getattr(leap_fund.funder, "name", None) == "Wellcome Trust"


def test_the_money_inside_harp_keeps_its_funders():
    funders = {
        (getattr(amount.programme, "name", None), amount.amount_text): getattr(amount.funder, "name", None)
        for amount in _under(Programme.objects.get(name=HARP))
        if amount.commitment_id is not None and amount.nature == AmountNature.NEW_MONEY
    }
    assert funders[("Leap Fund", "£250m")] == "Wellcome Trust"
    assert funders[("whole genome sequencing of all 500,000 UK Biobank participants", "£85m")] == (
        "UK Research and Innovation"
    )


def test_the_challenge_fund_counts_only_challenge_fund_money():
    """Every amount the fund's figures count (its own, and its programmes') is UK Research and Innovation's."""
    counted = {
        amount.key: getattr(amount.funder, "name", None)
        for amount in _under(Programme.objects.get(name=CHALLENGE_FUND))
        if amount.nature in AmountNature.totalled()
    }
    assert counted
    assert set(counted.values()) == {"UK Research and Innovation"}, counted
    # The challenge the text puts "under the Industrial Strategy Challenge Fund Wave 3" is inside it.
    challenge = Programme.objects.get(name="Accelerating detection of disease")
    assert Programme.objects.get(name=CHALLENGE_FUND).pk in ProgrammeTree.load().counting(challenge.pk)
