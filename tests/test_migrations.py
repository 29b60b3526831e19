"""Alembic owns the tables: the models match the migrations, and concurrent starts migrate once."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import models  # noqa: F401
from core.database import alembic_config, create_engine, migrate_to_latest

ROOT = Path(__file__).resolve().parents[1]


def _diff(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), SQLModel.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def migrate_in_processes(database_url: str, count: int) -> None:
    """Like `count` instances starting together (Alembic's context is per process)."""
    script = (
        "import asyncio, sys; from core.database import migrate_to_latest; asyncio.run(migrate_to_latest(sys.argv[1]))"
    )
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script, database_url, cwd=ROOT) for _ in range(count)
    ]
    assert [await process.wait() for process in processes] == [0] * count


async def test_models_and_migrations_agree_after_concurrent_starts(database_url: str) -> None:
    await migrate_in_processes(database_url, 3)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_diff) == []
            assert {"account", "user", "login_session", "session_event"} <= await connection.run_sync(_tables)
    finally:
        await engine.dispose()


async def test_downgrade_and_upgrade_round_trip(database_url: str) -> None:
    await migrate_to_latest(database_url)
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "base")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_tables) <= {"alembic_version"}
    finally:
        await engine.dispose()
    await migrate_to_latest(database_url)
