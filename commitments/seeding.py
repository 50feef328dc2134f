"""Loading the reference data in fixtures/ into the database.

``seed_reference_data`` reads every YAML file described in docs/fixtures.md, checks it (every name
resolves, every quote occurs in its document, every amount can be read) and writes it in one
transaction: either everything loads or nothing does, and the errors are listed by file and record.

Seeding is idempotent and never overwrites staff edits: a record is identified by its natural key
(document code, organisation name, commitment reference, funding key, ...). A record that is missing
is created with everything attached to it; a record that exists is left exactly as it is, whoever
last changed it. See docs/adr/0001-domain-model.md.

``seed_reference_data(apply_corrections=True)`` (``python manage.py seed --apply-corrections``) is the one
deliberate exception, for databases seeded from earlier fixtures: it brings each record the seed wrote to
what the fixtures now say (fields, amounts, links, new amounts of existing records, records the fixtures
no longer hold), records each change in the history with a reason naming it, and leaves alone (and
reports) every record staff have changed since the seed last wrote it. See docs/fixtures.md.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from commitments.classification import classified_framework_ids, themes_wanted
from commitments.dates import TimingKind, parse_timing
from commitments.delivery import DeliveryStatus
from commitments.models import (
    Actor,
    Commitment,
    CommitmentOrganisation,
    Document,
    Framework,
    Organisation,
    OrganisationAlias,
    OrganisationKind,
    OrganisationRole,
    Section,
    StatusUpdate,
    Theme,
    ThemeException,
    ThemeKind,
    ThemeRule,
    UpdateState,
)
from commitments.sources import quote_occurs_in
from lsis.core.changes import data_changed
from metrics.models import RegionalStatistic
from metrics.services import commitment_refresh_delivery_state, spans_rebuild
from programmes.models import AmountNature, FundingAmount, Programme, ProgrammeKind
from programmes.money import parse_amount

SEED_REASON = "Loaded from fixtures by seed"
# The history reason of a correction starts with this and names what it corrected.
CORRECTION_REASON = "Fixture correction"
_WRITTEN_BY_SEED = models.Q(history_change_reason=SEED_REASON) | models.Q(
    history_change_reason__startswith=CORRECTION_REASON
)
# The fields of a commitment and of an amount that transcribe the documents, and so may be corrected.
_COMMITMENT_FIELDS = (
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
_AMOUNT_FIELDS = (
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
IS_FRAMEWORK = "IS-FOUNDATIONS"
_WHITESPACE = re.compile(r"\s+")


class SeedError(Exception):
    """The fixtures do not load; ``errors`` lists every problem found, each with its place."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the fixtures:\n" + "\n".join(f"  - {e}" for e in errors))
        self.errors = errors


@dataclass
class SeedReport:
    """What a seed run created and what it found already present, per kind of record."""

    created: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)
    # With corrections applied: one line per record corrected, and per record left alone because staff edited it.
    corrected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per kind of record, then each correction made and each skipped, for the command's output."""
        kinds = sorted(set(self.created) | set(self.existing))
        lines = [f"{kind}: {self.created[kind]} created, {self.existing[kind]} already present" for kind in kinds]
        lines += [f"corrected: {line}" for line in self.corrected]
        lines += [f"skipped (edited since it was seeded): {line}" for line in self.skipped]
        return lines


