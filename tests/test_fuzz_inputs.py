"""Property: no input gives a 500, and every refusal has the documented shape.

Arbitrary strings (any Unicode, NUL and lone surrogates included, percent-encoded as UTF-8 carries them),
huge numbers, odd dates and quarters, and deeply nested JSON go into every query parameter, path segment
and header parameter of every API operation, and into the body of every write; and into every path
segment and query parameter of every dashboard. The API's operations come from its OpenAPI schema and
the dashboards from their URLconf (``metrics.urls``), so an endpoint added later is fuzzed without a
change here. Requests go through Django's test client, as a partner and as a reviewer (writes also as an
editor, the role that makes them), on whichever database the suite runs on.

Each example draws a value for each place in turn (the other path segments real, so that the request
reaches the code reading that place): any value, and more often one of the place's kind (a quarter for a
quarter, a date for a date, a number for an integer) as the schema or the dashboard's form declares it.
Writes name the record's current ETag in If-Match, except when If-Match itself is fuzzed, so that their
bodies are read.

An answer under 500 passes; an error must be the API's JSON body (``status``, ``code``, ``detail``,
``fields``) on the API and a GOV.UK page on the dashboards. Examples are few per operation and fixed
(``derandomize``), so the file runs in about a minute on SQLite; ``test_bad_inputs.py`` keeps each case
found so far.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from django import forms
from django.core.cache import cache
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from commitments import roles
from commitments.models import Commitment
from commitments.periods import Quarter
from commitments.services import update_create, update_submit
from lsis.api.tokens import api_token_issue
from metrics import forms as dashboard_forms
from metrics.dashboards import BREAKDOWN_SCOPES
from metrics.models import QuarterMetric, ScopeType
from metrics.services import metrics_recompute

pytestmark = [
    pytest.mark.django_db,
    # Request counts and kept answers never carry over from one test to the next.
    pytest.mark.usefixtures("fresh_cache"),
    # Drawn values of 5,000 characters are reported in full on failure; the warning about it is noise.
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

# A few examples per operation, the same on every run, keep CI's run short; LSIS_FUZZ_EXAMPLES=500 runs
# that many examples per operation, different on every run, for a longer hunt.
_MORE = int(os.environ.get("LSIS_FUZZ_EXAMPLES", "0"))
API_EXAMPLES = _MORE or 10
PAGE_EXAMPLES = _MORE or 6
DERANDOMIZE = not _MORE
# No shrinking: a failing example is reported as drawn (every draw is printed), in bounded time.
PHASES = [Phase.explicit, Phase.generate]
ERROR_KEYS = {"status", "code", "detail", "fields"}

# --- what is thrown ----------------------------------------------------------------------------------

# Shapes that broke a parser once, thrown as often as each family of generated values below.
_SHAPES = st.sampled_from(
    [
        "²",
        "\x00",
        "\ud800",
        "9" * 5000,
        "0000-01 Q1",
        "9999-00 Q4",
        "0000-01-Q1",
        "9999-00-Q4",
        "0001-01-01",
        "9999-12-31",
        "cD0A",
        "[" * 3000 + "]" * 3000,
    ]
)
_NUMBERS = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.sampled_from(["1e400", "-0", "NaN", "Infinity", "0x10", "١٢", "1_000", " 1 "]),
)
# Years at the edges of what Python's dates, the databases and the tracker hold, and any other.
_YEARS = st.sampled_from([0, 1, 1899, 1900, 2017, 2019, 2999, 3000, 9998, 9999]) | st.integers(0, 9999)
_DATES = st.one_of(
    st.dates().map(date.isoformat),
    st.builds("{:04d}-{:02d}-{:02d}".format, _YEARS | st.integers(0, 99999), st.integers(0, 99), st.integers(0, 99)),
    st.builds(
        "{}T{:02d}:00:00{}".format,
        st.dates().map(date.isoformat),
        st.integers(0, 99),
        st.sampled_from(["", "Z", "+14:00", "-99:00", "+23:59", "+00:00:01"]),
    ),
)
_QUARTERS = st.builds(
    lambda year, number, gap: f"{year:04d}-{(year + 1) % 100:02d}{gap}Q{number}",
    _YEARS,
    st.integers(1, 4) | st.integers(0, 9),
    st.sampled_from([" ", "-"]),
)
_TEXT = st.one_of(
    st.text(max_size=20),
    st.builds("{}\x00{}".format, st.text(max_size=5), st.text(max_size=5)),
    st.builds("{}{}".format, st.text(max_size=5), st.text(st.characters(categories=["Cs"]), min_size=1, max_size=2)),
    st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.sampled_from(["", " ", "true", "none", "null", "*", "-", ",", "%", "../", "/", 'W/"1"', '"1"']),
)
VALUES = st.one_of(_SHAPES, _TEXT, _NUMBERS, _DATES, _QUARTERS)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(),
        VALUES,
    )
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(VALUES, inner, max_size=3), max_leaves=8
    )


def _for_parameter(parameter: dict[str, Any]) -> st.SearchStrategy[str]:
    """Values for an API parameter: any, and more often those of its type in the schema."""
    schema = parameter.get("schema", {})
    if schema.get("type") == "integer":
        return _NUMBERS | VALUES
    if schema.get("format") in ("date", "date-time"):
        return _DATES | VALUES
    if "quarter code" in parameter.get("description", "").lower():
        return _QUARTERS | VALUES
    return VALUES


def encode(value: str) -> str:
    """Percent-encode as UTF-8 would carry the text; a lone surrogate is sent as the bytes it would be."""
    return quote(value, safe="", errors="surrogatepass")


def as_header(value: str) -> str:
    """A header value as a WSGI server hands it on: the bytes sent, read as Latin-1."""
    return value.encode("utf-8", errors="surrogatepass").decode("latin-1")


# --- who asks ------------------------------------------------------------------------------------------


@pytest.fixture
def world(user_with_role: Callable[..., Any]) -> dict[str, Any]:
    """Figures of two quarters, a submitted update and a draft, and the clients of each role."""
    metrics_recompute(quarters=[Quarter(2019, 1), Quarter(2019, 2)])
    author = user_with_role(roles.EDITOR)
    for reference in ("SD2-PEOPLE-G3", "SD2-PEOPLE-G4"):
        update = update_create(
            commitment=Commitment.objects.get(reference=reference),
            author=author,
            as_of=date(2019, 6, 30),
            status="in_progress",
            confidence="amber",
            narrative="Written.",
        )
        if reference.endswith("G3"):
            update_submit(update=update, user=author)
    api, pages = {}, {}
    for role in (roles.PARTNER, roles.REVIEWER, roles.EDITOR):
        user = user_with_role(role)
        _, token = api_token_issue(user=user, expires_in=None)
        api[role] = Client(HTTP_AUTHORIZATION=f"Token {token}")
        pages[role] = Client()
        pages[role].force_login(user)
    return {"api": api, "pages": pages}


# --- the API, from its schema --------------------------------------------------------------------------


def _api_operations() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema.get("components", {}).get("schemas", {})
    operations = []
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if "$ref" in body:
                body = components[body["$ref"].rsplit("/", 1)[1]]
            operations.append((method, path, operation, body))
    return operations


API_OPERATIONS = _api_operations()


def _known_path_values(client: Client) -> dict[str, list[str]]:
    """Real values of each path parameter, from the first record of the list above it (e.g. a real uuid)."""
    known: dict[str, list[str]] = {}
    for _, path, _, _ in API_OPERATIONS:
        for match in re.finditer(r"\{(\w+)\}", path):
            listing = path[: match.start()]
            if "{" in listing:
                continue
            answer = client.get(listing)
            records = answer.json().get("results", []) if answer.status_code == 200 else []
            known.setdefault(match[1], []).extend(str(r[match[1]]) for r in records[:2] if match[1] in r)
    return known


def check_api_answer(response: Any) -> None:
    """No 500; a refusal in the documented JSON body."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code < 500, content[:1000]
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), (response.status_code, content[:300])
        body = json.loads(content)
        assert set(body) == ERROR_KEYS, body
        assert body["status"] == response.status_code, body
        assert isinstance(body["detail"], str), body
        assert isinstance(body["fields"], dict), body
        assert all(isinstance(messages, list) for messages in body["fields"].values()), body


