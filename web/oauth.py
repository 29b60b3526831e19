"""The OAuth surface for resource servers: token introspection (RFC 7662), server metadata (RFC 8414) and the
feed of ended sessions that gateways follow. Each request authenticates its client against the database and
asks the same access service as GraphQL."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from core.errors import ServiceError, Unauthenticated
from services.access import AccessService
from services.clients import ClientAuthenticator, ClientRecord
from services.ended_sessions import Ended, EndedSessionFeed
from services.sliding_window import SlidingWindow
from web.client_credentials import Credentials, CredentialsError, basic_credentials, request_credentials
from web.drain import Drain
from web.oauth_errors import REALM, invalid_client, invalid_request, oauth_error, oauth_json

INTROSPECTION_PATH = "/oauth2/introspect"
ENDED_SESSIONS_PATH = "/oauth2/ended-sessions"
METADATA_PATH = "/.well-known/oauth-authorization-server"
FORM = "application/x-www-form-urlencoded"
AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
INACTIVE = {"active": False}
MAX_FORM_FIELDS = 8
FEEDS_PER_CLIENT = 4


@dataclass
class OAuthEndpoints:
    """What the OAuth routes need, built once per instance (lifespan state `oauth`)."""

    access: AccessService
    clients: ClientAuthenticator
    feed: EndedSessionFeed
    limiter: SlidingWindow
    drain: Drain
    public_url: str | None = None
    open_feeds: Counter[str] = field(default_factory=Counter)

    def issuer(self, request: Request) -> str:
        return (self.public_url or str(request.base_url)).rstrip("/")


router = APIRouter()


def _endpoints(request: Request) -> OAuthEndpoints:
    endpoints: OAuthEndpoints = request.state.oauth
    return endpoints


class Refused(Exception):
    """An OAuth refusal; the handler answers with its response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _unavailable() -> Refused:
    return Refused(oauth_error(503, "temporarily_unavailable", "The service cannot reach its database; retry."))


def _parse_form(request_body: bytes) -> dict[str, str]:
    """A strict form body: UTF-8, each parameter at most once (RFC 6749 section 3.1)."""
    try:
        text = request_body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Refused(invalid_request(f"Unreadable form body: {exc}")) from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise Refused(invalid_request(f"Parameter {name!r} given more than once."))
        form[name] = value
    return form


async def _client(endpoints: OAuthEndpoints, credentials: Credentials | None) -> ClientRecord:
    """The authenticated client (rate-limited per client id, before the secret is checked)."""
    if credentials is None or not credentials.client_id:
        raise Refused(invalid_client())
    if endpoints.limiter.try_take(credentials.client_id) is None:
        raise Refused(
            oauth_error(429, "rate_limited", "Too many requests for this client; retry later.", {"retry-after": "1"})
        )
    try:
        client = await endpoints.clients.authenticate(credentials.client_id, credentials.secret)
    except ServiceError:
        raise _unavailable() from None
    if client is None:
        raise Refused(invalid_client())
    return client


def _credentials(request: Request, form: dict[str, str] | None) -> Credentials | None:
    try:
        if form is None:
            return basic_credentials(request.headers)
        return request_credentials(request.headers, form)
    except CredentialsError as exc:
        raise Refused(oauth_error(401, "invalid_client", str(exc), {"www-authenticate": REALM})) from None


@router.post(INTROSPECTION_PATH, include_in_schema=False)
async def introspect(request: Request) -> Response:
    try:
        return await _introspect(_endpoints(request), request)
    except Refused as refused:
        return refused.response


async def _introspect(endpoints: OAuthEndpoints, request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        raise Refused(invalid_request(f"The body must be {FORM} (token=...); JSON bodies are refused."))
    form = _parse_form(await request.body())
    client = await _client(endpoints, _credentials(request, form))
    token = form.get("token")
    if not token:
        raise Refused(invalid_request("The token parameter is required."))
    try:
        info = await endpoints.access.inspect_token(token, account_id=client.account_id)
    except Unauthenticated:
        return oauth_json(INACTIVE)
    except ServiceError:
        raise _unavailable() from None
    viewer = info.viewer
    return oauth_json(
        {
            "active": True,
            "token_type": "Bearer",
            "sub": viewer.user.id,
            "sid": viewer.session_id,
            "username": viewer.user.email,
            "account": viewer.account_id,
            "admin": viewer.is_admin,
            "iat": int(info.created_at.timestamp()),
            "exp": int(info.expires_at.timestamp()),
            "client_id": client.id,
        }
    )


@router.get(METADATA_PATH, include_in_schema=False)
async def metadata(request: Request) -> Response:
    """RFC 8414 server metadata: this service issues tokens by GraphQL `login`, and introspects them here."""
    issuer = _endpoints(request).issuer(request)
    return oauth_json(
        {
            "issuer": issuer,
            "introspection_endpoint": issuer + INTROSPECTION_PATH,
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "response_types_supported": [],
            "grant_types_supported": [],
            "ended_sessions_endpoint": issuer + ENDED_SESSIONS_PATH,
        }
    )


@router.get(ENDED_SESSIONS_PATH, include_in_schema=False)
async def ended_sessions(request: Request) -> Response:
    """Server-sent events: `ended` (one per ended session, `id:` its resumable cursor) and a `heartbeat` every
    second. Resume with `Last-Event-ID` (or `?after=`); without either the feed starts now. HTTP Basic only."""
    endpoints = _endpoints(request)
    try:
        client = await _client(endpoints, _credentials(request, None))
        after = await _feed_start(endpoints, request)
    except Refused as refused:
        return refused.response
    if endpoints.open_feeds[client.id] >= FEEDS_PER_CLIENT:
        return oauth_error(429, "rate_limited", f"At most {FEEDS_PER_CLIENT} open feeds per client and instance.")
    endpoints.open_feeds[client.id] += 1
    return StreamingResponse(
        _feed_stream(endpoints, client, after),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )


async def _feed_start(endpoints: OAuthEndpoints, request: Request) -> int:
    cursor = request.headers.get("last-event-id") or request.query_params.get("after")
    if cursor is None:
        try:
            return await endpoints.feed.head()
        except ServiceError:
            raise _unavailable() from None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) < 19):
        raise Refused(invalid_request("The cursor (Last-Event-ID or after) must be an event id."))
    return int(cursor)


async def _feed_stream(endpoints: OAuthEndpoints, client: ClientRecord, after: int) -> AsyncIterator[str]:
    try:
        yield f"id: {after}\nevent: heartbeat\ndata: {json.dumps({'cursor': after})}\n\n"
        async for item in endpoints.feed.follow(after=after, account_id=client.account_id):
            if endpoints.drain.started.is_set():
                return  # restarting: the follower reconnects (to any instance) from its cursor
            if isinstance(item, Ended):
                data = {"event_id": item.event_id, "session_id": item.session_id, "account_id": item.account_id}
                yield f"id: {item.cursor}\nevent: ended\ndata: {json.dumps(data)}\n\n"
            else:
                yield f"id: {item.cursor}\nevent: heartbeat\ndata: {json.dumps({'cursor': item.cursor})}\n\n"
    except ServiceError:
        return  # the database is unreachable: the follower sees the stream end and fails closed
    except asyncio.CancelledError:
        raise
    finally:
        endpoints.open_feeds[client.id] -= 1
