"""The benchmark suite: runs P1-P6 against real server processes and prints one JSON document.

    .venv/bin/python -m bench            # full scale (about 15-25 minutes on 2 cores)
    .venv/bin/python -m bench --quick    # scaled down (a few minutes); BENCH_QUICK=1 does the same
    .venv/bin/python -m bench --smoke    # tiny N: checks the harness runs (tests/bench/test_bench_smoke.py)

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust), Redis on 127.0.0.1:6379, Node 20 + npm (the
websocket receivers; `npm ci` runs in bench/ on first use) and, for P4, `wrk` when installed (else a
multi-process Python load generator). Progress goes to stderr, the JSON document to stdout."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import PROFILES, QUICK, Profile, clean, log
from bench.database import SeededAccount, Seeder, fresh_database
from bench.fanout import p1_fanout, p2_across_instances, p6_isolation
from bench.memory import p3_memory
from bench.processes import (
    PROJECT_ROOT,
    ManagedProcess,
    raise_file_limit,
    raw_broadcast,
    raw_starlette,
    service,
    start_all,
)
from bench.pyspy import PySpy
from bench.query import SESSIONS, p4_query
from bench.receivers import ReceiverPool
from bench.revocation import p5_revocation

FIGURES = ("P1", "P2", "P3", "P4", "P5", "P6")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
READY: dict[str, str | None] = {
    "single": "/readyz",
    "memory": "/readyz",
    "fleet-a": "/readyz",
    "fleet-b": "/readyz",
    "raw-starlette": "/healthz",
}


class Accounts:
    """Every account the phases use, seeded before any server starts."""

    def __init__(self) -> None:
        self.p1: SeededAccount
        self.p2: SeededAccount
        self.p3: SeededAccount
        self.p4: SeededAccount
        self.p4_token: str
        self.p5: SeededAccount
        self.p6: SeededAccount
        self.p6_bystanders: list[SeededAccount] = []


async def seed(database_url: str, profile: Profile, only: set[str]) -> Accounts:
    seeder = Seeder(database_url)
    accounts = Accounts()
    try:
        if "P1" in only:
            per_round = math.ceil(profile.p1_trials / profile.p1_rounds)
            victims = profile.p1_rounds * len(profile.p1_sizes) * (per_round + 14)
            accounts.p1 = await seeder.account("p1", admins=max(profile.p1_sizes), victims=victims)
        if "P2" in only:
            accounts.p2 = await seeder.account("p2", admins=profile.p2_subscribers, victims=profile.p2_trials + 14)
        if "P3" in only:
            accounts.p3 = await seeder.account("p3", admins=profile.p3_subscriptions, victims=4)
        if "P4" in only:
            accounts.p4 = await seeder.account("p4", admins=1)
            accounts.p4_token = (await seeder.user_with_sessions(accounts.p4, "reader", SESSIONS))[-1].token
        if "P5" in only:
            trials = profile.p5_trials * 2
            accounts.p5 = await seeder.account("p5", admins=1, victims=trials, victim_users=trials)
        if "P6" in only:
            accounts.p6 = await seeder.account("p6", admins=profile.p6_main, victims=2 * profile.p6_trials + 14)
            remaining, index = profile.p6_bystanders, 0
            while remaining > 0:
                size = min(profile.p6_per_account, remaining)
                accounts.p6_bystanders.append(await seeder.account(f"p6-other-{index}", admins=size, victims=3))
                remaining -= size
                index += 1
    finally:
        await seeder.close()
    return accounts


class Suite:
    def __init__(self, profile: Profile, only: set[str], log_dir: Path, py_spy_dir: Path | None) -> None:
        self.profile = profile
        self.only = only
        self.log_dir = log_dir
        self.py_spy = PySpy(py_spy_dir)
        self.figures: dict[str, dict[str, Any]] = {}
        self.processes: list[ManagedProcess] = []
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}"

    async def start(self, *processes: ManagedProcess) -> None:
        self.processes.extend(processes)
        await start_all(list(processes), READY)

    async def stop(self, *processes: ManagedProcess) -> None:
        await asyncio.gather(*(process.stop() for process in processes))

    async def phase(self, key: str, pool: ReceiverPool, work: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        if key not in self.only:
            return
        started = time.monotonic()
        try:
            self.figures[key] = await work()
        except Exception as exc:
            log(f"{key} failed: {exc!r}\n{traceback.format_exc()}")
            self.figures[key] = {"error": repr(exc), "rows": [], "pass": False}
            with contextlib.suppress(Exception):
                await pool.close()
        self.figures[key]["seconds"] = round(time.monotonic() - started, 1)
        verdicts = ", ".join(
            f"{row['label']}: {row['value']} vs {row['baseline']} -> {row['pass']}" for row in self.figures[key]["rows"]
        )
        log(f"{key} done in {self.figures[key]['seconds']} s: {verdicts or self.figures[key].get('error')}")

    async def run(self, database_url: str, accounts: Accounts, pool: ReceiverPool) -> None:
        profile, only = self.profile, self.only
        raw = raw_broadcast("raw-broadcast", log_dir=self.log_dir)
        if only & {"P1", "P4", "P6"}:
            single = service(
                "single",
                database_url=database_url,
                broadcast_url="memory://",
                channel_prefix=self.prefix,
                log_dir=self.log_dir,
            )
            await self.start(single, raw)
            await self.phase("P1", pool, lambda: p1_fanout(profile, pool, single, raw, accounts.p1, self.py_spy))
            await self.phase(
                "P6", pool, lambda: p6_isolation(profile, pool, single, accounts.p6, accounts.p6_bystanders)
            )
            if "P4" in only:
                starlette = raw_starlette("raw-starlette", database_url=database_url, log_dir=self.log_dir)
                await self.start(starlette)
                async with self.py_spy.record("P4-service", single.pid, "P4" in only):
                    await self.phase("P4", pool, lambda: p4_query(profile, single, starlette, accounts.p4_token))
                await self.stop(starlette)
            await self.stop(single)
        if "P3" in only:
            fresh = service(
                "memory",
                database_url=database_url,
                broadcast_url="memory://",
                channel_prefix=self.prefix,
                log_dir=self.log_dir,
            )
            fresh_raw = raw_broadcast("raw-memory", log_dir=self.log_dir)
            await self.start(fresh, fresh_raw)
            await self.phase("P3", pool, lambda: p3_memory(profile, pool, fresh, fresh_raw, accounts.p3))
            await self.stop(fresh, fresh_raw)
        if only & {"P2", "P5"}:
            fleet = {
                name: service(
                    f"fleet-{name.lower()}",
                    database_url=database_url,
                    broadcast_url=REDIS_URL,
                    channel_prefix=self.prefix,
                    log_dir=self.log_dir,
                )
                for name in ("A", "B")
            }
            await self.start(*fleet.values(), *([raw] if raw.process is None else []))
            await self.phase(
                "P2", pool, lambda: p2_across_instances(profile, pool, fleet, raw, accounts.p2, self.py_spy)
            )
            await self.phase(
                "P5", pool, lambda: p5_revocation(profile, pool, fleet["A"], fleet["B"], accounts.p5, database_url)
            )
            await self.stop(*fleet.values())
        await self.stop(raw)

    async def stop_all(self) -> None:
        await self.stop(*self.processes)


def machine() -> dict[str, Any]:
    def command(*argv: str) -> str:
        try:
            return subprocess.run(argv, check=False, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    status = command("git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no")
    return {
        "git_commit": command("git", "-C", str(PROJECT_ROOT), "rev-parse", "--short", "HEAD"),
        "git_uncommitted_changes": bool(status),
        "nproc": int(command("nproc") or os.cpu_count() or 0),
        "cpu": model,
        "free_h": command("free", "-h"),
        "load_average_at_start": list(os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "node": command("node", "--version"),
        "wrk": command("wrk", "--version").splitlines()[0] if shutil.which("wrk") else None,
    }


def versions() -> dict[str, str]:
    found = {}
    for package in (
        "strawberry-graphql",
        "fastapi",
        "starlette",
        "uvicorn",
        "websockets",
        "sqlalchemy",
        "asyncpg",
        "redis",
        "broadcaster",
    ):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found[package] = importlib.metadata.version(package)
    return found


@contextlib.asynccontextmanager
async def receivers(profile: Profile) -> AsyncIterator[ReceiverPool]:
    pool = await ReceiverPool.start(profile.receivers)
    try:
        yield pool
    finally:
        await pool.stop()


async def run_suite(profile: Profile, only: set[str], log_dir: Path, py_spy_dir: Path | None) -> dict[str, Any]:
    file_limit = raise_file_limit()
    started_at = datetime.now(UTC)
    started = time.monotonic()
    info = machine()
    suite = Suite(profile, only, log_dir, py_spy_dir)
    log(f"profile {profile.name}, figures {sorted(only)}, logs in {log_dir}, file limit {file_limit}")
    try:
        async with fresh_database() as database_url:
            accounts = await seed(database_url, profile, only)
            log(f"seeded in {time.monotonic() - started:.1f} s")
            async with receivers(profile) as pool:
                try:
                    await suite.run(database_url, accounts, pool)
                finally:
                    await suite.stop_all()
    finally:
        await suite.stop_all()
    rows = [{"figure": key, **row} for key in FIGURES if key in suite.figures for row in suite.figures[key]["rows"]]
    document: dict[str, Any] = clean(
        {
            "suite": "active-sessions benchmarks",
            "profile": profile.name,
            "started_at": started_at.isoformat(timespec="seconds"),
            "duration_seconds": round(time.monotonic() - started, 1),
            "machine": info,
            "versions": versions(),
            "settings": profile.as_dict(),
            "results": rows,
            "figures": {key: suite.figures[key] for key in FIGURES if key in suite.figures},
            "all_targets_met": all(suite.figures.get(key, {}).get("pass", False) for key in only),
            "errors": {key: figure["error"] for key, figure in suite.figures.items() if "error" in figure},
            "logs": str(log_dir),
        }
    )
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--quick", action="store_true", help="scaled-down N (also BENCH_QUICK=1)")
    scale.add_argument("--smoke", action="store_true", help="tiny N, to check the harness runs")
    parser.add_argument("--only", default=",".join(FIGURES), help="comma-separated figures, e.g. P1,P4")
    parser.add_argument("--receivers", type=int, help="Node receiver processes (default: 2, smoke: 1)")
    parser.add_argument("--output", type=Path, help="also write the JSON document here")
    parser.add_argument("--log-dir", type=Path, help="server logs (default: a new temporary directory)")
    parser.add_argument("--py-spy", type=Path, metavar="DIR", help="py-spy the service during P1's largest N, P2, P4")
    arguments = parser.parse_args(argv)
    if arguments.smoke:
        profile = PROFILES["smoke"]
    elif arguments.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0"):
        profile = QUICK
    else:
        profile = PROFILES["full"]
    if arguments.receivers:
        profile = dataclasses.replace(profile, receivers=arguments.receivers)
    only = {key.strip().upper() for key in arguments.only.split(",") if key.strip()}
    unknown = only - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures: {sorted(unknown)}")
    log_dir = arguments.log_dir or Path(tempfile.mkdtemp(prefix="as-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    document = asyncio.run(run_suite(profile, only, log_dir, arguments.py_spy))
    text = json.dumps(document, indent=2)
    if arguments.output:
        arguments.output.write_text(text + "\n")
    print(text, flush=True)
    return 1 if document["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
