"""The fan-out baseline: a plain `websockets` server that sends one frame to many sockets with `broadcast()`.

Subscribers connect to `/sub/<room>` and only listen. A controller connects to `/control` and sends
`{"op": "fire", "room": ..., "tag": ..., "size": ...}`: the server answers `{"ok": true}` first (as the
service answers a mutation once it has committed) and then broadcasts one text frame of about `size`
bytes, shaped like a graphql-transport-ws `next` message, to every socket of the room. The frame carries
the server's CLOCK_MONOTONIC instant of the command (`stamp`), the baseline's "event time".

Same settings as the service's uvicorn: asyncio event loop, no per-message deflate, pings every 20 s.

    python bench/raw_broadcast_server.py --port 9001
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import time
from collections import defaultdict

from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: dict[str, set[ServerConnection]] = defaultdict(set)


def frame(tag: str, size: int) -> str:
    """A `next` message of about `size` bytes carrying `tag` and the CLOCK_MONOTONIC instant it was made."""
    payload = {"tag": tag, "stamp": time.monotonic_ns(), "pad": ""}
    bare = json.dumps({"id": "1", "type": "next", "payload": payload}, separators=(",", ":"))
    return bare.replace('"pad":""', '"pad":"' + "x" * max(0, size - len(bare)) + '"')


async def control(websocket: ServerConnection) -> None:
    async for message in websocket:
        command = json.loads(message)
        if command.get("op") == "fire":
            room = rooms.get(str(command["room"]), set())
            payload = frame(str(command["tag"]), int(command.get("size", 400)))
            await websocket.send(json.dumps({"ok": True, "sockets": len(room)}))
            broadcast(room, payload)
        elif command.get("op") == "count":
            await websocket.send(json.dumps({"ok": True, "sockets": {k: len(v) for k, v in rooms.items()}}))
        else:
            await websocket.send(json.dumps({"ok": False, "error": "unknown op"}))


async def handler(websocket: ServerConnection) -> None:
    path = websocket.request.path if websocket.request is not None else ""
    if path == "/control":
        await control(websocket)
        return
    if not path.startswith("/sub/"):
        await websocket.close(1008, "unknown path")
        return
    room = rooms[path.removeprefix("/sub/")]
    room.add(websocket)
    try:
        await websocket.wait_closed()
    finally:
        room.discard(websocket)


async def main(host: str, port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handler, host, port, compression=None, ping_interval=20, ping_timeout=20, max_queue=16, backlog=4096
    ):
        print(f"ready {port}", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    arguments = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(arguments.host, arguments.port))
