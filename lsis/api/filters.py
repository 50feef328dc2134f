"""Filter types shared by the API's filter sets: strict where django-filter's defaults are lenient."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django_filters import utils
from django_filters.fields import IsoDateTimeField
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field

from lsis.api.errors import UnknownReference

_BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]
UNKNOWN_VALUE = "“{value}” names nothing this filter knows, or nothing you can see."


def unknown_value(name: str, value: str) -> UnknownReference:
    """The 404 for a filter whose value is well formed but names nothing there is for the user."""
    return UnknownReference({name: [UNKNOWN_VALUE.format(value=value)]})


def _names_nothing(form: Any, name: str) -> bool:
    """Whether ``name``'s only error is a well-formed value that is no record's (a 404, not a 400).

    A code, reference or UUID the schema allows may name no record, or one the user may not see (a
    partner and an unpublished commitment): like a record's own URL, that is "not found". A value
    that is not even of the field's form (a malformed UUID) is a 400, as the schema's format says.
    """
    field = form.fields.get(name)
    if not isinstance(field, forms.ModelChoiceField):
        return False
    if [error.code for error in form.errors.as_data()[name]] != ["invalid_choice"]:
        return False
    if field.queryset is None:
        return False
    model_field = field.queryset.model._meta.get_field(field.to_field_name or "pk")
    try:
        model_field.to_python(form.data.get(name))
    except ValidationError:
        return False
    return True


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend, telling a value that names nothing (404) from a malformed one (400)."""

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        """The filtered rows; 400 naming the malformed values, else 404 naming the unknown ones."""
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid():
            errors = filterset.errors
            if all(_names_nothing(filterset.form, name) for name in errors):
                raise UnknownReference(
                    {name: [UNKNOWN_VALUE.format(value=filterset.form.data.get(name))] for name in errors}
                )
            raise utils.translate_validation(errors)
        return filterset.qs


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``; anything else is a 400 (django-filter's own boolean filter ignores junk)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("choices", _BOOLEAN_CHOICES)
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, converted to UTC for the database.

    Any offset RFC 3339 allows (up to 23:59 either way) is taken, as the schema's ``date-time`` says; a
    moment that falls outside the calendar once in UTC (the first or last hours of years 1 and 9999) is
    the calendar's first or last moment, which every stored date-time is after or before alike.
    """

    def to_python(self, value: Any) -> datetime | None:
        """The moment in UTC."""
        moment = super().to_python(value)
        if moment is None:
            return None
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            edge = datetime.min if moment.year == 1 else datetime.max
            return edge.replace(tzinfo=UTC)


class StrictIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 date-time filter that never passes an impossible moment to the database."""

    field_class = UtcIsoDateTimeField
