"""Engine, transactions and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from core.errors import ServiceUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_BUSY_TIMEOUT_SECONDS = 30


def create_engine(database_url: str) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        engine = create_async_engine(database_url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        _serialise_sqlite_writes(engine)
        return engine
    return create_async_engine(database_url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def _serialise_sqlite_writes(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and BEGIN IMMEDIATE so concurrent writers wait instead of failing."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """Owns the engine; hands out one `AsyncSession` per unit of work."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        # SQLite begins every transaction IMMEDIATE (see above): its reads keep ordinary sessions.
        reads = engine if engine.dialect.name == "sqlite" else engine.execution_options(isolation_level="AUTOCOMMIT")
        self._read_sessions = async_sessionmaker(reads, class_=AsyncSession, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose connection failures surface as `SERVICE_UNAVAILABLE`."""
        async with self._mapped_failures(self._sessions) as session:
            yield session

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only. On PostgreSQL each statement runs on its own, with no BEGIN and ROLLBACK
        round trips around them (under READ COMMITTED two statements never shared a snapshot anyway)."""
        async with self._mapped_failures(self._read_sessions) as session:
            yield session

    @staticmethod
    @asynccontextmanager
    async def _mapped_failures(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
        try:
            async with sessions() as session:
                yield session
        except (OperationalError, InterfaceError, OSError, ConnectionError) as exc:
            raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc
            raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


async def migrate_to_latest(database_url: str) -> None:
    """Bring the database to the newest migration (Alembic runs its own loop in a thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
