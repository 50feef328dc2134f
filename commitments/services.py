"""Writes that touch more than one record. The admin, the API, imports and commands call these.

The review workflow of status updates lives here and only here::

    draft ──submit──▶ submitted ──approve──▶ approved
      ▲                   │
      └──(edit)── returned ◀──return (with a reason)

Four eyes: nobody approves or returns an update whose content they wrote or changed (its author, and
anyone who edited its values or its evidence links while it was a draft or returned; the audit trail
records them, see ``update_content_editor_ids``). Reviewers may help with a colleague's wording, but
then someone else reviews it. An approved update is never changed; a
correction is a new update that ``supersedes`` it. Only approved updates change a commitment's
delivery state (``metrics.rules``: the governing approved update). It is stored on the commitment for
speed; an approval fires ``hooks.UPDATE_APPROVED`` in its transaction, and the metrics app, registered
for it, stores the derived state and brings the figures up to date.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from commitments import hooks, search
from commitments.dates import TimingKind, parse_timing
from commitments.delivery import DeliveryConfidence
from commitments.models import (
    Commitment,
    CommitmentOrganisation,
    Document,
    EvidenceLink,
    OrganisationRole,
    StatusUpdate,
    Theme,
    UpdateState,
    same_day_refusal,
)
from lsis.core.changes import data_changed
from lsis.core.errors import StateConflictError
from lsis.core.services import require_permission as _require
from lsis.core.services import stamp_change as _stamp

User = AbstractBaseUser | AnonymousUser

EDITOR_PERMISSION = "commitments.add_statusupdate"
REVIEWER_PERMISSION = "commitments.review_statusupdate"
PUBLISHER_PERMISSION = "commitments.publish_commitment"


class WorkflowError(StateConflictError):
    """The action is not allowed in the update's current state; the message says why (the API answers 409)."""


@dataclass(frozen=True)
class EvidenceLinkData:
    """A link to evidence, as entered."""

    url: str
    title: str


DRAFT_WRITTEN = "Draft written"
DRAFT_EDITED = "Draft edited"
# The reasons of the history entries that change what an update says, as opposed to steps of its review.
CONTENT_CHANGE_REASONS = (DRAFT_WRITTEN, DRAFT_EDITED)


# Resolved by whoever builds the update (the form, the importer), so not checked again row by row.
_CHECKED_BY_CALLER = ["commitment", "author", "created_by", "modified_by"]


def _validated(update: StatusUpdate) -> None:
    """Raise ``ValidationError`` if ``update``'s values break a status update's rule (see ``update_content_check``)."""
    errors: dict[str, list[str]] = {}
    try:
        update.full_clean(exclude=["commitment", "author"], validate_constraints=False)
    except ValidationError as error:
        errors = error.message_dict
    if "narrative" not in errors and "confidence" not in errors:
        refusal = update_narrative_refusal(update=update)
        if refusal:
            errors["narrative"] = [refusal]
    if errors:
        raise ValidationError(errors)


def update_content_check(*, update: StatusUpdate, evidence_links: Sequence[EvidenceLinkData] = ()) -> None:
    """Raise ``ValidationError`` (by field) if the content of ``update`` (unsaved) or ``evidence_links`` break a rule.

    The rules every status update's content is held to, as ``update_create`` holds a draft to them: its
    values (``_validated``: the model's rules and the confidence rule) and its links' (``EvidenceLink``'s).
    For content that is not a draft yet, such as a partner's proposal (``commitments.proposals``).
    """
    errors: dict[str, list[str]] = {}
    try:
        _validated(update)
    except ValidationError as error:
        errors = dict(error.message_dict)
    for position, data in enumerate(evidence_links, start=1):
        try:
            EvidenceLink(url=data.url, title=data.title).full_clean(exclude=["update", "created_by", "modified_by"])
        except ValidationError as error:
            errors.setdefault("evidence_links", []).extend(f"Link {position}: {text}" for text in error.messages)
    if errors:
        raise ValidationError(errors)


# --- the confidence rule: a change of delivery confidence says why --------------------------------------------
#
# An update whose confidence differs from the previous approved update's (both rated) must say why in its
# narrative, in at least a sentence. The one statement of the rule: the admin's form, the API and the
# spreadsheet import all reach it (``_validated``, ``update_create_many``, the form's ``clean``).

#: The fewest characters of narrative that say why the confidence changed: about a sentence.
CONFIDENCE_CHANGE_NARRATIVE_MIN = 20


