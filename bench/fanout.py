"""P1 (fan-out on one instance), P2 (across two instances) and P6 (isolation from other accounts)."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

from bench.common import SESSION_EVENTS_SUBSCRIPTION, Profile, log, login
from bench.database import PASSWORD, SeededAccount
from bench.httpclient import HttpConnection
from bench.processes import HOST, ManagedProcess, quiet
from bench.pyspy import PySpy
from bench.receivers import ReceiverPool
from bench.stats import ms, ratio
from bench.trials import Fired, RawControl, Series, ServiceTrigger, Trial, fanout_timeout, run_trial, warm_up

ALL_USERS = {"allUsers": True}


def ws_url(process: ManagedProcess) -> str:
    return f"ws://{HOST}:{process.port}/graphql"


def raw_url(process: ManagedProcess, room: str) -> str:
    return f"ws://{HOST}:{process.port}/sub/{room}"


@dataclass
class Sizes:
    """The byte size of the service's event frames, so the baseline sends frames as large."""

    service_frame: int = 600

    def learn(self, trial: Trial | None) -> None:
        if trial is not None and trial.deliveries:
            self.service_frame = trial.deliveries[0].size

    def __call__(self) -> int:
        return self.service_frame


async def open_panels(
    pool: ReceiverPool, process: ManagedProcess, tokens: list[str], group: str, variables: dict[str, Any]
) -> int:
    opened, errors = await pool.open_graphql(
        ws_url(process), tokens, group=group, query=SESSION_EVENTS_SUBSCRIPTION, variables=variables
    )
    if opened != len(tokens):
        log(f"  {group}: opened {opened}/{len(tokens)} sockets; first errors: {errors[:3]}")
    return opened


async def open_raw(pool: ReceiverPool, process: ManagedProcess, room: str, count: int, group: str) -> int:
    opened, errors = await pool.open_raw(raw_url(process, room), count, group=group)
    if opened != count:
        log(f"  {group}: opened {opened}/{count} raw sockets; first errors: {errors[:3]}")
    return opened


def within(value: float, target_max: float) -> bool:
    return not math.isnan(value) and value <= target_max


def ratio_row(label: str, figure: float, baseline: float, target_max: float, unit: str) -> dict[str, Any]:
    value = ratio(figure, baseline)
    return {
        "label": label,
        "value": figure,
        "baseline": baseline,
        "unit": unit,
        "ratio": value,
        "target": f"ratio <= {target_max}",
        "pass": within(value, target_max),
    }


def latency_row(label: str, figure: dict[str, Any], baseline: dict[str, Any], target_max: float) -> dict[str, Any]:
    """p99 against the baseline's p99, from the trigger's answer and from the event's commit instant.

    The answer is when the `logoutSession` response (or the raw server's acknowledgement) arrived. The
    commit instant is the event's `occurredAt` (or the raw server's stamp): it matters because the
    service can answer the mutation only after its local fan-out has run, which makes latencies
    measured from the answer look shorter than they are. Both ratios must meet the target."""
    by_answer = ratio(figure["p99_ms"], baseline["p99_ms"])
    by_commit = ratio(figure["p99_from_event_ms"], baseline["p99_from_event_ms"])
    return {
        "label": label,
        "value": figure["p99_ms"],
        "baseline": baseline["p99_ms"],
        "unit": "ms",
        "ratio": by_answer,
        "value_from_commit": figure["p99_from_event_ms"],
        "baseline_from_commit": baseline["p99_from_event_ms"],
        "ratio_from_commit": by_commit,
        "target": f"ratio <= {target_max}, from the answer and from the commit",
        "pass": within(by_answer, target_max) and within(by_commit, target_max),
    }


