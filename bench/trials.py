"""One fan-out trial: trigger an event, wait for every subscriber's copy, and time each copy.

A service trial ends one session with the `logoutSession` mutation (the ENDED event goes to every panel
of the account); a baseline trial asks the raw broadcast server to send one frame to a room. Both record
the CLOCK_MONOTONIC instants the trigger was sent and its answer fully arrived; the receivers stamp each
copy on arrival with the same clock."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.common import LOGOUT_SESSION_MUTATION, bearer
from bench.database import SeededSession
from bench.httpclient import HttpConnection
from bench.receivers import Delivery, Receiver, ReceiverPool, event_instant_ns, realtime_offset_ns
from bench.stats import ms, percentile


@dataclass(frozen=True)
class Fired:
    key: str  # what the receivers file the copies under
    sent_ns: int
    answered_ns: int
    where: str = ""  # which instance ran the mutation
    realtime_offset_ns: int = field(default_factory=realtime_offset_ns)


Trigger = Callable[[], Awaitable[Fired]]


@dataclass
class Trial:
    fired: Fired
    expected: int
    deliveries: list[Delivery]
    unexpected: int
    complete: bool

    def from_answer(self, groups: set[str] | None = None) -> list[int]:
        return [d.t_ns - self.fired.answered_ns for d in self.deliveries if groups is None or d.group in groups]

    def from_send(self) -> list[int]:
        return [d.t_ns - self.fired.sent_ns for d in self.deliveries]

    def from_event(self, groups: set[str] | None = None) -> list[int]:
        """From the event's own instant: the service's occurredAt (written in the committing transaction),
        the raw server's stamp (taken as the command arrived)."""
        offset = self.fired.realtime_offset_ns
        instants = [(d, event_instant_ns(d.stamp, offset)) for d in self.deliveries]
        return [d.t_ns - at for d, at in instants if at is not None and (groups is None or d.group in groups)]

    @property
    def round_trip_ns(self) -> int:
        return self.fired.answered_ns - self.fired.sent_ns


@dataclass
class Series:
    """The trials of one variant."""

    trials: list[Trial] = field(default_factory=list)

    def add(self, trial: Trial) -> None:
        self.trials.append(trial)

    def latencies(self, groups: set[str] | None = None) -> list[int]:
        return [x for trial in self.trials for x in trial.from_answer(groups)]

    def event_latencies(self, groups: set[str] | None = None) -> list[int]:
        return [x for trial in self.trials for x in trial.from_event(groups)]

    def summary(self) -> dict[str, Any]:
        from_answer = self.latencies()
        from_event = self.event_latencies()
        from_send = [x for trial in self.trials for x in trial.from_send()]
        round_trips = [trial.round_trip_ns for trial in self.trials]
        last_copy = [max(trial.from_event()) for trial in self.trials if trial.from_event()]
        trial_p99 = [percentile(trial.from_event(), 99) for trial in self.trials if trial.from_event()]
        expected = sum(trial.expected for trial in self.trials)
        return {
            "p50_ms": ms(from_answer, 50),
            "p99_ms": ms(from_answer, 99),
            "max_ms": ms(from_answer, 100),
            "p50_from_event_ms": ms(from_event, 50),
            "p99_from_event_ms": ms(from_event, 99),
            "p50_from_send_ms": ms(from_send, 50),
            "p99_from_send_ms": ms(from_send, 99),
            "trigger_round_trip_p50_ms": ms(round_trips, 50),
            "trigger_round_trip_p99_ms": ms(round_trips, 99),
            "last_copy_from_event_p50_ms": ms(last_copy, 50),
            "median_of_trial_p99_from_event_ms": round(percentile(trial_p99, 50) / 1e6, 3),
            "trials": len(self.trials),
            "deliveries": len(from_answer),
            "missing": expected - len(from_answer),
            "unexpected": sum(trial.unexpected for trial in self.trials),
            "incomplete_trials": sum(1 for trial in self.trials if not trial.complete),
        }


async def run_trial(pool: ReceiverPool, trigger: Trigger, expected: dict[Receiver, int], timeout: float) -> Trial:
    await pool.mark()
    fired = await trigger()
    complete = await pool.wait(expected, timeout)
    collected = await pool.collect()
    deliveries = collected.by_key.get(fired.key, [])
    unexpected = sum(len(rows) for key, rows in collected.by_key.items() if key != fired.key)
    return Trial(fired, sum(expected.values()), deliveries, unexpected, complete)


async def warm_up(
    pool: ReceiverPool, trigger: Trigger, expected: dict[Receiver, int], timeout: float, attempts: int = 6
) -> Trial | None:
    """Trigger until one event reaches every subscriber (all subscriptions are attached), then once more.
    Returns that last trial, or None if no event ever reached them all."""
    for _ in range(attempts):
        trial = await run_trial(pool, trigger, expected, timeout)
        if len(trial.deliveries) >= trial.expected:
            return await run_trial(pool, trigger, expected, timeout)
    return None


def fanout_timeout(subscribers: int) -> float:
    return 10 + subscribers * 0.002


class ServiceTrigger:
    """Ends the next victim session through `logoutSession` on one of the given instances."""

    def __init__(self, instances: dict[str, HttpConnection], operator_token: str, victims: list[SeededSession]):
        self._instances = instances
        self._headers = bearer(operator_token)
        self._victims: Iterator[SeededSession] = iter(victims)

    def on(self, where: str) -> Trigger:
        async def fire() -> Fired:
            return await self.fire(where)

        return fire

    async def fire(self, where: str) -> Fired:
        try:
            victim = next(self._victims)
        except StopIteration:
            raise RuntimeError("out of seeded victim sessions") from None
        answer = await self._instances[where].post_json(
            "/graphql", {"query": LOGOUT_SESSION_MUTATION, "variables": {"id": victim.id}}, self._headers
        )
        payload = answer.json()
        if (
            answer.status != 200
            or payload.get("errors")
            or payload["data"]["logoutSession"]["session"]["status"] != "ENDED"
        ):
            raise RuntimeError(f"logoutSession failed: {answer.status} {payload}")
        return Fired(f"ENDED:{victim.id}", answer.sent_ns, answer.received_ns, where)


class RawControl:
    """The control socket of bench/raw_broadcast_server.py."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection
        self._serial = 0

    @classmethod
    async def open(cls, port: int) -> RawControl:
        return cls(await connect(f"ws://127.0.0.1:{port}/control", compression=None, max_size=None))

    def room(self, room: str, size: Callable[[], int]) -> Trigger:
        async def fire() -> Fired:
            self._serial += 1
            tag = f"{room}-{self._serial}"
            message = json.dumps({"op": "fire", "room": room, "tag": tag, "size": size()})
            sent = time.monotonic_ns()
            await self._connection.send(message)
            answer = json.loads(await self._connection.recv())
            answered = time.monotonic_ns()
            if not answer.get("ok"):
                raise RuntimeError(f"raw broadcast refused: {answer}")
            return Fired(f"raw:{tag}", sent, answered, "raw")

        return fire

    async def close(self) -> None:
        await self._connection.close()