def confidence_change_refusal(*, previous: str, confidence: str, narrative: str) -> str | None:
    """Why ``narrative`` does not explain a change of confidence from ``previous`` to ``confidence``, or None.

    Only a change between two ratings counts: a first rating, or an update without one, needs no reason.
    """
    if not previous or not confidence or previous == confidence:
        return None
    if len(" ".join(narrative.split())) >= CONFIDENCE_CHANGE_NARRATIVE_MIN:
        return None
    before, after = DeliveryConfidence(previous).label, DeliveryConfidence(confidence).label
    return (
        f"Say why the delivery confidence changed from {before} to {after}, in at least a sentence "
        f"({CONFIDENCE_CHANGE_NARRATIVE_MIN} characters or more)"
    )


def _previous_approved(commitment_ids: Iterable[int]) -> dict[int, list[tuple[date, int, str]]]:
    """The approved updates of ``commitment_ids`` as (as-of date, id, confidence), latest first: one query."""
    found: dict[int, list[tuple[date, int, str]]] = {}
    rows = (
        StatusUpdate.objects.approved()
        .filter(commitment_id__in=set(commitment_ids))
        .latest_first()
        .values_list("commitment_id", "as_of", "pk", "confidence")
    )
    for commitment_id, as_of, pk, confidence in rows:
        found.setdefault(commitment_id, []).append((as_of, pk, confidence))
    return found


def _previous_confidence(update: StatusUpdate, approved: Sequence[tuple[date, int, str]]) -> str:
    """The confidence of the approved update before ``update``: the latest as of its day or earlier, not itself."""
    if update.as_of is None:
        return ""
    for as_of, pk, confidence in approved:  # latest first
        if as_of <= update.as_of and pk != update.pk:
            return confidence
    return ""


def update_narrative_refusal(*, update: StatusUpdate) -> str | None:
    """Why ``update``'s narrative does not explain its change of confidence (``confidence_change_refusal``), or None.

    One query: the commitment's approved updates. The admin's form asks this to show the refusal on the field.
    """
    if not update.commitment_id or not update.confidence or update.state == UpdateState.APPROVED:
        return None
    approved = _previous_approved([update.commitment_id]).get(update.commitment_id, [])
    return confidence_change_refusal(
        previous=_previous_confidence(update, approved), confidence=update.confidence, narrative=update.narrative
    )


def _saved(update: StatusUpdate) -> None:
    """Save ``update``; a refusal by the one-in-progress-per-day constraint becomes validation's message.

    That happens when someone saved an update of the same commitment and day since the validation ran.
    """
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction stays usable
            update.save()
    except IntegrityError:
        others = StatusUpdate.objects.filter(commitment_id=update.commitment_id, as_of=update.as_of)
        refusal = same_day_refusal(update, others.select_related("author"))
        if refusal is None:
            raise
        raise ValidationError({"as_of": refusal}) from None


def _set_links(update: StatusUpdate, links: Sequence[EvidenceLinkData], user: Any, reason: str) -> None:
    existing = {(link.url, link.title): link for link in update.evidence_links.all()}
    wanted = {(link.url, link.title) for link in links}
    for key, link in existing.items():
        if key not in wanted:
            # The history entry of the removal names who removed it: four eyes counts them as an editor.
            _stamp(link, user, reason)
            link.delete()
    for url, title in wanted - set(existing):
        link = EvidenceLink(update=update, url=url, title=title, created_by=user)
        _stamp(link, user, reason)
        link.full_clean(exclude=["update"])
        link.save()


@transaction.atomic
def update_create(
    *,
    commitment: Commitment,
    author: Any,
    as_of: date,
    status: str,
    narrative: str,
    confidence: str = "",
    progress: int | None = None,
    funding_spent: Decimal | None = None,
    evidence_links: Sequence[EvidenceLinkData] = (),
    supersedes: StatusUpdate | None = None,
) -> StatusUpdate:
    """Write a draft update. ``supersedes`` names the approved update it corrects, if any."""
    _require(author, EDITOR_PERMISSION, "write status updates")
    if supersedes is not None:
        if supersedes.state != UpdateState.APPROVED:
            raise WorkflowError("Only an approved update can be corrected; edit the draft instead.")
        if supersedes.commitment_id != commitment.pk:
            raise WorkflowError("A correction must be for the same commitment as the update it corrects.")
    update = StatusUpdate(
        commitment=commitment,
        author=author,
        as_of=as_of,
        status=status,
        confidence=confidence,
        progress=progress,
        narrative=narrative,
        funding_spent=funding_spent,
        supersedes=supersedes,
        state=UpdateState.DRAFT,
        created_by=author,
    )
    _validated(update)
    _stamp(update, author, DRAFT_WRITTEN)
    _saved(update)
    _set_links(update, evidence_links, author, DRAFT_WRITTEN)
    return update


