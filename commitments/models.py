"""The strategy, its deals, their themes, the organisations involved and the commitments made.

Design notes are in docs/adr/0001-domain-model.md. In short: a commitment is one printed item of one deal,
kept word for word with the quote it comes from; its foundation and area are Industrial Strategy themes;
themes of other frameworks attach through ``themes``; its delivery state is derived from approved
status updates and stored on it for speed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from simple_history.models import HistoricalRecords

from commitments.dates import TimingKind
from commitments.delivery import (
    CONFIDENCE_HELP_TEXT,
    PROGRESS_VALIDATORS,
    STATUS_HELP_TEXT,
    DeliveryConfidence,
    DeliveryStatus,
)
from lsis.models import AuditedModel, PublicModel, VersionedModel, link_chain_reaches

CODE_VALIDATOR = RegexValidator(
    r"^[A-Z0-9]+(?:[-.][A-Z0-9]+)*$",
    message="Use capital letters and digits separated by hyphens or dots, e.g. SD2-IDEAS-HARP-G1.",
)


class DocumentKind(models.TextChoices):
    """What sort of publication a document is."""

    STRATEGY = "strategy", "Strategy"
    SECTOR_DEAL = "sector_deal", "Sector Deal"
    STRATEGY_UPDATE = "strategy_update", "Strategy update"
    PRESS_RELEASE = "press_release", "Press release"


class Document(PublicModel):
    """A published strategy document, deal or announcement that commitments and evidence come from."""

    code = models.CharField(max_length=40, unique=True, validators=[CODE_VALIDATOR])
    title = models.CharField(max_length=300)
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    published_on = models.DateField(help_text="Publication date; month-precise dates use the first of the month.")
    published_label = models.CharField(
        max_length=40, help_text='Publication date as the document gives it, e.g. "December 2018".'
    )
    source_file = models.CharField(
        max_length=200, blank=True, help_text="The file in fixtures/sources/ holding the document's text."
    )

    class Meta:
        ordering = ["published_on", "code"]

    def __str__(self) -> str:
        return self.title

    @property
    def is_deal(self) -> bool:
        """Whether commitments can belong to this document.

        A Sector Deal, or the strategy whose recommendations the deals answer: its recommendations are its
        commitments, so that lineage runs from recommendation to deal to delivery.
        """
        return self.kind in (DocumentKind.SECTOR_DEAL, DocumentKind.STRATEGY)


class SourcedModel(models.Model):
    """A record transcribed from a source document, with the verbatim words it rests on.

    Abstract: the programmes and metrics apps' transcribed records use it too, which they may, sitting
    above this app.
    """

    source_document = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The document this record is taken from.",
    )
    source_quote = models.TextField(
        help_text="The words of the source document this record rests on, verbatim.",
    )

    class Meta:
        abstract = True


class Framework(PublicModel, SourcedModel):
    """A way of classifying commitments: the Industrial Strategy foundations, the 2017 themes, the 2020 themes."""

    code = models.CharField(max_length=40, unique=True, validators=[CODE_VALIDATOR])
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ThemeKind(models.TextChoices):
    """The level of a theme within its framework."""

    FOUNDATION = "foundation", "Foundation"
    AREA = "area", "Area"
    THEME = "theme", "Theme"


class ThemeQuerySet(models.QuerySet["Theme"]):
    """Reads of themes."""

    def foundations(self) -> ThemeQuerySet:
        """Industrial Strategy foundations."""
        return self.filter(kind=ThemeKind.FOUNDATION)

    def areas(self) -> ThemeQuerySet:
        """Areas within foundations, as printed in Sector Deal 2."""
        return self.filter(kind=ThemeKind.AREA)


class Theme(PublicModel, SourcedModel):
    """A theme of a framework. Industrial Strategy areas are themes whose parent is their foundation."""

    framework = models.ForeignKey(Framework, on_delete=models.PROTECT, related_name="themes")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    kind = models.CharField(max_length=20, choices=ThemeKind.choices, default=ThemeKind.THEME)
    code = models.CharField(max_length=40, validators=[CODE_VALIDATOR])
    name = models.CharField(max_length=300)
    statement = models.TextField(blank=True, help_text="The mission line printed under a foundation's heading.")
    context = models.TextField(
        blank=True,
        help_text='The "Life Sciences Sector Deal 1:" paragraph Sector Deal 2 prints for this area, verbatim.',
    )
    position = models.PositiveSmallIntegerField(default=0, help_text="Order within the framework, as printed.")

    objects = ThemeQuerySet.as_manager()

    class Meta:
        ordering = ["framework__code", "position"]
        constraints = [
            models.UniqueConstraint(fields=["framework", "code"], name="theme_code_unique_in_framework"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Areas sit under a foundation of the same framework; nothing else has a parent."""
        if self.kind == ThemeKind.AREA:
            if self.parent is None or self.parent.kind != ThemeKind.FOUNDATION:
                raise ValidationError({"parent": "An area must belong to a foundation."})
            if self.parent.framework_id != self.framework_id:
                raise ValidationError({"parent": "An area's foundation must be in the same framework."})
        elif self.parent is not None:
            raise ValidationError({"parent": "Only areas belong to a foundation."})


