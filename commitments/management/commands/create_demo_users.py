"""``python manage.py create_demo_users``: one user per role, for local use only, each with some work to do.

The demo editor owns the commitments of one area of Sector Deal 2 (assigned by the demo reviewer through
the owners' service), so My tasks shows them the quarter's updates due or overdue; and the editor has
written and submitted one update, which waits for the demo reviewer's review. Its narrative says it is demo
text and states nothing about delivery: its delivery status, confidence and progress are the commitment's
current ones, so nothing new is claimed. It is submitted, not approved, so it is in no figure; approving
it in a local database would only restate the current state. The demo partner belongs to Wellcome Trust
(``DEMO_PARTNER_ORGANISATION``), the lead of SD2-IDEAS-HARP-S2 among others in the real data, so that they can
propose updates of its commitments (``commitments.proposals``). Running the command again changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from commitments import roles
from commitments.models import Commitment, Document, Organisation, PartnerMembership, StatusUpdate, Theme, ThemeKind
from commitments.ownership import commitment_assign_owners
from commitments.periods import update_cycle
from commitments.proposals import partner_membership_save, proposal_commitments
from commitments.services import update_create, update_submit

#: How the demo update's narrative begins: it marks it as demo text, and finds it again.
DEMO_NARRATIVE = (
    "DEMO TEXT written by create_demo_users to show the review workflow, not a statement about delivery: "
    "the status, confidence and progress are the commitment's current ones. Return it rather than approve it."
)

#: The organisation the demo partner belongs to, and a published commitment it leads in the real data.
DEMO_PARTNER_ORGANISATION = "Wellcome Trust"
DEMO_PARTNER_COMMITMENT = "SD2-IDEAS-HARP-S2"

DEMO_USERS: dict[str, str | None] = {
    "admin": None,  # a superuser
    "editor": roles.EDITOR,
    "reviewer": roles.REVIEWER,
    "board": roles.BOARD_MEMBER,
    "partner": roles.PARTNER,
}


class Command(BaseCommand):
    help = "Create one demo user per role (admin, editor, reviewer, board, partner). Refuses under production settings."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default=None, help="Password for every demo user (default: DEMO_PASSWORD).")

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if settings.LSIS_ENVIRONMENT == "production":
            raise CommandError("Demo users are for local use only and are never created under production settings.")
        password = options["password"] or settings.DEMO_PASSWORD
        user_model = get_user_model()
        users: dict[str, Any] = {}
        for username, role in DEMO_USERS.items():
            user, created = user_model.objects.get_or_create(username=username)
            user.is_superuser = role is None
            user.is_staff = role is None or role in roles.STAFF_ROLES
            user.is_active = True
            # An address of the reserved .invalid domain: the reminders have somewhere to go (the console
            # locally), and nothing can ever be delivered to it.
            user.email = user.email or f"{username}@demo.lsis.invalid"
            user.set_password(password)
            user.save()
            user.groups.set([Group.objects.get(name=role)] if role else [])
            label = role or "superuser"
            self.stdout.write(f"{'Created' if created else 'Updated'} {username} ({label})")
            users[username] = user
        self._demo_tasks(users["editor"], users["reviewer"])
        self._demo_membership(users["partner"], users["reviewer"])
        self.stdout.write(self.style.SUCCESS(f"Demo users ready; each signs in with the password “{password}”."))

    def _demo_tasks(self, editor: Any, reviewer: Any) -> None:
        """Give the editor an area's commitments, and the reviewer one of their updates to review."""
        deal = Document.objects.filter(code="SD2").first()
        area = (
            Theme.objects.filter(kind=ThemeKind.AREA, area_commitments__deal=deal)
            .order_by("parent__position", "position")
            .first()
            if deal is not None
            else None
        )
        if area is None:
            self.stdout.write(
                "No Sector Deal 2 commitments (run `manage.py seed` first): the demo users have no tasks."
            )
            return
        commitments = Commitment.objects.filter(deal=deal, area=area).order_by("reference")
        count = commitment_assign_owners(commitments=commitments, owner=editor, user=reviewer)
        self.stdout.write(f"editor owns the {count} commitments of {area.name} (assigned by reviewer)")
        if StatusUpdate.objects.filter(author=editor, narrative__startswith=DEMO_NARRATIVE[:40]).exists():
            self.stdout.write("The demo update waiting for reviewer's review is already there.")
            return
        as_of = update_cycle(timezone.localdate()).end
        commitment = commitments.exclude(updates__as_of=as_of).first()
        if commitment is None:
            return
        update = update_create(
            commitment=commitment,
            author=editor,
            as_of=as_of,
            status=commitment.delivery_status,
            confidence=commitment.delivery_confidence,
            progress=commitment.progress,
            narrative=DEMO_NARRATIVE,
        )
        update_submit(update=update, user=editor)
        self.stdout.write(f"editor submitted a demo update of {commitment.reference} for reviewer to review")

    def _demo_membership(self, partner: Any, reviewer: Any) -> None:
        """Make the partner a member of the demo organisation (by the reviewer, through the service)."""
        organisation = Organisation.objects.filter(name=DEMO_PARTNER_ORGANISATION).first()
        if organisation is None:
            self.stdout.write(f"No {DEMO_PARTNER_ORGANISATION} (run `manage.py seed` first): partner belongs to none.")
            return
        membership = PartnerMembership.objects.filter(user=partner).first() or PartnerMembership(user=partner)
        if membership.organisation_id != organisation.pk:
            membership.organisation = organisation
            partner_membership_save(membership=membership, user=reviewer)
        linked = proposal_commitments(user=partner).order_by("reference").values_list("reference", flat=True)
        self.stdout.write(
            f"partner belongs to {organisation.name} and may propose updates of {len(linked)} published "
            f"commitments, e.g. {DEMO_PARTNER_COMMITMENT} (which it leads): {', '.join(linked)}"
        )
