"""The drill's database: the real Sector Deal data, its figures, and the drill's own people.

Django must be set up (production settings, the private servers) before these are called. The people
are made as ``create_demo_users`` makes them (groups from ``commitments.roles``, tokens through
``api_token_issue``, owners through ``commitment_assign_owners``), with names of the drill's own, since
demo users are refused under production settings. Addresses are in the reserved ``.invalid`` domain.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from commitments import roles
from commitments.models import Commitment, DeliveryStatus, Document, Theme, ThemeKind
from commitments.ownership import commitment_assign_owners
from lsis.api.tokens import api_token_issue
from metrics.models import QuarterMetric

PROJECT_DIR = Path(__file__).resolve().parents[2]
EDITORS = ("drill-editor-1", "drill-editor-2")
REVIEWERS = ("drill-reviewer-1", "drill-reviewer-2")
PARTNER = "drill-partner"
BOARD = "drill-board"


@dataclass(frozen=True)
class Target:
    """A commitment the editors write updates of, with its current delivery state (restated, not changed)."""

    reference: str
    status: str
    confidence: str
    progress: int | None


@dataclass
class Actors:
    """Who the clients act as, and what they read and write."""

    partner_token: str
    editor_tokens: list[str]
    reviewer_tokens: list[str]
    board_username: str
    board_password: str
    targets: list[Target] = field(default_factory=list)
    commitment_refs: list[str] = field(default_factory=list)
    theme_path: str = "/"
    deal_code: str = "SD2"
    owners: int = 0


def manage(env: Mapping[str, str], *args: str, log: Path) -> None:
    """Run ``manage.py`` with ``env`` (production settings), appending its output to ``log``; raise if it fails."""
    with open(log, "ab") as out:
        done = subprocess.run(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", *args], cwd=PROJECT_DIR, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-30:]
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n" + "\n".join(tail))


#: What the seeded database is made from: the migrations, the fixtures and the seeding code.
SEED_SOURCES = (
    "*/migrations/*.py",
    "lsis/*/migrations/*.py",
    "fixtures/**/*",
    "commitments/seeding/**/*.py",
    "metrics/seeding*",
    "metrics/seeding/**/*.py",
    "metrics/management/commands/seed.py",
)


def _seed_key() -> str:
    """A digest of what the seeded database is made from (``SEED_SOURCES``)."""
    digest = hashlib.sha256()
    paths = {path for pattern in SEED_SOURCES for path in PROJECT_DIR.glob(pattern) if path.is_file()}
    for path in sorted(paths):
        digest.update(str(path.relative_to(PROJECT_DIR)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:24]


def seeded_database(env: Mapping[str, str], *, pg_bin: Path, log: Path) -> str:
    """Migrate and seed the database ``env`` names, or restore the dump a run of the same code left; say which.

    Migrating and seeding take a minute or more on a busy machine; the dump (``pg_dump -Fc``, kept in
    ``~/.cache/lsis-drill`` under a digest of the code and fixtures) restores in seconds. The figures are
    computed afresh either way (``recompute_metrics``, by the caller).
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "lsis-drill"
    dump = cache / f"seeded-{_seed_key()}.dump"
    url = env["DATABASE_URL"]
    if dump.exists():
        _pg(pg_bin / "pg_restore", "--no-owner", "--exit-on-error", "-d", url, str(dump), log=log)
        manage(env, "migrate", "--no-input", log=log)  # nothing to do, unless the code moved on
        return f"restored from {dump}"
    manage(env, "migrate", "--no-input", log=log)
    manage(env, "seed", log=log)
    cache.mkdir(parents=True, exist_ok=True)
    partial = dump.with_suffix(".partial")
    _pg(pg_bin / "pg_dump", "-Fc", "-f", str(partial), url, log=log)
    partial.replace(dump)
    for old in cache.glob("seeded-*.dump"):
        if old != dump:
            old.unlink(missing_ok=True)
    return f"migrated and seeded (dump kept in {dump})"


def _pg(binary: Path, *args: str, log: Path) -> None:
    with open(log, "ab") as out:
        done = subprocess.run([str(binary), *args], stdout=out, stderr=subprocess.STDOUT, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{binary.name} failed ({done.returncode}); see {log}")


def static_files_stale(static_root: Path) -> bool:
    """Whether ``collectstatic`` has something to do: no manifest, or a source file newer than it.

    Collecting post-processes (hashes and compresses) every file each time, minutes on a busy machine; the
    drill skips it when what is collected is up to date.
    """
    from django.contrib.staticfiles import finders

    manifest = static_root / "staticfiles.json"
    if not manifest.exists():
        return True
    collected = manifest.stat().st_mtime
    for finder in finders.get_finders():
        for path, storage in finder.list([]):
            if Path(storage.path(path)).stat().st_mtime > collected:
                return True
    return False


def _user(username: str, role: str, password: str | None = None) -> object:
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = role in roles.STAFF_ROLES
    user.is_active = True
    user.email = f"{username}@drill.lsis.invalid"
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.groups.set([Group.objects.get(name=role)])
    return user


def _token(user: object) -> str:
    return api_token_issue(user=user, expires_in=timedelta(days=1))[1]


@transaction.atomic
def actors_create(*, targets: int = 120) -> Actors:
    """Create the drill's people and tokens; make the editors owners of two areas' commitments, so reminders are due.

    ``targets`` commitments (published, with a delivery state) are the ones the editors write updates of.
    """
    reviewers = [_user(name, roles.REVIEWER) for name in REVIEWERS]
    editors = [_user(name, roles.EDITOR) for name in EDITORS]
    board_password = secrets.token_urlsafe(16)
    _user(BOARD, roles.BOARD_MEMBER, board_password)
    partner = _user(PARTNER, roles.PARTNER)

    deal = Document.objects.filter(code="SD2").first()
    owners = 0
    if deal is not None:
        areas = Theme.objects.filter(kind=ThemeKind.AREA, area_commitments__deal=deal).distinct()
        for editor, area in zip(editors, areas.order_by("parent__position", "position"), strict=False):
            mine = Commitment.objects.filter(deal=deal, area=area).order_by("reference")
            owners += commitment_assign_owners(commitments=mine, owner=editor, user=reviewers[0])

    published = Commitment.objects.published()
    candidates = (
        published.exclude(delivery_status="")
        .exclude(delivery_status__isnull=True)
        .exclude(delivery_status=DeliveryStatus.DELIVERED)
        .order_by("reference")
    )
    chosen = [Target(c.reference, c.delivery_status, c.delivery_confidence, c.progress) for c in candidates[:targets]]
    refs = list(published.order_by("reference").values_list("reference", flat=True)[:200])
    theme = (
        QuarterMetric.objects.filter(scope_type__in=("theme", "foundation", "area"))
        .values_list("scope_type", "scope_key")
        .first()
    )
    actors = Actors(
        partner_token=_token(partner),
        editor_tokens=[_token(editor) for editor in editors],
        reviewer_tokens=[_token(reviewer) for reviewer in reviewers],
        board_username=BOARD,
        board_password=board_password,
        targets=chosen,
        commitment_refs=refs,
        theme_path=f"/scope/{theme[0]}/{theme[1]}/" if theme else "/breakdown/theme/",
        deal_code=deal.code if deal is not None else "SD2",
        owners=owners,
    )
    return actors
