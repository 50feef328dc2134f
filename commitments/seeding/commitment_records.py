"""Loading the commitment files (``lsis_*.yaml``, ``sd2_*.yaml``): commitments, their organisations and links.

What the apps above attach to a commitment (its programmes and money, ``programmes.seeding``) they attach
to the commitments this step wrote (``CommitmentFilesRead.written``), each with its fixture item. The
evidence the files give (status records) is read here and loaded once every commitment exists
(``commitments.seeding.evidence``), since it may concern commitments of other files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models.deletion import ProtectedError

from commitments.dates import TimingKind, parse_timing
from commitments.models import (
    Actor,
    Commitment,
    CommitmentOrganisation,
    Document,
    OrganisationRole,
    Section,
    Theme,
    ThemeKind,
)
from commitments.seeding.context import SeedContext, read_fixture
from commitments.seeding.documents import IS_FRAMEWORK
from commitments.seeding.history import (
    CORRECTION_REASON,
    WRITTEN_BY_SEED,
    correct,
    edited_since_seeded,
    link_correct,
    link_set,
    save,
)

# The fields of a commitment that transcribe the documents, and so may be corrected.
COMMITMENT_FIELDS = (
    "deal_id",
    "foundation_id",
    "area_id",
    "actor",
    "section",
    "lead_in",
    "text",
    "parent_id",
    "target_date_text",
    "target_date",
    "timing_kind",
    "starts_on",
    "jobs",
    "jobs_text",
    "source_document_id",
    "source_quote",
)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class WrittenCommitment:
    """A commitment created in this run, or (correcting) one that existed, with the fixture item it comes from."""

    commitment: Commitment
    item: dict[str, Any]
    place: str
    # It existed before this run: only what is missing is attached to it.
    existing: bool


@dataclass
class CommitmentFilesRead:
    """What reading the commitment files leaves for the steps after it."""

    written: list[WrittenCommitment] = field(default_factory=list)
    # (place, item) of each status record the files give.
    evidence: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # Links resolved once every commitment exists: (place, commitment, field name, reference); a reference
    # of None (a link the fixtures leave empty) only for a commitment that existed before.
    links: list[tuple[str, Commitment, str, str | None]] = field(default_factory=list)


def commitment_files(fixtures_dir: Path) -> Iterator[Path]:
    """The commitment files: the strategy's recommendations, then the deal's key commitments, then the chapters."""
    yield from sorted(fixtures_dir.glob("lsis_*.yaml"))
    yield from sorted(fixtures_dir.glob("sd2_*.yaml"), key=lambda path: ("chapters" in path.stem, path.name))


def commitments_load(ctx: SeedContext) -> CommitmentFilesRead:
    """Create the commitments missing from the database with their organisations (correcting: correct the rest).

    Every commitment of the files is looked up for the run (``ctx.commitments``), whether written now or not.
    """
    read = CommitmentFilesRead()
    for path in commitment_files(ctx.fixtures_dir):
        data = read_fixture(path)
        for block in data.get("blocks") or [data]:
            for area_item in block.get("areas", []):
                for item in area_item.get("commitments", []):
                    _load_commitment(ctx, read, path.name, block, area_item.get("area"), item, parent=None)
        read.evidence += [
            (f"{path.name} evidence {index}", item) for index, item in enumerate(data.get("evidence") or [], start=1)
        ]
    return read


def _foundation_and_area(
    ctx: SeedContext, foundation_code: str, area_code: str | None, place: str
) -> tuple[Theme | None, Theme | None]:
    themes = Theme.objects.filter(framework__code=IS_FRAMEWORK)
    foundation = themes.filter(kind=ThemeKind.FOUNDATION, code=foundation_code).first()
    if foundation is None:
        ctx.error(place, f"unknown foundation {foundation_code!r}")
        return None, None
    if area_code is None:
        return foundation, None
    area = themes.filter(kind=ThemeKind.AREA, code=area_code, parent=foundation).first()
    if area is None:
        ctx.error(place, f"unknown area {area_code!r} in foundation {foundation_code}")
    return foundation, area


def _timing(target_text: str, source: Document) -> dict[str, Any]:
    """The commitment's timing as written and as read: kind, start and deadline (``target_date``)."""
    timing = parse_timing(target_text, written_on=source.published_on)
    return {
        "target_date_text": target_text,
        "target_date": timing.deadline,
        "timing_kind": timing.kind,
        "starts_on": timing.starts_on,
    }


