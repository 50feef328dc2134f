"""The stored programme figures count money as the funding page does: where the amount itself is attributed.

An amount counts under the programme it is attributed to (``FundingAmount.programme``) and every programme
that one is part of, once each, never under every programme its commitment is linked to
(``programmes.totals``, the one rule the funding page's table and the engine both call). The stored
figures of every programme (``QuarterMetric``, scope ``programme``) equal the funding page's by-programme
table for the seeded data, the top-level programmes and the money attributed to none add up to the
tracker's money, and the incremental path keeps them so after edits that move money between programmes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import F
from django.urls import reverse

from commitments import roles
from commitments.models import Commitment
from commitments.periods import Quarter
from metrics.dashboards import funding_by_programme, funding_total
from metrics.engine import MONEY_FIELDS, TRACKER_KEY
from metrics.models import QuarterMetric, ScopeType
from metrics.services import metrics_recompute
from programmes.models import AmountNature, FundingAmount, Programme
from programmes.totals import Money
from tests.admin_forms import change_form_data
from tests.test_edits_reach_figures import eager_tasks, figures_follow  # noqa: F401  (the figures' fixtures)
from tests.test_metrics import CHECKED

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_tasks")]

QUARTERS = [*CHECKED, Quarter.containing(date.today())]


def _stored_money(quarter: Quarter, scope_type: str = ScopeType.PROGRAMME) -> dict[str, dict[str, Decimal]]:
    # Every commitment's money (population all), as the funding page's tables sum it by default.
    rows = QuarterMetric.objects.filter(
        quarter__year=quarter.year,
        quarter__number=quarter.number,
        basis="live",
        population="all",
        scope_type=scope_type,
    )
    return {row.scope_key: {name: getattr(row, name) for name in MONEY_FIELDS} for row in rows}


def _figures(money: Money) -> dict[str, object]:
    return money.figures()


def _is_empty(figures: dict[str, Decimal]) -> bool:
    return not any(figures.values())


def test_the_stored_programme_money_is_the_funding_pages_table_for_every_programme_and_quarter():
    metrics_recompute(quarters=QUARTERS)
    for quarter in QUARTERS:
        table = funding_by_programme(quarter.end)
        stored = _stored_money(quarter)
        listed = {row.uuid: _figures(row.total) for row in table.programmes}
        assert listed, quarter.label
        # Every programme the table lists has its stored row, with the same money ...
        assert {key: stored.get(key) for key in listed} == listed, quarter.label
        # ... and no other stored programme row holds money.
        assert all(_is_empty(figures) for key, figures in stored.items() if key not in listed), quarter.label


def test_no_amount_counts_twice_in_the_stored_programme_money():
    """Each programme's stored money is the distinct amounts attributed under it; the top level adds up."""
    quarter = QUARTERS[-1]
    metrics_recompute(quarters=[quarter])
    stored = _stored_money(quarter)
    # Looked up by an optional link (an amount's programme, a programme's parent): None finds nothing.
    programmes: dict[int | None, Programme] = {programme.pk: programme for programme in Programme.objects.all()}
    under: dict[str, set[int]] = {}
    counted = (
        FundingAmount.objects.filter(commitment__published=True, commitment__deal__published_on__lte=quarter.end)
        .filter(nature__in=AmountNature.totalled())
        .exclude(part_of__nature=F("nature"))
    )
    amounts = {amount.pk: amount for amount in counted}
    for amount in amounts.values():
        programme, seen = programmes.get(amount.programme_id), []
        while programme is not None:
            assert programme.pk not in seen
            seen.append(programme.pk)
            under.setdefault(str(programme.uuid), set()).add(amount.pk)
            programme = programmes.get(programme.parent_id)
    assert set(under) == {key for key, figures in stored.items() if not _is_empty(figures)}
    for key, pks in under.items():
        new_money = [amounts[pk] for pk in pks if amounts[pk].nature == AmountNature.NEW_MONEY]
        high = sum((a.high if a.high is not None else (a.low or Decimal(0)) for a in new_money), Decimal(0))
        assert stored[key]["new_money_high"] == high, Programme.objects.get(uuid=key).name
    # The programmes inside no other, and the money attributed to none, add up to the tracker's money.
    top = [str(p.uuid) for p in programmes.values() if p.parent_id is None and str(p.uuid) in stored]
    tracker = _stored_money(quarter, ScopeType.TRACKER)[TRACKER_KEY]
    not_attributed = funding_by_programme(quarter.end).not_attributed.figures()
    for name in MONEY_FIELDS:
        assert sum(stored[key][name] for key in top) + not_attributed[name] == tracker[name], name
    assert tracker == funding_total(quarter.end).figures()


