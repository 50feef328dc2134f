"""Spreadsheet round-trip (django-import-export): export commitments and updates, import updates as drafts.

Staff download commitments (with their current delivery state) and status updates as CSV or Excel,
and upload status updates from CSV or Excel. An upload is always a set of **drafts written by the
person uploading**: it never submits or approves anything, and every row goes through
``commitments.services.update_create_many`` (or ``update_edit`` for the uploader's own draft), so it is
validated and audited exactly like an update written on its page.

The admin shows a dry run first (import-export's confirm step): it runs every check the import makes
before writing (each cell, the commitments and updates that already exist, the model's own validation)
and writes nothing. Confirming runs the checks again, then writes each row through the services, in
one transaction: if any row has a problem, nothing is written. Problems are listed by spreadsheet row
(the headings are row 1) and column in plain words. ``docs/spreadsheets.md`` is the staff guide.

Every exported cell goes through ``lsis.spreadsheets.safe_cell`` (``SafeExportResource``): text that a
spreadsheet program would run as a formula is written behind a single quote.

An upload is held to ``import_limits()`` (the ``IMPORT_MAX_*`` settings; no cell longer than a narrative may
be) before any row is checked: its size on the import form, then, in ``IMPORT_FORMATS``, a workbook's zip
archive before openpyxl parses it, and the rows, columns and cells while streaming through them.

For speed, the commitments a file names are read once per import (with whether each carries money),
as are the updates that already exist for them; the only per-row queries left are those the workflow
services make when they write.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.validators import URLValidator
from django.db import DatabaseError, transaction
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from import_export import exceptions, fields
from import_export.formats import base_formats
from import_export.results import Result, RowResult

from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    NARRATIVE_MAX_LENGTH,
    Actor,
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
from lsis.models import ConcurrentEditError
from lsis.spreadsheets import ImportLimits, SafeExportResource, check_csv, read_workbook
from programmes.models import FundingAmount

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

_COLUMN_ORDER = {column: position for position, column in enumerate(IMPORT_COLUMNS)}
STATUS_CHOICES = ", ".join(str(label) for label in DeliveryStatus.labels)
CONFIDENCE_CHOICES = ", ".join(str(label) for label in DeliveryConfidence.labels)
_LOOKUP_CHUNK = 500
_URL_MAX = EvidenceLink._meta.get_field("url").max_length or 500
_TITLE_MAX = EvidenceLink._meta.get_field("title").max_length or 300
_MAX_SUGGESTIONS = 25


def _scale(choices: Any) -> dict[str, str]:
    """Stored value and label, each lower-cased, to the stored value."""
    mapping: dict[str, str] = {}
    for value, label in choices.choices:
        mapping[str(value).lower()] = str(value)
        mapping[str(label).lower()] = str(value)
    return mapping


_STATUS_SCALE = _scale(DeliveryStatus)
_CONFIDENCE_SCALE = _scale(DeliveryConfidence)


def normalise_heading(heading: Any) -> str:
    """``"As of"``, ``" as-of "`` and ``"AS_OF"`` are all the column ``as_of``."""
    if heading is None:
        return ""
    return re.sub(r"[\s\-]+", "_", str(heading).strip()).lower()


def _long_date(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


def _person(user: Any) -> str:
    if user is None:
        return "someone"
    return str(user.get_full_name() or user.get_username())


def _chunks(items: Sequence[Any], size: int = _LOOKUP_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- Reading one cell ----------------------------------------------------------------------------------


class CellError(ValueError):
    """A cell's value cannot be used; the message says why in plain words, and ``column`` which cell."""

    def __init__(self, message: str, column: str = "") -> None:
        super().__init__(message)
        self.column = column


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


_QUOTED_MAX = 60


def _quoted(text: str) -> str:
    """A cell's text in quotation marks for a message, cut short: a message never repeats a whole long cell."""
    return f"“{text}”" if len(text) <= _QUOTED_MAX else f"“{text[: _QUOTED_MAX - 1]}…”"


NUL_MESSAGE = (
    "This cell contains a NUL character (an invisible control character, often left by copying from another "
    "system), which cannot be stored. Retype the text, or paste it as plain text."
)


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y")


