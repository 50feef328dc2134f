"""The tracker's classification of commitments under the 2017 strategy's and the 2020 Update's themes.

No deal prints these themes against its commitments: the classification is the tracker's, kept apart from
what the documents say (``fixtures/theme_classification.yaml``, editable by reviewers in the admin). It is
made of

- rules (``ThemeRule``): every commitment of a foundation or area is under a theme, with the reason;
- exceptions (``ThemeException``): one commitment is (or is not) under a theme whatever its rules say.

A sub-item and a chapter commitment that details a key commitment take the classification of the
commitment they belong to (the parent, else the commitment elaborated), then their own exceptions; any
other commitment takes the rules of its foundation and of its area, then its exceptions.

The result is stored in ``Commitment.themes``, which the figures read: the services below change it
through ``commitment_edit``, so that a change of the classification reaches the figures like any edit of
a commitment. Only the themes of the frameworks the classification covers are touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from commitments import search
from commitments.models import Commitment, Theme, ThemeException, ThemeRule
from lsis.core.services import require_permission as _require
from lsis.core.services import stamp_change as _stamp


@dataclass(frozen=True)
class Classified:
    """One theme a commitment is classified under, and why."""

    theme: Theme
    reason: str


@dataclass
class _Graph:
    """Everything the derivation reads, in four queries."""

    commitments: dict[int, dict[str, Any]]
    rules: dict[int, list[ThemeRule]]
    exceptions: dict[int, list[ThemeException]]


def _graph() -> _Graph:
    commitments: dict[int, dict[str, Any]] = {
        row["pk"]: dict(row)
        for row in Commitment.objects.values(
            "pk", "reference", "foundation_id", "area_id", "parent_id", "elaborates_id"
        )
    }
    rules: dict[int, list[ThemeRule]] = {}
    for rule in ThemeRule.objects.select_related("theme__framework", "scope"):
        rules.setdefault(rule.scope_id, []).append(rule)
    exceptions: dict[int, list[ThemeException]] = {}
    for exception in ThemeException.objects.select_related("theme__framework"):
        exceptions.setdefault(exception.commitment_id, []).append(exception)
    return _Graph(commitments, rules, exceptions)


_GRAPH_FIELDS = ("pk", "reference", "foundation_id", "area_id", "parent_id", "elaborates_id")


def _graph_of(commitment: Commitment) -> _Graph:
    """What the derivation reads for one commitment: it, the commitments it belongs to, their rules and exceptions.

    A query per step up the chain of owners (a sub-item's parent, a chapter commitment's key commitment: none,
    one or two steps), then two, however many commitments the tracker holds.
    """
    commitments: dict[int, dict[str, Any]] = {
        commitment.pk: {name: getattr(commitment, name) for name in _GRAPH_FIELDS}
    }
    owner = commitment.parent_id or commitment.elaborates_id
    wanted = {owner} if owner is not None and owner != commitment.pk else set()
    while wanted:
        owners: set[int] = set()
        for row in Commitment.objects.filter(pk__in=wanted).values(*_GRAPH_FIELDS):
            commitments[row["pk"]] = dict(row)
            owner = row["parent_id"] or row["elaborates_id"]
            if owner is not None and owner not in commitments:
                owners.add(owner)
        wanted = owners - set(commitments)
    scope_ids = {row[key] for row in commitments.values() for key in ("foundation_id", "area_id") if row[key]}
    rules: dict[int, list[ThemeRule]] = {}
    for rule in ThemeRule.objects.filter(scope_id__in=scope_ids).select_related("theme__framework", "scope"):
        rules.setdefault(rule.scope_id, []).append(rule)
    exceptions: dict[int, list[ThemeException]] = {}
    for exception in ThemeException.objects.filter(commitment_id__in=commitments).select_related("theme__framework"):
        exceptions.setdefault(exception.commitment_id, []).append(exception)
    return _Graph(commitments, rules, exceptions)


def _classify(
    graph: _Graph, pk: int, done: dict[int, dict[int, Classified]], seen: frozenset[int]
) -> dict[int, Classified]:
    if pk in done:
        return done[pk]
    row = graph.commitments[pk]
    owner = row["parent_id"] or row["elaborates_id"]
    result: dict[int, Classified]
    if owner is not None and owner not in seen and owner in graph.commitments:
        owner_reference = graph.commitments[owner]["reference"]
        how = "of which it is a sub-item" if row["parent_id"] else "which it details"
        result = {
            theme_id: Classified(item.theme, f"As {owner_reference}, {how}")
            for theme_id, item in _classify(graph, owner, done, seen | {pk}).items()
        }
    else:
        result = {}
        for scope_id in (row["foundation_id"], row["area_id"]):
            for rule in graph.rules.get(scope_id, []):
                result[rule.theme_id] = Classified(rule.theme, f"Rule for {rule.scope}: {rule.reason}")
    for exception in graph.exceptions.get(pk, []):
        if exception.include:
            result[exception.theme_id] = Classified(exception.theme, f"Exception: {exception.reason}")
        else:
            result.pop(exception.theme_id, None)
    done[pk] = result
    return result


def classify_all() -> dict[int, dict[int, Classified]]:
    """Every commitment's classification: commitment pk -> theme pk -> the theme and why."""
    graph = _graph()
    done: dict[int, dict[int, Classified]] = {}
    for pk in graph.commitments:
        _classify(graph, pk, done, frozenset({pk}))
    return done


