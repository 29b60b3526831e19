"""P5: `logoutSession` on instance A -> the revoked session's socket on instance B closed with 4401."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from bench.common import SESSION_EVENTS_SUBSCRIPTION, Profile, log, login
from bench.database import PASSWORD, SeededAccount
from bench.fanout import within, ws_url
from bench.httpclient import HttpConnection
from bench.processes import HOST, ManagedProcess
from bench.receivers import ReceiverPool, event_instant_ns
from bench.stats import ms, ratio
from bench.trials import ServiceTrigger

SESSION_ENDED = 4401
TARGET_P99_MS = 50.0


async def ended_at_ns(database: Any, session_id: str, offset_ns: int) -> int | None:
    """The monotonic instant of the session's ENDED event (its occurred_at, written as it committed)."""
    occurred = await database.fetchval(
        "SELECT occurred_at FROM session_event WHERE session_id = $1 AND type = 'ENDED'", session_id
    )
    if occurred is None:
        return None
    return event_instant_ns(occurred.isoformat(), offset_ns)


async def p5_revocation(
    profile: Profile,
    pool: ReceiverPool,
    a: ManagedProcess,
    b: ManagedProcess,
    account: SeededAccount,
    database_url: str,
) -> dict[str, Any]:
    """Odd trials end the session through A (the figure), even ones through B itself (the baseline)."""
    trials = profile.p5_trials * 2
    victims = account.victim_sessions[:trials]
    log(f"P5: {profile.p5_trials} revocations A -> socket on B, interleaved with as many B -> B")
    connections = {"A": HttpConnection(HOST, a.port), "B": HttpConnection(HOST, b.port)}
    database = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        operator = await login(connections["A"], account.operator_email, PASSWORD)
        trigger = ServiceTrigger(connections, operator, victims)
        # Each victim is the console of its own user: one socket on B with its own live panel.
        for index, victim in enumerate(victims):
            opened, errors = await pool.open_graphql(
                ws_url(b), [victim.token], group=f"v{index}", query=SESSION_EVENTS_SUBSCRIPTION, variables={}
            )
            if opened != 1:
                raise RuntimeError(f"victim socket {index} did not open: {errors}")
        await asyncio.sleep(profile.settle)
        await pool.closes()
        latencies: dict[str, list[int]] = {"A": [], "B": []}
        from_send: dict[str, list[int]] = {"A": [], "B": []}
        from_commit: dict[str, list[int]] = {"A": [], "B": []}
        codes: dict[str, int] = {}
        missed = 0
        for index in range(len(victims)):
            where = "A" if index % 2 == 0 else "B"
            fired = await trigger.fire(where)
            await pool.wait_closes(pool.expected_for_groups({f"v{index}"}), timeout=5)
            closes = [c for c in await pool.closes() if c.group == f"v{index}"]
            if not closes:
                missed += 1
                continue
            close = closes[0]
            codes[str(close.code)] = codes.get(str(close.code), 0) + 1
            if close.code == SESSION_ENDED:
                latencies[where].append(close.t_ns - fired.answered_ns)
                from_send[where].append(close.t_ns - fired.sent_ns)
                committed = await ended_at_ns(database, fired.key.removeprefix("ENDED:"), fired.realtime_offset_ns)
                if committed is not None:
                    from_commit[where].append(close.t_ns - committed)
            await asyncio.sleep(profile.pause)
        await pool.close()
        cross_p99, local_p99 = ms(latencies["A"], 99), ms(latencies["B"], 99)
        cross_commit_p99, local_commit_p99 = ms(from_commit["A"], 99), ms(from_commit["B"], 99)
        row = {
            "label": "p99 logoutSession answered on A -> 4401 close seen by B's client",
            "value": cross_p99,
            "baseline": local_p99,
            "unit": "ms",
            "ratio": ratio(cross_p99, local_p99),
            "value_from_commit": cross_commit_p99,
            "baseline_from_commit": local_commit_p99,
            "ratio_from_commit": ratio(cross_commit_p99, local_commit_p99),
            "target": f"p99 <= {TARGET_P99_MS} ms, from the answer and from the commit",
            "pass": bool(within(cross_p99, TARGET_P99_MS) and within(cross_commit_p99, TARGET_P99_MS) and missed == 0),
        }
        return {
            "title": "Revocation across instances (Redis bus): the revoked session's socket on the other instance",
            "baseline_name": "the same revocation made on the instance holding the socket (no bus hop)",
            "target": f"p99 <= {TARGET_P99_MS} ms",
            "rows": [row],
            "pass": row["pass"],
            "detail": {
                "cross_instance": {
                    "p50_ms": ms(latencies["A"], 50),
                    "p99_ms": cross_p99,
                    "max_ms": ms(latencies["A"], 100),
                    "p50_from_commit_ms": ms(from_commit["A"], 50),
                    "p99_from_commit_ms": cross_commit_p99,
                    "p50_from_send_ms": ms(from_send["A"], 50),
                    "p99_from_send_ms": ms(from_send["A"], 99),
                    "trials": len(latencies["A"]),
                },
                "same_instance": {
                    "p50_ms": ms(latencies["B"], 50),
                    "p99_ms": local_p99,
                    "p50_from_commit_ms": ms(from_commit["B"], 50),
                    "p99_from_commit_ms": local_commit_p99,
                    "p50_from_send_ms": ms(from_send["B"], 50),
                    "p99_from_send_ms": ms(from_send["B"], 99),
                    "trials": len(latencies["B"]),
                },
                "close_codes": codes,
                "no_close_within_5s": missed,
            },
        }
    finally:
        await database.close()
        for connection in connections.values():
            await connection.close()
