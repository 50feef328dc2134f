"""The board pack through HTTP and as a PDF, on the seeded Sector Deal data.

The pack opens on the last completed quarter; its lists count what the overview's figures count for the same
quarter; a signed-off quarter's pack shows only signed-off figures, its lists as recorded at sign-off, and
its restatements apart in plain words. The PDF is read back with pdftotext (poppler-utils): its pages, the
footer on each, no URL printed, no empty last page, the sections in order and the charts drawn.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import Commitment, StatusUpdate
from commitments.periods import Quarter, last_completed
from commitments.services import (
    commitment_edit,
    commitment_set_published,
    update_approve,
    update_create,
    update_submit,
)
from metrics import rules
from metrics.services import metrics_recompute, quarter_lock
from metrics.tables import money

pytestmark = pytest.mark.django_db

PACK = reverse("dashboards:board_pack")
PDF = reverse("dashboards:board_pack_pdf")
OVERVIEW = reverse("dashboards:overview")
SECTIONS = [
    "Overview",
    "What changed since",
    "Commitments at risk",
    "Overdue commitments",
    "No approved update this quarter",
    "Restatements since sign-off",
]


@pytest.fixture
def quarter() -> Quarter:
    """The quarter the pack opens on: the last completed one."""
    return last_completed()


@pytest.fixture
def people(user_with_role: Any) -> dict[str, Any]:
    return {"editor": user_with_role(roles.EDITOR), "reviewer": user_with_role(roles.REVIEWER)}


def _key_commitments(quarter: Quarter) -> Any:
    """Key commitments counted in the quarter: in the figures whichever commitments a page counts."""
    return Commitment.objects.filter(
        rules.commitment_kind_condition(rules.KEY_COMMITMENT), rules.counted_on(quarter.end)
    ).order_by("reference")


def _approve(commitment: Commitment, people: dict[str, Any], **values: Any) -> StatusUpdate:
    update = update_create(commitment=commitment, author=people["editor"], narrative="Reported.", **values)
    update_submit(update=update, user=people["editor"])
    return update_approve(update=update, reviewer=people["reviewer"])


@pytest.fixture
def rated(quarter: Quarter, people: dict[str, Any]) -> list[Commitment]:
    """Two key commitments rated in the quarter, red and amber/red, and the quarter's figures stored."""
    first, second = _key_commitments(quarter).filter(delivery_status=DeliveryStatus.IN_PROGRESS)[:2]
    day = quarter.start + timedelta(days=14)
    for commitment, confidence in ((first, DeliveryConfidence.RED), (second, DeliveryConfidence.AMBER_RED)):
        _approve(commitment, people, as_of=day, status=DeliveryStatus.IN_PROGRESS, confidence=confidence)
    metrics_recompute(quarters=[quarter.previous(), quarter])
    return [first, second]


@pytest.fixture
def board(client_for: Any) -> Client:
    return client_for(roles.BOARD_MEMBER)


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _references(response: Any, table_id: str) -> list[str]:
    return [row[0].text for row in response.context["tables"][table_id].rows]


def _pdf_pages(content: bytes) -> list[str]:
    """The text of each page of a PDF (pdftotext keeps the layout and ends each page with a form feed)."""
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) is not installed: the PDF's text cannot be read")
    text = subprocess.run(  # noqa: S603 - a fixed program, reading the PDF the test was given
        [pdftotext, "-layout", "-", "-"], input=content, capture_output=True, check=True
    ).stdout.decode()
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def test_the_pack_s_lists_count_what_the_overview_counts_for_the_same_quarter(board, rated, quarter):
    pack = board.get(PACK)
    assert pack.status_code == 200
    assert pack.context["period"].quarter == quarter
    overview = board.get(OVERVIEW, {"quarter": quarter.label})
    tracker = overview.context["overview"].tracker
    assert pack.context["overview"].tracker.commitments == tracker.commitments
    tables = pack.context["tables"]
    assert len(tables["overdue"].rows) == tracker.overdue
    assert tracker.overdue > 0
    assert _references(pack, "red") == [rated[0].reference]
    assert _references(pack, "amber_red") == [rated[1].reference]
    assert len(tables["red"].rows) + len(tables["amber_red"].rows) == tracker.red + tracker.amber_red
    assert len(tables["stale"].rows) == tracker.stale
    assert not {commitment.reference for commitment in rated} & set(_references(pack, "stale"))
    assert f"Overdue: target date passed, not delivered ({tracker.overdue})" in _text(pack)
    # What changed is measured to the same day: the two first ratings of the quarter.
    assert len(tables["newly_rated"].rows) == tracker.newly_rated
    assert {commitment.reference for commitment in rated} <= set(_references(pack, "newly_rated"))
    # The charts are drawn on the server, escaped, with their figures' table named.
    html = pack.content.decode()
    assert html.count("<svg") == 3
    assert "Delivery status by foundation" in html
    assert "canvas" not in html


