"""Slots under a limit, shared by every instance: the store behind the login windows and the live-connection cap.

A slot is (key, member) and counts until it expires. `acquire` drops the key's expired slots, counts the rest
and adds one only below the limit, atomically across instances; `release` gives one back; `refresh` extends
slots still in use (the leases of live connections). A login attempt is a slot that expires with its window,
so a key's slots are exactly its attempts within the last window.

Three stores: Redis (a sorted set per key, scored by expiry, changed by one Lua script; Redis's clock), when
the bus is Redis; PostgreSQL (the `limit_slot` table, one transaction under an advisory lock per key; the
database's clock) on a PostgreSQL database otherwise; and memory (this process only) on the embedded default.
A store that cannot be reached raises `StoreUnavailable`: its callers fail safe (logins are refused) rather
than stop counting. Keys are hashed before they reach a shared store: no email or address in the clear."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.database import Database
from core.errors import ServiceUnavailable
from core.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_MAX_KEYS = 100_000
STORE_TIMEOUT_SECONDS = 2.0
UNAVAILABLE = "The limit store cannot be reached; try again shortly."


class StoreUnavailable(ServiceUnavailable):
    """The shared limit store could not be reached or did not answer in time."""


def slot_key(kind: str, value: str) -> str:
    """A store key for `value` under `kind` (e.g. "login-email"): hashed, fixed length."""
    return f"{kind}:{hashlib.sha256(value.encode()).hexdigest()[:40]}"


class LimitStore(Protocol):
    async def acquire(self, key: str, member: str, *, limit: int, ttl: float) -> bool: ...

    async def release(self, key: str, member: str) -> None: ...

    async def refresh(self, slots: Collection[tuple[str, str]], *, ttl: float) -> None: ...

    async def count(self, key: str) -> int: ...

    async def close(self) -> None: ...


class MemoryLimitStore:
    """This process only. At most `max_keys` keys (expired ones go first, then the least recently used)."""

    def __init__(self, *, max_keys: int = DEFAULT_MAX_KEYS, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_keys = max_keys
        self._clock = clock
        self._slots: OrderedDict[str, dict[str, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._slots)

    async def acquire(self, key: str, member: str, *, limit: int, ttl: float) -> bool:
        now = self._clock()
        slots = self._live(key, now)
        if slots is None:
            self._evict(now)
            slots = self._slots[key] = {}
        if len(slots) >= limit:
            return False
        slots[member] = now + ttl
        return True

    async def release(self, key: str, member: str) -> None:
        slots = self._slots.get(key)
        if slots is not None:
            slots.pop(member, None)
            if not slots:
                del self._slots[key]

    async def refresh(self, slots: Collection[tuple[str, str]], *, ttl: float) -> None:
        until = self._clock() + ttl
        for key, member in slots:
            held = self._slots.get(key)
            if held is not None and member in held:
                held[member] = until

    async def count(self, key: str) -> int:
        slots = self._live(key, self._clock())
        return len(slots) if slots else 0

    async def close(self) -> None:
        return None

    def _live(self, key: str, now: float) -> dict[str, float] | None:
        slots = self._slots.get(key)
        if slots is None:
            return None
        self._slots.move_to_end(key)
        for member in [member for member, expiry in slots.items() if expiry <= now]:
            del slots[member]
        return slots

    def _evict(self, now: float) -> None:
        while self._slots:
            key, slots = next(iter(self._slots.items()))
            if len(self._slots) < self._max_keys and any(expiry > now for expiry in slots.values()):
                return
            del self._slots[key]


# KEYS[1] the key; ARGV: member, limit, ttl (ms). Scores are expiry times in ms on Redis's clock, so every
# instance counts against one clock; the key itself expires with its last slot.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return 1
"""
# KEYS: the keys; ARGV[1] ttl (ms), then one member per key. Only slots still held are extended.
_REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, 'XX', 'CH', until_ms, ARGV[i + 1]) == 1 then
    redis.call('PEXPIREAT', key, until_ms)
  end
end
return 1
"""
_COUNT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZCARD', KEYS[1])
"""


