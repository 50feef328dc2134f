"""Spreadsheet round-trip (django-import-export): the resources and formats the admin uses.

Staff download commitments (with their current delivery state) and status updates as CSV or Excel,
and upload status updates from CSV or Excel. This module only adapts django-import-export to the project:
an upload is read by ``commitments.imports.updates_import`` (the service: permission, all-or-nothing
checks with row-numbered problems, writes through ``commitments.services``), whose cells are parsed by
``commitments.spreadsheet_cells``. ``docs/spreadsheets.md`` is the staff guide.

The admin shows a dry run first (import-export's confirm step): the service runs every check the import
makes and writes nothing. Confirming runs the checks again, then writes, in one transaction: if any row has
a problem, nothing is written. Here the service's outcome becomes import-export's ``Result``, which the
admin's templates list by spreadsheet row (the headings are row 1) and column.

Every exported cell goes through ``lsis.spreadsheets.safe_cell`` (``SafeExportResource``): text that a
spreadsheet program would run as a formula is written behind a single quote.

An upload is held to ``import_limits()`` (the ``IMPORT_MAX_*`` settings; no cell longer than a narrative may
be) before any row is checked: its size on the import form, then, in ``IMPORT_FORMATS``, a workbook's zip
archive before openpyxl parses it, and the rows, columns and cells while streaming through them.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from import_export import exceptions, fields
from import_export.formats import base_formats
from import_export.results import Result, RowResult

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.imports import (
    EXPORT_ONLY_COLUMNS,
    IMPORT_COLUMNS,
    ImportRefusedError,
    ImportRow,
    RowAction,
    import_limits,
    updates_import,
)
from commitments.models import Actor, Commitment, EvidenceLink, StatusUpdate, UpdateState
from lsis.spreadsheets import SafeExportResource, check_csv, read_workbook

_COLUMN_ORDER = {column: position for position, column in enumerate(IMPORT_COLUMNS)}
#: What the service does with a row, as django-import-export's result names it.
_IMPORT_TYPES = {
    RowAction.NEW: RowResult.IMPORT_TYPE_NEW,
    RowAction.UPDATE: RowResult.IMPORT_TYPE_UPDATE,
    RowAction.SKIP: RowResult.IMPORT_TYPE_SKIP,
}


def _person(user: Any) -> str:
    if user is None:
        return "someone"
    return str(user.get_full_name() or user.get_username())


def _links(update: StatusUpdate) -> list[EvidenceLink]:
    return list(update.evidence_links.all())


# --- The formats an update file may be in ---------------------------------------------------------------


class UpdateFileCSV(base_formats.CSV):
    """CSV; refused at once if it breaks a limit, found by streaming through its records before it is parsed."""

    def create_dataset(self, in_stream: Any, **kwargs: Any) -> Any:
        """The file's records as a dataset, if the file is within the limits."""
        if isinstance(in_stream, bytes):
            in_stream = in_stream.decode(self.encoding or "utf-8-sig")
        check_csv(in_stream, import_limits())
        return super().create_dataset(in_stream, **kwargs)


class UpdateFileXLSX(base_formats.XLSX):
    """An Excel workbook; its zip archive is checked before openpyxl parses it, its rows while they are read."""

    def create_dataset(self, in_stream: Any) -> Any:
        """The first sheet as a dataset, if the workbook is within the limits."""
        return read_workbook(in_stream, import_limits())


#: The formats the import page offers, in the order of ``IMPORT_EXPORT_FORMATS`` (CSV, then Excel).
IMPORT_FORMATS = [UpdateFileCSV, UpdateFileXLSX]


# --- The resources the admin uses ----------------------------------------------------------------------