class OrganisationKind(models.TextChoices):
    """The sort of body an organisation is."""

    COMPANY = "company", "Company"
    CHARITY = "charity", "Charity"
    GOVERNMENT_DEPARTMENT = "government_department", "Government department"
    AGENCY_REGULATOR = "agency_regulator", "Agency or regulator"
    NHS_BODY = "nhs_body", "NHS body"
    UNIVERSITY = "university", "University"
    RESEARCH_INSTITUTE = "research_institute", "Research institute"
    CLUSTER_NETWORK = "cluster_network", "Cluster or network"
    INVESTOR = "investor", "Investor"
    TRADE_ASSOCIATION = "trade_association", "Trade association"
    OTHER = "other", "Other"


class OrganisationQuerySet(models.QuerySet["Organisation"]):
    """Reads of organisations."""

    def named(self, name: str) -> OrganisationQuerySet:
        """Organisations whose name or any alias is ``name``, ignoring case."""
        return self.filter(models.Q(name__iexact=name) | models.Q(aliases__name__iexact=name)).distinct()


class Organisation(VersionedModel, PublicModel, SourcedModel):
    """A company, charity, public body or other organisation that takes part in commitments."""

    name = models.CharField(max_length=300, help_text="The fullest name the documents print.")
    kind = models.CharField(max_length=30, choices=OrganisationKind.choices)

    objects = OrganisationQuerySet.as_manager()
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="organisation_name_unique_ignoring_case"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """One organisation, not two: the name may not be another organisation's alias."""
        clash = OrganisationAlias.objects.filter(name__iexact=self.name).exclude(organisation_id=self.pk).first()
        if clash is not None:
            raise ValidationError(
                {"name": f"“{self.name}” is already an alias of {clash.organisation}; edit that organisation instead."}
            )