class RedisLimitStore:
    def __init__(self, url: str, *, prefix: str) -> None:
        self._redis: Redis = Redis.from_url(
            url, socket_timeout=STORE_TIMEOUT_SECONDS, socket_connect_timeout=STORE_TIMEOUT_SECONDS
        )
        self._prefix = f"{prefix}:limits:"
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._refresh = self._redis.register_script(_REFRESH)
        self._count = self._redis.register_script(_COUNT)

    async def acquire(self, key: str, member: str, *, limit: int, ttl: float) -> bool:
        taken = await self._call(self._acquire, [self._prefix + key], [member, limit, _ms(ttl)])
        return bool(taken)

    async def release(self, key: str, member: str) -> None:
        try:
            await self._redis.zrem(self._prefix + key, member)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(UNAVAILABLE) from exc

    async def refresh(self, slots: Collection[tuple[str, str]], *, ttl: float) -> None:
        if slots:
            keys = [self._prefix + key for key, _ in slots]
            await self._call(self._refresh, keys, [_ms(ttl), *(member for _, member in slots)])

    async def count(self, key: str) -> int:
        return int(await self._call(self._count, [self._prefix + key], []))

    async def close(self) -> None:
        await self._redis.aclose()

    async def _call(self, script: object, keys: list[str], args: list[object]) -> int:
        try:
            result = await script(keys=keys, args=args)  # type: ignore[operator]
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(UNAVAILABLE) from exc
        return int(result)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class PostgresLimitStore:
    """The `limit_slot` table. Each acquire is one short transaction under an advisory lock on its key, so
    concurrent acquires of one key (on any instance) take turns; the database's clock decides expiry."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def acquire(self, key: str, member: str, *, limit: int, ttl: float) -> bool:
        async with self._failures(), self._database.engine.begin() as connection:
            values = {"key": key, "member": member, "limit": limit, "ttl": ttl}
            await connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 7))"), values)
            await connection.execute(text("DELETE FROM limit_slot WHERE key = :key AND expires_at <= now()"), values)
            held = (await connection.execute(text("SELECT count(*) FROM limit_slot WHERE key = :key"), values)).scalar()
            if int(held or 0) >= limit:
                return False
            await connection.execute(
                text(
                    "INSERT INTO limit_slot (key, member, expires_at) "
                    "VALUES (:key, :member, now() + make_interval(secs => :ttl)) "
                    "ON CONFLICT (key, member) DO UPDATE SET expires_at = excluded.expires_at"
                ),
                values,
            )
        return True

    async def release(self, key: str, member: str) -> None:
        async with self._failures(), self._database.engine.begin() as connection:
            await connection.execute(
                text("DELETE FROM limit_slot WHERE key = :key AND member = :member"), {"key": key, "member": member}
            )

    async def refresh(self, slots: Collection[tuple[str, str]], *, ttl: float) -> None:
        if not slots:
            return
        async with self._failures(), self._database.engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE limit_slot SET expires_at = now() + make_interval(secs => :ttl) "
                    "WHERE key = :key AND member = :member"
                ),
                [{"key": key, "member": member, "ttl": ttl} for key, member in slots],
            )
            # Slots of keys nobody asks for again would stay: the refresher sweeps them out.
            await connection.execute(text("DELETE FROM limit_slot WHERE expires_at <= now()"))

    async def count(self, key: str) -> int:
        async with self._failures(), self._database.engine.connect() as connection:
            held = await connection.execute(
                text("SELECT count(*) FROM limit_slot WHERE key = :key AND expires_at > now()"), {"key": key}
            )
            return int(held.scalar() or 0)

    async def close(self) -> None:
        return None

    def _failures(self) -> AbstractAsyncContextManager[None]:
        return _store_failures()


@asynccontextmanager
async def _store_failures() -> AsyncIterator[None]:
    """Connection failures and timeouts become `StoreUnavailable`, and each call is bounded in time."""
    try:
        async with asyncio.timeout(STORE_TIMEOUT_SECONDS):
            yield
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        raise StoreUnavailable(UNAVAILABLE) from exc


def open_limit_store(settings: Settings, database: Database) -> LimitStore:
    """Redis when the bus is Redis; PostgreSQL on a PostgreSQL database; memory on the embedded default."""
    if settings.broadcast_url.startswith(("redis://", "rediss://")):
        return RedisLimitStore(settings.broadcast_url, prefix=settings.channel_prefix)
    if database.engine.dialect.name == "postgresql":
        return PostgresLimitStore(database)
    return MemoryLimitStore()
