"""Clearly labelled synthetic data for scale tests and benchmarks.

Everything hangs off documents and frameworks whose codes start with ``SYNTHETIC`` and whose titles say
"Synthetic data for benchmarks"; commitments are ``SYN-000001`` onwards, organisations "Synthetic
organisation 001". The generator refuses to write into a database that holds real commitments, so real
and synthetic data never mix. It writes in bulk: the rows are not audited history, they are a
throwaway scale fixture.

The rows are generated and written in batches, so that memory does not grow with the size asked for (a
million commitments with ten million updates fits in a few hundred megabytes). On PostgreSQL the big
tables are written with ``COPY``; elsewhere with ``bulk_create``. Both paths write the same rows for the
same seed: the rows are drawn first, as plain values, and only then written by one path or the other.
"""

from __future__ import annotations

import io
import random
import uuid
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import Max
from django.utils import timezone

from commitments import search
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from commitments.models import (
    Actor,
    Commitment,
    CommitmentOrganisation,
    Document,
    DocumentKind,
    Framework,
    Organisation,
    OrganisationKind,
    OrganisationRole,
    Section,
    StatusUpdate,
    Theme,
    ThemeKind,
    UpdateState,
)
from lsis.core.changes import data_changed
from metrics.services import spans_rebuild
from programmes.models import AmountNature, FundingAmount, Programme, ProgrammeKind
from programmes.money import AmountQualifier

DEAL_CODE = "SYNTHETIC"
LABEL = "Synthetic data for benchmarks"
QUOTE = "Synthetic data for benchmarks: not from any published document."
REFERENCE_PREFIX = "SYN-"
FIRST_AS_OF = date(2018, 1, 31)
LAST_AS_OF = date(2026, 9, 30)
# Rows drawn and written at a time: large enough that each COPY is worth its round trip, small enough that
# a batch's rows and text stay a few tens of megabytes.
_BATCH = 50_000
# bulk_create's own batches (SQLite): its statements are limited in parameters, not in rows.
_ORM_BATCH = 5000
# The words of the synthetic texts, most frequent first (drawn with weights 1/rank, as words are in prose), so
# that searching them finds few commitments or many, as searching the real texts does.
WORDS = tuple(
    """
    research NHS clinical data health patients investment innovation life sciences manufacturing
    industry government sector medicines trials genomics digital regulation skills funding programme
    partnership discovery translational cancer dementia vaccines diagnostics therapies imaging
    artificial intelligence genome sequencing biobank cohort population precision medicine cell gene
    advanced therapy centre catapult network cluster region north south east west midlands scotland
    wales ireland university hospital trust charity foundation council agency regulator approval pathway
    adoption procurement accelerator fund capital export trade talent apprenticeship doctoral fellowship
    infrastructure laboratory facility campus scale growth productivity jobs collaboration antimicrobial
    resistance obesity diabetes cardiovascular respiratory rare disease mental ageing prevention
    screening early detection wearable device medtech software platform evidence evaluation
    """.split()  # noqa: SIM905 - a paragraph of words, not a hundred quoted ones
)
_AMOUNT_TEXTS = {"exact": "£{}m", "up_to": "up to £{}m", "over": "over £{}m"}


class RealDataPresentError(RuntimeError):
    """The database holds real commitments; synthetic data must go into a database of its own."""


@dataclass(frozen=True)
class SyntheticReport:
    """What was generated."""

    commitments: int
    updates: int
    organisations: int
    programmes: int


def _vacuum_commitments() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {Commitment._meta.db_table}")


def real_commitments_present() -> bool:
    """Whether any commitment in the database is not synthetic."""
    return Commitment.objects.exclude(deal__code=DEAL_CODE).exists()


# ---------------------------------------------------------------------------------------------------------
# Writing rows: COPY on PostgreSQL, bulk_create elsewhere. A row is a tuple of values for the fields named
# ``varying``; ``fixed`` gives the fields every row shares; every other field gets what the ORM would give it
# (its default, "" for a text field without one, now for created/modified timestamps, a fresh uuid4).


