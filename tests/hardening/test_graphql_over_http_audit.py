"""The GraphQL-over-HTTP specification's audits (the `graphql-http` package's `serverAudits`, pinned in tests/node)
against a real server: every MUST and SHOULD passes; the MAYs refused for the security profile are exactly the
ones SECURITY.md lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.hardening.conftest import deploy
from tests.support.node import ensure_node_modules, run_node_json

pytestmark = pytest.mark.slow

# MAY audits refused on purpose (SECURITY.md, "GraphQL over HTTP"): a GET runs no operation.
REFUSED_MAYS = {
    "5A70": "GET queries",
    "D6D5": "GET variables (graphql-response+json)",
    "6A70": "GET variables (json)",
}
# Production serves no introspection; these audits query `__type`.
INTROSPECTION_AUDITS = {"2EA1", "28B9"}


def audit(directory: Path, **env: str) -> list[dict[str, Any]]:
    ensure_node_modules()
    deployed = deploy(directory, users=())  # the audits need no user
    try:
        server = deployed.start(**env)
        results: list[dict[str, Any]] = run_node_json("http_audit.mjs", {"url": f"{server.base_url}/graphql"})
        assert "Traceback" not in server.log()
        return results
    finally:
        deployed.stop()


def failures(results: list[dict[str, Any]]) -> dict[str, str]:
    return {result["id"]: f"{result['name']}: {result['reason']}" for result in results if result["status"] != "ok"}


def test_every_must_and_should_passes_in_development(tmp_path: Path) -> None:
    results = audit(tmp_path)
    assert len(results) > 50  # the whole list ran
    failed = failures(results)
    assert not {key: why for key, why in failed.items() if not why.startswith("MAY ")}
    assert set(failed) == set(REFUSED_MAYS), failed


def test_production_refuses_only_the_listed_mays_and_introspection(tmp_path: Path) -> None:
    failed = failures(audit(tmp_path, ENVIRONMENT="production"))
    assert set(failed) == set(REFUSED_MAYS) | INTROSPECTION_AUDITS, failed
