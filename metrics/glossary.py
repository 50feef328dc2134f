"""The glossary: what every delivery status, confidence rating, measure and nature of money means.

One source for both readers of it: the web page ``/glossary/`` (``metrics.views.pages``) and the API's
``/api/v1/glossary/`` (``metrics.api.glossary``). It lives in ``metrics``, the top layer, because it
gathers the vocabularies of every app: statuses and ratings from ``commitments.delivery``, the natures of
money from ``programmes.models.AmountNature`` (whose ``totalled`` rule says which are added up), and the
measures the figures are made of (``metrics.engine.FIGURE_FIELDS``, defined in words in docs/metrics.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from commitments.delivery import CONFIDENCE_MEANINGS, STATUS_MEANINGS, DeliveryConfidence, DeliveryStatus
from metrics.engine import FIGURE_FIELDS
from programmes.models import AmountNature

#: The figures worked out on reading from the stored ones (``QuarterMetric``'s properties).
DERIVED_MEASURES = ("share_delivered", "mean_progress", "freshness")

#: Every measure a quarter's figures hold, by its name in the API: (label, meaning). Only those the
#: figures hold are listed (``measures``); ``tests/test_pages.py`` checks that each of them has one.
MEASURE_MEANINGS: dict[str, tuple[str, str]] = {
    "commitments": (
        "Commitments",
        "Commitments counted in the scope on the day: published, of a deal published by then. The figures count "
        "the deals' key commitments unless everything is asked for (population all: chapter elaborations and "
        "sub-items too).",
    ),
    "not_started": (
        "Not started",
        "Commitments whose approved update on the day says not started, and those with no approved update yet.",
    ),
    "in_progress": ("In progress", "Commitments whose approved update on the day says in progress."),
    "delivered": ("Delivered", "Commitments whose approved update on the day says delivered."),
    "not_being_pursued": (
        "Not being pursued",
        "Commitments whose approved update on the day says they are withdrawn or superseded.",
    ),
    "green": ("Green", "Commitments rated green on the day."),
    "amber_green": ("Amber/Green", "Commitments rated amber/green on the day."),
    "amber": ("Amber", "Commitments rated amber on the day."),
    "amber_red": ("Amber/Red", "Commitments rated amber/red on the day."),
    "red": ("Red", "Commitments rated red on the day."),
    "no_confidence": (
        "Not rated",
        "Commitments with no confidence rating on the day: no approved update gives one. Not a point on the "
        "five-point scale, so counted apart from it.",
    ),
    "progress_reported": (
        "Reporting progress",
        "Commitments with a progress figure on the day: the percentage their approved update gives, or the one "
        "its status implies (delivered 100%, not started 0%). One in progress without a figure reports none.",
    ),
    "progress_total": ("Progress total", "The sum of those progress figures."),
    "mean_progress": (
        "Mean progress",
        "The progress total divided by the commitments reporting progress: the mean of those reporting a "
        "figure, not of every commitment, always shown with how many report one of how many are counted. A "
        "commitment reporting no figure is not counted as 0: that would invent a figure its updates do not give.",
    ),
    "share_delivered": (
        "Share delivered",
        "Delivered commitments as a share of all the commitments counted (the denominator is commitments).",
    ),
    "overdue": (
        "Overdue",
        "Commitments whose target date is before the day and that are neither delivered nor not being pursued.",
    ),
    "stale": (
        "No update this quarter",
        "Commitments with no approved update dated from the first day of the quarter to the day.",
    ),
    "new_money_low": (
        "New money, low",
        "New money committed, at its lowest: “up to £X” counts nothing, “over £X” and “£X to £Y” count £X. An "
        "amount that is part of another of the same nature is counted once, inside it.",
    ),
    "new_money_high": (
        "New money, high",
        "New money committed, at its highest: “up to £X” and “over £X” count £X, “£X to £Y” counts £Y.",
    ),
    "new_money_open_ended": (
        "New money with no ceiling",
        "New-money amounts with no stated ceiling (“over £20m”), counted at their floor.",
    ),
    "restated_low": ("Restated money, low", "Money announced before and restated, at its lowest; never new money."),
    "restated_high": ("Restated money, high", "Money announced before and restated, at its highest."),
    "target_low": ("Targets, low", "Targets and ambitions for money, at their lowest; never money committed."),
    "target_high": ("Targets, high", "Targets and ambitions for money, at their highest."),
    "spent": ("Spent", "Funding spent to date, as the commitments' approved updates on the day report it."),
    "improved": (
        "Improved",
        "Commitments whose status moved forward since the previous quarter end (not being pursued, not started, "
        "in progress, delivered) or, at the same status, whose confidence moved towards green between two ratings.",
    ),
    "worsened": (
        "Worsened",
        "Commitments whose status moved back since the previous quarter end or, at the same status, whose "
        "confidence moved towards red between two ratings.",
    ),
    "status_changed": ("Status changed", "Commitments whose status differs from the previous quarter end."),
    "newly_delivered": (
        "Newly delivered",
        "Commitments delivered on the day that were not at the previous quarter end.",
    ),
    "newly_rated": (
        "Newly rated",
        "Commitments rated on the day with no rating at the previous quarter end: a first rating is neither an "
        "improvement nor a worsening.",
    ),
    "rating_withdrawn": (
        "Rating withdrawn",
        "Commitments rated at the previous quarter end with no confidence rating on the day.",
    ),
    "updates_due": (
        "Updates due",
        "Commitments the quarter's update is due from: counted on the day and still in delivery the day before "
        "the quarter began, neither delivered nor not being pursued then (one with no approved update yet is not "
        "started, so it is due).",
    ),
    "updates_done": (
        "Updates done",
        "Of the commitments an update is due from, those with an approved update dated from the first day of the "
        "quarter to the day.",
    ),
    "freshness": (
        "Freshness",
        "Updates done as a share of updates due (the denominator is updates due: the commitments in delivery when "
        "the quarter began). No figure where no update is due.",
    ),
    "milestones_overdue": (
        "Milestones overdue",
        "Milestones of the commitments counted whose due day is before the day and that were not done by the day. "
        "A milestone done on the day is not overdue.",
    ),
}

#: What each nature of money is. Whether it is added to the totals is ``AmountNature.totalled``'s rule.
NATURE_MEANINGS: dict[str, str] = {
    AmountNature.NEW_MONEY: "Money newly committed in the deal.",
    AmountNature.RESTATED: "Money announced before (in an earlier deal or elsewhere) and stated again in this one.",
    AmountNature.TARGET: "A target or ambition for money (“triple it to over £900m”), not money committed.",
    AmountNature.CONTEXT: (
        "Economy-wide money or a background figure given as context (Budget science funding, the patient capital "
        "action plan), not a commitment of the deal."
    ),
    AmountNature.ALREADY_INVESTED: (
        "Money already spent, raised or invested when the document was written (“opened in March 2018”, “has "
        "invested”)."
    ),
    AmountNature.LEVERAGED: "Private or matched funding that a public amount is expected to attract.",
}


@dataclass(frozen=True)
class Term:
    """One value of a vocabulary: its value in the API and the data, its label, and what it means."""

    value: str
    label: str
    meaning: str


@dataclass(frozen=True)
class NatureTerm(Term):
    """A nature of money, and whether the money totals add it up (each nature apart from the others)."""

    totalled: bool


@dataclass(frozen=True)
class Glossary:
    """Every vocabulary the tracker's pages and API use."""

    statuses: list[Term]
    confidences: list[Term]
    measures: list[Term]
    money_natures: list[NatureTerm]


def measure_names() -> list[str]:
    """The measures a quarter's figures hold, as the API names them, in the figures' order."""
    return [*FIGURE_FIELDS, *DERIVED_MEASURES]


def glossary() -> Glossary:
    """The glossary, built from the definitions the tracker itself uses (no query)."""
    totalled = set(AmountNature.totalled())
    return Glossary(
        statuses=[
            Term(str(value), str(DeliveryStatus(value).label), meaning) for value, meaning in STATUS_MEANINGS.items()
        ],
        confidences=[
            Term(str(value), str(DeliveryConfidence(value).label), meaning)
            for value, meaning in CONFIDENCE_MEANINGS.items()
        ],
        measures=[Term(name, *MEASURE_MEANINGS[name]) for name in measure_names() if name in MEASURE_MEANINGS],
        money_natures=[
            NatureTerm(str(nature.value), str(nature.label), NATURE_MEANINGS.get(nature, ""), nature in totalled)
            for nature in AmountNature
        ],
    )
