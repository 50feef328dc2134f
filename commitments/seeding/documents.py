"""Loading ``documents.yaml``: the documents and deals, the frameworks and their themes."""

from __future__ import annotations

from typing import Any

from commitments.models import Document, Framework, Theme, ThemeKind
from commitments.seeding.context import SeedContext
from commitments.seeding.history import save

# The framework whose themes are the Industrial Strategy's foundations and, under them, the deal's areas.
IS_FRAMEWORK = "IS-FOUNDATIONS"


def documents_load(ctx: SeedContext, *, data: dict[str, Any]) -> None:
    """Create the documents, frameworks and themes missing from the database; look them all up for the run."""
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
            save(document)
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
                save(framework)
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
    ctx: SeedContext,
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
        save(theme)
    return theme
