"""Style and layering are checked like behaviour: ruff, mypy --strict, and the dependency rules."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ["core", "models", "schema", "resolvers", "services", "bus", "web", "observability", "tools"]

# package -> top-level modules it must never import
FORBIDDEN_IMPORTS = {
    "models": {"strawberry", "fastapi", "starlette", "broadcaster", "schema", "resolvers", "services", "bus", "web"},
    "core": {"strawberry", "fastapi", "starlette", "broadcaster", "schema", "resolvers", "services", "bus", "web"},
    "services": {"strawberry", "fastapi", "starlette", "broadcaster", "schema", "resolvers", "bus", "web"},
    "resolvers": {"broadcaster", "sqlalchemy", "sqlmodel", "bus", "web", "models"},
    "schema": {"broadcaster", "sqlalchemy", "sqlmodel", "bus", "web"},
    "observability": {"strawberry", "fastapi", "starlette", "broadcaster", "schema", "resolvers", "bus", "web"},
}
BROADCASTER_ALLOWED = {"bus/transport.py"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_dependency_direction(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_modules(path) & FORBIDDEN_IMPORTS[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}


def test_only_the_bus_transport_layer_imports_broadcaster() -> None:
    importers = {
        str(path.relative_to(ROOT))
        for folder in [*SOURCE_DIRS, "tests"]
        for path in (ROOT / folder).rglob("*.py")
        if "broadcaster" in imported_modules(path)
    }
    allowed = {p for p in importers if p in BROADCASTER_ALLOWED or p.startswith(("bus/backends/", "tests/bus/"))}
    assert importers == allowed


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    targets = [*SOURCE_DIRS, "server.py", "tests", "migrations/env.py"]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *targets], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
