"""``seed_reference_data``: load the reference data in fixtures/ into the database (``python manage.py seed``).

Every YAML file described in docs/fixtures.md is read and checked (every name resolves, every quote occurs
in its document, every amount can be read) and written in one transaction: either everything loads or
nothing does, and the errors are listed by file and record. Each app loads what it owns, the lower first:
``commitments.seeding`` the documents, organisations, commitments, classification and status records,
``programmes.seeding`` the programmes and money, and this module the regional statistics, then the
delivery state and spans of the commitments given a status record. How a record is written, and how
``apply_corrections`` changes one seeded from earlier fixtures (never one staff have edited), is in
``commitments.seeding.history``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction

from commitments import search
from commitments.seeding.commitment_records import (
    commitment_links_resolve,
    commitments_load,
    withdrawn_commitments_remove,
)
from commitments.seeding.context import SeedContext, SeedError, SeedReport, read_fixture
from commitments.seeding.documents import documents_load
from commitments.seeding.evidence import evidence_load
from commitments.seeding.history import save
from commitments.seeding.organisations import organisations_load
from commitments.seeding.theme_classification import theme_classification_load
from lsis.core.changes import data_changed
from metrics.models import RegionalStatistic
from metrics.services import commitment_refresh_delivery_state, spans_rebuild
from programmes.seeding import (
    MoneySeed,
    amount_links_resolve,
    commitment_money_attach,
    programmes_load,
    withdrawn_amounts_remove,
)


@transaction.atomic
def seed_reference_data(*, fixtures_dir: Path, apply_corrections: bool = False) -> SeedReport:
    """Load every fixture file in ``fixtures_dir``; all or nothing.

    With ``apply_corrections``, also bring the records earlier fixtures seeded to what these fixtures say,
    each correction recorded in the history, every record staff have edited since left alone and reported.
    Raises ``SeedError`` listing every problem found, after rolling back whatever was written.
    """
    ctx = SeedContext(fixtures_dir=fixtures_dir, apply_corrections=apply_corrections)
    money = MoneySeed(ctx)
    documents_load(ctx, data=read_fixture(fixtures_dir / "documents.yaml"))
    organisations_load(ctx, data=read_fixture(fixtures_dir / "organisations.yaml"))
    programmes_load(money, data=read_fixture(fixtures_dir / "programmes.yaml"))
    commitments = commitments_load(ctx)
    commitment_money_attach(money, written=commitments.written)
    commitment_links_resolve(ctx, commitments)
    amount_links_resolve(money)
    if apply_corrections:
        # Money first: a commitment cannot go while an amount hangs on it.
        withdrawn_amounts_remove(money)
        withdrawn_commitments_remove(ctx)
    classification = fixtures_dir / "theme_classification.yaml"
    if classification.exists():
        theme_classification_load(ctx, data=read_fixture(classification))
    evidence_load(ctx, evidence=commitments.evidence)
    regional = fixtures_dir / "regional_statistics.yaml"
    if regional.exists():
        regional_statistics_load(ctx, data=read_fixture(regional))
    if ctx.errors:
        raise SeedError(ctx.errors)
    # The status records are approved updates written directly, not through the review workflow's outbox.
    for commitment_id in sorted(ctx.updated):
        commitment_refresh_delivery_state(commitment_id=commitment_id)
    if ctx.updated:
        spans_rebuild(commitment_ids=ctx.updated)
    # Records are written directly, not through the services: every search document is rebuilt, in one statement.
    search.documents_refresh()
    data_changed()
    return ctx.report


def regional_statistics_load(ctx: SeedContext, *, data: dict[str, Any]) -> None:
    """Create the regions of ``regional_statistics.yaml`` missing from the database, in the printed order."""
    for position, item in enumerate(data.get("regional_statistics", []), start=1):
        place = f"regional_statistics.yaml {item.get('region')}"
        source = ctx.document(item.get("source"), place)
        quote = ctx.check_quote(item.get("quote"), source, place)
        statistic = RegionalStatistic.objects.filter(region=item["region"]).first()
        ctx.record("regional statistics", statistic is None)
        if statistic is None and source is not None:
            save(
                RegionalStatistic(
                    region=item["region"],
                    region_as_printed=item.get("region_as_printed") or item["region"],
                    employment=item["employment"],
                    turnover_millions=item["turnover_millions"],
                    turnover_text=item["turnover_text"],
                    position=position,
                    source_document=source,
                    source_quote=quote,
                )
            )
