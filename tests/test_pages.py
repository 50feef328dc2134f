"""The pages every GOV.UK service publishes (glossary, help, accessibility statement, cookies, privacy), open to
anyone and linked from every page's footer; the glossary from the one source the API serves; and where a
partner who signs in on the web lands."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from commitments import roles
from commitments.delivery import DeliveryConfidence, DeliveryStatus
from lsis.api.tokens import api_token_issue
from lsis.pages import service_cookies
from metrics.api.serializers import QuarterMetricSerializer
from metrics.glossary import glossary, measure_names
from programmes.models import AmountNature

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = ["glossary", "help", "accessibility", "cookies", "privacy"]
PASSWORD = "a-long-enough-password"


def _main(response: Any) -> str:
    """The page's main content, without the header and footer."""
    html = response.content.decode()
    return html[html.index('<main class="govuk-main-wrapper"') : html.index("</main>")]


def _footer(response: Any) -> str:
    html = response.content.decode()
    return html[html.index('<footer class="govuk-footer') :]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _signed_up(user_with_role: Any, role: str, username: str) -> Any:
    user = user_with_role(role, username=username)
    user.set_password(PASSWORD)
    user.save()
    return user


# --- open to anyone, linked from every page --------------------------------------------------------------


@pytest.mark.parametrize("name", PUBLIC_PAGES)
def test_each_page_is_open_to_anyone_in_the_govuk_design_system(client: Client, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 200
    html = response.content.decode()
    assert "govuk-frontend" in html
    assert 'class="govuk-heading-xl"' in html
    assert "mailto:" not in html  # no invented addresses: the contact is the team that gave the account


@pytest.mark.parametrize(
    ("role", "url"),
    [
        (None, reverse("login")),
        (None, reverse("help")),
        (roles.BOARD_MEMBER, reverse("dashboards:funding")),
        (roles.PARTNER, reverse("api_access")),
    ],
)
def test_every_page_s_footer_links_the_pages(client_for: Any, role: str | None, url: str) -> None:
    client = client_for(role) if role else Client()
    footer = _footer(client.get(url))
    for name in PUBLIC_PAGES:
        assert f'href="{reverse(name)}"' in footer, name
    assert 'class="govuk-footer__meta"' in footer


# --- the glossary: one source for the page and the API --------------------------------------------------


def test_the_glossary_page_shows_every_term_of_the_one_source(client: Client) -> None:
    main = _main(client.get(reverse("glossary")))
    source = glossary()
    sections: dict[str, list[Any]] = {
        "status": source.statuses,
        "confidence": source.confidences,
        "measure": source.measures,
        "nature": list(source.money_natures),
    }
    for prefix, terms in sections.items():
        assert terms, prefix
        for term in terms:
            assert f'id="{prefix}-{term.value}"' in main
            assert escape(term.label) in main
            assert term.meaning
            assert escape(term.meaning) in main


def test_the_glossary_source_covers_every_value_the_tracker_uses() -> None:
    source = glossary()
    assert [term.value for term in source.statuses] == list(DeliveryStatus.values)
    assert [term.value for term in source.confidences] == list(DeliveryConfidence.values)
    assert [term.value for term in source.money_natures] == list(AmountNature.values)
    assert all(term.meaning for term in source.money_natures)
    totalled = {term.value for term in source.money_natures if term.totalled}
    assert totalled == {str(nature) for nature in AmountNature.totalled()}
    # Every figure the API's /metrics/ serves has a meaning, and nothing else is called a measure.
    served = set(QuarterMetricSerializer.Meta.fields) - {
        "quarter",
        "as_of",  # the day the figures describe, as quarter says which quarter: not a measure
        "locked",
        "basis",
        "population",  # which commitments the figures count, as basis says which copy: not a measure
        "scope_type",
        "scope_key",
        "scope_label",
        "computed_at",
        "updating",
    }
    measures = [term.value for term in source.measures]
    assert measures == measure_names()
    assert served <= set(measures)


def test_the_api_serves_the_same_glossary(client_for: Any) -> None:
    body = client_for(roles.PARTNER).get("/api/v1/glossary/").json()
    source = glossary()
    for key in ("statuses", "confidences", "measures"):
        terms = getattr(source, key)
        assert body[key] == [{"value": t.value, "label": t.label, "meaning": t.meaning} for t in terms], key
    assert body["money_natures"] == [
        {"value": t.value, "label": t.label, "meaning": t.meaning, "totalled": t.totalled} for t in source.money_natures
    ]


# --- help, accessibility statement, cookies, privacy ----------------------------------------------------


def test_help_explains_the_dashboards_quarters_scopes_signing_in_and_who_to_ask(client: Client) -> None:
    text = _text(_main(client.get(reverse("help"))))
    for words in (
        "Reading the dashboards",
        "Pages open on the last completed quarter",
        "in progress: figures so far",
        "Scopes: what the figures are about",
        "What counts",
        f"After {settings.AXES_FAILURE_LIMIT} wrong passwords",
        "the Office for Life Sciences team that gave you your account",
    ):
        assert words in text, words


def test_the_accessibility_statement_follows_the_govuk_model(client: Client) -> None:
    text = _text(_main(client.get(reverse("accessibility"))))
    for heading in (
        "Accessibility statement for LSIS Tracker",
        "How accessible this service is",
        "Feedback and contact information",
        "Enforcement procedure",
        "Technical information about this service\N{RIGHT SINGLE QUOTATION MARK}s accessibility",
        "Compliance status",
        "Non-accessible content",
        "What we\N{RIGHT SINGLE QUOTATION MARK}re doing to improve accessibility",
        "Preparation of this accessibility statement",
    ):
        assert heading in text, heading
    assert "partially compliant with the Web Content Accessibility Guidelines version 2.2 AA standard" in text
    assert "checked with axe-core" in text
    assert "This statement was prepared on 6 December 2026" in text


def test_the_cookies_page_lists_every_cookie_the_service_sets(client: Client, user_with_role: Any) -> None:
    _signed_up(user_with_role, roles.BOARD_MEMBER, "cookie-reader")
    listed = {cookie.name for cookie in service_cookies()}
    page = _main(client.get(reverse("cookies")))
    for cookie in service_cookies():
        assert f"<code>{cookie.name}</code>" in page
        assert escape(cookie.purpose) in page
    set_by_the_service: set[str] = set()
    for response in (
        client.get(reverse("login")),
        client.post(reverse("login"), {"username": "cookie-reader", "password": PASSWORD}),
        client.get(reverse("dashboards:overview")),
        client.get(reverse("help")),
        client.get("/api/docs/"),
        client.post(reverse("logout")),
    ):
        set_by_the_service |= set(response.cookies)
    assert {settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME} <= set_by_the_service
    assert set_by_the_service <= listed


def test_the_privacy_page_says_what_is_held_and_for_how_long(client: Client) -> None:
    text = _text(_main(client.get(reverse("privacy"))))
    for words in (
        "Your account",
        "The history of your changes",
        "API tokens",
        "a one-way hash of it (never the token itself)",
        "the network (IP) address",
        f"After {settings.AXES_FAILURE_LIMIT} failures",
        "kept until an administrator deletes them",
        "the Office for Life Sciences team that gave you your account",
    ):
        assert words in text, words


# --- partners on the web -----------------------------------------------------------------------------------


@pytest.mark.parametrize("next_page", ["", "/", reverse("dashboards:funding")])
def test_a_partner_who_signs_in_lands_on_the_api_page(client: Client, user_with_role: Any, next_page: str) -> None:
    _signed_up(user_with_role, roles.PARTNER, "a-partner")
    data = {"username": "a-partner", "password": PASSWORD, **({"next": next_page} if next_page else {})}
    response = client.post(reverse("login"), data, follow=True)
    assert response.redirect_chain[-1][0] == reverse("api_access")
    assert response.status_code == 200
    main = _main(response)
    for name in ("api-docs", "api-redoc", "api-schema"):
        assert f'href="{reverse(name)}"' in main, name
    assert "Getting a token" in main
    assert "the Office for Life Sciences team that gave you your account" in _text(main)
    assert f'href="{reverse("api_access")}"' not in main  # it does not link to itself
    assert 'href="/"' not in main
    # Signed in already, the sign-in page sends the partner on to the same page.
    assert client.get(reverse("login"))["Location"] == reverse("api_access")


def test_a_board_member_who_signs_in_still_lands_on_the_dashboards(client: Client, user_with_role: Any) -> None:
    _signed_up(user_with_role, roles.BOARD_MEMBER, "a-board-member")
    response = client.post(reverse("login"), {"username": "a-board-member", "password": PASSWORD})
    assert response["Location"] == reverse("dashboards:overview")
    wanted = client.post(
        reverse("login"), {"username": "a-board-member", "password": PASSWORD, "next": reverse("dashboards:funding")}
    )
    assert wanted["Location"] == reverse("dashboards:funding")


def test_a_partner_refused_a_dashboard_is_pointed_to_the_api_page_not_back_to_it(client_for: Any) -> None:
    response = client_for(roles.PARTNER).get(reverse("dashboards:overview"))
    assert response.status_code == 403
    main = _main(response)
    assert f'href="{reverse("api_access")}"' in main
    assert 'href="/"' not in main
    # The menu offers the API's page, not dashboards that would refuse the partner.
    html = response.content.decode()
    assert reverse("dashboards:board_pack") not in html
    assert "Using the API" in html


def test_the_api_page_lists_the_partner_s_tokens(client: Client, user_with_role: Any) -> None:
    from datetime import timedelta

    partner = _signed_up(user_with_role, roles.PARTNER, "token-holder")
    record, _ = api_token_issue(user=partner, expires_in=timedelta(days=90))
    assert client.get(reverse("api_access"))["Location"].startswith(reverse("login"))
    client.force_login(partner)
    main = _main(client.get(reverse("api_access")))
    assert f"<code>{record.token_key}</code>" in main
    assert f"{record.expiry:%-d %B %Y}" in main
