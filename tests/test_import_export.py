"""The spreadsheet round-trip through the admin: export to CSV and Excel, import updates as the uploader's drafts.

Every import here goes through the admin with the test client: upload (the dry-run preview), then
confirm. Files are built in memory as CSV or as a real Excel workbook (openpyxl).
"""

from __future__ import annotations

import csv
import io
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from commitments import roles
from commitments.imports import IMPORT_COLUMNS
from commitments.models import Commitment, StatusUpdate, UpdateState
from commitments.services import update_approve, update_return, update_submit
from commitments.spreadsheet_cells import (
    CellError,
    parse_as_of,
    parse_confidence,
    parse_money,
    parse_progress,
    parse_status,
)

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:commitments_statusupdate_import")
PROCESS_URL = reverse("admin:commitments_statusupdate_process_import")
UPDATES_EXPORT_URL = reverse("admin:commitments_statusupdate_export")
COMMITMENTS_EXPORT_URL = reverse("admin:commitments_commitment_export")
AS_OF = date(2025, 3, 31)
FUNDED = "SD2-IDEAS-HARP-G1"  # carries "up to £79m"


@pytest.fixture(autouse=True)
def _uploads_wait_in_a_temporary_folder_of_the_test(tmp_path, monkeypatch):
    """Between preview and confirmation the admin keeps the upload in the temp folder: use the test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


# --- building files --------------------------------------------------------------------------------------


def _unfunded_reference() -> str:
    return Commitment.objects.filter(funding__isnull=True).order_by("reference").values_list("reference", flat=True)[0]


def _row(**cells: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "commitment": FUNDED,
        "as_of": "31/03/2025",
        "status": "In progress",
        "confidence": "Amber/Green",
        "progress": "40",
        "narrative": "Programme board met; first awards made.",
        "funding_spent": "",
        "evidence_url": "",
        "evidence_title": "",
    }
    row.update(cells)
    return row


def _csv(rows: list[dict[str, Any]], headers: tuple[str, ...] = IMPORT_COLUMNS, name: str = "updates.csv") -> Any:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([row.get(column, "") for column in headers])
    return SimpleUploadedFile(name, buffer.getvalue().encode("utf-8"), content_type="text/csv")


def _xlsx(rows: list[dict[str, Any]], headers: tuple[str, ...] = IMPORT_COLUMNS, name: str = "updates.xlsx") -> Any:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(list(headers))
    for row in rows:
        sheet.append([row.get(column) for column in headers])
    buffer = io.BytesIO()
    book.save(buffer)
    return SimpleUploadedFile(
        name, buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )


def _format_index(form: Any, title: str) -> str:
    return next(value for value, label in form.fields["format"].choices if str(label) == title)


def _upload(client: Any, upload: Any, title: str | None = None) -> Any:
    """The first step: upload the file and get the dry-run preview (or the problems)."""
    title = title or ("xlsx" if upload.name.endswith(".xlsx") else "csv")
    form = client.get(IMPORT_URL).context["form"]
    response = client.post(IMPORT_URL, {"format": _format_index(form, title), "import_file": upload})
    assert response.status_code == 200
    return response


def _confirm(client: Any, preview: Any) -> Any:
    """The second step: confirm the previewed import."""
    confirm_form = preview.context["confirm_form"]
    response = client.post(PROCESS_URL, dict(confirm_form.initial), follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:commitments_statusupdate_changelist")
    return response


def _import(client: Any, upload: Any) -> Any:
    preview = _upload(client, upload)
    assert preview.context.get("confirm_form") is not None, _problems(preview)
    return _confirm(client, preview)


def _problems(response: Any) -> dict[int, dict[str, list[str]]]:
    """The refused rows of an upload: spreadsheet row number -> column -> messages."""
    result = response.context["result"]
    return {row.number: row.error_dict for row in result.invalid_rows}


def _file_problems(response: Any) -> str:
    result = response.context.get("result")
    base = " ".join(str(error.error) for error in result.base_errors) if result is not None else ""
    form = response.context["form"]
    return base + " ".join(str(error) for error in form.errors.get("import_file", []))


def _drafts_by(user: Any) -> Any:
    return StatusUpdate.objects.filter(author=user).order_by("commitment__reference", "as_of")


def _export(client: Any, url: str, title: str) -> Any:
    """Post the admin's export form with every column ticked, in the format named."""
    form = client.get(url).context["form"]
    data = {name: "on" for name, field in form.fields.items() if getattr(field, "is_selectable_field", False)}
    data.update({"format": _format_index(form, title), "resource": "0"})
    response = client.post(url, data)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    return response