def classification_of(commitment: Commitment) -> list[Classified]:
    """The themes ``commitment`` is classified under, with why, in framework and printed order."""
    classified = _classify(_graph_of(commitment), commitment.pk, {}, frozenset({commitment.pk}))
    return sorted(classified.values(), key=lambda item: (item.theme.framework.code, item.theme.position))


def classified_framework_ids() -> set[int]:
    """The frameworks the classification covers: those of the themes its rules and exceptions name."""
    return set(ThemeRule.objects.values_list("theme__framework_id", flat=True)) | set(
        ThemeException.objects.values_list("theme__framework_id", flat=True)
    )


def themes_wanted(commitment_ids: Iterable[int] | None = None) -> dict[int, set[int]]:
    """Per commitment, the theme ids it should hold: its classified themes plus those of other frameworks."""
    classified = classify_all()
    frameworks = classified_framework_ids()
    ids = set(classified) if commitment_ids is None else set(commitment_ids)
    held: dict[int, set[int]] = {pk: set() for pk in ids}
    other: dict[int, set[int]] = {pk: set() for pk in ids}
    through = Commitment.themes.through.objects.filter(commitment_id__in=ids).values_list(
        "commitment_id", "theme_id", "theme__framework_id"
    )
    for commitment_id, theme_id, framework_id in through:
        held[commitment_id].add(theme_id)
        if framework_id not in frameworks:
            other[commitment_id].add(theme_id)
    return {pk: other[pk] | set(classified.get(pk, {})) for pk in ids}


# --- services: reviewers' edits of the classification ----------------------------------------------------


def _reclassify(*, user: Any, commitment_ids: Iterable[int] | None = None) -> None:
    """Store the classification of ``commitment_ids`` (all, if None) where it changed, through ``commitment_edit``.

    ``commitment_edit`` checks that the user may change the commitment, records the change and tells the
    figures from when it moves them.
    """
    from commitments.services import commitment_edit

    wanted = themes_wanted(commitment_ids)
    held: dict[int, set[int]] = {pk: set() for pk in wanted}
    through = Commitment.themes.through.objects.all()
    if commitment_ids is not None:
        through = through.filter(commitment_id__in=wanted)
    for commitment_id, theme_id in through.values_list("commitment_id", "theme_id"):
        held.setdefault(commitment_id, set()).add(theme_id)
    changed = [pk for pk, themes in wanted.items() if themes != held.get(pk, set())]
    themes = Theme.objects.in_bulk({theme_id for pk in changed for theme_id in wanted[pk]})
    # Their search documents name their themes: rebuilt in one statement once all are stored.
    with search.refreshed_together():
        for commitment in Commitment.objects.filter(pk__in=changed).order_by("pk"):
            commitment_edit(
                commitment=commitment,
                user=user,
                changes={},
                themes=[themes[theme_id] for theme_id in wanted[commitment.pk]],
            )


# What a commitment's classification is read from, besides the rules and exceptions: when one of these
# changes, so may its themes and those of the commitments that take their classification from it.
CLASSIFIED_BY = ("foundation", "area", "parent", "elaborates")


@transaction.atomic
def commitment_classify(*, commitment: Commitment, user: Any) -> None:
    """Store the classification of ``commitment`` and of the commitments that take theirs from it.

    For a commitment just added, or one whose foundation, area, parent or elaborated commitment changed
    (``CLASSIFIED_BY``): its themes, and those of its sub-items and of the commitments detailing it, follow
    the rules and exceptions, through the commitment edit service like every change the figures read.
    """
    commitment_ids = {commitment.pk}
    added = {commitment.pk}
    while added:
        belonging = Commitment.objects.filter(Q(parent_id__in=added) | Q(elaborates_id__in=added))
        added = set(belonging.values_list("pk", flat=True)) - commitment_ids
        commitment_ids |= added
    _reclassify(user=user, commitment_ids=commitment_ids)


@transaction.atomic
def theme_rule_save(*, rule: ThemeRule, user: Any) -> ThemeRule:
    """Add or change a rule of the classification; the commitments it classifies follow, and their figures."""
    _require(user, "commitments.change_themerule" if rule.pk else "commitments.add_themerule", "classify themes")
    rule.full_clean()
    if rule.pk is None:
        rule.created_by = user if getattr(user, "is_authenticated", False) else None
    _stamp(rule, user, "Theme rule changed" if rule.pk else "Theme rule added")
    rule.save()
    _reclassify(user=user)
    return rule


@transaction.atomic
def theme_rule_delete(*, rule: ThemeRule, user: Any) -> None:
    """Remove a rule of the classification; the commitments it classified follow, and their figures."""
    _require(user, "commitments.delete_themerule", "classify themes")
    _stamp(rule, user, "Theme rule removed")
    rule.delete()
    _reclassify(user=user)


@transaction.atomic
def theme_exception_save(*, exception: ThemeException, user: Any) -> ThemeException:
    """Add or change one commitment's exception to its rules; it (and what belongs to it) follows."""
    _require(
        user,
        "commitments.change_themeexception" if exception.pk else "commitments.add_themeexception",
        "classify themes",
    )
    exception.full_clean()
    if exception.pk is None:
        exception.created_by = user if getattr(user, "is_authenticated", False) else None
    _stamp(exception, user, "Theme exception changed" if exception.pk else "Theme exception added")
    exception.save()
    _reclassify(user=user)
    return exception


@transaction.atomic
def theme_exception_delete(*, exception: ThemeException, user: Any) -> None:
    """Remove one commitment's exception; its rules classify it again."""
    _require(user, "commitments.delete_themeexception", "classify themes")
    _stamp(exception, user, "Theme exception removed")
    exception.delete()
    _reclassify(user=user)
