"""The open-data releases page: every signed-off quarter's versions and their files to download."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from metrics.models import Release
from metrics.release_files import GIVING_NAME, METADATA_NAME, TABLES
from metrics.releases import releases_list
from metrics.tables import Cell, Table
from metrics.views.common import dashboard, respond

# What each file holds, in the words of the page (the tables' own titles, and the two JSON files).
FILE_HOLDS = {
    **{table.url: table.title for table in TABLES},
    METADATA_NAME: "CSV on the Web metadata: every column of the three tables",
    GIVING_NAME: "Government grants among the funding, in the 360Giving standard",
}


def files_table(releases: list[Release]) -> Table:
    """A row per file of each release, latest first: its release and why, what it holds, and its size.

    The files' SHA-256 digests are for machines: the API lists them (``/api/v1/releases/``).
    """
    rows = []
    for release in releases:
        name = f"{release.quarter}, version {release.version}"
        why = release.note or "First release, at sign-off"
        published = f"{release.published_at:%-d %b %Y}"
        for row in release.files.all():
            url = reverse("api:release-download", kwargs={"code": release.code, "name": row.name})
            rows.append(
                [
                    Cell(name, header=True),
                    Cell(f"{published}: {why}", column="Published"),
                    Cell(row.name, href=url, column="File"),
                    Cell(FILE_HOLDS.get(row.name, ""), column="What it holds"),
                    Cell(filesizeformat(row.size), column="Size", numeric=True),
                ]
            )
    return Table(
        id="releases",
        caption="Releases and their files",
        headers=["Release", "Published", "File", "What it holds", "Size"],
        rows=rows,
        numeric_from=4,
        empty="No quarter has been signed off yet, so there is no release.",
    )


@dashboard
def releases(request: HttpRequest) -> HttpResponse:
    """Each release, latest first, with its files (downloaded from the API, which serves them unchanged)."""
    found = list(releases_list())
    table = files_table(found)
    context = {"releases": found, "page": "releases", "table": table}
    return respond(request, "dashboards/releases.html", context, [table], "open-data-releases")
