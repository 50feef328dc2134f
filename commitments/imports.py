"""Importing status updates from a spreadsheet: the service an update file goes through.

``updates_import`` takes the uploader and the file's headings and rows (as openpyxl or the CSV reader gives
them) and writes them as **drafts by the uploader**, all or nothing: it checks the uploader's permission and
the headings, parses every cell (``commitments.spreadsheet_cells``), looks the commitments and the updates
that already exist up once, runs the model's own checks, and only then writes, through
``commitments.services.update_create_many`` (new drafts, in one batch) and ``update_edit`` (changes to the
uploader's own drafts). If anything is refused, the file as a whole or any row, nothing is written; on a dry
run nothing is written either. Problems are given by spreadsheet row (the headings are row 1) and column.

It knows nothing of django-import-export: ``commitments.resources`` adapts it to the admin's import pages.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import DatabaseError, transaction
from django.db.models import Prefetch
from django.utils import timezone

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    NARRATIVE_MAX_LENGTH,
    Commitment,
    EvidenceLink,
    StatusUpdate,
    UpdateState,
    same_day_refusal,
)
from commitments.services import (
    EDITOR_PERMISSION,
    DraftData,
    DraftsRefusedError,
    EvidenceLinkData,
    update_create_many,
    update_edit,
)
from commitments.spreadsheet_cells import (
    NUL_MESSAGE,
    CellError,
    cell_text,
    long_date,
    normalise_heading,
    parse_as_of,
    parse_confidence,
    parse_evidence,
    parse_money,
    parse_progress,
    parse_status,
    quoted,
)
from lsis.models import ConcurrentEditError
from lsis.spreadsheets import ImportLimits

# --- The columns ---------------------------------------------------------------------------------------

#: The columns an update file has, in order. ``REQUIRED_COLUMNS`` must be there; the others may be left out.
IMPORT_COLUMNS = (
    "commitment",
    "as_of",
    "status",
    "confidence",
    "progress",
    "narrative",
    "funding_spent",
    "evidence_url",
    "evidence_title",
)
REQUIRED_COLUMNS = ("commitment", "as_of", "status", "narrative")
#: Columns the export writes for information; an import ignores them (an import is always your draft).
EXPORT_ONLY_COLUMNS = ("state", "author")

_LOOKUP_CHUNK = 500
_MAX_SUGGESTIONS = 25


def _chunks(items: Sequence[Any], size: int = _LOOKUP_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- One import ----------------------------------------------------------------------------------------


class ImportRefusedError(Exception):
    """The file as a whole cannot be imported (wrong columns, no rows, no permission); one message per problem."""

    def __init__(self, *problems: str) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


class RowAction(StrEnum):
    """What an import does with a row it accepts (the values are django-import-export's import types)."""

    NEW = "new"
    UPDATE = "update"
    SKIP = "skip"


@dataclass
class ImportRow:
    """One row of an update file: what it says, what is wrong with it, and what the import does with it."""

    number: int
    cells: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    commitment: Commitment | None = None
    as_of: date | None = None
    status: str = ""
    confidence: str = ""
    progress: int | None = None
    narrative: str = ""
    funding_spent: Decimal | None = None
    evidence: EvidenceLinkData | None = None
    unknown_reference: str = ""
    draft: StatusUpdate | None = None
    action: RowAction = RowAction.NEW
    instance: StatusUpdate | None = None
    preview: list[str] = field(default_factory=list)

    def refuse(self, column: str, message: str) -> None:
        """Record a problem with one column of this row."""
        self.errors.setdefault(column, []).append(message)

    @property
    def key(self) -> tuple[int, date] | None:
        """The (commitment, as-of date) pair that identifies an update."""
        if self.commitment is None or self.as_of is None:
            return None
        return (self.commitment.pk, self.as_of)

    def changes(self) -> dict[str, Any]:
        """The values the row gives an update (besides its commitment and date)."""
        return {
            "status": self.status,
            "confidence": self.confidence,
            "progress": self.progress,
            "narrative": self.narrative,
            "funding_spent": self.funding_spent,
        }


def _refuse_nul_characters(row: ImportRow) -> None:
    """Refuse each cell holding a NUL character, and read the row without them.

    PostgreSQL cannot store (or even look up) text holding NUL, so the row is refused here, at the preview,
    and nothing with a NUL reaches a query.
    """
    for column, value in row.cells.items():
        if isinstance(value, str) and "\x00" in value:
            row.refuse(column, NUL_MESSAGE)
            row.cells[column] = value.replace("\x00", "")


class UpdateImport:
    """Read an update file and write it as the uploader's drafts, or say what is wrong with it."""

    def __init__(self, *, user: Any, today: date | None = None) -> None:
        self.user = user
        self.today = today or timezone.localdate()

    # --- the file as a whole ---------------------------------------------------------------------------

    def read_rows(self, headers: Sequence[Any] | None, data: Iterable[Sequence[Any]]) -> list[ImportRow]:
        """Check the headings and turn the data rows into ``ImportRow``; raise ``ImportRefusedError`` if unusable."""
        if not headers or all(not cell_text(heading) for heading in headers):
            raise ImportRefusedError(
                "The file has no column headings. Its first row must hold the headings: "
                + ", ".join(IMPORT_COLUMNS)
                + "."
            )
        columns = [normalise_heading(heading) for heading in headers]
        problems: list[str] = []
        seen: set[str] = set()
        for column in columns:
            if column and column in seen:
                problems.append(f"The column {column} appears more than once; keep one.")
            seen.add(column)
        missing = [column for column in REQUIRED_COLUMNS if column not in seen]
        known = set(IMPORT_COLUMNS) | set(EXPORT_ONLY_COLUMNS)
        unknown = [cell_text(headers[i]) for i, column in enumerate(columns) if column and column not in known]
        if missing:
            problems.append(
                "The file is missing the column"
                + ("s " if len(missing) > 1 else " ")
                + ", ".join(missing)
                + ". The first row must hold the headings "
                + ", ".join(IMPORT_COLUMNS)
                + " (confidence, progress, funding_spent, evidence_url and evidence_title may be left out)."
            )
        if unknown:
            problems.append(
                ("The file has columns" if len(unknown) > 1 else "The file has a column")
                + " the import does not know: "
                + ", ".join(quoted(name) for name in unknown)
                + ". Rename or remove "
                + ("them" if len(unknown) > 1 else "it")
                + "; the columns are "
                + ", ".join(IMPORT_COLUMNS)
                + "."
            )
        rows: list[ImportRow] = []
        unnamed_with_data: set[int] = set()
        for number, values in enumerate(data, start=2):
            cells: dict[str, Any] = dict.fromkeys(IMPORT_COLUMNS, "")
            blank = True
            for index, value in enumerate(values):
                if cell_text(value):
                    blank = False
                    if index >= len(columns) or not columns[index]:
                        unnamed_with_data.add(index + 1)
                if index < len(columns) and columns[index] in IMPORT_COLUMNS:
                    cells[columns[index]] = value
            if not blank:
                rows.append(ImportRow(number=number, cells=cells))
        problems.extend(
            f"Column {position} has values but no heading; give it one of the headings or remove it."
            for position in sorted(unnamed_with_data)
        )
        if problems:
            raise ImportRefusedError(*problems)
        if not rows:
            raise ImportRefusedError("The file has column headings but no updates under them.")
        return rows

    # --- each row, without writing ----------------------------------------------------------------------

    def check(self, rows: list[ImportRow]) -> None:
        """Parse every cell, look the commitments and existing updates up once, and decide each row's fate."""
        for row in rows:
            _refuse_nul_characters(row)
        commitments = self._commitments({cell_text(row.cells["commitment"]).upper() for row in rows})
        for row in rows:
            self._parse(row, commitments)
        unknown = [row for row in rows if row.unknown_reference]
        hints = self._suggestions([row.unknown_reference for row in unknown])
        for row in unknown:
            row.refuse(
                "commitment",
                f"There is no commitment with the reference {quoted(row.unknown_reference)}."
                + hints.get(row.unknown_reference, ""),
            )
        first_row_for: dict[tuple[int, date], int] = {}
        for row in rows:
            key = row.key
            if key is None:
                continue
            if key in first_row_for:
                row.refuse(
                    "as_of",
                    f"This row repeats row {first_row_for[key]}: both are updates to {row.commitment} as of "
                    f"{long_date(key[1])}. Keep one of them.",
                )
            else:
                first_row_for[key] = row.number
        existing = self._existing_updates(list(first_row_for))
        for row in rows:
            if row.key is not None and "as_of" not in row.errors:
                self._match(row, existing.get(row.key, []))
            if not row.errors and row.action != RowAction.SKIP:
                self._validate_as_the_model_does(row)
            if not row.errors:
                row.preview = _preview(row)

    def _validate_as_the_model_does(self, row: ImportRow) -> None:
        """The model's own field and record checks on the values the row would write, without a query.

        The workflow services run the same checks (``full_clean``) when the row is written; running them
        here too means the dry run finds every problem the commit would, without writing anything.
        """
        if row.commitment is None or row.as_of is None:
            return
        candidate = StatusUpdate(
            commitment=row.commitment, author=self.user, as_of=row.as_of, state=UpdateState.DRAFT, **row.changes()
        )
        candidate.same_day_checked = True  # type: ignore[attr-defined]  # by ``_match``, against every row
        try:
            candidate.clean_fields(exclude=_CHECKED_ELSEWHERE)
            candidate.clean()
        except ValidationError as refusal:
            for name, problems in _message_dict(refusal).items():
                for problem in problems:
                    row.refuse(_MODEL_FIELD_COLUMNS.get(name, name), problem)
        if row.evidence is not None:
            try:
                EvidenceLink(url=row.evidence.url, title=row.evidence.title).clean_fields(exclude=_CHECKED_ELSEWHERE)
            except ValidationError as refusal:
                for name, problems in _message_dict(refusal).items():
                    for problem in problems:
                        row.refuse(_MODEL_FIELD_COLUMNS.get(name, name), problem)

    def _commitments(self, references: set[str]) -> dict[str, Commitment]:
        """The named commitments by reference, each knowing whether it carries money, in a few queries.

        Its money is prefetched through the relation's name, as the model's own check reads it
        (``commitment.funding``): the money belongs to the programmes app, above this one.
        """
        found: dict[str, Commitment] = {}
        wanted = sorted(reference for reference in references if reference)
        for chunk in _chunks(wanted):
            queryset = (
                Commitment.objects.filter(reference__in=chunk)
                .only("pk", "reference")
                .order_by()
                .prefetch_related("funding")
            )
            found.update((commitment.reference, commitment) for commitment in queryset)
        return found

    def _parse(self, row: ImportRow, commitments: dict[str, Commitment]) -> None:
        cells = row.cells
        reference = cell_text(cells["commitment"]).upper()
        if not reference:
            row.refuse("commitment", "The commitment reference is missing.")
        else:
            row.commitment = commitments.get(reference)
            if row.commitment is None:
                row.unknown_reference = reference
        parsers: list[tuple[str, Any]] = [
            ("as_of", lambda: parse_as_of(cells["as_of"], today=self.today)),
            ("status", lambda: parse_status(cells["status"])),
            ("confidence", lambda: parse_confidence(cells["confidence"])),
            ("progress", lambda: parse_progress(cells["progress"])),
            ("funding_spent", lambda: parse_money(cells["funding_spent"])),
        ]
        for column, parse in parsers:
            try:
                setattr(row, column, parse())
            except CellError as problem:
                row.refuse(column, str(problem))
        try:
            row.evidence = parse_evidence(cells["evidence_url"], cells["evidence_title"])
        except CellError as problem:
            row.refuse(problem.column, str(problem))
        row.narrative = cell_text(cells["narrative"])
        if not row.narrative:
            row.refuse("narrative", "The narrative is missing: say in a sentence or two where delivery stands.")
        if row.funding_spent is not None and row.commitment is not None and not row.commitment.funding.all():
            row.refuse(
                "funding_spent",
                f"{row.commitment} carries no money, so there is no spending to report: "
                "leave funding_spent empty for this commitment.",
            )

    def _suggestions(self, unknown: list[str]) -> dict[str, str]:
        """For the first few unknown references, the closest real one, if any is close."""
        if not unknown:
            return {}
        distinct = list(dict.fromkeys(unknown))[:_MAX_SUGGESTIONS]
        every = list(Commitment.objects.order_by().values_list("reference", flat=True))
        hints: dict[str, str] = {}
        for reference in distinct:
            close = difflib.get_close_matches(reference, every, n=1, cutoff=0.8)
            if close:
                hints[reference] = f" Did you mean {close[0]}?"
        return hints

    def _existing_updates(self, keys: list[tuple[int, date]]) -> dict[tuple[int, date], list[StatusUpdate]]:
        """Updates already recorded for the rows' (commitment, as-of) pairs, in a few queries."""
        found: dict[tuple[int, date], list[StatusUpdate]] = {}
        if not keys:
            return found
        commitment_ids = sorted({commitment_id for commitment_id, _ in keys})
        earliest = min(as_of for _, as_of in keys)
        latest = max(as_of for _, as_of in keys)
        wanted = set(keys)
        links = Prefetch("evidence_links", queryset=EvidenceLink.objects.order_by("pk"))
        for chunk in _chunks(commitment_ids):
            queryset = (
                StatusUpdate.objects.filter(commitment_id__in=chunk, as_of__range=(earliest, latest))
                .select_related("author")
                .prefetch_related(links)
                .order_by("pk")
            )
            for update in queryset:
                key = (update.commitment_id, update.as_of)
                if key in wanted:
                    found.setdefault(key, []).append(update)
        return found

    def _match(self, row: ImportRow, updates: list[StatusUpdate]) -> None:
        """New draft, change to the uploader's own draft, nothing to do, or refused."""
        if row.commitment is None or row.as_of is None:
            return
        own = [u for u in updates if u.author_id == self.user.pk and u.is_editable]
        if own:
            draft = own[-1]
            draft.commitment = row.commitment
            row.draft = draft
            row.action = RowAction.UPDATE if self._differs(row, draft) else RowAction.SKIP
            row.instance = draft
        else:
            # One statement per commitment and day: the rule the admin and the API hold to as well.
            refusal = same_day_refusal(
                StatusUpdate(commitment=row.commitment, as_of=row.as_of, author=self.user), updates
            )
            if refusal:
                row.refuse("as_of", refusal)

    @staticmethod
    def _differs(row: ImportRow, draft: StatusUpdate) -> bool:
        if any(getattr(draft, name) != value for name, value in row.changes().items()):
            return True
        if row.evidence is None:
            return False
        return (row.evidence.url, row.evidence.title) not in {(link.url, link.title) for link in _links(draft)}

    # --- writing ------------------------------------------------------------------------------------------

    def write(self, rows: list[ImportRow]) -> None:
        """Write the good rows through the workflow services; record what they refuse on the row.

        New drafts go through ``update_create_many`` in one batch; changes to the uploader's own drafts
        through ``update_edit``, one by one.
        """
        writable = [row for row in rows if not row.errors and row.action != RowAction.SKIP]
        new = [row for row in writable if row.draft is None and row.commitment is not None and row.as_of is not None]
        self._create(new)
        for row in writable:
            if row.draft is not None:
                self._guarded(
                    row,
                    lambda row=row: update_edit(
                        update=row.draft,
                        user=self.user,
                        evidence_links=_merged_links(row.draft, row.evidence),
                        **row.changes(),
                    ),
                )

    def _create(self, rows: list[ImportRow]) -> None:
        drafts = [
            DraftData(
                commitment=row.commitment,
                as_of=row.as_of,
                evidence_links=(row.evidence,) if row.evidence else (),
                **row.changes(),
            )
            for row in rows
            if row.commitment is not None and row.as_of is not None
        ]
        try:
            created = update_create_many(author=self.user, drafts=drafts)
        except DraftsRefusedError as refused:
            for index, error in refused.errors.items():
                self._refuse_validation(rows[index], error)
        except PermissionDenied as refusal:
            for row in rows:
                row.refuse(NON_FIELD_ERRORS, str(refusal))
        else:
            for row, instance in zip(rows, created, strict=True):
                row.instance = instance

    def _guarded(self, row: ImportRow, write: Any) -> None:
        try:
            row.instance = write()
        except ConcurrentEditError:
            row.refuse(
                NON_FIELD_ERRORS,
                "Your draft was changed by someone else while the file was being imported. Upload it again.",
            )
        except ValidationError as refusal:
            self._refuse_validation(row, refusal)
        except PermissionDenied as refusal:
            row.refuse(NON_FIELD_ERRORS, str(refusal))
        except DatabaseError as failure:
            row.refuse(NON_FIELD_ERRORS, f"The database refused this row: {failure}")

    @staticmethod
    def _refuse_validation(row: ImportRow, refusal: ValidationError) -> None:
        for name, problems in _message_dict(refusal).items():
            for problem in problems:
                row.refuse(_MODEL_FIELD_COLUMNS.get(name, name), problem)


_MODEL_FIELD_COLUMNS = {"url": "evidence_url", "title": "evidence_title", "update": NON_FIELD_ERRORS}
# Links the import has already resolved (and the services check again): no query per row for them here.
_CHECKED_ELSEWHERE = ["commitment", "author", "update", "created_by", "modified_by"]


def _message_dict(error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return error.message_dict
    return {NON_FIELD_ERRORS: error.messages}


def _links(update: StatusUpdate) -> list[EvidenceLink]:
    return list(update.evidence_links.all())


def _merged_links(draft: StatusUpdate, evidence: EvidenceLinkData | None) -> list[EvidenceLinkData] | None:
    """The draft's links with the row's link added (or its title changed): an import never removes a link."""
    if evidence is None:
        return None
    kept = [EvidenceLinkData(url=link.url, title=link.title) for link in _links(draft) if link.url != evidence.url]
    return [*kept, evidence]


def import_limits() -> ImportLimits:
    """The limits an update file is held to: the settings', and no cell longer than a narrative may be."""
    return ImportLimits.from_settings(max_cell_chars=NARRATIVE_MAX_LENGTH)


@dataclass(frozen=True)
class ImportOutcome:
    """What an import found: the problems with the file as a whole, and each row with its own problems."""

    rows: list[ImportRow]
    problems: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        """True if anything was refused, so nothing was written."""
        return bool(self.problems) or any(row.errors for row in self.rows)


@transaction.atomic
def updates_import(
    *,
    author: Any,
    headers: Sequence[Any] | None,
    rows: Iterable[Sequence[Any]],
    dry_run: bool,
    today: date | None = None,
) -> ImportOutcome:
    """Import an update file as ``author``'s drafts, all or nothing; on a dry run, check it and write nothing.

    Refused, with a problem for the file as a whole, if ``author`` may not edit updates, or the headings
    are unusable. Otherwise every row is checked before any is written; if any row is refused (by the
    checks, or by the services while writing), everything written is rolled back.
    """
    read: list[ImportRow] = []
    problems: tuple[str, ...] = ()
    try:
        if not (author is not None and author.is_authenticated and author.has_perm(EDITOR_PERMISSION)):
            raise ImportRefusedError("You do not have permission to import status updates.")
        run = UpdateImport(user=author, today=today)
        read = run.read_rows(headers, rows)
        run.check(read)
        if not dry_run and not any(row.errors for row in read):
            run.write(read)
    except ImportRefusedError as refusal:
        problems = refusal.problems
    outcome = ImportOutcome(rows=read, problems=problems)
    if dry_run or outcome.refused:
        transaction.set_rollback(True)
    return outcome


def _preview(row: ImportRow) -> list[str]:
    """The row as the preview shows it; for a changed draft, what changes."""
    shown = {
        "commitment": str(row.commitment or ""),
        "as_of": row.as_of.isoformat() if row.as_of else "",
        "status": str(DeliveryStatus(row.status).label) if row.status else "",
        "confidence": str(DeliveryConfidence(row.confidence).label) if row.confidence else "",
        "progress": "" if row.progress is None else str(row.progress),
        "narrative": row.narrative if len(row.narrative) <= 200 else row.narrative[:199] + "…",
        "funding_spent": "" if row.funding_spent is None else f"{row.funding_spent:f}",
        "evidence_url": row.evidence.url if row.evidence else "",
        "evidence_title": row.evidence.title if row.evidence else "",
    }
    if row.action == RowAction.UPDATE and row.draft is not None:
        before = {
            "status": str(DeliveryStatus(row.draft.status).label),
            "confidence": str(DeliveryConfidence(row.draft.confidence).label) if row.draft.confidence else "",
            "progress": "" if row.draft.progress is None else str(row.draft.progress),
            "funding_spent": "" if row.draft.funding_spent is None else f"{row.draft.funding_spent:f}",
        }
        for column, old in before.items():
            if old != shown[column]:
                shown[column] = f"{old or '(empty)'} → {shown[column] or '(empty)'}"
        if row.draft.narrative != row.narrative:
            shown["narrative"] = "(changed) " + shown["narrative"]
    return [shown[column] for column in IMPORT_COLUMNS]
