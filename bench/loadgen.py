"""Fallback HTTP load generator for P4 when `wrk` is not installed: keep-alive POSTs as fast as answered.

One process per call; bench/query.py runs several side by side and adds their counts.

    python -m bench.loadgen --port 8000 --body-file body.json --token T --connections 16 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

from bench.httpclient import HttpConnection


async def hammer(host: str, port: int, request: bytes, deadline: float, counts: dict[str, int]) -> None:
    connection = HttpConnection(host, port)
    try:
        while time.monotonic() < deadline:
            answer = await connection.send_raw(request)
            counts["requests"] += 1
            if answer.status != 200:
                counts["errors_status"] += 1
    except (OSError, asyncio.IncompleteReadError):
        counts["errors_connect"] += 1
    finally:
        await connection.close()


async def main(host: str, port: int, body: bytes, token: str, connections: int, seconds: float) -> None:
    request = HttpConnection.request_bytes(host, port, "/graphql", body, {"Authorization": f"Bearer {token}"})
    counts = {"requests": 0, "errors_status": 0, "errors_connect": 0}
    started = time.monotonic()
    await asyncio.gather(*(hammer(host, port, request, started + seconds, counts) for _ in range(connections)))
    elapsed = time.monotonic() - started
    print(json.dumps({**counts, "duration_us": int(elapsed * 1e6)}), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5)
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.host,
            arguments.port,
            arguments.body_file.read_bytes(),
            arguments.token,
            arguments.connections,
            arguments.seconds,
        )
    )
