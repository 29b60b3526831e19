"""P3: server memory per idle subscription, against raw websockets per connection, and the leak check."""

from __future__ import annotations

import asyncio
import math
from typing import Any

from bench.common import Profile, log
from bench.database import SeededAccount
from bench.fanout import ALL_USERS, open_panels, open_raw, ratio_row
from bench.httpclient import HttpConnection
from bench.processes import HOST, ManagedProcess, settled_rss_kib
from bench.receivers import ReceiverPool
from bench.stats import ratio, slope
from bench.trials import ServiceTrigger, fanout_timeout, run_trial

CYCLE_GROWTH_MAX = 0.10  # repeated connect/disconnect cycles must not ratchet RSS up by >10% of one load
RETAINED_SLACK = 0.25  # and after disconnecting, RSS is back as near its baseline as raw websockets' is, +25%


def retention(baseline: int, loaded: list[int], after: list[int]) -> dict[str, Any]:
    """How much of the loaded growth is still held after every client left, and how it moves over cycles.

    A CPython server does not give freed heap back to the kernel (glibc keeps it for reuse), so RSS after
    a disconnect stays near its high-water mark even without a leak: the raw websockets server measured
    beside it shows the allocator's own share. A leak shows as growth from one cycle to the next."""
    grown = max(1, loaded[0] - baseline)
    return {
        "rss_baseline_kib": baseline,
        "rss_loaded_kib": loaded,
        "rss_after_disconnect_kib": after,
        "retained_fraction": round((after[-1] - baseline) / grown, 3),
        "cycle_growth_fraction": round((after[-1] - after[0]) / grown, 3),
    }


async def p3_memory(
    profile: Profile,
    pool: ReceiverPool,
    service: ManagedProcess,
    raw: ManagedProcess,
    account: SeededAccount,
) -> dict[str, Any]:
    n = profile.p3_subscriptions
    tokens = [session.token for session in account.admin_sessions[:n]]
    log(f"P3: RSS over 0..{n} idle subscriptions (fresh service) vs 0..{n} raw websockets (fresh raw server)")

    http = HttpConnection(HOST, service.port)
    trigger = ServiceTrigger({"s": http}, account.admin_sessions[0].token, account.victim_sessions)

    # One small connect, event, disconnect first, so lazily imported code and warm caches are in the baseline.
    warm = tokens[: min(10, n)]
    await open_panels(pool, service, warm, "warm", ALL_USERS)
    await open_raw(pool, raw, "p3", len(warm), "warm-raw")
    await asyncio.sleep(profile.settle)
    await run_trial(pool, trigger.on("s"), pool.expected_for_groups({"warm"}), fanout_timeout(len(warm)))
    await pool.close()

    service_points = [(0.0, float(await settled_rss_kib(service.pid, wait=profile.settle)))]
    raw_points = [(0.0, float(await settled_rss_kib(raw.pid, wait=0)))]
    step = math.ceil(n / profile.p3_steps)
    held = 0
    for k in range(profile.p3_steps):
        batch = tokens[held : held + step]
        if not batch:
            break
        opened = await open_panels(pool, service, batch, f"s{k}", ALL_USERS)
        raw_opened = await open_raw(pool, raw, "p3", len(batch), f"r{k}")
        held += len(batch)
        service_rss = await settled_rss_kib(service.pid, wait=profile.settle)
        service_points.append((service_points[-1][0] + opened, float(service_rss)))
        raw_points.append((raw_points[-1][0] + raw_opened, float(await settled_rss_kib(raw.pid, wait=0))))

    # Prove the subscriptions are real: one event must reach them all.
    groups = {f"s{k}" for k in range(profile.p3_steps)}
    live_trial = await run_trial(pool, trigger.on("s"), pool.expected_for_groups(groups), fanout_timeout(held))
    live = len(live_trial.deliveries)
    await http.close()

    service_loaded, raw_loaded = [int(service_points[-1][1])], [int(raw_points[-1][1])]
    await pool.close()
    service_after = [await settled_rss_kib(service.pid, wait=profile.settle)]
    raw_after = [await settled_rss_kib(raw.pid, wait=0)]
    for cycle in range(1, profile.p3_cycles):
        await open_panels(pool, service, tokens, f"c{cycle}", ALL_USERS)
        await open_raw(pool, raw, "p3", n, f"c{cycle}-raw")
        service_loaded.append(await settled_rss_kib(service.pid, wait=profile.settle))
        raw_loaded.append(await settled_rss_kib(raw.pid, wait=0))
        await pool.close()
        service_after.append(await settled_rss_kib(service.pid, wait=profile.settle))
        raw_after.append(await settled_rss_kib(raw.pid, wait=0))

    service_per = slope(service_points)
    raw_per = slope(raw_points)
    service_leak = retention(int(service_points[0][1]), service_loaded, service_after)
    raw_leak = retention(int(raw_points[0][1]), raw_loaded, raw_after)
    per_row = ratio_row("KiB RSS per idle subscription", round(service_per, 2), round(raw_per, 2), 2.0, "KiB")
    leak_pass = (
        service_leak["cycle_growth_fraction"] <= CYCLE_GROWTH_MAX
        and service_leak["retained_fraction"] <= raw_leak["retained_fraction"] + RETAINED_SLACK
    )
    leak_row = {
        "label": "RSS still held after every client disconnected, as a fraction of the loaded growth",
        "value": service_leak["retained_fraction"],
        "baseline": raw_leak["retained_fraction"],
        "unit": "fraction",
        "ratio": ratio(service_leak["retained_fraction"], raw_leak["retained_fraction"]),
        "value_cycle_growth": service_leak["cycle_growth_fraction"],
        "baseline_cycle_growth": raw_leak["cycle_growth_fraction"],
        "target": (
            f"no leak: growth over {profile.p3_cycles} connect/disconnect cycles <= {CYCLE_GROWTH_MAX} of one load, "
            f"and retained <= raw's retained + {RETAINED_SLACK}"
        ),
        "pass": leak_pass,
    }
    return {
        "title": "Memory: server RSS per idle sessionEvents subscription (one socket each), and leak check",
        "baseline_name": "raw websockets server RSS per idle connection (bench/raw_broadcast_server.py)",
        "target": "per subscription <= 2x raw per connection, and no leak",
        "rows": [per_row, leak_row],
        "pass": per_row["pass"] and leak_row["pass"],
        "detail": {
            "subscriptions": held,
            "subscriptions_live": live,
            "service_points_kib": service_points,
            "baseline_points_kib": raw_points,
            "service_leak": service_leak,
            "baseline_leak": raw_leak,
            "cycles": profile.p3_cycles,
        },
    }
