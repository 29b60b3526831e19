"""Shutdown with an open SSE subscription: its last message is a coded 'reconnect' error, then it completes."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support.cli import PASSWORD, create_user
from tests.support.graphql_http import login
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.slow

SUBSCRIPTION = "subscription { sessionEvents { id type } }"


async def test_sigterm_ends_sse_streams_with_a_coded_error(
    tmp_path: Path, start_server: Callable[..., LiveServer]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 's.db'}"
    create_user(url, "ana@acme.test")
    server = start_server({"DATABASE_URL": url, "DRAIN_SECONDS": "20"})
    token, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
    headers = {"authorization": f"Bearer {token}", "accept": "text/event-stream", "content-type": "application/json"}
    received: list[tuple[str, str]] = []
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("POST", server.base_url + "/graphql", json={"query": SUBSCRIPTION}, headers=headers) as stream,
    ):
        assert stream.status_code == 200
        lines = stream.aiter_lines()
        await asyncio.sleep(0.5)  # subscribed
        assert server.process is not None
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        event = ""
        async for line in lines:
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                received.append((event, line.split(":", 1)[1].strip()))
            if event == "complete":
                break
        ended_after = time.monotonic() - started
    nexts = [json.loads(data) for kind, data in received if kind == "next"]
    assert nexts and nexts[-1]["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE", received
    assert ended_after < 5  # well before DRAIN_SECONDS
    assert await asyncio.to_thread(server.process.wait, 15) in (0, -signal.SIGTERM)
    assert "Exception in ASGI application" not in server.log()