def test_a_fund_and_its_challenge_count_a_commitments_money_once_each():
    """The £79m of the Accelerating detection of disease challenge: once under it, once under each fund above."""
    quarter = QUARTERS[-1]
    metrics_recompute(quarters=[quarter])
    stored = _stored_money(quarter)
    amount = FundingAmount.objects.get(commitment__reference="SD2-IDEAS-HARP-G1", amount_text="up to £79m")
    assert amount.commitment is not None
    linked = set(amount.commitment.programmes.values_list("name", flat=True))
    assert {"Accelerating detection of disease", "Industrial Strategy Challenge Fund"} <= linked
    challenge = Programme.objects.get(name="Accelerating detection of disease")
    assert challenge.parent is not None
    wave = challenge.parent
    assert wave.parent is not None
    fund = wave.parent
    assert fund.name == "Industrial Strategy Challenge Fund"
    assert stored[str(challenge.uuid)]["new_money_high"] == Decimal(79_000_000)
    # The wave has no commitment of its own: its row is the money of the challenge inside it.
    assert stored[str(wave.uuid)]["new_money_high"] == Decimal(79_000_000)
    wave_row = QuarterMetric.objects.get(
        quarter__year=quarter.year,
        quarter__number=quarter.number,
        basis="live",
        population="all",
        scope_type=ScopeType.PROGRAMME,
        scope_key=str(wave.uuid),
    )
    assert wave_row.commitments == 0
    # The fund's money is the amounts attributed under it, the £79m once, not the commitments linked to it.
    table = {row.name: row.total for row in funding_by_programme(quarter.end).programmes}
    assert stored[str(fund.uuid)] == table[fund.name].figures()


def test_grow_medtech_is_the_9_5m_the_text_gives_it():
    quarter = QUARTERS[-1]
    metrics_recompute(quarters=[quarter])
    grow_medtech = Programme.objects.get(name="Grow Medtech")
    figures = _stored_money(quarter)[str(grow_medtech.uuid)]
    assert (figures["new_money_low"], figures["new_money_high"]) == (Decimal(9_500_000), Decimal(9_500_000))
    assert figures["target_high"] == 0


# --- the incremental path: edits that move money between programmes ------------------------------------


def test_moving_an_amount_to_another_programme_moves_its_money(client, user_with_role, figures_follow):  # noqa: F811
    amount = FundingAmount.objects.get(commitment__reference="SD2-IDEAS-HARP-G1", amount_text="up to £79m")
    target = Programme.objects.get(name="Grow Medtech")
    client.force_login(user_with_role(roles.REVIEWER))
    url = reverse("admin:programmes_fundingamount_change", args=[amount.pk])

    def edit() -> None:
        response = client.post(url, change_form_data(client.get(url), programme=target.pk))
        assert response.status_code == 302, response.context["adminform"].form.errors

    after = figures_follow(edit)[CHECKED[-1]]
    assert after[(ScopeType.PROGRAMME, str(target.uuid))]["new_money_high"] == Decimal(88_500_000)


def test_moving_a_programme_into_another_fund_moves_its_money(client, user_with_role, figures_follow):  # noqa: F811
    challenge = Programme.objects.get(name="Accelerating detection of disease")
    fund = Programme.objects.get(name="Industrial Strategy Challenge Fund")
    client.force_login(user_with_role(roles.REVIEWER))
    url = reverse("admin:programmes_programme_change", args=[challenge.pk])
    before = figures_follow(lambda: None, moves=False)[CHECKED[-1]]
    wave_key = (ScopeType.PROGRAMME, str(challenge.parent.uuid))  # type: ignore[union-attr]

    def edit() -> None:
        response = client.post(url, change_form_data(client.get(url), parent=fund.pk))
        assert response.status_code == 302, response.context["adminform"].form.errors

    after = figures_follow(edit)[CHECKED[-1]]
    # The wave held only the challenge's money: with the challenge moved out, it has no row.
    assert before[wave_key]["new_money_high"] == Decimal(79_000_000)
    assert wave_key not in after
    fund_key = (ScopeType.PROGRAMME, str(fund.uuid))
    assert after[fund_key]["new_money_high"] == before[fund_key]["new_money_high"]


def test_withdrawing_a_commitment_takes_its_money_from_programmes_it_is_not_linked_to(
    client,
    user_with_role,
    figures_follow,  # noqa: F811
):
    commitment = Commitment.objects.get(reference="SD1-IDEAS-HARP-G1")
    amount = commitment.funding.get(nature=AmountNature.NEW_MONEY)
    assert amount.programme is not None
    assert not commitment.programmes.filter(pk=amount.programme.pk).exists()
    key = (ScopeType.PROGRAMME, str(amount.programme.uuid))
    before = figures_follow(lambda: None, moves=False)[CHECKED[-1]]
    assert before[key]["commitments"] == 0
    assert before[key]["new_money_high"] == amount.high
    client.force_login(user_with_role(roles.REVIEWER))
    url = reverse("admin:commitments_commitment_changelist")

    def withdraw() -> None:
        response = client.post(url, {"action": "withdraw_selected", "_selected_action": [commitment.pk]})
        assert response.status_code in (200, 302)

    after = figures_follow(withdraw)[CHECKED[-1]]
    assert key not in after
