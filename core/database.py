"""Engine, transactions and schema migrations (Alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

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
    """Owns the engine; hands out one `AsyncSession` per unit of work, or a core connection for reads."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        # SQLite begins every transaction IMMEDIATE (see above): its reads keep ordinary transactions.
        self._reads = (
            engine if engine.dialect.name == "sqlite" else engine.execution_options(isolation_level="AUTOCOMMIT")
        )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose connection failures surface as `SERVICE_UNAVAILABLE`."""
        shared = _SHARED_READS.get()
        if shared is not None:
            # A request that writes stops sharing its read connection first: it never holds one connection
            # while it waits for another (with every request doing that, the pool would run dry and wait forever).
            await shared.end()
        async with _mapped_failures(), self._sessions() as session:
            yield session

    @asynccontextmanager
    async def read_connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads only, with SQLAlchemy core (no ORM unit of work to set up and tear down).
        On PostgreSQL each statement runs on its own, with no BEGIN and ROLLBACK round trips around them
        (under READ COMMITTED two statements never shared a snapshot anyway). Within `sharing_reads`, the
        scope's one connection (one at a time: concurrent resolvers of a request take turns)."""
        shared = _SHARED_READS.get()
        if shared is None or shared.ended:
            async with _mapped_failures(), self._reads.connect() as connection:
                yield connection
        else:
            async with _mapped_failures(), shared.turn() as connection:
                yield connection

    @asynccontextmanager
    async def sharing_reads(self) -> AsyncIterator[None]:
        """Reads in this scope (one HTTP request) share one connection, checked out at the first read and
        returned when the scope ends or the request first writes: one pool checkout and pre-ping per request
        instead of one per read. Concurrent reads take turns; a read must not wait for a read of another task
        (that one would wait for its turn). Not on SQLite, where a read holds the database's write lock until
        its connection is returned."""
        if self.engine.dialect.name == "sqlite":
            yield
            return
        shared = _SharedReads(self._reads)
        token = _SHARED_READS.set(shared)
        try:
            yield
        finally:
            _SHARED_READS.reset(token)
            if shared.idle:  # nothing to give back: no await, so nothing scheduled meanwhile runs before the answer
                shared.ended = True
            else:
                await asyncio.shield(shared.end())  # returned to the pool even if the request was cancelled

    async def dispose(self) -> None:
        await self.engine.dispose()


class _SharedReads:
    """One lazily checked-out read connection, used by one task at a time, until `end`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self.ended = False

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[AsyncConnection]:
        task = asyncio.current_task()
        if self._holder is task and self._connection is not None:  # a read within a read, in the same task
            yield self._connection
            return
        async with self._lock:
            if self._connection is None:
                self._connection = await self._engine.connect()
            self._holder = task
            try:
                yield self._connection
            except BaseException:
                await self._drop()  # a failed read may have broken it: the next one checks out afresh
                raise
            finally:
                self._holder = None
                if self.ended:
                    await self._drop()

    @property
    def idle(self) -> bool:
        """No connection checked out and no read under way."""
        return self._connection is None and not self._lock.locked()

    async def end(self) -> None:
        """No more sharing: the connection goes back to the pool now, or at the end of the turn using it."""
        self.ended = True
        if not self._lock.locked():
            await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.close()


# The read connection shared by the current HTTP request, if any (see `Database.sharing_reads`).
_SHARED_READS: ContextVar[_SharedReads | None] = ContextVar("shared_reads", default=None)


@asynccontextmanager
async def _mapped_failures() -> AsyncIterator[None]:
    try:
        yield
    except (OperationalError, InterfaceError, OSError, ConnectionError) as exc:
        raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc
        raise


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["database_url"] = database_url
    return config


async def migrate_to_latest(database_url: str) -> None:
    """Bring the database to the newest migration (Alembic runs its own loop in a thread)."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
