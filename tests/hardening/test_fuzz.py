"""Fuzzing a real server: generated GraphQL documents over HTTP, malformed websocket frames.

Whatever comes in: no 5xx, the process stays up, nothing crashes in its log, and every refusal carries a
code (`extensions.code` over HTTP, a 44xx close code on the websocket; 1009 for a frame over the size
limit, RFC 6455's own code for exactly that)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import graphql
import httpx
import pytest
from graphql import build_schema as parse_sdl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.hardening.conftest import ADMIN, MEMBER_A, Deployment, deploy
from tests.support.live_server import PROJECT_ROOT

pytestmark = pytest.mark.slow

# The committed SDL is the federation subgraph's: @link and @key are the gateway's directives, not graphql-core's.
SCHEMA = parse_sdl((PROJECT_ROOT / "schema.graphql").read_text(), assume_valid_sdl=True)
MAX_BYTES = 16 * 1024
FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,  # no .hypothesis/ folder in the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TRANSPORT = Subprotocol("graphql-transport-ws")
LEGACY = Subprotocol("graphql-ws")


def _field(name: str, value: graphql.ValueNode) -> graphql.ObjectFieldNode:
    return graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=value)


# `_entities(representations: [_Any!]!)`: entity references, well formed or not, and other values.
REPRESENTATIONS = st.builds(
    lambda typename, key: nodes.Object([_field("__typename", typename), _field("id", key)]),
    st.sampled_from(["Session", "User", "Query", "Device"]).map(nodes.String) | st.text(max_size=10).map(nodes.String),
    st.text(max_size=40).map(nodes.String) | st.integers().map(nodes.Int) | st.just(nodes.Null),
) | st.text(max_size=10).map(nodes.String)
CUSTOM_SCALARS = {"_Any": REPRESENTATIONS}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


class Target:
    """The server under fuzz, with a pool of valid tokens (logged in again when a fuzzed logout ends one)."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.server = deployment.servers[0]
        self.http = httpx.Client(base_url=self.server.base_url, timeout=15)
        self.tokens = {email: self.login(email) for email in (MEMBER_A[0], ADMIN[0])}

    def login(self, email: str) -> str:
        query = "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { token } }"
        answer = self.http.post(
            "/graphql", json={"query": query, "variables": {"e": email, "p": "correct horse battery"}}
        )
        token: str = answer.json()["data"]["login"]["token"]
        return token

    def post(self, body: object, token: str | None = None, **headers: str) -> httpx.Response:
        if token:
            headers["authorization"] = f"Bearer {token}"
        return self.http.post("/graphql", json=body, headers=headers)

    def alive(self) -> None:
        assert self.server.process is not None and self.server.process.poll() is None, "the server died"
        assert self.http.get("/healthz").status_code == 200

    def refresh(self) -> None:
        for email, token in self.tokens.items():
            answer = self.post({"query": "{ viewer { id } }"}, token)
            if answer.json().get("errors"):
                self.tokens[email] = self.login(email)


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    deployed = deploy(tmp_path_factory.mktemp("fuzz"))
    deployed.start(MAX_REQUEST_BYTES=str(MAX_BYTES), LOGIN_ATTEMPTS_PER_ADDRESS="1000")
    fuzzed = Target(deployed)
    yield fuzzed
    fuzzed.alive()
    fuzzed.http.close()
    deployed.stop()
    log = deployed.servers[0].log()
    for crash in ("Traceback", "Exception in ASGI application", "Exception in worker task"):
        assert crash not in log, f"the server logged {crash!r}:\n{log[-3000:]}"


def assert_coded(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text
    body = answer.json()
    assert isinstance(body, dict), body
    if answer.status_code != 200:
        assert body["errors"][0]["extensions"]["code"], body
    for error in body.get("errors") or ():
        assert isinstance(error["extensions"]["code"], str), error
        assert "Traceback" not in error["message"], error


@FUZZ
@given(document=from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS), who=st.sampled_from([None, MEMBER_A[0], ADMIN[0]]))
def test_valid_documents(target: Target, document: str, who: str | None) -> None:
    assert_coded(target.post({"query": document}, target.tokens[who] if who else None))
    if "logout" in document:
        target.refresh()


@FUZZ
@given(document=from_schema(SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE))
def test_documents_with_one_schema_violation(target: Target, document: str) -> None:
    answer = target.post({"query": document}, target.tokens[MEMBER_A[0]])
    assert_coded(answer)
    assert answer.json()["errors"], document


@FUZZ
@given(
    body=st.one_of(
        st.fixed_dictionaries({"query": st.text(max_size=200)}, optional={"variables": json_values}),
        st.fixed_dictionaries(
            {"query": st.sampled_from(["query($x: ID) { activeSessions(userId: $x) { totalCount } }"])},
            optional={"variables": json_values, "operationName": json_values, "extensions": json_values},
        ),
        json_values,
    )
)
def test_arbitrary_bodies(target: Target, body: Any) -> None:
    assert_coded(target.post(body, target.tokens[MEMBER_A[0]]))


