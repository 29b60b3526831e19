"""Client tests: a real server process with one account, and the pinned Node.js clients."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.hardening.conftest import seed
from tests.support.live_server import LiveServer
from tests.support.node import ensure_node_modules

ANA = ("ana@acme.test", False, "acme")


@pytest.fixture(scope="session")
def node_modules() -> Path:
    return ensure_node_modules()


@pytest.fixture
def server(start_server: Callable[..., LiveServer], tmp_path: Path) -> LiveServer:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sessions.db'}"
    asyncio.run(seed(url, (ANA,)))
    return start_server({"DATABASE_URL": url, "BROADCAST_URL": "memory://"})