class OrganisationAlias(models.Model):
    """Another spelling or abbreviation of an organisation's name, as printed somewhere."""

    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=300)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "organisation aliases"
        constraints = [
            models.UniqueConstraint(Lower("name"), name="organisation_alias_unique_ignoring_case"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """An alias may not be another organisation's name."""
        clash = Organisation.objects.filter(name__iexact=self.name).exclude(pk=self.organisation_id).first()
        if clash is not None:
            raise ValidationError({"name": f"“{self.name}” is the name of another organisation, {clash}."})


class Actor(models.TextChoices):
    """Which side of a deal made a commitment: the two columns of the Sector Deal."""

    SECTOR = "sector", "Sector"
    GOVERNMENT = "government", "Government"


class Section(models.TextChoices):
    """Where in its deal a commitment is printed."""

    KEY_COMMITMENTS = "key_commitments", "Key commitments"
    CHAPTER = "chapter", "Detailed chapter"


_DETAIL_FIELDS = (
    "uuid",
    "reference",
    "actor",
    "section",
    "position",
    "lead_in",
    "text",
    "source_quote",
    "target_date_text",
    "target_date",
    "timing_kind",
    "starts_on",
    "jobs",
    "jobs_text",
    "published",
    "delivery_status",
    "delivery_confidence",
    "progress",
    "delivery_as_of",
    "modified_at",
    "version",
    "deal__code",
    "deal__title",
    "foundation__code",
    "foundation__name",
    "area__code",
    "area__name",
    "source_document__code",
    "parent",
    "continues",
    "elaborates",
)


_LINKS = ("parent", "continues", "elaborates")


class CommitmentQuerySet(models.QuerySet["Commitment"]):
    """Reads of commitments, with the joins each reader needs declared once."""

    def with_classification(self) -> CommitmentQuerySet:
        """Join the deal, foundation and area that every list shows."""
        return self.select_related("deal", "foundation", "area", "source_document")

    def published(self) -> CommitmentQuerySet:
        """Commitments visible outside the Office for Life Sciences."""
        return self.filter(published=True)

    def top_level(self) -> CommitmentQuerySet:
        """Commitments that are not sub-items of another."""
        return self.filter(parent__isnull=True)

    def with_link_references(self, *, published_only: bool) -> CommitmentQuerySet:
        """Annotate ``parent_reference``, ``continues_reference`` and ``elaborates_reference``.

        Each is the linked commitment's reference, or None; with ``published_only``, None as well where
        the linked commitment is not published, so that a link never names what a partner may not see.
        Subqueries rather than joins: evaluated for the rows returned only, not for every row before a
        page is sorted out.
        """
        linked = Commitment.objects.published() if published_only else Commitment.objects.all()
        return self.annotate(
            **{
                f"{link}_reference": models.Subquery(
                    linked.filter(pk=models.OuterRef(f"{link}_id")).values("reference")[:1]
                )
                for link in _LINKS
            }
        )

    def with_details(self, *, published_only: bool) -> CommitmentQuerySet:
        """Join and prefetch everything of this app a commitment's full record shows (API, exports).

        A fixed number of queries whatever the number of rows; with ``published_only``, its sub-items and
        links are only the published ones. Its money and programmes belong to the programmes app, above
        this one: ``programmes.models.with_funding_and_programmes`` adds them.
        """
        children = Commitment.objects.only("pk", "reference", "parent_id").order_by("position", "reference")
        if published_only:
            children = children.published()
        return (
            self.select_related("deal", "foundation", "area", "source_document")
            # Only the columns the record shows: the joined rows carry long texts that would otherwise be read
            # (and sorted, for a page) for nothing.
            .only(*_DETAIL_FIELDS)
            .with_link_references(published_only=published_only)
            .prefetch_related(
                models.Prefetch(
                    "themes",
                    queryset=Theme.objects.select_related("framework").only("uuid", "code", "name", "framework__code"),
                ),
                models.Prefetch(
                    "involvements",
                    queryset=CommitmentOrganisation.objects.select_related("organisation")
                    .only("commitment", "role", "organisation__uuid", "organisation__name")
                    .order_by("role", "organisation__name"),
                ),
                models.Prefetch("children", queryset=children),
            )
        )

    def for_detail_page(self) -> CommitmentQuerySet:
        """Everything the commitment page shows, in a fixed number of queries."""
        approved_updates = (
            StatusUpdate.objects.approved()
            .latest_first()
            .select_related("source_document", "supersedes")
            .prefetch_related("evidence_links")
        )
        return self.select_related(
            "deal", "foundation", "area", "source_document", "parent", "continues__deal", "elaborates"
        ).prefetch_related(
            models.Prefetch("involvements", queryset=CommitmentOrganisation.objects.select_related("organisation")),
            models.Prefetch("updates", queryset=approved_updates, to_attr="approved_updates"),
            models.Prefetch("themes", queryset=Theme.objects.select_related("framework")),
            "children",
            "continued_by__deal",
            "elaborated_by",
            "programmes",
            "funding__part_of",
            "funding__funder",
            "funding__programme",
        )


class Commitment(VersionedModel, PublicModel, SourcedModel):
    """One commitment of one deal, as printed, with its delivery state."""

    reference = models.CharField(
        max_length=60,
        unique=True,
        validators=[CODE_VALIDATOR],
        help_text="Stable human-readable reference, e.g. SD2-IDEAS-HARP-G1.",
    )
    deal = models.ForeignKey(
        Document,
        on_delete=models.PROTECT,
        related_name="commitments",
        limit_choices_to={"kind__in": [DocumentKind.SECTOR_DEAL, DocumentKind.STRATEGY]},
    )
    foundation = models.ForeignKey(
        Theme,
        on_delete=models.PROTECT,
        related_name="foundation_commitments",
        limit_choices_to={"kind": ThemeKind.FOUNDATION},
    )
    area = models.ForeignKey(
        Theme,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="area_commitments",
        limit_choices_to={"kind": ThemeKind.AREA},
        help_text="Empty where the foundation prints no areas (Infrastructure, Places, People).",
    )
    themes = models.ManyToManyField(
        Theme, blank=True, related_name="commitments", help_text="Themes of other frameworks."
    )
    actor = models.CharField(max_length=20, choices=Actor.choices)
    section = models.CharField(max_length=20, choices=Section.choices, default=Section.KEY_COMMITMENTS)
    position = models.PositiveIntegerField(default=0, help_text="Order within the deal, as printed.")
    lead_in = models.TextField(blank=True, help_text="The lead-in sentence this item completes, verbatim.")
    text = models.TextField(help_text="The commitment exactly as printed.")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text="The commitment this is a sub-item of.",
    )
    continues = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="continued_by",
        help_text="The commitment of an earlier deal that this one continues.",
    )
    elaborates = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="elaborated_by",
        help_text="The key commitment that this detailed commitment elaborates.",
    )
    organisations = models.ManyToManyField(  # type: ignore[var-annotated]
        Organisation, through="CommitmentOrganisation", related_name="commitments", blank=True
    )
    target_date_text = models.CharField(
        max_length=100, blank=True, help_text='The target date as written, e.g. "by March 2021".'
    )
    target_date = models.DateField(
        null=True,
        blank=True,
        help_text="The deadline: the last day of the period the written timing names, or of a window; empty for a "
        "start date, a duration counted from no date, or a recurring timing.",
    )
    timing_kind = models.CharField(
        max_length=20,
        choices=TimingKind.choices,
        default=TimingKind.NONE,
        help_text="What the written timing says: a deadline, a window, a start date, a duration or recurring.",
    )
    starts_on = models.DateField(
        null=True, blank=True, help_text="The first day of a window or a duration, or the start date written."
    )
    jobs = models.PositiveIntegerField(null=True, blank=True, help_text="Jobs the commitment states.")
    jobs_text = models.CharField(max_length=200, blank=True, help_text="The jobs as written.")
    published = models.BooleanField(default=False, help_text="Visible to partners through the API.")

    delivery_status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.NOT_STARTED, help_text=STATUS_HELP_TEXT
    )
    delivery_confidence = models.CharField(
        max_length=20, choices=DeliveryConfidence.choices, blank=True, help_text=CONFIDENCE_HELP_TEXT
    )
    progress = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=PROGRESS_VALIDATORS, help_text="Per cent; empty where no figure is reported."
    )
    delivery_as_of = models.DateField(
        null=True, blank=True, help_text="The as-of date of the approved update the delivery state comes from."
    )
    # Who keeps it fresh (``commitments.ownership``): the accountable owner is asked for the quarterly update.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_commitments",
        limit_choices_to={"is_staff": True, "is_active": True},
        help_text="The accountable owner: the member of staff asked for the quarterly update.",
    )
    contributors = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="contributed_commitments",
        limit_choices_to={"is_staff": True, "is_active": True},
        help_text="Staff who help the owner; they see the commitment in their tasks too.",
    )
    forecast_date = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="The deadline as re-baselined by an approved request; the target date stays the baseline.",
    )
    # Derived, so not in the history: rebuilt by the services (``commitments.search.documents_refresh``) on
    # PostgreSQL, where migration 0013 puts a GIN index on it; left empty on SQLite, which searches the fields.
    search_vector = SearchVectorField(
        null=True, editable=False, help_text="The weighted search document of commitments.search (PostgreSQL)."
    )

    objects = CommitmentQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["modified_at", "search_vector"])

    class Meta:
        ordering = ["deal__published_on", "position", "reference"]
        permissions = [
            ("publish_commitment", "Can publish commitments to partners"),
            ("assign_owner_commitment", "Can assign commitments' owners and contributors"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__isnull=True) | models.Q(progress__gte=0, progress__lte=100),
                name="commitment_progress_0_to_100",
            ),
            models.CheckConstraint(
                condition=models.Q(delivery_status__in=DeliveryStatus.values), name="commitment_status_known"
            ),
            models.CheckConstraint(
                condition=models.Q(delivery_confidence__in=[*DeliveryConfidence.values, ""]),
                name="commitment_confidence_known",
            ),
            models.CheckConstraint(condition=models.Q(actor__in=Actor.values), name="commitment_actor_known"),
            models.CheckConstraint(
                condition=models.Q(timing_kind__in=TimingKind.values), name="commitment_timing_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    def clean(self) -> None:
        """Check the links between commitments and the classification make sense."""
        errors: dict[str, list[str]] = {}
        if self.area_id and self.foundation_id and self.area is not None and self.area.parent_id != self.foundation_id:
            errors.setdefault("area", []).append(
                f"The area “{self.area}” belongs to {self.area.parent}, not to the chosen foundation."
            )
        if self.deal_id and not self.deal.is_deal:
            errors.setdefault("deal", []).append(f"“{self.deal}” is not a Sector Deal.")
        if self.parent_id:
            if self.parent_id == self.pk:
                errors.setdefault("parent", []).append("A commitment cannot be its own parent.")
            elif self.parent is not None and self.parent.deal_id != self.deal_id:
                errors.setdefault("parent", []).append(
                    f"The parent {self.parent} belongs to {self.parent.deal}; a sub-item must belong to the same deal."
                )
            elif link_chain_reaches(self, "parent"):
                errors.setdefault("parent", []).append("That parent would make the commitment a sub-item of itself.")
        continues = self.continues if self.continues_id else None
        if continues is not None and self.deal_id and continues.deal.published_on >= self.deal.published_on:
            errors.setdefault("continues", []).append(
                f"{continues} belongs to {continues.deal}, which is not earlier than {self.deal}."
            )
        if self.elaborates_id and self.elaborates is not None:
            if self.elaborates_id == self.pk:
                errors.setdefault("elaborates", []).append("A commitment cannot elaborate itself.")
            elif self.elaborates.deal_id != self.deal_id:
                errors.setdefault("elaborates", []).append("A commitment can only elaborate one of its own deal.")
        if errors:
            raise ValidationError(errors)


class OrganisationRole(models.TextChoices):
    """What an organisation does in a commitment."""

    LEAD = "lead", "Lead"
    PARTNER = "partner", "Partner"
    FUNDER = "funder", "Funder"


class CommitmentOrganisation(AuditedModel):
    """An organisation's part in a commitment."""

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="involvements")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="involvements")
    role = models.CharField(max_length=20, choices=OrganisationRole.choices)

    history = HistoricalRecords()

    class Meta:
        ordering = ["commitment", "role", "organisation__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["commitment", "organisation", "role"], name="commitment_organisation_role_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} ({self.get_role_display()})"


