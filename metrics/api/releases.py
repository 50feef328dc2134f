"""API endpoints of the open-data releases: each signed-off quarter's versions, and their files to download.

A release is looked up by its code, the quarter's and the version's: ``2019-20-Q1-v1``. Its files never change,
so a download's ETag is the file's SHA-256 and it may be kept for good (``immutable``). Partners and staff read
the same releases: they hold published data only (``metrics.release_files``).
"""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.reverse import reverse

from commitments.api.views import ReadOnlyApiViewSet
from commitments.periods import Quarter
from metrics.api.views import QuarterField, parse_quarter_code
from metrics.models import Release, ReleaseFile
from metrics.release_files import CSVW_MEDIA_TYPE, FILE_NAMES, JSON_MEDIA_TYPE
from metrics.releases import release_file_find, release_find, releases_list

# ``2019-20-Q1-v1``: a quarter's code and a version (a few digits: no release has more).
CODE = re.compile(r"^(?P<quarter>\d{4}-\d{2}-Q[1-4])-v(?P<version>[1-9]\d{0,5})$")
IMMUTABLE = "private, max-age=31536000, immutable"
CODE_PARAMETER = OpenApiParameter(
    "code", OpenApiTypes.STR, OpenApiParameter.PATH, description="The release: quarter and version, e.g. 2019-20-Q1-v1."
)


def parse_release_code(code: str) -> tuple[Quarter, int] | None:
    """The quarter and version a release code names, or None if it names none."""
    found = CODE.match(code)
    if found is None:
        return None
    try:
        return parse_quarter_code(found["quarter"]), int(found["version"])
    except ValidationError:
        return None


class ReleaseFileSerializer(serializers.Serializer):
    """One file of a release."""

    name = serializers.CharField()
    media_type = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes.")
    sha256 = serializers.CharField(help_text="SHA-256 of the file's bytes, in hex: also its download's ETag.")
    url = serializers.SerializerMethodField(
        help_text="Where to download it: its path on this server, e.g. "
        "/api/v1/releases/2019-20-Q1-v1/files/delivery.csv/."
    )

    def get_url(self, row: ReleaseFile) -> str:
        """The download's path: a record the same at any host, so the change feed carries it as the list does."""
        return str(reverse("api:release-download", kwargs={"code": self.context["code"], "name": row.name}))


class ReleaseSerializer(serializers.ModelSerializer):
    """One version of a signed-off quarter's open data, with its files."""

    code = serializers.CharField(help_text="Quarter and version, e.g. 2019-20-Q1-v1: the release's address.")
    quarter = serializers.SerializerMethodField(help_text="The quarter's code, e.g. 2019-20-Q1.")
    files = serializers.SerializerMethodField()

    class Meta:
        model = Release
        fields = ["code", "quarter", "version", "published_at", "note", "files"]

    def get_quarter(self, release: Release) -> str:
        """The quarter's code."""
        return release.quarter.quarter.label.replace(" ", "-")

    @extend_schema_field(ReleaseFileSerializer(many=True))
    def get_files(self, release: Release) -> list[dict[str, Any]]:
        """The files, in their order."""
        context = {**self.context, "code": release.code}
        return list(ReleaseFileSerializer(release.files.all(), many=True, context=context).data)


class ReleaseFilter(django_filters.FilterSet):
    """Releases of one quarter."""

    quarter = QuarterField(field_name="quarter", max_length=10, help_text="Quarter code, e.g. 2019-20-Q1.")

    class Meta:
        model = Release
        fields: list[str] = []


FILE_RESPONSE = OpenApiResponse(response=OpenApiTypes.BINARY, description="The file's bytes, as published.")
# The JSON files (CSV on the Web metadata, the 360Giving package) are JSON objects, and the schema says so: a
# client reading them as JSON gets an object, not a string.
JSON_FILE_RESPONSE = OpenApiResponse(response=OpenApiTypes.OBJECT, description="The file, as published: a JSON object.")


@extend_schema_view(
    list=extend_schema(
        summary="List open-data releases",
        description="Every version of each signed-off quarter's open data, latest quarter and version first; "
        "`quarter` keeps one quarter's. Guide: docs/open_data.md.",
    ),
    retrieve=extend_schema(summary="One release, by code (e.g. 2019-20-Q1-v1)", parameters=[CODE_PARAMETER]),
    download=extend_schema(
        summary="Download a file of a release",
        description="The bytes as published, never changed: the ETag is the file's SHA-256, and the answer may be "
        "kept for good.",
        parameters=[
            CODE_PARAMETER,
            OpenApiParameter(
                "name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(FILE_NAMES), description="The file's name."
            ),
        ],
        responses={
            (200, "text/csv"): FILE_RESPONSE,
            (200, CSVW_MEDIA_TYPE): JSON_FILE_RESPONSE,
            (200, JSON_MEDIA_TYPE): JSON_FILE_RESPONSE,
        },
    ),
)
class ReleaseViewSet(ReadOnlyApiViewSet):
    """Open-data releases of signed-off quarters: versions never change; a restatement is a new version."""

    serializer_class = ReleaseSerializer
    filterset_class = ReleaseFilter
    lookup_field = "code"
    export_name = "releases"
    # The download answers its own conditional requests: its ETag is the file's digest, not the data stamp's.
    versioned_actions = ("download",)

    def get_queryset(self) -> Any:
        """Every release, latest first."""
        return releases_list()

    def get_object(self) -> Release:
        """The release the code names; a code that names none is simply not found."""
        named = parse_release_code(self.kwargs["code"])
        release = release_find(quarter=named[0], version=named[1]) if named else None
        if release is None:
            raise exceptions.NotFound("There is no release with that code.")
        return release

    def allowed_query_params(self) -> set[str]:
        """A download takes no parameter."""
        return set() if self.action == "download" else super().allowed_query_params()

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        """A download is its file's type whatever the client accepts (its errors are JSON)."""
        return super().perform_content_negotiation(request, force=force or self.action == "download")

    @action(detail=True, methods=["get"], url_path=r"files/(?P<name>[^/]+)", url_name="download")
    def download(self, request: Request, code: str, name: str) -> HttpResponse:
        """The file's bytes, with its media type, name, and ETag (its SHA-256)."""
        release = self.get_object()
        row = release_file_find(release=release, name=name) if name in FILE_NAMES else None
        if row is None:
            raise exceptions.NotFound("The release has no file of that name.")
        etag = quote_etag(row.sha256)
        unchanged = get_conditional_response(request._request, etag=etag)
        response: HttpResponse = unchanged if unchanged is not None else HttpResponse(bytes(row.content))
        if not isinstance(response, HttpResponseNotModified):
            response["Content-Type"] = row.media_type
            # Its own name: the five files saved together are the set the CSV on the Web metadata describes.
            response["Content-Disposition"] = f'attachment; filename="{row.name}"'
        response["ETag"] = etag
        return response

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        """A file of a release never changes: it may be kept for good."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.action == "download" and response.status_code in (200, 304):
            response["Cache-Control"] = IMMUTABLE
            response["Vary"] = "Authorization, Cookie"
        return response
