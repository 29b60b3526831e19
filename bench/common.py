"""What the phases share: the scale profiles, the console's GraphQL documents, logging, small helpers."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from bench.httpclient import HttpConnection

# The console's documents (static/console.js): its session fields, list query and live panel.
SESSION_FIELDS = """
  id status createdAt durationSeconds ipAddress isCurrent
  device { type label browser os }
  user { id email }"""
ACTIVE_SESSIONS_QUERY = f"""
query ActiveSessions($allUsers: Boolean, $first: Int, $after: String) {{
  activeSessions(allUsers: $allUsers, first: $first, after: $after) {{
    totalCount
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {SESSION_FIELDS} }}
  }}
}}"""
SESSION_EVENTS_SUBSCRIPTION = f"""
subscription SessionEvents($allUsers: Boolean, $after: ID) {{
  sessionEvents(allUsers: $allUsers, after: $after) {{
    id type occurredAt
    session {{ {SESSION_FIELDS} }}
  }}
}}"""
LOGIN_MUTATION = "mutation Login($input: LoginInput!) { login(input: $input) { token session { id } } }"
LOGOUT_SESSION_MUTATION = "mutation LogoutSession($id: ID!) { logoutSession(id: $id) { session { id status } } }"


@dataclass(frozen=True)
class Profile:
    name: str
    p1_sizes: tuple[int, ...]
    p1_trials: int  # measured trials per variant and size, over all rounds
    p1_rounds: int
    p2_subscribers: int
    p2_trials: int
    p3_subscriptions: int
    p3_steps: int
    p3_cycles: int
    p4_seconds: float
    p4_rounds: int
    p4_connections: int
    p5_trials: int
    p6_main: int
    p6_bystanders: int
    p6_per_account: int
    p6_trials: int
    receivers: int
    pause: float  # idle time between trials
    settle: float  # idle time before reading memory or after connecting many sockets

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FULL = Profile(
    name="full",
    p1_sizes=(100, 1000, 2000),
    p1_trials=30,
    p1_rounds=2,
    p2_subscribers=10_000,
    p2_trials=20,
    p3_subscriptions=2000,
    p3_steps=4,
    p3_cycles=5,
    p4_seconds=5,
    p4_rounds=3,
    p4_connections=32,
    p5_trials=50,
    p6_main=100,
    p6_bystanders=9900,
    p6_per_account=100,
    p6_trials=30,
    receivers=2,
    pause=0.3,
    settle=2.0,
)
QUICK = Profile(
    name="quick",
    p1_sizes=(100, 500, 1000),
    p1_trials=16,
    p1_rounds=1,
    p2_subscribers=2000,
    p2_trials=10,
    p3_subscriptions=1000,
    p3_steps=4,
    p3_cycles=3,
    p4_seconds=3,
    p4_rounds=2,
    p4_connections=32,
    p5_trials=20,
    p6_main=100,
    p6_bystanders=1900,
    p6_per_account=100,
    p6_trials=16,
    receivers=2,
    pause=0.2,
    settle=1.0,
)
SMOKE = Profile(
    name="smoke",
    p1_sizes=(5,),
    p1_trials=2,
    p1_rounds=1,
    p2_subscribers=6,
    p2_trials=2,
    p3_subscriptions=5,
    p3_steps=1,
    p3_cycles=1,
    p4_seconds=1,
    p4_rounds=1,
    p4_connections=4,
    p5_trials=2,
    p6_main=5,
    p6_bystanders=10,
    p6_per_account=5,
    p6_trials=2,
    receivers=1,
    pause=0.05,
    settle=0.3,
)
PROFILES = {profile.name: profile for profile in (FULL, QUICK, SMOKE)}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(connection: HttpConnection, email: str, password: str) -> str:
    """A real login through the mutation; returns the bearer token."""
    answer = await connection.post_json(
        "/graphql",
        {"query": LOGIN_MUTATION, "variables": {"input": {"email": email, "password": password}}},
        {"User-Agent": "active-sessions-bench"},
    )
    payload = answer.json()
    if answer.status != 200 or payload.get("errors"):
        raise RuntimeError(f"login of {email} failed: {answer.status} {payload}")
    return str(payload["data"]["login"]["token"])
