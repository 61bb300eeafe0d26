"""From one Redis to a Redis Cluster, measured in one run: Redis CPU per command, what spreading a tenant over
partitions costs the reads that span them (state counts, the pool, an event catch-up read) at 1, 16 and 64
partitions on a single Redis and on a 3-master cluster, what durable writes (WAIT for a replica) cost, and the
calls per second of 1 vs 2 server processes sharing one port and one Redis.

Redis CPU comes from INFO commandstats (summed over the masters); client-side times are per call, sequential.
Prints, never fails.
    python -m bench.fleet_bench
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import grpc
import redis

from crmstatus.engine import Actor
from crmstatus.engine.clock import ManualClock
from crmstatus.engine.commands import UpdateFacts
from crmstatus.engine.loader import load_all
from crmstatus.server.application import Application
from crmstatus.server.application.catalog import Catalog
from crmstatus.server.application.model import Caller, NewCustomer
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store
from crmstatus.server.store.connection import RedisConnection
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from tests.cluster import Cluster, free_port, redis_server_executable

from .engine_bench import CONFIGS
from .grpc_bench import rep

REP = Actor("rep-bench", frozenset({"sales"}))
CUSTOMERS, CALLS = 1000, 200


def single_redis(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [redis_server_executable(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(200):
        try:
            if redis.Redis(port=port).ping():
                return process, port
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def masters(ports: list[int]) -> list[redis.Redis]:
    return [redis.Redis(port=port, decode_responses=True) for port in ports]


def reset_stats(nodes: list[redis.Redis]) -> None:
    for node in nodes:
        node.config_resetstat()


def redis_usec(nodes: list[redis.Redis]) -> float:
    """Microseconds Redis spent executing commands since the last reset, over all masters."""
    return sum(
        float(stats["usec"]) for node in nodes for name, stats in node.info("commandstats").items()
        if name.startswith("cmdstat_") and name != "cmdstat_config"
    )  # fmt: skip


async def application(url: str, partitions: int, **options: object) -> tuple[RedisConnection, Application]:
    settings = Settings(redis_url=url, partitions=partitions, **options)  # type: ignore[arg-type]
    connection = await RedisConnection.open(settings)
    store = Store(connection.client, settings, cluster=connection.cluster, pipe=connection.pipe)
    catalog = Catalog(load_all([CONFIGS])[0])
    return connection, Application(store, catalog, settings, ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)))


async def fill(app: Application, tenant: str, count: int) -> list[str]:
    ids = [f"c-{n}" for n in range(count)]
    for start in range(0, count, 200):
        batch = ids[start : start + 200]
        await asyncio.gather(*(app.commands.create(Caller(tenant, REP), NewCustomer(c, "b2b", None, {}, {}))
                               for c in batch))  # fmt: skip
    return ids


def updater(app: Application, tenant: str, ids: list[str]) -> Callable[[], Awaitable[object]]:
    """UpdateFacts on the customers in turn, each time with a new value."""
    counter = iter(range(10**9))

    def update() -> Awaitable[object]:
        n = next(counter)
        return app.commands.run(Caller(tenant, REP), ids[n % len(ids)], UpdateFacts({"company_size": n}, ""))

    return update


async def per_call(action: Callable[[], Awaitable[object]], nodes: list[redis.Redis], calls: int = CALLS
                   ) -> tuple[float, float]:  # fmt: skip
    """(client µs per call, Redis µs per call)."""
    await action()
    reset_stats(nodes)
    started = time.perf_counter()
    for _ in range(calls):
        await action()
    elapsed = time.perf_counter() - started
    return elapsed / calls * 1e6, redis_usec(nodes) / calls


async def rate(action: Callable[[], Awaitable[object]], clients: int = 16, seconds: float = 2.0) -> float:
    started, done = time.perf_counter(), 0

    async def client() -> None:
        nonlocal done
        while time.perf_counter() - started < seconds:
            await action()
            done += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return done / (time.perf_counter() - started)


async def redis_cpu_per_command(url: str, nodes: list[redis.Redis], label: str) -> None:
    connection, app = await application(url, 16)
    tenant = f"cpu-{label}"
    update = updater(app, tenant, await fill(app, tenant, 200))
    client_us, redis_us = await per_call(update, nodes, 1000)
    stats = {name: s for node in nodes for name, s in node.info("commandstats").items()}
    script_us = float(stats.get("cmdstat_evalsha", {}).get("usec_per_call", 0))
    print(f"  {label:<8} UpdateFacts: Redis {redis_us:6.1f} µs per command in all "
          f"(EVALSHA {script_us:.1f} µs per script run), client {client_us:6.0f} µs")  # fmt: skip
    await connection.close()


async def fan_out(url: str, nodes: list[redis.Redis], label: str, partitions: int) -> None:
    connection, app = await application(url, partitions)
    tenant = f"fan-{label}-{partitions}"
    await fill(app, tenant, CUSTOMERS)
    keys = app.store.keys(tenant)
    events, queries = app.store.events, app.store.queries
    positions = await events.latest(keys)
    figures = {
        "counts": await per_call(lambda: queries.state_counts(keys), nodes),
        "pool": await per_call(lambda: queries.pool(keys, 2**62, 100), nodes),
        "watch catch-up": await per_call(lambda: events.read(keys, dict(positions)), nodes),
    }
    line = "  ".join(f"{name} {c:5.0f} µs (Redis {r:5.1f})" for name, (c, r) in figures.items())
    print(f"  {label:<8} {partitions:>3} partitions: {line}")
    await connection.close()


async def durable(url: str, nodes: list[redis.Redis], replicas: int) -> tuple[float, float]:
    """(µs per UpdateFacts, UpdateFacts per second from 16 clients) with CRMSTATUS_DURABLE_REPLICAS=replicas."""
    connection, app = await application(url, 16, durable_replicas=replicas)
    tenant = f"durable-{replicas}"
    update = updater(app, tenant, await fill(app, tenant, 100))
    latency = (await per_call(update, nodes, 500))[0]
    throughput = await rate(update)
    await connection.close()
    return latency, throughput


def processes_throughput(redis_port: int) -> None:
    """Calls per second of `crmstatus serve --processes N` for N = 1, 2, driven by client processes."""
    rates = {}
    for processes in (1, 2):
        port = free_port()
        env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{redis_port}", "CRMSTATUS_DEV_MODE": "1",
               "CRMSTATUS_CONFIG_DIR": str(CONFIGS), "CRMSTATUS_TIMER_WORKER": "0",
               "CRMSTATUS_LOG_LEVEL": "warning"}  # fmt: skip
        server = subprocess.Popen(
            [sys.executable, "-m", "crmstatus.server.cli", "serve", "--listen", f"127.0.0.1:{port}", "--processes",
             str(processes)], env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert server.stdout is not None
        announced = 0
        for line in server.stdout:
            announced += "; definitions:" in line
            if announced == processes:
                break
        threading.Thread(target=server.stdout.read, daemon=True).start()
        command = [sys.executable, "-m", "bench.fleet_bench", "--load", str(port)]
        loaders = [subprocess.Popen([*command, f"{processes}-{n}"], stdout=subprocess.PIPE, text=True)
                   for n in range(4)]  # fmt: skip
        rates[processes] = sum(float(loader.communicate()[0]) for loader in loaders)
        server.terminate()
        server.wait(30)
    print(f"  1 process {rates[1]:.0f} calls/s, 2 processes {rates[2]:.0f} calls/s ({rates[2] / rates[1]:.2f}×) "
          "on one Redis, 4 client processes on the same 2 cores")  # fmt: skip


def load(port: int, worker: str, seconds: float = 3.0) -> None:
    """A client process: GetCustomer and UpdateFacts over 4 connections; prints its calls per second."""

    async def run() -> float:
        channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
                    for _ in range(4)]  # fmt: skip
        stubs = [cs_grpc.CustomerStatusServiceStub(c) for c in channels]
        done = 0
        for n, stub in enumerate(stubs):
            await stub.CreateCustomer(cs.CreateCustomerRequest(customer_id=f"p-{worker}-{n}", definition="b2b"),
                                      metadata=rep(f"{worker}-{n}"))  # fmt: skip
        started = time.perf_counter()

        async def caller(n: int) -> None:
            nonlocal done
            stub, customer = stubs[n % 4], f"p-{worker}-{n % 4}"
            while time.perf_counter() - started < seconds:
                await stub.GetCustomer(cs.GetCustomerRequest(customer_id=customer), metadata=rep(f"{worker}-{n % 4}"))
                done += 1

        await asyncio.gather(*(caller(n) for n in range(16)))
        rate = done / (time.perf_counter() - started)
        for channel in channels:
            await channel.close()
        return rate

    print(asyncio.run(run()))


async def bench(directory: Path) -> None:
    process, port = single_redis(directory / "single")
    cluster = Cluster(directory / "cluster")
    cluster.start()
    try:
        single_nodes = masters([port])
        cluster_nodes = masters([node.port for node in cluster.masters()])
        single_url = f"redis://127.0.0.1:{port}"
        print("Redis CPU per command (a commit and its read):")
        await redis_cpu_per_command(single_url, single_nodes, "single")
        await redis_cpu_per_command(cluster.url, cluster_nodes, "cluster")
        print(f"Reads over a tenant's partitions ({CUSTOMERS} customers), per call:")
        for url, nodes, label in ((single_url, single_nodes, "single"), (cluster.url, cluster_nodes, "cluster")):
            for partitions in (1, 16, 64):
                await fan_out(url, nodes, label, partitions)
        print("Durable writes on the cluster (each master has one replica):")
        (off, off_rate), (on, on_rate) = [await durable(cluster.url, cluster_nodes, replicas) for replicas in (0, 1)]
        print(f"  UpdateFacts {off:.0f} µs → {on:.0f} µs with CRMSTATUS_DURABLE_REPLICAS=1 ({on / off:.2f}×); "
              f"16 clients {off_rate:.0f}/s → {on_rate:.0f}/s ({on_rate / off_rate:.2f}×)")  # fmt: skip
        print("Server processes behind one port:")
        processes_throughput(port)
    finally:
        cluster.stop()
        process.terminate()


def main() -> None:
    if sys.argv[1:2] == ["--load"]:
        load(int(sys.argv[2]), sys.argv[3])
        return
    with tempfile.TemporaryDirectory(prefix="crmstatus-fleet-bench-") as directory:
        asyncio.run(bench(Path(directory)))


if __name__ == "__main__":
    main()
