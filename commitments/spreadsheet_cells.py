"""Reading one spreadsheet cell: the parsers an update file's cells go through.

Each parser takes a cell as openpyxl or the CSV reader gives it (text, a number, a date, or ``None``) and
returns the value to store, or raises ``CellError`` with a message in plain words that quotes the cell (cut
short: a message never repeats a whole long cell). Dates must be today or earlier; choices are read by stored
value or label in any case; numbers written with a huge exponent are refused without being spelt out; money
is pounds and pence. Pure functions: no query, no write.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import EvidenceLink
from commitments.services import EvidenceLinkData

STATUS_CHOICES = ", ".join(str(label) for label in DeliveryStatus.labels)
CONFIDENCE_CHOICES = ", ".join(str(label) for label in DeliveryConfidence.labels)
_URL_MAX = EvidenceLink._meta.get_field("url").max_length or 500
_TITLE_MAX = EvidenceLink._meta.get_field("title").max_length or 300


def _scale(choices: Any) -> dict[str, str]:
    """Stored value and label, each lower-cased, to the stored value."""
    mapping: dict[str, str] = {}
    for value, label in choices.choices:
        mapping[str(value).lower()] = str(value)
        mapping[str(label).lower()] = str(value)
    return mapping


_STATUS_SCALE = _scale(DeliveryStatus)
_CONFIDENCE_SCALE = _scale(DeliveryConfidence)


def normalise_heading(heading: Any) -> str:
    """``"As of"``, ``" as-of "`` and ``"AS_OF"`` are all the column ``as_of``."""
    if heading is None:
        return ""
    return re.sub(r"[\s\-]+", "_", str(heading).strip()).lower()


def long_date(value: date) -> str:
    """A date as a message writes it, e.g. 31 March 2025."""
    return f"{value.day} {value:%B %Y}"


class CellError(ValueError):
    """A cell's value cannot be used; the message says why in plain words, and ``column`` which cell."""

    def __init__(self, message: str, column: str = "") -> None:
        super().__init__(message)
        self.column = column


def cell_text(value: Any) -> str:
    """A cell as trimmed text; empty for an empty cell, and 12 (not 12.0) for a whole number read as a float."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


_QUOTED_MAX = 60


def quoted(text: str) -> str:
    """A cell's text in quotation marks for a message, cut short: a message never repeats a whole long cell."""
    return f"“{text}”" if len(text) <= _QUOTED_MAX else f"“{text[: _QUOTED_MAX - 1]}…”"


NUL_MESSAGE = (
    "This cell contains a NUL character (an invisible control character, often left by copying from another "
    "system), which cannot be stored. Retype the text, or paste it as plain text."
)


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y")


def parse_as_of(value: Any, *, today: date) -> date:
    """A past or present date, from an Excel date cell or text such as 31/03/2025 or 2025-03-31."""
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        text = cell_text(value)
        if not text:
            raise CellError("The as-of date is missing.")
        candidate = re.sub(r"[T ]00:00(:00)?$", "", text)
        for pattern in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(candidate, pattern).date()
                break
            except ValueError:
                continue
        else:
            raise CellError(f"{quoted(text)} is not a date we can read. Write dates as 31/03/2025 or 2025-03-31.")
    if parsed > today:
        raise CellError(
            f"{long_date(parsed)} is in the future. An update can only be true as of today or an earlier date."
        )
    return parsed


def parse_status(value: Any) -> str:
    """A status on the scale, by stored value (in_progress) or label (In progress), in any case."""
    text = cell_text(value)
    if not text:
        raise CellError(f"The status is missing. Use one of: {STATUS_CHOICES}.")
    try:
        return _STATUS_SCALE[text.lower()]
    except KeyError:
        raise CellError(f"{quoted(text)} is not on the status scale. Use one of: {STATUS_CHOICES}.") from None


def parse_confidence(value: Any) -> str:
    """A confidence rating on the IPA scale, by value or label in any case; empty if not given."""
    text = cell_text(value)
    if not text:
        return ""
    try:
        return _CONFIDENCE_SCALE[text.lower()]
    except KeyError:
        raise CellError(
            f"{quoted(text)} is not on the confidence scale. Use one of: {CONFIDENCE_CHOICES}, or leave it empty."
        ) from None


def parse_progress(value: Any) -> int | None:
    """A whole percentage from 0 to 100 (a trailing % is allowed); ``None`` if not given."""
    if isinstance(value, bool):
        raise CellError(f"“{value}” is not a number: progress is a whole number from 0 to 100, or empty.")
    text = cell_text(value)
    if not text:
        return None
    try:
        number = Decimal(text.removesuffix("%").strip())
    except InvalidOperation:
        raise CellError(
            f"{quoted(text)} is not a number: progress is a whole number from 0 to 100, or empty."
        ) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise CellError(f"{quoted(text)} is not a whole number: progress is a whole number from 0 to 100.")
    if not 0 <= number <= 100:
        # A number written with a huge exponent is quoted as written, never spelt out digit by digit.
        shown = f"{number:f}" if number.adjusted() < 6 else quoted(text)
        raise CellError(f"{shown} is not a percentage: progress must be a whole number from 0 to 100.")
    return int(number)


def parse_money(value: Any) -> Decimal | None:
    """Pounds spent, e.g. 1250000, 1,250,000.50 or £1.25m written out; ``None`` if not given."""
    if isinstance(value, bool):
        raise CellError(f"“{value}” is not an amount of money.")
    if isinstance(value, float) and abs(value - round(value, 2)) < 1e-6:
        value = round(value, 2)  # an Excel number cell: 1234.56 may be stored as 1234.5600000000001
    text = repr(value) if isinstance(value, float) else cell_text(value)
    if not text:
        return None
    cleaned = re.sub(r"[£,\s]", "", text)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise CellError(
            f"{quoted(text)} is not an amount of money. Write pounds as a number, e.g. 1250000 or £1,250,000.50."
        ) from None
    if not amount.is_finite():
        raise CellError(f"{quoted(text)} is not an amount of money.")
    if amount < 0:
        raise CellError("Money spent cannot be negative.")
    # Before rounding: pence cannot be counted on a number with more digits than a Decimal holds (1e30).
    if amount >= Decimal(10) ** 14:
        raise CellError(f"{quoted(text)} is too large to be an amount spent.")
    if amount != amount.quantize(Decimal("0.01")):
        raise CellError(f"{quoted(text)} has more than two decimal places: give pounds and pence at most.")
    return amount.quantize(Decimal("0.01"))


_url_validator = URLValidator(schemes=["http", "https"])


def parse_evidence(url_value: Any, title_value: Any) -> EvidenceLinkData | None:
    """A link to evidence with its title (the link itself if no title is given); ``None`` if no link."""
    url = cell_text(url_value)
    title = cell_text(title_value)
    if not url:
        if title:
            raise CellError(
                "There is an evidence title but no evidence_url: give the link too, or clear the title.",
                "evidence_title",
            )
        return None
    if len(url) > _URL_MAX:
        raise CellError(f"The evidence link is longer than {_URL_MAX} characters.", "evidence_url")
    try:
        _url_validator(url)
    except ValidationError:
        raise CellError(
            f"{quoted(url)} is not a web address. Give the full link, starting https://.", "evidence_url"
        ) from None
    if len(title) > _TITLE_MAX:
        raise CellError(f"The evidence title is longer than {_TITLE_MAX} characters.", "evidence_title")
    return EvidenceLinkData(url=url, title=title or url[:_TITLE_MAX])
