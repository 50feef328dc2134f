"""Commitments as the API shows them, built from ``values()`` rows rather than model instances.

A page of 50 commitments with their themes, organisations, funding, programmes and sub-items takes six
queries (eight without cached reference names) and no per-field serializer work: DRF's nested
serializers cost more than the queries did. In this app, above the commitments app, since a record shows
the commitment's money and programmes. ``CommitmentSerializer`` declares the same shape, which
the schema documents; a test holds the two together, record by record, over the whole Sector Deal
data, as a partner and as staff.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, cast
from uuid import UUID

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework import serializers

from commitments import hooks
from commitments.models import (
    Commitment,
    CommitmentOrganisation,
    CommitmentQuerySet,
    Dependency,
    Document,
    Framework,
    Milestone,
    Organisation,
    Theme,
)
from programmes.api.serializers import CommitmentSerializer
from programmes.models import FundingAmount, Programme

# The keys of a record, in the order CommitmentSerializer (the documented shape) declares them.
KEYS: tuple[str, ...] = tuple(CommitmentSerializer.Meta.fields)
# Keys whose values are built from other columns or rows; the rest are the commitment's own columns.
_BUILT = {
    "deal",
    "foundation",
    "area",
    "themes",
    "source_document",
    "parent",
    "children",
    "continues",
    "elaborates",
    "organisations",
    "funding",
    "programmes",
    "delivery",
    "overdue",
    "baseline_date",
    "owning_team",
    "milestones",
    "depends_on",
    "needed_by",
}
_SCALARS = tuple(key for key in KEYS if key not in _BUILT)
# Records a commitment points to are looked up by id (ReferenceNames): joining them to the page's query
# would cost PostgreSQL more time planning the joins than reading the page. Linked commitments'
# references come from subqueries (CommitmentQuerySet.with_link_references), for the page's rows only.
_LINKS = ("parent", "continues", "elaborates")
_DOCUMENTS = ("deal_id", "source_document_id")
_THEMES = ("foundation_id", "area_id")
_COLUMNS = (
    "pk",
    *_SCALARS,
    *(f"{link}_reference" for link in _LINKS),
    *_DOCUMENTS,
    *_THEMES,
    "delivery_status",
    "delivery_confidence",
    "progress",
    "delivery_as_of",
    "is_overdue",
    # The owner's team only: partners never see who the owner is.
    "owner__staff_profile__team",
)
_UUID_KEYS = {"uuid", "funder", "joint_funder"}
_MONEY = serializers.DecimalField(max_digits=16, decimal_places=2)


def rows(queryset: QuerySet[Commitment], *, published_only: bool) -> QuerySet[Any]:
    """The columns a record is built from, for a queryset annotated with ``is_overdue``; page it, then ``records``.

    With ``published_only``, a link to a commitment that is not published is None, as if there were none.
    """
    # Filtering and ordering keep the queryset's class: it is the commitments' own.
    commitments = cast(CommitmentQuerySet, queryset)
    return commitments.with_link_references(published_only=published_only).values(*_COLUMNS)


@dataclass(frozen=True)
class ReferenceNames:
    """The codes and names of every document and theme, which records name their deal, foundation and area by."""

    documents: dict[int, dict[str, str]]
    themes: dict[int, dict[str, str]]


def reference_names() -> ReferenceNames:
    """Read the reference names: two small tables, whatever the number of commitments."""
    return ReferenceNames(
        documents={
            pk: {"code": code, "title": title}
            for pk, code, title in Document.objects.values_list("pk", "code", "title").order_by()
        },
        themes={
            pk: {"code": code, "name": name}
            for pk, code, name in Theme.objects.values_list("pk", "code", "name").order_by()
        },
    )


def records(
    page: Iterable[dict[str, Any]], *, published_only: bool, names: ReferenceNames | None = None
) -> list[dict[str, Any]]:
    """The records of a page of ``rows``: five more queries, whatever the page's size.

    With ``published_only``, a commitment's sub-items are its published ones only (its links are, by
    ``rows``). ``names`` may come
    from a cache; without them, two more queries read them.
    """
    page = list(page)
    ids = [row["pk"] for row in page]
    names = names or reference_names()
    nested: dict[str, dict[int, list[Any]]] = {
        name: _grouped(lookup, ids) for name, lookup in _nested_lookups(published_only=published_only).items()
    }
    for amounts in nested["funding"].values():
        amounts[:] = _with_joint_funders(amounts)
        for amount in amounts:
            amount["low"] = _money(amount["low"])
            amount["high"] = _money(amount["high"])
    for references in nested["children"].values():
        references[:] = [child["reference"] for child in references]
    nested.update(_delivery_plan(ids, published_only=published_only))
    return [_record(row, nested, names) for row in page]


def _delivery_plan(ids: list[int], *, published_only: bool) -> dict[str, dict[int, list[Any]]]:
    """The page's milestones (overdue today or not) and dependencies both ways: two queries, whatever the page."""
    plan: dict[str, dict[int, list[Any]]] = {"milestones": defaultdict(list), "depends_on": defaultdict(list)}
    plan["needed_by"] = defaultdict(list)
    if not ids:
        return plan
    # Overdue is the metrics app's rule, which annotates it (``commitments.hooks``).
    milestones = hooks.pipe(
        hooks.ANNOTATE_MILESTONE_OVERDUE, Milestone.objects.filter(commitment_id__in=ids), on=timezone.localdate()
    )
    for owner, title, due_on, done_on, overdue in milestones.order_by("commitment_id", "due_on", "pk").values_list(
        "commitment_id", "title", "due_on", "done_on", "is_overdue"
    ):
        plan["milestones"][owner].append(
            {"title": title, "due_on": _date(due_on), "done_on": _date(done_on), "overdue": bool(overdue)}
        )
    edges = Dependency.objects.filter(Q(commitment_id__in=ids) | Q(depends_on_id__in=ids)).values_list(
        "commitment_id",
        "commitment__reference",
        "commitment__published",
        "depends_on_id",
        "depends_on__reference",
        "depends_on__published",
        "note",
    )
    page = set(ids)
    for source, source_reference, source_published, target, target_reference, target_published, note in edges.order_by(
        "commitment__reference", "depends_on__reference"
    ):
        # A partner never learns of a commitment they may not see, even by its reference.
        if source in page and (target_published or not published_only):
            plan["depends_on"][source].append({"reference": target_reference, "note": note})
        if target in page and (source_published or not published_only):
            plan["needed_by"][target].append({"reference": source_reference})
    return plan


