"""P4: `activeSessions` throughput (20 sessions, the console's full selection) against raw Starlette."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ACTIVE_SESSIONS_QUERY, Profile, bearer, log
from bench.httpclient import HttpConnection
from bench.processes import BENCH_DIR, HOST, PROJECT_ROOT, ManagedProcess
from bench.stats import percentile, ratio

SESSIONS = 20
LOAD_PROCESSES = 2  # for the Python fallback


def request_body() -> dict[str, Any]:
    return {
        "query": ACTIVE_SESSIONS_QUERY,
        "operationName": "ActiveSessions",
        "variables": {"allUsers": False, "first": 50, "after": None},
    }


async def check_answer(process: ManagedProcess, token: str) -> dict[str, Any]:
    """One request: the answer must hold the 20 sessions, every field, no error."""
    connection = HttpConnection(HOST, process.port)
    try:
        answer = await connection.post_json("/graphql", request_body(), bearer(token))
    finally:
        await connection.close()
    payload = answer.json()
    if answer.status != 200 or payload.get("errors"):
        raise RuntimeError(f"{process.name}: activeSessions failed: {answer.status} {payload}")
    listing = payload["data"]["activeSessions"]
    if listing["totalCount"] != SESSIONS or len(listing["nodes"]) != SESSIONS:
        raise RuntimeError(f"{process.name}: expected {SESSIONS} sessions, got {listing['totalCount']}")
    return {"bytes": len(answer.body), "node_fields": sorted(listing["nodes"][0])}


async def load(
    process: ManagedProcess, token: str, body_file: Path, seconds: float, connections: int
) -> dict[str, Any]:
    url = f"http://{HOST}:{process.port}/graphql"
    wrk = shutil.which("wrk") if os.environ.get("BENCH_WRK", "1") != "0" else None  # BENCH_WRK=0: Python load
    if wrk is not None:
        command = [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "-s",
            str(BENCH_DIR / "wrk_post.lua"),
            url,
        ]
        env = {**os.environ, "BENCH_BODY_FILE": str(body_file), "BENCH_TOKEN": token}
        runs = [await _run(command, env)]
        tool = "wrk"
    else:
        share = max(1, connections // LOAD_PROCESSES)
        command = [
            sys.executable, "-m", "bench.loadgen", "--port", str(process.port), "--body-file", str(body_file),
            "--token", token, "--connections", str(share), "--seconds", str(seconds),
        ]  # fmt: skip
        runs = await asyncio.gather(*(_run(command, dict(os.environ)) for _ in range(LOAD_PROCESSES)))
        tool = "python"
    requests = sum(int(run["requests"]) for run in runs)
    duration = max(int(run["duration_us"]) for run in runs) / 1e6
    errors = sum(int(v) for run in runs for k, v in run.items() if k.startswith("errors_"))
    return {
        "tool": tool,
        "requests": requests,
        "seconds": round(duration, 3),
        "rps": round(requests / duration, 1),
        "errors": errors,
    }


async def _run(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        *command, cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    lines = [line for line in out.decode().splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(
            f"load generator failed ({process.returncode}): {out.decode()[-2000:]} {err.decode()[-2000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    return result


async def p4_query(profile: Profile, service: ManagedProcess, raw: ManagedProcess, token: str) -> dict[str, Any]:
    log(f"P4: activeSessions ({SESSIONS} sessions) requests/s, {profile.p4_rounds} interleaved rounds")
    shapes = {"service": await check_answer(service, token), "baseline": await check_answer(raw, token)}
    if shapes["service"]["node_fields"] != shapes["baseline"]["node_fields"] or not (
        0.95 <= shapes["baseline"]["bytes"] / shapes["service"]["bytes"] <= 1.05
    ):
        raise RuntimeError(f"the raw endpoint does not answer like the service: {shapes}")
    with tempfile.TemporaryDirectory(prefix="as-bench-p4-") as directory:
        body_file = Path(directory) / "body.json"
        body_file.write_text(json.dumps(request_body()))
        targets = {"service": service, "baseline": raw}
        for target in targets.values():  # warm both: caches, pools, first-request imports
            await load(target, token, body_file, 1, profile.p4_connections)
        runs: dict[str, list[dict[str, Any]]] = {"service": [], "baseline": []}
        for round_index in range(profile.p4_rounds):
            order = ["service", "baseline"] if round_index % 2 == 0 else ["baseline", "service"]
            for name in order:
                runs[name].append(
                    await load(targets[name], token, body_file, profile.p4_seconds, profile.p4_connections)
                )
                await asyncio.sleep(profile.pause)
    service_rps = percentile([run["rps"] for run in runs["service"]], 50)
    raw_rps = percentile([run["rps"] for run in runs["baseline"]], 50)
    value = ratio(service_rps, raw_rps)
    row = {
        "label": "requests/s (median of rounds)",
        "value": round(service_rps, 1),
        "baseline": round(raw_rps, 1),
        "unit": "req/s",
        "ratio": value,
        "target": "ratio >= 0.5",
        "pass": bool(not math.isnan(value) and value >= 0.5),
    }
    return {
        "title": f"Query: activeSessions, {SESSIONS} sessions, the console's full selection, authenticated, PostgreSQL",
        "baseline_name": "raw Starlette endpoint: same token check, same two queries (SQLAlchemy core), same JSON",
        "target": "requests/s >= 0.5x raw Starlette",
        "rows": [row],
        "pass": row["pass"],
        "detail": {"runs": runs, "answers": shapes, "connections": profile.p4_connections},
    }
