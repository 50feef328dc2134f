"""Search over commitments (``commitments.search``): the page at /search/, the box on every dashboard page, the
API's ``?search=``, the stored document kept fresh by the services, and the SQLite fallback.

Run on both databases: the tests marked ``postgres`` check what only PostgreSQL's full-text search does
(stemming, ranking, phrases and exclusions through ``websearch_to_tsquery``, ``ts_headline``).
"""

from __future__ import annotations

import importlib
import io
import re
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from commitments import roles, search
from commitments.models import Commitment, CommitmentOrganisation, Organisation, OrganisationAlias, OrganisationRole
from commitments.reference_records import organisation_alias_save, organisation_save, theme_save
from commitments.services import commitment_edit, commitment_involvement_save
from programmes.models import Programme, ProgrammeKind
from programmes.services import commitment_programmes_set, programme_save
from tests.factories import CommitmentFactory, UserFactory
from tests.helpers import first

pytestmark = pytest.mark.django_db

SEARCH = reverse("dashboards:search")
API = "/api/v1/commitments/"
on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL full-text search")


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def _found(response: Any) -> list[str]:
    """The references a results page lists, in order."""
    assert response.status_code == 200, response.content
    return re.findall(
        r'<h3 class="govuk-heading-s[^"]*"><a class="govuk-link" href="[^"]+">([^<]+)</a>', response.content.decode()
    )


def _count(response: Any) -> int:
    match = re.search(r"(\d+) commitments? found", _text(response))
    assert match, _text(response)
    return int(match.group(1))


def _api_references(client: Any, query: str) -> set[str]:
    response = client.get(API, {"search": query, "page_size": 200})
    assert response.status_code == 200, response.content
    return {row["reference"] for row in response.json()["results"]}


@pytest.fixture
def board(client_for: Any) -> Client:
    return client_for(roles.BOARD_MEMBER)


@pytest.fixture
def reviewer(user_with_role: Any) -> Any:
    return user_with_role(roles.REVIEWER)


# --- the query ------------------------------------------------------------------------------------------------


def test_a_query_is_read_as_websearch_reads_it() -> None:
    query = search.parse('genomics "whole genome" -cancer or SD2-IDEAS "unclosed')
    assert query.alternatives == (
        (
            search.Term("genomics", phrase=False, excluded=False),
            search.Term("whole genome", phrase=True, excluded=False),
            search.Term("cancer", phrase=False, excluded=True),
        ),
        (search.Term("SD2-IDEAS", phrase=False, excluded=False), search.Term("unclosed", phrase=True, excluded=False)),
    )
    # A hyphen-joined word is the phrase of its parts, so that the start of a reference finds the reference.
    assert query.as_websearch() == 'genomics "whole genome" -cancer or "SD2 IDEAS" "unclosed"'
    assert search.parse("COVID-19").as_websearch() == "COVID-19"
    assert query.wanted == ["whole genome", "SD2-IDEAS", "genomics", "unclosed"]
    for empty in ("", "   ", "or", '""', "-", "-cancer"):
        assert search.parse(empty).is_empty, empty


# --- the page -------------------------------------------------------------------------------------------------


def test_the_page_needs_a_dashboard_reader(client: Client, client_for: Any) -> None:
    assert client.get(SEARCH, {"q": "genomes"})["Location"].startswith(reverse("login"))
    assert client_for(roles.PARTNER).get(SEARCH, {"q": "genomes"}).status_code == 403


def test_every_dashboard_page_has_the_search_box(board: Client) -> None:
    page = board.get(reverse("dashboards:commitment", args=["SD2-IDEAS-HARP-G1"])).content.decode()
    assert f'action="{SEARCH}" role="search"' in page
    assert 'name="q" type="search"' in page
    # The search page has its own box, not a second one in the header (one id, one label each).
    results = board.get(SEARCH, {"q": "genomes"}).content.decode()
    assert results.count('role="search"') == 1


