"""The open-data releases page: every signed-off quarter's versions and their files to download."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from metrics.models import Release
from metrics.releases import releases_list
from metrics.tables import Cell, Table
from metrics.views.common import dashboard, respond


def files_table(releases: list[Release]) -> Table:
    """A row per file of each release, latest first: its release, when published and why, size and digest."""
    rows = []
    for release in releases:
        name = f"{release.quarter}, version {release.version}"
        published = f"{release.published_at:%-d %B %Y}"
        for row in release.files.all():
            url = reverse("api:release-download", kwargs={"code": release.code, "name": row.name})
            rows.append(
                [
                    Cell(name, header=True),
                    Cell(published, column="Published"),
                    Cell(release.note or "First release", column="Restated because"),
                    Cell(row.name, href=url, column="File"),
                    Cell(filesizeformat(row.size), column="Size"),
                    Cell(row.sha256, column="SHA-256"),
                ]
            )
    return Table(
        id="releases",
        caption="Releases and their files",
        headers=["Release", "Published", "Restated because", "File", "Size", "SHA-256"],
        rows=rows,
        numeric_from=6,
        empty="No quarter has been signed off yet, so there is no release.",
    )


@dashboard
def releases(request: HttpRequest) -> HttpResponse:
    """Each release, latest first, with its files (downloaded from the API, which serves them unchanged)."""
    found = list(releases_list())
    table = files_table(found)
    context = {"releases": found, "page": "releases", "table": table}
    return respond(request, "dashboards/releases.html", context, [table], "open-data-releases")
