"""W1: webhook delivery lag from commit, p99, under 50 session changes per second to 5 endpoints (target 1 s).

`python -m bench.webhooks [--quick] [--database-url URL]`: a real receiver process (the one the tests use,
verifying every signature), an instance's delivery worker, and session status changes committed at a steady
rate through the service layer. Lag: the receiver's arrival time minus the event's commit time. Prints JSON."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlmodel import col

from core.settings import Settings
from models import LoginSession, SessionStatus
from server import open_runtime
from services.accounts import create_user
from services.session_store import set_status_where

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RECEIVER = PROJECT_ROOT / "tests" / "support" / "webhook_receiver.py"
TARGET_SECONDS = 1.0


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run(*, database_url: str, rate: float, seconds: float, endpoints: int, sessions: int) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        webhook_allow_http=True,
        webhook_allow_private_targets=True,
        webhook_poll_seconds=0.05,
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    port, log = free_port(), workdir / "received.jsonl"
    async with open_runtime(settings, run_sweeper=False, run_webhooks=True) as runtime:
        await create_user(runtime.database, email="bench@w1.test", password="bench-password", account_name="w1")
        ids = []
        for _ in range(sessions):
            login = await runtime.services.access.login(
                email="bench@w1.test",
                password="bench-password",
                device_name=None,
                user_agent=None,
                ip_address="203.0.113.9",
            )
            ids.append(login.session.id)
        admin_viewer = await runtime.services.access.authenticate(login.token)
        secrets: list[str] = []
        for index in range(endpoints):
            created = await runtime.services.webhooks.create(
                account_id=admin_viewer.account_id, url=f"http://127.0.0.1:{port}/e{index}", event_types=None
            )
            secrets += ["--secret", f"/e{index}={created.secret}"]
        receiver = subprocess.Popen(
            [sys.executable, str(RECEIVER), "--port", str(port), "--log", str(log), *secrets], stdout=subprocess.PIPE
        )
        try:
            assert receiver.stdout is not None and receiver.stdout.readline().strip() == b"ready"
            committed: dict[int, float] = {}
            changes = int(rate * seconds)
            started = time.monotonic()
            for n in range(changes):
                await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
                status = SessionStatus.IDLE if (n // sessions) % 2 == 0 else SessionStatus.ACTIVE
                async with runtime.database.session() as db, db.begin():
                    _, events = await set_status_where(db, col(LoginSession.id) == ids[n % sessions], status)
                now = time.time()
                committed.update({event.id: now for event in events})
            expected = len(committed) * endpoints
            deadline = time.monotonic() + 60
            received: list[dict[str, Any]] = []
            while time.monotonic() < deadline:
                received = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
                if sum(1 for r in received if r["event_id"] in committed and r["status"] == 200) >= expected:
                    break
                await asyncio.sleep(0.1)
        finally:
            receiver.kill()
            receiver.wait(5)
    lags = sorted(r["received_at"] - committed[r["event_id"]] for r in received if r["event_id"] in committed)
    p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))] if lags else float("inf")
    return {
        "figure": "W1",
        "metric": "webhook delivery lag from commit, p99 (s)",
        "changes_per_second": rate,
        "endpoints": endpoints,
        "deliveries": len(lags),
        "expected": len(committed) * endpoints,
        "all_verified": all(r["verified"] for r in received),
        "p50": statistics.median(lags) if lags else None,
        "value": p99,
        "target": f"<= {TARGET_SECONDS} s",
        "pass": bool(lags) and p99 <= TARGET_SECONDS and len(lags) >= len(committed) * endpoints,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds at a small size (smoke run)")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    database_url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='bench-w1-')}/w1.db"
    seconds, rate = (2.0, 10.0) if args.quick else (60.0, 50.0)
    result = asyncio.run(run(database_url=database_url, rate=rate, seconds=seconds, endpoints=5, sessions=4))
    result["profile"] = "quick" if args.quick else "full"
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
