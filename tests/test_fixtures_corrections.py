"""`seed --apply-corrections` brings a database seeded from the previous fixtures to what the fixtures now
say, records each correction in the history, and leaves alone every record staff have edited since."""

from __future__ import annotations

import copy
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.db.models import Model

from commitments import roles
from commitments.models import (
    Commitment,
    Document,
    Framework,
    Organisation,
    StatusUpdate,
    Theme,
    ThemeException,
    ThemeRule,
)
from commitments.periods import Quarter
from commitments.seeding.history import CORRECTION_REASON
from metrics.dashboards import funding_by_programme
from metrics.engine import MONEY_FIELDS
from metrics.models import Basis, QuarterMetric, RegionalStatistic, ScopeType
from metrics.rules import Population
from metrics.seeding import seed_reference_data
from programmes.models import AmountNature, FundingAmount, Programme
from programmes.services import funding_amount_save, programme_save

pytestmark = pytest.mark.django_db

# The last commit whose fixtures databases were seeded from before these corrections.
PREVIOUS_FIXTURES = "cb84aa03b7b1b24fcf4af1ba0e03074a7bae15e9"
STAFF_EDITED = "SD2-IDEAS-RD-G2-A1"  # £1.6bn at Budget 2018: the fixtures now class it as context, HM Treasury's


