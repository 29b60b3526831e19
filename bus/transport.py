"""The only importer of broadcaster: picks a backend from `BROADCAST_URL` and carries JSON strings."""

from __future__ import annotations

from urllib.parse import urlparse

from broadcaster import BroadcastBackend
from broadcaster._backends.memory import MemoryBackend


def create_backend(url: str) -> BroadcastBackend:
    """`memory://` for one process; `redis://` or `postgres://` for a fleet."""
    scheme = urlparse(url).scheme
    if scheme == "memory":
        return MemoryBackend(url)
    if scheme in ("redis", "rediss"):
        from bus.backends.redis import ResilientRedisBackend

        return ResilientRedisBackend(url)
    if scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        from bus.backends.postgres import ResilientPostgresBackend

        return ResilientPostgresBackend(url)
    raise ValueError(f"Unsupported BROADCAST_URL scheme {scheme!r}: use memory://, redis:// or postgres://")


class Transport:
    """A thin, typed face over a `BroadcastBackend`; one per process, consumed only by the hub."""

    def __init__(self, url: str) -> None:
        self._backend = create_backend(url)

    async def connect(self) -> None:
        await self._backend.connect()

    async def disconnect(self) -> None:
        await self._backend.disconnect()

    async def subscribe(self, channel: str) -> None:
        await self._backend.subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        await self._backend.unsubscribe(channel)

    async def publish(self, channel: str, message: str) -> None:
        await self._backend.publish(channel, message)

    async def next_message(self) -> tuple[str, str]:
        event = await self._backend.next_published()
        return event.channel, str(event.message)

    @property
    def reconnects(self) -> int:
        return int(getattr(self._backend, "reconnects", 0))

    @property
    def ready(self) -> bool:
        return bool(getattr(self._backend, "ready", True))
