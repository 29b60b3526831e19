"""The schema keeps the contract, and the committed SDL matches the code."""

from pathlib import Path

from graphql import build_schema, find_breaking_changes

from core.settings import Settings
from schema.build import build_schema as build_service_schema

ROOT = Path(__file__).resolve().parents[1]


def test_schema_has_no_breaking_change_against_the_contract() -> None:
    contract = build_schema((ROOT / "contract" / "schema.graphql").read_text())
    ours = build_service_schema(Settings(_env_file=None))._schema
    assert find_breaking_changes(contract, ours) == []


def test_committed_sdl_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == build_service_schema(Settings(_env_file=None)).as_str() + "\n", (
        "schema.graphql is stale: run `python -m tools.print_schema > schema.graphql`"
    )


def test_the_contract_copy_matches_the_shared_contract_when_present() -> None:
    shared = ROOT.parent / "shared" / "contract" / "schema.graphql"
    if shared.exists():
        assert (ROOT / "contract" / "schema.graphql").read_text() == shared.read_text()
