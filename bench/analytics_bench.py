"""Analytics without scans: each query at 1M customers next to the same query at 10k (same run), and the
Redis CPU a commit spends on the indexes (b2b with its indexed dimensions next to the same text without).

The 1M customers' index entries are written straight into their sorted sets (what the commit script would
have written for them, member by member), since creating a million customers through the service would take
a quarter of an hour; the flow counters, which do not grow with customers, are the same at both sizes.

Prints figures; fails nothing. Uses an embedded Redis of its own unless BENCH_REDIS_URL is set.
    python -m bench.analytics_bench
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bench.embedded import bench_redis
from crmstatus.engine import Actor, Fire
from crmstatus.engine.clock import ManualClock
from crmstatus.engine.loader import load_all, load_definition
from crmstatus.server.application import Application
from crmstatus.server.application.catalog import Catalog
from crmstatus.server.application.model import Caller, Listing, NewCustomer
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store
from crmstatus.server.store.codec import flow_field, index_member
from crmstatus.server.store.connection import client_for

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
REP = Actor("rep", frozenset({"sales", "manager"}))
START = datetime(2026, 1, 5, tzinfo=UTC)
STATES = ["潜在", "意向", "重点", "签约", "流失"]


async def populate(app: Application, tenant: str, customers: int) -> None:
    """Index entries of `customers` b2b customers over the lifecycle's states, entered over 180 days, and 30
    days of flow counters."""
    client, keys = app.store.client, app.store.keys(tenant)
    pipeline = client.pipeline(transaction=False)
    for n in range(customers):
        customer = f"c{n:07d}"
        part = keys.part(customer)
        entered = START - timedelta(minutes=n * 180 * 24 * 60 // customers)
        state = STATES[n % len(STATES)]
        pipeline.zadd(keys.in_state(part, "b2b@1", "lifecycle", state), {index_member(customer, entered): 0})
        pipeline.zadd(keys.owned_by(part, f"rep-{n % 50}"), {customer: 0})  # 200 each at 10k: full pages
        if len(pipeline) >= 10_000:
            await pipeline.execute()
    for day in range(30):
        when = (START.date() - timedelta(days=day)).isoformat()
        for part in range(keys.partitions):
            for source, target in itertools.pairwise(STATES):
                pipeline.hincrby(keys.flow(part, when), flow_field("m", when, "b2b@1", "lifecycle", source, target), 7)
                pipeline.hincrby(keys.flow(part, when), flow_field("d", when, "b2b@1", "lifecycle", source, "4"), 7)
    await pipeline.execute()


async def timed(call: Callable[[], Awaitable[object]], runs: int = 200) -> float:
    """Median wall time of one call, µs (in process: the client's work and Redis's, one round trip each)."""
    spent = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) * 1e6


async def queries(app: Application, tenant: str) -> dict[str, float]:
    caller = Caller(tenant, REP)
    listing, analytics = app.queries.listing, app.analytics.flow
    month = date(2026, 1, 5) - timedelta(days=29), date(2026, 1, 5)
    segment, stalled = (
        Listing("b2b", "lifecycle", "意向"),
        Listing("b2b", "lifecycle", "潜在", longer_than=timedelta(90)),
    )
    return {
        "segment page (100 in 意向, oldest first)": await timed(lambda: listing(caller, segment)),
        "stalled page (in 潜在 > 90 days)": await timed(lambda: listing(caller, stalled)),
        "a rep's customers (page of 100)": await timed(lambda: listing(caller, Listing(owner="rep-7"))),
        "flow report, 30 days": await timed(lambda: analytics(caller, "b2b", "lifecycle", *month), runs=50),
    }


async def commit_cost(url: str, settings: Settings) -> tuple[float, float]:
    """Redis µs per commit script run, b2b as shipped next to the same text with no dimension indexed."""
    b2b = (CONFIGS / "b2b.yaml").read_text("utf-8")
    plain = load_definition(b2b.replace("indexed: true", "indexed: false"), "b2b.yaml")
    costs = []
    for definition in (plain, load_definition(b2b, "b2b.yaml")):
        client = client_for(url, settings)
        await client.flushall()
        app = Application(Store(client, settings), Catalog([definition]), settings, ManualClock(START))
        reps = [Caller("cost", Actor(f"rep-{n}", frozenset({"sales"}))) for n in range(300)]
        for n, rep in enumerate(reps):
            await app.commands.create(rep, NewCustomer(f"k{n}", "b2b", None, {"effective_contacts": 4}, {}))
        await client.config_resetstat()
        for n in range(3000):  # lifecycle and follow_up (both indexed) move with each command: 意向 ⇄ 流失
            lose = n // 300 % 2 == 0
            fire = Fire("lose", "price") if lose else Fire("win_back")
            await app.commands.run(reps[n % 300], f"k{n % 300}", fire)
        stats = await client.info("commandstats")
        costs.append(float(stats["cmdstat_evalsha"]["usec_per_call"]))
        await client.aclose()
    return costs[0], costs[1]


async def bench(url: str) -> None:
    settings = Settings(redis_url=url)
    client = client_for(url, settings)
    await client.flushall()
    app = Application(Store(client, settings), Catalog(load_all([CONFIGS])[0]), settings, ManualClock(START))
    try:
        await populate(app, "small", 10_000)
        await populate(app, "large", 1_000_000)
        await queries(app, "small")  # warm up: the first calls pay for connections and caches
        rounds = [(await queries(app, "small"), await queries(app, "large")) for _ in range(3)]
        small = {name: statistics.median(r[0][name] for r in rounds) for name in rounds[0][0]}
        large = {name: statistics.median(r[1][name] for r in rounds) for name in rounds[0][1]}
    finally:
        await client.aclose()
    print("analytics query, median µs per call     at 10k    at 1M   1M ÷ 10k (goal ≤ 1.5)")
    for name, micros in small.items():
        print(f"{name:<40} {micros:>7.0f} {large[name]:>8.0f} {large[name] / micros:>9.2f}")
    plain, indexed = await commit_cost(url, settings)
    print(f"Redis CPU per script run (read and commit alike; FireEvents moving lifecycle and follow_up): "
          f"{plain:.1f} µs without indexes, {indexed:.1f} µs with b2b's indexed dimensions and owner/queue lists "
          f"({indexed / plain:.2f}×)")  # fmt: skip


def main() -> None:
    with bench_redis() as url:
        asyncio.run(bench(url))


if __name__ == "__main__":
    main()