@dataclass
class _Context:
    """Lookups shared by the loading steps, and the errors they find."""

    fixtures_dir: Path
    report: SeedReport
    apply_corrections: bool = False
    errors: list[str] = field(default_factory=list)
    documents: dict[str, Document] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    programmes: dict[str, Programme] = field(default_factory=dict)
    commitments: dict[str, Commitment] = field(default_factory=dict)
    amounts: dict[str, FundingAmount] = field(default_factory=dict)
    # Links resolved once every record exists: (place, record, field name, key); a key of None (a link the
    # fixtures leave empty) only when correcting an existing record.
    pending_links: list[tuple[str, Any, str, str | None]] = field(default_factory=list)
    # Records that existed before this run: their links are corrected, not set.
    existing_records: set[tuple[str, int]] = field(default_factory=set)
    # Commitments given an approved update from a document: their delivery spans are rewritten at the end.
    updated: set[int] = field(default_factory=set)

    def error(self, place: str, message: str) -> None:
        self.errors.append(f"{place}: {message}")

    def document(self, code: str | None, place: str) -> Document | None:
        document = self.documents.get(code or "")
        if document is None:
            self.error(place, f"unknown document code {code!r}")
        return document

    def check_quote(self, quote: str | None, document: Document | None, place: str) -> str:
        text = (quote or "").strip()
        if not text:
            self.error(place, "no source quote")
        elif document is not None:
            if not document.source_file:
                self.error(place, f"{document.code} has no source file to quote from")
            elif not quote_occurs_in(text, document.source_file):
                self.error(place, f"quote not found in {document.source_file}: “{text[:80]}”")
        return text

    def organisation(self, name: str | None, place: str) -> Organisation | None:
        if not name:
            return None
        organisation = self.organisations.get(name.casefold())
        if organisation is None:
            self.error(
                place, f"unknown organisation “{name}” (add it, or the spelling as an alias, to organisations.yaml)"
            )
        return organisation

    def programme(self, name: str | None, place: str) -> Programme | None:
        if not name:
            return None
        programme = self.programmes.get(name.casefold())
        if programme is None:
            self.error(place, f"unknown programme “{name}” (add it, or the spelling as short_name, to programmes.yaml)")
        return programme

    def record(self, kind: str, created: bool) -> None:
        (self.report.created if created else self.report.existing)[kind] += 1

    def new_reason(self, label: str) -> str:
        """The history reason of a record created now: seeded, or (correcting) added by a correction."""
        if not self.apply_corrections:
            return SEED_REASON
        self.report.corrected.append(f"{label}: added")
        return f"{CORRECTION_REASON}: added {label}"


def _load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return data or {}


def _save(instance: Any, *, reason: str = SEED_REASON) -> None:
    """Validate and save a new record, tagging its history entry as seeded (or as a correction)."""
    instance.full_clean(validate_unique=False, validate_constraints=False)
    instance._change_reason = reason[:100]
    instance.save()


def _seeded_as(record: Any) -> Any | None:
    """The record as the seed (or a correction) last wrote it: its latest history entry written by either."""
    return record.history.filter(_WRITTEN_BY_SEED).order_by("-history_date", "-history_id").first()


def _edited_since_seeded(record: Any, names: Any) -> list[str]:
    """The fields among ``names`` that someone other than the seed has changed since the seed last wrote them."""
    seeded = _seeded_as(record)
    if seeded is None:
        return list(names)
    return [name for name in names if getattr(seeded, name) != getattr(record, name)]


def _correct(ctx: _Context, record: Any, desired: dict[str, Any], label: str) -> None:
    """Bring a record the seed wrote to the fixtures' values, unless staff have edited it since.

    Each correction is one save whose history reason names the record and the fields corrected; a record
    with a field staff changed (among those the fixtures transcribe) is left as it is and reported.
    """
    changed = [name for name, value in desired.items() if getattr(record, name) != value]
    if not changed:
        return
    edited = _edited_since_seeded(record, desired)
    if edited:
        ctx.report.skipped.append(f"{label}: {', '.join(edited)} edited; fixtures would change {', '.join(changed)}")
        return
    for name in changed:
        setattr(record, name, desired[name])
    fields = ", ".join(name.removesuffix("_id") for name in changed)
    try:
        _save(record, reason=f"{CORRECTION_REASON}: {label} ({fields})")
    except ValidationError as error:
        ctx.error(label, f"the correction of {fields} does not validate: {error}")
        return
    ctx.report.corrected.append(f"{label}: {fields}")