def _fold_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _load_commitment(
    ctx: SeedContext,
    read: CommitmentFilesRead,
    file_name: str,
    block: dict[str, Any],
    area_code: str | None,
    item: dict[str, Any],
    *,
    parent: Commitment | None,
) -> None:
    reference = item.get("ref") or "?"
    place = f"{file_name} {reference}"
    if reference in ctx.commitments:
        ctx.error(place, "the reference is used twice")
        return
    deal = ctx.document(item.get("deal") or block.get("deal"), place)
    source = ctx.document(item.get("source") or block.get("source"), place)
    text = _fold_whitespace(item.get("text") or "")
    quote = ctx.check_quote(item.get("quote") or text, source, place)
    if item.get("lead_in"):
        ctx.check_quote(item["lead_in"], source, f"{place} lead-in")
    if item.get("target_date") and parse_timing(item["target_date"]).kind == TimingKind.NONE:
        ctx.error(place, f"the timing “{item['target_date']}” reads as no timing; see commitments/dates.py")
    if item.get("actor") not in Actor.values:
        ctx.error(place, f"unknown actor {item.get('actor')!r}; use sector or government")
        return
    foundation, area = _foundation_and_area(ctx, block.get("foundation", ""), area_code, place)
    commitment = Commitment.objects.filter(reference=reference).first()
    ctx.record("commitments", commitment is None)
    if commitment is None:
        if deal is None or source is None or foundation is None or (area_code is not None and area is None):
            return  # the reasons are already among the errors
        commitment = Commitment(
            reference=reference,
            deal=deal,
            foundation=foundation,
            area=area,
            actor=item["actor"],
            section=item.get("section") or block.get("section") or Section.KEY_COMMITMENTS,
            position=len(ctx.commitments) + 1,
            lead_in=item.get("lead_in") or "",
            text=text,
            parent=parent,
            **_timing(item.get("target_date") or "", source),
            jobs=item.get("jobs"),
            jobs_text=item.get("jobs_text") or "",
            published=item.get("published", True),
            source_document=source,
            source_quote=quote,
        )
        save(commitment, reason=ctx.new_reason(f"commitment {reference}"))
        _attach(ctx, read, WrittenCommitment(commitment, item, place, existing=False))
    elif ctx.apply_corrections and deal is not None and source is not None and foundation is not None:
        desired = {
            "deal_id": deal.pk,
            "foundation_id": foundation.pk,
            "area_id": getattr(area, "pk", None),
            "actor": item["actor"],
            "section": item.get("section") or block.get("section") or Section.KEY_COMMITMENTS,
            "lead_in": item.get("lead_in") or "",
            "text": text,
            "parent_id": getattr(parent, "pk", None),
            **_timing(item.get("target_date") or "", source),
            "jobs": item.get("jobs"),
            "jobs_text": item.get("jobs_text") or "",
            "source_document_id": source.pk,
            "source_quote": quote,
        }
        correct(ctx, commitment, desired, f"commitment {reference}")
        _attach(ctx, read, WrittenCommitment(commitment, item, place, existing=True))
    ctx.commitments[reference] = commitment
    for child in item.get("children") or []:
        _load_commitment(ctx, read, file_name, block, area_code, child, parent=commitment)


def _attach(ctx: SeedContext, read: CommitmentFilesRead, written: WrittenCommitment) -> None:
    """Attach organisations and links; to a commitment that ``existing``, only what is missing.

    An organisation's role that staff removed from an existing commitment stays removed.
    """
    commitment, item, place, existing = written.commitment, written.item, written.place, written.existing
    for involvement in item.get("organisations") or []:
        organisation = ctx.organisation(involvement.get("name"), place)
        role = involvement.get("role")
        if role not in OrganisationRole.values:
            ctx.error(place, f"unknown role {role!r} for {involvement.get('name')}; use lead, partner or funder")
        elif organisation is not None and not existing:
            CommitmentOrganisation.objects.get_or_create(commitment=commitment, organisation=organisation, role=role)
        elif organisation is not None:
            involved = CommitmentOrganisation.objects.filter(
                commitment=commitment, organisation=organisation, role=role
            )
            if (
                not involved.exists()
                and not involved.model.history.filter(
                    commitment_id=commitment.pk, organisation_id=organisation.pk, role=role
                ).exists()
            ):
                save(
                    CommitmentOrganisation(commitment=commitment, organisation=organisation, role=role),
                    reason=ctx.new_reason(f"{organisation} as {role} of {commitment.reference}"),
                )
    for link in ("continues", "elaborates"):
        if item.get(link) or existing:
            read.links.append((place, commitment, link, item.get(link)))
    read.written.append(written)


def commitment_links_resolve(ctx: SeedContext, read: CommitmentFilesRead) -> None:
    """Set the links (``continues``, ``elaborates``) of the commitments written, now that every one exists.

    Correcting, a commitment that existed before has its links corrected to what the fixtures name (or to none).
    """
    existing = {written.commitment.pk for written in read.written if written.existing}
    for place, commitment, field_name, reference in read.links:
        label = f"commitment {commitment.reference}"
        if reference is None:
            if commitment.pk in existing:
                link_correct(ctx, commitment, field_name, None, label)
            continue
        target = ctx.commitments.get(reference)
        if target is None:
            where = label if commitment.pk in existing else place
            ctx.error(where, f"{field_name} names {reference!r}, which is not in the fixtures")
        elif commitment.pk in existing:
            link_correct(ctx, commitment, field_name, target, label)
        else:
            link_set(ctx, place, commitment, field_name, reference, target)


def withdrawn_commitments_remove(ctx: SeedContext) -> None:
    """Delete the commitments the seed wrote that the fixtures no longer hold, unless staff edited or used them.

    Sub-items before their parents. One with status updates, or money still attached (the apps above remove
    the money the fixtures no longer hold first), stays, reported.
    """
    commitments = Commitment.objects.exclude(reference__in=list(ctx.commitments)).filter(
        pk__in=Commitment.history.filter(WRITTEN_BY_SEED, history_type="+").values("id")
    )
    # Sub-items before their parents.
    for commitment in sorted(commitments, key=lambda commitment: commitment.parent_id is None):
        label = f"commitment {commitment.reference}"
        edited = edited_since_seeded(commitment, COMMITMENT_FIELDS)
        if edited:
            ctx.report.skipped.append(f"{label}: {', '.join(edited)} edited; the fixtures no longer hold it")
            continue
        if commitment.updates.exists():
            ctx.report.skipped.append(f"{label}: has status updates; the fixtures no longer hold it")
            continue
        reason = f"{CORRECTION_REASON}: removed {label}"[:100]
        commitment._change_reason = reason  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                for involvement in commitment.involvements.all():
                    involvement._change_reason = reason  # type: ignore[attr-defined]
                    involvement.delete()
                # Its links to programmes go with it (the link table's rows cascade).
                commitment.delete()
        except ProtectedError:
            ctx.report.skipped.append(f"{label}: other records still depend on it; the fixtures no longer hold it")
            continue
        ctx.report.corrected.append(f"{label}: removed")