class CommitmentExportResource(SafeExportResource):
    """Commitments with their classification and current delivery state (export only)."""

    deal = fields.Field(attribute="deal__code", column_name="deal")
    foundation = fields.Field(attribute="foundation__name", column_name="foundation")
    area = fields.Field(attribute="area__name", column_name="area")
    actor = fields.Field(column_name="actor", dehydrate_method="dehydrate_actor")
    delivery_status = fields.Field(column_name="delivery_status", dehydrate_method="dehydrate_delivery_status")
    delivery_confidence = fields.Field(
        column_name="delivery_confidence", dehydrate_method="dehydrate_delivery_confidence"
    )

    class Meta:
        model = Commitment
        fields = (
            "reference",
            "deal",
            "foundation",
            "area",
            "actor",
            "text",
            "target_date_text",
            "target_date",
            "delivery_status",
            "delivery_confidence",
            "progress",
            "delivery_as_of",
            "published",
        )
        export_order = fields

    def get_queryset(self) -> QuerySet[Commitment]:
        """Join what every row shows, once."""
        return Commitment.objects.with_classification()

    def filter_export(self, queryset: QuerySet[Commitment], **kwargs: Any) -> QuerySet[Commitment]:
        """Whatever list the export starts from, join the deal, foundation and area once."""
        return queryset.select_related("deal", "foundation", "area")

    def dehydrate_actor(self, commitment: Commitment) -> str:
        """Government or Sector, as the deal prints it."""
        return str(Actor(commitment.actor).label)

    def dehydrate_delivery_status(self, commitment: Commitment) -> str:
        """The status as staff read it, e.g. In progress."""
        return str(DeliveryStatus(commitment.delivery_status).label)

    def dehydrate_delivery_confidence(self, commitment: Commitment) -> str:
        """The confidence rating as staff read it, e.g. Amber/Green; empty if none."""
        return str(DeliveryConfidence(commitment.delivery_confidence).label) if commitment.delivery_confidence else ""

    def import_data(self, *args: Any, **kwargs: Any) -> Result:
        """Commitments are edited on their pages, never imported."""
        raise PermissionDenied("Commitments cannot be imported from a spreadsheet.")


class StatusUpdateResource(SafeExportResource):
    """Status updates, keyed by commitment reference and as-of date; imported as the uploader's drafts."""

    commitment = fields.Field(column_name="commitment", dehydrate_method="dehydrate_commitment")
    as_of = fields.Field(column_name="as_of", dehydrate_method="dehydrate_as_of")
    status = fields.Field(column_name="status", dehydrate_method="dehydrate_status")
    confidence = fields.Field(column_name="confidence", dehydrate_method="dehydrate_confidence")
    progress = fields.Field(column_name="progress", dehydrate_method="dehydrate_progress")
    narrative = fields.Field(column_name="narrative", dehydrate_method="dehydrate_narrative")
    funding_spent = fields.Field(column_name="funding_spent", dehydrate_method="dehydrate_funding_spent")
    evidence_url = fields.Field(column_name="evidence_url", dehydrate_method="dehydrate_evidence_url")
    evidence_title = fields.Field(column_name="evidence_title", dehydrate_method="dehydrate_evidence_title")
    state = fields.Field(column_name="state", dehydrate_method="dehydrate_state", readonly=True)
    author = fields.Field(column_name="author", dehydrate_method="dehydrate_author", readonly=True)

    class Meta:
        model = StatusUpdate
        fields = (*IMPORT_COLUMNS, *EXPORT_ONLY_COLUMNS)
        export_order = fields
        import_order = IMPORT_COLUMNS

    # --- export ---------------------------------------------------------------------------------------------

    def filter_export(self, queryset: QuerySet[StatusUpdate], **kwargs: Any) -> QuerySet[StatusUpdate]:
        """Load each update's commitment, author and links with the update, not one query per row."""
        links = Prefetch("evidence_links", queryset=EvidenceLink.objects.order_by("pk"))
        return queryset.select_related("commitment", "author").prefetch_related(links)

    def dehydrate_commitment(self, update: StatusUpdate) -> str:
        """The commitment's reference, e.g. SD2-IDEAS-HARP-G1."""
        return str(update.commitment.reference)

    def dehydrate_as_of(self, update: StatusUpdate) -> date:
        """The date the update is true as of (a date cell in Excel, 2025-03-31 in CSV)."""
        return update.as_of

    def dehydrate_status(self, update: StatusUpdate) -> str:
        """The status as staff read it, e.g. In progress."""
        return str(DeliveryStatus(update.status).label)

    def dehydrate_confidence(self, update: StatusUpdate) -> str:
        """The confidence as staff read it, e.g. Amber/Green; empty if none."""
        return str(DeliveryConfidence(update.confidence).label) if update.confidence else ""

    def dehydrate_progress(self, update: StatusUpdate) -> int | None:
        """Per cent, where known."""
        return update.progress

    def dehydrate_narrative(self, update: StatusUpdate) -> str:
        """The update's narrative."""
        return update.narrative

    def dehydrate_funding_spent(self, update: StatusUpdate) -> Decimal | None:
        """Pounds spent, where reported."""
        return update.funding_spent

    def _first_link(self, update: StatusUpdate) -> EvidenceLink | None:
        links = _links(update)
        return links[0] if links else None

    def dehydrate_evidence_url(self, update: StatusUpdate) -> str:
        """The first evidence link's address (a spreadsheet row holds one link)."""
        link = self._first_link(update)
        return link.url if link else ""

    def dehydrate_evidence_title(self, update: StatusUpdate) -> str:
        """The first evidence link's title."""
        link = self._first_link(update)
        return link.title if link else ""

    def dehydrate_state(self, update: StatusUpdate) -> str:
        """Where the update is in review (for information; an import ignores it)."""
        return str(UpdateState(update.state).label)

    def dehydrate_author(self, update: StatusUpdate) -> str:
        """Who wrote the update; empty for evidence loaded from a document (an import ignores it)."""
        return _person(update.author) if update.author_id else ""

    # --- import ---------------------------------------------------------------------------------------------

    def get_user_visible_fields(self) -> list[Any]:
        """The columns an import reads (the import page lists them)."""
        return [self.fields[name] for name in IMPORT_COLUMNS]

    def import_data(
        self,
        dataset: Any,
        dry_run: bool = False,
        raise_errors: bool = False,
        use_transactions: bool | None = None,
        collect_failed_rows: bool = False,
        rollback_on_validation_errors: bool = False,
        **kwargs: Any,
    ) -> Result:
        """Import the file as the uploader's drafts, all or nothing; on a dry run, check it and write nothing.

        The admin passes ``user`` (the uploader, who becomes the author) and ``request`` (to tell them when
        a confirmed import was refused after all, e.g. because a colleague submitted one of the updates
        in between). It always runs in one transaction, whatever ``use_transactions`` says, and rolls it
        back if any row is refused: ``rollback_on_validation_errors`` is in effect always on.
        ``collect_failed_rows`` is not supported: the result lists every refused row anyway.
        """
        user = kwargs.get("user")
        request = kwargs.get("request")
        result = self.get_result_class()()
        result.diff_headers = list(IMPORT_COLUMNS)
        result.total_rows = len(dataset) if dataset is not None else 0
        outcome = updates_import(
            author=user, headers=getattr(dataset, "headers", None), rows=dataset or [], dry_run=dry_run
        )
        for message in outcome.problems:
            result.append_base_error(self.get_error_result_class()(ImportRefusedError(message)))
        _record(result, outcome.rows)
        failed = outcome.refused
        if failed and not dry_run:
            _forget_written(result)
            if request is not None:
                messages.error(request, "Nothing was imported. " + _summary(result))
        if failed and raise_errors:
            first = result.invalid_rows[0] if result.invalid_rows else None
            raise exceptions.ImportError(
                first.error if first else result.base_errors[0].error,
                number=first.number if first else None,
            )
        return result