def _load_documents(ctx: _Context, data: dict[str, Any]) -> None:
    for item in data.get("documents", []):
        document = Document.objects.filter(code=item["code"]).first()
        ctx.record("documents", document is None)
        if document is None:
            document = Document(
                code=item["code"],
                title=item["title"],
                kind=item["kind"],
                published_on=item["published_on"],
                published_label=item["published_label"],
                source_file=item.get("source_file") or "",
            )
            _save(document)
        ctx.documents[document.code] = document

    for framework_item in data.get("frameworks", []):
        place = f"documents.yaml framework {framework_item['code']}"
        source = ctx.document(framework_item.get("source"), place)
        framework = Framework.objects.filter(code=framework_item["code"]).first()
        ctx.record("frameworks", framework is None)
        if framework is None:
            framework = Framework(
                code=framework_item["code"],
                name=framework_item["name"],
                source_document=source,
                source_quote=ctx.check_quote(
                    framework_item.get("quote") or _first_quote(framework_item), source, place
                ),
            )
            if source is not None:
                _save(framework)
        position = 0
        for theme_item in framework_item.get("themes", []):
            position += 1
            is_foundation = framework_item["code"] == IS_FRAMEWORK
            kind = ThemeKind.FOUNDATION if is_foundation else ThemeKind.THEME
            parent = _load_theme(ctx, framework, theme_item, kind, None, position, source, place)
            for area_item in theme_item.get("areas") or []:
                position += 1
                _load_theme(ctx, framework, area_item, ThemeKind.AREA, parent, position, source, place)


def _first_quote(framework_item: dict[str, Any]) -> str | None:
    themes = framework_item.get("themes") or [{}]
    return themes[0].get("quote")


def _load_theme(
    ctx: _Context,
    framework: Framework,
    item: dict[str, Any],
    kind: str,
    parent: Theme | None,
    position: int,
    source: Document | None,
    place: str,
) -> Theme | None:
    place = f"{place} theme {item.get('code')}"
    quote = ctx.check_quote(item.get("quote"), source, place)
    if item.get("context"):
        ctx.check_quote(item["context"], source, f"{place} context")
    if framework.pk is None:
        return None
    theme = Theme.objects.filter(framework=framework, code=item["code"]).first()
    ctx.record("themes", theme is None)
    if theme is None and source is not None:
        theme = Theme(
            framework=framework,
            parent=parent,
            kind=kind,
            code=item["code"],
            name=item["name"],
            statement=item.get("statement") or "",
            context=item.get("context") or "",
            position=position,
            source_document=source,
            source_quote=quote,
        )
        _save(theme)
    return theme


def _load_organisations(ctx: _Context, data: dict[str, Any]) -> None:
    for item in data.get("organisations", []):
        place = f"organisations.yaml “{item.get('name')}”"
        source = ctx.document(item.get("source"), place)
        quote = ctx.check_quote(item.get("quote"), source, place)
        if item.get("kind") not in OrganisationKind.values:
            ctx.error(place, f"unknown kind {item.get('kind')!r}; use one of {', '.join(OrganisationKind.values)}")
            continue
        # One entry per spelling, ignoring case; the first spelling is the name.
        spellings = {name.casefold(): name for name in reversed([item["name"], *(item.get("aliases") or [])])}
        clashes = [
            f"“{name}” is also given for {ctx.organisations[key]}"
            for key, name in spellings.items()
            if key in ctx.organisations and ctx.organisations[key].name.casefold() != item["name"].casefold()
        ]
        if clashes:
            ctx.error(place, "; ".join(clashes) + ": one organisation, not two")
            continue
        organisation = Organisation.objects.named(item["name"]).first()
        ctx.record("organisations", organisation is None)
        if organisation is None and source is not None:
            organisation = Organisation(
                name=item["name"], kind=item["kind"], source_document=source, source_quote=quote
            )
            _save(organisation, reason=ctx.new_reason(f"organisation {organisation.name}"))
            for key, name in spellings.items():
                if key != item["name"].casefold():
                    _save(OrganisationAlias(organisation=organisation, name=name))
        if organisation is not None:
            for key in spellings:
                ctx.organisations[key] = organisation
    # Spellings staff added as aliases since the last seed resolve too.
    for alias in OrganisationAlias.objects.select_related("organisation"):
        ctx.organisations.setdefault(alias.name.casefold(), alias.organisation)


