"""`_service { sdl }` prints the whole schema, as introspection does: production refuses both (compose from the
committed schema.graphql); development serves it to gateways and composers."""

from __future__ import annotations

from tests.hardening.conftest import schema_for
from tests.support.live_server import PROJECT_ROOT

SDL = "{ _service { sdl } }"


async def test_production_refuses_the_subgraph_sdl_like_introspection() -> None:
    refused = await schema_for(environment="production").execute(SDL)
    assert refused.data is None and refused.errors
    assert [error.extensions for error in refused.errors] == [{"code": "GRAPHQL_VALIDATION_FAILED"}]
    aliased = await schema_for(environment="production").execute("{ schema: _service { sdl } }")
    assert aliased.data is None and aliased.errors


async def test_development_serves_the_committed_sdl() -> None:
    served = await schema_for(environment="development").execute(SDL)
    assert served.errors is None and served.data is not None
    assert served.data["_service"]["sdl"] + "\n" == (PROJECT_ROOT / "schema.graphql").read_text()
