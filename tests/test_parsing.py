"""Amounts and target dates are read as the documents write them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from commitments.dates import parse_target_date
from commitments.sources import normalise
from programmes.money import AmountQualifier, parse_amount

M = Decimal(1_000_000)


@pytest.mark.parametrize(
    ("text", "qualifier", "low", "high"),
    [
        ("up to £79m", AmountQualifier.UP_TO, None, 79 * M),
        ("£150-200m", AmountQualifier.RANGE, 150 * M, 200 * M),
        ("up to £150-200m", AmountQualifier.RANGE, 150 * M, 200 * M),
        ("over £20m", AmountQualifier.OVER, 20 * M, None),
        ("in excess of £7m", AmountQualifier.OVER, 7 * M, None),
        ("around £1bn", AmountQualifier.AROUND, 1000 * M, 1000 * M),
        ("£740,000", AmountQualifier.EXACT, Decimal(740_000), Decimal(740_000)),
        ("£2.8m", AmountQualifier.EXACT, Decimal("2.8") * M, Decimal("2.8") * M),
        ("£1.6bn", AmountQualifier.EXACT, 1600 * M, 1600 * M),
    ],
)
def test_amounts_keep_their_qualifier_and_bounds(text, qualifier, low, high):
    parsed = parse_amount(text)
    assert (parsed.qualifier, parsed.low, parsed.high) == (qualifier, low, high)


@pytest.mark.parametrize("text", ["significant finance", "$5m", "£", "£200-150m", ""])
def test_unreadable_amounts_are_refused_not_guessed(text):
    with pytest.raises(ValueError, match="“"):
        parse_amount(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("by March 2021", date(2021, 3, 31)),
        # A start date is no deadline (the timing's start: tests/test_timing.py).
        ("from autumn 2019", None),
        ("by 2020", date(2020, 12, 31)),
        ("by 2027", date(2027, 12, 31)),
        ("in 2019/20", date(2020, 3, 31)),
        ("by the end of 2019", date(2019, 12, 31)),
        ("within five years", date(2023, 12, 31)),
        ("in due course", None),
    ],
)
def test_deadlines_parse_to_the_end_of_the_period_named(text, expected):
    assert parse_target_date(text, written_on=date(2018, 12, 1)) == expected


def test_normalise_removes_extraction_artefacts():
    raw = "`` Ẁellcome Trust has committed to progressing very high-risk/\nhigh-reward pioneering \n science"
    assert normalise(raw) == "Wellcome Trust has committed to progressing very high-risk/high-reward pioneering science"
