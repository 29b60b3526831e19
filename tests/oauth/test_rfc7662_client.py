"""An RFC 7662 client library (Authlib) against the endpoint, as a resource server would use it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from authlib.integrations.httpx_client import AsyncOAuth2Client

from tests.conftest import PASSWORD
from tests.oauth.conftest import OAuthService
from tests.support.graphql_http import login

# Authlib 1.9 prefers the httpx2 package and warns when it falls back to httpx.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning")]


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
async def test_authlib_introspects_with_either_auth_method(
    oauth_service: Callable[..., OAuthService], auth_method: str
) -> None:
    service = oauth_service()
    client_id, secret = service.client("resource server")
    token, session = await login(service.server.base_url, "ana@acme.test", PASSWORD)
    async with AsyncOAuth2Client(client_id, secret, token_endpoint_auth_method=auth_method) as oauth:
        answer = await oauth.introspect_token(service.introspection_url, token=token, token_type_hint="access_token")
        assert answer.status_code == 200, answer.text
        assert answer.json()["active"] is True and answer.json()["sid"] == session["id"]
        await service.logout(token, session["id"])
        ended = await oauth.introspect_token(service.introspection_url, token=token)
        assert ended.json() == {"active": False}
    async with AsyncOAuth2Client(client_id, "wrong", token_endpoint_auth_method=auth_method) as oauth:
        refused = await oauth.introspect_token(service.introspection_url, token=token)
        assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
