"""The board pack as PDF: WeasyPrint, reading only the service's own static files (docs/adr/0004-board-pack-pdf.md).

In production the pages link collected, hashed static files (``print.3f2a….css``), which only the static
files storage can map back to a file; in development the finders find the source files. The fetcher asks
the storage first, then the finders, and refuses everything else: the PDF never reaches the network.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.exceptions import SuspiciousFileOperation
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

_CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
}


def _static_name(url: str) -> str:
    """The static file's name in a URL under STATIC_URL, or "" for any other URL."""
    static_path = urlsplit(settings.STATIC_URL).path
    path = unquote(urlsplit(url).path)
    if urlsplit(url).scheme not in ("http", "https") or not path.startswith(static_path):
        return ""
    name = path.removeprefix(static_path)
    return "" if ".." in name.split("/") else name


def _read_static(name: str) -> bytes | None:
    """The file's bytes from the collected files (hashed names), else from the source folders."""
    try:
        if staticfiles_storage.exists(name):
            with staticfiles_storage.open(name) as handle:
                return bytes(handle.read())
    except (SuspiciousFileOperation, OSError, ValueError):
        return None
    found = finders.find(name)
    if isinstance(found, str):
        with open(found, "rb") as handle:
            return handle.read()
    return None


class StaticFilesFetcher(URLFetcher):
    """WeasyPrint's fetcher, restricted to the service's static files, read from disk."""

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        """Return a static file's contents; refuse (WeasyPrint logs and goes on) anything else."""
        name = _static_name(url)
        body = _read_static(name) if name else None
        if body is None:
            raise ValueError(f"The board pack PDF only embeds the service's own static files, not {url}.")
        suffix = name[name.rfind(".") :]
        content_type = _CONTENT_TYPES.get(suffix, "application/octet-stream")
        return URLFetcherResponse(url, body=body, headers={"Content-Type": content_type})


def board_pack_pdf_render(*, html: str, base_url: str) -> bytes:
    """Render the board pack's HTML as PDF bytes."""
    return bytes(HTML(string=html, base_url=base_url, url_fetcher=StaticFilesFetcher()).write_pdf())