async def p1_fanout(
    profile: Profile,
    pool: ReceiverPool,
    service: ManagedProcess,
    raw: ManagedProcess,
    account: SeededAccount,
    profiler: PySpy | None = None,
) -> dict[str, Any]:
    http = HttpConnection(HOST, service.port)
    control = await RawControl.open(raw.port)
    try:
        operator = await login(http, account.operator_email, PASSWORD)
        trigger = ServiceTrigger({"service": http}, operator, account.victim_sessions)
        sizes = Sizes()
        series = {n: {"service": Series(), "baseline": Series()} for n in profile.p1_sizes}
        warm = {n: {"service": True, "baseline": True} for n in profile.p1_sizes}
        per_round = math.ceil(profile.p1_trials / profile.p1_rounds)
        for round_index in range(profile.p1_rounds):
            for n in profile.p1_sizes:
                log(f"P1 round {round_index + 1}/{profile.p1_rounds}: {n} subscribers on one instance vs raw")
                tokens = [session.token for session in account.admin_sessions[:n]]
                room = f"p1-{n}-{round_index}"
                await open_panels(pool, service, tokens, "svc", ALL_USERS)
                await open_raw(pool, raw, room, n, "raw")
                await asyncio.sleep(profile.settle)
                await quiet(service.pid, raw.pid)
                timeout = fanout_timeout(n)
                service_expected = pool.expected_for_groups({"svc"})
                raw_expected = pool.expected_for_groups({"raw"})
                service_fire = trigger.on("service")
                raw_fire = control.room(room, sizes)
                trial = await warm_up(pool, service_fire, service_expected, timeout)
                warm[n]["service"] &= trial is not None
                sizes.learn(trial)
                warm[n]["baseline"] &= await warm_up(pool, raw_fire, raw_expected, timeout) is not None
                profiled = profiler is not None and n == max(profile.p1_sizes) and round_index == profile.p1_rounds - 1
                async with (profiler or PySpy(None)).record(f"P1-trials-{n}", service.pid, profiled):
                    for i in range(per_round):
                        order = [("service", service_fire, service_expected), ("baseline", raw_fire, raw_expected)]
                        for variant, fire, expected in order if i % 2 == 0 else reversed(order):
                            series[n][variant].add(await run_trial(pool, fire, expected, timeout))
                            await asyncio.sleep(profile.pause)
                await pool.close("svc")
                await pool.close("raw")
                await asyncio.sleep(profile.settle)
                await quiet(service.pid, raw.pid)
        rows = []
        detail: dict[str, Any] = {}
        for n in profile.p1_sizes:
            service_summary = series[n]["service"].summary()
            baseline_summary = series[n]["baseline"].summary()
            rows.append(latency_row(f"p99 delivery, {n} subscribers", service_summary, baseline_summary, 2.0))
            detail[str(n)] = {
                "service": service_summary,
                "baseline": baseline_summary,
                "warm_up_reached_everyone": warm[n],
            }
        return {
            "title": "Fan-out on one instance: logoutSession answered -> ENDED event at each allUsers panel",
            "baseline_name": "raw websockets broadcast() to the same number of sockets (bench/raw_broadcast_server.py)",
            "target": "p99 <= 2x raw at every N",
            "rows": rows,
            "pass": all(row["pass"] for row in rows),
            "frame_bytes": {"service": sizes.service_frame, "baseline": sizes.service_frame},
            "detail": detail,
        }
    finally:
        await control.close()
        await http.close()


