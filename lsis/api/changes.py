"""``GET /api/v1/changes/``: every change partners may see, in commit order, to keep a copy in sync.

Each entry is one record created (newly visible to partners), updated, withdrawn from publication or
deleted, with the record as a partner reads it from its own endpoint (none once it is withdrawn or gone).
Read from the start with ``cursor=`` (or no cursor), then again and again with the ``next`` of the last
answer: it is always given, at the end too, so a partner polls with it. The feed is the same for every
caller, staff included: partners' view of published data, never anything else.

The feed is written by ``lsis.core.feed``; this view only reads ``FeedEntry`` (after publishing what a
killed process may have left pending). Its answers come from the feed, not from the data stamp, so it
keeps none of the stamp's validators or cached answers: its ETag is the digest of the body.
"""

from __future__ import annotations

import re
from typing import Any

from drf_orjson_renderer.renderers import ORJSONRenderer as JSONRenderer  # type: ignore[import-untyped]
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from lsis.api.errors import ErrorSerializer
from lsis.api.pagination import whole_number
from lsis.api.schema import ApiAutoSchema
from lsis.api.views import ApiViewSet
from lsis.core.feed import FeedKind, changes_pending, changes_publish, feed_head, feed_kinds
from lsis.core.models import FeedAction, FeedEntry

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
# A position: the feed's epoch (new whenever the feed starts afresh) and the last sequence number read.
EPOCH_LENGTH = 12
CURSOR_PATTERN = rf"^([0-9a-f]{{{EPOCH_LENGTH}}}-(0|[1-9][0-9]{{0,17}}))?$"
_CURSOR = re.compile(CURSOR_PATTERN)
_AT = serializers.DateTimeField()
Errors = dict[str, list[str]]  # by parameter


class StaleCursor(exceptions.APIException):
    """A well-formed cursor this feed never gave: from a feed started afresh since, or from another server."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This cursor is not a position in this feed (it was started afresh): start again with cursor=."
    default_code = "stale_cursor"


def cursor_for(epoch: str, seq: int) -> str:
    """The cursor of the position after entry ``seq`` (0: the start) of the feed of ``epoch``."""
    return f"{epoch[:EPOCH_LENGTH]}-{seq}"


class ChangesSchema(ApiAutoSchema):
    """The feed's parameters and page, built when the schema is (every app's kinds are registered by then)."""

    def _is_list_view(self, serializer: Any = None) -> bool:
        """One page object, not a list of them."""
        return False

    def get_filter_backends(self) -> list[Any]:
        """No filters but ``kind``."""
        return []

    def get_override_parameters(self) -> list[Any]:
        """``cursor``, ``page_size`` and ``kind``."""
        return [
            OpenApiParameter(
                "cursor",
                {"type": "string", "pattern": CURSOR_PATTERN},
                OpenApiParameter.QUERY,
                description=(
                    "Where to resume: the `next` of the last page read. Empty or left out: from the first "
                    "change. Opaque: use it as given. A cursor of a feed since started afresh is a 409."
                ),
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                OpenApiParameter.QUERY,
                description=f"Changes per page, 1 to {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE}).",
            ),
            OpenApiParameter(
                "kind",
                {"type": "string", "enum": [kind.name for kind in feed_kinds()]},
                OpenApiParameter.QUERY,
                description="Only the changes of this kind of record (named as its list endpoint is).",
            ),
        ]

    def get_response_serializers(self) -> Any:
        """The page, and the 409 of a stale cursor."""
        return {
            200: OpenApiResponse(page_serializer(), description="A page of changes, oldest first."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="The cursor is from a feed since started afresh: read again from the start.",
                examples=[
                    OpenApiExample(
                        "stale_cursor",
                        value={
                            "status": 409,
                            "code": "stale_cursor",
                            "detail": StaleCursor.default_detail,
                            "fields": {},
                        },
                        response_only=True,
                        status_codes=["409"],
                    )
                ],
            ),
        }


def _record_field(kind: FeedKind) -> serializers.Field:
    """The record of an entry: the schema of the kind's records in the API (null once withdrawn or deleted)."""
    description = "The record as its endpoint gives it to a partner; null when withdrawn or deleted."
    if kind.schema is None:
        return serializers.DictField(allow_null=True, help_text=description)
    # A reference to the component the kind's own endpoint documents, rather than the serializer again: the
    # serializers shape themselves by who asks, and the schema shows them as their endpoints do.
    name = kind.schema.__name__.removesuffix("Serializer")
    schema = {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "nullable": True, "description": description}

    @extend_schema_field(schema)
    class RecordField(serializers.JSONField):
        pass

    return RecordField(allow_null=True)


