"""The per-request (HTTP) or per-connection (websocket) context handed to every resolver."""

from __future__ import annotations

import asyncio
import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

from strawberry.fastapi import BaseContext

from core.settings import Settings
from schema.shared_execution import SharedResults
from services.access import AccessService
from services.account_security import AccountSecurity
from services.event_stream import EventStream
from services.sessions import SessionService
from services.viewer import Viewer
from services.webhooks import WebhookService


@dataclass(frozen=True, slots=True)
class Services:
    access: AccessService
    sessions: SessionService
    events: EventStream
    settings: Settings
    shared_results: SharedResults
    webhooks: WebhookService
    security: AccountSecurity


class LiveSocket(Protocol):
    """The websocket behind a subscription, as far as resolvers need it."""

    async def close(self, code: int, reason: str) -> None: ...

    def close_soon(self, code: int, reason: str) -> None: ...

    def send_frame(self, frame: str, owner: FrameOwner) -> None: ...


class FrameOwner(Protocol):
    """Who a queued frame is for: once it is no longer `active` (its operation completed), its frames that have
    not left yet are dropped, so nothing follows the operation's end or reaches a new operation with its id."""

    @property
    def active(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class SocketOperation:
    """A websocket operation as its protocol message named it: its id, the key under which its results are
    shared, and the text its every result frame starts with (the frame is that text, the JSON payload, then `}`)."""

    id: str
    result_key: str
    frame_start: str

    @classmethod
    def create(
        cls, *, operation_id: str, query: str, variables: object, operation_name: object, legacy: bool
    ) -> SocketOperation:
        quoted_id = json.dumps(operation_id)
        frame_start = (
            f'{{"type":"data","id":{quoted_id},"payload":' if legacy else f'{{"id":{quoted_id},"type":"next","payload":'
        )
        result_key = json.dumps([query, operation_name, variables], sort_keys=True, separators=(",", ":"))
        return cls(id=operation_id, result_key=result_key, frame_start=frame_start)


# Set by the websocket protocol handlers around an operation's start: its task, and so its resolvers, see it.
SOCKET_OPERATION: ContextVar[SocketOperation | None] = ContextVar("socket_operation", default=None)


class Context(BaseContext):
    def __init__(
        self,
        *,
        services: Services,
        client_ip: str,
        user_agent: str | None,
        authorization: str | None,
        is_websocket: bool,
        draining: asyncio.Event | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.client_ip = client_ip
        self.user_agent = user_agent
        self._authorization = authorization
        self.is_websocket = is_websocket
        self.draining = draining or asyncio.Event()
        self.connection_params: Any | None = None
        self.socket: LiveSocket | None = None
        self._viewer: Viewer | None = None

    @property
    def token(self) -> str | None:
        """HTTP: the Authorization header. Websocket: `Authorization` (or `authorization`) in the connection_init
        payload, as browsers send it; when the payload has neither, the handshake's Authorization header, which
        gateways propagating the caller's headers to a subgraph send (browsers cannot set it on a websocket)."""
        header = self._authorization
        params = self.connection_params if self.is_websocket and isinstance(self.connection_params, dict) else {}
        for key in ("Authorization", "authorization"):
            if key in params:
                value = params[key]
                header = value if isinstance(value, str) else None
                break
        return bearer_token(header)

    async def viewer(self) -> Viewer:
        """The caller, checked against the database: once per HTTP request, on every websocket operation."""
        if self._viewer is not None and not self.is_websocket:
            return self._viewer
        self._viewer = await self.services.access.authenticate(self.token)
        return self._viewer


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
