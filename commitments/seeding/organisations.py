"""Loading ``organisations.yaml``: the organisations and every spelling the documents print.

An organisation is found by any of its spellings, so one an earlier fixture printed under another of its
names is the same record, not a second one; correcting, it takes the fixtures' name, kind and quote, and
gains the spellings it lacks (``commitments.seeding.history``).
"""

from __future__ import annotations

from typing import Any

from commitments.models import Organisation, OrganisationAlias, OrganisationKind
from commitments.seeding.context import SeedContext
from commitments.seeding.history import CORRECTION_REASON, correct, save

# The fields of an organisation that transcribe the documents, and so may be corrected.
ORGANISATION_FIELDS = ("name", "kind", "source_document_id", "source_quote")


def organisations_load(ctx: SeedContext, *, data: dict[str, Any]) -> None:
    """Create the organisations missing from the database, with their aliases; look every spelling up for the run."""
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
        # By its name, else by another spelling: an earlier fixture may have printed it under that one.
        organisation = next(
            (found for name in spellings.values() if (found := Organisation.objects.named(name).first())), None
        )
        ctx.record("organisations", organisation is None)
        if organisation is None and source is not None:
            organisation = Organisation(
                name=item["name"], kind=item["kind"], source_document=source, source_quote=quote
            )
            save(organisation, reason=ctx.new_reason(f"organisation {organisation.name}"))
            for key, name in spellings.items():
                if key != item["name"].casefold():
                    save(OrganisationAlias(organisation=organisation, name=name))
        elif organisation is not None and ctx.apply_corrections and source is not None:
            label = f"organisation {item['name']}"
            values = (item["name"], item["kind"], source.pk, quote)
            correct(ctx, organisation, dict(zip(ORGANISATION_FIELDS, values, strict=True)), label)
            _spellings_complete(ctx, organisation, item["name"], spellings, label)
        if organisation is not None:
            for key in spellings:
                ctx.organisations[key] = organisation
    # Spellings staff added as aliases since the last seed resolve too.
    for alias in OrganisationAlias.objects.select_related("organisation"):
        ctx.organisations.setdefault(alias.name.casefold(), alias.organisation)


def _spellings_complete(
    ctx: SeedContext, organisation: Organisation, name: str, spellings: dict[str, str], label: str
) -> None:
    """Give a corrected organisation the spellings the fixtures print that it lacks, and none that is its name.

    Only once its name is the fixtures' (a record staff renamed keeps its spellings as they are). A spelling
    the fixtures no longer print is kept: it names this organisation still, and staff may have added it.
    """
    if organisation.name != name:
        return
    aliases = {alias.name.casefold(): alias for alias in organisation.aliases.all()}
    if name.casefold() in aliases:
        alias = aliases.pop(name.casefold())
        reason = f"{CORRECTION_REASON}: {label} (alias {alias.name} is its name now)"
        alias._change_reason = reason[:100]  # type: ignore[attr-defined]
        alias.delete()
        ctx.report.corrected.append(f"{label}: alias {alias.name} removed, now its name")
    for key, spelling in spellings.items():
        if key != name.casefold() and key not in aliases:
            if OrganisationAlias.objects.filter(name__iexact=spelling).exists():
                ctx.error(label, f"“{spelling}” is an alias of another organisation in the database")
                continue
            save(
                OrganisationAlias(organisation=organisation, name=spelling),
                reason=f"{CORRECTION_REASON}: {label} (alias {spelling} added)",
            )
            ctx.report.corrected.append(f"{label}: alias {spelling} added")
