"""Money totals: the amounts a total counts, summed like with like, and the same money by programme.

Every money table and the stored programme figures sum through here, so each shows the same money the
funding overview counts (``FundingAmount.objects.counted_in_totals``) and none counts an amount twice. By
type of funder (``money_by_funder_type``), an amount counts under its one funder's kind, or, where the text
names several funders for it without their shares, under "jointly", never split by invented shares.
Programme attribution is one rule, written here as a pair: ``ProgrammeTree.counting`` decides it for one
amount, ``money_under_programmes`` sums it set-based for the funding page's table (``money_by_programme``)
and for the engine's programme scope (``metrics.engine``):

- an amount belongs to a programme only where the amount itself is attributed to it
  (``FundingAmount.programme``), never because its commitment is linked to the programme: a commitment
  linked to a fund and to a challenge inside it has its money counted once, where the amount says;
- a programme's figure is its own amounts plus those of the programmes inside it (``Programme.parent``),
  each amount once: every amount has one programme, so it reaches each fund above it once;
- the amounts attributed to no programme are a row of their own, so the top-level programmes and that
  row add up to the total.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, Exists, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from programmes.models import AmountNature, FundingAmount, FundingAmountQuerySet, Programme

ZERO = Decimal(0)


# The name each totalled nature's sums go by (in ``MONEY_AGGREGATES``, ``Money`` and ``QuarterMetric``).
_FIGURE_NAMES: dict[AmountNature, str] = {
    AmountNature.NEW_MONEY: "new_money",
    AmountNature.RESTATED: "restated",
    AmountNature.TARGET: "target",
}
assert set(_FIGURE_NAMES) == set(AmountNature.totalled()), "every totalled nature has its sums"  # noqa: S101


def _nature_sums(nature: str, name: str) -> dict[str, Any]:
    """Low and high sums of one nature: "up to X" counts 0 low, "over X" its floor in both."""
    of_nature = Q(nature=nature)
    return {
        f"{name}_low": Coalesce(Sum(Coalesce("low", Value(ZERO)), filter=of_nature), Value(ZERO)),
        f"{name}_high": Coalesce(Sum(Coalesce("high", "low"), filter=of_nature), Value(ZERO)),
    }


# The aggregates of every money total: new money, restated money and targets apart (the natures
# ``AmountNature.totalled`` names), open-ended new money counted, and how many amounts were summed.
MONEY_AGGREGATES: dict[str, Any] = {
    **{key: value for nature, name in _FIGURE_NAMES.items() for key, value in _nature_sums(nature, name).items()},
    "new_money_open_ended": Count("pk", filter=Q(nature=AmountNature.NEW_MONEY, high__isnull=True)),
    "amounts": Count("pk"),
}


@dataclass
class Money:
    """Sums of counted amounts: new money, restated money and targets apart, each as low and high bounds."""

    new_money_low: Decimal = ZERO
    new_money_high: Decimal = ZERO
    new_money_open_ended: int = 0
    restated_low: Decimal = ZERO
    restated_high: Decimal = ZERO
    target_low: Decimal = ZERO
    target_high: Decimal = ZERO
    amounts: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Money:
        """The sums of one row of ``MONEY_AGGREGATES`` (counts stay whole numbers, sums become Decimals)."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            value = row.get(item.name) or 0
            values[item.name] = int(value) if item.type == "int" else Decimal(value)
        return cls(**values)

    def of(self, nature: str) -> tuple[Decimal, Decimal]:
        """The low and high sums of one of the natures ``AmountNature.totalled`` names."""
        name = _FIGURE_NAMES[AmountNature(nature)]
        low: Decimal = getattr(self, f"{name}_low")
        high: Decimal = getattr(self, f"{name}_high")
        return low, high

    def __add__(self, other: Money) -> Money:
        return Money(**{item.name: getattr(self, item.name) + getattr(other, item.name) for item in fields(self)})

    def is_empty(self) -> bool:
        """No amount summed."""
        return self.amounts == 0

    def figures(self) -> dict[str, Any]:
        """The sums as the stored figures name them (``QuarterMetric``): every field but the count of amounts."""
        return {item.name: getattr(self, item.name) for item in fields(self) if item.name != "amounts"}


def money_total(amounts: FundingAmountQuerySet) -> Money:
    """The counted part of ``amounts`` summed like with like (one query)."""
    return Money.from_row(amounts.counted_in_totals().aggregate(**MONEY_AGGREGATES))


# The type of funder of an amount the text gives several funders for (``FundingAmount.joint_funders``): none
# of their kinds alone, since the text gives no share to put under each (where it does, each share is an
# amount of its own, with its funder, part of the whole).
JOINTLY = "jointly"


def money_by_funder_type(amounts: FundingAmountQuerySet) -> dict[str, Money]:
    """The counted part of ``amounts`` by the type of its funder (one query).

    An amount with one funder counts under that funder's kind (``OrganisationKind``), one with joint funders
    under ``JOINTLY``, and one whose text names no funder under ``""``; each amount once, so the rows add up to
    ``money_total``.
    """
    jointly = Exists(FundingAmount.joint_funders.through.objects.filter(fundingamount_id=OuterRef("pk")))
    funder_type = Case(When(jointly, then=Value(JOINTLY)), default=Coalesce("funder__kind", Value("")))
    rows = (
        amounts.counted_in_totals()
        .annotate(funder_type=funder_type)
        .values("funder_type")
        .annotate(**MONEY_AGGREGATES)
        .order_by()
    )
    return {row["funder_type"]: Money.from_row(row) for row in rows}