@dataclass(frozen=True)
class DraftData:
    """The values of one new draft, as a spreadsheet row gives them."""

    commitment: Commitment
    as_of: date
    status: str
    narrative: str
    confidence: str = ""
    progress: int | None = None
    funding_spent: Decimal | None = None
    evidence_links: Sequence[EvidenceLinkData] = ()


class DraftsRefusedError(ValidationError):
    """Some drafts of a batch are invalid; ``errors`` maps each one's position to its error. Nothing was written."""

    def __init__(self, errors: dict[int, ValidationError]) -> None:
        super().__init__(f"{len(errors)} draft(s) are not valid.")
        self.errors = errors


def _same_day_refusals(updates: Sequence[StatusUpdate]) -> dict[int, str]:
    """``same_day_refusal`` for new drafts of one batch, against the stored updates and each other: one query."""
    stored: dict[tuple[int, date], list[StatusUpdate]] = {}
    if updates:
        rows = StatusUpdate.objects.filter(
            commitment_id__in={update.commitment_id for update in updates},
            as_of__in={update.as_of for update in updates},
        ).select_related("author")
        for row in rows:
            stored.setdefault((row.commitment_id, row.as_of), []).append(row)
    refusals = {}
    for index, update in enumerate(updates):
        key = (update.commitment_id, update.as_of)
        refusal = same_day_refusal(update, stored.get(key, []))
        if refusal:
            refusals[index] = refusal
        stored.setdefault(key, []).append(update)
    return refusals


@transaction.atomic
def update_create_many(*, author: Any, drafts: Sequence[DraftData]) -> list[StatusUpdate]:
    """Write many drafts at once (a spreadsheet import): all or none, each validated and audited.

    The same rules as ``update_create`` apply to each draft; the rows and their history entries
    ("Draft written", by ``author``) are inserted in batches rather than one statement per draft.
    """
    _require(author, EDITOR_PERMISSION, "write status updates")
    updates, errors = [], {}
    for index, data in enumerate(drafts):
        update = StatusUpdate(
            commitment=data.commitment,
            author=author,
            as_of=data.as_of,
            status=data.status,
            confidence=data.confidence,
            progress=data.progress,
            narrative=data.narrative,
            funding_spent=data.funding_spent,
            state=UpdateState.DRAFT,
            created_by=author,
            modified_by=author,
        )
        update.same_day_checked = True  # type: ignore[attr-defined]  # below, for the whole batch in one query
        try:
            update.full_clean(exclude=_CHECKED_BY_CALLER, validate_unique=False, validate_constraints=False)
        except ValidationError as error:
            errors[index] = error
        updates.append(update)
    for index, refusal in _same_day_refusals(updates).items():
        errors.setdefault(index, ValidationError({"as_of": refusal}))
    # The confidence rule, for the whole batch in one query.
    approved = _previous_approved(update.commitment_id for update in updates)
    for index, update in enumerate(updates):
        unexplained = confidence_change_refusal(
            previous=_previous_confidence(update, approved.get(update.commitment_id, [])),
            confidence=update.confidence,
            narrative=update.narrative,
        )
        if unexplained:
            errors.setdefault(index, ValidationError({"narrative": unexplained}))
    links = []
    for index, data in enumerate(drafts):
        for link_data in data.evidence_links:
            link = EvidenceLink(url=link_data.url, title=link_data.title, created_by=author, modified_by=author)
            try:
                link.full_clean(exclude=["update", "created_by", "modified_by"], validate_unique=False)
            except ValidationError as error:
                errors.setdefault(index, error)
            links.append((index, link))
    if errors:
        raise DraftsRefusedError(errors)
    # The history entries name ``author``: four eyes reads them to know who wrote each draft.
    try:
        with transaction.atomic():  # a savepoint, so that a refusal below can still query
            created = bulk_create_with_history(
                updates, StatusUpdate, batch_size=1000, default_user=author, default_change_reason=DRAFT_WRITTEN
            )
    except IntegrityError:
        # Someone saved an update of the same commitment and day since the check above.
        refused = {index: ValidationError({"as_of": refusal}) for index, refusal in _same_day_refusals(updates).items()}
        if not refused:
            raise
        raise DraftsRefusedError(refused) from None
    for index, link in links:
        link.update = created[index]
    bulk_create_with_history(
        [link for _, link in links],
        EvidenceLink,
        batch_size=1000,
        default_user=author,
        default_change_reason=DRAFT_WRITTEN,
    )
    data_changed()  # bulk writes send no signals
    return created