def test_empty_query_asks_for_words(board: Client) -> None:
    for query in ({}, {"q": ""}, {"q": "   "}):
        response = board.get(SEARCH, query)
        assert response.status_code == 200
        assert "Enter a word, a reference or a name" in _text(response)
        assert "found" not in _text(response)


def test_results_are_counted_linked_and_quoted_with_the_words_marked(board: Client) -> None:
    response = board.get(SEARCH, {"q": "genomes"})
    found = _found(response)
    expected = search.matching(Commitment.objects.all(), "genomes")
    assert _count(response) == expected.count() > 0
    # Whatever the database, every commitment holding the word as typed is found.
    holding = Commitment.objects.filter(text__icontains="genomes").values_list("reference", flat=True)
    assert set(holding) <= set(expected.values_list("reference", flat=True))
    assert set(found) <= set(expected.values_list("reference", flat=True))
    page = response.content.decode()
    assert f'href="{reverse("dashboards:commitment", args=[found[0]])}"' in page
    assert re.search(r"<mark>genomes?</mark>", page, re.IGNORECASE), page


def test_a_reference_finds_its_commitment_first_and_its_start_finds_those_under_it(board: Client) -> None:
    assert _found(board.get(SEARCH, {"q": "SD2-IDEAS-HARP-G1"}))[0] == "SD2-IDEAS-HARP-G1"
    under = set(Commitment.objects.filter(reference__startswith="SD2-IDEAS-HARP-").values_list("reference", flat=True))
    response = board.get(SEARCH, {"q": "SD2-IDEAS-HARP", "page": "1"})
    assert _count(response) >= len(under) > 1
    assert set(_found(response)) >= under or _count(response) > 20


def test_an_organisation_programme_or_theme_finds_the_commitments_it_names(board: Client) -> None:
    involvement = first(CommitmentOrganisation.objects.select_related("organisation", "commitment"))
    programme = first(Programme.objects.filter(commitments__isnull=False))
    delivered = programme.commitments.order_by("reference").first()
    assert delivered is not None
    classified = first(Commitment.objects.filter(area__isnull=False).select_related("area"))
    for name, reference in (
        (f'"{involvement.organisation.name}"', involvement.commitment.reference),
        (f'"{programme.name}"', delivered.reference),
        (f'"{classified.area.name}"' if classified.area else "", classified.reference),
    ):
        listed = search.ranked(Commitment.objects.all(), name).values_list("reference", flat=True)
        assert reference in listed, name
        assert _count(board.get(SEARCH, {"q": name})) == len(listed)


def test_an_alias_finds_the_organisations_commitments(board: Client) -> None:
    alias = first(OrganisationAlias.objects.filter(organisation__involvements__isnull=False).distinct())
    involved = set(
        Commitment.objects.filter(involvements__organisation=alias.organisation_id).values_list("reference", flat=True)
    )
    assert involved <= set(
        search.matching(Commitment.objects.all(), f'"{alias.name}"').values_list("reference", flat=True)
    )


def test_no_result_says_so(board: Client) -> None:
    response = board.get(SEARCH, {"q": "xylophonequartz"})
    assert response.status_code == 200
    assert "0 commitments found" in _text(response)
    assert "No commitment matches “xylophonequartz”" in _text(response)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "genome " * 40}, "Search terms must be 200 characters or fewer"),
        ({"q": "genomes", "page": "two"}, "Page must be a number"),
        ({"q": "genomes", "page": "0"}, "Page must be 1 or more"),
    ],
)
def test_bad_input_is_a_govuk_error(board: Client, params: dict[str, str], message: str) -> None:
    response = board.get(SEARCH, params)
    assert response.status_code == 400
    text = _text(response)
    assert "There is a problem" in text
    assert message in text
    assert response.content.decode().count(message) == 2  # the summary and the field, GOV.UK style