def _previous_fixtures(into: Path) -> Path:
    """The fixtures as they were at PREVIOUS_FIXTURES, read from git into a folder of their own."""
    repo = Path(settings.BASE_DIR)
    try:
        # A fixed git command on a fixed commit of this repository, not outside input.
        names = subprocess.run(  # noqa: S603
            ["git", "ls-tree", "--name-only", PREVIOUS_FIXTURES, "fixtures/"],  # noqa: S607
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the git history of the fixtures is not available")
    into.mkdir()
    for name in names:
        if name.endswith(".yaml"):
            content = subprocess.run(  # noqa: S603
                ["git", "show", f"{PREVIOUS_FIXTURES}:{name}"],  # noqa: S607
                cwd=repo,
                check=True,
                capture_output=True,
            ).stdout
            (into / Path(name).name).write_bytes(content)
    _as_an_earlier_transcription(into)
    return into


# The fixtures' history holds no organisation or programme renamed or reclassed (the programmes' one change is
# HARP's parent and funder): these stand for such an earlier transcription, so that every class of correction
# of those records is exercised. (file, as the fixtures print it now, as an earlier transcription had it)
EARLIER_TRANSCRIPTION = (
    (
        "organisations.yaml",
        "  - name: Wellcome Trust\n    kind: charity\n    aliases: [Wellcome]\n",
        "  - name: Wellcome\n    kind: other\n    aliases: [Wellcome Trust]\n",
    ),
    (
        "programmes.yaml",
        "  - name: Regulator\u2019s Pioneer Fund\n    aliases: [Regulator Pioneer Fund]\n    kind: fund\n",
        "  - name: Regulator Pioneer Fund\n    aliases: [Regulator\u2019s Pioneer Fund]\n    kind: programme\n",
    ),
)


def _as_an_earlier_transcription(folder: Path) -> None:
    for name, now, earlier in EARLIER_TRANSCRIPTION:
        path = folder / name
        text = path.read_text(encoding="utf-8")
        assert text.count(now) == 1, (name, now)
        path.write_text(text.replace(now, earlier), encoding="utf-8")


def _wipe_seeded_data() -> None:
    """Remove everything the session's seed wrote, history included, inside this test's transaction.

    In bulk and around the services, on purpose: no service empties the database, and this is the start
    of a database seeded from the previous fixtures, not something staff do. The links between records
    of one table are cut first, so that the rows can be deleted in any order.
    """
    FundingAmount.objects.update(part_of=None)
    Commitment.objects.update(parent=None, continues=None, elaborates=None)
    Programme.objects.update(parent=None)
    Theme.objects.update(parent=None)
    delivery_span = apps.get_model("metrics", "DeliverySpan")
    # The classification first: its rules hold on to the themes.
    in_order: tuple[type[Model], ...] = (
        ThemeException,
        ThemeRule,
        delivery_span,
        StatusUpdate,
        FundingAmount,
        Commitment,
        Programme,
        Organisation,
        Theme,
        Framework,
        RegionalStatistic,
        Document,
    )
    for model in in_order:
        model._default_manager.all().delete()
    for model in apps.get_models():
        if model.__name__.startswith("Historical"):
            model._default_manager.all().delete()


def _snapshot() -> dict[str, dict]:
    """What the fixtures determine, keyed by natural keys."""
    commitments = {
        c.reference: (
            c.deal.code,
            c.text,
            c.source_quote,
            c.jobs,
            c.jobs_text,
            c.target_date_text,
            getattr(c.parent, "reference", None),
            getattr(c.continues, "reference", None),
            getattr(c.elaborates, "reference", None),
            c.published,
            tuple(sorted((i.organisation.name, i.role) for i in c.involvements.all())),
            tuple(sorted(p.name for p in c.programmes.all())),
        )
        for c in Commitment.objects.select_related("deal", "parent", "continues", "elaborates")
    }
    amounts = {
        a.key: (
            a.amount_text,
            a.qualifier,
            a.low,
            a.high,
            a.nature,
            getattr(a.funder, "name", None),
            getattr(a.commitment, "reference", None),
            getattr(a.programme, "name", None),
            getattr(a.part_of, "key", None),
            a.period_text,
            a.source_quote,
        )
        for a in FundingAmount.objects.select_related("funder", "commitment", "programme", "part_of")
    }
    joint_funders = {
        a.key: tuple(sorted(a.joint_funders.values_list("name", flat=True)))
        for a in FundingAmount.objects.filter(joint_funders__isnull=False).distinct()
    }
    updates = {
        (reference, document, quote): (status, as_of)
        for reference, document, quote, status, as_of in StatusUpdate.objects.exclude(source_document=None).values_list(
            "commitment__reference", "source_document__code", "source_quote", "status", "as_of"
        )
    }
    organisations = {
        o.name: (o.kind, tuple(sorted(o.aliases.values_list("name", flat=True))), o.source_quote)
        for o in Organisation.objects.all()
    }
    programmes = {
        p.name: (
            p.short_name,
            p.kind,
            getattr(p.parent, "name", None),
            getattr(p.funder, "name", None),
            p.source_quote,
        )
        for p in Programme.objects.select_related("parent", "funder")
    }
    return {
        "commitments": commitments,
        "amounts": amounts,
        "joint_funders": joint_funders,
        "updates": updates,
        "organisations": organisations,
        "programmes": programmes,
    }


@pytest.fixture(scope="module")
def previous_seed(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The current seed's snapshot; then, until the module's last test, the database as a seed of the previous
    fixtures left it.

    Seeding takes seconds, so it is done once for the module, in a transaction of its own that is rolled back
    at the end; each test's own transaction is a savepoint inside it, rolled back after the test, so every
    test starts from the same previous seed, as if it had seeded it itself.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            current = _snapshot()
            _wipe_seeded_data()
            seed_reference_data(fixtures_dir=_previous_fixtures(tmp_path_factory.mktemp("fixtures") / "previous"))
        except BaseException:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            raise
    try:
        yield current
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def seeded_from_previous_fixtures(previous_seed: Any, db: Any) -> Any:
    """The current seed's snapshot (a copy the test may change); the database as a seed of the previous fixtures
    left it."""
    return copy.deepcopy(previous_seed)


def test_corrections_bring_a_database_seeded_before_to_the_fixtures(seeded_from_previous_fixtures):
    current = seeded_from_previous_fixtures
    assert _snapshot() != current  # the previous fixtures differ, or there is nothing to test

    output = StringIO()
    call_command("seed", "--apply-corrections", stdout=output)

    assert _snapshot() == current
    assert "correction(s) applied, 0 skipped." in output.getvalue()
    assert "corrected: commitment SD2-INFRA-G5.2: removed" in output.getvalue()


def test_each_correction_is_in_the_history_with_its_reason(seeded_from_previous_fixtures):
    call_command("seed", "--apply-corrections", stdout=StringIO())

    digital_pathology = FundingAmount.objects.get(key="SD2-IDEAS-HARP-G2-A1")
    reasons = list(
        digital_pathology.history.filter(history_change_reason__startswith=CORRECTION_REASON).values_list(
            "history_change_reason", flat=True
        )
    )
    assert f"{CORRECTION_REASON}: amount SD2-IDEAS-HARP-G2-A1 (amount_text, funder, source_quote)" in reasons
    assert f"{CORRECTION_REASON}: amount SD2-IDEAS-HARP-G2-A1 (part_of)" in reasons
    assert digital_pathology.history.last().history_change_reason == "Loaded from fixtures by seed"
    genomes = Commitment.objects.get(reference="SD2-IDEAS-HARP-GC3")
    assert genomes.history.last().history_change_reason == f"{CORRECTION_REASON}: added commitment SD2-IDEAS-HARP-GC3"


def test_organisations_and_programmes_are_corrected_each_in_their_history(seeded_from_previous_fixtures):
    """Names, kinds, spellings, parents and funders: each correction a history entry with its reason."""
    assert Organisation.objects.get(name="Wellcome").kind == "other"
    harp = Programme.objects.get(name="Health Advanced Research Programme")
    assert getattr(harp.parent, "name", None) == "Industrial Strategy Challenge Fund"

    output = StringIO()
    call_command("seed", "--apply-corrections", stdout=output)

    def reasons(record) -> list[str]:
        return list(
            record.history.filter(history_change_reason__startswith=CORRECTION_REASON).values_list(
                "history_change_reason", flat=True
            )
        )

    wellcome = Organisation.objects.get(name="Wellcome Trust")  # the same record, not a second one
    assert (wellcome.kind, list(wellcome.aliases.values_list("name", flat=True))) == ("charity", ["Wellcome"])
    assert reasons(wellcome) == [f"{CORRECTION_REASON}: organisation Wellcome Trust (name, kind)"]
    assert not Organisation.objects.filter(name="Wellcome").exists()
    assert wellcome.history.last().history_change_reason == "Loaded from fixtures by seed"
    # The spelling that is now its name stops being an alias; the one it was seeded under becomes one.
    alias_reasons = set(
        wellcome.aliases.model.history.filter(organisation_id=wellcome.pk)
        .exclude(history_change_reason=None)
        .values_list("history_change_reason", flat=True)
    )
    assert f"{CORRECTION_REASON}: organisation Wellcome Trust (alias Wellcome Trust is its name now)" in alias_reasons
    assert f"{CORRECTION_REASON}: organisation Wellcome Trust (alias Wellcome added)" in alias_reasons

    pioneer = Programme.objects.get(name="Regulator\u2019s Pioneer Fund")
    assert pioneer.kind == "fund"
    assert reasons(pioneer) == [f"{CORRECTION_REASON}: programme Regulator\u2019s Pioneer Fund (name, kind)"]

    harp.refresh_from_db()
    assert (harp.parent, harp.funder) == (None, None)
    assert set(reasons(harp)) == {
        f"{CORRECTION_REASON}: programme Health Advanced Research Programme (funder)",
        f"{CORRECTION_REASON}: programme Health Advanced Research Programme (parent)",
    }
    grant = FundingAmount.objects.get(key="SD2-IDEAS-RD-S5-A1")
    assert f"{CORRECTION_REASON}: amount SD2-IDEAS-RD-S5-A1 (joint_funders)" in reasons(grant)
    for line in (
        "corrected: organisation Wellcome Trust: name, kind",
        "corrected: programme Regulator\u2019s Pioneer Fund: name, kind",
        "corrected: programme Health Advanced Research Programme: parent",
        "corrected: amount SD2-IDEAS-RD-S5-A1: joint_funders",
    ):
        assert line in output.getvalue(), line
    # HARP's money left the Challenge Fund's row: the stored figures were recomputed with the corrections.
    assert "Figures recomputed:" in output.getvalue()
    quarter = Quarter.containing(date.today())
    fund = Programme.objects.get(name="Industrial Strategy Challenge Fund")
    stored = QuarterMetric.objects.get(
        quarter__year=quarter.year,
        quarter__number=quarter.number,
        basis=Basis.LIVE,
        population=Population.ALL,  # every commitment's money, as the funding table below sums it
        scope_type=ScopeType.PROGRAMME,
        scope_key=str(fund.uuid),
    )
    table = {row.name: row.total for row in funding_by_programme(quarter.end).programmes}
    assert {name: getattr(stored, name) for name in MONEY_FIELDS} == table[fund.name].figures()


def test_a_programme_staff_changed_since_is_left_alone_parent_included(seeded_from_previous_fixtures, user_with_role):
    current = seeded_from_previous_fixtures
    harp = Programme.objects.get(name="Health Advanced Research Programme")
    harp.kind = "initiative"
    programme_save(programme=harp, user=user_with_role(roles.REVIEWER))

    output = StringIO()
    call_command("seed", "--apply-corrections", stdout=output)

    harp.refresh_from_db()
    assert (harp.kind, getattr(harp.parent, "name", None)) == ("initiative", "Industrial Strategy Challenge Fund")
    assert getattr(harp.funder, "name", None) == "UK Research and Innovation"
    skipped = "skipped (edited since it was seeded): programme Health Advanced Research Programme: kind edited"
    assert f"{skipped}; fixtures would change kind, funder" in output.getvalue()
    assert f"{skipped}; fixtures would change parent" in output.getvalue()
    snapshot = _snapshot()
    snapshot["programmes"].pop(harp.name)
    current["programmes"].pop(harp.name)
    assert snapshot == current


def test_a_record_staff_edited_since_is_left_alone_and_reported(seeded_from_previous_fixtures, user_with_role):
    current = seeded_from_previous_fixtures
    edited = FundingAmount.objects.get(key=STAFF_EDITED)
    edited.period_text = "announced at Budget 2018"
    funding_amount_save(amount=edited, user=user_with_role(roles.REVIEWER))
    before = FundingAmount.objects.get(key=STAFF_EDITED)

    output = StringIO()
    call_command("seed", "--apply-corrections", stdout=output)

    after = FundingAmount.objects.get(key=STAFF_EDITED)
    assert (after.nature, after.funder, after.period_text) == (before.nature, None, "announced at Budget 2018")
    assert after.nature != AmountNature.CONTEXT
    assert f"skipped (edited since it was seeded): amount {STAFF_EDITED}: period_text edited" in output.getvalue()
    snapshot = _snapshot()
    snapshot["amounts"].pop(STAFF_EDITED)
    current["amounts"].pop(STAFF_EDITED)
    assert snapshot == current


def test_applying_the_corrections_twice_changes_nothing_the_second_time(seeded_from_previous_fixtures):
    call_command("seed", "--apply-corrections", stdout=StringIO())
    once = _snapshot()
    output = StringIO()
    call_command("seed", "--apply-corrections", stdout=output)
    assert "0 record(s) created. 0 correction(s) applied, 0 skipped." in output.getvalue()
    assert _snapshot() == once


def test_a_plain_seed_still_corrects_nothing(seeded_from_previous_fixtures):
    before = FundingAmount.objects.get(key=STAFF_EDITED)
    call_command("seed", stdout=StringIO())
    assert FundingAmount.objects.get(key=STAFF_EDITED).nature == before.nature
    assert not FundingAmount.history.filter(history_change_reason__startswith=CORRECTION_REASON).exists()


def test_previous_fixtures_are_not_edited_by_the_test(tmp_path):
    """The fixtures the corrections start from come from git, never from the working copy."""
    folder = _previous_fixtures(tmp_path / "previous")
    assert (folder / "sd2_ideas.yaml").read_text(encoding="utf-8") != (
        Path(settings.FIXTURES_DIR) / "sd2_ideas.yaml"
    ).read_text(encoding="utf-8")
    shutil.rmtree(folder)
