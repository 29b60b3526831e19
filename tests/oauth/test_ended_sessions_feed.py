"""`GET /oauth2/ended-sessions` against a real server: a client bound to an account follows the server-sent
events of its sessions' ends (within a second of the logout, never another account's), resumes with
`Last-Event-ID` without losing one, and bad credentials or cursors are refused. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import PASSWORD
from tests.oauth.conftest import OAuthService
from tests.support.graphql_http import login

pytestmark = pytest.mark.slow


@dataclass
class ServerSentEvent:
    id: str | None
    event: str
    data: dict[str, object]


class Feed:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self) -> ServerSentEvent:
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line == "":
                if fields:
                    return ServerSentEvent(fields.get("id"), fields.get("event", "message"), json.loads(fields["data"]))
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        raise AssertionError("the feed ended")

    async def next_ended(self, within: float) -> tuple[ServerSentEvent, float]:
        started = time.monotonic()
        while time.monotonic() - started < within:
            event = await self.next()
            if event.event == "ended":
                return event, time.monotonic() - started
        raise AssertionError(f"no ended event within {within} s")


@asynccontextmanager
async def follow(
    service: OAuthService, client: tuple[str, str], headers: dict[str, str] | None = None
) -> AsyncIterator[Feed]:
    async with (
        httpx.AsyncClient(timeout=15) as http,
        http.stream("GET", f"{service.server.base_url}/oauth2/ended-sessions", auth=client, headers=headers) as answer,
    ):
        assert answer.status_code == 200, await answer.aread()
        assert answer.headers["content-type"].startswith("text/event-stream")
        yield Feed(answer)


async def test_a_follower_learns_of_each_end_in_its_account_at_once_and_resumes_without_loss(
    oauth_service: Callable[..., OAuthService],
) -> None:
    service = oauth_service()
    client = service.client("acme gateway", "--account", "acme")
    ana, ana_session = await login(service.server.base_url, "ana@acme.test", PASSWORD)
    bo, bo_session = await login(service.server.base_url, "bo@acme.test", PASSWORD)
    eve, eve_session = await login(service.server.base_url, "eve@other.test", PASSWORD)

    async with follow(service, client) as feed:
        first = await feed.next()
        assert first.event == "heartbeat" and first.id is not None  # starts now, with a cursor
        await service.logout(eve, eve_session["id"])  # another account's: never shown
        await service.logout(ana, ana_session["id"])
        ended, waited = await feed.next_ended(within=5)
        assert ended.data["session_id"] == ana_session["id"] and waited < 1.0, (ended, waited)
        assert ended.id is not None
        cursor = first.id

    await service.logout(bo, bo_session["id"])  # while nobody follows
    async with follow(service, client, {"last-event-id": cursor}) as resumed:
        seen = set()
        while bo_session["id"] not in seen:
            event, _ = await resumed.next_ended(within=5)
            seen.add(str(event.data["session_id"]))
        assert ana_session["id"] in seen and eve_session["id"] not in seen  # nothing lost, nothing foreign


async def test_credentials_and_cursors_are_checked(oauth_service: Callable[..., OAuthService]) -> None:
    service = oauth_service()
    client = service.client("acme gateway", "--account", "acme")
    url = f"{service.server.base_url}/oauth2/ended-sessions"
    async with httpx.AsyncClient(timeout=15) as http:
        anonymous = await http.get(url)
        wrong = await http.get(url, auth=(client[0], "wrong"))
        bad_cursor = await http.get(url, auth=client, headers={"last-event-id": "not-a-cursor"})
    for answer in (anonymous, wrong):
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client", answer.text
    assert bad_cursor.status_code == 400 and bad_cursor.json()["error"] == "invalid_request", bad_cursor.text
