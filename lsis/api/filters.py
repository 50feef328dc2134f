"""Filter types shared by the API's filter sets: strict where django-filter's defaults are lenient."""

from __future__ import annotations

import django_filters

_BOOLEAN_CHOICES = [("true", "true"), ("false", "false")]


class StrictBooleanFilter(django_filters.TypedChoiceFilter):
    """``true`` or ``false``; anything else is a 400 (django-filter's own boolean filter ignores junk)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("choices", _BOOLEAN_CHOICES)
        kwargs.setdefault("coerce", lambda value: value == "true")
        super().__init__(*args, **kwargs)
