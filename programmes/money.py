"""Reading amounts of money as the documents write them.

The documents write money loosely: "up to £79m", "£150-200m", "over £20m", "around £1bn", "£740,000",
"in excess of £7m", "could exceed £640m", "$150m (£117m)". ``parse_amount`` turns such a phrase into a
qualifier and the bounds it supports, in whole pounds, without rounding anything away. A phrase it cannot
read raises ``ValueError`` rather than guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import models


class AmountQualifier(models.TextChoices):
    """How the document qualifies an amount."""

    EXACT = "exact", "Exact"
    UP_TO = "up_to", "Up to"
    OVER = "over", "Over"
    AROUND = "around", "Around"
    RANGE = "range", "Range"


_MULTIPLIERS = {
    "": Decimal(1),
    "k": Decimal(1_000),
    "m": Decimal(1_000_000),
    "million": Decimal(1_000_000),
    "bn": Decimal(1_000_000_000),
    "billion": Decimal(1_000_000_000),
}

_QUALIFIER_WORDS: tuple[tuple[str, AmountQualifier], ...] = (
    ("up to", AmountQualifier.UP_TO),
    ("in excess of", AmountQualifier.OVER),
    ("could exceed", AmountQualifier.OVER),
    ("exceed", AmountQualifier.OVER),
    ("more than", AmountQualifier.OVER),
    ("at least", AmountQualifier.OVER),
    ("over", AmountQualifier.OVER),
    ("almost", AmountQualifier.AROUND),
    ("nearly", AmountQualifier.AROUND),
    ("close to", AmountQualifier.AROUND),
    ("approximately", AmountQualifier.AROUND),
    ("around", AmountQualifier.AROUND),
    ("about", AmountQualifier.AROUND),
)

# Words that say the money is in addition to other money; they do not change the amount.
_ADDITIVE_WORDS = ("a further", "an additional", "an extra", "additional", "further")
# A foreign-currency figure printed with its sterling equivalent: "$150m (£117m)".
_WITH_STERLING_EQUIVALENT = re.compile(r"^[$€][^(]*\((?P<sterling>£[^)]*)\)$")

_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_UNIT = r"(?:bn|billion|million|m|k)?"
_AMOUNT = re.compile(
    rf"^£(?P<low>{_NUMBER})\s*(?P<low_unit>{_UNIT})"
    rf"(?:\s*(?:-|\u2013|to)\s*£?(?P<high>{_NUMBER})\s*(?P<high_unit>{_UNIT}))?$"
)


@dataclass(frozen=True)
class ParsedAmount:
    """An amount's qualifier and bounds in pounds; a bound the wording does not give is None."""

    qualifier: AmountQualifier
    low: Decimal | None
    high: Decimal | None


def _pounds(number: str, unit: str) -> Decimal:
    try:
        return Decimal(number.replace(",", "")) * _MULTIPLIERS[unit]
    except (InvalidOperation, KeyError) as error:  # pragma: no cover - the pattern admits neither
        raise ValueError(f"Cannot read the number “{number}{unit}”.") from error


def parse_amount(text: str) -> ParsedAmount:
    """Read an amount phrase such as "up to £79m" or "£150-200m".

    "up to X" has no stated floor (low is None); "over X" no stated ceiling (high is None); a range
    "£150-200m" takes the unit of its upper end for both ends; "around X" keeps X as both bounds and
    says it is approximate through its qualifier.
    """
    phrase = " ".join(text.strip().split())
    if sterling := _WITH_STERLING_EQUIVALENT.match(phrase):
        phrase = sterling["sterling"]
    for words in _ADDITIVE_WORDS:
        if phrase.lower().startswith(words + " "):
            phrase = phrase[len(words) + 1 :]
            break
    qualifier: AmountQualifier | None = None
    lowered = phrase.lower()
    for words, word_qualifier in _QUALIFIER_WORDS:
        if lowered.startswith(words + " "):
            qualifier = word_qualifier
            phrase = phrase[len(words) + 1 :].strip()
            break
    match = _AMOUNT.match(phrase)
    if match is None:
        raise ValueError(f"“{text}” is not an amount in pounds that can be read, such as “up to £79m” or “£150-200m”.")
    high_unit = (match["high_unit"] or "").lower()
    low_unit = (match["low_unit"] or "").lower() or (high_unit if match["high"] else "")
    low = _pounds(match["low"], low_unit)
    if match["high"]:
        high = _pounds(match["high"], high_unit)
        if high < low:
            raise ValueError(f"“{text}” gives a range whose upper end is below its lower end.")
        return ParsedAmount(AmountQualifier.RANGE, low, high)
    if qualifier == AmountQualifier.UP_TO:
        return ParsedAmount(qualifier, None, low)
    if qualifier == AmountQualifier.OVER:
        return ParsedAmount(qualifier, low, None)
    return ParsedAmount(qualifier or AmountQualifier.EXACT, low, low)