@transaction.atomic
def update_edit(
    *,
    update: StatusUpdate,
    user: Any,
    evidence_links: Sequence[EvidenceLinkData] | None = None,
    **changes: Any,
) -> StatusUpdate:
    """Change a draft or returned update. ``update.version`` must be the version the user read."""
    _require(user, EDITOR_PERMISSION, "edit status updates")
    if not update.is_editable:
        raise WorkflowError(
            f"This update is {update.get_state_display().lower()} and can no longer be edited."
            + (" Write a correction instead." if update.state == UpdateState.APPROVED else "")
        )
    allowed = {"as_of", "status", "confidence", "progress", "narrative", "funding_spent"}
    unknown = set(changes) - allowed
    if unknown:
        raise WorkflowError(f"These cannot be changed on an update: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(update, name, value)
    _validated(update)
    _stamp(update, user, DRAFT_EDITED)
    _saved(update)
    if evidence_links is not None:
        _set_links(update, evidence_links, user, DRAFT_EDITED)
    return update


@transaction.atomic
def update_save_draft(*, update: StatusUpdate, user: Any) -> StatusUpdate:
    """Save a new or changed draft as a form edited it; the author of a new draft is ``user``.

    The admin's forms use this; code that has the values at hand uses ``update_create``/``update_edit``.
    """
    _require(user, EDITOR_PERMISSION, "write status updates")
    if update.pk is None:
        update.author = user
        update.state = UpdateState.DRAFT
        update.created_by = user
        reason = DRAFT_WRITTEN
    else:
        stored_state = StatusUpdate.objects.values_list("state", flat=True).get(pk=update.pk)
        if stored_state not in (UpdateState.DRAFT, UpdateState.RETURNED):
            raise WorkflowError(f"This update is {stored_state} and can no longer be edited.")
        # Saving the form counts as an edit even where no value changed: four eyes cannot tell it apart.
        reason = DRAFT_EDITED
    _validated(update)
    _stamp(update, user, reason)
    _saved(update)
    return update


def _transition(update: StatusUpdate, *, allowed_from: tuple[str, ...], verb: str) -> None:
    if update.state not in allowed_from:
        raise WorkflowError(f"Only a {' or '.join(allowed_from)} update can be {verb}; this one is {update.state}.")


@transaction.atomic
def update_submit(*, update: StatusUpdate, user: Any) -> StatusUpdate:
    """Send a draft or returned update for review."""
    _require(user, EDITOR_PERMISSION, "submit status updates")
    _transition(update, allowed_from=(UpdateState.DRAFT, UpdateState.RETURNED), verb="submitted")
    update.state = UpdateState.SUBMITTED
    update.submitted_at = timezone.now()
    _stamp(update, user, "Submitted for review")
    update.save()
    return update


def update_content_edits() -> tuple[QuerySet[Any], QuerySet[Any]]:
    """The history entries that record a change to what an update says, and who made it.

    An update's own entries written as a draft was written or edited (``CONTENT_CHANGE_REASONS``; a
    submission, return or approval is not one), and every entry of its evidence links: adding, changing
    or removing a link changes the evidence the update rests on. The one definition four eyes reads.
    """
    own = StatusUpdate.history.filter(history_change_reason__in=CONTENT_CHANGE_REASONS, history_user__isnull=False)
    links = EvidenceLink.history.filter(history_user__isnull=False)
    return own.order_by(), links.order_by()


def update_content_editor_ids(*, update: StatusUpdate) -> set[int]:
    """The ids of everyone who wrote or changed the content of ``update``: its author and its editors.

    One query, whatever the length of the update's history.
    """
    own, links = update_content_edits()
    editors = set(
        own.filter(id=update.pk)
        .values_list("history_user_id", flat=True)
        .union(links.filter(update_id=update.pk).values_list("history_user_id", flat=True))
    )
    if update.author_id is not None:
        editors.add(update.author_id)
    return editors


def update_may_review(*, update: StatusUpdate, user: Any) -> bool:
    """Whether ``user`` may approve or return ``update`` now: a reviewer, a submitted update, and four eyes.

    The admin's buttons and anything else that offers the steps ask this; the services enforce the same.
    """
    return (
        bool(user and user.is_authenticated and user.has_perm(REVIEWER_PERMISSION))
        and update.state == UpdateState.SUBMITTED
        and user.pk not in update_content_editor_ids(update=update)
    )


def updates_awaiting_review(*, user: Any, updates: QuerySet[StatusUpdate]) -> QuerySet[StatusUpdate]:
    """Of ``updates``, the submitted ones ``user`` neither wrote nor changed: what awaits their review."""
    own, links = update_content_edits()
    return (
        updates.filter(state=UpdateState.SUBMITTED)
        .exclude(author=user)
        .exclude(pk__in=own.filter(history_user=user).values("id"))
        .exclude(pk__in=links.filter(history_user=user).values("update_id"))
    )


def _check_four_eyes(update: StatusUpdate, reviewer: Any, verb: str) -> None:
    if update.author_id is not None and update.author_id == reviewer.pk:
        raise WorkflowError(f"You wrote this update, so someone else must {verb} it.")
    if reviewer.pk in update_content_editor_ids(update=update):
        raise WorkflowError(f"You changed this update's content, so someone else must {verb} it.")


@transaction.atomic
def update_approve(*, update: StatusUpdate, reviewer: Any) -> StatusUpdate:
    """Approve a submitted update; it then sets the commitment's delivery state if it is the latest."""
    _require(reviewer, REVIEWER_PERMISSION, "approve status updates")
    _transition(update, allowed_from=(UpdateState.SUBMITTED,), verb="approved")
    _check_four_eyes(update, reviewer, "approve")
    now = timezone.now()
    update.state = UpdateState.APPROVED
    update.reviewed_by = reviewer
    update.reviewed_at = now
    update.approved_at = now
    update.return_reason = ""
    _stamp(update, reviewer, "Approved")
    update.save()
    # The delivery state and the figures follow, in this transaction (registered by the metrics app).
    hooks.fire(hooks.UPDATE_APPROVED, update=update, user=reviewer)
    return update


@transaction.atomic
def update_return(*, update: StatusUpdate, reviewer: Any, reason: str) -> StatusUpdate:
    """Send a submitted update back to its author with the reviewer's reason."""
    _require(reviewer, REVIEWER_PERMISSION, "return status updates")
    _transition(update, allowed_from=(UpdateState.SUBMITTED,), verb="returned")
    _check_four_eyes(update, reviewer, "return")
    if not reason.strip():
        raise WorkflowError("Say why the update is being returned, so its author can put it right.")
    update.state = UpdateState.RETURNED
    update.reviewed_by = reviewer
    update.reviewed_at = timezone.now()
    update.return_reason = reason.strip()
    _stamp(update, reviewer, "Returned to author")
    update.save()
    return update


@transaction.atomic
def update_delete(*, update: StatusUpdate, user: Any) -> None:
    """Delete a draft or returned update; submitted and approved updates are kept."""
    _require(user, EDITOR_PERMISSION, "delete status updates")
    if not update.is_editable:
        raise WorkflowError(f"A {update.get_state_display().lower()} update cannot be deleted.")
    _stamp(update, user, "Draft deleted")
    update.delete()


@transaction.atomic
def commitment_set_published(*, commitment: Commitment, user: Any, published: bool) -> Commitment:
    """Publish a commitment to partners, or withdraw it.

    The figures count published commitments only: ``hooks.PUBLICATION_CHANGED``, fired in this
    transaction, lets the metrics app bring them up to date.
    """
    _require(user, PUBLISHER_PERMISSION, "publish commitments")
    if commitment.published != published:
        commitment.published = published
        _stamp(commitment, user, "Published" if published else "Withdrawn from partners")
        # The version check of the save makes sure the flag changed from the one read here.
        commitment.save(update_fields=["published", "modified_at", "modified_by"])
        hooks.fire(hooks.PUBLICATION_CHANGED, commitment=commitment, was_published=not published)
    return commitment


# --- edits of commitments and what belongs to them ---------------------------------------------------
#
# Everything the figures read about a commitment (its deal, foundation, area, actor, themes, target date,
# lead organisations, programmes and money) changes through these services, and each tells the figures
# before it writes (``hooks.COMMITMENTS_CHANGING``: the metrics app records what they read so far), so
# an edit reaches them the way an approval does. Each also rebuilds the search documents
# (``commitments.search``) of the commitments whose text, themes or organisations it changed.

ADD_COMMITMENT_PERMISSION = "commitments.add_commitment"
DELETE_COMMITMENT_PERMISSION = "commitments.delete_commitment"
ADD_DOCUMENT_PERMISSION = "commitments.add_document"
CHANGE_DOCUMENT_PERMISSION = "commitments.change_document"
COMMITMENT_EDITED = "Commitment edited"
PUBLISHED_DEADLINE_REFUSAL = (
    "A published commitment's deadline changes by a request: ask for a change of deadline (Requests to change "
    "a deadline, then Request a change of deadline), which a reviewer other than you decides. The target date "
    "stays the baseline; an approved request sets the forecast."
)
# Written by their own services: the published flag (``commitment_set_published``) and the delivery
# state (``commitment_refresh_delivery_state``, from approved updates).
_NOT_EDITED_HERE = {"id", "published", "delivery_status", "delivery_confidence", "progress", "delivery_as_of"}
_COMMITMENT_EDITABLE = {
    field.name for field in Commitment._meta.concrete_fields if field.editable and field.name not in _NOT_EDITED_HERE
}
# The attributes a commitment's figures depend on besides its target date: they decide its scopes, and its
# section and parent its kind (a key commitment, a chapter's elaboration or a sub-item), which decides whether
# the key commitments' figures count it.
_SCOPE_ATTRIBUTES = ("deal_id", "foundation_id", "area_id", "actor", "section", "parent_id")


def require_may_change_commitment(user: Any, commitment: Commitment) -> None:
    """Refuse (403) a change to ``commitment`` as stored, or to what belongs to it, that ``user`` may not make."""
    # The rule is stated once, in commitments.permissions, which reads this module's permission names.
    from commitments.permissions import may_change_commitment

    if not may_change_commitment(user, commitment):
        raise PermissionDenied(
            f"You may not change {commitment.reference}: once a commitment is published, only those who may "
            "publish commitments change it or what belongs to it."
        )


def deals_published_on(deal_ids: Iterable[int]) -> list[date]:
    """The publication dates of the deals ``deal_ids``: a commitment counts in the figures from its deal's."""
    return list(Document.objects.filter(pk__in=set(deal_ids)).values_list("published_on", flat=True))


def commitments_changing(*, commitments: Iterable[Commitment], from_date: date | None) -> None:
    """Tell the figures, before writing, that what they read about ``commitments`` changes from ``from_date``.

    For services of this app and of the apps above it (programmes, funding): the one way they say it.
    """
    ids = sorted({commitment.pk for commitment in commitments if commitment.pk is not None})
    if ids and from_date is not None:
        hooks.fire(hooks.COMMITMENTS_CHANGING, commitment_ids=ids, from_date=from_date)


def commitment_timing_read(*, commitment: Commitment, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``changes`` to ``commitment`` (as stored) with the timing its written timing gives, where that changes.

    A new ``target_date_text`` is read by ``commitments.dates.parse_timing`` (counting from the publication
    of the document the commitment is quoted from) into its kind, start and deadline, so that "overdue"
    follows the words: a deadline typed alone stays a correction of the deadline, but new words never
    leave the old one behind. Raises ``ValidationError`` on ``target_date_text`` for words that read as no
    timing, and on ``target_date`` for a deadline given in the same change that the words do not give.
    The admin's form calls this too, so its refusal is shown on the field.
    """
    if "target_date_text" not in changes or changes["target_date_text"] == commitment.target_date_text:
        return dict(changes)
    text = changes["target_date_text"] or ""
    source_id = changes.get("source_document", commitment.source_document_id)
    source_id = getattr(source_id, "pk", source_id)
    written_on = Document.objects.filter(pk=source_id).values_list("published_on", flat=True).first()
    timing = parse_timing(text, written_on=written_on)
    if text.strip() and timing.kind == TimingKind.NONE:
        raise ValidationError(
            {
                "target_date_text": (
                    f"“{text}” does not read as a timing: write it as the document does, e.g. “by March 2021”, "
                    "“between April 2019 and March 2021”, “from autumn 2019”, “over the next three years” or "
                    "“annually”, or leave it empty."
                )
            }
        )
    deadline = changes.get("target_date", commitment.target_date)
    if "target_date" in changes and deadline not in (commitment.target_date, timing.deadline):
        reads = f"{timing.deadline.day} {timing.deadline:%B %Y}" if timing.deadline else "no deadline"
        raise ValidationError(
            {
                "target_date": (
                    f"The written timing “{text}” gives {reads}: the deadline follows the words. Change the "
                    "words, or the deadline alone."
                )
            }
        )
    return {
        **changes,
        "timing_kind": timing.kind,
        "starts_on": timing.starts_on,
        "target_date": timing.deadline,
    }


def published_deadline_check(*, stored: Commitment, changes: Mapping[str, Any]) -> None:
    """Refuse (``ValidationError`` on ``target_date``) ``changes`` that move a published commitment's deadline.

    ``changes`` as ``commitment_timing_read`` gives them (new words may move the deadline too). The printed
    deadline is the baseline partners hold the commitment to: it moves by a decided request
    (``commitments.delivery_plan``), which sets the forecast. The admin's form asks this too.
    """
    if stored.published and changes.get("target_date", stored.target_date) != stored.target_date:
        raise ValidationError({"target_date": PUBLISHED_DEADLINE_REFUSAL})


def _edit_from_date(stored: Commitment, commitment: Commitment, themes_changed: bool) -> date | None:
    """The earliest day whose figures the edit moves, from the old and the new values."""
    days: list[date] = []
    if stored.target_date != commitment.target_date:
        # Overdue changes from the earlier of the two dates on.
        days += [day for day in (stored.target_date, commitment.target_date) if day is not None]
    if themes_changed or any(getattr(stored, name) != getattr(commitment, name) for name in _SCOPE_ATTRIBUTES):
        # Scopes: every quarter either deal counts in.
        days += deals_published_on([stored.deal_id, commitment.deal_id])
    return min(days) if days else None


@transaction.atomic
def commitment_create(*, commitment: Commitment, user: Any, themes: Iterable[Theme] | None = None) -> Commitment:
    """Add a commitment (with its themes); a published one reaches the figures at once.

    Its written timing sets its kind, start and deadline as ``commitment_timing_read`` reads them.
    """
    _require(user, ADD_COMMITMENT_PERMISSION, "add commitments")
    if commitment.published:
        _require(user, PUBLISHER_PERMISSION, "publish commitments")
    written = {"target_date_text": commitment.target_date_text, "target_date": commitment.target_date}
    timing = commitment_timing_read(
        commitment=Commitment(source_document_id=commitment.source_document_id), changes=written
    )
    for name, value in timing.items():
        setattr(commitment, name, value)
    commitment.full_clean()
    commitment.created_by = user if getattr(user, "is_authenticated", False) else None
    _stamp(commitment, user, "Commitment added")
    commitment.save()
    if themes is not None:
        commitment.themes.set(themes)
    search.documents_refresh(commitment_ids=[commitment.pk])
    if commitment.published:
        hooks.fire(
            hooks.COMMITMENTS_CHANGING,
            commitment_ids=[commitment.pk],
            from_date=min(deals_published_on([commitment.deal_id])),
            created=True,
        )
    return commitment


@transaction.atomic
def commitment_edit(
    *, commitment: Commitment, user: Any, changes: Mapping[str, Any], themes: Iterable[Theme] | None = None
) -> Commitment:
    """Change a commitment's fields (``changes``, by name) and, if given, its themes.

    Only those who may change the commitment as stored do (a published one: those who may publish). The
    published flag and the delivery state have services of their own. ``commitment.version`` must be the
    version the user read. A change of the written timing sets its kind, start and deadline as
    ``commitment_timing_read`` reads them. The figures follow from the earliest day the change moves (the
    earlier of the old and new target dates; for a change of deal, classification, actor or themes, every
    quarter the commitment counts in).
    """
    stored = Commitment.objects.select_for_update().get(pk=commitment.pk)
    require_may_change_commitment(user, stored)
    unknown = set(changes) - _COMMITMENT_EDITABLE
    if unknown:
        raise ValidationError(f"These cannot be changed by editing a commitment: {', '.join(sorted(unknown))}.")
    changes = commitment_timing_read(commitment=stored, changes=changes)
    published_deadline_check(stored=stored, changes=changes)
    for name, value in changes.items():
        setattr(commitment, name, value)
    commitment.full_clean()
    wanted = None if themes is None else {theme.pk for theme in themes}
    themes_changed = wanted is not None and wanted != set(stored.themes.values_list("pk", flat=True))
    fields_changed = any(
        getattr(stored, field.attname) != getattr(commitment, field.attname)
        for field in Commitment._meta.concrete_fields
        if field.name in _COMMITMENT_EDITABLE
    )
    if not (fields_changed or themes_changed):
        return commitment
    from_date = _edit_from_date(stored, commitment, themes_changed)
    if from_date is not None:
        hooks.fire(hooks.COMMITMENTS_CHANGING, commitment_ids=[commitment.pk], from_date=from_date)
    _stamp(commitment, user, COMMITMENT_EDITED if fields_changed else "Themes changed")
    commitment.save()
    if themes_changed:
        commitment.themes.set(wanted or ())
    search.documents_refresh(commitment_ids=[commitment.pk])
    return commitment


@transaction.atomic
def commitment_delete(*, commitment: Commitment, user: Any) -> None:
    """Delete an unpublished commitment; a published one is withdrawn from partners first.

    An unpublished commitment is in no figure, so its deletion changes none once the figures have taken
    in its withdrawal (``hooks.COMMITMENTS_DELETING`` lets them do so before its pending changes go).
    """
    _require(user, DELETE_COMMITMENT_PERMISSION, "delete commitments")
    stored = Commitment.objects.select_for_update().get(pk=commitment.pk)
    require_may_change_commitment(user, stored)
    if stored.published:
        raise ValidationError(f"{stored.reference} is published: withdraw it from partners before deleting it.")
    hooks.fire(hooks.COMMITMENTS_DELETING, commitment_ids=[stored.pk])
    _stamp(stored, user, "Commitment deleted")
    stored.delete()


def _involvement_changing(involvements: Iterable[CommitmentOrganisation], user: Any) -> None:
    """Check the user may change each involvement's commitment; tell the figures where a lead changes."""
    commitments = {
        commitment.pk: commitment
        for commitment in Commitment.objects.select_for_update().filter(
            pk__in={involvement.commitment_id for involvement in involvements}
        )
    }
    for commitment in commitments.values():
        require_may_change_commitment(user, commitment)
    # Only lead organisations are scopes of the figures.
    leading = {involvement.commitment_id for involvement in involvements if involvement.role == OrganisationRole.LEAD}
    if leading:
        deals = deals_published_on(commitments[pk].deal_id for pk in leading)
        commitments_changing(commitments=[commitments[pk] for pk in leading], from_date=min(deals))


@transaction.atomic
def commitment_involvement_save(*, involvement: CommitmentOrganisation, user: Any) -> CommitmentOrganisation:
    """Add or change an organisation's part in a commitment: only for a commitment the user may change."""
    stored = CommitmentOrganisation.objects.filter(pk=involvement.pk).first() if involvement.pk else None
    _involvement_changing([involvement, *([stored] if stored else [])], user)
    involvement.full_clean()
    if involvement.pk is None:
        involvement.created_by = user if getattr(user, "is_authenticated", False) else None
    _stamp(involvement, user, "Organisation involved" if stored is None else "Involvement changed")
    involvement.save()
    # The commitments' search documents name the organisations taking part.
    search.documents_refresh(commitment_ids={involvement.commitment_id, *([stored.commitment_id] if stored else [])})
    return involvement


@transaction.atomic
def commitment_involvement_delete(*, involvement: CommitmentOrganisation, user: Any) -> None:
    """Remove an organisation's part in a commitment the user may change."""
    stored = CommitmentOrganisation.objects.get(pk=involvement.pk)
    _involvement_changing([stored], user)
    _stamp(stored, user, "Involvement removed")
    stored.delete()
    search.documents_refresh(commitment_ids=[stored.commitment_id])


@transaction.atomic
def document_create(*, document: Document, user: Any) -> Document:
    """Add a document; it has no commitments yet, so no figure moves."""
    _require(user, ADD_DOCUMENT_PERMISSION, "add documents")
    document.full_clean()
    document.created_by = user if getattr(user, "is_authenticated", False) else None
    _stamp(document, user, "Document added")
    document.save()
    return document


@transaction.atomic
def document_edit(*, document: Document, user: Any, changes: Mapping[str, Any]) -> Document:
    """Change a document. Moving a deal's publication date moves every quarter its commitments count from.

    A wide change: every commitment of the deal is marked from the earlier of the two dates, and the
    figures recompute them (set-based beyond a couple of hundred).
    """
    _require(user, CHANGE_DOCUMENT_PERMISSION, "change documents")
    stored = Document.objects.select_for_update().get(pk=document.pk)
    for name, value in changes.items():
        setattr(document, name, value)
    document.full_clean()
    if stored.published_on != document.published_on:
        commitments_changing(
            commitments=Commitment.objects.filter(deal_id=document.pk).only("pk"),
            from_date=min(stored.published_on, document.published_on),
        )
    _stamp(document, user, "Document edited")
    document.save()
    if stored.title != document.title:
        hooks.fire(hooks.RECORD_RENAMED, record=document)  # a deal's figures are labelled with its title
    return document
