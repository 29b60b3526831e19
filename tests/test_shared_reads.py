"""`Database.sharing_reads`: one read connection per HTTP request on PostgreSQL, taken in turns; none on SQLite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from core.database import Database, create_engine
from server import Runtime
from tests.conftest import PASSWORD, People
from tests.support.cli import create_user
from tests.support.databases import fresh_postgres_database
from tests.support.graphql_http import graphql, login
from tests.support.live_server import LiveServer

BACKEND = text("SELECT pg_backend_pid()")


@pytest.fixture
async def postgres() -> AsyncIterator[Database]:
    async with fresh_postgres_database() as url:
        database = Database(create_engine(url))
        try:
            yield database
        finally:
            await database.dispose()


def checked_out(database: Database) -> int:
    pool = database.engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


async def backend(database: Database, pause: float = 0) -> int:
    async with database.read_connection() as connection:
        if pause:
            await connection.execute(text("SELECT pg_sleep(:pause)"), {"pause": pause})
        return int((await connection.execute(BACKEND)).scalar_one())


@pytest.mark.postgres
async def test_reads_in_a_scope_share_one_connection_and_return_it_at_the_end(postgres: Database) -> None:
    outside = {await backend(postgres), await backend(postgres)}
    async with postgres.sharing_reads():
        assert checked_out(postgres) == 0  # checked out at the first read, not before
        first, second = await backend(postgres), await backend(postgres)
        assert first == second
        assert checked_out(postgres) == 1
    assert checked_out(postgres) == 0
    assert len(outside) >= 1


@pytest.mark.postgres
async def test_concurrent_reads_take_turns_and_a_nested_read_does_not_wait_for_itself(postgres: Database) -> None:
    async with postgres.sharing_reads():
        started = time.monotonic()
        pids = await asyncio.wait_for(asyncio.gather(*(backend(postgres, pause=0.1) for _ in range(3))), 10)
        assert len(set(pids)) == 1
        assert time.monotonic() - started >= 0.3  # one after another on the one connection
        async with postgres.read_connection() as outer:
            inner_pid = await backend(postgres)  # the same task: no turn to wait for
            assert (await outer.execute(BACKEND)).scalar_one() == inner_pid
        assert checked_out(postgres) == 1


@pytest.mark.postgres
async def test_a_write_ends_sharing_so_a_request_never_holds_one_connection_while_waiting_for_another(
    postgres: Database,
) -> None:
    async with postgres.sharing_reads():
        await backend(postgres)
        assert checked_out(postgres) == 1
        async with postgres.session() as db:
            assert checked_out(postgres) == 0  # the idle read connection went back first
            await db.execute(text("SELECT 1"))
            assert checked_out(postgres) == 1
        await backend(postgres)  # reads go on, each on its own connection
        assert checked_out(postgres) == 0
        # A write while another task's read is under way: that read's connection goes back when it ends.
        reading = asyncio.create_task(backend(postgres, pause=0.2))
        await asyncio.sleep(0.05)
        async with postgres.session() as db:
            await db.execute(text("SELECT 1"))
        await reading
    assert checked_out(postgres) == 0


@pytest.mark.postgres
async def test_requests_that_read_then_write_do_not_exhaust_the_pool(postgres: Database) -> None:
    """More concurrent requests than the pool holds (10 + 10 overflow), each reading then writing."""

    async def request() -> None:
        async with postgres.sharing_reads():
            await backend(postgres, pause=0.05)
            async with postgres.session() as db, db.begin():
                await db.execute(text("SELECT pg_sleep(0.05)"))
            await backend(postgres)

    await asyncio.wait_for(asyncio.gather(*(request() for _ in range(40))), 25)
    assert checked_out(postgres) == 0


@pytest.mark.postgres
async def test_a_failed_read_drops_the_connection_and_the_next_read_gets_a_working_one(postgres: Database) -> None:
    async with postgres.sharing_reads():
        before = await backend(postgres)
        with pytest.raises(DBAPIError):
            async with postgres.read_connection() as connection:
                await connection.execute(text("SELECT 1 / 0"))
        assert checked_out(postgres) == 0
        after = await backend(postgres)
        assert isinstance(after, int)
        assert checked_out(postgres) == 1
        assert before > 0
    assert checked_out(postgres) == 0


@pytest.mark.postgres
async def test_a_task_outliving_the_scope_reads_on_its_own_connection(postgres: Database) -> None:
    release = asyncio.Event()

    async def later() -> int:
        await release.wait()
        return await backend(postgres)

    async with postgres.sharing_reads():
        scoped = await backend(postgres)
        straggler = asyncio.create_task(later())  # inherits the scope, runs after it ended
    release.set()
    assert isinstance(await asyncio.wait_for(straggler, 10), int)
    assert checked_out(postgres) == 0
    assert scoped > 0


async def test_on_sqlite_reads_stay_separate_so_a_write_after_a_read_does_not_wait(
    runtime: Runtime, people: People
) -> None:
    """SQLite reads hold its write lock until their connection goes back: shared, the touch below would wait
    for the request's own read connection. Touching every time (interval 0) writes on every authentication."""
    await people.user("ana@acme.test")
    result = await runtime.services.access.login(
        email="ana@acme.test", password=PASSWORD, device_name=None, user_agent=None, ip_address="10.0.0.1"
    )
    async with runtime.database.sharing_reads():
        for _ in range(3):
            viewer = await asyncio.wait_for(runtime.services.access.authenticate(result.token), 10)
            assert viewer.session_id == result.session.id


@pytest.mark.postgres
@pytest.mark.slow
async def test_a_request_whose_root_fields_read_concurrently_answers_them_all(
    start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    async with fresh_postgres_database() as url:
        create_user(url, "ana@acme.test", admin=True)
        server = start_server({"DATABASE_URL": url, "TOUCH_INTERVAL_SECONDS": "0"})
        token, _ = await login(server.base_url, "ana@acme.test", PASSWORD)
        query = """{ viewer { email } mine: activeSessions { totalCount }
                     all: activeSessions(allUsers: true) { totalCount nodes { isCurrent } } }"""
        answers = await asyncio.gather(*(graphql(server.base_url, query, token=token) for _ in range(20)))
        for answer in answers:
            assert "errors" not in answer, answer
            assert answer["data"]["viewer"]["email"] == "ana@acme.test"
            assert answer["data"]["mine"]["totalCount"] == answer["data"]["all"]["totalCount"] == 1
            assert answer["data"]["all"]["nodes"] == [{"isCurrent": True}]
        server.stop()
