"""Federation fixtures: this service and a second subgraph as real processes, a real composer, a real gateway."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.hardening.conftest import EVERYONE, seed
from tests.support.live_server import PROJECT_ROOT, LiveServer, free_port
from tests.support.node import NODE_DIR, ensure_node_modules, run_node_json

SDL_QUERY = "{ _service { sdl } }"
GATEWAY_BIN = "node_modules/@graphql-hive/gateway/dist/bin.js"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return ensure_node_modules()


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not up within {timeout}s:\n{log.read_text()[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def served_sdl(graphql_url: str) -> str:
    answer = httpx.post(graphql_url, json={"query": SDL_QUERY}, timeout=10)
    assert answer.status_code == 200, answer.text
    sdl: str = answer.json()["data"]["_service"]["sdl"]
    return sdl


@dataclass
class Subgraph:
    name: str
    url: str  # the GraphQL endpoint

    @property
    def base_url(self) -> str:
        return self.url.removesuffix("/graphql")

    def definition(self) -> dict[str, str]:
        """What a composer needs: name, routing URL and the SDL this running subgraph serves."""
        return {"name": self.name, "url": self.url, "sdl": served_sdl(self.url)}


@dataclass
class Subgraphs:
    sessions: LiveServer
    profiles: Subgraph
    user_ids: dict[str, str]

    @property
    def all(self) -> list[Subgraph]:
        return [Subgraph("sessions", f"{self.sessions.base_url}/graphql"), self.profiles]


@pytest.fixture
def user_ids(tmp_path: Path) -> dict[str, str]:
    """Two accounts: acme (two members and an administrator) and other (an administrator); email -> id."""
    return asyncio.run(seed(f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}", EVERYONE))


@pytest.fixture
def sessions_subgraph(start_server: Callable[..., LiveServer], tmp_path: Path, user_ids: dict[str, str]) -> LiveServer:
    """This service, on the seeded database."""
    return start_server(
        {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}", "BROADCAST_URL": "memory://"}
    )


@pytest.fixture
def subgraphs(sessions_subgraph: LiveServer, user_ids: dict[str, str], tmp_path: Path) -> Iterator[Subgraphs]:
    """This service (the `sessions` subgraph) and the `profiles` subgraph, running."""
    port = free_port()
    log = tmp_path / "profiles.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.federation.profiles_subgraph", str(port)],
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process, log)
        yield Subgraphs(sessions_subgraph, Subgraph("profiles", f"http://127.0.0.1:{port}/graphql"), user_ids)
    finally:
        stop(process)


def compose(subgraphs: list[Subgraph]) -> dict[str, Any]:
    """Both composers' results (see tests/node/compose.mjs)."""
    result: dict[str, Any] = run_node_json("compose.mjs", {"subgraphs": [s.definition() for s in subgraphs]})
    return result


@dataclass
class Gateway:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def gateway(subgraphs: Subgraphs, node_modules: Path, tmp_path: Path) -> Iterator[Gateway]:
    """Hive Gateway (tests/node/gateway.config.mjs) over a supergraph composed from the running subgraphs."""
    composed = compose(subgraphs.all)
    assert composed["guild"]["errors"] == [], composed["guild"]["errors"]
    supergraph = tmp_path / "supergraph.graphql"
    supergraph.write_text(composed["guild"]["supergraphSdl"])
    port = free_port()
    log = tmp_path / "gateway.log"
    command = [
        "node", GATEWAY_BIN, "supergraph", str(supergraph), "-c", "gateway.config.mjs",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=NODE_DIR, env={**os.environ, "NO_COLOR": "1"}, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/readiness", process, log)
        yield Gateway(port, process, log)
    finally:
        stop(process)
