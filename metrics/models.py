"""Measures of the sector and of delivery.

For now this holds the reference statistics Sector Deal 2 prints; the computed progress metrics join
them in the metrics issue.
"""

from __future__ import annotations

from django.db import models

from lsis.models import PublicModel, SourcedModel


class RegionalStatistic(PublicModel, SourcedModel):
    """Life sciences employment and turnover in one region, from Sector Deal 2's regional table."""

    region = models.CharField(max_length=100, unique=True)
    region_as_printed = models.CharField(
        max_length=100, help_text="The label as printed, where it differs from the region's usual name."
    )
    employment = models.PositiveIntegerField(help_text="People employed in life sciences.")
    turnover_millions = models.DecimalField(max_digits=10, decimal_places=1, help_text="Turnover in £ million.")
    turnover_text = models.CharField(max_length=40, help_text="The turnover cell as printed.")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.region