def _record(result: Result, rows: list[ImportRow]) -> None:
    """Put each row's outcome where the admin's templates look for it."""
    for row in rows:
        row_result = RowResult()
        row_result.row_values = row.cells
        if row.errors:
            row_result.import_type = RowResult.IMPORT_TYPE_INVALID
            in_file_order = sorted(row.errors.items(), key=lambda item: _COLUMN_ORDER.get(item[0], len(_COLUMN_ORDER)))
            row_result.validation_error = ValidationError(dict(in_file_order))
            result.append_invalid_row(row.number, row.cells, row_result.validation_error)
        else:
            row_result.import_type = _IMPORT_TYPES[row.action]
            row_result.add_instance_info(row.instance)
            row_result.instance = row.instance
            row_result.diff = row.preview
        result.increment_row_result_total(row_result)
        result.append_row_result(row_result)


def _forget_written(result: Result) -> None:
    """After a refused commit nothing was written: say so, and leave nothing for the admin to log."""
    result.rows = [row for row in result.rows if row.import_type == RowResult.IMPORT_TYPE_INVALID]
    for import_type in (RowResult.IMPORT_TYPE_NEW, RowResult.IMPORT_TYPE_UPDATE, RowResult.IMPORT_TYPE_SKIP):
        result.totals[import_type] = 0


def listed_problem_rows(result: Result) -> tuple[list[Any], str]:
    """The refused rows a page or message lists (the first ``IMPORT_ERROR_ROWS_SHOWN``), and what it says of the rest.

    A file with thousands of bad rows would otherwise make a page (or a message) of megabytes.
    """
    shown = settings.IMPORT_ERROR_ROWS_SHOWN
    rows = result.invalid_rows
    rest = len(rows) - shown
    if rest <= 0:
        return list(rows), ""
    return list(rows[:shown]), f"and {rest:,} more row{'s' if rest != 1 else ''} with errors"


def _summary(result: Result) -> str:
    """The problems of a refused import as one plain paragraph (those of the first rows, then a count)."""
    parts = [str(error.error) for error in result.base_errors]
    rows, rest = listed_problem_rows(result)
    for invalid in rows:
        for column, problems in invalid.error_dict.items():
            where = f"Row {invalid.number}" + ("" if column == NON_FIELD_ERRORS else f", {column}")
            parts.extend(f"{where}: {problem}" for problem in problems)
    if rest:
        parts.append(rest[0].upper() + rest[1:] + ".")
    return " ".join(parts)
