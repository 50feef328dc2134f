"""Loading the programmes, funds and money in fixtures/ (part of ``python manage.py seed``).

``metrics.seeding`` runs the loaders of each app in order: this app's after the commitments app has read
the documents and organisations (``programmes_load``: programmes name their funder, and their own
amounts), and again once it has written the commitments (``commitment_money_attach``: the programmes
delivering each and the money attached to it). Every amount is identified by its key; like every seeded
record, one that exists is left as it is unless corrections are applied (``commitments.seeding.history``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.db.models.deletion import ProtectedError
from django.utils.text import slugify

from commitments.models import Commitment, Document
from commitments.seeding.commitment_records import WrittenCommitment
from commitments.seeding.context import SeedContext
from commitments.seeding.history import (
    CORRECTION_REASON,
    SEED_REASON,
    WRITTEN_BY_SEED,
    correct,
    edited_since_seeded,
    link_correct,
    link_set,
    save,
    seeded_as,
)
from programmes.models import AmountNature, FundingAmount, Programme, ProgrammeKind
from programmes.money import parse_amount

# The fields of a programme that transcribe the documents, and so may be corrected (its parent is corrected
# once every programme exists).
PROGRAMME_FIELDS = ("name", "short_name", "kind", "funder_id", "source_document_id", "source_quote")
# The fields of an amount that transcribe the documents, and so may be corrected.
AMOUNT_FIELDS = (
    "amount_text",
    "qualifier",
    "low",
    "high",
    "nature",
    "funder_id",
    "commitment_id",
    "programme_id",
    "period_text",
    "source_document_id",
    "source_quote",
)


@dataclass
class MoneySeed:
    """The programmes and amounts of one seed run, beside the run's ``SeedContext``."""

    ctx: SeedContext
    programmes: dict[str, Programme] = field(default_factory=dict)
    amounts: dict[str, FundingAmount] = field(default_factory=dict)
    # "part of" links resolved once every amount exists: (place, amount, key of the larger amount); a key of
    # None (none in the fixtures) only for an amount that existed before.
    part_of: list[tuple[str, FundingAmount, str | None]] = field(default_factory=list)
    # Amounts that existed before this run, being corrected: their links are corrected, not set.
    existing: set[int] = field(default_factory=set)

    def programme(self, name: str | None, place: str) -> Programme | None:
        """The programme of that name or short name (any case), or None and an error."""
        if not name:
            return None
        programme = self.programmes.get(name.casefold())
        if programme is None:
            self.ctx.error(
                place, f"unknown programme “{name}” (add it, or the spelling as short_name, to programmes.yaml)"
            )
        return programme


def programmes_load(money: MoneySeed, *, data: dict[str, Any]) -> None:
    """Create the programmes of ``programmes.yaml`` missing from the database, with their parent and amounts.

    A programme is found by its name, else by another spelling (short name, alias) an earlier fixture may
    have printed it under. Correcting, a programme the seed wrote takes the fixtures' name, short name,
    kind, funder, quote and parent, each correction in its history, unless staff have changed it since.
    """
    ctx = money.ctx
    created: list[tuple[Programme, dict[str, Any]]] = []
    corrected: list[tuple[Programme, dict[str, Any]]] = []
    for item in data.get("programmes", []):
        place = f"programmes.yaml “{item.get('name')}”"
        source = ctx.document(item.get("source"), place)
        quote = ctx.check_quote(item.get("quote"), source, place)
        if item.get("kind") not in ProgrammeKind.values:
            ctx.error(place, f"unknown kind {item.get('kind')!r}; use one of {', '.join(ProgrammeKind.values)}")
            continue
        programme = _programme_known_as(item)
        ctx.record("programmes", programme is None)
        funder = ctx.organisation(item.get("funder"), place)
        if programme is None and source is not None:
            programme = Programme(
                name=item["name"],
                short_name=item.get("short_name") or "",
                kind=item["kind"],
                funder=funder,
                source_document=source,
                source_quote=quote,
            )
            save(programme, reason=ctx.new_reason(f"programme {programme.name}"))
            created.append((programme, item))
        elif programme is not None and ctx.apply_corrections and source is not None:
            values = (item["name"], item.get("short_name") or "", item["kind"], getattr(funder, "pk", None))
            desired = dict(zip(PROGRAMME_FIELDS, (*values, source.pk, quote), strict=True))
            correct(ctx, programme, desired, f"programme {item['name']}")
            corrected.append((programme, item))
        if programme is None:
            continue
        for name in filter(None, [item["name"], item.get("short_name"), *(item.get("aliases") or [])]):
            claimed = money.programmes.setdefault(name.casefold(), programme)
            if claimed.pk != programme.pk:
                ctx.error(place, f"“{name}” also names {claimed}")
    for programme, item in created:
        place = f"programmes.yaml “{item['name']}”"
        if item.get("parent"):
            programme.parent = money.programme(item["parent"], place)
            programme._change_reason = SEED_REASON  # type: ignore[attr-defined]
            programme.save(update_fields=["parent"])
    for programme, item in corrected:
        # A programme moved into another fund moves its money with it: the figures follow on their recompute.
        label = f"programme {item['name']}"
        parent = money.programme(item.get("parent"), f"programmes.yaml “{item['name']}”")
        edited = edited_since_seeded(programme, (*PROGRAMME_FIELDS, "parent_id"))
        if edited and programme.parent_id != getattr(parent, "pk", None):
            # A programme staff have changed is theirs: its place among the funds too.
            ctx.report.skipped.append(f"{label}: {', '.join(edited)} edited; fixtures would change parent")
        elif not edited:
            link_correct(ctx, programme, "parent", parent, label)
    for programme, item in [*created, *corrected]:
        place = f"programmes.yaml “{item['name']}”"
        _amounts_load(
            money,
            item.get("amounts") or [],
            _programme_key(item),
            programme.source_document,
            place,
            programme=programme,
        )