def _url(route: str, segments: dict[str, str], query: dict[str, str] | None = None) -> str:
    url = re.sub(r"\{(\w+)\}|<(?:\w+:)?(\w+)>", lambda match: encode(segments[match[1] or match[2]]), route)
    if query:
        url += "?" + "&".join(f"{encode(name)}={encode(value)}" for name, value in query.items())
    return url


def _real_segments(route: str, known: dict[str, list[str]]) -> dict[str, str]:
    names = re.findall(r"\{(\w+)\}|<(?:\w+:)?(\w+)>", route)
    return {first or second: (known.get(first or second) or ["x"])[0] for first, second in names}


Draw = Callable[[st.SearchStrategy[str]], str]


def _fuzzed_urls(
    route: str, real: dict[str, str], parameters: dict[str, st.SearchStrategy[str]], draw: Draw
) -> list[str]:
    """A value drawn for each path segment in turn (the others real), for each query parameter, and as a name."""
    return [
        *(_url(route, {**real, name: draw(VALUES)}) for name in real),
        *(_url(route, real, {name: draw(values)}) for name, values in parameters.items()),
        _url(route, real, {draw(VALUES): "1"}),
    ]


_IF_MATCH = st.one_of(VALUES, VALUES.map('"{}"'.format), VALUES.map('W/"{}"'.format))
_DEEP = st.integers(1, 5000).map(lambda depth: b"[" * depth + b"]" * depth)


