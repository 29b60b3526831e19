"""The subgraph SDL a running instance serves is the committed one, and it composes with a second subgraph that
extends `User`, under Apollo's composer (rover, Apollo Router) and The Guild's (Hive), with no error and no
hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.federation.conftest import Subgraphs, compose, served_sdl
from tests.support.live_server import PROJECT_ROOT, LiveServer

pytestmark = pytest.mark.slow


def test_the_served_subgraph_sdl_is_the_committed_schema(sessions_subgraph: LiveServer) -> None:
    committed = (PROJECT_ROOT / "schema.graphql").read_text()
    served = served_sdl(f"{sessions_subgraph.base_url}/graphql")  # no token: gateways and rover fetch it so
    assert served + "\n" == committed
    assert 'schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])' in served
    assert 'type Session @key(fields: "id")' in served and 'type User @key(fields: "id")' in served


def test_composes_with_a_subgraph_that_extends_user(subgraphs: Subgraphs, node_modules: Path) -> None:
    composed = compose(subgraphs.all)
    apollo, guild = composed["apollo"], composed["guild"]
    assert apollo["errors"] == [] and guild["errors"] == []
    assert apollo["hints"] == []  # hints flag shapes that compose but misbehave (e.g. inconsistent fields)
    for supergraph in (apollo["supergraphSdl"], guild["supergraphSdl"]):
        assert '@join__type(graph: PROFILES, key: "id")' in supergraph
        assert '@join__type(graph: SESSIONS, key: "id")' in supergraph
        assert "subscription: Subscription" in supergraph
        assert "_entities" not in supergraph.split("type Query", 1)[1].split("}", 1)[0]
