"""The rules of transcription (docs/fixtures.md), each pinned for every record it applies to."""

from __future__ import annotations

import re

import pytest

from commitments.models import Commitment
from programmes.models import FundingAmount

pytestmark = pytest.mark.django_db

ADDITIVE = ("a further", "an additional", "an extra")
# The NHS named as one of those who act: "the NHS and industry", "partners with the NHS", "through the NHS".
NHS_ACTING = re.compile(
    r"(, the NHS and|the NHS and its partners|partners with the NHS|stakeholders like the NHS|"
    r"whole genomes through the NHS|Making the NHS the first)"
)


def test_amounts_keep_the_words_that_say_the_money_is_additional():
    dropped = []
    for amount in FundingAmount.objects.select_related("commitment", "programme"):
        printed = " ".join(
            filter(
                None,
                [
                    amount.commitment.text if amount.commitment else "",
                    amount.programme.source_quote if amount.programme else "",
                    amount.source_quote,
                ],
            )
        )
        for words in ADDITIVE:
            if f"{words} {amount.amount_text}" in printed:
                dropped.append(f"{amount.key}: “{words} {amount.amount_text}”")
    assert dropped == []
    assert FundingAmount.objects.filter(amount_text__startswith="a further ").count() >= 5


def test_a_bullet_is_split_into_sub_items_only_where_it_lists_items():
    """Sub-items that are merely the parent's sentences one by one are not items the document lists."""
    parents = Commitment.objects.filter(children__isnull=False).distinct()
    assert parents.exists()
    for parent in parents:
        children = [child.text.rstrip(".") for child in parent.children.order_by("reference")]
        sentences = [sentence.rstrip(".") for sentence in re.split(r"(?<=\.)\s+", parent.text)]
        assert children != sentences, parent.reference


def test_a_sub_item_repeats_no_money_its_parent_carries():
    repeated = []
    children = Commitment.objects.filter(parent__isnull=False).select_related("parent")
    assert children.exists()
    for child in children:
        assert child.parent is not None
        parent_money = {(a.low, a.high) for a in child.parent.funding.all()}
        for amount in child.funding.filter(part_of__isnull=True):
            if (amount.low, amount.high) in parent_money:
                repeated.append(f"{child.reference} {amount.amount_text}")
    assert repeated == []


def test_jobs_count_what_is_planned_not_what_was_already_created():
    commitments = Commitment.objects.exclude(jobs=None)
    assert commitments.count() >= 15
    for commitment in commitments:
        assert f"{commitment.jobs:,}" in commitment.jobs_text, commitment.reference
        assert not re.search(r"\bcreating \d", commitment.jobs_text) or "planned" not in commitment.jobs_text


def test_the_nhs_is_an_organisation_of_the_commitments_it_acts_in():
    acting = [c for c in Commitment.objects.prefetch_related("organisations") if NHS_ACTING.search(c.text)]
    assert len(acting) >= 6
    assert [c.reference for c in acting if "NHS" not in {o.name for o in c.organisations.all()}] == []