@pytest.mark.parametrize(
    ("method", "path", "operation", "body"),
    API_OPERATIONS,
    ids=[f"{method.upper()} {path}" for method, path, _, _ in API_OPERATIONS],
)
def test_no_input_to_an_api_operation_gives_a_500(
    world: dict[str, Any], method: str, path: str, operation: dict[str, Any], body: dict[str, Any]
) -> None:
    clients = world["api"]
    reviewer = clients[roles.REVIEWER]
    callers = [clients[roles.PARTNER], reviewer] + ([clients[roles.EDITOR]] if method != "get" else [])
    parameters = operation.get("parameters", [])
    query = {p["name"]: _for_parameter(p) for p in parameters if p["in"] == "query"}
    header_names = [p["name"] for p in parameters if p["in"] == "header"]
    real = _real_segments(path, _known_path_values(reviewer))
    # The record a write changes, whose current ETag a write names in If-Match.
    record = _url(path.split("}/", 1)[0] + "}/", real) if "{" in path else None
    payloads = st.one_of(
        st.fixed_dictionaries({}, optional={name: _json_values() for name in sorted(body.get("properties", {}))}),
        _json_values(),
        _DEEP,
    )

    @settings(
        max_examples=API_EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        cache.clear()  # throttles count from zero in every example
        requests: list[tuple[str, dict[str, str], Any]] = []
        if method == "get":
            requests += [(url, {}, None) for url in _fuzzed_urls(path, real, query, data.draw)]
        else:
            current = reviewer.get(record).get("ETag", '"1"') if record else '"1"'
            names = {f"HTTP_{name.upper().replace('-', '_')}" for name in header_names}
            fitting = dict.fromkeys(names, current)
            requests += [(url, fitting, {}) for url in _fuzzed_urls(path, real, query, data.draw)]
            requests += [(_url(path, real), {**fitting, name: as_header(data.draw(_IF_MATCH))}, {}) for name in names]
            requests.append((_url(path, real), fitting, data.draw(payloads)))
        for url, headers, payload in requests:
            arguments: dict[str, Any] = dict(headers)
            if payload is not None:
                content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                arguments.update(data=content, content_type="application/json")
            for client in callers:
                check_api_answer(getattr(client, method)(url, **arguments))

    run()


# --- the dashboards, from their URLconf ---------------------------------------------------------------------


def _for_field(field: forms.Field) -> st.SearchStrategy[str]:
    """Values for a dashboard's form field: any, and more often those of its kind."""
    if isinstance(field, dashboard_forms.QuarterField):
        return _QUARTERS | VALUES
    if isinstance(field, forms.DateField):
        return _DATES | VALUES
    if isinstance(field, forms.IntegerField):
        return _NUMBERS | VALUES
    return VALUES


# Query parameters the pages read: their forms' fields, and the two read directly (a table to download,
# a theme framework).
PAGE_PARAMETERS = {
    name: _for_field(field)
    for form in vars(dashboard_forms).values()
    if isinstance(form, type) and issubclass(form, forms.Form)
    for name, field in form.base_fields.items()
} | {"download": VALUES, "framework": VALUES}


def _dashboard_routes() -> list[tuple[str, str]]:
    """(name, route with its converters) of every dashboard, e.g. ``/scope/<slug:scope_type>/<str:scope_key>/``."""
    for entry in get_resolver().url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "dashboards":
            prefix = "/" + str(entry.pattern)
            return [
                (str(pattern.name), prefix + str(pattern.pattern))
                for pattern in entry.url_patterns
                if isinstance(pattern, URLPattern)
            ]
    raise AssertionError("The dashboards are not in the URLconf.")


DASHBOARD_ROUTES = _dashboard_routes()


def _known_segments() -> dict[str, list[str]]:
    """Real values of the dashboards' path segments: a scope with figures and a breakdown (a theme's if any)."""
    rows = QuarterMetric.objects.filter(scope_type__in=list(BREAKDOWN_SCOPES)).order_by("scope_type", "scope_key")
    scope = rows.filter(scope_type=ScopeType.THEME).first() or rows.first()
    assert scope is not None
    return {"scope_type": [scope.scope_type], "scope_key": [scope.scope_key], "reference": ["SD2-PEOPLE-G3"]}


def check_page(response: Any) -> None:
    """No 500; a refusal on a GOV.UK page."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code < 500, content[:1000]
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("text/html"), (response.status_code, response["Content-Type"])
        assert b"govuk-frontend" in content


@pytest.mark.parametrize(("name", "route"), DASHBOARD_ROUTES, ids=[name for name, _ in DASHBOARD_ROUTES])
def test_no_input_to_a_dashboard_gives_a_500(
    world: dict[str, Any], name: str, route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The board pack's PDF is the board pack page's HTML, read from the same query string: what is fuzzed
    # is that reading, not the PDF engine, which takes a second a page.
    monkeypatch.setattr("weasyprint.HTML.write_pdf", lambda *args, **kwargs: b"%PDF-1.7")
    callers = [world["pages"][roles.PARTNER], world["pages"][roles.REVIEWER]]
    real = _real_segments(route, _known_segments())

    @settings(
        max_examples=PAGE_EXAMPLES,
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        phases=PHASES,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        for url in _fuzzed_urls(route, real, PAGE_PARAMETERS, data.draw):
            for client in callers:
                check_page(client.get(url))

    run()