def _load_programmes(ctx: _Context, data: dict[str, Any]) -> None:
    items = data.get("programmes", [])
    created: list[tuple[Programme, dict[str, Any]]] = []
    corrected: list[tuple[Programme, dict[str, Any]]] = []
    for item in items:
        place = f"programmes.yaml “{item.get('name')}”"
        source = ctx.document(item.get("source"), place)
        quote = ctx.check_quote(item.get("quote"), source, place)
        if item.get("kind") not in ProgrammeKind.values:
            ctx.error(place, f"unknown kind {item.get('kind')!r}; use one of {', '.join(ProgrammeKind.values)}")
            continue
        programme = Programme.objects.filter(name=item["name"]).first()
        ctx.record("programmes", programme is None)
        if programme is None and source is not None:
            programme = Programme(
                name=item["name"],
                short_name=item.get("short_name") or "",
                kind=item["kind"],
                funder=ctx.organisation(item.get("funder"), place),
                source_document=source,
                source_quote=quote,
            )
            _save(programme, reason=ctx.new_reason(f"programme {programme.name}"))
            created.append((programme, item))
        elif programme is not None and ctx.apply_corrections:
            corrected.append((programme, item))
        if programme is None:
            continue
        for name in filter(None, [item["name"], item.get("short_name"), *(item.get("aliases") or [])]):
            claimed = ctx.programmes.setdefault(name.casefold(), programme)
            if claimed.pk != programme.pk:
                ctx.error(place, f"“{name}” also names {claimed}")
    for programme, item in created:
        place = f"programmes.yaml “{item['name']}”"
        if item.get("parent"):
            programme.parent = ctx.programme(item["parent"], place)
            programme._change_reason = SEED_REASON  # type: ignore[attr-defined]
            programme.save(update_fields=["parent"])
        _load_amounts(
            ctx, item.get("amounts") or [], _programme_key(item), programme.source_document, place, programme=programme
        )
    for programme, item in corrected:
        place = f"programmes.yaml “{item['name']}”"
        _load_amounts(
            ctx,
            item.get("amounts") or [],
            _programme_key(item),
            programme.source_document,
            place,
            programme=programme,
        )


def _programme_key(item: dict[str, Any]) -> str:
    return f"PRG-{slugify(item.get('short_name') or item['name']).upper()}"


def _load_amounts(
    ctx: _Context,
    items: list[dict[str, Any]],
    owner_key: str,
    source: Document | None,
    place: str,
    *,
    commitment: Commitment | None = None,
    programme: Programme | None = None,
) -> None:
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
        amount_programme = programme or ctx.programme(item.get("programme"), amount_place)
        if amount is not None and ctx.apply_corrections and source is not None:
            desired = {
                "amount_text": text,
                "qualifier": parsed.qualifier,
                "low": parsed.low,
                "high": parsed.high,
                "nature": item["nature"],
                "funder_id": getattr(ctx.organisation(item.get("funder"), amount_place), "pk", None),
                "commitment_id": getattr(commitment, "pk", None),
                "programme_id": getattr(amount_programme, "pk", None),
                "period_text": item.get("period") or "",
                "source_document_id": source.pk,
                "source_quote": item.get("quote") or text,
            }
            ctx.check_quote(desired["source_quote"], source, amount_place)
            _correct(ctx, amount, desired, f"amount {key}")
            ctx.existing_records.add(("amount", amount.pk))
            ctx.pending_links.append((amount_place, amount, "part_of", item.get("part_of")))
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
                funder=ctx.organisation(item.get("funder"), amount_place),
                commitment=commitment,
                programme=amount_programme,
                period_text=item.get("period") or "",
                source_document=source,
                source_quote=item.get("quote") or text,
            )
            ctx.check_quote(amount.source_quote, source, amount_place)
            _save(amount, reason=ctx.new_reason(f"amount {key}"))
            if item.get("part_of"):
                ctx.pending_links.append((amount_place, amount, "part_of", item["part_of"]))
        if amount is not None:
            if key in ctx.amounts:
                ctx.error(amount_place, f"the key {key} is used twice")
            ctx.amounts[key] = amount


