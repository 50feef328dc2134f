"""Money is classed the same way everywhere: what was already spent and economy-wide money are context,
never added to the life sciences totals, and the same money has the same nature wherever it is reached."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.db.models import F, Q

from metrics.dashboards import funding_by_funder_type, funding_total
from programmes.models import AmountNature, FundingAmount
from programmes.totals import Money

pytestmark = pytest.mark.django_db

# Wording that says money was spent, raised or made before the deal: the sentence reports it, the deal
# does not commit it.
ALREADY_MADE = re.compile(
    r"\b(raised|has invested|have invested|have together invested|has spent|has been made|recently completed|"
    r"opened in|was opened|subsequently invested|investment made in|are now home to|"
    r"leveraged over|earlier Biomedical Catalyst grants|Opened in|already underway|awarded|has been established|"
    r"is helping|investment in 2017/18|acquired|opened its|Awarding)\b"
)
# Money for the whole economy, announced apart from the deal.
ECONOMY_WIDE = re.compile(r"Budget 2018|patient capital investment|Made Smarter")
CONTEXT = {AmountNature.CONTEXT, AmountNature.ALREADY_INVESTED}


def _sentence_holding(text: str, phrase: str) -> str:
    for sentence in re.split(r"(?<=[.;:])\s+", text):
        if phrase in sentence:
            return sentence
    return ""


def _words_before(sentence: str, phrase: str) -> str:
    """The words that lead to ``phrase``, back to the amount before it: the verb that governs it."""
    before = sentence[: sentence.find(phrase)]
    return re.split(r"[£$]", before)[-1][-80:] if "£" in before or "$" in before else before[-80:]


def _amounts_on_commitments():
    return FundingAmount.objects.filter(commitment__isnull=False).select_related("commitment")


def test_money_already_spent_is_already_invested():
    found = []
    for amount in _amounts_on_commitments():
        sentence = _sentence_holding(amount.commitment.text, amount.amount_text)
        if ALREADY_MADE.search(_words_before(sentence, amount.amount_text)) and amount.commitment.deal.code == "SD2":
            found.append((amount.commitment.reference, amount.amount_text, amount.nature))
    assert len(found) >= 8
    assert [row for row in found if row[2] != AmountNature.ALREADY_INVESTED] == []


def test_nothing_is_already_invested_unless_the_text_says_it_was_made():
    already = _amounts_on_commitments().filter(nature=AmountNature.ALREADY_INVESTED)
    assert already.count() >= 15
    assert [a.key for a in already if not ALREADY_MADE.search(f"{a.commitment.text} {a.source_quote}")] == []


def test_economy_wide_money_is_context():
    found = [
        (amount.commitment.reference, amount.amount_text, amount.nature)
        for amount in _amounts_on_commitments()
        if ECONOMY_WIDE.search(_sentence_holding(amount.commitment.text, amount.amount_text))
    ]
    assert len(found) >= 5
    assert [row for row in found if row[2] != AmountNature.CONTEXT] == []


def test_context_is_never_counted_in_the_totals():
    counted = FundingAmount.objects.counted_in_totals()
    assert counted.exists()
    assert not counted.filter(nature__in=CONTEXT).exists()
    assert not counted.filter(nature=AmountNature.LEVERAGED).exists()
    # The funder types hold the counted money and nothing else: their rows add up to the total.
    by_type = funding_by_funder_type(date(2026, 1, 1))
    assert by_type
    assert sum(by_type.values(), Money()) == funding_total(date(2026, 1, 1))


def test_a_part_is_counted_once_inside_its_whole():
    counted = FundingAmount.objects.counted_in_totals()
    parts = FundingAmount.objects.filter(part_of__isnull=False, nature__in=AmountNature.totalled())
    same_nature = list(parts.filter(part_of__nature=F("nature")))
    assert same_nature
    assert not counted.filter(pk__in=[part.pk for part in same_nature]).exists()


def test_the_same_money_has_the_same_nature_through_its_programme_and_its_commitment():
    """A programme's own amount and the commitment amount that states the same money agree."""
    compared = []
    for amount in FundingAmount.objects.filter(commitment__isnull=True).select_related("programme"):
        programme = amount.programme
        assert programme is not None, f"{amount.key} belongs to neither a commitment nor a programme"
        same_money = (
            FundingAmount.objects.filter(commitment__isnull=False, low=amount.low, high=amount.high)
            .filter(
                Q(programme=programme)
                | Q(commitment__in=programme.commitments.all())
                | Q(commitment__source_quote__contains=programme.source_quote)
            )
            .select_related("commitment")
        )
        for other in same_money:
            assert other.commitment is not None
            if (
                other.commitment.source_quote in programme.source_quote
                or programme.source_quote in (other.commitment.source_quote)
                or other.programme_id == programme.pk
                or programme.commitments.filter(pk=other.commitment.pk).exists()
            ):
                compared.append(
                    (programme.name, amount.amount_text, amount.nature, other.commitment.reference, other.nature)
                )
    assert len(compared) >= 10
    assert [row for row in compared if row[2] != row[4]] == []