def parse_as_of(value: Any, *, today: date) -> date:
    """A past or present date, from an Excel date cell or text such as 31/03/2025 or 2025-03-31."""
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    else:
        text = _text(value)
        if not text:
            raise CellError("The as-of date is missing.")
        candidate = re.sub(r"[T ]00:00(:00)?$", "", text)
        for pattern in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(candidate, pattern).date()
                break
            except ValueError:
                continue
        else:
            raise CellError(f"{_quoted(text)} is not a date we can read. Write dates as 31/03/2025 or 2025-03-31.")
    if parsed > today:
        raise CellError(
            f"{_long_date(parsed)} is in the future. An update can only be true as of today or an earlier date."
        )
    return parsed


def parse_status(value: Any) -> str:
    """A status on the scale, by stored value (in_progress) or label (In progress), in any case."""
    text = _text(value)
    if not text:
        raise CellError(f"The status is missing. Use one of: {STATUS_CHOICES}.")
    try:
        return _STATUS_SCALE[text.lower()]
    except KeyError:
        raise CellError(f"{_quoted(text)} is not on the status scale. Use one of: {STATUS_CHOICES}.") from None


def parse_confidence(value: Any) -> str:
    """A confidence rating on the IPA scale, by value or label in any case; empty if not given."""
    text = _text(value)
    if not text:
        return ""
    try:
        return _CONFIDENCE_SCALE[text.lower()]
    except KeyError:
        raise CellError(
            f"{_quoted(text)} is not on the confidence scale. Use one of: {CONFIDENCE_CHOICES}, or leave it empty."
        ) from None


def parse_progress(value: Any) -> int | None:
    """A whole percentage from 0 to 100 (a trailing % is allowed); ``None`` if not given."""
    if isinstance(value, bool):
        raise CellError(f"“{value}” is not a number: progress is a whole number from 0 to 100, or empty.")
    text = _text(value)
    if not text:
        return None
    try:
        number = Decimal(text.removesuffix("%").strip())
    except InvalidOperation:
        raise CellError(
            f"{_quoted(text)} is not a number: progress is a whole number from 0 to 100, or empty."
        ) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise CellError(f"{_quoted(text)} is not a whole number: progress is a whole number from 0 to 100.")
    if not 0 <= number <= 100:
        # A number written with a huge exponent is quoted as written, never spelt out digit by digit.
        shown = f"{number:f}" if number.adjusted() < 6 else _quoted(text)
        raise CellError(f"{shown} is not a percentage: progress must be a whole number from 0 to 100.")
    return int(number)


def parse_money(value: Any) -> Decimal | None:
    """Pounds spent, e.g. 1250000, 1,250,000.50 or £1.25m written out; ``None`` if not given."""
    if isinstance(value, bool):
        raise CellError(f"“{value}” is not an amount of money.")
    if isinstance(value, float) and abs(value - round(value, 2)) < 1e-6:
        value = round(value, 2)  # an Excel number cell: 1234.56 may be stored as 1234.5600000000001
    text = repr(value) if isinstance(value, float) else _text(value)
    if not text:
        return None
    cleaned = re.sub(r"[£,\s]", "", text)
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise CellError(
            f"{_quoted(text)} is not an amount of money. Write pounds as a number, e.g. 1250000 or £1,250,000.50."
        ) from None
    if not amount.is_finite():
        raise CellError(f"{_quoted(text)} is not an amount of money.")
    if amount < 0:
        raise CellError("Money spent cannot be negative.")
    # Before rounding: pence cannot be counted on a number with more digits than a Decimal holds (1e30).
    if amount >= Decimal(10) ** 14:
        raise CellError(f"{_quoted(text)} is too large to be an amount spent.")
    if amount != amount.quantize(Decimal("0.01")):
        raise CellError(f"{_quoted(text)} has more than two decimal places: give pounds and pence at most.")
    return amount.quantize(Decimal("0.01"))


_url_validator = URLValidator(schemes=["http", "https"])