def _load_commitment_file(ctx: _Context, path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Load a file's commitments; return its evidence, which may concern commitments of other files."""
    data = _load_yaml(path)
    blocks = data.get("blocks") or [data]
    for block in blocks:
        for area_item in block.get("areas", []):
            for item in area_item.get("commitments", []):
                _load_commitment(ctx, path.name, block, area_item.get("area"), item, parent=None)
    return [(f"{path.name} evidence {index}", item) for index, item in enumerate(data.get("evidence") or [], start=1)]


def _foundation_and_area(
    ctx: _Context, foundation_code: str, area_code: str | None, place: str
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
    ctx: _Context,
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
        _save(commitment, reason=ctx.new_reason(f"commitment {reference}"))
        _attach_to_commitment(ctx, commitment, item, place)
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
        _correct(ctx, commitment, desired, f"commitment {reference}")
        ctx.existing_records.add(("commitment", commitment.pk))
        _attach_to_commitment(ctx, commitment, item, place, existing=True)
    ctx.commitments[reference] = commitment
    for child in item.get("children") or []:
        _load_commitment(ctx, file_name, block, area_code, child, parent=commitment)


def _attach_to_commitment(
    ctx: _Context, commitment: Commitment, item: dict[str, Any], place: str, *, existing: bool = False
) -> None:
    """Attach organisations, programmes, amounts and links; for an ``existing`` commitment, what is missing.

    An organisation's role that staff removed from an existing commitment stays removed.
    """
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
                _save(
                    CommitmentOrganisation(commitment=commitment, organisation=organisation, role=role),
                    reason=ctx.new_reason(f"{organisation} as {role} of {commitment.reference}"),
                )
    for name in item.get("programmes") or []:
        programme = ctx.programme(name, place)
        if programme is not None and not programme.commitments.filter(pk=commitment.pk).exists():
            programme.commitments.add(commitment)
            if existing:
                ctx.report.corrected.append(f"{commitment.reference}: linked to {programme}")
    _load_amounts(
        ctx, item.get("amounts") or [], commitment.reference, commitment.source_document, place, commitment=commitment
    )
    for link in ("continues", "elaborates"):
        if item.get(link) or existing:
            ctx.pending_links.append((place, commitment, link, item.get(link)))


def _load_evidence(ctx: _Context, place: str, item: dict[str, Any]) -> None:
    commitment = ctx.commitments.get(item.get("commitment") or "")
    if commitment is None:
        ctx.error(place, f"unknown commitment {item.get('commitment')!r}")
        return
    source = ctx.document(item.get("source"), place)
    narrative = (item.get("narrative") or "").strip()
    quote = ctx.check_quote(item.get("quote") or narrative, source, place)
    if item.get("status") not in DeliveryStatus.values:
        ctx.error(place, f"unknown status {item.get('status')!r}; use one of {', '.join(DeliveryStatus.values)}")
        return
    if source is None:
        return
    as_of: date = item.get("as_of") or source.published_on
    update = StatusUpdate.objects.filter(commitment=commitment, source_document=source, source_quote=quote).first()
    ctx.record("status updates from documents", update is None)
    if update is None:
        update = StatusUpdate(
            commitment=commitment,
            as_of=as_of,
            status=item["status"],
            narrative=narrative,
            state=UpdateState.APPROVED,
            approved_at=timezone.now(),
            source_document=source,
            source_quote=quote,
        )
        _save(update, reason=ctx.new_reason(f"status record of {commitment.reference} from {source.code}"))
        commitment_refresh_delivery_state(commitment_id=commitment.pk)
        ctx.updated.add(commitment.pk)


def _resolve_links(ctx: _Context) -> None:
    for place, record, field_name, key in ctx.pending_links:
        kind = "amount" if field_name == "part_of" else "commitment"
        if (kind, record.pk) in ctx.existing_records:
            _correct_link(ctx, record, field_name, key, f"{kind} {getattr(record, 'key', None) or record.reference}")
            continue
        if key is None:
            continue
        if field_name == "part_of":
            # An amount of a record that already existed was not read this run; it is in the database.
            target: Any = ctx.amounts.get(key) or FundingAmount.objects.filter(key=key).first()
        else:
            target = ctx.commitments.get(key)
        if target is None:
            ctx.error(place, f"{field_name} names {key!r}, which is not in the fixtures")
            continue
        setattr(record, field_name, target)
        try:
            record.full_clean(validate_unique=False, validate_constraints=False)
        except Exception as error:
            ctx.error(place, f"{field_name} {key}: {error}")
            continue
        record._change_reason = SEED_REASON
        record.save(update_fields=[field_name])


def _correct_link(ctx: _Context, record: Any, field_name: str, key: str | None, label: str) -> None:
    """Correct a link of a record that existed before this run to what the fixtures name (or to none)."""
    target: Any = None
    if key is not None:
        if field_name == "part_of":
            target = ctx.amounts.get(key) or FundingAmount.objects.filter(key=key).first()
        else:
            target = ctx.commitments.get(key)
        if target is None:
            ctx.error(label, f"{field_name} names {key!r}, which is not in the fixtures")
            return
    record.refresh_from_db()
    _correct(ctx, record, {f"{field_name}_id": getattr(target, "pk", None)}, label)


def _remove_withdrawn(ctx: _Context) -> None:
    """Delete what the seed wrote that the fixtures no longer hold, unless staff have edited or used it since.

    Amounts first (a commitment cannot go while money hangs on it), then commitments, sub-items before
    their parents. A record that something else still depends on (status updates, links) stays, reported.
    """
    amounts = FundingAmount.objects.exclude(key__in=list(ctx.amounts)).filter(
        pk__in=FundingAmount.history.filter(_WRITTEN_BY_SEED, history_type="+").values("id")
    )
    commitments = Commitment.objects.exclude(reference__in=list(ctx.commitments)).filter(
        pk__in=Commitment.history.filter(_WRITTEN_BY_SEED, history_type="+").values("id")
    )
    withdrawn: list[tuple[str, Any, tuple[str, ...]]] = [
        *((f"amount {a.key}", a, _AMOUNT_FIELDS) for a in amounts),
        *(
            (f"commitment {c.reference}", c, _COMMITMENT_FIELDS)
            # Sub-items before their parents.
            for c in sorted(commitments, key=lambda commitment: commitment.parent_id is None)
        ),
    ]
    for label, record, names in withdrawn:
        edited = _edited_since_seeded(record, names)
        if edited:
            ctx.report.skipped.append(f"{label}: {', '.join(edited)} edited; the fixtures no longer hold it")
            continue
        if isinstance(record, Commitment) and record.updates.exists():
            ctx.report.skipped.append(f"{label}: has status updates; the fixtures no longer hold it")
            continue
        reason = f"{CORRECTION_REASON}: removed {label}"[:100]
        record._change_reason = reason
        try:
            with transaction.atomic():
                if isinstance(record, Commitment):
                    for involvement in record.involvements.all():
                        involvement._change_reason = reason  # type: ignore[attr-defined]
                        involvement.delete()
                    record.programmes.clear()
                record.delete()
        except ProtectedError:
            ctx.report.skipped.append(f"{label}: other records still depend on it; the fixtures no longer hold it")
            continue
        ctx.report.corrected.append(f"{label}: removed")


def _load_regional_statistics(ctx: _Context, data: dict[str, Any]) -> None:
    for position, item in enumerate(data.get("regional_statistics", []), start=1):
        place = f"regional_statistics.yaml {item.get('region')}"
        source = ctx.document(item.get("source"), place)
        quote = ctx.check_quote(item.get("quote"), source, place)
        statistic = RegionalStatistic.objects.filter(region=item["region"]).first()
        ctx.record("regional statistics", statistic is None)
        if statistic is None and source is not None:
            _save(
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


def _classification_theme(ctx: _Context, key: str | None, place: str) -> Theme | None:
    framework_code, _, code = (key or "").partition("/")
    theme = Theme.objects.filter(framework__code=framework_code, code=code, kind=ThemeKind.THEME).first()
    if theme is None:
        ctx.error(place, f"unknown theme {key!r}; use <framework code>/<theme code> from documents.yaml")
    return theme


def _load_theme_classification(ctx: _Context, data: dict[str, Any]) -> None:
    """Load the tracker's classification and store it on every commitment holding none of its themes yet.

    A rule or exception staff removed stays removed (its history says it existed); a commitment that
    already holds a theme of a classified framework is left as it is (the services keep it current).
    """
    for index, item in enumerate(data.get("rules") or [], start=1):
        place = f"theme_classification.yaml rule {index}"
        scope = Theme.objects.filter(
            framework__code=IS_FRAMEWORK, code=item.get("scope"), kind__in=[ThemeKind.FOUNDATION, ThemeKind.AREA]
        ).first()
        if scope is None:
            ctx.error(place, f"unknown foundation or area {item.get('scope')!r}")
        theme = _classification_theme(ctx, item.get("theme"), place)
        if not (item.get("reason") or "").strip():
            ctx.error(place, "no reason")
        if scope is None or theme is None:
            continue
        # One that existed before (in its history) was removed by a reviewer: it stays removed.
        known = ThemeRule.history.filter(scope_id=scope.pk, theme_id=theme.pk).exists()
        ctx.record("theme rules", not known)
        if not known:
            label = f"theme rule {scope.code} → {item['theme']}"
            _save(ThemeRule(scope=scope, theme=theme, reason=item["reason"]), reason=ctx.new_reason(label))
    for index, item in enumerate(data.get("exceptions") or [], start=1):
        place = f"theme_classification.yaml exception {index}"
        commitment = ctx.commitments.get(item.get("commitment") or "")
        if commitment is None:
            ctx.error(place, f"unknown commitment {item.get('commitment')!r}")
        theme = _classification_theme(ctx, item.get("theme"), place)
        if not (item.get("reason") or "").strip():
            ctx.error(place, "no reason")
        if not isinstance(item.get("include"), bool):
            ctx.error(place, "say include: true or include: false")
        if commitment is None or theme is None or not isinstance(item.get("include"), bool):
            continue
        known = ThemeException.history.filter(commitment_id=commitment.pk, theme_id=theme.pk).exists()
        ctx.record("theme exceptions", not known)
        if not known:
            label = f"theme exception {commitment.reference} → {item['theme']}"
            _save(
                ThemeException(commitment=commitment, theme=theme, include=item["include"], reason=item["reason"]),
                reason=ctx.new_reason(label),
            )
    if ctx.errors:
        return
    frameworks = classified_framework_ids()
    unclassified = Commitment.objects.exclude(themes__framework_id__in=frameworks).values_list("pk", flat=True)
    wanted = themes_wanted(list(unclassified))
    through = Commitment.themes.through
    through.objects.bulk_create(
        [through(commitment_id=pk, theme_id=theme_id) for pk, themes in wanted.items() for theme_id in themes],
        ignore_conflicts=True,
    )
    ctx.report.created["commitments classified under themes"] += sum(1 for themes in wanted.values() if themes)


def commitment_files(fixtures_dir: Path) -> Iterator[Path]:
    """The commitment files: the strategy's recommendations, then the deal's key commitments, then the chapters."""
    yield from sorted(fixtures_dir.glob("lsis_*.yaml"))
    yield from sorted(fixtures_dir.glob("sd2_*.yaml"), key=lambda path: ("chapters" in path.stem, path.name))


@transaction.atomic
def seed_reference_data(*, fixtures_dir: Path, apply_corrections: bool = False) -> SeedReport:
    """Load every fixture file in ``fixtures_dir``; all or nothing.

    With ``apply_corrections``, also bring the records earlier fixtures seeded to what these fixtures say,
    each correction recorded in the history, every record staff have edited since left alone and reported
    (see the module docstring). Raises ``SeedError`` listing every problem found, after rolling back
    whatever was written.
    """
    ctx = _Context(fixtures_dir=fixtures_dir, report=SeedReport(), apply_corrections=apply_corrections)
    _load_documents(ctx, _load_yaml(fixtures_dir / "documents.yaml"))
    _load_organisations(ctx, _load_yaml(fixtures_dir / "organisations.yaml"))
    _load_programmes(ctx, _load_yaml(fixtures_dir / "programmes.yaml"))
    evidence = [item for path in commitment_files(fixtures_dir) for item in _load_commitment_file(ctx, path)]
    _resolve_links(ctx)
    if apply_corrections:
        _remove_withdrawn(ctx)
    classification = fixtures_dir / "theme_classification.yaml"
    if classification.exists():
        _load_theme_classification(ctx, _load_yaml(classification))
    for place, item in evidence:
        _load_evidence(ctx, place, item)
    regional = fixtures_dir / "regional_statistics.yaml"
    if regional.exists():
        _load_regional_statistics(ctx, _load_yaml(regional))
    if ctx.errors:
        raise SeedError(ctx.errors)
    if ctx.updated:
        # These approved updates are written directly, not through the review workflow's outbox.
        spans_rebuild(commitment_ids=ctx.updated)
    data_changed()
    return ctx.report