def test_a_signed_off_quarter_shows_only_signed_off_figures_and_its_restatements_in_plain_words(
    board, rated, quarter, people
):
    quarter_lock(quarter=quarter, user=people["reviewer"])
    late = _key_commitments(quarter).filter(funding__isnull=False).exclude(pk__in=[c.pk for c in rated]).first()
    assert late is not None, "no key commitment carries money to report spending on"
    update = _approve(
        late,
        people,
        as_of=quarter.start + timedelta(days=20),
        status=DeliveryStatus.IN_PROGRESS,
        confidence=DeliveryConfidence.AMBER_RED,
        funding_spent=Decimal(12_000_000),
    )
    metrics_recompute(quarters=[quarter])

    pack = board.get(PACK)
    period, tracker = pack.context["period"], pack.context["overview"].tracker
    assert period.shows_signed_off
    assert period.recorded_at is not None
    assert update.approved_at is not None
    assert update.approved_at > period.recorded_at
    assert tracker.restated
    assert (tracker.amber_red, tracker.live.amber_red) == (1, 2)
    # The lists are as recorded at sign-off: the back-dated rating is not in them, and they agree with the figures.
    tables = pack.context["tables"]
    assert _references(pack, "amber_red") == [rated[1].reference]
    assert len(tables["red"].rows) + len(tables["amber_red"].rows) == tracker.red + tracker.amber_red
    assert len(tables["overdue"].rows) == tracker.overdue
    assert len(tables["stale"].rows) == tracker.stale
    assert late.reference in _references(pack, "stale")
    assert len(tables["newly_rated"].rows) == tracker.newly_rated
    assert late.reference not in _references(pack, "newly_rated")
    text = _text(pack)
    assert "This pack shows only the signed-off figures" in text
    assert "as recorded at sign-off" in text

    # The restatement, apart and in plain words, money as the pages show it.
    (row,) = [row for row in tables["restatements"].rows if row[0].text == quarter.label]
    moved = row[2].text
    assert "Confidence: Amber/Red 1 → 2" in moved
    assert f"Spent: {money(tracker.spent)} → {money(tracker.spent + Decimal(12_000_000))}" in moved
    assert "amber red" not in moved
    assert "12000000" not in moved
    assert late.reference in row[3].text

    pages = _pdf_pages(board.get(PDF).content)
    whole = re.sub(r"\s+", " ", " ".join(pages))
    assert all(f"Board pack: {quarter.label} (signed off)" in page for page in pages)
    assert "Restatements since sign-off" in whole
    assert "Confidence: Amber/Red 1 → 2" in whole


def test_the_pdf_numbers_its_pages_names_its_quarter_and_prints_no_url(board, rated, quarter):
    response = board.get(PDF)
    assert response["Content-Type"] == "application/pdf"
    pages = _pdf_pages(response.content)
    assert 3 <= len(pages) <= 20, f"{len(pages)} pages"
    for number, page in enumerate(pages, start=1):
        assert f"Board pack: {quarter.label}, figures as of {quarter.end:%-d %B %Y}" in page, number
        assert f"Page {number} of {len(pages)}" in page, number
    whole = "\n".join(pages)
    for url in ("http", "/commitments/", "/scope/", "?quarter="):
        assert url not in whole
    # No empty last page: the last holds more than its footer.
    last = [line for line in pages[-1].splitlines() if line.strip() and "Board pack:" not in line]
    assert last, "the last page is empty"
    flat = re.sub(r"\s+", " ", whole)
    # The sections in order: each heading found after the one before it.
    position = 0
    for heading in SECTIONS:
        position = flat.find(heading, position)
        assert position >= 0, f"{heading!r} missing, or out of order"
    # The charts, drawn as SVG, are in the PDF with their labels.
    for title in ("Delivery status by foundation", "Confidence by foundation", "Overdue commitments by area"):
        assert title in flat
    # Every list is there: the two ratings, and each commitment overdue.
    for commitment in rated:
        assert commitment.reference in flat


def test_a_signed_off_quarter_s_lists_read_the_commitments_as_recorded_at_sign_off(board, rated, quarter, people):
    """Edits after sign-off (a target date moved, a commitment withdrawn) move no list away from its figure."""
    quarter_lock(quarter=quarter, user=people["reviewer"])
    signed = board.get(PACK).context["overview"].tracker
    overdue = _references(board.get(PACK), "overdue")
    assert overdue, "the seeded data has overdue key commitments"
    late = Commitment.objects.get(reference=overdue[0])
    assert late.history.exists(), "the seeded commitments have their history"
    # A published deadline is corrected while withdrawn from partners (commitments.delivery_plan), then published.
    commitment_set_published(commitment=late, user=people["reviewer"], published=False)
    commitment_edit(
        commitment=late, user=people["reviewer"], changes={"target_date": quarter.end + timedelta(days=400)}
    )
    commitment_set_published(commitment=late, user=people["reviewer"], published=True)
    withdrawn = _key_commitments(quarter).exclude(reference__in=overdue).exclude(pk__in=[c.pk for c in rated]).first()
    assert withdrawn is not None
    commitment_set_published(commitment=withdrawn, user=people["reviewer"], published=False)
    metrics_recompute(quarters=[quarter])

    pack = board.get(PACK)
    tables, tracker = pack.context["tables"], pack.context["overview"].tracker
    assert pack.context["period"].shows_signed_off
    assert (tracker.overdue, tracker.stale, tracker.commitments) == (signed.overdue, signed.stale, signed.commitments)
    assert tracker.live is not None
    assert tracker.live.commitments == signed.commitments - 1
    assert _references(pack, "overdue") == overdue
    assert len(tables["overdue"].rows) == tracker.overdue
    assert len(tables["stale"].rows) == tracker.stale
    assert withdrawn.reference in _references(pack, "stale")
    # The live pages read the commitments as they are now.
    live = board.get(reverse("dashboards:scope", args=["tracker", "all"]), {"overdue": "on"})
    assert late.reference not in [row[0].text for row in live.context["tables"]["commitments"].rows]
