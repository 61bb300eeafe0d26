"""FireEvent through the whole service next to the stack's floor, measured in one run.

Three servers, each in its own process on its own embedded Redis:
- the service (`crmstatus serve`), with call logs off and no metrics endpoint,
- the same with metrics counted (an endpoint) and one JSON log line per call, for their overhead, and
- bench/minimal_server.py: the same grpc.aio server doing the same two Lua calls (read.lua, a successful
  commit.lua with payloads of the real sizes) on the path the service's scripts take to Redis (the shared
  pipe of store/pipe.py), 40 µs of Python, and a reply of the real shape.
Server CPU per call is read from /proc/<pid>/stat (the server process alone; Redis is another process),
so a busy machine changes it far less than it changes latency. Clients are asyncio tasks in this process.

Prints, never fails. Goals: FireEvent server CPU ≤ 1.3 × the minimal handler's; with 256 WatchEvents
streams open on the same process, FireEvent keeps ≥ 0.90 of its calls per second.
    python -m bench.grpc_bench
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crmstatus.v1 import customer_pb2
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc

from .engine_bench import CONFIGS

CLIENTS, SECONDS, ROUNDS, WATCHERS = 16, 2.0, 8, 256  # rounds: a round's own ratio varies ±15% here
OBSERVED = "FireEvent, metrics + call logs on"
WATCHED, UNWATCHED = f"FireEvent, {WATCHERS} watchers open", "FireEvent, none open (same rounds)"
TICK = os.sysconf("SC_CLK_TCK")


def rep(customer: str, tenant: str = "bench") -> list[tuple[str, str]]:
    return [("x-crm-tenant", tenant), ("x-crm-actor", f"rep-{customer}"), ("x-crm-roles", "sales")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(port: int, **settings: str) -> dict[str, str]:
    """A benched server's environment: development mode on `port`, the shipped definitions, an embedded Redis."""
    env = {**os.environ, "CRMSTATUS_DEV_MODE": "1", "CRMSTATUS_LISTEN": f"127.0.0.1:{port}",
           "CRMSTATUS_CONFIG_DIR": str(CONFIGS), "CRMSTATUS_LOG_LEVEL": "warning", **settings}  # fmt: skip
    env.pop("REDIS_URL", None)
    return env


def wait_serving(process: subprocess.Popen[str]) -> None:
    """Until the server prints that it accepts calls (each server prints this once)."""
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("crmstatus serving"):
            return
    raise RuntimeError(f"{process.args} did not start")


