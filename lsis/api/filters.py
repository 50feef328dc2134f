"""Filter types shared by the API's filter sets: strict where django-filter's defaults are lenient."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

_BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``; anything else is a 400 (django-filter's own boolean filter ignores junk)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("choices", _BOOLEAN_CHOICES)
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


_LARGEST_OFFSET = timedelta(hours=14)  # the furthest any time zone is from UTC


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, checked to be a real moment and converted to UTC for the database."""

    def to_python(self, value: Any) -> datetime | None:
        """Refuse offsets no time zone has, and moments outside the calendar once in UTC."""
        moment = super().to_python(value)
        if moment is None:
            return None
        offset = moment.utcoffset()
        if offset is not None and abs(offset) > _LARGEST_OFFSET:
            raise ValidationError("A time zone offset runs from -14:00 to +14:00.", code="invalid")
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise ValidationError("This date-time is out of range.", code="invalid") from None


class StrictIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that never passes an impossible moment to the database."""

    field_class = UtcIsoDateTimeField
