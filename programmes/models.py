"""Programmes, funds and the money the documents attach to them and to commitments.

Money is kept as written and as bounds: see docs/adr/0001-domain-model.md for why an amount is never
flattened to one number, and how "part of" links stop totals from counting the same pounds twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from commitments.models import CODE_VALIDATOR, Commitment, CommitmentQuerySet, Organisation, SourcedModel
from lsis.models import PublicModel, VersionedModel, link_chain_reaches
from programmes.money import AmountQualifier

_NOT_NEGATIVE = MinValueValidator(0, message="An amount of money cannot be negative.")


class ProgrammeKind(models.TextChoices):
    """What sort of vehicle a programme is."""

    FUND = "fund", "Fund"
    PROGRAMME = "programme", "Programme"
    CHALLENGE = "challenge", "Challenge"
    INITIATIVE = "initiative", "Initiative"


class Programme(VersionedModel, PublicModel, SourcedModel):
    """A named programme, fund, challenge or initiative through which commitments are delivered."""

    name = models.CharField(max_length=300, unique=True)
    short_name = models.CharField(max_length=40, blank=True, help_text="The abbreviation the documents print.")
    kind = models.CharField(max_length=20, choices=ProgrammeKind.choices)
    funder = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="funded_programmes"
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The fund or programme this one is part of.",
    )
    commitments = models.ManyToManyField(Commitment, blank=True, related_name="programmes")

    history = HistoricalRecords(excluded_fields=["modified_at"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.short_name})" if self.short_name else self.name

    def clean(self) -> None:
        """A programme cannot sit inside itself, directly or through others."""
        if link_chain_reaches(self, "parent"):
            raise ValidationError({"parent": "That parent would make the programme part of itself."})


class AmountNature(models.TextChoices):
    """What an amount of money is, so that only like is added to like.

    Money already spent before the deal (a centre "opened in March 2018", a company that "has invested")
    and economy-wide money (Budget 2018 science funding, the patient capital action plan) are context:
    shown beside a commitment, never added to the life sciences totals. ``totalled`` is that rule.
    """

    NEW_MONEY = "new_money", "New money"
    RESTATED = "restated", "Previously announced, restated"
    TARGET = "target", "Target or ambition"
    CONTEXT = "context", "Economy-wide context"
    ALREADY_INVESTED = "already_invested", "Already invested (context)"
    LEVERAGED = "leveraged", "Leveraged or matched funding"

    @classmethod
    def totalled(cls) -> tuple[AmountNature, ...]:
        """The natures summed into the life sciences totals, each apart from the others."""
        return (cls.NEW_MONEY, cls.RESTATED, cls.TARGET)


class FundingAmountQuerySet(models.QuerySet["FundingAmount"]):
    """Queries over amounts of money."""

    def counted_in_totals(self) -> FundingAmountQuerySet:
        """The amounts the money totals add up: of a totalled nature, and not part of another of the same nature.

        An amount that sits inside a larger one of the same nature is counted there, never twice; context,
        already-invested and leveraged money is never counted. Every money total calls this.
        """
        return self.filter(nature__in=AmountNature.totalled()).exclude(
            part_of__isnull=False, part_of__nature=models.F("nature")
        )


class FundingAmount(VersionedModel, PublicModel, SourcedModel):
    """An amount of money as a document states it, attached to a commitment or a programme."""

    key = models.CharField(max_length=80, unique=True, validators=[CODE_VALIDATOR])
    amount_text = models.CharField(max_length=100, help_text='As written, e.g. "up to £79m".')
    qualifier = models.CharField(max_length=10, choices=AmountQualifier.choices)
    low = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[_NOT_NEGATIVE],
        help_text="Lower bound in pounds; empty when the wording states none (“up to”).",
    )
    high = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[_NOT_NEGATIVE],
        help_text="Upper bound in pounds; empty when the wording states none (“over”).",
    )
    nature = models.CharField(max_length=20, choices=AmountNature.choices)
    funder = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.PROTECT, related_name="funding_given"
    )
    joint_funders = models.ManyToManyField(
        Organisation,
        blank=True,
        related_name="funding_given_jointly",
        help_text="Where the text names several organisations as the source of this one amount without giving each "
        "its share (“a £15.6m grant from Wellcome Trust and UKRI”): all of them. The funder is then left empty; "
        "no share is ever invented.",
    )
    commitment = models.ForeignKey(Commitment, null=True, blank=True, on_delete=models.PROTECT, related_name="funding")
    programme = models.ForeignKey(Programme, null=True, blank=True, on_delete=models.PROTECT, related_name="funding")
    part_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parts",
        help_text="The larger amount this one sits inside, so that totals never count it twice.",
    )
    period_text = models.CharField(max_length=100, blank=True, help_text='As written, e.g. "over five years".')

    objects = FundingAmountQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["modified_at"], m2m_fields=[joint_funders])

    class Meta:
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(low__isnull=False) | models.Q(high__isnull=False),
                name="funding_has_a_bound",
            ),
            models.CheckConstraint(
                condition=(models.Q(low__isnull=True) | models.Q(low__gte=0))
                & (models.Q(high__isnull=True) | models.Q(high__gte=0)),
                name="funding_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(low__isnull=True)
                | models.Q(high__isnull=True)
                | models.Q(low__lte=models.F("high")),
                name="funding_low_not_above_high",
            ),
            models.CheckConstraint(
                condition=models.Q(commitment__isnull=False) | models.Q(programme__isnull=False),
                name="funding_belongs_somewhere",
            ),
        ]

    def __str__(self) -> str:
        return self.amount_text

    def clean(self) -> None:
        """Bounds in order, attached to something, and no "part of" loop."""
        errors: dict[str, str] = {}
        if self.low is None and self.high is None:
            errors["low"] = "Give at least one bound: the lower, the upper or both."
        elif self.low is not None and self.high is not None and self.low > self.high:
            errors["high"] = f"The upper bound (£{self.high:,.0f}) is below the lower bound (£{self.low:,.0f})."
        if self.commitment_id is None and self.programme_id is None:
            errors["commitment"] = "Attach the amount to a commitment or a programme."
        if self.part_of_id is not None and link_chain_reaches(self, "part_of"):
            errors["part_of"] = (
                "That would make the amount part of itself; “part of” links cannot go round in a circle."
            )
        if errors:
            raise ValidationError(errors)

    @staticmethod
    def joint_funders_refusal(*, funder: Organisation | None, joint_funders: Iterable[Organisation]) -> str | None:
        """Why ``joint_funders`` cannot stand beside ``funder``, or None: one funder, or several jointly, not both."""
        count = len(set(joint_funders))
        if count == 1:
            return "Name one organisation as the funder; joint funders are two or more named for one amount."
        if count and funder is not None:
            return "An amount has one funder or several joint funders, not both: empty the funder."
        return None


def with_funding_and_programmes(commitments: CommitmentQuerySet) -> CommitmentQuerySet:
    """``commitments`` with the money and the programmes their full record shows (API, exports) prefetched.

    Here rather than in the commitments app, which sits below this one and knows neither: whoever composes
    a commitment's record with its money adds this to ``Commitment.objects.with_details()``. Three queries
    whatever the number of commitments.
    """
    return commitments.prefetch_related(
        models.Prefetch(
            "funding",
            queryset=FundingAmount.objects.select_related("funder")
            .prefetch_related(models.Prefetch("joint_funders", queryset=Organisation.objects.only("uuid", "name")))
            .order_by("key"),
        ),
        models.Prefetch("programmes", queryset=Programme.objects.only("uuid", "name", "short_name").order_by("name")),
    )