def commitments_as_recorded(moment: datetime) -> models.QuerySet[Any]:
    """Every commitment as its history recorded it at ``moment``: the latest version saved by then.

    One historical row per commitment (``id`` is the commitment's), none for one not yet created or already
    deleted then. Its fields have the commitment's names, so the rules' conditions apply to it unchanged.
    A commitment written without history (bulk-loaded synthetic data) has no row at all.
    """
    history = Commitment.history.model
    latest = (
        history.objects.filter(id=models.OuterRef("id"), history_date__lte=moment)
        .order_by("-history_date", "-history_id")
        .values("history_id")[:1]
    )
    return (
        history.objects.filter(history_date__lte=moment, history_id=models.Subquery(latest))
        .exclude(history_type="-")
        .order_by()
    )


class UpdateState(models.TextChoices):
    """Where a status update is in review."""

    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted"
    RETURNED = "returned", "Returned"
    APPROVED = "approved", "Approved"


#: The states of an update still in review: at most one per commitment and day (``same_day_refusal``).
IN_PROGRESS_STATES = (UpdateState.DRAFT, UpdateState.SUBMITTED, UpdateState.RETURNED)

#: The longest narrative an update may have, in characters (the API and spreadsheet imports hold to it).
NARRATIVE_MAX_LENGTH = 20_000

