"""GraphQL over HTTP as its specification says (web/graphql_http.py): the whole app with its lifespan (migrations
on a fresh SQLite file, the in-process bus) served by uvicorn on a thread of the test process, over real HTTP.

The specification's own audits run against a real server in `hardening/test_graphql_over_http_audit.py`."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from server import create_app
from tests.conftest import PASSWORD
from tests.support.databases import sqlite_url
from tests.support.graphql_http import LOGIN
from tests.support.in_process_server import serve_in_thread
from web.graphql_http import GRAPHQL_RESPONSE_JSON, JSON, negotiate

SSE = "text/event-stream"
MULTIPART = 'multipart/mixed;subscriptionSpec="1.0", application/json'
TOKEN_EVENTS = "subscription { sessionEvents { __typename } }"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    directory: Path = tmp_path_factory.mktemp("graphql-over-http")
    settings = Settings(_env_file=None, database_url=sqlite_url(directory), broadcast_url="memory://")
    with serve_in_thread(create_app(settings)) as base_url, httpx.Client(base_url=base_url, timeout=10) as opened:
        yield opened


def post(client: httpx.Client, body: object, accept: str | None) -> Any:
    headers = {"content-type": "application/json"}
    if accept is not None:
        headers["accept"] = accept
    return client.post("/graphql", content=json.dumps(body), headers=headers)


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9", GRAPHQL_RESPONSE_JSON),
        (f"application/json, {GRAPHQL_RESPONSE_JSON}", JSON),  # equal q: the first listed
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
        (f"{GRAPHQL_RESPONSE_JSON};q=0.5, */*", JSON),  # a higher q wins over the type named outright
        (f"*/*, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),  # at equal q the named type wins
        (f"{GRAPHQL_RESPONSE_JSON};q=0, application/json", JSON),
        ("text/html", None),
        ("application/json;q=0", None),
        ("application/xml, text/plain", None),
    ],
)
def test_accept_negotiation(accept: str | None, chosen: str | None) -> None:
    assert negotiate(accept) == chosen


OPERATIONS_OVER_GET = [
    {"query": "{ viewer { email } }"},
    {"query": 'mutation { login(input: {email: "a@b.c", password: "x"}) { token } }'},
    {"query": TOKEN_EVENTS},
    {"operationName": "Anything"},
    {"query": ""},
    {"variables": "{}"},
    {"extensions": '{"persistedQuery": {"version": 1, "sha256Hash": "00"}}'},
]


@pytest.mark.parametrize("accept", ["application/json", GRAPHQL_RESPONSE_JSON, SSE, MULTIPART, "text/html", "*/*"])
@pytest.mark.parametrize("params", OPERATIONS_OVER_GET, ids=",".join)
def test_every_get_with_an_operation_is_refused_before_graphql_runs(
    client: httpx.Client, caplog: pytest.LogCaptureFixture, accept: str, params: dict[str, str]
) -> None:
    with caplog.at_level(logging.INFO):
        answer = client.get("/graphql", params=params, headers={"accept": accept})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    assert "data" not in answer.json()
    # Nothing ran: no operation was recorded, nothing was logged as an error.
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert not [record for record in caplog.records if getattr(record, "operation", None)]


def test_a_get_without_an_operation_still_serves_graphiql_in_development(client: httpx.Client) -> None:
    answer = client.get("/graphql", headers={"accept": "text/html"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "{"}, "GRAPHQL_PARSE_FAILED"),
        ({"query": "{ noSuchField }"}, "GRAPHQL_VALIDATION_FAILED"),
        (
            {"query": "query Q($name: String!) { __type(name: $name) { name } }", "variables": {"name": None}},
            "BAD_USER_INPUT",
        ),
    ],
    ids=["parse", "validation", "variable-coercion"],
)
def test_request_errors_are_400_without_data_for_graphql_response_json_and_200_for_json(
    client: httpx.Client, body: dict[str, Any], code: str
) -> None:
    modern = post(client, body, GRAPHQL_RESPONSE_JSON)
    assert modern.status_code == 400
    assert modern.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert "data" not in modern.json()
    assert modern.json()["errors"][0]["extensions"]["code"] == code

    for accept in ("application/json", None, "*/*"):
        legacy = post(client, body, accept)
        assert legacy.status_code == 200
        assert legacy.headers["content-type"] == "application/json"
        assert legacy.json()["data"] is None
        assert legacy.json()["errors"][0]["extensions"]["code"] == code


def test_a_field_error_keeps_data_and_200_with_either_media_type(client: httpx.Client) -> None:
    for accept in (GRAPHQL_RESPONSE_JSON, "application/json"):
        answer = post(client, {"query": "{ viewer { email } }"}, accept)  # no token
        assert answer.status_code == 200
        assert "data" in answer.json()
        assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert answer.headers["content-type"].startswith(accept)


def test_success_is_200_in_the_negotiated_media_type(client: httpx.Client) -> None:
    answer = post(client, {"query": "{ __typename }"}, f"{GRAPHQL_RESPONSE_JSON}, application/json;q=0.9")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert answer.json() == {"data": {"__typename": "Query"}}


def test_refusals_before_graphql_runs_use_the_negotiated_media_type(client: httpx.Client) -> None:
    answer = client.post(
        "/graphql",
        content=b'{ "not a JSON',
        headers={"content-type": "application/json", "accept": GRAPHQL_RESPONSE_JSON},
    )
    assert answer.status_code == 400
    assert answer.headers["content-type"] == f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_an_accept_that_allows_no_served_type_is_406_and_runs_nothing(client: httpx.Client) -> None:
    login = {"query": LOGIN, "variables": {"email": "nobody@example.com", "password": PASSWORD}}
    answer = post(client, login, "text/html")
    assert answer.status_code == 406
    assert answer.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


def directives(count: int, name: str = "include(if: true)") -> str:
    return "{ " + " ".join(f"a{index}: __typename @{name}" for index in range(count)) + " }"


def test_directives_over_the_limit_get_one_error_before_validation(client: httpx.Client) -> None:
    at_limit = post(client, {"query": directives(5)}, "application/json").json()
    assert at_limit == {"data": {f"a{index}": "Query" for index in range(5)}}
    over = post(client, {"query": directives(6)}, "application/json").json()
    assert over["data"] is None
    assert [error["extensions"]["code"] for error in over["errors"]] == ["GRAPHQL_VALIDATION_FAILED"]
    assert "more than 5 directives" in over["errors"][0]["message"]


def test_directive_overloading_gets_one_error_not_one_per_directive(client: httpx.Client) -> None:
    """graphql-cop's check: ten copies of an unknown directive on one field, which a server without a limit
    answers with ten "Unknown directive" errors."""
    overloaded = "query cop { __typename " + "@aa" * 10 + " }"
    answer = post(client, {"query": overloaded}, GRAPHQL_RESPONSE_JSON)
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_the_directive_limit_is_a_setting(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, database_url=sqlite_url(tmp_path), broadcast_url="memory://", max_query_directives=0
    )
    with serve_in_thread(create_app(settings)) as base_url, httpx.Client(base_url=base_url, timeout=10) as client:
        refused = post(client, {"query": directives(1)}, "application/json").json()
        assert refused["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert post(client, {"query": "{ __typename }"}, "application/json").json() == {"data": {"__typename": "Query"}}