def _copy_escape(text: str) -> str:
    # COPY's text format: backslash, tab, newline and carriage return are escaped, nothing else.
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _copy_text(value: Any) -> str:
    """``value``, prepared for the database by its field, in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        return _copy_escape(value)
    return _copy_escape(str(value))


def _column_converter(field: models.Field[Any, Any]) -> Callable[[Any], str]:
    """How one varying column's values become COPY text: through the field's own preparation."""
    if field.choices or isinstance(field, models.DateField | models.ForeignKey | models.IntegerField):
        # Few distinct values (choices, days, approval times, ids): prepared once each.
        cache: dict[Any, str] = {}

        def cached(value: Any) -> str:
            text = cache.get(value)
            if text is None:
                text = cache[value] = _copy_text(field.get_db_prep_save(value, connection))
            return text

        return cached
    return lambda value: _copy_text(field.get_db_prep_save(value, connection))


class _Writer:
    """Writes one model's rows, in batches, as the ORM would have filled them."""

    def __init__(self, model: type[models.Model], varying: Sequence[str], fixed: dict[str, Any]) -> None:
        self.model = model
        self.varying = tuple(varying)
        self.fixed = fixed

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write ``rows`` (values of ``varying``, in that order)."""
        objects = [self.model(**self.fixed, **dict(zip(self.varying, row, strict=True))) for row in rows]
        self.model._default_manager.bulk_create(objects, batch_size=_ORM_BATCH)


class _CopyWriter(_Writer):
    """Writes one model's rows with PostgreSQL's ``COPY ... FROM STDIN``, every column in ``_meta`` order.

    The columns the rows do not give are filled once per batch as the ORM fills them (``Model.__init__``
    takes each field's ``get_default()``, ``pre_save`` sets the ``auto_now`` timestamps); a callable default
    (a uuid) is called for every row.
    """

    def __init__(self, model: type[models.Model], varying: Sequence[str], fixed: dict[str, Any]) -> None:
        super().__init__(model, varying, fixed)
        meta = model._meta
        # The primary key is left to its identity column, as bulk_create leaves it.
        self.fields = [f for f in meta.concrete_fields if not f.primary_key]
        by_name = {f.name: f for f in self.fields} | {f.attname: f for f in self.fields}
        unknown = set(self.varying) - set(by_name) | set(fixed) - set(by_name)
        if unknown:
            raise ValueError(f"{model.__name__} has no fields {sorted(unknown)}")
        self.varying_fields = [by_name[name] for name in self.varying]
        self.fixed_fields = {by_name[name].attname: value for name, value in fixed.items()}
        self.converters = [_column_converter(f) for f in self.varying_fields]
        self.sql = "COPY {} ({}) FROM STDIN".format(
            connection.ops.quote_name(meta.db_table),
            ", ".join(connection.ops.quote_name(f.column) for f in self.fields),
        )

    def _template(self) -> tuple[str, list[Callable[[tuple[Any, ...]], str]]]:
        # The line of one row, in _meta order: constants inlined, "%s" where a row's value or a per-row default
        # goes, with what makes that value's text.
        now = timezone.now()
        varying = {f.attname: i for i, f in enumerate(self.varying_fields)}
        parts: list[str] = []
        slots: list[Callable[[tuple[Any, ...]], str]] = []
        for field in self.fields:
            if field.attname in varying:
                parts.append("%s")
                slots.append(_from_row(varying[field.attname], self.converters[varying[field.attname]]))
            elif field.attname in self.fixed_fields:
                value = field.get_db_prep_save(self.fixed_fields[field.attname], connection)
                parts.append(_copy_text(value).replace("%", "%%"))
            elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                parts.append(_copy_text(field.get_db_prep_save(now, connection)).replace("%", "%%"))
            elif field.has_default() and callable(field.default):
                parts.append("%s")
                slots.append(_default_text(field))
            else:
                value = field.get_db_prep_save(field.get_default(), connection)
                parts.append(_copy_text(value).replace("%", "%%"))
        return "\t".join(parts) + "\n", slots

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write ``rows`` (values of ``varying``, in that order) with one ``COPY``."""
        if not rows:
            return
        template, slots = self._template()
        buffer = io.StringIO()
        write = buffer.write
        for row in rows:
            write(template % tuple([slot(row) for slot in slots]))
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(self.sql, buffer)


def _from_row(index: int, convert: Callable[[Any], str]) -> Callable[[tuple[Any, ...]], str]:
    return lambda row: convert(row[index])


def _default_text(field: models.Field[Any, Any]) -> Callable[[tuple[Any, ...]], str]:
    """A fresh default for every row, as ``Model.__init__`` calls a callable default for every instance."""
    if field.default is uuid.uuid4:
        return lambda row: str(uuid.uuid4())  # what get_db_prep_save makes of it, without the detour
    return lambda row: _copy_text(field.get_db_prep_save(field.get_default(), connection))


def _writer(model: type[models.Model], varying: Sequence[str], fixed: dict[str, Any] | None = None) -> _Writer:
    kind = _CopyWriter if connection.vendor == "postgresql" else _Writer
    return kind(model, varying, fixed or {})


def _batches(rows: Iterable[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, _BATCH)):
        yield batch


# ---------------------------------------------------------------------------------------------------------
# Drawing the rows. Each kind of row has a random stream of its own (the commitments the seed's, as they
# always had), so that streaming in batches draws the same values whatever the batch size.


@dataclass(frozen=True)
class _Fixtures:
    deal: Document
    areas: list[Theme]
    themes: list[Theme]
    organisations: list[Organisation]
    programmes: list[Programme]


def _fixtures() -> _Fixtures:
    deal, _ = Document.objects.get_or_create(
        code=DEAL_CODE,
        defaults={
            "title": LABEL,
            "kind": DocumentKind.SECTOR_DEAL,
            "published_on": date(2017, 12, 1),
            "published_label": "Synthetic",
        },
    )
    framework, _ = Framework.objects.get_or_create(
        code="SYNTHETIC-FOUNDATIONS",
        defaults={"name": f"{LABEL}: foundations", "source_document": deal, "source_quote": QUOTE},
    )
    themes_framework, _ = Framework.objects.get_or_create(
        code="SYNTHETIC-THEMES", defaults={"name": f"{LABEL}: themes", "source_document": deal, "source_quote": QUOTE}
    )
    areas = []
    for f in range(5):
        foundation, _ = Theme.objects.get_or_create(
            framework=framework,
            code=f"SYNF{f + 1}",
            defaults={
                "name": f"Synthetic foundation {f + 1}",
                "kind": ThemeKind.FOUNDATION,
                "source_document": deal,
                "source_quote": QUOTE,
            },
        )
        for a in range(3):
            area, _ = Theme.objects.get_or_create(
                framework=framework,
                code=f"SYNF{f + 1}A{a + 1}",
                defaults={
                    "name": f"Synthetic area {f + 1}.{a + 1}",
                    "kind": ThemeKind.AREA,
                    "parent": foundation,
                    "source_document": deal,
                    "source_quote": QUOTE,
                },
            )
            areas.append(area)
    themes = [
        Theme.objects.get_or_create(
            framework=themes_framework,
            code=f"SYNT{t + 1}",
            defaults={"name": f"Synthetic theme {t + 1}", "source_document": deal, "source_quote": QUOTE},
        )[0]
        for t in range(5)
    ]
    organisations = [
        Organisation.objects.get_or_create(
            name=f"Synthetic organisation {o + 1:03d}",
            defaults={"kind": OrganisationKind.OTHER, "source_document": deal, "source_quote": QUOTE},
        )[0]
        for o in range(200)
    ]
    programmes = [
        Programme.objects.get_or_create(
            name=f"Synthetic programme {p + 1:02d}",
            defaults={"kind": ProgrammeKind.PROGRAMME, "source_document": deal, "source_quote": QUOTE},
        )[0]
        for p in range(50)
    ]
    return _Fixtures(deal, areas, themes, organisations, programmes)


_COMMITMENT_FIELDS = (
    "reference",
    "foundation_id",
    "area_id",
    "actor",
    "position",
    "text",
    "target_date_text",
    "target_date",
)


def _commitment_rows(fixtures: _Fixtures, numbers: range, seed: int) -> Iterator[tuple[Any, ...]]:
    """The commitments numbered ``numbers``, each with its theme, organisation, programme and amount.

    The amount (every third commitment, as before) is None for the others.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    # The texts' words and the links come from generators of their own, so that the rest of the data is as
    # before.
    words = random.Random(seed + 1)  # noqa: S311 - reproducible test data, not security
    links = random.Random(f"{seed}:links")  # noqa: S311 - reproducible test data, not security
    weights = [1 / rank for rank in range(1, len(WORDS) + 1)]
    actors = Actor.values
    qualifiers = [AmountQualifier.EXACT, AmountQualifier.UP_TO, AmountQualifier.OVER]
    natures = [AmountNature.NEW_MONEY, AmountNature.NEW_MONEY, AmountNature.RESTATED]
    for n in numbers:
        area = rng.choice(fixtures.areas)
        target = date(2019 + rng.randrange(8), rng.randrange(1, 13), 28) if rng.random() < 0.7 else None
        reference = f"{REFERENCE_PREFIX}{n:06d}"
        amount = None
        theme, organisation, programme = (
            links.choice(fixtures.themes).pk,
            links.choice(fixtures.organisations).pk,
            links.choice(fixtures.programmes).pk,
        )
        if (n - numbers.start) % 3 == 0:
            millions = Decimal(links.randrange(1, 200))
            qualifier = links.choice(qualifiers)
            low = None if qualifier == AmountQualifier.UP_TO else millions * 1_000_000
            high = None if qualifier == AmountQualifier.OVER else millions * 1_000_000
            text = _AMOUNT_TEXTS[qualifier].format(millions)
            amount = (f"{reference}-A1", text, qualifier, low, high, links.choice(natures))
        yield (
            (
                reference,
                area.parent_id,
                area.pk,
                rng.choice(actors),
                n,
                f"Synthetic commitment {n}: {' '.join(words.choices(WORDS, weights, k=words.randrange(8, 31)))}.",
                f"by {target:%B %Y}" if target else "",
                target,
            ),
            theme,
            organisation,
            programme,
            amount,
        )


_UPDATE_FIELDS = ("commitment_id", "as_of", "status", "confidence", "progress", "reviewed_at", "approved_at")


def _update_rows(commitment_ids: Sequence[int], count: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """``count`` approved updates of commitments drawn from ``commitment_ids``."""
    rng = random.Random(f"{seed}:updates")  # noqa: S311 - reproducible test data, not security
    tz = timezone.get_current_timezone()
    span = (LAST_AS_OF - FIRST_AS_OF).days
    # The days and approval times an update can have, made once rather than for every update.
    days = [FIRST_AS_OF + timedelta(days=d) for d in range(span + 60)]
    noons = [datetime.combine(day, time(12), tzinfo=tz) for day in days]
    statuses = DeliveryStatus.values
    confidences = ["", *DeliveryConfidence.values]
    randrange, choice = rng.randrange, rng.choice
    for _ in range(count):
        day = randrange(span)
        approved_at = noons[day + randrange(1, 60)]
        yield (
            choice(commitment_ids),
            days[day],
            choice(statuses),
            choice(confidences),
            choice([None, randrange(101)]),
            approved_at,
            approved_at,
        )


@transaction.atomic
def generate_synthetic(*, commitments: int, updates: int, seed: int, owners: int = 0) -> SyntheticReport:
    """Create ``commitments`` synthetic commitments and ``updates`` approved updates, reproducibly from ``seed``.

    The same seed gives the same rows, on PostgreSQL and elsewhere. Rows are drawn and written in batches,
    so memory stays bounded whatever the size; only the commitments' ids are held, to draw the updates'.
    With ``owners``, that many synthetic staff (``synthetic-owner-<k>``, with e-mail addresses) are made and
    the synthetic commitments owned in turn by them (commitment ``n`` by owner ``n`` modulo ``owners``).
    """
    if real_commitments_present():
        raise RealDataPresentError(
            "This database holds real commitments. Generate synthetic data into a database of its own "
            "(point DATABASE_URL at an empty one); real and synthetic data never mix."
        )
    postgresql = connection.vendor == "postgresql"
    if postgresql:
        # Django's foreign keys are deferred to the commit: millions of rows would queue millions of checks
        # in the server's memory. Checked at the end of each COPY instead, the queue stays a batch long.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    fixtures = _fixtures()
    deal = fixtures.deal
    existing = Commitment.objects.filter(deal=deal)
    start = existing.count()
    # The ids of every synthetic commitment in number order, to draw the updates' commitments from: eight
    # bytes each, not a model instance each.
    all_ids = array("q", existing.order_by("position", "pk").values_list("pk", flat=True))

    commitment_writer = _writer(
        Commitment,
        _COMMITMENT_FIELDS,
        {
            "deal_id": deal.pk,
            "section": Section.KEY_COMMITMENTS,
            "published": True,
            "source_document_id": deal.pk,
            "source_quote": QUOTE,
        },
    )
    theme_writer = _writer(Commitment.themes.through, ("commitment_id", "theme_id"))
    organisation_writer = _writer(
        CommitmentOrganisation, ("commitment_id", "organisation_id"), {"role": OrganisationRole.LEAD}
    )
    programme_writer = _writer(Programme.commitments.through, ("commitment_id", "programme_id"))
    amount_writer = _writer(
        FundingAmount,
        ("commitment_id", "key", "amount_text", "qualifier", "low", "high", "nature"),
        {"source_document_id": deal.pk, "source_quote": QUOTE},
    )
    numbers = range(start + 1, start + commitments + 1)
    for batch in _batches(_commitment_rows(fixtures, numbers, seed)):
        before = Commitment.objects.aggregate(last=Max("pk"))["last"] or 0
        commitment_writer.write([row for row, *_ in batch])
        # The ids the database gave, read back by number rather than kept from instances.
        first, last = batch[0][0][4], batch[-1][0][4]
        given = dict(
            Commitment.objects.filter(deal=deal, pk__gt=before, position__gte=first, position__lte=last).values_list(
                "position", "pk"
            )
        )
        ids = [given[row[4]] for row, *_ in batch]
        all_ids.extend(ids)
        theme_writer.write([(pk, theme) for pk, (_, theme, _, _, _) in zip(ids, batch, strict=True)])
        organisation_writer.write([(pk, org) for pk, (_, _, org, _, _) in zip(ids, batch, strict=True)])
        programme_writer.write([(pk, prog) for pk, (_, _, _, prog, _) in zip(ids, batch, strict=True)])
        amount_writer.write([(pk, *amount) for pk, (*_, amount) in zip(ids, batch, strict=True) if amount])
    if postgresql:
        # The planner has not seen these rows yet (autovacuum cannot, before the commit): what follows is
        # planned on their statistics rather than on an empty table's.
        _analyze(Commitment, Commitment.themes.through, CommitmentOrganisation, Programme.commitments.through)
    # Written in bulk, not through the services: the search documents are built in one statement. That leaves
    # a dead version of every commitment, cleared once committed as autovacuum would, so that what is timed on
    # this data does not read them.
    search.documents_refresh(commitment_ids=existing.values_list("pk", flat=True))
    if postgresql:
        transaction.on_commit(_vacuum_commitments)

    author, _ = get_user_model().objects.get_or_create(username="synthetic-author")
    reviewer, _ = get_user_model().objects.get_or_create(username="synthetic-reviewer")
    update_writer = _writer(
        StatusUpdate,
        _UPDATE_FIELDS,
        {
            "narrative": "Synthetic update.",
            "author_id": author.pk,
            "reviewed_by_id": reviewer.pk,
            "state": UpdateState.APPROVED,
        },
    )
    for batch in _batches(_update_rows(all_ids, updates, seed)):
        update_writer.write(batch)
    if postgresql:
        _analyze(StatusUpdate)
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # back to Django's default for the transaction
    spans_rebuild()  # approved updates written directly, not through the outbox; no real data here
    if owners:
        _owners_assign(deal_id=deal.pk, owners=owners)
    data_changed()
    return SyntheticReport(commitments, updates, len(fixtures.organisations), len(fixtures.programmes))


def _owners_assign(*, deal_id: int, owners: int) -> None:
    """Make ``owners`` synthetic staff and give each synthetic commitment one of them, in one statement."""
    from django.db.models import CharField, OuterRef, Subquery, Value
    from django.db.models.functions import Cast, Concat

    users = get_user_model()
    users.objects.bulk_create(
        [
            users(username=f"synthetic-owner-{k}", email=f"synthetic-owner-{k}@example.invalid", is_staff=True)
            for k in range(owners)
        ],
        ignore_conflicts=True,
    )
    wanted = Concat(Value("synthetic-owner-"), Cast(OuterRef("position") % owners, CharField()))
    Commitment.objects.filter(deal_id=deal_id).update(
        owner_id=Subquery(users.objects.filter(username=wanted).values("pk")[:1])
    )


def _analyze(*tables: type[models.Model]) -> None:
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")
