"""Loading ``organisations.yaml``: the organisations and every spelling the documents print."""

from __future__ import annotations

from typing import Any

from commitments.models import Organisation, OrganisationAlias, OrganisationKind
from commitments.seeding.context import SeedContext
from commitments.seeding.history import save


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
        organisation = Organisation.objects.named(item["name"]).first()
        ctx.record("organisations", organisation is None)
        if organisation is None and source is not None:
            organisation = Organisation(
                name=item["name"], kind=item["kind"], source_document=source, source_quote=quote
            )
            save(organisation, reason=ctx.new_reason(f"organisation {organisation.name}"))
            for key, name in spellings.items():
                if key != item["name"].casefold():
                    save(OrganisationAlias(organisation=organisation, name=name))
        if organisation is not None:
            for key in spellings:
                ctx.organisations[key] = organisation
    # Spellings staff added as aliases since the last seed resolve too.
    for alias in OrganisationAlias.objects.select_related("organisation"):
        ctx.organisations.setdefault(alias.name.casefold(), alias.organisation)
