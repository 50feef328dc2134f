"""`python manage.py seed` loads the Sector Deal data faithfully, idempotently and all-or-nothing."""

from __future__ import annotations

import shutil
from collections import Counter
from io import StringIO

import pytest
import yaml
from django.conf import settings
from django.core.management import CommandError, call_command

from commitments.models import Actor, Commitment, Organisation, OrganisationAlias, Section
from programmes.models import FundingAmount, Programme

pytestmark = pytest.mark.django_db

# Key commitments of Sector Deal 2 per foundation/area and actor, as found in the document. A change that
# loses or adds a row fails here. Sub-items (children) are counted separately below.
# Checked against the document: the bullets per area on pages "Key commitments", plus the one action
# printed as a paragraph rather than a bullet (Innovative regulation, sector column).
EXPECTED_KEY_COMMITMENTS = {
    "BUSENV/ATMP/government": 2,
    "BUSENV/ATMP/sector": 4,
    "BUSENV/MFG/government": 2,
    "BUSENV/MFG/sector": 2,
    "BUSENV/NHS/government": 4,
    "BUSENV/NHS/sector": 2,
    "BUSENV/REG/government": 3,
    "BUSENV/REG/sector": 1,
    "BUSENV/SCALEUP/government": 1,
    "BUSENV/SCALEUP/sector": 2,
    "IDEAS/CLINRES/government": 7,
    "IDEAS/CLINRES/sector": 4,
    "IDEAS/HARP/government": 4,
    "IDEAS/HARP/sector": 3,
    "IDEAS/RD/government": 3,
    "IDEAS/RD/sector": 6,
    "INFRA/-/government": 5,
    "INFRA/-/sector": 2,
    "PEOPLE/-/government": 4,
    "PEOPLE/-/sector": 3,
    "PLACES/-/government": 3,
    "PLACES/-/sector": 2,
}
EXPECTED_SUB_ITEMS = {
    "BUSENV/ATMP/sector": 2,  # Oxford BioMedica Plc (£19m) and Roslin Cell Therapies Ltd. (£4m)
    "IDEAS/RD/sector": 2,  # the two oncology R&D investments
}


def _key_commitment_counts(parents: bool) -> dict[str, int]:
    commitments = Commitment.objects.filter(
        deal__code="SD2", section=Section.KEY_COMMITMENTS, parent__isnull=parents
    ).select_related("foundation", "area")
    counts = Counter(f"{c.foundation.code}/{c.area.code if c.area else '-'}/{c.actor}" for c in commitments)
    return dict(sorted(counts.items()))


def test_key_commitment_counts_per_area_and_actor_are_pinned():
    assert _key_commitment_counts(parents=True) == EXPECTED_KEY_COMMITMENTS


def test_sub_item_counts_are_pinned():
    assert _key_commitment_counts(parents=False) == EXPECTED_SUB_ITEMS


def test_every_area_has_both_columns_where_the_document_prints_both():
    counts = _key_commitment_counts(parents=True)
    places = {key.rsplit("/", 1)[0] for key in counts}
    for place in places:
        assert counts.get(f"{place}/{Actor.SECTOR}", 0) > 0, place
        assert counts.get(f"{place}/{Actor.GOVERNMENT}", 0) > 0, place


def test_totals_of_the_seeded_data_are_pinned():
    assert Commitment.objects.filter(deal__code="SD2", section=Section.KEY_COMMITMENTS).count() == 73
    assert Commitment.objects.filter(deal__code="SD2", section=Section.CHAPTER).count() == 68
    assert Commitment.objects.filter(deal__code="SD1").count() == 34
    assert Commitment.objects.exclude(continues=None).count() > 0


def test_seeding_again_changes_nothing():
    before = (Commitment.objects.count(), FundingAmount.objects.count(), Organisation.objects.count())
    output = StringIO()
    call_command("seed", stdout=output)
    assert "Seed complete: 0 record(s) created." in output.getvalue()
    assert (Commitment.objects.count(), FundingAmount.objects.count(), Organisation.objects.count()) == before


def test_seeding_never_overwrites_a_staff_edit():
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G1")
    commitment.text = "Edited by staff."
    commitment.published = False
    commitment.save()
    call_command("seed", stdout=StringIO())
    commitment.refresh_from_db()
    assert (commitment.text, commitment.published) == ("Edited by staff.", False)


def test_a_deleted_commitment_is_restored_with_its_funding_by_seeding_again():
    commitment = Commitment.objects.get(reference="SD2-IDEAS-CLINRES-S4")  # The Brain Tumour Charity, £2.8m
    reference, amounts = commitment.reference, sorted(commitment.funding.values_list("amount_text", flat=True))
    commitment.funding.all().delete()
    Programme.commitments.through.objects.filter(commitment=commitment).delete()
    commitment.delete()
    call_command("seed", stdout=StringIO())
    restored = Commitment.objects.get(reference=reference)
    assert sorted(restored.funding.values_list("amount_text", flat=True)) == amounts


def test_an_amount_staff_deleted_from_an_existing_commitment_stays_deleted():
    amount = FundingAmount.objects.get(amount_text="up to £79m")
    amount.delete()
    call_command("seed", stdout=StringIO())
    assert not FundingAmount.objects.filter(amount_text="up to £79m").exists()


def test_spellings_resolve_to_one_organisation():
    mhra = Organisation.objects.named("MHRA").get()
    assert mhra == Organisation.objects.named("Medicines and Healthcare Products Regulatory Agency").get()
    assert OrganisationAlias.objects.filter(organisation=mhra).exists()


def test_broken_fixtures_are_refused_with_every_error_and_nothing_is_written(tmp_path):
    fixtures = tmp_path / "fixtures"
    shutil.copytree(settings.FIXTURES_DIR, fixtures)
    ideas = yaml.safe_load((fixtures / "sd2_ideas.yaml").read_text(encoding="utf-8"))
    commitments = ideas["areas"][0]["commitments"]
    commitments.append(
        {
            "ref": "SD2-IDEAS-HARP-G99",
            "actor": "government",
            "text": "A sound new commitment that the document does not contain.",
            "organisations": [{"name": "Ministry of Magic", "role": "lead"}],
            "amounts": [{"text": "lots of money", "nature": "new_money"}],
        }
    )
    commitments.append({"ref": "SD2-IDEAS-HARP-G100", "actor": "both", "text": "Committing an additional £50m"})
    (fixtures / "sd2_ideas.yaml").write_text(yaml.safe_dump(ideas, allow_unicode=True), encoding="utf-8")

    with pytest.raises(CommandError) as refused:
        call_command("seed", fixtures_dir=fixtures, stdout=StringIO())

    message = str(refused.value)
    assert "sd2_ideas.yaml SD2-IDEAS-HARP-G99: quote not found in 002_39c3279f54f75428.txt" in message
    assert "unknown organisation “Ministry of Magic”" in message
    assert "“lots of money” is not an amount in pounds" in message
    assert "SD2-IDEAS-HARP-G100: unknown actor 'both'" in message
    assert not Commitment.objects.filter(reference__in=["SD2-IDEAS-HARP-G99", "SD2-IDEAS-HARP-G100"]).exists()


def test_amounts_keep_the_wording_and_never_double_count():
    ucb = FundingAmount.objects.get(amount_text="up to £150-200m")
    assert (ucb.qualifier, ucb.low, ucb.high) == ("range", 150_000_000, 200_000_000)
    assert ucb.part_of is not None
    assert ucb.part_of.amount_text == "around £1bn"
