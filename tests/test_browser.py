"""The dashboards in a real browser, as a board member uses them: Debian's Chromium driven by Playwright.

A ``manage.py runserver`` of its own serves a SQLite file that this module migrates and fills with the real
Sector Deal data, the quarterly figures and the demo users; the suite's seeded test database is not touched.
Every page type is checked with axe-core (WCAG 2.2 AA: no violations) and saved as a screenshot in
``test-results/``. Skipped, saying why, where /usr/bin/chromium is missing (CI installs it), and when the suite
runs on PostgreSQL: the site is the same either way, so CI runs them once, in its SQLite run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import own_sqlite_database

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
RESULTS = ROOT / "test-results"
PASSWORD = "lsis-demo-only"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    own_sqlite_database,  # the site is the same whatever the suite's database
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium"),
    pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed: run make install"),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """A running server on its own database of the real data with its figures; yields its base URL."""
    folder = Path(tempfile.mkdtemp(prefix="lsis-browser-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "lsis.settings.test",
        "DATABASE_URL": f"sqlite:///{folder / 'browser.sqlite3'}",
        "CELERY_BROKER_URL": "",
    }
    _manage(env, "migrate", "--no-input")
    _manage(env, "seed")
    _manage(env, "recompute_metrics")
    _manage(env, "create_demo_users")
    port = _free_port()
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/accounts/login/", timeout=2)  # noqa: S310
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the dashboard server did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _signed_in(browser: Any, site: str, username: str = "board", **options: Any) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{site}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    return page


def _axe(page: Any) -> list[dict[str, Any]]:
    # Evaluated through the DevTools protocol, so the page's own content security policy stays in force.
    page.evaluate(AXE.read_text())
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [
        {"id": item["id"], "help": item["help"], "targets": [node["target"] for node in item["nodes"]][:5]}
        for item in result["violations"]
    ]


def _check(page: Any, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)
    violations = _axe(page)
    assert violations == [], f"{name}: {json.dumps(violations, indent=1)}"


def test_every_page_type_is_accessible_and_saved_as_a_screenshot(browser: Any, site: str) -> None:
    anonymous = browser.new_page()
    anonymous.goto(f"{site}/")
    assert "/accounts/login/" in anonymous.url
    _check(anonymous, "sign-in")
    anonymous.close()

    page = _signed_in(browser, site)
    assert page.url.rstrip("/") == site
    pages = {
        "overview": "/",
        "breakdown-foundations": "/breakdown/foundation/",
        "breakdown-programmes": "/breakdown/programme/",
        "breakdown-themes": "/breakdown/theme/",
        "scope-actor": "/scope/actor/government/",
        "what-changed": "/changes/?since=2018-19+Q3&until=2020-21+Q1",
        "funding": "/funding/",
        "board-pack": "/board-pack/",
        "time-travel": "/?as_of=2020-01-31",
        "not-found": "/?quarter=1990-91+Q1",
        "bad-request": "/?as_of=31-01-2020",
        "search": "/search/?q=genomes",
        "search-no-result": "/search/?q=xylophonequartz",
        "search-error": "/search/?q=" + "genome+" * 40,
    }
    for name, path in pages.items():
        page.goto(site + path)
        _check(page, name)
    page.goto(site + "/breakdown/deal/")
    page.click("table#table-deal tbody a >> nth=0")
    page.click("table#table-commitments tbody a >> nth=0")
    assert "/commitments/" in page.url
    _check(page, "commitment")
    partner = _signed_in(browser, site, "partner")
    partner.goto(f"{site}/")
    _check(partner, "forbidden")
    assert "You cannot see this page" in partner.content()


INFORMATION_PAGES = {
    "glossary": "/glossary/",
    "help": "/help/",
    "accessibility": "/accessibility/",
    "cookies": "/cookies/",
    "privacy": "/privacy/",
}


def test_the_information_pages_and_a_partner_s_landing_page_are_accessible(browser: Any, site: str) -> None:
    """Open to anyone, as on GOV.UK; a partner who signs in lands on the page about the API."""
    anonymous = browser.new_page()
    for name, path in INFORMATION_PAGES.items():
        anonymous.goto(site + path)
        assert anonymous.url == site + path  # no sign-in asked
        _check(anonymous, name)
    anonymous.close()
    partner = _signed_in(browser, site, "partner")
    assert partner.url == f"{site}/api-access/"
    _check(partner, "api-access")


def test_a_board_member_searches_from_the_box_on_every_page(browser: Any, site: str) -> None:
    page = _signed_in(browser, site)
    page.fill("#header-search", "genomes")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search/?q=genomes")
    assert page.locator("mark").count() > 0
    page.click(".lsis-search-result a >> nth=0")
    page.wait_for_url("**/commitments/**")


def test_a_board_member_drills_down_from_a_foundation_to_a_commitments_evidence(browser: Any, site: str) -> None:
    page = _signed_in(browser, site)
    page.click("table#table-foundations >> a:text-is('Ideas')")
    assert "/scope/foundation/" in page.url
    assert page.locator("h1").inner_text() == "Ideas"
    # Sort by the last update, latest first (the column header twice), to reach a commitment with evidence.
    for state in ("ascending", "descending"):
        page.click("table#table-commitments thead a:has-text('Last update')")
        assert page.locator("table#table-commitments th:has-text('Last update')").get_attribute("aria-sort") == state
    page.click("table#table-commitments tbody a >> nth=0")
    assert "/commitments/" in page.url
    timeline = page.locator("ol.lsis-timeline > li")
    assert timeline.count() >= 1
    assert "Reported in" in timeline.first.inner_text()
    assert not page.locator("table#table-updates").is_visible()
    page.click("summary:has-text('The updates as a table')")
    assert page.locator("table#table-updates").is_visible()


def test_keyboard_only_through_the_quarter_selector_and_tables(browser: Any, site: str) -> None:
    page = _signed_in(browser, site)
    selected = page.locator("#quarter").input_value()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "quarter":
            break
    assert page.evaluate("document.activeElement.id") == "quarter"
    page.keyboard.press("ArrowDown")
    chosen = page.locator("#quarter").input_value()
    assert chosen != selected
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Show quarter"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "quarter=" in page.url
    assert page.locator("h1").inner_text().startswith(f"Delivery in {chosen}")
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('table') !== null"):
            break
    link = page.evaluate("document.activeElement.getAttribute('href')")
    assert link
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/scope/" in page.url


def test_charts_draw_with_javascript_and_the_tables_remain_without(browser: Any, site: str) -> None:
    page = _signed_in(browser, site)
    assert page.locator("figure.lsis-chart canvas").first.is_visible()
    assert page.evaluate("document.querySelector('figure.lsis-chart canvas').width") > 0
    plain = _signed_in(browser, site, java_script_enabled=False)
    assert not plain.locator("figure.lsis-chart").first.is_visible()
    assert plain.locator("table#table-foundations").is_visible()
    RESULTS.mkdir(exist_ok=True)
    plain.screenshot(path=str(RESULTS / "overview-without-javascript.png"), full_page=True)


def test_the_board_pack_prints_and_downloads(browser: Any, site: str) -> None:
    page = _signed_in(browser, site)
    page.goto(f"{site}/board-pack/")
    page.emulate_media(media="print")
    assert not page.locator(".govuk-service-navigation__wrapper").is_visible()
    assert page.locator("table#table-red").is_visible()
    RESULTS.mkdir(exist_ok=True)
    page.pdf(path=str(RESULTS / "board-pack-printed.pdf"))
    response = page.request.get(f"{site}/board-pack/pdf/")
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")


def test_the_overview_shows_the_numbers_the_metrics_api_gives_for_the_same_quarter(browser: Any, site: str) -> None:
    page = _signed_in(browser, site)
    label = page.locator("#quarter").input_value()
    headlines = {
        item.locator(".lsis-headline__label").inner_text(): item.locator(".lsis-headline__figure").inner_text()
        for item in page.locator(".lsis-headline").all()
    }
    code = label.replace(" ", "-")
    answer = page.request.get(f"{site}/api/v1/metrics/?scope_type=tracker&basis=live&quarter={code}")
    assert answer.status == 200, answer.text()
    (tracker,) = answer.json()["results"]
    assert tracker["quarter"] == code
    # The overview and the API both count the key commitments unless asked for everything.
    assert tracker["population"] == "key"
    of = f"of {tracker['commitments']:,} key commitments"
    assert headlines["key commitments counted"] == f"{tracker['commitments']:,}"
    assert headlines[f"delivered: {tracker['delivered']:,} {of}"]
    assert headlines[f"on track (green, amber/green), {of}"] == str(tracker["green"] + tracker["amber_green"])
    assert headlines[f"at risk (amber/red, red), {of}"] == str(tracker["amber_red"] + tracker["red"])
    assert headlines[f"overdue (target date passed, not delivered), {of}"] == str(tracker["overdue"])
    assert headlines[f"{of} have no approved update this quarter"] == str(tracker["stale"])
    assert headlines[f"{of} have no confidence rating (not rated)"] == str(tracker["no_confidence"])


# --- readable at every width -----------------------------------------------------------------------------------

# 320 px is also a 1280 px screen zoomed to 400% (WCAG 2.2, 1.4.10 Reflow), which the accessibility statement claims.
WIDTHS = (1280, 768, 375, 320)
PAGE_TYPES = {
    "overview": "/",
    "overview-everything": "/?population=all",
    "breakdown-foundations": "/breakdown/foundation/",
    "breakdown-themes": "/breakdown/theme/",
    "breakdown-programmes": "/breakdown/programme/?population=all",
    "breakdown-lead-organisations": "/breakdown/lead_organisation/?population=all&sort=commitments&order=desc",
    "scope": "/scope/actor/government/",
    "commitment": "/commitments/SD2-IDEAS-HARP-G1/",
    "what-changed": "/changes/?since=2018-19+Q3&until=2020-21+Q1",
    "funding": "/funding/",
    "board-pack": "/board-pack/",
    "search": "/search/?q=genomes",
    "time-travel": "/?as_of_day=31&as_of_month=1&as_of_year=2020",
    "bad-date": "/?as_of_day=31&as_of_month=2&as_of_year=2020",
    **INFORMATION_PAGES,
}
# Tables wider than their box, and how far the page itself scrolls sideways; with every <details> open, so the
# tables inside them are measured too.
OVERFLOW = """() => {
  document.querySelectorAll('details').forEach(details => { details.open = true; });
  const wide = [...document.querySelectorAll('table')]
    .filter(table => table.getClientRects().length && table.scrollWidth > table.parentElement.clientWidth)
    .map(table => `${table.id}: ${table.scrollWidth} px in a box of ${table.parentElement.clientWidth} px`);
  return {tables: wide, page: document.documentElement.scrollWidth - document.documentElement.clientWidth};
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_type_fits_the_width_with_no_table_wider_than_its_box_and_passes_axe(
    browser: Any, site: str, width: int
) -> None:
    """At 1280, 768, 375 and 320 px: tables stack their rows rather than overflow, the page never scrolls sideways,
    and axe-core finds nothing against WCAG 2.2 AA. Each page is saved as ``<page>-<width>.png``."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(f"{site}/accounts/login/")
    page.fill("#id_username", "board")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("load")
    RESULTS.mkdir(exist_ok=True)
    problems: dict[str, Any] = {}
    for name, path in PAGE_TYPES.items():
        page.goto(site + path)
        measured = page.evaluate(OVERFLOW)
        page.screenshot(path=str(RESULTS / f"{name}-{width}.png"), full_page=True)
        found = {
            "tables wider than their box": measured["tables"],
            "page scrolls sideways by (px)": measured["page"] or None,
            "axe": _axe(page),
        }
        if any(found.values()):
            problems[name] = {key: value for key, value in found.items() if value}
    context.close()
    assert problems == {}, json.dumps(problems, indent=1)


def test_my_tasks_for_the_demo_editor_and_reviewer_are_accessible_and_the_preference_form_reports_errors(
    browser: Any, site: str
) -> None:
    """The demo editor owns an area's commitments and the reviewer has their update to review
    (``create_demo_users``); the page, its error summary and its saved banner pass axe-core."""
    page = _signed_in(browser, site, "editor")
    page.goto(f"{site}/tasks/")
    assert page.locator("#updates .govuk-table__body tr").count() > 0
    _check(page, "my-tasks-editor")
    page.fill("#team", "x" * 201)
    page.click("button:has-text('Save my preferences')")
    assert page.locator(".govuk-error-summary").is_visible()
    _check(page, "my-tasks-error")
    page.fill("#team", "Genomics")
    page.check("#reminder_frequency-weekly")
    page.click("button:has-text('Save my preferences')")
    assert "Your preferences have been saved." in page.content()
    _check(page, "my-tasks-saved")
    reviewer = _signed_in(browser, site, "reviewer")
    reviewer.goto(f"{site}/tasks/")
    assert reviewer.locator("#reviews .govuk-table__body tr").count() == 1
    _check(reviewer, "my-tasks-reviewer")


# Redoc's footer shows its maker's logo from their website: img-src 'self' refuses it, on purpose.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


@pytest.mark.parametrize(
    ("path", "rendered"),
    [
        ("/api/docs/", ".swagger-ui .info .title"),
        ("/api/docs/redoc/", "#redoc-container h1"),
        ("/accounts/login/", "h1.govuk-heading-l"),
    ],
)
def test_the_api_documentation_renders_with_no_csp_violation(browser: Any, site: str, path: str, rendered: str) -> None:
    """The pages' CSP allows no inline script or style, and they still render (Redoc with the response's nonce)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
        page.goto(site + path, wait_until="networkidle")
        heading = page.locator(rendered).first
        heading.wait_for(timeout=20_000)
        assert heading.inner_text().strip(), path
        if path == "/api/docs/redoc/":
            # Redoc's styles applied: its side menu is laid out, not a bare list.
            assert page.evaluate("getComputedStyle(document.querySelector('.menu-content')).position") != "static"
    finally:
        context.close()
    violations = [line for line in console if "Content Security Policy" in line and REDOC_LOGO not in line]
    assert violations == [], violations
    assert [line for line in console if "Content Security Policy" not in line] == [], console
