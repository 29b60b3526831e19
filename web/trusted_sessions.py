"""`POST /api/sessions`: a trusted backend, authenticated as a client holding `sessions:write` (HTTP Basic, the
credentials of `create-client`), starts a session for a user of its account named by `external_id`.

It answers 201 with the same bearer token and session that GraphQL `login` gives. Refusals carry the GraphQL
error shape (`{"errors": [{"message", "extensions": {"code"}}]}`): 401 `UNAUTHENTICATED`, 403 `FORBIDDEN`,
400 `BAD_USER_INPUT`, 415, 429 `RATE_LIMITED`, 503 `SERVICE_UNAVAILABLE`."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from core.database import Database
from core.errors import ErrorCode, ServiceError
from services.access import LoginResult
from services.trusted_login import start_external_session
from web.client_credentials import CredentialsError, basic_credentials
from web.json_input import decode_json
from web.oauth import OAuthEndpoints
from web.oauth_errors import REALM, oauth_json

SESSIONS_PATH = "/api/sessions"
WRITE_PERMISSION = "sessions:write"
REQUIRED_FIELDS = ("external_id", "user_agent", "ip_address")
OPTIONAL_FIELDS = ("email", "device_name")

router = APIRouter()


class Refusal(Exception):
    def __init__(self, status: int, code: ErrorCode | str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, str(code), message, headers or {}

    def response(self) -> Response:
        body = {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}
        return oauth_json(body, self.status, self.headers)


STATUS_BY_CODE = {
    ErrorCode.BAD_USER_INPUT: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
}


@router.post(SESSIONS_PATH, include_in_schema=False)
async def start_session(request: Request) -> Response:
    endpoints: OAuthEndpoints = request.state.oauth
    database: Database = request.state.database
    try:
        account_id = await _authorised_account(endpoints, request)
        fields = _fields(await request.body(), request.headers.get("content-type", ""))
        result = await start_external_session(database, endpoints.access, account_id=account_id, **fields)
    except Refusal as refusal:
        return refusal.response()
    except ServiceError as exc:
        status = STATUS_BY_CODE.get(exc.code, 400)
        headers = {"retry-after": "1"} if status in {429, 503} else None
        return Refusal(status, exc.code, exc.message, headers).response()
    return oauth_json(_created(result), 201)


async def _authorised_account(endpoints: OAuthEndpoints, request: Request) -> str:
    """The account of the authenticated client, which must hold `sessions:write`."""
    try:
        credentials = basic_credentials(request.headers)
    except CredentialsError as exc:
        raise Refusal(401, ErrorCode.UNAUTHENTICATED, str(exc), {"www-authenticate": REALM}) from None
    if credentials is None or not credentials.client_id:
        raise Refusal(
            401, ErrorCode.UNAUTHENTICATED, "Client credentials (HTTP Basic) are required.", {"www-authenticate": REALM}
        )
    if endpoints.limiter.try_take(credentials.client_id) is None:
        raise Refusal(
            429, ErrorCode.RATE_LIMITED, "Too many requests for this client; retry later.", {"retry-after": "1"}
        )
    try:
        client = await endpoints.clients.authenticate(credentials.client_id, credentials.secret)
    except ServiceError:
        raise Refusal(503, ErrorCode.SERVICE_UNAVAILABLE, "The service cannot reach its database; retry.") from None
    if client is None:
        raise Refusal(401, ErrorCode.UNAUTHENTICATED, "Client authentication failed.", {"www-authenticate": REALM})
    if WRITE_PERMISSION not in client.permissions:
        raise Refusal(403, ErrorCode.FORBIDDEN, f"This client lacks the {WRITE_PERMISSION} permission.")
    if client.account_id is None:
        raise Refusal(403, ErrorCode.FORBIDDEN, "Only a client bound to an account (--account) can start sessions.")
    return client.account_id


def _fields(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.split(";", maxsplit=1)[0].strip().lower() != "application/json":
        raise Refusal(415, "UNSUPPORTED_MEDIA_TYPE", "The body must be application/json.")
    try:
        value = decode_json(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Refusal(400, ErrorCode.BAD_USER_INPUT, "The body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise Refusal(400, ErrorCode.BAD_USER_INPUT, "The body must be a JSON object.")
    unknown = sorted(set(value) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise Refusal(400, ErrorCode.BAD_USER_INPUT, f"Unknown fields: {', '.join(unknown)}.")
    for name in REQUIRED_FIELDS:
        if not isinstance(value.get(name), str):
            raise Refusal(400, ErrorCode.BAD_USER_INPUT, f"{name} is required and must be a string.")
    for name in OPTIONAL_FIELDS:
        if value.get(name) is not None and not isinstance(value[name], str):
            raise Refusal(400, ErrorCode.BAD_USER_INPUT, f"{name} must be a string or null.")
    return {name: value.get(name) for name in (*REQUIRED_FIELDS, *OPTIONAL_FIELDS)}


def _created(result: LoginResult) -> dict[str, Any]:
    session = result.session
    return {
        "token": result.token,
        "session": {
            "id": session.id,
            "account_id": session.user.account_id,
            "user": {"id": session.user.id, "external_id": session.user.external_id, "email": session.user.email},
            "status": session.status.value,
            "device": {
                "type": session.device_type.value,
                "label": session.device_label,
                "browser": session.browser,
                "os": session.os,
            },
            "ip_address": session.ip_address,
            "created_at": session.created_at.isoformat(),
            "expires_at": session.expires_at.isoformat(),
            "is_new_device": session.is_new_device,
        },
    }