def test_nul_is_a_govuk_error(board: Client) -> None:
    response = board.get(SEARCH + "?q=gen%00omes")
    assert response.status_code == 400
    assert "NUL" in _text(response)


def test_a_page_beyond_the_last_shows_the_last(board: Client) -> None:
    response = board.get(SEARCH, {"q": "government", "page": "999"})
    assert response.status_code == 200
    assert _found(response)


def test_the_text_is_escaped_and_only_found_words_are_marked(board: Client) -> None:
    CommitmentFactory.create(reference="TEST-ESCAPE", text="<script>alert('marked')</script> <b>bold</b> probe")
    page = board.get(SEARCH, {"q": "probe TEST-ESCAPE"}).content.decode()
    assert "<script>alert" not in page
    assert "<b>bold</b>" not in page
    assert "<mark>probe</mark>" in page
    assert page.count("<mark>") == 1


def test_results_are_paged_with_a_fixed_number_of_queries(board: Client) -> None:
    for n in range(25):
        CommitmentFactory.create(reference=f"TEST-PAGED-{n:02d}", text=f"Pagination probe number {n}.")
    with CaptureQueriesContext(connection) as one:
        assert len(_found(board.get(SEARCH, {"q": "probe TEST-PAGED-00"}))) == 1
    with CaptureQueriesContext(connection) as many:
        response = board.get(SEARCH, {"q": "pagination probe"})
    assert _count(response) == 25
    assert len(_found(response)) == 20
    assert len(many) == len(one)
    second = board.get(SEARCH, {"q": "pagination probe", "page": "2"})
    assert len(_found(second)) == 5
    assert "Page 2 of 2" in _text(second)
    assert 'href="?q=pagination+probe&amp;page=1#results"' in second.content.decode()