# The order in which approved updates take precedence: latest as-of date, then latest approval.
LATEST_FIRST = ("-as_of", models.F("approved_at").desc(nulls_last=True), "-pk")


class StatusUpdateQuerySet(models.QuerySet["StatusUpdate"]):
    """Reads of status updates."""

    def approved(self) -> StatusUpdateQuerySet:
        """Updates that count towards a commitment's delivery state."""
        return self.filter(state=UpdateState.APPROVED)

    def latest_first(self) -> StatusUpdateQuerySet:
        """Order so that the first approved update is the one that sets the current state."""
        return self.order_by(*LATEST_FIRST)

    def published(self) -> StatusUpdateQuerySet:
        """What partners see: approved updates of published commitments."""
        return self.approved().filter(commitment__published=True)

    def with_details(self) -> StatusUpdateQuerySet:
        """Join and prefetch everything an update's full record shows (API, exports)."""
        return self.select_related(
            "commitment",
            "author",
            "reviewed_by",
            "supersedes",
            "source_document",
            # Who proposed it, when it began as a partner's proposal (``proposed_by``).
            "proposal__organisation",
            "proposal__author",
        ).prefetch_related(models.Prefetch("evidence_links", queryset=EvidenceLink.objects.order_by("pk")))


def _person(user: Any) -> str:
    return "someone" if user is None else str(user.get_full_name() or user.get_username())


def same_day_refusal(update: StatusUpdate, others: Iterable[StatusUpdate]) -> str | None:
    """Why ``update`` may not be written beside ``others`` (the commitment's updates as of its date), or None.

    One statement per commitment and day, the one rule the admin, the API and imports hold to (ADR 0002):
    beside an approved update of that day, only a correction (``supersedes``); and at most one update in
    progress (draft, submitted or returned), so that nobody writes the same day's statement twice.
    ``update`` itself, if saved, is left out of ``others``.
    """
    others = [other for other in others if other.pk is None or other.pk != update.pk]
    commitment, when = update.commitment, f"{update.as_of.day} {update.as_of:%B %Y}"
    approved = [other for other in others if other.state == UpdateState.APPROVED]
    submitted = [other for other in others if other.state == UpdateState.SUBMITTED]
    editable = [other for other in others if other.is_editable]
    if approved and update.supersedes_id is None:
        return (
            f"{commitment} already has an approved update as of {when}. An approved update is never changed: "
            "write a correction instead (a new update that names the approved one it corrects)."
        )
    if submitted:
        return (
            f"{commitment} already has an update as of {when}, submitted for review by "
            f"{_person(submitted[0].author)}, so it can no longer be changed. Wait for the review, or ask the "
            "reviewer to return it to its author."
        )
    if editable:
        other = editable[0]
        if update.author_id is not None and other.author_id == update.author_id:
            state = other.get_state_display().lower()
            return f"You already have a {state} update for {commitment} as of {when}: change that one."
        return (
            f"{_person(other.author)} already has a {other.get_state_display().lower()} update for {commitment} "
            f"as of {when}. Agree with them who writes it: they can finish or delete theirs."
        )
    return None