async def p2_across_instances(
    profile: Profile,
    pool: ReceiverPool,
    instances: dict[str, ManagedProcess],
    raw: ManagedProcess,
    account: SeededAccount,
    profiler: PySpy | None = None,
) -> dict[str, Any]:
    names = sorted(instances)
    connections = {name: HttpConnection(HOST, process.port) for name, process in instances.items()}
    control = await RawControl.open(raw.port)
    try:
        operator = await login(connections[names[0]], account.operator_email, PASSWORD)
        trigger = ServiceTrigger(connections, operator, account.victim_sessions)
        n = profile.p2_subscribers
        log(f"P2: {n} subscribers over {len(names)} instances (PostgreSQL + Redis) vs raw to {n}")
        tokens = [session.token for session in account.admin_sessions[:n]]
        for index, name in enumerate(names):
            await open_panels(pool, instances[name], tokens[index :: len(names)], name, ALL_USERS)
        await open_raw(pool, raw, "p2", n, "raw")
        await asyncio.sleep(profile.settle)
        await quiet(*(process.pid for process in instances.values()), raw.pid)
        timeout = fanout_timeout(n)
        service_expected = pool.expected_for_groups(set(names))
        raw_expected = pool.expected_for_groups({"raw"})
        sizes = Sizes()
        service_warm = await warm_up(pool, trigger.on(names[0]), service_expected, timeout)
        sizes.learn(service_warm)
        raw_warm = await warm_up(pool, control.room("p2", sizes), raw_expected, timeout)
        service, baseline = Series(), Series()
        async with (profiler or PySpy(None)).record(f"P2-trials-{names[0]}", instances[names[0]].pid):
            for i in range(profile.p2_trials):
                service_fire = trigger.on(names[(i // 2) % len(names)])
                order = [(service, service_fire, service_expected), (baseline, control.room("p2", sizes), raw_expected)]
                for target, fire, expected in order if i % 2 == 0 else reversed(order):
                    target.add(await run_trial(pool, fire, expected, timeout))
                    await asyncio.sleep(profile.pause)
        local = [x for t in service.trials for x in t.from_event({t.fired.where})]
        remote = [x for t in service.trials for x in t.from_event(set(names) - {t.fired.where})]
        service_summary = service.summary()
        baseline_summary = baseline.summary()
        await pool.close()
        rows = [latency_row(f"p99 delivery, {n} subscribers", service_summary, baseline_summary, 3.0)]
        return {
            "title": f"Fan-out across {len(names)} instances on PostgreSQL + Redis, subscribers split evenly",
            "baseline_name": "raw websockets broadcast() from one process to the same number of sockets",
            "target": "p99 <= 3x raw",
            "rows": rows,
            "pass": all(row["pass"] for row in rows),
            "detail": {
                "subscribers": n,
                "service": service_summary,
                "baseline": baseline_summary,
                "service_same_instance_as_mutation": {
                    "p50_from_event_ms": ms(local, 50),
                    "p99_from_event_ms": ms(local, 99),
                },
                "service_other_instance": {"p50_from_event_ms": ms(remote, 50), "p99_from_event_ms": ms(remote, 99)},
                "warm_up_reached_everyone": {"service": service_warm is not None, "baseline": raw_warm is not None},
            },
        }
    finally:
        await control.close()
        for connection in connections.values():
            await connection.close()


async def p6_isolation(
    profile: Profile,
    pool: ReceiverPool,
    service: ManagedProcess,
    main: SeededAccount,
    bystanders: list[SeededAccount],
) -> dict[str, Any]:
    http = HttpConnection(HOST, service.port)
    try:
        operator = await login(http, main.operator_email, PASSWORD)
        trigger = ServiceTrigger({"service": http}, operator, main.victim_sessions)
        n = profile.p6_main
        others = sum(len(account.admin_sessions) for account in bystanders)
        log(f"P6: {n} subscribers of one account, without and with {others} subscribers of {len(bystanders)} others")
        await open_panels(pool, service, [s.token for s in main.admin_sessions[:n]], "main", ALL_USERS)
        await asyncio.sleep(profile.settle)
        await quiet(service.pid)
        timeout = fanout_timeout(n)
        expected = pool.expected_for_groups({"main"})
        fire = trigger.on("service")
        warm = await warm_up(pool, fire, expected, timeout)
        without, with_others = Series(), Series()
        half = profile.p6_trials // 2
        for _ in range(half):
            without.add(await run_trial(pool, fire, expected, timeout))
            await asyncio.sleep(profile.pause)
        live = await connect_bystanders(profile, pool, service, http, bystanders)
        expected = pool.expected_for_groups({"main"})
        await run_trial(pool, fire, expected, timeout)  # warm again, now among the bystanders
        for _ in range(profile.p6_trials):
            with_others.add(await run_trial(pool, fire, expected, timeout))
            await asyncio.sleep(profile.pause)
        await pool.close("by")
        await asyncio.sleep(profile.settle)
        settled_after_bystanders = await quiet(service.pid)
        for _ in range(profile.p6_trials - half):
            without.add(await run_trial(pool, fire, expected, timeout))
            await asyncio.sleep(profile.pause)
        await pool.close()
        with_summary, without_summary = with_others.summary(), without.summary()
        rows = [latency_row(f"p99 delivery, {n} subscribers", with_summary, without_summary, 1.5)]
        return {
            "title": f"Isolation: one account's {n} panels while {others} panels of other accounts stay connected",
            "baseline_name": f"the same {n} panels with no other account connected (measured before and after)",
            "target": "p99 with others <= 1.5x p99 without",
            "rows": rows,
            "pass": all(row["pass"] for row in rows),
            "detail": {
                "with_others": with_summary,
                "without_others": without_summary,
                "bystanders_connected": others,
                "bystanders_live": live,
                "seconds_until_quiet_after_bystanders_left": round(settled_after_bystanders, 1),
                "warm_up_reached_everyone": warm is not None,
            },
        }
    finally:
        await http.close()


async def connect_bystanders(
    profile: Profile, pool: ReceiverPool, service: ManagedProcess, http: HttpConnection, bystanders: list[SeededAccount]
) -> int:
    """Open every bystander panel, then prove them live: one event per bystander account must reach all."""
    tokens = [session.token for account in bystanders for session in account.admin_sessions]
    await open_panels(pool, service, tokens, "by", ALL_USERS)
    await asyncio.sleep(profile.settle)
    live = 0
    for attempt in range(3):
        await pool.mark()
        keys = []
        for account in bystanders:
            # One of the account's own administrators ends the session (no login: argon2 costs ~0.2 s each).
            operator = account.admin_sessions[0].token
            fired: Fired = await ServiceTrigger({"s": http}, operator, account.victim_sessions[attempt:]).fire("s")
            keys.append(fired.key)
        await pool.wait(pool.expected_for_groups({"by"}), fanout_timeout(len(tokens)))
        collected = await pool.collect()
        live = sum(len(collected.by_key.get(key, [])) for key in keys)
        if live >= len(tokens):
            break
    await asyncio.sleep(profile.settle)
    await quiet(service.pid)
    return live
