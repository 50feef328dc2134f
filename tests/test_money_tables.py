"""The money tables of the funding page, read as a board member reads them, against the amounts in the database.

Every money table has a total row equal to the funding overview ("Money committed and spent"); its rows
add up to it; no amount is counted twice; by programme, an amount counts only under the programme it is
attributed to, and a fund's figure is its own amounts plus those of the programmes inside it.
The page prints pounds in millions to one decimal place, so sums of printed rows are compared within the
rounding of the rows added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import F
from django.urls import reverse

from commitments import roles
from commitments.periods import Quarter
from metrics.services import metrics_recompute
from programmes.models import AmountNature, FundingAmount, Programme

pytestmark = pytest.mark.django_db

NATURES = list(AmountNature.totalled())
HALF_ROUNDING = Decimal("0.05")  # £m: what printing one figure to £0.1m can move it by
TOTAL = "Total"
_RANGE = re.compile(r"^£(?P<low>[\d,.]+)m(?: to £(?P<high>[\d,.]+)m)?")


def _bounds(text: str) -> tuple[Decimal, Decimal]:
    """'£0.0m to £79.0m (2 open-ended)' -> (0.0, 79.0), in millions."""
    match = _RANGE.match(text)
    assert match, text
    low = Decimal(match["low"].replace(",", ""))
    return low, Decimal((match["high"] or match["low"]).replace(",", ""))


def _millions(pounds: Decimal) -> Decimal:
    return pounds / 1_000_000


@pytest.fixture
def page(client_for):
    """The funding page of the current quarter, its figures computed (pages open on the last completed one),
    counting everything: the amounts checked here are those of every kind of commitment."""
    quarter = Quarter.containing(date.today())
    metrics_recompute(quarters=[quarter])
    response = client_for(roles.BOARD_MEMBER).get(
        reverse("dashboards:funding"), {"quarter": quarter.label, "population": "all"}
    )
    assert response.status_code == 200
    return response


def _tables(page):
    return page.context["tables"]


def _overview(page) -> dict[str, tuple[Decimal, Decimal]]:
    """The funding overview's money, by nature."""
    starts = {
        AmountNature.NEW_MONEY: "New money committed",
        AmountNature.RESTATED: "Previously announced money",
        AmountNature.TARGET: "Targets",
    }
    found: dict[str, tuple[Decimal, Decimal]] = {}
    for row in _tables(page)["money"].rows:
        for nature, start in starts.items():
            if row[0].text.startswith(start):
                found[nature] = _bounds(row[1].text)
    assert set(found) == set(NATURES)
    return found


def _figures(row, first: int) -> dict[str, tuple[Decimal, Decimal]]:
    return {nature: _bounds(row[first + index].text) for index, nature in enumerate(NATURES)}


def _counted(day: date):
    """The amounts the overview counts on ``day``, selected here from the rules in docs/metrics.md."""
    return (
        FundingAmount.objects.filter(
            commitment__published=True, commitment__deal__published_on__lte=day, nature__in=NATURES
        )
        .exclude(part_of__isnull=False, part_of__nature=F("nature"))
        .select_related("programme")
    )


def _sum(amounts) -> dict[str, tuple[Decimal, Decimal]]:
    """Low and high sums by nature, in millions: 'up to' counts 0 low, 'over' its floor in both."""
    sums: dict[str, tuple[Decimal, Decimal]] = {nature: (Decimal(0), Decimal(0)) for nature in NATURES}
    for amount in amounts:
        low, high = sums[amount.nature]
        sums[amount.nature] = (
            low + _millions(amount.low or Decimal(0)),
            high + _millions(amount.high if amount.high is not None else amount.low),
        )
    return sums


