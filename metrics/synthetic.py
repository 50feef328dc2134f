"""Clearly labelled synthetic data for scale tests and benchmarks.

Everything hangs off documents and frameworks whose codes start with ``SYNTHETIC`` and whose titles say
"Synthetic data for benchmarks"; commitments are ``SYN-000001`` onwards, organisations "Synthetic
organisation 001". The generator refuses to write into a database that holds real commitments, so real
and synthetic data never mix. It writes in bulk: the rows are not audited history, they are a
throwaway scale fixture.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from commitments import search
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    Actor,
    Commitment,
    CommitmentOrganisation,
    Document,
    DocumentKind,
    Framework,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Section,
    StatusUpdate,
    Theme,
    ThemeKind,
    UpdateState,
)
from lsis.core.changes import data_changed
from metrics.services import spans_rebuild
from programmes.models import AmountNature, FundingAmount, Programme, ProgrammeKind
from programmes.money import AmountQualifier

DEAL_CODE = "SYNTHETIC"
LABEL = "Synthetic data for benchmarks"
QUOTE = "Synthetic data for benchmarks: not from any published document."
REFERENCE_PREFIX = "SYN-"
FIRST_AS_OF = date(2018, 1, 31)
LAST_AS_OF = date(2026, 9, 30)
_BATCH = 5000
# The words of the synthetic texts, most frequent first (drawn with weights 1/rank, as words are in prose), so
# that searching them finds few commitments or many, as searching the real texts does.
WORDS = tuple(
    """
    research NHS clinical data health patients investment innovation life sciences manufacturing
    industry government sector medicines trials genomics digital regulation skills funding programme
    partnership discovery translational cancer dementia vaccines diagnostics therapies imaging
    artificial intelligence genome sequencing biobank cohort population precision medicine cell gene
    advanced therapy centre catapult network cluster region north south east west midlands scotland
    wales ireland university hospital trust charity foundation council agency regulator approval pathway
    adoption procurement accelerator fund capital export trade talent apprenticeship doctoral fellowship
    infrastructure laboratory facility campus scale growth productivity jobs collaboration antimicrobial
    resistance obesity diabetes cardiovascular respiratory rare disease mental ageing prevention
    screening early detection wearable device medtech software platform evidence evaluation
    """.split()  # noqa: SIM905 - a paragraph of words, not a hundred quoted ones
)


class RealDataPresentError(RuntimeError):
    """The database holds real commitments; synthetic data must go into a database of its own."""


@dataclass(frozen=True)
class SyntheticReport:
    """What was generated."""

    commitments: int
    updates: int
    organisations: int
    programmes: int


def _vacuum_commitments() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Commitment._meta.db_table}")


def real_commitments_present() -> bool:
    """Whether any commitment in the database is not synthetic."""
    return Commitment.objects.exclude(deal__code=DEAL_CODE).exists()


def _day(rng: random.Random) -> date:
    return FIRST_AS_OF + timedelta(days=rng.randrange((LAST_AS_OF - FIRST_AS_OF).days))


@transaction.atomic
def generate_synthetic(*, commitments: int, updates: int, seed: int) -> SyntheticReport:
    """Create ``commitments`` synthetic commitments and ``updates`` approved updates, reproducibly from ``seed``."""
    if real_commitments_present():
        raise RealDataPresentError(
            "This database holds real commitments. Generate synthetic data into a database of its own "
            "(point DATABASE_URL at an empty one); real and synthetic data never mix."
        )
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    deal, _ = Document.objects.get_or_create(
        code=DEAL_CODE,
        defaults={
            "title": LABEL,
            "kind": DocumentKind.SECTOR_DEAL,
            "published_on": date(2017, 12, 1),
            "published_label": "Synthetic",
        },
    )
    framework, _ = Framework.objects.get_or_create(
        code="SYNTHETIC-FOUNDATIONS",
        defaults={"name": f"{LABEL}: foundations", "source_document": deal, "source_quote": QUOTE},
    )
    themes_framework, _ = Framework.objects.get_or_create(
        code="SYNTHETIC-THEMES", defaults={"name": f"{LABEL}: themes", "source_document": deal, "source_quote": QUOTE}
    )
    foundations, areas = [], []
    for f in range(5):
        foundation, _ = Theme.objects.get_or_create(
            framework=framework,
            code=f"SYNF{f + 1}",
            defaults={
                "name": f"Synthetic foundation {f + 1}",
                "kind": ThemeKind.FOUNDATION,
                "source_document": deal,
                "source_quote": QUOTE,
            },
        )
        foundations.append(foundation)
        for a in range(3):
            area, _ = Theme.objects.get_or_create(
                framework=framework,
                code=f"SYNF{f + 1}A{a + 1}",
                defaults={
                    "name": f"Synthetic area {f + 1}.{a + 1}",
                    "kind": ThemeKind.AREA,
                    "parent": foundation,
                    "source_document": deal,
                    "source_quote": QUOTE,
                },
            )
            areas.append(area)
    themes = [
        Theme.objects.get_or_create(
            framework=themes_framework,
            code=f"SYNT{t + 1}",
            defaults={"name": f"Synthetic theme {t + 1}", "source_document": deal, "source_quote": QUOTE},
        )[0]
        for t in range(5)
    ]
    organisations = [
        Organisation.objects.get_or_create(
            name=f"Synthetic organisation {o + 1:03d}",
            defaults={"kind": OrganisationKind.OTHER, "source_document": deal, "source_quote": QUOTE},
        )[0]
        for o in range(200)
    ]
    programmes = [
        Programme.objects.get_or_create(
            name=f"Synthetic programme {p + 1:02d}",
            defaults={"kind": ProgrammeKind.PROGRAMME, "source_document": deal, "source_quote": QUOTE},
        )[0]
        for p in range(50)
    ]

    start = Commitment.objects.filter(deal=deal).count()
    # The texts' words come from a generator of their own, so that the rest of the data is as before.
    words = random.Random(seed + 1)  # noqa: S311 - reproducible test data, not security
    weights = [1 / rank for rank in range(1, len(WORDS) + 1)]
    new = []
    for n in range(start + 1, start + commitments + 1):
        area = rng.choice(areas)
        target = date(2019 + rng.randrange(8), rng.randrange(1, 13), 28) if rng.random() < 0.7 else None
        new.append(
            Commitment(
                reference=f"{REFERENCE_PREFIX}{n:06d}",
                deal=deal,
                foundation=area.parent,
                area=area,
                actor=rng.choice(Actor.values),
                section=Section.KEY_COMMITMENTS,
                position=n,
                text=f"Synthetic commitment {n}: {' '.join(words.choices(WORDS, weights, k=words.randrange(8, 31)))}.",
                target_date_text=f"by {target:%B %Y}" if target else "",
                target_date=target,
                published=True,
                source_document=deal,
                source_quote=QUOTE,
            )
        )
    created = Commitment.objects.bulk_create(new, batch_size=_BATCH)
    Commitment.themes.through.objects.bulk_create(
        [Commitment.themes.through(commitment_id=c.pk, theme_id=rng.choice(themes).pk) for c in created],
        batch_size=_BATCH,
    )
    CommitmentOrganisation.objects.bulk_create(
        [
            CommitmentOrganisation(commitment=c, organisation=rng.choice(organisations), role=OrganisationRole.LEAD)
            for c in created
        ],
        batch_size=_BATCH,
    )
    Programme.commitments.through.objects.bulk_create(
        [Programme.commitments.through(commitment_id=c.pk, programme_id=rng.choice(programmes).pk) for c in created],
        batch_size=_BATCH,
    )
    amounts = []
    for c in created[::3]:
        millions = Decimal(rng.randrange(1, 200))
        qualifier = rng.choice([AmountQualifier.EXACT, AmountQualifier.UP_TO, AmountQualifier.OVER])
        low = None if qualifier == AmountQualifier.UP_TO else millions * 1_000_000
        high = None if qualifier == AmountQualifier.OVER else millions * 1_000_000
        text = {"exact": "£{}m", "up_to": "up to £{}m", "over": "over £{}m"}[qualifier].format(millions)
        amounts.append(
            FundingAmount(
                key=f"{c.reference}-A1",
                amount_text=text,
                qualifier=qualifier,
                low=low,
                high=high,
                nature=rng.choice([AmountNature.NEW_MONEY, AmountNature.NEW_MONEY, AmountNature.RESTATED]),
                commitment=c,
                source_document=deal,
                source_quote=QUOTE,
            )
        )
    FundingAmount.objects.bulk_create(amounts, batch_size=_BATCH)
    # Written in bulk, not through the services: the search documents are built in one statement. That leaves
    # a dead version of every commitment, cleared once committed as autovacuum would, so that what is timed on
    # this data does not read them.
    search.documents_refresh(commitment_ids=Commitment.objects.filter(deal=deal).values_list("pk", flat=True))
    if connection.vendor == "postgresql":
        transaction.on_commit(_vacuum_commitments)

    author, _ = get_user_model().objects.get_or_create(username="synthetic-author")
    reviewer, _ = get_user_model().objects.get_or_create(username="synthetic-reviewer")
    all_ids = list(Commitment.objects.filter(deal=deal).values_list("pk", flat=True))
    tz = timezone.get_current_timezone()
    batch: list[StatusUpdate] = []
    for _ in range(updates):
        as_of = _day(rng)
        approved_at = datetime.combine(as_of + timedelta(days=rng.randrange(1, 60)), time(12), tzinfo=tz)
        batch.append(
            StatusUpdate(
                commitment_id=rng.choice(all_ids),
                as_of=as_of,
                status=rng.choice(DeliveryStatus.values),
                confidence=rng.choice(["", *DeliveryConfidence.values]),
                progress=rng.choice([None, rng.randrange(101)]),
                narrative="Synthetic update.",
                author=author,
                reviewed_by=reviewer,
                reviewed_at=approved_at,
                approved_at=approved_at,
                state=UpdateState.APPROVED,
            )
        )
        if len(batch) == _BATCH:
            StatusUpdate.objects.bulk_create(batch)
            batch = []
    StatusUpdate.objects.bulk_create(batch)
    spans_rebuild()  # approved updates written directly, not through the outbox; no real data here
    data_changed()
    return SyntheticReport(len(created), updates, len(organisations), len(programmes))