def start(command: list[str], port: int, **settings: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-m", *command], env=server_env(port, **settings),
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    wait_serving(process)
    assert process.stdout is not None
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process


def cpu_seconds(pid: int) -> float:
    """User + system CPU of the process itself (not of its children, such as an embedded Redis)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass
class Figures:
    rate: float
    p50: float
    p99: float
    cpu_us: float  # server CPU per call


async def measure(calls: list[Callable[[], Awaitable[object]]], pid: int) -> Figures:
    """Each client repeats its call for SECONDS."""
    latencies: list[float] = []
    stop = time.monotonic() + SECONDS

    async def client(call: Callable[[], Awaitable[object]]) -> None:
        while time.monotonic() < stop:
            started = time.perf_counter()
            await call()
            latencies.append((time.perf_counter() - started) * 1000)

    cpu, began = cpu_seconds(pid), time.monotonic()
    await asyncio.gather(*(client(call) for call in calls))
    elapsed, used = time.monotonic() - began, cpu_seconds(pid) - cpu
    quantiles = statistics.quantiles(latencies, n=100)
    return Figures(len(latencies) / elapsed, quantiles[49], quantiles[98], used / len(latencies) * 1e6)


def toggler(stub: cs_grpc.CustomerStatusServiceStub, customer: str, view: int) -> Callable[[], Awaitable[object]]:
    """FireEvent that always succeeds: ask_for_help and back_to_follow_up in turn."""
    events, turn = ["ask_for_help", "back_to_follow_up"], [0]

    async def fire() -> object:
        event = events[turn[0] % 2]
        turn[0] += 1
        request = cs.FireEventRequest(customer_id=customer, event=event, options=cs.CommandOptions(view=view))
        return await stub.FireEvent(request, metadata=rep(customer))

    return fire


async def fire_calls(stub: cs_grpc.CustomerStatusServiceStub, view: int) -> list[Callable[[], Awaitable[object]]]:
    calls = []
    for n in range(CLIENTS):
        customer = f"bench-{view}-{n}"
        owner = rep(customer)  # one rep per customer: the definition caps claims per rep and day
        await stub.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), metadata=owner)
        await stub.FireEvent(cs.FireEventRequest(customer_id=customer, event="start_follow_up"), metadata=owner)
        calls.append(toggler(stub, customer, view))
    return calls


async def open_watchers(stub: cs_grpc.CustomerStatusServiceStub, count: int) -> list[grpc.aio.UnaryStreamCall]:
    """`count` WatchEvents streams of another tenant, each in place (initial metadata received)."""
    streams = [stub.WatchEvents(cs.WatchEventsRequest(), metadata=rep(f"w{n}", "watchers")) for n in range(count)]
    await asyncio.gather(*(stream.initial_metadata() for stream in streams))
    return streams


async def run(real: Served, minimal: Served, observed: Served) -> dict[str, list[Figures]]:
    results: dict[str, list[Figures]] = {}
    async with (
        grpc.aio.insecure_channel(f"127.0.0.1:{real.port}") as to_real,
        grpc.aio.insecure_channel(f"127.0.0.1:{minimal.port}") as floor,
        grpc.aio.insecure_channel(f"127.0.0.1:{observed.port}") as to_observed,
    ):
        stub, minimal_stub = cs_grpc.CustomerStatusServiceStub(to_real), cs_grpc.CustomerStatusServiceStub(floor)
        health = health_pb2_grpc.HealthStub(to_real)
        full = await fire_calls(stub, customer_pb2.CUSTOMER_VIEW_FULL)
        basic = await fire_calls(stub, customer_pb2.CUSTOMER_VIEW_BASIC)
        watched = await fire_calls(cs_grpc.CustomerStatusServiceStub(to_observed), customer_pb2.CUSTOMER_VIEW_FULL)
        floor_calls = [toggler(minimal_stub, f"floor-{n}", 0) for n in range(CLIENTS)]
        empty = [lambda: health.Check(health_pb2.HealthCheckRequest()) for _ in range(CLIENTS)]
        real_pid = real.pid
        cases: list[tuple[str, list[Callable[[], Awaitable[object]]], int]] = [
            ("minimal handler (same stack)", floor_calls, minimal.pid),
            ("FireEvent (b2b)", full, real_pid),
            ("FireEvent (b2b, basic view)", basic, real_pid),
            ("health Check (empty handler)", empty, real_pid),
            (OBSERVED, watched, observed.pid),
        ]
        for _ in range(ROUNDS):  # interleaved, so machine noise hits every case alike
            for name, calls, pid in cases:
                results.setdefault(name, []).append(await measure(calls, pid))

        async def with_watchers() -> Figures:
            watchers = await open_watchers(stub, WATCHERS)
            try:
                return await measure(full, real_pid)
            finally:
                for stream in watchers:
                    stream.cancel()

        # Each round with the watchers open and without, so that both meet the machine as it is then; in turn
        # first and second, so that closing the streams weighs on both cases alike.
        pair = [(WATCHED, with_watchers), (UNWATCHED, lambda: measure(full, real_pid))]
        for round_ in range(ROUNDS):
            for name, case in pair if round_ % 2 else pair[::-1]:
                results.setdefault(name, []).append(await case())
    return results


@dataclass
class Served:
    port: int
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid


def main() -> None:
    ports = [free_port() for _ in range(3)]
    real = Served(ports[0], start(["crmstatus.server.cli", "serve"], ports[0]))
    minimal = Served(ports[1], start(["bench.minimal_server", str(ports[1])], ports[1]))
    observed = Served(ports[2], start(["crmstatus.server.cli", "serve"], ports[2], CRMSTATUS_LOG_LEVEL="info",
                                      CRMSTATUS_METRICS_LISTEN=f"127.0.0.1:{free_port()}"))  # fmt: skip
    try:
        results = asyncio.run(run(real, minimal, observed))
    finally:
        for served in (real, minimal, observed):
            served.process.terminate()
            served.process.wait(30)
    median = {name: Figures(*(statistics.median(getattr(f, field) for f in runs) for field in Figures.__annotations__))
              for name, runs in results.items()}  # fmt: skip
    floor_cpu = median["minimal handler (same stack)"].cpu_us
    empty_rate = median["health Check (empty handler)"].rate
    print(f"{CLIENTS} asyncio clients, {SECONDS:.0f} s per case, median of {ROUNDS} interleaved rounds; "
          "each server in its own process on its own embedded Redis")  # fmt: skip
    print(f"{'case':<34} {'calls/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU µs':>7} {'× floor':>8} {'× empty':>8}")
    for name, f in median.items():
        print(f"{name:<34} {f.rate:>8,.0f} {f.p50:>7.2f} {f.p99:>7.2f} {f.cpu_us:>7.0f} {f.cpu_us / floor_cpu:>8.2f} "
              f"{f.rate / empty_rate:>8.2f}")  # fmt: skip
    alone, watched = median[UNWATCHED].rate, median[WATCHED].rate
    plain, seen = median["FireEvent (b2b)"], median[OBSERVED]
    print(f"metrics and a JSON log line per call: {seen.cpu_us:.0f} µs vs {plain.cpu_us:.0f} µs of server CPU per "
          f"FireEvent ({seen.cpu_us / plain.cpu_us:.2f}×); FireEvents per server CPU-second "
          f"{1e6 / seen.cpu_us:,.0f} vs {1e6 / plain.cpu_us:,.0f}")  # fmt: skip
    paired = sorted(f.cpu_us / floor.cpu_us for f, floor in
                    zip(results["FireEvent (b2b)"], results["minimal handler (same stack)"], strict=True))  # fmt: skip
    print(f"goal: FireEvent CPU ≤ 1.30 × floor: {median['FireEvent (b2b)'].cpu_us / floor_cpu:.2f} "
          f"(each round's own ratio: {', '.join(f'{r:.2f}' for r in paired)})")  # fmt: skip
    kept = sorted(w.rate / u.rate for w, u in zip(results[WATCHED], results[UNWATCHED], strict=True))
    print(f"goal: with {WATCHERS} watchers open, FireEvent calls/s ≥ 0.90 × without: {watched / alone:.2f} "
          f"(each round's own ratio: {', '.join(f'{r:.2f}' for r in kept)})")  # fmt: skip


if __name__ == "__main__":
    main()