class StatusUpdate(VersionedModel, PublicModel):
    """A dated statement of where delivery of a commitment stands.

    Updates from staff go through review (``commitments.services``): draft, submitted, then approved
    or returned with a reason and submitted again. Only approved updates count, and an approved update
    is never changed: a correction is a new update that supersedes it. Updates that record what a
    source document reported are approved on loading and cite the document and its words.
    """

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="updates")
    as_of = models.DateField(help_text="The date the update is true as of.")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, help_text=STATUS_HELP_TEXT)
    confidence = models.CharField(
        max_length=20, choices=DeliveryConfidence.choices, blank=True, help_text=CONFIDENCE_HELP_TEXT
    )
    progress = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=PROGRESS_VALIDATORS, help_text="Per cent, where known."
    )
    narrative = models.TextField()
    funding_spent = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0, message="Money spent cannot be negative.")],
        help_text="Pounds spent or disbursed to date, where the commitment carries money.",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="authored_updates",
        help_text="Who wrote the update; empty for evidence loaded from a document.",
    )
    state = models.CharField(max_length=20, choices=UpdateState.choices, default=UpdateState.DRAFT)
    submitted_at = models.DateTimeField(null=True, blank=True, editable=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="reviewed_updates",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True, editable=False)
    return_reason = models.TextField(blank=True, editable=False, help_text="Why the reviewer returned the update.")
    approved_at = models.DateTimeField(null=True, blank=True, editable=False)
    supersedes = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="superseded_by",
        help_text="The approved update this one corrects.",
    )
    source_document = models.ForeignKey(
        Document,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evidence",
        help_text="For evidence a document reports: the document.",
    )
    source_quote = models.TextField(blank=True, help_text="For evidence a document reports: its words, verbatim.")

    objects = StatusUpdateQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["modified_at"])

    class Meta:
        ordering = ["commitment", "-as_of"]
        permissions = [("review_statusupdate", "Can approve or return status updates")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__isnull=True) | models.Q(progress__gte=0, progress__lte=100),
                name="status_update_progress_0_to_100",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values), name="status_update_status_known"
            ),
            models.CheckConstraint(condition=models.Q(state__in=UpdateState.values), name="status_update_state_known"),
            models.CheckConstraint(
                condition=~models.Q(state=UpdateState.APPROVED) | models.Q(approved_at__isnull=False),
                name="status_update_approved_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(funding_spent__isnull=True) | models.Q(funding_spent__gte=0),
                name="status_update_spent_not_negative",
            ),
            # The part of ``same_day_refusal`` that is a true invariant, held by the database too so that
            # two people saving at the same moment cannot both get past the check: at most one update in
            # progress per commitment and day. Approved updates may share a day (a correction beside what
            # it corrects, evidence two documents report), so the rest of the rule stays in validation.
            models.UniqueConstraint(
                fields=["commitment", "as_of"],
                condition=models.Q(state__in=IN_PROGRESS_STATES),
                name="status_update_one_in_progress_per_day",
                violation_error_message="This commitment already has an update in progress as of this date.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.commitment} as of {self.as_of:%d %b %Y}"

    def clean(self) -> None:
        """Dates in the past, evidence quoted, money only where the commitment carries money."""
        errors: dict[str, str] = {}
        if self.as_of and self.as_of > timezone.localdate():
            errors["as_of"] = "An update cannot be true as of a date in the future."
        if self.source_document_id and not self.source_quote.strip():
            errors["source_quote"] = "Quote the words of the document this update reports."
        if self.funding_spent is not None and self.commitment_id and not self.commitment.funding.exists():
            errors["funding_spent"] = "This commitment carries no money, so there is no spending to report."
        # Evidence a document reports is approved on loading, and may share its day with other evidence.
        in_workflow = self.state != UpdateState.APPROVED and not getattr(self, "same_day_checked", False)
        if "as_of" not in errors and self.commitment_id and self.as_of and in_workflow:
            others = StatusUpdate.objects.filter(commitment_id=self.commitment_id, as_of=self.as_of).select_related(
                "author"
            )
            refusal = same_day_refusal(self, others)
            if refusal:
                errors["as_of"] = refusal
        if errors:
            raise ValidationError(errors)

    @property
    def is_editable(self) -> bool:
        """Drafts and returned updates can be edited; submitted and approved ones cannot."""
        return self.state in (UpdateState.DRAFT, UpdateState.RETURNED)


class EvidenceLink(AuditedModel):
    """A link to evidence of delivery that a status update cites."""

    update = models.ForeignKey(StatusUpdate, on_delete=models.CASCADE, related_name="evidence_links")
    url = models.URLField(max_length=500, verbose_name="URL")
    title = models.CharField(max_length=300)

    history = HistoricalRecords()

    class Meta:
        ordering = ["update", "pk"]

    def __str__(self) -> str:
        return self.title


class ThemeRule(AuditedModel):
    """The tracker's classification: every commitment of a foundation or area is under a theme of another framework.

    Not printed in any deal: the tracker classifies commitments under the 2017 strategy's and the 2020
    Update's themes so that their breakdowns can be made; ``reason`` says why. ``commitments.classification``
    derives each commitment's themes from these rules and the exceptions, and stores them in its ``themes``.
    """

    scope = models.ForeignKey(
        Theme,
        on_delete=models.PROTECT,
        related_name="theme_rules",
        limit_choices_to={"kind__in": [ThemeKind.FOUNDATION, ThemeKind.AREA]},
        help_text="The foundation or area whose commitments the rule classifies.",
    )
    theme = models.ForeignKey(
        Theme,
        on_delete=models.PROTECT,
        related_name="rules_classifying",
        limit_choices_to={"kind": ThemeKind.THEME},
        help_text="The theme of another framework they are classified under.",
    )
    reason = models.TextField(help_text="Why the commitments of the foundation or area belong under the theme.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["scope__framework__code", "scope__position", "theme__framework__code", "theme__position"]
        constraints = [models.UniqueConstraint(fields=["scope", "theme"], name="theme_rule_unique")]

    def __str__(self) -> str:
        return f"{self.scope} → {self.theme}"

    def clean(self) -> None:
        """A rule classifies a foundation's or an area's commitments under a theme of another framework."""
        errors: dict[str, str] = {}
        if self.scope_id and self.scope.kind not in (ThemeKind.FOUNDATION, ThemeKind.AREA):
            errors["scope"] = "Choose a foundation or an area."
        if self.theme_id and self.theme.kind != ThemeKind.THEME:
            errors["theme"] = "Choose a theme of the 2017 strategy's or the 2020 Update's framework."
        if errors:
            raise ValidationError(errors)


class ThemeException(AuditedModel):
    """A commitment classified otherwise than its rules (or the commitment it belongs to) say, and why."""

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="theme_exceptions")
    theme = models.ForeignKey(
        Theme, on_delete=models.PROTECT, related_name="theme_exceptions", limit_choices_to={"kind": ThemeKind.THEME}
    )
    include = models.BooleanField(
        default=True, help_text="Ticked: the commitment is under the theme; unticked: it is not, whatever the rules."
    )
    reason = models.TextField(help_text="Why this commitment is classified otherwise.")

    history = HistoricalRecords()

    class Meta:
        ordering = ["commitment__reference", "theme__framework__code", "theme__position"]
        constraints = [models.UniqueConstraint(fields=["commitment", "theme"], name="theme_exception_unique")]

    def __str__(self) -> str:
        return f"{self.commitment}: {'under' if self.include else 'not under'} {self.theme}"

    def clean(self) -> None:
        """An exception names a theme of another framework than the Industrial Strategy foundations."""
        if self.theme_id and self.theme.kind != ThemeKind.THEME:
            raise ValidationError({"theme": "Choose a theme of the 2017 strategy's or the 2020 Update's framework."})


# --- the delivery plan: milestones, dependencies, changes to the baseline ----------------------------------


class Milestone(AuditedModel):
    """A dated step towards a commitment, with the day it was done."""

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="milestones")
    title = models.CharField(max_length=300)
    due_on = models.DateField(help_text="The day the milestone is due.")
    done_on = models.DateField(null=True, blank=True, help_text="The day it was done; empty while not done.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_milestones",
        limit_choices_to={"is_staff": True, "is_active": True},
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["commitment_id", "due_on", "pk"]
        indexes = [models.Index(fields=["due_on"], name="milestone_due_on_idx")]

    def __str__(self) -> str:
        return f"{self.commitment}: {self.title} (due {self.due_on:%d %B %Y})"


class Dependency(AuditedModel):
    """One commitment's delivery depends on another's."""

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="dependencies")
    depends_on = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="dependents")
    note = models.TextField(blank=True, help_text="How the one depends on the other.")

    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "dependencies"
        ordering = ["commitment_id", "depends_on_id"]
        constraints = [
            models.UniqueConstraint(fields=["commitment", "depends_on"], name="dependency_unique"),
            models.CheckConstraint(
                condition=~models.Q(commitment=models.F("depends_on")), name="dependency_not_on_itself"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.commitment} depends on {self.depends_on}"


class BaselineChangeState(models.TextChoices):
    """Where a request to change a deadline stands."""

    PENDING = "pending", "Waiting for a decision"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class BaselineChange(AuditedModel):
    """A request to move a published commitment's deadline, which a second person decides (four eyes).

    The target date the documents print stays the baseline; an approved request sets the forecast.
    """

    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="baseline_changes")
    previous_date = models.DateField(
        null=True, blank=True, editable=False, help_text="The forecast (or the baseline) when it was asked for."
    )
    proposed_date = models.DateField(help_text="The new forecast deadline.")
    reason = models.TextField(help_text="Why the deadline should move.")
    state = models.CharField(max_length=20, choices=BaselineChangeState.choices, default=BaselineChangeState.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    decision_note = models.TextField(blank=True, help_text="Why it was rejected (or any note on the decision).")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("decide_baselinechange", "Can approve or reject changes to a deadline")]
        constraints = [
            # One open request per commitment: a second would race the first.
            models.UniqueConstraint(
                fields=["commitment"],
                condition=models.Q(state="pending"),
                name="baseline_change_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.commitment}: deadline to {self.proposed_date:%d %B %Y} ({self.get_state_display()})"


# --- partners: the organisation a partner user speaks for, and the updates partners propose -------------------


class PartnerMembership(AuditedModel):
    """The organisation a partner user belongs to and speaks for: what they may propose updates of.

    Reviewers keep memberships in the admin (``commitments.proposals``). A partner without one reads the
    published data as every partner does, but proposes nothing and sees no proposals.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="partner_membership",
        help_text="A user holding the Partner role.",
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="partner_memberships")

    history = HistoricalRecords()

    class Meta:
        ordering = ["organisation__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} ({self.organisation})"


class ProposalState(models.TextChoices):
    """Where a partner's proposed update stands."""

    PENDING = "pending", "Waiting for a decision"
    ACCEPTED = "accepted", "Accepted as a draft"
    DECLINED = "declined", "Declined"


class ProposalQuerySet(models.QuerySet["Proposal"]):
    """Reads of proposals."""

    def with_details(self) -> ProposalQuerySet:
        """Join everything a proposal's record shows (API, admin)."""
        return self.select_related("commitment", "organisation", "author", "decided_by", "draft")


class Proposal(VersionedModel, PublicModel):
    """A status update a partner proposes for a commitment their organisation takes part in.

    Never a status update itself: it counts in no figure and is never published. A reviewer accepts it,
    which writes a draft update (``draft``) that then goes through review like any other, or declines it
    with a reason the partner reads (``commitments.proposals``).
    """

    commitment = models.ForeignKey(Commitment, on_delete=models.PROTECT, related_name="proposals")
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        related_name="proposals",
        help_text="The organisation the author spoke for when proposing it.",
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="proposals")
    as_of = models.DateField(help_text="The date the update is true as of.")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, help_text=STATUS_HELP_TEXT)
    confidence = models.CharField(
        max_length=20, choices=DeliveryConfidence.choices, blank=True, help_text=CONFIDENCE_HELP_TEXT
    )
    progress = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=PROGRESS_VALIDATORS, help_text="Per cent, where known."
    )
    narrative = models.TextField()
    funding_spent = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0, message="Money spent cannot be negative.")],
        help_text="Pounds spent or disbursed to date, where the commitment carries money.",
    )
    evidence_links = models.JSONField(
        default=list, blank=True, help_text='Links to evidence, as a list of {"url": ..., "title": ...}.'
    )
    state = models.CharField(max_length=20, choices=ProposalState.choices, default=ProposalState.PENDING)
    decline_reason = models.TextField(blank=True, help_text="Why a reviewer declined it; the partner reads it.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="decided_proposals",
    )
    decided_at = models.DateTimeField(null=True, blank=True, editable=False)
    draft = models.OneToOneField(
        StatusUpdate,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="proposal",
        help_text="The draft update an accepted proposal became.",
    )

    objects = ProposalQuerySet.as_manager()
    history = HistoricalRecords(excluded_fields=["modified_at"])

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("decide_proposal", "Can accept or decline partners' proposed updates")]
        constraints = [
            models.CheckConstraint(condition=models.Q(state__in=ProposalState.values), name="proposal_state_known"),
            models.CheckConstraint(
                condition=models.Q(progress__isnull=True) | models.Q(progress__gte=0, progress__lte=100),
                name="proposal_progress_0_to_100",
            ),
            models.CheckConstraint(
                condition=~models.Q(state=ProposalState.DECLINED) | ~models.Q(decline_reason=""),
                name="proposal_declined_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.commitment} as of {self.as_of:%d %b %Y}, proposed by {self.organisation}"