def parse_evidence(url_value: Any, title_value: Any) -> EvidenceLinkData | None:
    """A link to evidence with its title (the link itself if no title is given); ``None`` if no link."""
    url = _text(url_value)
    title = _text(title_value)
    if not url:
        if title:
            raise CellError(
                "There is an evidence title but no evidence_url: give the link too, or clear the title.",
                "evidence_title",
            )
        return None
    if len(url) > _URL_MAX:
        raise CellError(f"The evidence link is longer than {_URL_MAX} characters.", "evidence_url")
    try:
        _url_validator(url)
    except ValidationError:
        raise CellError(
            f"{_quoted(url)} is not a web address. Give the full link, starting https://.", "evidence_url"
        ) from None
    if len(title) > _TITLE_MAX:
        raise CellError(f"The evidence title is longer than {_TITLE_MAX} characters.", "evidence_title")
    return EvidenceLinkData(url=url, title=title or url[:_TITLE_MAX])


# --- One import ----------------------------------------------------------------------------------------


class ImportRefusedError(Exception):
    """The file as a whole cannot be imported (wrong columns, no rows, no permission); one message per problem."""

    def __init__(self, *problems: str) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


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
    import_type: str = RowResult.IMPORT_TYPE_NEW
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
        if not headers or all(not _text(heading) for heading in headers):
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
        unknown = [_text(headers[i]) for i, column in enumerate(columns) if column and column not in known]
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
                + ", ".join(_quoted(name) for name in unknown)
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
                if _text(value):
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
        commitments = self._commitments({_text(row.cells["commitment"]).upper() for row in rows})
        for row in rows:
            self._parse(row, commitments)
        unknown = [row for row in rows if row.unknown_reference]
        hints = self._suggestions([row.unknown_reference for row in unknown])
        for row in unknown:
            row.refuse(
                "commitment",
                f"There is no commitment with the reference {_quoted(row.unknown_reference)}."
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
                    f"{_long_date(key[1])}. Keep one of them.",
                )
            else:
                first_row_for[key] = row.number
        existing = self._existing_updates(list(first_row_for))
        for row in rows:
            if row.key is not None and "as_of" not in row.errors:
                self._match(row, existing.get(row.key, []))
            if not row.errors and row.import_type != RowResult.IMPORT_TYPE_SKIP:
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
        """The named commitments by reference, each knowing whether it carries money, in a few queries."""
        found: dict[str, Commitment] = {}
        wanted = sorted(reference for reference in references if reference)
        funding = Prefetch("funding", queryset=FundingAmount.objects.only("pk", "commitment_id").order_by())
        for chunk in _chunks(wanted):
            queryset = (
                Commitment.objects.filter(reference__in=chunk)
                .only("pk", "reference")
                .order_by()
                .prefetch_related(funding)
            )
            found.update((commitment.reference, commitment) for commitment in queryset)
        return found

    def _parse(self, row: ImportRow, commitments: dict[str, Commitment]) -> None:
        cells = row.cells
        reference = _text(cells["commitment"]).upper()
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
        row.narrative = _text(cells["narrative"])
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
            row.import_type = RowResult.IMPORT_TYPE_UPDATE if self._differs(row, draft) else RowResult.IMPORT_TYPE_SKIP
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
        writable = [row for row in rows if not row.errors and row.import_type != RowResult.IMPORT_TYPE_SKIP]
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


# --- The formats an update file may be in ---------------------------------------------------------------


def import_limits() -> ImportLimits:
    """The limits an update file is held to: the settings', and no cell longer than a narrative may be."""
    return ImportLimits.from_settings(max_cell_chars=NARRATIVE_MAX_LENGTH)


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
        using = self.get_db_connection_name()
        rows: list[ImportRow] = []
        with transaction.atomic(using=using):
            try:
                if not (user is not None and user.is_authenticated and user.has_perm(EDITOR_PERMISSION)):
                    raise ImportRefusedError("You do not have permission to import status updates.")
                run = UpdateImport(user=user)
                rows = run.read_rows(getattr(dataset, "headers", None), dataset or [])
                run.check(rows)
                if not dry_run and not any(row.errors for row in rows):
                    run.write(rows)
            except ImportRefusedError as problem:
                for message in problem.problems:
                    result.append_base_error(self.get_error_result_class()(ImportRefusedError(message)))
            _record(result, rows)
            failed = result.has_errors() or result.has_validation_errors()
            if dry_run or failed:
                transaction.set_rollback(True, using=using)
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
            row_result.import_type = row.import_type
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
    if row.import_type == RowResult.IMPORT_TYPE_UPDATE and row.draft is not None:
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