def test_raw_and_oversized_bodies(target: Target) -> None:
    bodies = [
        b"",
        b"{",
        b"\xff\xfe",
        b"[" * 10_000,  # deeper than the JSON parser's recursion limit
        b'{"query": ' + b"1" * 5_000 + b"}",  # more digits than Python converts
        json.dumps({"query": "{ viewer { id } }", "pad": "x" * (MAX_BYTES + 1)}).encode(),
        json.dumps({"query": "{" * 3_000 + "}" * 3_000}).encode(),
    ]
    for body in bodies:
        assert_coded(target.http.post("/graphql", content=body, headers={"content-type": "application/json"}))
    target.alive()


@contextmanager
def socket_for(target: Target, protocol: Subprotocol = TRANSPORT, *, init: bool = True) -> Iterator[ClientConnection]:
    with connect(target.server.ws_url, subprotocols=[protocol], max_size=None, open_timeout=10) as ws:
        if init:
            token = target.tokens[MEMBER_A[0]]
            ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
            assert json.loads(ws.recv(timeout=5))["type"] == "connection_ack"
        yield ws


def outcome(ws: ClientConnection, frames: list[str | bytes], *, probe: bool = True) -> int | None:
    """Send the frames; the close code, or None when the socket still answers a ping afterwards."""
    try:
        for frame in frames:
            ws.send(frame)
        if probe:
            ws.send(json.dumps({"type": "ping"}))
        while True:
            message = json.loads(ws.recv(timeout=5))
            if message.get("type") in ("pong", "ka"):
                ws.close()
                return None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        ws.close()
        return None


def subscribe(operation_id: object = "1", payload: object = None) -> str:
    payload = {"query": "subscription { sessionEvents { id } }"} if payload is None else payload
    return json.dumps({"id": operation_id, "type": "subscribe", "payload": payload})


MALFORMED_FRAMES: dict[str, tuple[bool, list[str | bytes], int | None]] = {
    # name: (send connection_init first, frames, expected close code or None for "still open")
    "binary frame": (True, [b"\x00\x01\x02"], 4400),
    "invalid JSON": (True, ["{not json"], 4400),
    "JSON array": (True, ["[1, 2]"], 4400),
    "JSON number": (True, ["5"], 4400),
    "JSON null": (True, ["null"], 4400),
    "deeply nested JSON": (True, ["[" * 10_000], 4400),
    "4,301-digit number": (True, ["1" * 4_301], 4400),
    "no type": (True, ['{"id": "1"}'], 4400),
    "type not a string": (True, ['{"type": ["subscribe"]}'], 4400),
    "unknown type": (True, ['{"type": "reboot"}'], 4400),
    "unknown type with a 10 kB name": (True, [json.dumps({"type": "x" * 10_000})], 4400),
    "subscribe before init": (False, [subscribe()], 4401),
    "init payload not an object": (False, ['{"type": "connection_init", "payload": [1]}'], 4400),
    "second init": (True, ['{"type": "connection_init", "payload": {}}'], 4429),
    "duplicate operation id": (True, [subscribe(), subscribe()], 4409),
    "id not a string": (True, [subscribe(["1"])], 4400),
    "empty id": (True, [subscribe("")], 4400),
    "payload a string": (True, [subscribe("1", "query")], 4400),
    "query a number": (True, [subscribe("1", {"query": 42})], 4400),
    "variables a list": (
        True,
        [subscribe("1", {"query": "subscription { sessionEvents { id } }", "variables": []})],
        4400,
    ),
    "syntax error with a long message": (True, [subscribe("1", {"query": "subscription { " + "a" * 500 + " !"})], 4400),
    "complete without id": (True, ['{"type": "complete"}'], 4400),
    "complete for an unknown id": (True, ['{"type": "complete", "id": "nope"}'], None),
    "frame over the size limit": (True, [json.dumps({"type": "ping", "payload": {"pad": "x" * MAX_BYTES}})], 1009),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_FRAMES))
def test_malformed_websocket_frames_close_with_a_code(target: Target, name: str) -> None:
    init, frames, expected = MALFORMED_FRAMES[name]
    with socket_for(target, init=init) as ws:  # an expected close is awaited; "still open" is probed with a ping
        assert outcome(ws, frames, probe=expected is None) == expected
    target.alive()


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (["[1]"], 4400),
        (['{"type": 1}'], 4400),
        (['{"type": "start", "id": "1", "payload": "x"}'], 4400),
        (['{"type": "start", "id": ["1"], "payload": {"query": "{ viewer { id } }"}}'], 4400),
        (['{"type": "stop"}'], 4400),
        ([b"\x00"], 1002),  # Strawberry's own code for a binary frame on the legacy protocol
    ],
)
def test_malformed_legacy_protocol_frames(target: Target, frames: list[str | bytes], expected: int) -> None:
    with socket_for(target, LEGACY, init=False) as ws:
        assert outcome(ws, frames, probe=False) == expected
    target.alive()


@FUZZ
@given(
    message=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"type": st.sampled_from(["subscribe", "complete", "ping", "pong", "connection_init", "next", "error"])},
            optional={"id": json_values, "payload": json_values},
        ),
    )
)
def test_arbitrary_websocket_messages(target: Target, message: Any) -> None:
    with socket_for(target) as ws:
        code = outcome(ws, [json.dumps(message)])
    assert code is None or 4400 <= code <= 4499, (code, message)