def _programme_known_as(item: dict[str, Any]) -> Programme | None:
    """The programme of that name, else the one an earlier fixture named by another of its spellings."""
    programme = Programme.objects.filter(name=item["name"]).first()
    if programme is not None:
        return programme
    spellings = [name for name in (item["name"], item.get("short_name"), *(item.get("aliases") or [])) if name]
    known_as = Q()
    for name in spellings:
        known_as |= Q(name__iexact=name) | Q(short_name__iexact=name)
    return Programme.objects.filter(known_as).order_by("pk").first()


def _programme_key(item: dict[str, Any]) -> str:
    return f"PRG-{slugify(item.get('short_name') or item['name']).upper()}"


def commitment_money_attach(money: MoneySeed, *, written: Iterable[WrittenCommitment]) -> None:
    """Link each commitment written to the programmes delivering it and attach its amounts.

    To a commitment that existed before (correcting), only what is missing: an amount staff deleted stays
    deleted.
    """
    for entry in written:
        commitment, item, place = entry.commitment, entry.item, entry.place
        for name in item.get("programmes") or []:
            programme = money.programme(name, place)
            if programme is not None and not programme.commitments.filter(pk=commitment.pk).exists():
                programme.commitments.add(commitment)
                if entry.existing:
                    money.ctx.report.corrected.append(f"{commitment.reference}: linked to {programme}")
        _amounts_load(
            money,
            item.get("amounts") or [],
            commitment.reference,
            commitment.source_document,
            place,
            commitment=commitment,
        )


