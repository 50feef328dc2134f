"""The delivery-state vocabulary: status, confidence and progress.

Confidence uses the five-point Delivery Confidence Assessment of the Infrastructure and Projects
Authority for government major projects, with its published meanings, so that a rating here means
what it means across government.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class DeliveryStatus(models.TextChoices):
    """Where delivery of a commitment stands."""

    NOT_STARTED = "not_started", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    DELIVERED = "delivered", "Delivered"
    NOT_BEING_PURSUED = "not_being_pursued", "Not being pursued"


STATUS_MEANINGS: dict[str, str] = {
    DeliveryStatus.NOT_STARTED: "No delivery work has begun.",
    DeliveryStatus.IN_PROGRESS: "Delivery has begun and the commitment is not yet met.",
    DeliveryStatus.DELIVERED: "The commitment has been met as written.",
    DeliveryStatus.NOT_BEING_PURSUED: "The commitment has been withdrawn or superseded and will not be delivered.",
}


class DeliveryConfidence(models.TextChoices):
    """How likely successful delivery is: the IPA five-point scale."""

    GREEN = "green", "Green"
    AMBER_GREEN = "amber_green", "Amber/Green"
    AMBER = "amber", "Amber"
    AMBER_RED = "amber_red", "Amber/Red"
    RED = "red", "Red"


CONFIDENCE_MEANINGS: dict[str, str] = {
    DeliveryConfidence.GREEN: (
        "Successful delivery on time, budget and quality appears highly likely and there are no major "
        "outstanding issues that at this stage appear to threaten delivery significantly."
    ),
    DeliveryConfidence.AMBER_GREEN: (
        "Successful delivery appears probable; however, constant attention will be needed to ensure risks "
        "do not materialise into major issues threatening delivery."
    ),
    DeliveryConfidence.AMBER: (
        "Successful delivery appears feasible but significant issues already exist, requiring management "
        "attention. These appear resolvable at this stage and, if addressed promptly, should not present a "
        "cost or schedule overrun."
    ),
    DeliveryConfidence.AMBER_RED: (
        "Successful delivery is in doubt, with major risks or issues apparent in a number of key areas. "
        "Urgent action is needed to address these problems and/or assess whether resolution is feasible."
    ),
    DeliveryConfidence.RED: (
        "Successful delivery appears to be unachievable. There are major issues with definition, schedule, "
        "budget, quality and/or benefits delivery, which at this stage do not appear to be manageable or "
        "resolvable. The commitment may need re-scoping and/or its overall viability reassessed."
    ),
}

CONFIDENCE_HELP_TEXT = "Delivery confidence on the IPA five-point scale. " + " ".join(
    f"{DeliveryConfidence(value).label}: {meaning}" for value, meaning in CONFIDENCE_MEANINGS.items()
)
STATUS_HELP_TEXT = "Where delivery stands. " + " ".join(
    f"{DeliveryStatus(value).label}: {meaning}" for value, meaning in STATUS_MEANINGS.items()
)

PROGRESS_VALIDATORS = [
    MinValueValidator(0, message="Progress is a percentage: it cannot be below 0."),
    MaxValueValidator(100, message="Progress is a percentage: it cannot be above 100."),
]
