"""Prints a live `sessionEvents` stream: python -m tools.watch TOKEN [--url ws://...] [--all-users] [--after ID]."""

from __future__ import annotations

import argparse
import asyncio
import json

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

QUERY = """subscription($allUsers: Boolean, $after: ID) {
  sessionEvents(allUsers: $allUsers, after: $after) {
    id type occurredAt session { id status endReason ipAddress user { email } device { label } }
  }
}"""


async def watch(url: str, token: str, all_users: bool, after: str | None) -> None:
    async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        variables = {"allUsers": all_users, "after": after}
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": QUERY, "variables": variables}}
        await socket.send(json.dumps(subscribe))
        try:
            async for raw in socket:
                message = json.loads(raw)
                if message["type"] in ("next", "error"):
                    print(json.dumps(message["payload"]), flush=True)
        except ConnectionClosed as closed:
            print(f"closed: {closed.rcvd.code if closed.rcvd else None} {closed.rcvd.reason if closed.rcvd else ''}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("token")
    parser.add_argument("--url", default="ws://127.0.0.1:8000/graphql")
    parser.add_argument("--all-users", action="store_true")
    parser.add_argument("--after")
    args = parser.parse_args()
    asyncio.run(watch(args.url, args.token, args.all_users, args.after))


if __name__ == "__main__":
    main()
