"""Loading ``theme_classification.yaml``: the tracker's classification of commitments under themes.

The rules and exceptions are the tracker's reading, not a transcription; reviewers edit them in the admin
(``commitments.classification``). A rule or exception a reviewer removed stays removed (its history says
it existed), and a commitment that already holds a theme of a classified framework is left as it is (the
classification's services keep it current).
"""

from __future__ import annotations

from typing import Any

from commitments.classification import classified_framework_ids, themes_wanted
from commitments.models import Commitment, Theme, ThemeException, ThemeKind, ThemeRule
from commitments.seeding.context import SeedContext
from commitments.seeding.documents import IS_FRAMEWORK
from commitments.seeding.history import save


def _classification_theme(ctx: SeedContext, key: str | None, place: str) -> Theme | None:
    framework_code, _, code = (key or "").partition("/")
    theme = Theme.objects.filter(framework__code=framework_code, code=code, kind=ThemeKind.THEME).first()
    if theme is None:
        ctx.error(place, f"unknown theme {key!r}; use <framework code>/<theme code> from documents.yaml")
    return theme


def theme_classification_load(ctx: SeedContext, *, data: dict[str, Any]) -> None:
    """Load the classification and store it on every commitment holding none of its themes yet."""
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
            save(ThemeRule(scope=scope, theme=theme, reason=item["reason"]), reason=ctx.new_reason(label))
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
            save(
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
