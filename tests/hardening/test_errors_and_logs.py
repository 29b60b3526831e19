"""Errors leave coded and without internals; logs never hold a token, a password or a document."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from server import Runtime
from services.accounts import create_user
from services.sessions import SessionService
from tests.conftest import PASSWORD
from tests.hardening.conftest import MEMBER_A, MEMBER_B, Deployment, context_for, log_in, schema_for, token_of
from tests.support.graphql_http import graphql
from tests.support.graphql_ws import GraphQLWebSocket

SECRET_DETAIL = "connection to 10.1.2.3 failed for user svc_sessions"


async def signed_in(runtime: Runtime) -> str:
    await create_user(runtime.database, email="ana@acme.test", password=PASSWORD, account_name="acme")
    result = await runtime.services.access.login(
        email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="203.0.113.9"
    )
    return result.token


async def test_an_unexpected_exception_is_masked_without_a_trace(
    local_runtime: Runtime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = await signed_in(local_runtime)

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setattr(SessionService, "list_active", broken)
    query = "query Secretive { activeSessions(first: 7) { totalCount } }"
    with caplog.at_level(logging.INFO, logger="active_sessions.graphql"):
        result = await schema_for().execute(query, context_value=context_for(local_runtime, token))
    assert result.data is None and result.errors
    formatted = result.errors[0].formatted
    assert formatted["message"] == "Internal server error."
    assert formatted["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert SECRET_DETAIL not in json.dumps(formatted) and "Traceback" not in json.dumps(formatted)
    # The operator gets the exception and where it happened, but not the document.
    logged = caplog.text
    assert "INTERNAL_SERVER_ERROR at activeSessions" in logged and "RuntimeError" in logged
    assert "Secretive" not in logged and "first: 7" not in logged


async def test_parse_validation_and_variable_errors_are_coded_and_stay_clear(local_runtime: Runtime) -> None:
    schema = schema_for()
    cases = {
        "{ viewer { email ": "GRAPHQL_PARSE_FAILED",
        "{ viewer { nope } }": "GRAPHQL_VALIDATION_FAILED",
        '{ activeSessions(first: "ten") { totalCount } }': "GRAPHQL_VALIDATION_FAILED",
        "query($n: Int!) { activeSessions(first: $n) { totalCount } }": "BAD_USER_INPUT",  # $n missing
    }
    for document, code in cases.items():
        result = await schema.execute(document, context_value=context_for(local_runtime))
        assert result.errors, document
        error = result.errors[0].formatted
        assert error["extensions"] == {"code": code}, document
        assert error["message"] != "Internal server error."  # graphql-core's message, to fix the document


async def test_syntax_errors_in_a_subscription_are_reported_not_crashed(local_runtime: Runtime) -> None:
    token = await signed_in(local_runtime)
    stream = await schema_for().subscribe(
        "subscription { sessionEvents { id ", context_value=context_for(local_runtime, token)
    )
    first = await anext(stream)  # with Strawberry's ParserCache this raised (and logged the document) instead
    assert first.errors and first.errors[0].extensions == {"code": "GRAPHQL_PARSE_FAILED"}


@pytest.mark.slow
async def test_the_server_log_never_holds_a_token_or_a_password(deployment: Deployment) -> None:
    server = deployment.start()
    secrets: list[str] = [PASSWORD]
    tokens = []
    for email in (MEMBER_A[0], MEMBER_B[0]):
        token, _ = await token_of(server.base_url, email)
        tokens.append(token)
    wrong = ["wrong-password-in-variables-1", "Tr0ub4dor&3-guessed"]
    for guess in wrong:
        assert (await log_in(server.base_url, MEMBER_A[0], guess))["errors"]
    inline = "inline-password-in-document"
    broken_documents = [
        # a syntax error right after the password literal
        f'mutation {{ login(input: {{email: "{MEMBER_A[0]}", password: "{inline}" }} {{ token }}',
        # a validation error quoting the literal
        f'mutation {{ login(input: {{email: "{MEMBER_A[0]}", password: "{inline}", extra: 1}}) {{ token }} }}',
        # a bare name where a string belongs: graphql-core quotes the offending token
        'mutation { login(input: {email: "a@b.c", password: bare_name_password}) { token } }',
    ]
    for document in broken_documents:
        assert (await graphql(server.base_url, document))["errors"]
    coerced = "password-in-an-invalid-variable"
    answer = await graphql(
        server.base_url,
        "mutation($i: LoginInput!) { login(input: $i) { token } }",
        {"i": {"email": MEMBER_A[0], "password": coerced, "rememberMe": True}},
    )
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    # Tokens travel in headers and in connection_init; use them for queries, a subscription and a logout.
    await graphql(server.base_url, "{ viewer { email } }", token=tokens[0])
    await graphql(server.base_url, "{ viewer { nope } }", token=tokens[0])
    socket = await GraphQLWebSocket.open(server.ws_url, tokens[1])
    await socket.acknowledged()
    await socket.subscribe()
    await socket.subscribe("subscription { sessionEvents { id ")  # a syntax error over the socket
    await asyncio.sleep(0.3)
    await socket.close()
    await graphql(server.base_url, "mutation { logout { session { id } } }", token=tokens[0])
    await graphql(server.base_url, "{ viewer { email } }", token=tokens[0])  # now an ended session
    server.stop()

    log = server.log()
    assert "GRAPHQL_PARSE_FAILED" in log and "GRAPHQL_VALIDATION_FAILED" in log and "UNAUTHENTICATED" in log
    for secret in [*secrets, *tokens, *wrong, inline, coerced, "bare_name_password"]:
        assert secret not in log, f"{secret!r} was logged"
    assert "mutation" not in log and "login(input" not in log  # no document text at all
    assert "Traceback" not in log