def records_in_chunks(queryset: QuerySet[Any], *, published_only: bool, chunk_size: int) -> Iterator[dict[str, Any]]:
    """Every record of a queryset of ``rows``, read a chunk at a time (exports)."""
    names = reference_names()
    chunk: list[dict[str, Any]] = []
    for row in queryset.iterator(chunk_size=chunk_size):
        chunk.append(row)
        if len(chunk) == chunk_size:
            yield from records(chunk, published_only=published_only, names=names)
            chunk = []
    if chunk:
        yield from records(chunk, published_only=published_only, names=names)


@dataclass(frozen=True)
class _Lookup:
    """A statement reading one kind of nested row for a set of commitments, ``{ids}`` standing for them."""

    sql: str
    keys: tuple[str, ...]
    params: tuple[Any, ...] = ()


@lru_cache(maxsize=2)
def _nested_lookups(*, published_only: bool) -> dict[str, _Lookup]:
    # Fixed statements rather than querysets: building five querysets, each filtering on a page of ids,
    # cost twice what running them did. Table and column names come from the models.
    commitment, theme, framework = _table(Commitment), _table(Theme), _table(Framework)
    themes_through, programmes_through = _table(Commitment.themes.through), _table(Programme.commitments.through)
    involvement, organisation = _table(CommitmentOrganisation), _table(Organisation)
    funding, programme = _table(FundingAmount), _table(Programme)
    joint = FundingAmount.joint_funders.through
    joint_table = _table(joint)
    joint_amount, joint_funder = (_column(joint, name) for name in ("fundingamount", "organisation"))
    published = " AND c.published = %s" if published_only else ""
    return {
        "themes": _Lookup(
            f"SELECT t.commitment_id, th.uuid, th.code, th.name, f.code FROM {themes_through} t "
            f"JOIN {theme} th ON th.id = t.theme_id JOIN {framework} f ON f.id = th.framework_id "
            "WHERE t.commitment_id IN ({ids}) ORDER BY f.code, th.position",
            ("uuid", "code", "name", "framework"),
        ),
        "organisations": _Lookup(
            f"SELECT i.commitment_id, o.uuid, o.name, i.role FROM {involvement} i "
            f"JOIN {organisation} o ON o.id = i.organisation_id "
            "WHERE i.commitment_id IN ({ids}) ORDER BY i.role, o.name",
            ("uuid", "name", "role"),
        ),
        # An amount's joint funders come in the same statement, a row each (``_with_joint_funders``).
        "funding": _Lookup(
            "SELECT a.commitment_id, a.key, a.amount_text, a.qualifier, a.low, a.high, a.nature, a.period_text, "
            f"o.uuid, jo.uuid FROM {funding} a LEFT JOIN {organisation} o ON o.id = a.funder_id "
            f"LEFT JOIN {joint_table} j ON j.{joint_amount} = a.id "
            f"LEFT JOIN {organisation} jo ON jo.id = j.{joint_funder} "
            "WHERE a.commitment_id IN ({ids}) ORDER BY a.key, jo.name",
            ("key", "amount_text", "qualifier", "low", "high", "nature", "period_text", "funder", "joint_funder"),
        ),
        "programmes": _Lookup(
            f"SELECT t.commitment_id, p.uuid, p.name, p.short_name FROM {programmes_through} t "
            f"JOIN {programme} p ON p.id = t.programme_id "
            "WHERE t.commitment_id IN ({ids}) ORDER BY p.name",
            ("uuid", "name", "short_name"),
        ),
        "children": _Lookup(
            f"SELECT c.parent_id, c.reference FROM {commitment} c "
            f"WHERE c.parent_id IN ({{ids}}){published} ORDER BY c.position, c.reference",
            ("reference",),
            (True,) if published_only else (),
        ),
    }