def _amounts_load(
    money: MoneySeed,
    items: list[dict[str, Any]],
    owner_key: str,
    source: Document | None,
    place: str,
    *,
    commitment: Commitment | None = None,
    programme: Programme | None = None,
) -> None:
    ctx = money.ctx
    for index, item in enumerate(items, start=1):
        key = item.get("key") or f"{owner_key}-A{index}"
        amount_place = f"{place} amount {key}"
        text = (item.get("text") or "").strip()
        try:
            parsed = parse_amount(text)
        except ValueError as error:
            ctx.error(amount_place, str(error))
            continue
        if item.get("nature") not in AmountNature.values:
            ctx.error(
                amount_place, f"unknown nature {item.get('nature')!r}; use one of {', '.join(AmountNature.values)}"
            )
            continue
        amount = FundingAmount.objects.filter(key=key).first()
        ctx.record("funding amounts", amount is None)
        amount_programme = programme or money.programme(item.get("programme"), amount_place)
        funder = ctx.organisation(item.get("funder"), amount_place)
        joint_funders = [ctx.organisation(name, amount_place) for name in item.get("joint_funders") or []]
        refusal = FundingAmount.joint_funders_refusal(funder=funder, joint_funders=filter(None, joint_funders))
        if refusal:
            ctx.error(amount_place, refusal)
        if amount is not None and ctx.apply_corrections and source is not None:
            desired = {
                "amount_text": text,
                "qualifier": parsed.qualifier,
                "low": parsed.low,
                "high": parsed.high,
                "nature": item["nature"],
                "funder_id": getattr(funder, "pk", None),
                "commitment_id": getattr(commitment, "pk", None),
                "programme_id": getattr(amount_programme, "pk", None),
                "period_text": item.get("period") or "",
                "source_document_id": source.pk,
                "source_quote": item.get("quote") or text,
            }
            ctx.check_quote(desired["source_quote"], source, amount_place)
            correct(ctx, amount, desired, f"amount {key}")
            _joint_funders_correct(ctx, amount, [org for org in joint_funders if org is not None], f"amount {key}")
            money.existing.add(amount.pk)
            money.part_of.append((amount_place, amount, item.get("part_of")))
        elif amount is None and ctx.apply_corrections and FundingAmount.history.filter(key=key).exists():
            # It was seeded once and staff deleted it since: that removal is an edit, and it stands.
            ctx.report.skipped.append(f"amount {key}: deleted by staff; not restored")
            continue
        if amount is None and source is not None:
            amount = FundingAmount(
                key=key,
                amount_text=text,
                qualifier=parsed.qualifier,
                low=parsed.low,
                high=parsed.high,
                nature=item["nature"],
                funder=funder,
                commitment=commitment,
                programme=amount_programme,
                period_text=item.get("period") or "",
                source_document=source,
                source_quote=item.get("quote") or text,
            )
            ctx.check_quote(amount.source_quote, source, amount_place)
            save(amount, reason=ctx.new_reason(f"amount {key}"))
            if any(joint_funders):
                # Recorded in the amount's history under the same reason as the amount itself.
                amount.joint_funders.set([org for org in joint_funders if org is not None])
            if item.get("part_of"):
                money.part_of.append((amount_place, amount, item["part_of"]))
        if amount is not None:
            if key in money.amounts:
                ctx.error(amount_place, f"the key {key} is used twice")
            money.amounts[key] = amount


def _joint_funders_correct(ctx: SeedContext, amount: FundingAmount, wanted: list[Any], label: str) -> None:
    """Bring an amount's joint funders to the fixtures', unless staff have changed them since the seed set them."""
    current = set(amount.joint_funders.values_list("pk", flat=True))
    if current == {organisation.pk for organisation in wanted}:
        return
    seeded = seeded_as(amount)
    as_seeded = set() if seeded is None else {row.organisation_id for row in seeded.joint_funders.all()}
    if seeded is None or as_seeded != current:
        ctx.report.skipped.append(f"{label}: joint_funders edited; fixtures would change joint_funders")
        return
    amount._change_reason = f"{CORRECTION_REASON}: {label} (joint_funders)"[:100]  # type: ignore[attr-defined]
    amount.joint_funders.set(wanted)
    ctx.report.corrected.append(f"{label}: joint_funders")


def amount_links_resolve(money: MoneySeed) -> None:
    """Set the "part of" links of the amounts written, now that every amount exists (correcting: correct them)."""
    ctx = money.ctx
    for place, amount, key in money.part_of:
        label = f"amount {amount.key}"
        if key is None:
            if amount.pk in money.existing:
                link_correct(ctx, amount, "part_of", None, label)
            continue
        # An amount of a record that already existed was not read this run; it is in the database.
        target = money.amounts.get(key) or FundingAmount.objects.filter(key=key).first()
        if target is None:
            where = label if amount.pk in money.existing else place
            ctx.error(where, f"part_of names {key!r}, which is not in the fixtures")
        elif amount.pk in money.existing:
            link_correct(ctx, amount, "part_of", target, label)
        else:
            link_set(ctx, place, amount, "part_of", key, target)


def withdrawn_amounts_remove(money: MoneySeed) -> None:
    """Delete the amounts the seed wrote that the fixtures no longer hold, unless staff have edited them since.

    Run before the commitments' own removal: a commitment cannot go while money hangs on it.
    """
    ctx = money.ctx
    amounts = FundingAmount.objects.exclude(key__in=list(money.amounts)).filter(
        pk__in=FundingAmount.history.filter(WRITTEN_BY_SEED, history_type="+").values("id")
    )
    for amount in amounts:
        label = f"amount {amount.key}"
        edited = edited_since_seeded(amount, AMOUNT_FIELDS)
        if edited:
            ctx.report.skipped.append(f"{label}: {', '.join(edited)} edited; the fixtures no longer hold it")
            continue
        amount._change_reason = f"{CORRECTION_REASON}: removed {label}"[:100]  # type: ignore[attr-defined]
        try:
            with transaction.atomic():
                amount.delete()
        except ProtectedError:
            ctx.report.skipped.append(f"{label}: other records still depend on it; the fixtures no longer hold it")
            continue
        ctx.report.corrected.append(f"{label}: removed")