@dataclass(frozen=True)
class ProgrammeTree:
    """The programmes as attribution reads them: each one's parent, UUID (its scope key) and name."""

    parent: Mapping[int, int | None]
    uuid: Mapping[int, str]
    name: Mapping[int, str]

    @classmethod
    def load(cls) -> ProgrammeTree:
        """Every programme (one query)."""
        rows = Programme.objects.values_list("pk", "parent_id", "uuid", "name").order_by()
        parent, uuid, name = {}, {}, {}
        for pk, parent_id, key, label in rows:
            parent[pk], uuid[pk], name[pk] = parent_id, str(key), label
        return cls(parent, uuid, name)

    def counting(self, programme_id: int | None) -> tuple[int, ...]:
        """The programmes an amount attributed to ``programme_id`` counts under, each once.

        That programme and every programme it is part of, nearest first; none for an amount attributed to
        no programme. A parent loop written past the model's validation stops where it closes.
        """
        chain: list[int] = []
        while programme_id is not None and programme_id not in chain:
            chain.append(programme_id)
            programme_id = self.parent.get(programme_id)
        return tuple(chain)


def _rolled_up(own: Mapping[int | None, Money], tree: ProgrammeTree) -> dict[int, Money]:
    """Each programme's own money added to every programme it counts under (``ProgrammeTree.counting``)."""
    under: dict[int, Money] = defaultdict(Money)
    for programme_id, money in own.items():
        for pk in tree.counting(programme_id):
            under[pk] = under[pk] + money
    return dict(under)


def money_under_programmes(
    amounts: FundingAmountQuerySet, *, per: str | None = None, tree: ProgrammeTree | None = None
) -> dict[Any, dict[int, Money]]:
    """The counted part of ``amounts`` under every programme it counts under (``ProgrammeTree.counting``).

    By programme id; with ``per`` (a field of the amount, e.g. ``"commitment_id"``), apart for each value
    of that field, keyed by it (otherwise all under ``None``). Programmes no counted amount reaches are
    left out. One query, and one for the programmes when ``tree`` is not given.
    """
    tree = tree or ProgrammeTree.load()
    rows = amounts.counted_in_totals().filter(programme__isnull=False)
    own: dict[Any, dict[int | None, Money]] = defaultdict(dict)
    for row in rows.values(*([per] if per else []), "programme_id").annotate(**MONEY_AGGREGATES).order_by():
        own[row[per] if per else None][row["programme_id"]] = Money.from_row(row)
    return {key: _rolled_up(by_programme, tree) for key, by_programme in own.items()}


@dataclass
class ProgrammeMoney:
    """One programme's money: its own amounts, and with the programmes inside it (``total``)."""

    programme_id: int
    uuid: str
    name: str
    parent_id: int | None
    depth: int = 0
    own: Money = field(default_factory=Money)
    total: Money = field(default_factory=Money)


@dataclass
class MoneyByProgramme:
    """Money by programme: the programmes (each fund before the programmes inside it), the rest, the total.

    The top-level programmes (depth 0) and ``not_attributed`` add up to ``total``; a row deeper down is
    part of the row above it.
    """

    programmes: list[ProgrammeMoney]
    not_attributed: Money
    total: Money

    def top_level(self) -> list[ProgrammeMoney]:
        """The programmes part of no other: with ``not_attributed`` they add up to the total."""
        return [row for row in self.programmes if row.parent_id is None]


def money_by_programme(amounts: FundingAmountQuerySet) -> MoneyByProgramme:
    """The counted part of ``amounts`` by the programme each amount is attributed to, funds rolled up (two queries).

    A programme is listed when it or a programme inside it has a counted amount; a fund is listed before
    the programmes inside it, each level by name. Its ``total`` is what ``money_under_programmes`` gives it.
    """
    tree = ProgrammeTree.load()
    rows = amounts.counted_in_totals().values("programme_id").annotate(**MONEY_AGGREGATES).order_by()
    own = {row["programme_id"]: Money.from_row(row) for row in rows}
    not_attributed = own.pop(None, Money())
    totals = _rolled_up(own, tree)
    children: dict[int | None, list[ProgrammeMoney]] = defaultdict(list)
    for pk, parent_id in tree.parent.items():
        item = ProgrammeMoney(pk, tree.uuid[pk], tree.name[pk], parent_id, depth=len(tree.counting(pk)) - 1)
        item.own, item.total = own.get(pk, Money()), totals.get(pk, Money())
        children[parent_id].append(item)

    listed: list[ProgrammeMoney] = []

    def walk(items: Iterable[ProgrammeMoney]) -> None:
        for item in sorted(items, key=lambda row: row.name.casefold()):
            if item.total.is_empty():
                continue
            listed.append(item)
            walk(children.get(item.programme_id, []))

    walk(children[None])
    total = not_attributed
    for root in children[None]:
        total = total + root.total
    return MoneyByProgramme(programmes=listed, not_attributed=not_attributed, total=total)
