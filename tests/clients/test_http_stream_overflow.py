"""A subscription over HTTP (SSE, multipart) whose reader falls too far behind has no socket to close with 1013:
its stream ends with a coded error instead (SERVICE_UNAVAILABLE: subscribe again with after), never an internal
one. Through the schema, over the real service layer (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable

from core.settings import Settings
from schema.build import build_schema
from server import Runtime, open_runtime
from tests.conftest import PASSWORD, People
from tests.test_schema_execution import context

EVENTS = "subscription { sessionEvents { id type } }"


async def log_in(runtime: Runtime) -> str:
    result = await runtime.services.access.login(
        email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="203.0.113.1"
    )
    return result.token


async def test_an_http_stream_that_falls_behind_ends_with_a_coded_error(
    make_settings: Callable[..., Settings], people_factory: Callable[[Runtime], People]
) -> None:
    async with open_runtime(make_settings(subscriber_queue_size=3), run_sweeper=False) as runtime:
        await people_factory(runtime).user("ana@acme.test")
        schema = build_schema(runtime.settings)
        token = await log_in(runtime)
        stream = await schema.subscribe(EVENTS, context_value=context(runtime, token))  # HTTP: no socket
        assert isinstance(stream, AsyncGenerator)
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.2)  # attached to the hub
        for _ in range(8):  # nobody reads: the subscriber's queue of 3 overflows
            await log_in(runtime)
        assert (await asyncio.wait_for(first, 5)).data is not None
        last = await asyncio.wait_for(anext(stream), 5)
        assert last.data is None and last.errors is not None
        assert [error.extensions for error in last.errors] == [{"code": "SERVICE_UNAVAILABLE"}]
        assert "after" in last.errors[0].message