def _added(bounds: Iterable[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal]:
    """The low and high ends of ``bounds``, each added up."""
    low, high = Decimal(0), Decimal(0)
    for each_low, each_high in bounds:
        low, high = low + each_low, high + each_high
    return low, high


def _close(printed: tuple[Decimal, Decimal], exact: tuple[Decimal, Decimal], rows: int = 1) -> bool:
    return all(abs(a - b) <= HALF_ROUNDING * rows for a, b in zip(printed, exact, strict=True))


def _ancestors(programme: Programme | None, parents: Mapping[int, int | None]) -> list[int]:
    chain, pk = [], programme.pk if programme else None
    while pk is not None:
        chain.append(pk)
        pk = parents[pk]
    return chain


def test_every_money_table_has_a_total_row_equal_to_the_funding_overview(page):
    overview = _overview(page)
    assert overview[AmountNature.NEW_MONEY][1] > 0
    for table_id, first in (("funder_types", 1), ("programmes", 2)):
        total = _tables(page)[table_id].rows[-1]
        assert total[0].text.startswith(TOTAL), table_id
        assert _figures(total, first) == overview, table_id


def test_the_totals_are_every_counted_amount_once(page):
    exact = _sum(_counted(date.today()))
    overview = _overview(page)
    for nature in NATURES:
        assert _close(overview[nature], exact[nature]), nature


def test_each_money_table_adds_up_to_its_total_row(page):
    by_type = _tables(page)["funder_types"].rows
    assert len(by_type) >= 3
    by_programme = _tables(page)["programmes"].rows
    # Only the rows inside no other row are added: a fund's row already includes the programmes inside it.
    added = [row for row in by_programme[:-1] if not row[1].text]
    assert any(row[1].text for row in by_programme), "programmes inside funds are listed"
    for rows, total_row, first in ((by_type[:-1], by_type[-1], 1), (added, by_programme[-1], 2)):
        total = _figures(total_row, first)
        for nature in NATURES:
            summed = _added(_figures(row, first)[nature] for row in rows)
            assert _close(summed, total[nature], len(rows)), (first, nature, summed, total[nature])


def test_by_programme_each_amount_counts_under_its_own_programme_and_the_funds_above_it_once(page):
    """Every row equals the amounts attributed to it or to a programme inside it, each amount once."""
    parents = dict(Programme.objects.values_list("pk", "parent_id"))
    names = dict(Programme.objects.values_list("name", "pk"))
    under: dict[int | None, list[FundingAmount]] = {}
    for amount in _counted(date.today()):
        chain = _ancestors(amount.programme, parents)
        assert len(chain) == len(set(chain))
        for pk in chain or (None,):
            under.setdefault(pk, []).append(amount)
    rows = _tables(page)["programmes"].rows
    listed = {row[0].text: row for row in rows[:-2]}
    assert set(listed) == {name for name, pk in names.items() if pk in under}
    for name, row in listed.items():
        exact = _sum(under[names[name]])
        for nature in NATURES:
            assert _close(_figures(row, 2)[nature], exact[nature]), (name, nature)
    not_attributed = rows[-2]
    assert not_attributed[0].text == "Not attributed to a programme"
    exact = _sum(under.get(None, []))
    for nature in NATURES:
        assert _close(_figures(not_attributed, 2)[nature], exact[nature]), nature


def test_a_fund_is_its_own_amounts_plus_the_programmes_inside_it(page):
    rows = _tables(page)["programmes"].rows[:-2]
    names = dict(Programme.objects.values_list("name", "pk"))
    own_amounts: dict[int, list[FundingAmount]] = {}
    for amount in _counted(date.today()):
        if amount.programme_id:
            own_amounts.setdefault(amount.programme_id, []).append(amount)
    funds = [row for row in rows if any(other[1].text == row[0].text for other in rows)]
    assert funds
    for fund in funds:
        inside = [row for row in rows if row[1].text == fund[0].text]
        own = _sum(own_amounts.get(names[fund[0].text], []))
        for nature in NATURES:
            summed = _added([own[nature], *(_figures(row, 2)[nature] for row in inside)])
            assert _close(_figures(fund, 2)[nature], summed, len(inside) + 1), (fund[0].text, nature)


def _source_text() -> str:
    path = next(Path(settings.FIXTURES_DIR, "sources").glob("002_*.txt"))
    return " ".join(path.read_text(encoding="utf-8").split())


def _row(page, name: str):
    return next(row for row in _tables(page)["programmes"].rows if row[0].text == name)


def test_the_79m_for_accelerating_detection_of_disease_is_counted_once_under_the_challenge_and_its_fund(page):
    amount = FundingAmount.objects.get(commitment__reference="SD2-IDEAS-HARP-G1", amount_text="up to £79m")
    assert amount.commitment is not None
    assert "\u2018Accelerating detection of disease\u2019 challenge, backed by up to £79m" in amount.commitment.text
    assert "challenge, backed by up to £79m" in _source_text()
    challenge_programme = amount.programme
    assert challenge_programme is not None
    assert challenge_programme.name == "Accelerating detection of disease"
    assert challenge_programme.parent is not None
    assert challenge_programme.parent.parent is not None
    assert challenge_programme.parent.parent.name == "Industrial Strategy Challenge Fund"
    challenge = _row(page, "Accelerating detection of disease")
    assert challenge[2].text == "£0.0m to £79.0m"
    # The commitment is linked to the fund as well; its money is still counted once, through the challenge.
    assert set(amount.commitment.programmes.values_list("name", flat=True)) >= {
        "Accelerating detection of disease",
        "Industrial Strategy Challenge Fund",
    }
    fund = _row(page, "Industrial Strategy Challenge Fund")
    attributed_below = FundingAmount.objects.filter(pk=amount.pk, programme__parent__parent__name=fund[0].text)
    assert attributed_below.count() == 1


def test_grow_medtech_shows_the_9_5m_the_text_gives_it_not_its_commitments_other_money(page):
    assert "a further £9.5m to back Grow Medtech" in _source_text()
    commitment_money = FundingAmount.objects.filter(
        commitment__programmes__name="Grow Medtech", nature=AmountNature.NEW_MONEY
    )
    assert commitment_money.count() > 1  # £70m and £15m of the Leeds Medtech Hub are in the same sentence
    row = _row(page, "Grow Medtech")
    assert row[2].text == "£9.5m"