def test_past_the_most_listed_the_count_says_more_than(board: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # The module, not the view of the same name that ``metrics.views`` exports.
    monkeypatch.setattr(importlib.import_module("metrics.views.search"), "MAX_LISTED", 21)
    for n in range(25):
        CommitmentFactory.create(reference=f"TEST-MANY-{n:02d}", text=f"Overflow probe number {n}.")
    response = board.get(SEARCH, {"q": "overflow probe"})
    assert "More than 21 commitments found" in _text(response)
    # The first 21 found are ranked and listed, and the page says they are not the best of all 25.
    assert "the first 21 found are listed, best first, rather than the best of all of them" in _text(response)
    assert response.context["page_obj"].paginator.count == 21
    last = board.get(SEARCH, {"q": "overflow probe", "page": "2"})
    assert len(_found(last)) == 1
    assert "Page 2 of 2" in _text(last)


def test_who_may_not_see_unpublished_commitments_does_not_find_them(board: Client) -> None:
    CommitmentFactory.create(reference="TEST-HIDDEN", text="Hidden visibility probe.", published=False)
    CommitmentFactory.create(reference="TEST-SHOWN", text="Shown visibility probe.", published=True)
    assert set(_found(board.get(SEARCH, {"q": "visibility probe"}))) == {"TEST-HIDDEN", "TEST-SHOWN"}
    # A reader of the figures without the staff's view of every commitment sees the published ones only, as
    # the API's partners do (``visible_commitments``).
    reader = UserFactory.create()
    reader.user_permissions.add(Permission.objects.get(codename="view_quartermetric"))
    client = Client()
    client.force_login(reader)
    assert _found(client.get(SEARCH, {"q": "visibility probe"})) == ["TEST-SHOWN"]


# --- the API --------------------------------------------------------------------------------------------------


def test_the_api_search_is_the_same_rule(api_for: Any) -> None:
    CommitmentFactory.create(reference="TEST-API-HIDDEN", text="Api visibility probe.", published=False)
    CommitmentFactory.create(reference="TEST-API-SHOWN", text="Api visibility probe.", published=True)
    partner, staff = api_for(roles.PARTNER), api_for(roles.EDITOR)
    assert _api_references(partner, "api visibility probe") == {"TEST-API-SHOWN"}
    assert _api_references(staff, "api visibility probe") == {"TEST-API-SHOWN", "TEST-API-HIDDEN"}
    assert _api_references(staff, "api probe -hidden") == {"TEST-API-SHOWN"}
    assert _api_references(staff, "TEST-API-SHOWN or TEST-API-HIDDEN") == {"TEST-API-SHOWN", "TEST-API-HIDDEN"}
    # An organisation's name finds the commitments it takes part in, whatever their text says.
    involvement = first(
        CommitmentOrganisation.objects.filter(commitment__published=True).select_related("organisation", "commitment")
    )
    name = f'"{involvement.organisation.name}"'
    assert involvement.commitment.reference in _api_references(partner, name)
    assert _api_references(partner, name) == set(
        search.matching(Commitment.objects.published(), name).values_list("reference", flat=True)
    )


def test_the_api_refuses_a_query_too_long(api_for: Any) -> None:
    response = api_for(roles.PARTNER).get(API, {"search": "x" * (search.MAX_QUERY_LENGTH + 1)})
    assert response.status_code == 400
    assert "search" in response.json()["errors"] if "errors" in response.json() else "search" in str(response.json())


# --- the stored document kept fresh by the services ---------------------------------------------------------


def _sourced(commitment: Commitment) -> dict[str, Any]:
    return {"source_document": commitment.source_document, "source_quote": commitment.source_quote}


def _finds(query: str, reference: str) -> bool:
    return search.matching(Commitment.objects.filter(reference=reference), query).exists()


def test_renaming_an_organisation_finds_its_commitments_by_the_new_name(reviewer: Any) -> None:
    commitment = CommitmentFactory.create(reference="TEST-RENAMED", text="A commitment naming nobody.")
    organisation = organisation_save(
        organisation=Organisation(name="Quillfeather Biologics", kind="company", **_sourced(commitment)),
        user=reviewer,
    )
    commitment_involvement_save(
        involvement=CommitmentOrganisation(
            commitment=commitment, organisation=organisation, role=OrganisationRole.LEAD
        ),
        user=reviewer,
    )
    assert _finds("Quillfeather", "TEST-RENAMED")
    organisation.name = "Marrowlark Therapeutics"
    organisation_save(organisation=organisation, user=reviewer)
    assert _finds("Marrowlark", "TEST-RENAMED")
    assert not _finds("Quillfeather", "TEST-RENAMED")
    organisation_alias_save(alias=OrganisationAlias(organisation=organisation, name="MLT-X"), user=reviewer)
    assert _finds("MLT-X", "TEST-RENAMED")


def test_edits_through_the_services_reach_the_document(reviewer: Any, user_with_role: Any) -> None:
    commitment = CommitmentFactory.create(reference="TEST-EDITED", text="Original wording.")
    commitment_edit(commitment=commitment, user=reviewer, changes={"text": "Revised wording about zebrafish."})
    assert _finds("zebrafish", "TEST-EDITED")
    assert not _finds("original", "TEST-EDITED")
    programme = programme_save(
        programme=Programme(name="Kestrelwing Challenge", kind=ProgrammeKind.CHALLENGE, **_sourced(commitment)),
        user=reviewer,
    )
    commitment_programmes_set(commitment=commitment, user=reviewer, programmes=[programme])
    assert _finds("Kestrelwing", "TEST-EDITED")
    programme.name = "Osprey Challenge"
    programme_save(programme=programme, user=reviewer)
    assert _finds("Osprey", "TEST-EDITED")
    assert not _finds("Kestrelwing", "TEST-EDITED")
    foundation = commitment.foundation
    foundation.name = "Ideas and discoveries"
    theme_save(theme=foundation, user=user_with_role(None))  # themes are the administrators' to rename
    assert _finds("discoveries", "TEST-EDITED")


def test_the_command_rebuilds_every_document() -> None:
    """A text changed outside the services (a bulk write, as only a manual fix would make) is mended by the command."""
    commitment = CommitmentFactory.create(reference="TEST-COMMAND", text="Commandprobe.")
    Commitment.objects.filter(pk=commitment.pk).update(text="Rewritten outside the services: lanternfish.")
    if connection.vendor == "postgresql":
        assert not _finds("lanternfish", "TEST-COMMAND")  # the stored document is still the one built before
    out = io.StringIO()
    call_command("search_refresh", stdout=out)
    assert _finds("lanternfish", "TEST-COMMAND")
    assert ("rebuilt" if connection.vendor == "postgresql" else "Nothing to do") in out.getvalue()


# --- PostgreSQL: the stored document, stemming, ranking, phrases and exclusions -------------------------------


@pytest.mark.postgres
@on_postgresql
def test_the_stored_document_is_kept_for_every_commitment() -> None:
    assert not Commitment.objects.filter(search_vector__isnull=True).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'commitment_search_vector_gin'")
        assert "USING gin (search_vector)" in cursor.fetchone()[0]


@pytest.mark.postgres
@on_postgresql
def test_websearch_syntax_stemming_and_ranking(board: Client) -> None:
    CommitmentFactory.create(reference="TEST-RANK-TEXT", text="Rankprobe sequencing of whole genomes.")
    CommitmentFactory.create(reference="TEST-RANK-OTHER", text="Rankprobe genome studies, not whole.")
    # Stemming: "genomes" finds "genome".
    assert set(_found(board.get(SEARCH, {"q": "rankprobe genomes"}))) == {"TEST-RANK-TEXT", "TEST-RANK-OTHER"}
    # A quoted phrase must occur as written; a minus leaves a word out; "or" offers alternatives.
    assert _found(board.get(SEARCH, {"q": 'rankprobe "whole genomes"'})) == ["TEST-RANK-TEXT"]
    assert _found(board.get(SEARCH, {"q": "rankprobe -sequencing"})) == ["TEST-RANK-OTHER"]
    assert set(_found(board.get(SEARCH, {"q": "sequencing rankprobe or studies rankprobe"}))) == {
        "TEST-RANK-TEXT",
        "TEST-RANK-OTHER",
    }
    # A word in the reference (weight A) ranks above the same word in the text (B).
    CommitmentFactory.create(reference="TEST-RANKPROBE", text="Nothing else.")
    assert _found(board.get(SEARCH, {"q": "rankprobe"}))[0] == "TEST-RANKPROBE"
    # The excerpt comes from ts_headline, the matched words marked.
    page = board.get(SEARCH, {"q": '"whole genomes" rankprobe'}).content.decode()
    assert "<mark>Rankprobe</mark> sequencing of <mark>whole</mark> <mark>genomes</mark>" in page


# --- SQLite: the fallback -------------------------------------------------------------------------------------


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite fallback")
def test_sqlite_searches_the_fields_themselves(board: Client) -> None:
    commitment = CommitmentFactory.create(reference="TEST-FALLBACK", text="Fallback probe " + "word " * 80 + "tail.")
    assert Commitment.objects.filter(pk=commitment.pk, search_vector__isnull=True).exists()
    assert _found(board.get(SEARCH, {"q": "fallback -nothing"})) == ["TEST-FALLBACK"]
    assert _found(board.get(SEARCH, {"q": '"probe word"'})) == ["TEST-FALLBACK"]
    assert _found(board.get(SEARCH, {"q": "fallback -probe"})) == []
    # The excerpt is cut around the first match, at a space, the match marked and the rest escaped.
    parts = search.excerpt(Commitment.objects.get(pk=commitment.pk), "tail")
    assert parts[0] == search.Part("… ")
    assert search.Part("tail", marked=True) in parts