def _table(model: Any) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _column(model: Any, field: str) -> str:
    return str(connection.ops.quote_name(model._meta.get_field(field).column))


def _with_joint_funders(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One amount per key, its joint funders (a row each, in name order) gathered into ``joint_funders``."""
    amounts: dict[str, dict[str, Any]] = {}
    for row in rows:
        funder = row.pop("joint_funder")
        amount = amounts.setdefault(row["key"], {**row, "joint_funders": []})
        if funder is not None:
            amount["joint_funders"].append(funder)
    return list(amounts.values())


def _grouped(lookup: _Lookup, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not ids:
        return grouped
    sql = lookup.sql.replace("{ids}", ", ".join(["%s"] * len(ids)))
    params = [*ids, *lookup.params]
    uuids = [index for index, key in enumerate(lookup.keys) if key in _UUID_KEYS]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for owner, *values in cursor.fetchall():
            for index in uuids:
                if values[index] is not None:
                    # PostgreSQL gives UUIDs, SQLite their hex digits; the serializer gives the dashed form.
                    values[index] = str(values[index] if isinstance(values[index], UUID) else UUID(values[index]))
            grouped[owner].append(dict(zip(lookup.keys, values, strict=True)))
    return grouped


def _money(value: Any) -> str | None:
    return None if value is None else str(_MONEY.to_representation(value))


def _datetime(value: datetime) -> str:
    # As DRF's DateTimeField gives it: local time, ISO 8601, Z for UTC.
    text = timezone.localtime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _date(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _record(
    row: dict[str, Any],
    nested: dict[str, dict[int, list[Any]]],
    names: ReferenceNames,
) -> dict[str, Any]:
    pk = row["pk"]
    record: dict[str, Any] = {column: row[column] for column in _SCALARS}
    record["uuid"] = str(record["uuid"])
    record["target_date"] = _date(record["target_date"])
    record["starts_on"] = _date(record["starts_on"])
    record["modified_at"] = _datetime(record["modified_at"])
    record["deal"] = names.documents[row["deal_id"]]
    source_document = names.documents.get(row["source_document_id"])
    record["source_document"] = None if source_document is None else source_document["code"]
    record["foundation"] = names.themes[row["foundation_id"]]
    record["area"] = names.themes.get(row["area_id"])
    for link in _LINKS:
        record[link] = row[f"{link}_reference"]
    record["delivery"] = {
        "status": row["delivery_status"],
        "confidence": row["delivery_confidence"],
        "progress": row["progress"],
        "as_of": _date(row["delivery_as_of"]),
    }
    record["overdue"] = row["is_overdue"]
    record["baseline_date"] = record["target_date"]
    record["forecast_date"] = _date(record["forecast_date"])
    record["owning_team"] = row["owner__staff_profile__team"] or None
    for name, grouped in nested.items():
        record[name] = grouped.get(pk, [])
    return {key: record[key] for key in KEYS}
