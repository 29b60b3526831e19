"""`BroadcastBackend`s for Redis and PostgreSQL that reconnect, resubscribe and bound their queues.

broadcaster 0.3.1's own Redis and Postgres backends lose the first channel (redis-py 8), never reconnect,
fail start-up when the server is down, break under concurrent use (Postgres) and buffer without limit;
see the stack facts. These replace them; `bus.transport.create_backend` picks one from `BROADCAST_URL`."""

from bus.backends.postgres import ResilientPostgresBackend
from bus.backends.redis import ResilientRedisBackend

__all__ = ["ResilientPostgresBackend", "ResilientRedisBackend"]