# --- export ----------------------------------------------------------------------------------------------


def test_only_csv_and_xlsx_are_offered(client_for):
    client = client_for(roles.EDITOR)
    for url in (IMPORT_URL, UPDATES_EXPORT_URL, COMMITMENTS_EXPORT_URL):
        choices = [str(label) for value, label in client.get(url).context["form"].fields["format"].choices if value]
        assert choices == ["csv", "xlsx"], url


def test_commitments_export_csv_has_each_commitments_delivery_state(client_for):
    commitment = Commitment.objects.get(reference=FUNDED)
    response = _export(client_for(roles.BOARD_MEMBER), COMMITMENTS_EXPORT_URL, "csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == Commitment.objects.count()
    row = next(row for row in rows if row["reference"] == FUNDED)
    assert row["deal"] == "SD2"
    assert row["foundation"] == commitment.foundation.name
    assert commitment.area is not None
    assert row["area"] == commitment.area.name
    assert row["actor"] == commitment.get_actor_display()
    assert row["delivery_status"] == commitment.get_delivery_status_display()
    assert row["text"] == commitment.text


def test_commitments_export_xlsx_opens_in_excel_with_the_delivery_state(client_for):
    delivered = Commitment.objects.exclude(delivery_as_of=None).order_by("reference").first()
    assert delivered is not None, "the seed records delivery of some Sector Deal 1 commitments"
    response = _export(client_for(roles.BOARD_MEMBER), COMMITMENTS_EXPORT_URL, "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    headers = list(rows[0])
    assert headers[:3] == ["reference", "deal", "foundation"]
    assert {"delivery_status", "delivery_confidence", "progress", "delivery_as_of"} <= set(headers)
    by_reference = {row[0]: dict(zip(headers, row, strict=True)) for row in rows[1:]}
    assert set(by_reference) == set(Commitment.objects.values_list("reference", flat=True))
    row = by_reference[delivered.reference]
    assert row["deal"] == delivered.deal.code
    assert row["delivery_status"] == delivered.get_delivery_status_display()
    assert row["delivery_confidence"] == (delivered.get_delivery_confidence_display() or None)
    assert row["progress"] == delivered.progress
    assert isinstance(row["delivery_as_of"], datetime)  # a real date cell, not text
    assert row["delivery_as_of"].date() == delivered.delivery_as_of


def test_status_updates_export_round_trips_through_excel(client_for):
    seeded = StatusUpdate.objects.approved().select_related("commitment").order_by("pk").first()
    assert seeded is not None
    response = _export(client_for(roles.BOARD_MEMBER), UPDATES_EXPORT_URL, "xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    headers = list(rows[0])
    assert headers == [*IMPORT_COLUMNS, "state", "author"]
    assert len(rows) - 1 == StatusUpdate.objects.count()
    exported = [
        dict(zip(headers, row, strict=True))
        for row in rows[1:]
        if row[0] == seeded.commitment.reference and row[1].date() == seeded.as_of and row[5] == seeded.narrative
    ]
    assert len(exported) == 1
    assert exported[0]["status"] == seeded.get_status_display()
    assert exported[0]["state"] == "Approved"
    assert exported[0]["author"] is None  # loaded from a document, not written by anyone


# --- a good import ---------------------------------------------------------------------------------------


def test_good_csv_import_previews_then_writes_drafts_by_the_uploader(client_for, user_with_role):
    editor = user_with_role(roles.EDITOR)
    client = client_for(None)
    client.force_login(editor)
    unfunded = _unfunded_reference()
    rows = [
        _row(
            funding_spent="£1,250,000.50",
            evidence_url="https://www.gov.uk/government/news/harp-awards",
            evidence_title="HARP awards announced",
        ),
        _row(commitment=unfunded.lower(), as_of="2025-06-30", status="delivered", confidence="", progress=""),
    ]
    before = StatusUpdate.objects.count()

    preview = _upload(client, _csv(rows))
    assert preview.context["confirm_form"] is not None
    assert preview.context["result"].totals["new"] == 2
    assert StatusUpdate.objects.count() == before, "the preview writes nothing"
    assert "Confirming will write 2 new drafts" in preview.content.decode()

    _confirm(client, preview)
    funded, delivered = _drafts_by(editor).order_by("as_of")
    assert StatusUpdate.objects.count() == before + 2
    assert (funded.commitment.reference, funded.as_of, funded.status, funded.confidence) == (
        FUNDED,
        AS_OF,
        "in_progress",
        "amber_green",
    )
    assert (funded.progress, funded.funding_spent, funded.state) == (40, Decimal("1250000.50"), UpdateState.DRAFT)
    assert funded.narrative == "Programme board met; first awards made."
    assert [(link.url, link.title) for link in funded.evidence_links.all()] == [
        ("https://www.gov.uk/government/news/harp-awards", "HARP awards announced")
    ]
    assert (delivered.commitment.reference, delivered.as_of, delivered.status) == (
        unfunded,
        date(2025, 6, 30),
        "delivered",
    )
    assert (delivered.confidence, delivered.progress, delivered.funding_spent) == ("", None, None)
    for draft in (funded, delivered):
        assert (draft.author, draft.created_by) == (editor, editor)
        assert (draft.submitted_at, draft.reviewed_by, draft.approved_at) == (None, None, None)
        assert draft.history.get().history_change_reason == "Draft written"  # audited like any draft
        assert LogEntry.objects.filter(object_id=str(draft.pk), action_flag=ADDITION, user=editor).exists()


def test_good_xlsx_import_reads_excel_dates_and_numbers(client_for, user_with_role):
    reviewer = user_with_role(roles.REVIEWER)
    client = client_for(None)
    client.force_login(reviewer)
    rows = [
        _row(as_of=datetime(2025, 3, 31), status="IN PROGRESS", confidence="green", progress=55, funding_spent=2500.75),
        _row(as_of=date(2024, 12, 31), status="not_started", confidence="Amber/Red", progress=0.0),
    ]
    _import(client, _xlsx(rows))
    first, second = _drafts_by(reviewer).order_by("-as_of")
    assert (first.as_of, first.status, first.confidence, first.progress, first.funding_spent) == (
        AS_OF,
        "in_progress",
        "green",
        55,
        Decimal("2500.75"),
    )
    assert (second.as_of, second.status, second.confidence, second.progress) == (
        date(2024, 12, 31),
        "not_started",
        "amber_red",
        0,
    )
    assert {draft.state for draft in (first, second)} == {UpdateState.DRAFT}


def test_import_ignores_the_state_and_author_columns_of_an_export(client_for, user_with_role):
    editor = user_with_role(roles.EDITOR)
    client = client_for(None)
    client.force_login(editor)
    headers = (*IMPORT_COLUMNS, "state", "author")
    _import(client, _csv([_row(state="Approved", author="someone else")], headers=headers))
    draft = _drafts_by(editor).get()
    assert (draft.state, draft.author, draft.approved_at) == (UpdateState.DRAFT, editor, None)


# --- a bad file: every problem by row and column, nothing written -----------------------------------------

FUTURE = (timezone.localdate() + timedelta(days=30)).strftime("%d/%m/%Y")

BAD_ROWS = [
    pytest.param({"commitment": "SD2-NO-SUCH-G9"}, "commitment", "There is no commitment with the reference", id="ref"),
    pytest.param({"commitment": ""}, "commitment", "The commitment reference is missing", id="no-ref"),
    pytest.param(
        {"status": "Finished"},
        "status",
        "“Finished” is not on the status scale. Use one of: Not started, In progress, Delivered, Not being pursued.",
        id="status",
    ),
    pytest.param(
        {"confidence": "Purple"},
        "confidence",
        "not on the confidence scale. Use one of: Green, Amber/Green, Amber, Amber/Red, Red",
        id="confidence",
    ),
    pytest.param({"progress": "150"}, "progress", "150 is not a percentage", id="progress-150"),
    pytest.param({"progress": "lots"}, "progress", "“lots” is not a number", id="progress-text"),
    pytest.param({"as_of": FUTURE}, "as_of", "is in the future", id="future"),
    pytest.param({"as_of": "31/13/2025"}, "as_of", "“31/13/2025” is not a date we can read", id="malformed-date"),
    pytest.param({"narrative": "  "}, "narrative", "The narrative is missing", id="no-narrative"),
    pytest.param({"funding_spent": "-5"}, "funding_spent", "cannot be negative", id="negative-money"),
    pytest.param({"evidence_url": "not a link"}, "evidence_url", "is not a web address", id="bad-link"),
]


@pytest.mark.parametrize(("cells", "column", "message"), BAD_ROWS)
@pytest.mark.parametrize("builder", [_csv, _xlsx], ids=["csv", "xlsx"])
def test_one_bad_row_refuses_the_whole_file(client_for, builder, cells, column, message):
    client = client_for(roles.EDITOR)
    before = StatusUpdate.objects.count()
    good = _row(commitment=_unfunded_reference())
    response = _upload(client, builder([good, _row(**{"as_of": "2025-02-28", **cells})]))
    assert response.context.get("confirm_form") is None
    problems = _problems(response)
    assert list(problems) == [3], "the bad row is spreadsheet row 3 (headings are row 1, the good row is row 2)"
    assert message in " ".join(problems[3][column])
    page = response.content.decode()
    assert f"Row 3, {column}:" in page
    assert "Nothing has been imported" in page
    assert StatusUpdate.objects.count() == before


def test_bad_file_lists_every_problem_by_row_and_column(client_for):
    client = client_for(roles.EDITOR)
    unfunded = _unfunded_reference()
    before = StatusUpdate.objects.count()
    rows = [
        _row(),  # row 2: good
        _row(commitment="SD2-IDEAS-HARP-G2X"),  # 3
        _row(as_of="2025-01-31", status="Finished"),  # 4
        _row(as_of="2025-02-28", confidence="Purple"),  # 5
        _row(as_of="2024-11-30", progress="150"),  # 6
        _row(as_of=FUTURE),  # 7
        _row(as_of="2025-13-01"),  # 8
        _row(narrative="Same commitment and date as row 2."),  # 9
        _row(commitment=unfunded, funding_spent="1000"),  # 10
    ]
    response = _upload(client, _csv(rows))
    assert response.context.get("confirm_form") is None
    problems = _problems(response)
    assert sorted(problems) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "There is no commitment with the reference “SD2-IDEAS-HARP-G2X”" in problems[3]["commitment"][0]
    assert "Did you mean SD2-IDEAS-HARP-G2?" in problems[3]["commitment"][0]
    assert "Not started, In progress, Delivered, Not being pursued" in problems[4]["status"][0]
    assert "Green, Amber/Green, Amber, Amber/Red, Red" in problems[5]["confidence"][0]
    assert problems[6] == {"progress": ["150 is not a percentage: progress must be a whole number from 0 to 100."]}
    assert "in the future" in problems[7]["as_of"][0]
    assert "“2025-13-01” is not a date we can read" in problems[8]["as_of"][0]
    assert problems[9]["as_of"] == [
        f"This row repeats row 2: both are updates to {FUNDED} as of 31 March 2025. Keep one of them."
    ]
    assert problems[10]["funding_spent"] == [
        f"{unfunded} carries no money, so there is no spending to report: "
        "leave funding_spent empty for this commitment."
    ]
    page = response.content.decode()
    assert "8 rows need correcting" in page
    assert "Row 6, progress: 150 is not a percentage" in page
    assert "Traceback" not in page
    assert StatusUpdate.objects.count() == before


@pytest.mark.parametrize(
    ("upload", "title", "message"),
    [
        pytest.param(
            lambda: _csv([{"reference": FUNDED, "date": "31/03/2025"}], headers=("reference", "date")),
            "csv",
            "The file is missing the columns commitment, as_of, status, narrative",
            id="wrong-columns",
        ),
        pytest.param(
            lambda: _csv([_row(notes="x")], headers=(*IMPORT_COLUMNS, "notes")),
            "csv",
            "The file has a column the import does not know: “notes”",
            id="unknown-column",
        ),
        pytest.param(
            lambda: _csv([_row()], headers=(*IMPORT_COLUMNS, "status")),
            "csv",
            "The column status appears more than once",
            id="column-twice",
        ),
        pytest.param(
            lambda: SimpleUploadedFile("empty.csv", b"", content_type="text/csv"),
            "csv",
            "The submitted file is empty",
            id="empty-csv",
        ),
        pytest.param(lambda: _csv([]), "csv", "No valid data to import", id="headings-only"),
        pytest.param(lambda: _xlsx([]), "xlsx", "No valid data to import", id="headings-only-xlsx"),
        pytest.param(
            lambda: SimpleUploadedFile("minutes.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\n"),
            "xlsx",
            "could not be read as the format chosen",
            id="pdf-as-xlsx",
        ),
        pytest.param(
            lambda: SimpleUploadedFile("minutes.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\xff\xfe\n"),
            "csv",
            "could not be read as the format chosen",
            id="pdf-as-csv",
        ),
        pytest.param(lambda: _csv([_row()]), "xlsx", "could not be read as the format chosen", id="csv-as-xlsx"),
        pytest.param(
            lambda: SimpleUploadedFile("ragged.csv", b"commitment,as_of\nA,B,C,D\n", content_type="text/csv"),
            "csv",
            "could not be read as the format chosen",
            id="ragged-csv",
        ),
    ],
)
def test_a_file_that_is_not_an_update_sheet_gets_a_clear_message(client_for, upload, title, message):
    client = client_for(roles.EDITOR)
    before = StatusUpdate.objects.count()
    response = _upload(client, upload(), title)
    assert response.context.get("confirm_form") is None
    assert message in _file_problems(response)
    page = response.content.decode()
    assert "Traceback" not in page
    assert "This file could not be used" in page or "This file cannot be imported" in page
    assert StatusUpdate.objects.count() == before


def test_confirming_writes_nothing_if_a_row_has_become_invalid_since_the_preview(client_for, user_with_role):
    editor, colleague = user_with_role(roles.EDITOR), user_with_role(roles.EDITOR)
    client = client_for(None)
    client.force_login(editor)
    preview = _upload(client, _csv([_row(), _row(as_of="2025-01-31")]))
    assert preview.context["confirm_form"] is not None
    # Meanwhile a colleague drafts and submits an update for the second row's commitment and date.
    other = _import_as(colleague, [_row(as_of="2025-01-31")])
    update_submit(update=other, user=colleague)

    response = _confirm(client, preview)
    assert not _drafts_by(editor).exists(), "all or nothing: the good row is not written either"
    shown = [str(message) for message in response.context["messages"]]
    assert any("Nothing was imported" in text and "Row 3, as_of" in text for text in shown), shown
    assert not LogEntry.objects.filter(user=editor).exists()


def test_a_row_the_workflow_service_refuses_rolls_back_the_rows_already_written(
    client_for, user_with_role, monkeypatch
):
    from datetime import date

    from django.core.exceptions import ValidationError

    from commitments import imports
    from commitments.services import update_create

    editor = user_with_role(roles.EDITOR)
    own_draft = update_create(
        commitment=Commitment.objects.get(reference=FUNDED),
        author=editor,
        as_of=date(2025, 1, 31),
        status="in_progress",
        narrative="An earlier draft of mine.",
    )
    client = client_for(None)
    client.force_login(editor)
    # Row 2 is a new draft (written first, in a batch); row 3 changes the editor's own draft.
    preview = _upload(client, _csv([_row(), _row(as_of="2025-01-31", narrative="Refused by a rule the import skips.")]))

    def update_edit(**values: Any) -> StatusUpdate:
        assert StatusUpdate.objects.filter(author=editor, as_of=date(2025, 3, 31)).exists(), "row 2 was written"
        raise ValidationError({"narrative": "A rule of the service that the import does not know."})

    monkeypatch.setattr(imports, "update_edit", update_edit)
    response = _confirm(client, preview)
    assert list(_drafts_by(editor)) == [own_draft], "the new draft was rolled back with the refused edit"
    own_draft.refresh_from_db()
    assert own_draft.narrative == "An earlier draft of mine."
    shown = " ".join(str(message) for message in response.context["messages"])
    assert "Nothing was imported. Row 3, narrative: A rule of the service that the import does not know." in shown
    assert "0 new" in shown


def test_the_dry_run_applies_the_models_own_validation(client_for, monkeypatch):
    from django.core.exceptions import ValidationError

    def clean(update: StatusUpdate) -> None:
        if "rumour" in update.narrative:
            raise ValidationError({"narrative": "Cite evidence, not rumour."})

    monkeypatch.setattr(StatusUpdate, "clean", clean)
    response = _upload(client_for(roles.EDITOR), _csv([_row(), _row(as_of="2025-01-31", narrative="A rumour.")]))
    assert response.context.get("confirm_form") is None
    assert _problems(response) == {3: {"narrative": ["Cite evidence, not rumour."]}}


def _import_as(user: Any, rows: list[dict[str, Any]]) -> StatusUpdate:
    from django.test import Client

    client = Client()
    client.force_login(user)
    _import(client, _csv(rows))
    return _drafts_by(user).latest("pk")


# --- importing again -------------------------------------------------------------------------------------


def test_reimporting_the_same_file_creates_no_duplicates(client_for, user_with_role):
    editor = user_with_role(roles.EDITOR)
    client = client_for(None)
    client.force_login(editor)
    rows = [
        _row(evidence_url="https://example.org/report", evidence_title="Report"),
        _row(as_of="2025-01-31", progress="20"),
    ]
    _import(client, _csv(rows))
    drafts = {draft.pk: draft.version for draft in _drafts_by(editor)}
    assert len(drafts) == 2

    again = _upload(client, _xlsx(rows, name="same-again.xlsx"))
    assert again.context["result"].totals["skip"] == 2
    assert again.context["result"].totals["new"] == 0
    _confirm(client, again)
    assert {draft.pk: draft.version for draft in _drafts_by(editor)} == drafts, "unchanged drafts are not saved"

    rows[1]["progress"] = "35"
    rows[1]["narrative"] = "Second wave of awards."
    changed = _upload(client, _csv(rows))
    assert (changed.context["result"].totals["update"], changed.context["result"].totals["skip"]) == (1, 1)
    _confirm(client, changed)
    after = {draft.as_of: draft for draft in _drafts_by(editor)}
    assert set(drafts) == {draft.pk for draft in after.values()}, "the same two drafts, changed in place"
    assert (after[date(2025, 1, 31)].progress, after[date(2025, 1, 31)].narrative) == (35, "Second wave of awards.")
    assert after[date(2025, 1, 31)].history.latest().history_change_reason == "Draft edited"
    assert after[AS_OF].evidence_links.count() == 1


def test_reimporting_a_returned_update_changes_it_and_keeps_it_returned(client_for, user_with_role):
    editor, reviewer = user_with_role(roles.EDITOR), user_with_role(roles.REVIEWER)
    draft = _import_as(editor, [_row()])
    update_submit(update=draft, user=editor)
    update_return(update=draft, reviewer=reviewer, reason="Say what the money bought.")
    _import_as(editor, [_row(narrative="Awards made to four consortia.")])
    draft.refresh_from_db()
    assert (draft.state, draft.narrative) == (UpdateState.RETURNED, "Awards made to four consortia.")
    assert _drafts_by(editor).count() == 1


def test_reimporting_a_submitted_or_approved_update_is_refused(client_for, user_with_role):
    editor, reviewer = (
        user_with_role(roles.EDITOR, first_name="Ada", last_name="Lovelace"),
        user_with_role(roles.REVIEWER),
    )
    draft = _import_as(editor, [_row()])
    update_submit(update=draft, user=editor)
    client = client_for(None)
    client.force_login(editor)

    submitted = _problems(_upload(client, _csv([_row(narrative="Changed my mind.")])))
    assert submitted == {
        2: {
            "as_of": [
                f"{FUNDED} already has an update as of 31 March 2025, submitted for review by Ada Lovelace, so it "
                "can no longer be changed. Wait for the review, or ask the reviewer to return it to its author."
            ]
        }
    }
    update_approve(update=draft, reviewer=reviewer)
    approved = _problems(_upload(client_for(roles.REVIEWER), _csv([_row(narrative="Changed my mind.")])))
    assert "already has an approved update as of 31 March 2025" in approved[2]["as_of"][0]
    assert "write a correction instead" in approved[2]["as_of"][0]
    assert StatusUpdate.objects.filter(commitment__reference=FUNDED, as_of=AS_OF).count() == 1


def test_a_seeded_approved_update_cannot_be_overwritten(client_for):
    seeded = StatusUpdate.objects.approved().select_related("commitment").order_by("pk").first()
    assert seeded is not None
    row = _row(commitment=seeded.commitment.reference, as_of=seeded.as_of.isoformat(), funding_spent="")
    problems = _problems(_upload(client_for(roles.EDITOR), _csv([row])))
    assert "write a correction instead" in problems[2]["as_of"][0]


def test_a_colleagues_draft_is_not_duplicated(client_for, user_with_role):
    colleague = user_with_role(roles.EDITOR, first_name="Grace", last_name="Hopper")
    _import_as(colleague, [_row()])
    problems = _problems(_upload(client_for(roles.EDITOR), _csv([_row()])))
    assert problems[2]["as_of"] == [
        f"Grace Hopper already has a draft update for {FUNDED} as of 31 March 2025. "
        "Agree with them who writes it: they can finish or delete theirs."
    ]


# --- who may import ----------------------------------------------------------------------------------------


def test_board_member_can_export_but_not_import(client_for):
    client = client_for(roles.BOARD_MEMBER)
    changelist = client.get(reverse("admin:commitments_statusupdate_changelist")).content.decode()
    assert IMPORT_URL not in changelist
    assert UPDATES_EXPORT_URL in changelist
    assert client.get(IMPORT_URL).status_code == 403
    assert client.post(IMPORT_URL, {"format": "0", "import_file": _csv([_row()])}).status_code == 403
    assert (
        client.post(PROCESS_URL, {"import_file_name": "x", "original_file_name": "x.csv", "format": "0"}).status_code
        == 403
    )
    _export(client, UPDATES_EXPORT_URL, "csv")
    assert not StatusUpdate.objects.filter(as_of=AS_OF).exists()


@pytest.mark.parametrize(
    ("role", "may_import"),
    [(roles.EDITOR, True), (roles.REVIEWER, True), (roles.BOARD_MEMBER, False), (roles.ADMINISTRATOR, False)],
)
def test_only_those_who_write_updates_may_import(client_for, role, may_import):
    assert client_for(role).get(IMPORT_URL).status_code == (200 if may_import else 403)


# --- reading cells ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["in_progress", "In progress", "IN PROGRESS", " in progress ", "In_Progress"])
def test_status_accepts_the_value_or_the_label_in_any_case(text):
    assert parse_status(text) == "in_progress"


@pytest.mark.parametrize(("text", "value"), [("Amber/Green", "amber_green"), ("amber_red", "amber_red"), ("", "")])
def test_confidence_accepts_the_value_or_the_label(text, value):
    assert parse_confidence(text) == value


@pytest.mark.parametrize(
    "text", ["2025-03-31", "31/03/2025", "31/3/2025", "31-03-2025", "31 March 2025", "2025-03-31 00:00:00"]
)
def test_dates_are_read_in_the_forms_staff_write(text):
    assert parse_as_of(text, today=date(2026, 1, 1)) == AS_OF


@pytest.mark.parametrize(("value", "expected"), [("50%", 50), (50.0, 50), ("0", 0), ("", None), (None, None)])
def test_progress_is_a_whole_percentage(value, expected):
    assert parse_progress(value) == expected


@pytest.mark.parametrize("value", ["50.5", "-1", "101", True])
def test_progress_outside_the_scale_is_refused(value):
    with pytest.raises(CellError):
        parse_progress(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("£1,250,000.50", Decimal("1250000.50")), (1234.56, Decimal("1234.56")), ("0", Decimal("0.00")), ("", None)],
)
def test_money_is_read_as_pounds_and_pence(value, expected):
    assert parse_money(value) == expected


@pytest.mark.parametrize("value", ["ten pounds", "1.005", "-3"])
def test_money_that_is_not_pounds_and_pence_is_refused(value):
    with pytest.raises(CellError):
        parse_money(value)


# --- the round trip, and the details of reading a file -------------------------------------------------------


def test_exported_drafts_can_be_edited_and_imported_back(client_for, user_with_role):
    editor = user_with_role(roles.EDITOR)
    client = client_for(None)
    client.force_login(editor)
    _import(client, _csv([_row(), _row(as_of="2025-01-31", evidence_url="https://example.org/a", evidence_title="A")]))
    exported = _export(client, UPDATES_EXPORT_URL + "?state__exact=draft", "csv").content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [(row["commitment"], row["as_of"], row["state"]) for row in rows] == [
        (FUNDED, "2025-03-31", "Draft"),
        (FUNDED, "2025-01-31", "Draft"),
    ]
    rows[1]["narrative"] = "Edited in the spreadsheet."

    preview = _upload(client, _csv(rows, headers=tuple(rows[0])))
    assert (preview.context["result"].totals["update"], preview.context["result"].totals["skip"]) == (1, 1)
    _confirm(client, preview)
    edited = _drafts_by(editor).get(as_of=date(2025, 1, 31))
    assert edited.narrative == "Edited in the spreadsheet."
    assert [(link.url, link.title) for link in edited.evidence_links.all()] == [("https://example.org/a", "A")]
    assert _drafts_by(editor).count() == 2


def test_headings_are_read_forgivingly_and_a_link_without_title_is_titled_by_its_address(client_for, user_with_role):
    editor = user_with_role(roles.EDITOR)
    client = client_for(None)
    client.force_login(editor)
    headers = ("Commitment", " As of ", "STATUS", "Narrative", "Evidence URL")
    row = {"Commitment": FUNDED, " As of ": "31 March 2025", "STATUS": "Delivered", "Narrative": "Done."}
    row["Evidence URL"] = "https://example.org/done"
    _import(client, _xlsx([row], headers=headers))
    draft = _drafts_by(editor).get()
    assert (draft.status, draft.confidence, draft.progress, draft.funding_spent) == ("delivered", "", None, None)
    assert [(link.url, link.title) for link in draft.evidence_links.all()] == [
        ("https://example.org/done", "https://example.org/done")
    ]


def test_blank_rows_are_skipped_and_rows_keep_their_spreadsheet_numbers(client_for):
    blank = dict.fromkeys(IMPORT_COLUMNS)
    upload = _xlsx([_row(), blank, _row(as_of="2025-01-31", progress=101), blank])
    problems = _problems(_upload(client_for(roles.EDITOR), upload))
    assert list(problems) == [4]
    assert list(problems[4]) == ["progress"]


def test_the_resource_refuses_a_user_who_may_not_write_updates(user_with_role):
    import tablib
    from import_export.exceptions import ImportError as ImportExportError

    from commitments.resources import StatusUpdateResource

    dataset = tablib.Dataset(headers=list(IMPORT_COLUMNS))
    dataset.append([_row()[column] for column in IMPORT_COLUMNS])
    board = user_with_role(roles.BOARD_MEMBER)
    before = StatusUpdate.objects.count()
    result = StatusUpdateResource().import_data(dataset, dry_run=False, user=board)
    assert [str(error.error) for error in result.base_errors] == [
        "You do not have permission to import status updates."
    ]
    with pytest.raises(ImportExportError, match="permission"):
        StatusUpdateResource().import_data(dataset, dry_run=False, raise_errors=True, user=board)
    assert StatusUpdate.objects.count() == before
    editor = user_with_role(roles.EDITOR)
    assert StatusUpdateResource().import_data(dataset, dry_run=False, user=editor).totals["new"] == 1
    assert StatusUpdate.objects.filter(author=editor, state=UpdateState.DRAFT).count() == 1


def test_confirming_the_same_import_twice_imports_once(client_for, user_with_role):
    editor = user_with_role(roles.EDITOR)
    client = client_for(None)
    client.force_login(editor)
    preview = _upload(client, _csv([_row()]))
    _confirm(client, preview)
    again = _confirm(client, preview)
    shown = " ".join(str(message) for message in again.context["messages"])
    assert "already been confirmed" in shown
    assert _drafts_by(editor).count() == 1


def test_csv_exports_open_in_excel_with_pound_signs(client_for):
    response = _export(client_for(roles.EDITOR), reverse("admin:commitments_statusupdate_export"), "csv")
    assert response.content.startswith("\ufeff".encode())
