"""Every key commitment is classified under the 2017 strategy's and the 2020 Update's themes, by the tracker.

The classification is the tracker's, not the deal's: a fixture of its own (a rule per foundation or area,
exceptions per commitment, each with its reason), loaded by the seed, edited by reviewers in the admin,
shown on the commitment page apart from the printed text, and read by the theme breakdowns.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.urls import reverse

from commitments import roles
from commitments.models import Commitment, Document, Framework, Section, Theme, ThemeException, ThemeKind, ThemeRule
from metrics.services import metrics_recompute
from tests.admin_forms import change_form_data
from tests.helpers import first
from tests.test_edits_reach_figures import eager_tasks, figures_follow  # noqa: F401  # fixtures
from tests.test_metrics import CHECKED

pytestmark = pytest.mark.django_db

FRAMEWORKS = ("LSIS-2017-THEMES", "LSIS-UPDATE-2020-THEMES")


def _codes(commitment: Commitment, framework: str) -> set[str]:
    return set(commitment.themes.filter(framework__code=framework).values_list("code", flat=True))


def _fixture() -> dict:
    return yaml.safe_load((Path(settings.FIXTURES_DIR) / "theme_classification.yaml").read_text(encoding="utf-8"))


def test_every_key_commitment_has_a_theme_in_both_frameworks():
    key = Commitment.objects.filter(deal__code="SD2", section=Section.KEY_COMMITMENTS).prefetch_related("themes")
    assert key.count() >= 69
    missing = [
        (commitment.reference, framework)
        for commitment in key
        for framework in FRAMEWORKS
        if not any(theme.framework.code == framework for theme in commitment.themes.all())
    ]
    assert missing == []


def test_sub_items_and_chapter_commitments_take_the_classification_of_the_commitment_they_belong_to():
    exceptions = set(ThemeException.objects.values_list("commitment__reference", flat=True))
    belonging = Commitment.objects.exclude(parent=None, elaborates=None).select_related("parent", "elaborates")
    assert belonging.count() > 20
    for commitment in belonging:
        owner = commitment.parent or commitment.elaborates
        assert owner is not None
        if commitment.reference in exceptions or owner.reference in exceptions:
            continue
        for framework in FRAMEWORKS:
            assert _codes(commitment, framework) == _codes(owner, framework), (commitment.reference, framework)


def test_an_exception_overrides_the_rule_of_the_area():
    point_of_care = Commitment.objects.get(reference="SD2-BUSENV-REG-G1")
    # The rule for Innovative regulation says business environment; the exception says advanced therapies.
    assert _codes(point_of_care, "LSIS-UPDATE-2020-THEMES") == {"ADVANCED-THERAPIES"}
    assert _codes(Commitment.objects.get(reference="SD2-BUSENV-REG-G2"), "LSIS-UPDATE-2020-THEMES") == {
        "BUSINESS-ENVIRONMENT"
    }


def test_the_fixture_gives_every_foundation_and_area_a_rule_in_both_frameworks_each_with_a_reason():
    data = _fixture()
    scopes = Theme.objects.filter(
        framework__code="IS-FOUNDATIONS", kind__in=[ThemeKind.FOUNDATION, ThemeKind.AREA]
    ).exclude(kind=ThemeKind.FOUNDATION, children__isnull=False)
    ruled = {(rule["scope"], rule["theme"].split("/")[0]) for rule in data["rules"]}
    assert sorted((scope.code, f) for scope in scopes for f in FRAMEWORKS if (scope.code, f) not in ruled) == []
    assert all(item["reason"].strip() for item in [*data["rules"], *data["exceptions"]])
    assert ThemeRule.objects.count() == len(data["rules"])
    assert ThemeException.objects.count() == len(data["exceptions"])


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_theme_breakdowns_are_not_empty_after_seeding(client_for, framework):
    metrics_recompute(quarters=CHECKED[-1:])
    page = client_for(roles.BOARD_MEMBER).get(
        reverse("dashboards:breakdown", args=["theme"]), {"framework": framework, "quarter": CHECKED[-1].label}
    )
    assert page.status_code == 200
    content = page.content.decode()
    names = list(Framework.objects.get(code=framework).themes.values_list("name", flat=True))
    assert [name for name in names if f">{name}</a></th>" not in content] == []


def test_the_page_shows_the_classification_and_its_reason_apart_from_the_printed_text(client_for):
    page = client_for(roles.BOARD_MEMBER).get(reverse("dashboards:commitment", args=["SD2-IDEAS-HARP-G3"]))
    content = page.content.decode()
    printed, classification = content.split("Themes: the tracker\u2019s classification")
    assert "Committing to sequence at least one million whole genomes" in printed
    assert "Sequencing one million whole genomes builds a genomic data resource" in classification
    assert "Rule for Establishing the Health Advanced Research Programme:" in classification
    assert "Rule for" not in printed
    chapter = client_for(roles.BOARD_MEMBER).get(reverse("dashboards:commitment", args=["SD2-IDEAS-HARP-GC3"]))
    assert "As SD2-IDEAS-HARP-G3, which it details" in chapter.content.decode()


def _add_form(client, model: str) -> dict:
    return change_form_data(client.get(reverse(f"admin:commitments_{model}_add")))


@pytest.mark.usefixtures("eager_tasks")  # the recompute runs as the request commits, with or without a broker
def test_a_reviewer_changes_the_classification_in_the_admin_and_the_figures_follow(
    client_for,
    figures_follow,  # noqa: F811
):
    reviewer = client_for(roles.REVIEWER)
    commitment = Commitment.objects.get(reference="SD2-PEOPLE-G3")
    science = Theme.objects.get(framework__code="LSIS-2017-THEMES", code="SCIENCE")
    data = {**_add_form(reviewer, "themeexception"), "commitment": commitment.pk, "theme": science.pk}
    data.update({"include": "on", "reason": "STEM uptake feeds the science base."})

    def edit():
        response = reviewer.post(reverse("admin:commitments_themeexception_add"), data)
        assert response.status_code == 302, response.content.decode()[:2000]

    figures_follow(edit)
    assert "SCIENCE" in _codes(commitment, "LSIS-2017-THEMES")
    commitment.refresh_from_db()
    assert commitment.history.latest().history_change_reason == "Themes changed"

    # Removing the people rule for 2017 leaves People's commitments with only what exceptions give them.
    rule = ThemeRule.objects.get(scope__code="PEOPLE", theme__framework__code="LSIS-2017-THEMES")
    response = reviewer.post(reverse("admin:commitments_themerule_delete", args=[rule.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert _codes(Commitment.objects.get(reference="SD2-PEOPLE-G1"), "LSIS-2017-THEMES") == set()
    assert _codes(commitment, "LSIS-2017-THEMES") == {"SCIENCE"}


def test_an_editor_may_read_the_classification_but_not_change_it(client_for):
    editor = client_for(roles.EDITOR)
    rule = first(ThemeRule.objects.all())
    assert editor.get(reverse("admin:commitments_themerule_changelist")).status_code == 200
    data = {**change_form_data(editor.get(reverse("admin:commitments_themerule_change", args=[rule.pk])))}
    data["reason"] = "Changed by an editor."
    assert editor.post(reverse("admin:commitments_themerule_change", args=[rule.pk]), data).status_code == 403
    rule.refresh_from_db()
    assert rule.reason != "Changed by an editor."
    assert (
        editor.post(reverse("admin:commitments_themerule_delete", args=[rule.pk]), {"post": "yes"}).status_code == 403
    )


def test_seeding_again_changes_nothing_and_restores_no_rule_a_reviewer_removed(client_for):
    from metrics.seeding import seed_reference_data

    reviewer = client_for(roles.REVIEWER)
    rule = ThemeRule.objects.get(scope__code="PLACES", theme__framework__code="LSIS-UPDATE-2020-THEMES")
    assert (
        reviewer.post(reverse("admin:commitments_themerule_delete", args=[rule.pk]), {"post": "yes"}).status_code == 302
    )
    before = sorted(Commitment.themes.through.objects.values_list("commitment_id", "theme_id"))

    report = seed_reference_data(fixtures_dir=settings.FIXTURES_DIR)

    assert not ThemeRule.objects.filter(scope__code="PLACES", theme__framework__code="LSIS-UPDATE-2020-THEMES").exists()
    assert sorted(Commitment.themes.through.objects.values_list("commitment_id", "theme_id")) == before
    assert report.created["theme rules"] == 0


def test_the_commitment_form_shows_the_themes_read_only_and_says_where_to_change_them(client_for):
    commitment = Commitment.objects.get(reference="SD2-IDEAS-HARP-G3")
    held = set(commitment.themes.all())
    client = client_for(roles.REVIEWER)
    url = reverse("admin:commitments_commitment_change", args=[commitment.pk])
    page = client.get(url)

    assert "themes" not in page.context["adminform"].form.fields
    content = page.content.decode()
    assert held
    assert [theme.name for theme in held if theme.name not in content] == []
    # Each with why: here the exception that adds the 2017 data theme.
    assert "Sequencing one million whole genomes builds a genomic data resource" in content
    assert reverse("admin:commitments_themerule_changelist") in content
    assert f"{reverse('admin:commitments_themeexception_changelist')}?q=SD2-IDEAS-HARP-G3" in content

    # Themes posted with the form anyway are not taken.
    other = Theme.objects.filter(framework__code__in=FRAMEWORKS).exclude(pk__in=[theme.pk for theme in held]).first()
    assert other is not None
    response = client.post(url, change_form_data(page, themes=[other.pk], jobs_text="Changed with the form."))
    assert response.status_code == 302
    commitment.refresh_from_db()
    assert commitment.jobs_text == "Changed with the form."
    assert set(commitment.themes.all()) == held


def test_a_commitment_added_or_moved_in_the_admin_takes_the_themes_its_classification_gives(client_for):
    reviewer = client_for(roles.REVIEWER)
    harp, atmp = (Theme.objects.get(framework__code="IS-FOUNDATIONS", code=code) for code in ("HARP", "ATMP"))
    data = {
        **_add_form(reviewer, "commitment"),
        "reference": "SD2-IDEAS-HARP-G99",
        "deal": Document.objects.get(code="SD2").pk,
        "foundation": harp.parent_id,
        "area": harp.pk,
        "actor": "government",
        "section": Section.KEY_COMMITMENTS,
        "position": 999,
        "text": "A commitment staff add by hand.",
        "source_document": Document.objects.get(code="SD2").pk,
        "source_quote": "A commitment staff add by hand.",
    }
    response = reviewer.post(reverse("admin:commitments_commitment_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    added = Commitment.objects.get(reference="SD2-IDEAS-HARP-G99")
    assert (_codes(added, FRAMEWORKS[0]), _codes(added, FRAMEWORKS[1])) == ({"SCIENCE"}, {"SCIENCE-OFFER"})

    url = reverse("admin:commitments_commitment_change", args=[added.pk])
    moved = change_form_data(reviewer.get(url), foundation=atmp.parent_id, area=atmp.pk)
    assert reviewer.post(url, moved).status_code == 302
    assert (_codes(added, FRAMEWORKS[0]), _codes(added, FRAMEWORKS[1])) == ({"GROWTH"}, {"ADVANCED-THERAPIES"})
