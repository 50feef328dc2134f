"""Every amount whose funder the documents name carries that funder."""

from __future__ import annotations

import pytest

from commitments.models import Actor, Section
from programmes.models import FundingAmount

pytestmark = pytest.mark.django_db


def test_every_amount_on_a_government_key_commitment_names_its_funder():
    amounts = FundingAmount.objects.filter(
        commitment__section=Section.KEY_COMMITMENTS, commitment__actor=Actor.GOVERNMENT
    )
    assert amounts.exists()
    assert list(amounts.filter(funder__isnull=True).values_list("commitment__reference", "amount_text")) == []


def test_challenge_fund_money_is_funded_by_uk_research_and_innovation():
    challenge_fund = FundingAmount.objects.filter(programme__name="Industrial Strategy Challenge Fund")
    assert challenge_fund.exists()
    assert set(challenge_fund.values_list("funder__name", flat=True)) == {"UK Research and Innovation"}


def test_budget_money_is_funded_by_the_treasury():
    budget = FundingAmount.objects.filter(source_quote__contains="Budget 2018") | FundingAmount.objects.filter(
        commitment__text__contains="Budget 2018"
    )
    assert budget.exists()
    assert {amount.funder.name if amount.funder else None for amount in budget.select_related("funder")} == {
        "HM Treasury"
    }


def test_money_the_text_calls_government_funding_is_the_governments():
    government = FundingAmount.objects.filter(commitment__text__regex=r"of government funding|from government")
    assert government.exists()
    for amount in government.select_related("commitment", "funder"):
        assert amount.commitment is not None
        sentence = amount.commitment.text
        named = f"{amount.amount_text} of government funding" in sentence or (
            f"{amount.amount_text} from government" in sentence
        )
        if named:
            assert getattr(amount.funder, "name", None) == "The government", amount.key
