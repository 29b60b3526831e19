"""Per-request facts that every log line carries: request id, GraphQL operation, session id."""

from __future__ import annotations

from contextvars import ContextVar

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
operation_name: ContextVar[str | None] = ContextVar("operation_name", default=None)
session_id: ContextVar[str | None] = ContextVar("session_id", default=None)
