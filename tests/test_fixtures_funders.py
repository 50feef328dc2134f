"""Every amount whose funder the documents name carries that funder."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from commitments import roles
from commitments.models import Actor, Organisation, Section
from metrics.dashboards import counted_amounts, funding_by_funder_type, funding_total
from metrics.table_builders import SEVERAL_FUNDERS, funder_types_table
from programmes.models import AmountNature, FundingAmount
from programmes.services import funding_amount_save
from programmes.totals import JOINTLY, money_total
from tests.admin_forms import change_form_data

pytestmark = pytest.mark.django_db


def test_every_amount_on_a_government_key_commitment_names_its_funder():
    amounts = FundingAmount.objects.filter(
        commitment__section=Section.KEY_COMMITMENTS, commitment__actor=Actor.GOVERNMENT
    )
    assert amounts.exists()
    assert list(amounts.filter(funder__isnull=True).values_list("commitment__reference", "amount_text")) == []


def test_challenge_fund_money_is_funded_by_uk_research_and_innovation():
    challenge_fund = FundingAmount.objects.filter(programme__name="Industrial Strategy Challenge Fund")
    assert challenge_fund.exists()
    assert set(challenge_fund.values_list("funder__name", flat=True)) == {"UK Research and Innovation"}


def test_budget_money_is_funded_by_the_treasury():
    budget = FundingAmount.objects.filter(source_quote__contains="Budget 2018") | FundingAmount.objects.filter(
        commitment__text__contains="Budget 2018"
    )
    assert budget.exists()
    assert {amount.funder.name if amount.funder else None for amount in budget.select_related("funder")} == {
        "HM Treasury"
    }


def test_money_the_text_calls_government_funding_is_the_governments():
    government = FundingAmount.objects.filter(commitment__text__regex=r"of government funding|from government")
    assert government.exists()
    named = []
    for amount in government.select_related("commitment", "funder"):
        assert amount.commitment is not None
        sentence = amount.commitment.text
        if f"{amount.amount_text} of government funding" in sentence or (
            f"{amount.amount_text} from government" in sentence
        ):
            named.append(amount.key)
            assert getattr(amount.funder, "name", None) == "The government", amount.key
    assert named, "no amount the text calls government funding: the check above checked nothing"


# --- amounts the text gives several funders for ------------------------------------------------------------

# Every amount whose text names several funders, and them (docs/fixtures.md, Funders).
JOINT_FUNDERS = {
    "SD2-IDEAS-RD-S5-A1": {"Wellcome Trust", "UK Research and Innovation"},
    "SD2-BUSENV-NHS-S1-A1": {"Smith and Nephew", "Convatec"},
    "SD2-IDEAS-CLINRES-S3-A1": {"IQVIA Ltd.", "Genomics England"},
    "SD2-PLACES-SC16-A1": {"EU", "Welsh government"},
    "SD2-PLACES-SC17.1-A1": {
        "Canon Medical",
        "Philips",
        "Bering",
        "Cytosystems Ltd",
        "Deep Cognito Ltd",
        "Glencoe Software",
        "Intersystems",
        "Kheiron Medical Technologies",
        "Nvidia",
    },
    "SD1-BUSENV-MFG-G2-A2": {"Janssen Vaccines & Prevention B.V.", "MSD"},
    "SD2-PLACES-SC12-A1": {"Randox Laboratories", "Invest Northern Ireland"},
}


def _spellings(organisation) -> set[str]:
    return {organisation.name, *organisation.aliases.values_list("name", flat=True)}


def test_amounts_the_text_gives_several_funders_name_them_jointly_in_their_quote():
    jointly = FundingAmount.objects.filter(joint_funders__isnull=False).distinct()
    assert {amount.key: {o.name for o in amount.joint_funders.all()} for amount in jointly} == JOINT_FUNDERS
    for amount in jointly:
        assert amount.funder is None, amount.key
        assert amount.amount_text in amount.source_quote, amount.key
        for organisation in amount.joint_funders.all():
            assert any(name in amount.source_quote for name in _spellings(organisation)), (amount.key, organisation)


def test_where_the_text_gives_each_funders_share_each_share_is_an_amount_of_its_own():
    """Randox's £50m: "committing £27m ..., supported by a further £23m ... from Invest Northern Ireland"."""
    whole = FundingAmount.objects.get(key="SD2-PLACES-SC12-A1")
    shares = {getattr(part.funder, "name", None): part for part in whole.parts.all()}
    assert set(shares) == {"Randox Laboratories", "Invest Northern Ireland"}
    lows = [part.low for part in shares.values() if part.low is not None]
    assert len(lows) == len(shares)
    assert sum(lows) == whole.low
    assert all(part.nature == whole.nature for part in shares.values())


def test_no_share_is_invented():
    """An amount whose text gives no shares is never split; parts exist only where the text prints them."""
    for amount in FundingAmount.objects.filter(joint_funders__isnull=False).distinct():
        parts = list(amount.parts.select_related("funder"))
        if amount.key != "SD2-PLACES-SC12-A1":
            assert parts == [], amount.key
        for part in parts:
            assert part.amount_text in part.source_quote
            assert part.funder in set(amount.joint_funders.all()), (amount.key, part.key)


