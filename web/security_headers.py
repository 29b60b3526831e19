"""Browser hardening headers on every HTTP answer (pure ASGI).

- `Content-Security-Policy`: the console's policy (everything from this origin, no inline script) with
  `frame-ancestors 'none'`, which only a header can carry: no other site may frame the console and trick a click
  on its Log Out buttons. GraphQL answers get `frame-ancestors 'none'` alone, so that GraphiQL (development only)
  keeps its scripts.
- `X-Frame-Options: DENY` (the same for browsers without `frame-ancestors`), `X-Content-Type-Options: nosniff`,
  `Referrer-Policy: no-referrer`.
- `Strict-Transport-Security` in production (behind TLS there; a development server on plain HTTP must not pin).
- `Cache-Control: no-store` on GraphQL and OAuth answers, which carry tokens and personal data."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONSOLE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
API_POLICY = "frame-ancestors 'none'"
HSTS = "max-age=63072000; includeSubDomains"
NO_STORE_PREFIXES = ("/graphql", "/oauth", "/.well-known/oauth")

_COMMON = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


def is_api_path(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in NO_STORE_PREFIXES)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self._production = production

    def headers_for(self, path: str) -> list[tuple[bytes, bytes]]:
        api = is_api_path(path)
        headers = [*_COMMON, (b"content-security-policy", (API_POLICY if api else CONSOLE_POLICY).encode())]
        if api:
            headers.append((b"cache-control", b"no-store"))
        if self._production:
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = self.headers_for(scope["path"])
        names = {name for name, _ in added}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(name, value) for name, value in message.get("headers", []) if name.lower() not in names]
                message["headers"] = [*kept, *added]
            await send(message)

        await self.app(scope, receive, send_with_headers)
