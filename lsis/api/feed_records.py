"""Records for the change feed, read through the API's own views as a partner reads them.

A kind of the feed (``lsis.core.feed.FeedKind``) must give a record exactly as the API's list and detail
endpoints give it to a partner. ``viewset_kind`` builds one from the endpoint's viewset: its queryset as a
partner (who sees only published data) is given it, then its own ``listing`` and ``represent``, the code
that builds a page of the list. The feed is the same for everybody, staff included: it is always read as
a partner, never as the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework.request import Request

from lsis.core.feed import FeedKind


def partner_view(viewset_class: type[Any], *, action: str = "list") -> Any:
    """An instance of ``viewset_class`` answering a partner's request with no query string.

    Partners see what anyone without staff's permission sees; the user is anonymous so that no one's
    permissions (a partner's organisation, say) ever shape what the feed, the same for all, carries.
    """
    http = HttpRequest()
    http.method = "GET"
    http.META.update({"SERVER_NAME": "localhost", "SERVER_PORT": "80"})
    request = Request(http)
    request.user = AnonymousUser()
    view = viewset_class()
    view.request = request
    view.args, view.kwargs = (), {}
    view.action = action
    view.format_kwarg = None
    view.headers = {}
    return view


def viewset_kind(
    name: str,
    viewset_class: type[Any],
    *,
    description: str = "",
    queryset: Callable[[Any], QuerySet[Any]] | None = None,
) -> FeedKind:
    """A kind of the feed whose records are those of ``viewset_class``'s list, keyed by its ``lookup_field``.

    ``queryset(view)`` gives what a partner may see, if not the view's own ``get_queryset()``.
    """
    lookup = viewset_class.lookup_field

    def partner_rows(view: Any) -> QuerySet[Any]:
        return queryset(view) if queryset is not None else view.get_queryset()

    def records(keys: list[str]) -> dict[str, Any]:
        view = partner_view(viewset_class)
        rows = partner_rows(view).filter(**{f"{lookup}__in": keys})
        page = list(view.listing(rows))
        return {str(record[lookup]): record for record in view.represent(page)}

    def model_rows() -> QuerySet[Any]:
        model = partner_rows(partner_view(viewset_class)).model
        return model._default_manager.order_by()

    def exists(keys: list[str]) -> set[str]:
        return {str(key) for key in model_rows().filter(**{f"{lookup}__in": keys}).values_list(lookup, flat=True)}

    def every_key(prefix: str) -> Iterable[str]:
        rows = model_rows()
        if prefix:
            rows = rows.filter(**{f"{lookup}__startswith": prefix})
        return [str(key) for key in rows.values_list(lookup, flat=True)]

    return FeedKind(
        name=name,
        records=records,
        exists=exists,
        keys=every_key,
        schema=viewset_class.serializer_class,
        description=description,
    )
