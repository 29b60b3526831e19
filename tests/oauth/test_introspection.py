"""Token introspection (RFC 7662) against a real server, with clients made by the CLI: every answer and every
bad input of the issue, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from core.database import create_engine
from tests.conftest import PASSWORD
from tests.oauth.conftest import OAuthService
from tests.support.cli import server_command
from tests.support.graphql_http import login

pytestmark = pytest.mark.slow

INACTIVE = {"active": False}


async def read_rows(database_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in (await connection.execute(text(sql))).all()]
    finally:
        await engine.dispose()


async def last_seen(database_url: str, session_id: str) -> object:
    rows = await read_rows(database_url, f"SELECT last_seen_at FROM login_session WHERE id = '{session_id}'")
    return rows[0][0]


async def test_the_cli_makes_lists_and_revokes_clients_and_stores_only_a_hash(
    oauth_service: Callable[..., OAuthService],
) -> None:
    service = oauth_service()
    gateway_id, gateway_secret = service.client("gateway", "--permission", "sessions:write", "--permission", "a:b")
    acme_id, _ = service.client("acme backend", "--account", "acme")
    assert gateway_id.startswith("client_") and len(gateway_secret) >= 43  # 256 random bits, base64url

    rows = await read_rows(service.database_url, "SELECT id, secret_hash, permissions FROM oauth_client ORDER BY id")
    stored = {row[0]: row for row in rows}
    assert stored[gateway_id][1] == hashlib.sha256(gateway_secret.encode()).hexdigest()
    assert all(gateway_secret not in str(value) for row in rows for value in row)
    assert stored[gateway_id][2] == "a:b sessions:write"

    listing = server_command(service.database_url, "list-clients")
    assert listing.returncode == 0, listing.stderr
    lines = {line.split("\t")[0]: line for line in listing.stdout.splitlines()}
    assert "\tgateway\taccount=*\tpermissions=a:b,sessions:write\t" in lines[gateway_id]
    assert "\tacme backend\taccount=acme\tpermissions=-\t" in lines[acme_id]
    assert lines[acme_id].endswith("\tactive")
    assert gateway_secret not in listing.stdout

    revoked = server_command(service.database_url, "revoke-client", acme_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "\trevoked " in {line.split("\t")[0]: line for line in server_command(
        service.database_url, "list-clients").stdout.splitlines()}[acme_id]  # fmt: skip

    # Bad input: a clear message, exit 1, nothing created.
    for args in (
        ("create-client", "x", "--account", "nope"),
        ("create-client", "x", "--permission", "everything"),
        ("revoke-client", acme_id),
        ("revoke-client", "client_unknown"),
    ):
        result = server_command(service.database_url, *args)
        assert result.returncode == 1 and result.stderr.startswith("error: "), (args, result.stderr)
    assert len(await read_rows(service.database_url, "SELECT id FROM oauth_client")) == 2


async def test_an_active_token_answers_its_session_for_both_auth_methods(
    oauth_service: Callable[..., OAuthService],
) -> None:
    service = oauth_service()
    client = service.client("gateway")
    admin, admin_session = await login(service.server.base_url, "admin@acme.test", PASSWORD)
    before = await last_seen(service.database_url, admin_session["id"])

    basic = await service.introspect(admin, client, token_type_hint="access_token")
    assert basic.status_code == 200, basic.text
    assert basic.headers["cache-control"] == "no-store"
    answer = basic.json()
    exp = answer.pop("exp")
    iat = answer.pop("iat")
    assert answer == {
        "active": True,
        "token_type": "Bearer",
        "sub": service.user_ids["admin@acme.test"],
        "sid": admin_session["id"],
        "username": "admin@acme.test",
        "account": (await read_rows(service.database_url, "SELECT id FROM account WHERE name = 'acme'"))[0][0],
        "admin": True,
        "client_id": client[0],
    }
    now = datetime.now(UTC).timestamp()
    assert now - 60 < iat <= now + 1 and iat < exp
    assert await last_seen(service.database_url, admin_session["id"]) != before  # counts as a use (touch)

    async with httpx.AsyncClient(timeout=15) as http:
        posted = await http.post(
            service.introspection_url, data={"token": admin, "client_id": client[0], "client_secret": client[1]}
        )
    assert posted.status_code == 200 and posted.json()["sid"] == admin_session["id"], posted.text
    member, _ = await login(service.server.base_url, "ana@acme.test", PASSWORD)
    assert (await service.introspect(member, client)).json()["admin"] is False


async def test_unknown_ended_malformed_and_oversized_tokens_are_just_inactive(
    oauth_service: Callable[..., OAuthService],
) -> None:
    service = oauth_service()
    client = service.client("gateway")
    token, session = await login(service.server.base_url, "ana@acme.test", PASSWORD)
    assert (await service.introspect(token, client)).json()["active"] is True
    await service.logout(token, session["id"])
    for probe in (token, "x" * 43, "not a token at all \u00e9", "x" * 10_240, " "):
        answer = await service.introspect(probe, client)
        assert (answer.status_code, answer.json()) == (200, INACTIVE), probe[:20]
        assert answer.text == '{"active":false}'


async def test_a_client_bound_to_an_account_learns_only_its_tokens_and_touches_no_other(
    oauth_service: Callable[..., OAuthService],
) -> None:
    service = oauth_service()
    acme_client = service.client("acme backend", "--account", "acme")
    other_client = service.client("other backend", "--account", "other")
    token, session = await login(service.server.base_url, "ana@acme.test", PASSWORD)
    before = await last_seen(service.database_url, session["id"])
    events = await read_rows(service.database_url, "SELECT count(*) FROM session_event")

    assert (await service.introspect(token, other_client)).json() == INACTIVE
    assert await last_seen(service.database_url, session["id"]) == before
    assert await read_rows(service.database_url, "SELECT count(*) FROM session_event") == events
    assert (await service.introspect(token, acme_client)).json()["sid"] == session["id"]


async def test_bad_requests_get_rfc_errors_and_change_nothing(oauth_service: Callable[..., OAuthService]) -> None:
    service = oauth_service()
    client_id, secret = service.client("gateway")
    token, session = await login(service.server.base_url, "ana@acme.test", PASSWORD)
    before = await last_seen(service.database_url, session["id"])
    url = service.introspection_url

    async with httpx.AsyncClient(timeout=15) as http:
        answers = {
            "no credentials": await http.post(url, data={"token": token}),
            "wrong secret": await http.post(url, data={"token": token}, auth=(client_id, secret + "x")),
            "unknown client": await http.post(url, data={"token": token}, auth=("client_nope", secret)),
            "bearer instead of basic": await http.post(
                url, data={"token": token}, headers={"authorization": f"Bearer {token}"}
            ),
            "two methods": await http.post(
                url, data={"token": token, "client_id": client_id, "client_secret": secret}, auth=(client_id, secret)
            ),
        }
        for name, answer in answers.items():
            assert answer.status_code == 401, (name, answer.text)
            assert answer.headers["www-authenticate"].startswith("Basic"), name
            assert answer.json()["error"] == "invalid_client", name

        bad = {
            "json body": await http.post(url, json={"token": token}, auth=(client_id, secret)),
            "no token": await http.post(url, data={"token_type_hint": "access_token"}, auth=(client_id, secret)),
            "empty token": await http.post(url, data={"token": ""}, auth=(client_id, secret)),
            "token twice": await http.post(
                url,
                content=f"token={token}&token={token}",
                headers={"content-type": "application/x-www-form-urlencoded"},
                auth=(client_id, secret),
            ),
        }
        for name, answer in bad.items():
            assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request"), (name, answer.text)

        too_large = await http.post(url, data={"token": "x" * 70_000}, auth=(client_id, secret))
        assert too_large.status_code == 413 and too_large.json()["error"] == "invalid_request", too_large.text
        assert "Traceback" not in json.dumps([a.text for a in [*answers.values(), *bad.values(), too_large]])

    revoked = server_command(service.database_url, "revoke-client", client_id)
    assert revoked.returncode == 0
    refused = await service.introspect(token, (client_id, secret))
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert await last_seen(service.database_url, session["id"]) == before  # nothing above used the session


async def test_each_client_is_rate_limited(oauth_service: Callable[..., OAuthService]) -> None:
    service = oauth_service(introspection_requests_per_client=3)
    first, second = service.client("first"), service.client("second")
    token, _ = await login(service.server.base_url, "ana@acme.test", PASSWORD)
    statuses = [(await service.introspect(token, first)).status_code for _ in range(6)]
    assert statuses.count(429) >= 3 and statuses[:3] == [200, 200, 200], statuses
    limited = await service.introspect(token, first)
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert limited.headers["retry-after"] == "1"
    assert (await service.introspect(token, second)).status_code == 200  # per client


async def test_server_metadata_names_the_introspection_endpoint(oauth_service: Callable[..., OAuthService]) -> None:
    service = oauth_service(public_url="https://sessions.example.com")
    async with httpx.AsyncClient(timeout=15) as http:
        answer = await http.get(f"{service.server.base_url}/.well-known/oauth-authorization-server")
    assert answer.status_code == 200
    metadata = answer.json()
    assert metadata["issuer"] == "https://sessions.example.com"
    assert metadata["introspection_endpoint"] == "https://sessions.example.com/oauth2/introspect"
    assert metadata["introspection_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
