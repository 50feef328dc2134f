"""The update files the import benchmark reads, for clearly labelled synthetic commitments.

The commitments come from ``metrics.synthetic`` (deal ``SYNTHETIC``, references ``SYN-000001`` onwards) and
are only ever written into the benchmark's own throwaway database; the real Sector Deal fixtures are never
loaded there.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.imports import IMPORT_COLUMNS
from commitments.models import Commitment
from metrics.synthetic import DEAL_CODE, generate_synthetic

#: Updates are dated at month ends from January 2019 to December 2024, safely in the past.
MONTH_ENDS = [
    date(year + (month // 12), month % 12 + 1, 1) - timedelta(days=1)
    for year in range(2019, 2025)
    for month in range(1, 13)
]


@dataclass(frozen=True)
class SyntheticUpdate:
    """One row of the update file, as Python values."""

    reference: str
    as_of: date
    status: str
    status_text: str
    confidence: str
    confidence_text: str
    progress: int | None
    narrative: str
    funding_spent: Decimal | None
    evidence_url: str
    evidence_title: str


def reference(number: int) -> str:
    """SYN-000001 and so on."""
    return f"SYN-{number:06d}"


def create_synthetic_data(*, commitments: int, seed: int) -> set[str]:
    """The labelled synthetic commitments (``metrics.synthetic``); return the references that carry money."""
    generate_synthetic(commitments=commitments, updates=0, seed=seed)
    return set(
        Commitment.objects.filter(deal__code=DEAL_CODE, funding__isnull=False).values_list("reference", flat=True)
    )


def create_editor(username: str = "synthetic-bench-editor") -> Any:
    """A member of staff holding the OLS editor role, who imports the file."""
    user = get_user_model().objects.create_user(username=username, is_staff=True, first_name="Synthetic")
    user.groups.add(Group.objects.get(name=roles.EDITOR))
    return user


def synthetic_updates(*, rows: int, commitments: int, seed: int, funded: set[str]) -> list[SyntheticUpdate]:
    """``rows`` updates with distinct (commitment, as-of) pairs, the same for the same seed."""
    rng = random.Random(seed)  # noqa: S311 (reproducible synthetic data, not a secret)
    per_commitment = -(-rows // commitments)
    if per_commitment > len(MONTH_ENDS):
        raise ValueError(f"{rows} rows need more than {len(MONTH_ENDS)} dates per commitment; add commitments.")
    pairs = [
        (number, as_of) for number in range(1, commitments + 1) for as_of in rng.sample(MONTH_ENDS, per_commitment)
    ]
    rng.shuffle(pairs)
    updates = []
    for index, (number, as_of) in enumerate(pairs[:rows], start=1):
        status = rng.choice(DeliveryStatus.values)
        confidence = rng.choice([*DeliveryConfidence.values, ""])
        carries_money = reference(number) in funded
        with_link = rng.random() < 0.3
        updates.append(
            SyntheticUpdate(
                reference=reference(number),
                as_of=as_of,
                status=status,
                # Staff write the label or the stored value, in any case: exercise all three.
                status_text=rng.choice(
                    [status, DeliveryStatus(status).label, str(DeliveryStatus(status).label).upper()]
                ),
                confidence=confidence,
                confidence_text=rng.choice([confidence, DeliveryConfidence(confidence).label]) if confidence else "",
                progress=rng.randint(0, 100) if rng.random() < 0.8 else None,
                narrative=f"Synthetic update {index} for benchmarks: "
                + " ".join(rng.choice(_WORDS) for _ in range(rng.randint(8, 40))),
                funding_spent=Decimal(rng.randint(0, 100_000_000)) / 100
                if carries_money and rng.random() < 0.5
                else None,
                evidence_url=f"https://example.org/synthetic/{index}" if with_link else "",
                evidence_title=f"Synthetic evidence {index}" if with_link and rng.random() < 0.7 else "",
            )
        )
    return updates


_WORDS = (
    "delivery",
    "programme",
    "board",
    "milestone",
    "funding",
    "award",
    "consortium",
    "trial",
    "site",
    "recruitment",
    "genome",
    "data",
    "manufacturing",
    "capacity",
    "review",
    "partner",
    "regulator",
    "pathway",
    "evaluation",
    "procurement",
    "launch",
    "pilot",
)


def _cells(update: SyntheticUpdate) -> list[Any]:
    return [
        update.reference,
        update.as_of,
        update.status_text,
        update.confidence_text,
        update.progress,
        update.narrative,
        update.funding_spent,
        update.evidence_url,
        update.evidence_title,
    ]


def write_csv(updates: list[SyntheticUpdate], path: Path) -> Path:
    """The updates as a UTF-8 CSV file, dates written 31/03/2024 as staff would."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(IMPORT_COLUMNS)
        for update in updates:
            cells = _cells(update)
            cells[1] = update.as_of.strftime("%d/%m/%Y")
            writer.writerow("" if cell is None else cell for cell in cells)
    return path


def write_xlsx(updates: list[SyntheticUpdate], path: Path) -> Path:
    """The updates as an Excel workbook, with real date and number cells."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Status updates")
    sheet.append(list(IMPORT_COLUMNS))
    for update in updates:
        sheet.append(_cells(update))
    book.save(path)
    return path
