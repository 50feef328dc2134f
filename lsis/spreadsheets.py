"""Spreadsheets the service writes: cells that never run as formulas.

**Writing.** Every CSV and XLSX the service writes passes each cell through ``safe_cell``, which follows
OWASP's advice on CSV injection: a text cell that a spreadsheet program would run as a formula (it starts
with ``=``, ``+``, ``-`` or ``@``, also after spaces, or with a tab or a carriage return) is written with
a single quote in front, so it is shown as the text it is. Numbers, dates and decimals are left as they
are, so a negative amount stays a number; so is a negative figure written as text ("-3", "-1,250.5",
"-12%"), which a spreadsheet reads as a number, never as a formula. A quoted string never starts with
``=``, so openpyxl writes it as a string, never as a formula. ``SafeExportResource`` applies it to every
value django-import-export exports.

Nothing here knows what the spreadsheets are about.
"""

from __future__ import annotations

import re
from typing import Any

from import_export import resources

# --- Writing: no cell runs as a formula ----------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@")
_CONTROL_START = ("\t", "\r")
_NEGATIVE_NUMBER = re.compile(r"-\d[\d,]*(\.\d+)?%?")


def safe_cell(value: Any) -> Any:
    """The value as a cell no spreadsheet program runs: risky text behind a single quote, the rest as it is."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(_CONTROL_START):
        return "'" + value
    stripped = value.lstrip()
    if stripped.startswith(_FORMULA_START) and not _NEGATIVE_NUMBER.fullmatch(stripped):
        return "'" + value
    return value


class SafeExportResource(resources.ModelResource):
    """A django-import-export resource whose every exported value and heading goes through ``safe_cell``.

    The library's own ``IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT`` deletes characters from the text (and
    misses ``+``, ``-``, ``@`` and tabs); quoting keeps the text whole.
    """

    def export_field(self, field: Any, instance: Any, **kwargs: Any) -> Any:
        """The field's value as the resource exports it, made safe."""
        return safe_cell(super().export_field(field, instance, **kwargs))

    def get_export_headers(self, selected_fields: Any = None) -> list[str]:
        """The column headings, made safe."""
        return [safe_cell(heading) for heading in super().get_export_headers(selected_fields=selected_fields)]