def test_a_fund_named_beside_an_organisation_is_the_commitments_programme_not_a_funder():
    """ "a £35m investment from the University of Reading and the European Regional Development Fund": the fund
    is a programme, not an organisation, and the text gives no shares: no funder, and the fund is linked."""
    amount = FundingAmount.objects.get(key="SD2-PLACES-SC2-A1")
    assert amount.commitment is not None
    assert "from the University of Reading and the European Regional Development Fund" in amount.commitment.text
    assert amount.funder is None
    assert not amount.joint_funders.exists()
    assert amount.nature not in AmountNature.totalled()
    assert amount.commitment.programmes.filter(name="European Regional Development Fund").exists()


def test_the_by_type_of_funder_table_counts_joint_amounts_in_a_row_of_their_own():
    day = date(2026, 1, 1)
    by_type = funding_by_funder_type(day)
    counted = counted_amounts(day).counted_in_totals()
    jointly = counted.filter(joint_funders__isnull=False).distinct()
    assert jointly.count() == 4  # Smith and Nephew's and Convatec's, IQVIA's and Genomics England's, ACCELERATE, Randox
    assert by_type[JOINTLY] == money_total(FundingAmount.objects.filter(pk__in=jointly.values("pk")))
    not_named = counted.filter(funder__isnull=True, joint_funders__isnull=True)
    assert by_type[""] == money_total(FundingAmount.objects.filter(pk__in=not_named.values("pk")))
    table = funder_types_table(by_type, funding_total(day))
    labels = [row[0].text for row in table.rows]
    assert SEVERAL_FUNDERS in labels
    assert labels[-1].startswith("Total")
    row = table.rows[labels.index(SEVERAL_FUNDERS)]
    assert row[1].text == "£114.0m (1 open-ended)"  # over £20m, £20m, £24m and £50m of new money


def test_the_service_keeps_one_funder_or_several_jointly(user_with_role):
    amount = FundingAmount.objects.get(key="SD2-BUSENV-NHS-S1-A1")
    reviewer = user_with_role(roles.REVIEWER)
    amount.funder = Organisation.objects.get(name="Smith and Nephew")
    with pytest.raises(ValidationError) as refusal:
        funding_amount_save(amount=amount, user=reviewer)
    assert "not both" in refusal.value.message_dict["joint_funders"][0]
    # One funder alone, the joint funders emptied: a correction staff may make, recorded in the history.
    funding_amount_save(amount=amount, user=reviewer, joint_funders=[])
    amount.refresh_from_db()
    assert amount.funder is not None
    assert not amount.joint_funders.exists()
    assert amount.history.first().history_change_reason == "Amount edited"


def test_the_admin_shows_a_funder_beside_joint_funders_on_the_field(client, user_with_role):
    amount = FundingAmount.objects.get(key="SD2-IDEAS-CLINRES-S3-A1")
    client.force_login(user_with_role(roles.REVIEWER))
    url = reverse("admin:programmes_fundingamount_change", args=[amount.pk])
    funder = Organisation.objects.get(name="IQVIA Ltd.")
    response = client.post(url, change_form_data(client.get(url), funder=funder.pk))
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"joint_funders"}
    amount.refresh_from_db()
    assert amount.funder is None
    # Emptying the joint funders and naming one funder goes through.
    response = client.post(url, change_form_data(client.get(url), funder=funder.pk, joint_funders=[]))
    assert response.status_code == 302, response.context["adminform"].form.errors
    amount.refresh_from_db()
    assert (amount.funder, amount.joint_funders.count()) == (funder, 0)


def test_the_commitments_funding_row_refuses_a_funder_beside_joint_funders_on_the_field(client, user_with_role):
    amount = FundingAmount.objects.get(key="SD2-IDEAS-CLINRES-S3-A1")
    assert amount.commitment is not None
    client.force_login(user_with_role(roles.REVIEWER))
    url = reverse("admin:commitments_commitment_change", args=[amount.commitment.pk])
    form = client.get(url)
    rows = next(
        inline.formset for inline in form.context["inline_admin_formsets"] if inline.formset.model is FundingAmount
    )
    row = next(row for row in rows.initial_forms if row.instance.pk == amount.pk)
    funder = Organisation.objects.get(name="IQVIA Ltd.")
    response = client.post(url, change_form_data(form, **{row.add_prefix("funder"): funder.pk}))
    assert response.status_code == 200
    (errors,) = [
        row.errors
        for inline in response.context["inline_admin_formsets"]
        for row in inline.formset.forms
        if inline.formset.model is FundingAmount and row.instance.pk == amount.pk
    ]
    assert "funder" in errors
    amount.refresh_from_db()
    assert amount.funder is None


def test_partners_read_the_joint_funders_of_an_amount(api_for):
    amount = FundingAmount.objects.get(key="SD2-IDEAS-CLINRES-S3-A1")
    response = api_for(roles.PARTNER).get(f"/api/v1/funding/{amount.key}/")
    assert response.status_code == 200
    body = response.json()
    assert body["funder"] is None
    assert sorted(body["joint_funders"]) == sorted(str(o.uuid) for o in amount.joint_funders.all())
    assert len(body["joint_funders"]) >= 2
