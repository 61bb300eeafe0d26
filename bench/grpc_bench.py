"""FireEvent throughput and latency next to an empty-handler RPC (health Check) on the same server, same run.

The server runs in its own process (`crmstatus serve`, embedded Redis); clients are threads here.
Prints figures; fails nothing. Goal: FireEvent at >= 0.70 of the empty-handler throughput.
    python -m bench.grpc_bench
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crmstatus.v1 import customer_pb2
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc

from .engine_bench import CONFIGS

CLIENTS, SECONDS = 16, 4.0
METADATA = [("x-crm-tenant", "bench"), ("x-crm-actor", "rep"), ("x-crm-roles", "sales")]


def rep(customer: str) -> list[tuple[str, str]]:
    return [("x-crm-tenant", "bench"), ("x-crm-actor", f"rep-{customer}"), ("x-crm-roles", "sales")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "CRMSTATUS_DEV_MODE": "1", "CRMSTATUS_LISTEN": f"127.0.0.1:{port}",
           "CRMSTATUS_CONFIG_DIR": str(CONFIGS)}  # fmt: skip
    env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "crmstatus.server.cli", "serve"], env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:  # the server prints this line once it accepts calls
        if line.startswith("crmstatus serving on"):
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process
    raise RuntimeError("the server did not start")


def measure(calls: list[Callable[[], object]]) -> tuple[float, list[float]]:
    """Each client thread repeats its call for SECONDS; returns calls per second and every latency (ms)."""
    latencies: list[list[float]] = [[] for _ in calls]
    stop = time.monotonic() + SECONDS

    def run(index: int) -> None:
        call, mine = calls[index], latencies[index]
        while time.monotonic() < stop:
            started = time.perf_counter()
            call()
            mine.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [ms for mine in latencies for ms in mine]
    return len(every) / (time.monotonic() - began), every


def main() -> None:
    port = free_port()
    server = start_server(port)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = cs_grpc.CustomerStatusServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            fire_calls: list[Callable[[], object]] = []
            basic_calls: list[Callable[[], object]] = []
            for n in range(CLIENTS):
                for calls, view in (
                    (fire_calls, customer_pb2.CUSTOMER_VIEW_FULL),
                    (basic_calls, customer_pb2.CUSTOMER_VIEW_BASIC),
                ):
                    customer = f"bench-{view}-{n}"
                    owner = rep(customer)  # one rep per customer: the definition caps claims per rep and day
                    stub.CreateCustomer(
                        cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), metadata=owner
                    )
                    stub.FireEvent(cs.FireEventRequest(customer_id=customer, event="start_follow_up"), metadata=owner)
                    calls.append(toggler(stub, customer, view))
            empty_calls = [lambda: health.Check(health_pb2.HealthCheckRequest()) for _ in range(CLIENTS)]
            results = {}
            for name, calls in (("health Check (empty handler)", empty_calls), ("FireEvent (b2b)", fire_calls),
                                ("FireEvent (b2b, basic view)", basic_calls),
                                ("health Check (empty handler) again", empty_calls)):  # fmt: skip
                results[name] = measure(calls)
            claim_results = claims(stub)
        floor = statistics.mean([results[n][0] for n in results if n.startswith("health")])
        print(f"{CLIENTS} client threads, {SECONDS:.0f} s each, server in its own process on an embedded Redis")
        print(f"{'rpc':<36} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'× empty':>8}")
        for name, (rate, latencies) in results.items():
            quantiles = statistics.quantiles(latencies, n=100)
            print(f"{name:<36} {rate:>9,.0f} {quantiles[49]:>8.2f} {quantiles[98]:>8.2f} {rate / floor:>8.2f}")
        print("goal: FireEvent at >= 0.70 × the empty-handler throughput")
        print(f"\n{CLAIMERS} claimers, {SECONDS:.0f} s each")
        for name, (rate, latencies) in claim_results.items():
            quantiles = statistics.quantiles(latencies, n=100)
            print(f"{name:<36} {rate:>9,.0f} {quantiles[49]:>8.2f} {quantiles[98]:>8.2f}")
    finally:
        server.terminate()
        server.wait(30)


CLAIMERS = 32


def claims(stub: cs_grpc.CustomerStatusServiceStub) -> dict[str, tuple[float, list[float]]]:
    """ClaimCustomer at 32 clients: winning claims on free customers, and claims of customers already held."""
    free = [f"pool-{n}" for n in range(6000)]
    for customer in free:
        stub.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), metadata=METADATA)
    queue = iter(free)
    lock = threading.Lock()

    def winner(n: int) -> Callable[[], object]:
        def claim() -> object:
            with lock:
                customer = next(queue)
            rep = [("x-crm-tenant", "bench"), ("x-crm-actor", f"rep-{customer}"), ("x-crm-roles", "sales")]
            return stub.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=customer), metadata=rep)

        return claim

    def loser(n: int) -> Callable[[], object]:
        rep = [("x-crm-tenant", "bench"), ("x-crm-actor", f"late-{n}"), ("x-crm-roles", "sales")]

        def claim() -> object:
            try:
                return stub.ClaimCustomer(cs.ClaimCustomerRequest(customer_id=f"pool-{n}"), metadata=rep)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.FAILED_PRECONDITION, error
                return error

        return claim

    won = measure([winner(n) for n in range(CLAIMERS)])
    lost = measure([loser(n) for n in range(CLAIMERS)])
    return {"ClaimCustomer (wins)": won, "ClaimCustomer (already held)": lost}


def toggler(stub: cs_grpc.CustomerStatusServiceStub, customer: str, view: int) -> Callable[[], object]:
    """FireEvent that always succeeds: ask_for_help and back_to_follow_up in turn."""
    events = ["ask_for_help", "back_to_follow_up"]
    turn = [0]

    def fire() -> object:
        event = events[turn[0] % 2]
        turn[0] += 1
        request = cs.FireEventRequest(customer_id=customer, event=event, options=cs.CommandOptions(view=view))
        return stub.FireEvent(request, metadata=rep(customer))

    return fire


if __name__ == "__main__":
    main()
