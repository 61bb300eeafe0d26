"""Store throughput next to a naive WATCH/MULTI read-check-write baseline (same run, same decisions),
Redis commands per store command from INFO commandstats, and memory per customer.

Prints figures; fails nothing. Uses an embedded Redis of its own unless BENCH_REDIS_URL is set.
    python -m bench.store_bench [customers-for-memory, default 100000]
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import redis.asyncio as redis
from redis.exceptions import WatchError

from bench.embedded import bench_redis
from crmstatus.engine import Actor, ManualClock, UpdateFacts, decide
from crmstatus.engine.loader import load_all
from crmstatus.server.application import Application
from crmstatus.server.application.catalog import Catalog
from crmstatus.server.application.model import Caller, NewCustomer
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store
from crmstatus.server.store.codec import day, decode_snapshot
from crmstatus.server.store.connection import client_for
from crmstatus.server.store.customers import Idempotency, Write, _commit_args

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
REP = Actor("rep", frozenset({"sales"}))
SECONDS = 3.0
NAIVE_RECORD = Idempotency("naive", "", 30)  # the naive write keeps its result 30 s under a key of its own


async def naive_update(app: Application, tenant: str, customer_id: str, value: int) -> None:
    """The same command and the same writes as the store, done the obvious way: WATCH the customer, read it,
    decide, then MULTI/EXEC every write, and start over when the customer changed in between."""
    client: redis.Redis = app.store.client
    keys = app.store.keys(tenant)
    key = keys.customer(customer_id)
    part = keys.part(customer_id)
    maxlen = app.commands.settings.event_stream_maxlen
    while True:
        async with client.pipeline(transaction=True) as pipe:
            try:
                await pipe.watch(key)
                stored = str(await pipe.get(key))
                definition = app.catalog.get("b2b")
                before = decode_snapshot(definition, customer_id, stored)
                now = app.clock.now()
                outcome = decide(definition, before, UpdateFacts({"web_visits_30d": value}), REP, now)
                if not outcome.history:
                    return  # nothing changed, as the store would also decide
                plan = _commit_args(
                    Write(definition, before, outcome, NAIVE_RECORD, now), maxlen, day(definition, now), []
                )
                pipe.multi()
                pipe.set(key, plan.stored)
                for n, entry in enumerate(plan.history):
                    pipe.xadd(keys.history(customer_id), {"e": entry}, id=f"{plan.version}-{n}")
                for field, delta in plan.counts:
                    pipe.hincrby(keys.counts(part), field, delta)
                if plan.cancel:
                    pipe.zrem(keys.timers(part), *plan.cancel)
                if plan.schedule:
                    pipe.zadd(keys.timers(part), dict(plan.schedule))
                pipe.xadd(keys.events(part), {"c": customer_id, "v": plan.version, "d": plan.event}, maxlen=maxlen)
                pipe.set(keys.idempotency(customer_id, f"naive-{plan.version}"), plan.result, ex=plan.ttl_seconds)
                await pipe.execute()
                return
            except WatchError:
                continue


async def throughput(clients: int, command: Callable[[int, int], Awaitable[None]]) -> float:
    """Commands per second from `clients` concurrent callers (asyncio tasks, each on a connection of its own)."""
    done = [0] * clients
    stop = time.monotonic() + SECONDS

    async def run(worker: int) -> None:
        rng = random.Random(worker)
        while time.monotonic() < stop:
            await command(rng.randrange(1000), rng.randrange(1_000_000))
            done[worker] += 1

    start = time.monotonic()
    await asyncio.gather(*(run(n) for n in range(clients)))
    return sum(done) / (time.monotonic() - start)


async def commands_per_store_command(app: Application, tenant: str) -> None:
    client = app.store.client
    caller = Caller(tenant, REP)
    await client.config_resetstat()
    for n in range(200):
        await app.commands.run(caller, f"c-{n}", UpdateFacts({"web_visits_30d": 10_000 + n}))
    stats = await client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    sent = sum(calls.get(name, 0) for name in ("evalsha", "eval"))
    inside = sum(value for name, value in calls.items() if name not in ("evalsha", "eval", "config", "info"))
    print(
        f"round trips per store command: {sent / 200:.2f} (EVALSHA read + commit); "
        f"Redis commands run inside the scripts: {inside / 200:.1f}"
    )


async def memory_per_customer(app: Application, count: int) -> None:
    client = app.store.client
    tenant = "memory"
    caller = Caller(tenant, REP)
    keys = app.store.keys(tenant)
    await client.flushall()
    before = int((await client.info("memory"))["used_memory"])
    started = time.monotonic()
    for n in range(count):
        await app.commands.create(caller, NewCustomer(f"m{n:07d}", "b2b"))
    elapsed = time.monotonic() - started
    with_history = int((await client.info("memory"))["used_memory"]) - before
    for suffix in (":history", ":idem:*"):
        for part in range(keys.partitions):
            batch = [key async for key in client.scan_iter(match=keys.customers(part) + suffix, count=10_000)]
            for chunk in range(0, len(batch), 10_000):
                await client.unlink(*batch[chunk : chunk + 10_000])
    for part in range(keys.partitions):
        await client.delete(keys.events(part))
    without_history = int((await client.info("memory"))["used_memory"]) - before
    print(
        f"memory per customer at {count:,} b2b customers ({len(app.catalog.get('b2b').dimensions)} dimensions, "
        f"{sum(d.indexed for d in app.catalog.get('b2b').dimensions.values())} indexed, with their timers): "
        f"{without_history / count:.0f} B without history (goal ≤ 1024 B), "
        f"{with_history / count:.0f} B with its first history entry, event and idempotency record; "
        f"created at {count / elapsed:,.0f} customers/s"
    )


async def bench(url: str, count: int) -> None:
    settings = Settings(redis_url=url)
    client = client_for(url, settings)
    clock = ManualClock(datetime(2026, 1, 5, tzinfo=UTC))
    app = Application(Store(client, settings), Catalog(load_all([CONFIGS])[0]), settings, clock)
    tenant = "bench"
    caller = Caller(tenant, REP)
    try:
        for n in range(1000):
            await app.commands.create(caller, NewCustomer(f"c-{n}", "b2b"))

        async def through_store(customer: int, value: int) -> None:
            await app.commands.run(caller, f"c-{customer}", UpdateFacts({"web_visits_30d": value}))

        async def naive(customer: int, value: int) -> None:
            await naive_update(app, tenant, f"c-{customer}", value)

        print(
            f"UpdateFacts commands per second on 1,000 b2b customers ({SECONDS:.0f} s each, {url.split(':')[0]} Redis)"
        )
        print(f"{'clients':>8} {'store (2 scripts)':>18} {'naive WATCH/MULTI':>18} {'ratio':>7}")
        for clients in (1, 32):
            ours = await throughput(clients, through_store)
            theirs = await throughput(clients, naive)
            print(f"{clients:>8} {ours:>18,.0f} {theirs:>18,.0f} {ours / theirs:>7.2f}")
        await commands_per_store_command(app, tenant)
        await memory_per_customer(app, count)
    finally:
        await client.aclose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with bench_redis() as url:
        asyncio.run(bench(url, count))


if __name__ == "__main__":
    main()
