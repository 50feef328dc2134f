"""Serializer fields of the API that take exactly what the schema says they take."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from lsis.api.errors import UnknownReference

UNKNOWN_RECORD = "“{value}” names no record this field takes, or none you can see."


class RecordField(serializers.SlugRelatedField):
    """A record named by its code, reference or UUID.

    Unlike DRF's field, an empty string is not taken as null: the schema gives the slug's type (a UUID,
    say), and "" is not one; send null where the field allows it. A value of the slug's form that names
    no record among those the field takes is a 404 naming the field (``UnknownReference``); a value not
    of its form (a malformed UUID) is a 400.
    """

    def run_validation(self, data: Any = serializers.empty) -> Any:
        """Refuse "" as DRF's related fields do not."""
        if data == "":
            self.fail("blank")
        return super().run_validation(data)

    def to_internal_value(self, data: Any) -> Any:
        """The record, or 404 if the value is well formed but names none."""
        if not isinstance(data, str):
            self.fail("invalid")
        queryset = self.get_queryset()
        assert queryset is not None  # noqa: S101 - a writable field has its queryset
        try:
            queryset.model._meta.get_field(self.slug_field).to_python(data)
            return queryset.get(**{self.slug_field: data})
        except (TypeError, ValueError, DjangoValidationError):
            self.fail("invalid")
        except queryset.model.DoesNotExist:
            raise UnknownReference({str(self.field_name): [UNKNOWN_RECORD.format(value=data)]}) from None

    default_error_messages = {
        **serializers.SlugRelatedField.default_error_messages,
        "blank": "Give a value, or null where the field allows it.",
    }


# A web address as the schema gives it, a form every address of which Django's URLValidator also takes
# and which is a URI (RFC 3986): a scheme, a host name of at most six labels of 1 to 32 characters under a
# top-level domain of 2 to 24 letters (so never longer than the 253 characters a host name may have), no
# port, then a path, query and fragment of the characters a URI allows there. Addresses by IP, with a port
# or with characters a URI does not allow (spaces, say, unless percent-encoded) are refused.
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
_CHARACTERS = "A-Za-z0-9._~!$&'()*+,;=:@/-"
_PATH = rf"(?:[{_CHARACTERS}]|%[0-9A-Fa-f]{{2}})*"
_QUERY = rf"(?:[?{_CHARACTERS}]|%[0-9A-Fa-f]{{2}})*"
WEB_LINK_PATTERN = (
    rf"^(?:https?|ftps?)://(?:{_LABEL}\.){{1,6}}[A-Za-z]{{2,24}}(?:/{_PATH})?(?:\?{_QUERY})?(?:#{_QUERY})?$"
)


@extend_schema_field({"type": "string", "format": "uri", "pattern": WEB_LINK_PATTERN})
class WebLinkField(serializers.URLField):
    """A web address of the form ``WEB_LINK_PATTERN`` (and valid by Django's URLValidator)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.append(
            RegexValidator(WEB_LINK_PATTERN, message="Give a web address, e.g. https://www.gov.uk/guidance.")
        )


# Request bodies are JSON (lsis.api.parsers): a value of the wrong JSON type is refused, as the schema says,
# where DRF's own fields would take 5 for "5" or "5" for 5.


class StrictCharField(serializers.CharField):
    """Text that must be a JSON string (DRF's CharField also takes numbers)."""

    def to_internal_value(self, data: Any) -> Any:
        """Refuse anything but a string."""
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A whole number that must be a JSON integer (DRF's IntegerField also takes "5" and 5.0)."""

    def to_internal_value(self, data: Any) -> Any:
        """Refuse anything but an integer (a boolean is not one)."""
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictDecimalField(serializers.DecimalField):
    """An amount that must be a JSON string, as the schema documents money (DRF's also takes numbers)."""

    def to_internal_value(self, data: Any) -> Any:
        """Refuse anything but a string."""
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
