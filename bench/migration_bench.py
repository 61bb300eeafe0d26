"""Import, migration dry-run and apply throughput (customers per second) on one process, next to CreateCustomer
measured in the same run: import 100k b2b customers with entry dates, plan their migration to v2, apply it.

Prints figures; fails nothing. Uses an embedded Redis of its own unless BENCH_REDIS_URL is set.
    python -m bench.migration_bench [customers, default 100000]
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.embedded import bench_redis
from crmstatus.engine import Actor, ManualClock
from crmstatus.engine.loader import load_all, load_definition
from crmstatus.server.application import Application
from crmstatus.server.application.catalog import Catalog
from crmstatus.server.application.migration import Selection
from crmstatus.server.application.model import Caller, ImportRow, NewCustomer
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store
from crmstatus.server.store.connection import client_for

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
ADMIN = Actor("ana", frozenset({"admin"}))
BATCH = 1000
MAPPING = "definition: b2b\nfrom: 1\nto: 2\nstates:\n  lifecycle: {重点: 关键}\n"


def _rate(count: int, started: float) -> float:
    return count / (time.perf_counter() - started)


async def bench(url: str, count: int) -> None:
    settings = Settings(redis_url=url)
    shipped = load_all([CONFIGS])[0]
    b2b = next(d for d in shipped if d.name == "b2b")
    v2 = load_definition(b2b.source.replace("version: 1", "version: 2", 1).replace("重点", "关键"), "b2b.yaml")
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    app = Application(Store(client_for(url, settings), settings), Catalog([*shipped, v2]), settings, clock)
    caller = Caller("bench", ADMIN)
    now = clock.now()

    sample = min(5000, count)
    started = time.perf_counter()
    gate = asyncio.Semaphore(32)

    async def create(n: int) -> None:
        async with gate:
            await app.commands.create(caller, NewCustomer(f"n-{n}", "b2b", 1))

    await asyncio.gather(*(create(n) for n in range(sample)))
    creates = _rate(sample, started)

    started = time.perf_counter()
    for start in range(0, count, BATCH):
        rows = [ImportRow(f"c-{n}", "b2b", 1, {"lifecycle": ("潜在", now - timedelta(days=n % 80))})
                for n in range(start, min(count, start + BATCH))]  # fmt: skip
        await app.commands.import_customers(caller, rows)
    imports = _rate(count, started)

    everyone = Selection()
    started = time.perf_counter()
    plan = await app.migrations.plan(caller, MAPPING, everyone)
    plans = _rate(plan.selected, started)
    started = time.perf_counter()
    async for report in app.migrations.apply(caller, MAPPING, everyone, batch=2000):
        done = report
    applies = _rate(done.migrated, started)
    assert done.migrated == plan.migrated == count + sample

    print(f"{count:,} b2b customers ({url.split(':')[0]} Redis, one process), customers per second:")
    print(f"  CreateCustomer (baseline, {sample:,})   {creates:9,.0f}   1.00×")
    print(f"  ImportCustomers, batches of {BATCH:,}   {imports:9,.0f}   {imports / creates:.2f}×")
    print(f"  PlanMigration (dry run)         {plans:9,.0f}   {plans / creates:.2f}×")
    print(f"  MigrateCustomers (apply)        {applies:9,.0f}   {applies / creates:.2f}×")
    await app.store.client.aclose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with bench_redis() as url:
        asyncio.run(bench(url, count))


if __name__ == "__main__":
    main()
