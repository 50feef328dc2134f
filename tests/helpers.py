"""Typed helpers the tests share: the row a test needs, the body of a streamed answer, the anonymous role."""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpResponseBase, StreamingHttpResponse

M = TypeVar("M", bound=Model)

# The role of no one signed in, for ``api_for``.
ANONYMOUS = "anonymous"


def first(queryset: QuerySet[M]) -> M:
    """The first row of ``queryset``, which the test needs: a missing one fails here, saying which."""
    row = queryset.first()
    assert row is not None, f"no {queryset.model.__name__} matches {queryset.query}"
    return row


def streamed(response: HttpResponseBase) -> bytes:
    """The body of an answer that is streamed (an export), read to the end."""
    assert isinstance(response, StreamingHttpResponse), f"not streamed: {type(response).__name__}"
    return b"".join(response)
