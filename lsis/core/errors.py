"""Errors the services raise that the API and the pages answer in one way, whatever the domain."""

from __future__ import annotations

from django.core.exceptions import ValidationError


class StateConflictError(ValidationError):
    """The action is not allowed in the record's current state (the API answers 409); the message says why.

    Each app's own workflow errors subclass it, so that the API's error handler need know none of them.
    """