def _entry_serializer(kind: FeedKind) -> type[serializers.Serializer]:
    @extend_schema_field({"type": "string", "enum": [kind.name]})
    class KindField(serializers.CharField):
        pass

    fields = {
        "seq": serializers.IntegerField(min_value=1, help_text="The change's place in the feed, in commit order."),
        "kind": KindField(help_text="The kind of record: the path of its list endpoint."),
        "id": serializers.CharField(help_text="The record's identifier at its endpoint (UUID, code, reference, key)."),
        "action": serializers.ChoiceField(
            choices=FeedAction.choices,
            help_text="created: newly visible; updated; withdrawn: no longer published; deleted: gone for good.",
        ),
        "at": serializers.DateTimeField(help_text="When the change entered the feed."),
        "record": _record_field(kind),
    }
    name = "".join(part.title() for part in re.split(r"[^a-zA-Z0-9]+", kind.name)) + "ChangeSerializer"
    return type(name, (serializers.Serializer,), fields)


def page_serializer() -> Any:
    """A page of the feed, each entry documented by its kind's record schema."""
    entries = PolymorphicProxySerializer(
        component_name="Change",
        serializers={kind.name: _entry_serializer(kind) for kind in feed_kinds()},
        resource_type_field_name="kind",
        many=True,
    )
    return inline_serializer(
        "ChangePage",
        fields={
            "results": entries,
            "next": serializers.RegexField(
                CURSOR_PATTERN,
                help_text="The cursor to read on from: after the last change here, or where you were if none.",
            ),
            "has_more": serializers.BooleanField(help_text="More changes are waiting now: read on at once."),
        },
    )


@extend_schema(
    summary="Every change partners may see, in commit order",
    description=(
        "Created (newly visible), updated, withdrawn and deleted records of every kind, each with the record "
        "as its endpoint gives it to a partner. Start with no cursor, then read on with `next`, which every "
        "page gives, the last one too: poll with it. Replaying every change from the start rebuilds the "
        "published data exactly. The same for every caller. Guide: docs/api.md, Following every change."
    ),
)
class ChangesViewSet(ApiViewSet):
    """The change feed, read a page at a time by cursor."""

    schema = ChangesSchema()
    pagination_class = None
    renderer_classes = [JSONRenderer]
    list_renderer_classes = [JSONRenderer]
    # Not the data stamp's validators or cached answers: the feed moves after the stamp does (see above).
    versioned_actions = ("list",)

    def allowed_query_params(self) -> set[str]:
        """``cursor``, ``page_size`` and ``kind`` only."""
        return {"cursor", "page_size", "kind"}

    def list(self, request: Request) -> Response:
        """A page of changes after the cursor's position."""
        errors: Errors = {}
        size = self._page_size(request, errors)
        kind = self._kind(request, errors)
        raw_cursor = request.query_params.get("cursor", "")
        if not _CURSOR.match(raw_cursor):
            errors["cursor"] = ["This cursor is not valid: give the `next` of a page as it was, or none."]
        if errors:
            raise exceptions.ValidationError(errors)
        # What a process killed after its commit left pending, or a commit whose publishing is under way.
        if changes_pending():
            changes_publish()
        head = feed_head()
        after = 0
        if raw_cursor:
            epoch, read = raw_cursor.split("-")
            after = int(read)
            if epoch != head.epoch[:EPOCH_LENGTH] or after > head.seq:
                raise StaleCursor()
        rows = FeedEntry.objects.filter(seq__gt=after)
        if kind is not None:
            rows = rows.filter(kind=kind)
        found = list(rows.order_by("seq").values_list("seq", "kind", "key", "action", "at", "record")[: size + 1])
        more, found = len(found) > size, found[:size]
        results = [
            {"seq": seq, "kind": name, "id": key, "action": action, "at": _AT.to_representation(at), "record": record}
            for seq, name, key, action, at, record in found
        ]
        # Every entry up to the head was visible to the query above (the head moves in the same transaction as
        # the entries it counts): with nothing more to read, the next read may start after the head.
        last = found[-1][0] if found else after
        position = last if more else max(last, head.seq)
        return Response({"results": results, "next": cursor_for(head.epoch, position), "has_more": more})

    def _page_size(self, request: Request, errors: Errors) -> int:
        raw = request.query_params.get("page_size")
        if raw is None:
            return DEFAULT_PAGE_SIZE
        size = whole_number(raw)
        if size is None or not 1 <= size <= MAX_PAGE_SIZE:
            errors["page_size"] = [f"Give a whole number from 1 to {MAX_PAGE_SIZE}."]
            return DEFAULT_PAGE_SIZE
        return size

    def _kind(self, request: Request, errors: Errors) -> str | None:
        raw = request.query_params.get("kind")
        names = [kind.name for kind in feed_kinds()]
        if raw is not None and raw not in names:
            errors["kind"] = [f"Choose one of: {', '.join(names)}."]
            return None
        return raw
