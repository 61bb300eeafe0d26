"""Timer sweep cost with 1M not-due timers next to 10k (same run), and timers fired per second.

Prints figures; fails nothing. Goal: a sweep costs about the same at 1M not-due customers as at 10k.
    python -m bench.timer_bench
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.embedded import bench_redis
from crmstatus.engine import Actor, ManualClock
from crmstatus.engine.loader import load_all
from crmstatus.server.application import Application
from crmstatus.server.application.catalog import Catalog
from crmstatus.server.application.model import Caller, NewCustomer
from crmstatus.server.application.timers import TimerWorker
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store
from crmstatus.server.store.codec import ms
from crmstatus.server.store.connection import client_for
from crmstatus.server.store.keys import TENANTS

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
REP = Actor("rep", frozenset({"sales"}))


async def fill_not_due(app: Application, tenant: str, count: int) -> None:
    """`count` customers' timers, all due a year from now (written straight to the index)."""
    client = app.store.client
    keys = app.store.keys(tenant)
    later = ms(app.clock.now() + timedelta(days=365))
    await client.sadd(TENANTS, tenant)
    for start in range(0, count, 20_000):
        chunk = {f"x{n}|lifecycle:1:0": later + n for n in range(start, min(count, start + 20_000))}
        await client.zadd(keys.timers(0), chunk)


async def sweep_ms(worker: TimerWorker, tenant: str, rounds: int = 200) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        await worker.sweep([tenant])
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def bench(url: str) -> None:
    settings = Settings(redis_url=url)
    clock = ManualClock(datetime(2026, 1, 5, tzinfo=UTC))
    store = Store(client_for(url, settings), settings)
    app = Application(store, Catalog(load_all([CONFIGS])[0]), settings, clock)
    worker = app.timers
    try:
        await fill_not_due(app, "small", 10_000)
        await fill_not_due(app, "large", 1_000_000)
        small, large = await sweep_ms(worker, "small"), await sweep_ms(worker, "large")
        print(f"sweep with nothing due: {small:.3f} ms at 10k timers, {large:.3f} ms at 1M "
              f"(ratio {large / small:.2f}; goal about 1)")  # fmt: skip

        caller = Caller("due", REP)
        for n in range(2000):
            await app.commands.create(caller, NewCustomer(f"d{n}", "b2b"))
        clock.advance(timedelta(days=91))  # each customer's 90-day recycle and weekly review are due
        started = time.perf_counter()
        fired = await worker.sweep(["due"])
        elapsed = time.perf_counter() - started
        print(f"timers fired: {fired:,} in {elapsed:.2f} s = {fired / elapsed:,.0f} per second (one worker task)")
    finally:
        await store.client.aclose()


def main() -> None:
    with bench_redis(embedded_only=True) as url:
        asyncio.run(bench(url))


if __name__ == "__main__":
    main()
