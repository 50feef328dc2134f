"""The roles people have in the tracker, as Django groups, and what each may do.

This is the one place that says which permissions a role carries. Migrations call
``sync_role_groups`` so that every database gets the same groups; a change here needs a new migration
that calls it again, and a test checks the groups in the database match this module.
"""

from __future__ import annotations

from typing import Any

EDITOR = "OLS editor"
REVIEWER = "OLS reviewer"
BOARD_MEMBER = "Board member"
PARTNER = "Partner"
ADMINISTRATOR = "Administrator"

# (app label, model name) of everything staff can look at in the tracker.
TRACKER_MODELS: tuple[tuple[str, str], ...] = (
    ("commitments", "document"),
    ("commitments", "framework"),
    ("commitments", "theme"),
    ("commitments", "organisation"),
    ("commitments", "organisationalias"),
    ("commitments", "commitment"),
    ("commitments", "commitmentorganisation"),
    ("commitments", "statusupdate"),
    ("commitments", "evidencelink"),
    ("commitments", "themerule"),
    ("commitments", "themeexception"),
    ("commitments", "milestone"),
    ("commitments", "dependency"),
    ("commitments", "baselinechange"),
    ("commitments", "proposal"),
    ("commitments", "partnermembership"),
    ("programmes", "programme"),
    ("programmes", "fundingamount"),
    ("metrics", "regionalstatistic"),
    ("metrics", "reportingquarter"),
    ("metrics", "quartermetric"),
    ("metrics", "release"),
)

_VIEW_ALL = [(app, f"view_{model}") for app, model in TRACKER_MODELS]
_EDITOR_CHANGES = [
    ("commitments", "add_statusupdate"),
    ("commitments", "change_statusupdate"),
    ("commitments", "delete_statusupdate"),
    ("commitments", "add_evidencelink"),
    ("commitments", "change_evidencelink"),
    ("commitments", "delete_evidencelink"),
    ("commitments", "change_commitment"),
    ("commitments", "add_commitmentorganisation"),
    ("commitments", "change_commitmentorganisation"),
    ("commitments", "delete_commitmentorganisation"),
    ("programmes", "add_fundingamount"),
    ("programmes", "change_fundingamount"),
    # The delivery plan: milestones and dependencies are kept by staff; a change of deadline is asked for.
    ("commitments", "add_milestone"),
    ("commitments", "change_milestone"),
    ("commitments", "delete_milestone"),
    ("commitments", "add_dependency"),
    ("commitments", "change_dependency"),
    ("commitments", "delete_dependency"),
    ("commitments", "add_baselinechange"),
]
_REVIEWER_CHANGES = [
    ("commitments", "review_statusupdate"),
    ("commitments", "publish_commitment"),
    ("commitments", "add_commitment"),
    ("commitments", "add_organisation"),
    ("commitments", "change_organisation"),
    ("commitments", "add_organisationalias"),
    ("commitments", "change_organisationalias"),
    ("commitments", "delete_organisationalias"),
    # The tracker's classification under the 2017 and 2020 themes (commitments.classification).
    ("commitments", "add_themerule"),
    ("commitments", "change_themerule"),
    ("commitments", "delete_themerule"),
    ("commitments", "add_themeexception"),
    ("commitments", "change_themeexception"),
    ("commitments", "delete_themeexception"),
    ("programmes", "add_programme"),
    ("programmes", "change_programme"),
    ("metrics", "lock_reportingquarter"),
    # Owners are assigned, and changes of deadline decided, by reviewers.
    ("commitments", "assign_owner_commitment"),
    ("commitments", "decide_baselinechange"),
    # Partners' proposed updates are accepted (as a draft) or declined by reviewers.
    ("commitments", "decide_proposal"),
    # Which organisation a partner user speaks for.
    ("commitments", "add_partnermembership"),
    ("commitments", "change_partnermembership"),
    ("commitments", "delete_partnermembership"),
    # Open-data releases: published when a quarter is signed off; a restatement makes a new version.
    ("metrics", "publish_release"),
]
# The reminders sent and the messages carrying them (lsis.core.models), read-only in the admin.
_MESSAGES_VIEW = [("core", "view_message"), ("core", "view_reminder")]
_ADMINISTRATOR_CHANGES = [
    ("auth", "view_user"),
    ("auth", "add_user"),
    ("auth", "change_user"),
    ("auth", "view_group"),
]

ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    EDITOR: _VIEW_ALL + _EDITOR_CHANGES,
    REVIEWER: _VIEW_ALL + _EDITOR_CHANGES + _REVIEWER_CHANGES + _MESSAGES_VIEW,
    BOARD_MEMBER: list(_VIEW_ALL),
    # Partners read published data through the API only; they have no admin permissions.
    PARTNER: [],
    ADMINISTRATOR: _VIEW_ALL + _ADMINISTRATOR_CHANGES + _MESSAGES_VIEW,
}

# Roles that work in the Django admin (their users are staff).
STAFF_ROLES = (EDITOR, REVIEWER, BOARD_MEMBER, ADMINISTRATOR)


def sync_role_groups(apps: Any) -> None:
    """Create each role's group and give it exactly the permissions listed above."""
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, wanted in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        # Called from several migrations: a permission whose model does not exist yet at that point of the
        # migration history is granted by the later migration that calls this again.
        permissions = [
            permission
            for app, codename in wanted
            if (permission := permission_model.objects.filter(content_type__app_label=app, codename=codename).first())
        ]
        group.permissions.set(permissions)
