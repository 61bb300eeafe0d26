"""Instructions per FireEvent, counted by valgrind, next to the minimal handler's: a figure that
repeats within a few percent (the service's timed chores, such as its one-second caches, count differently
under valgrind's slowness from run to run) where server CPU time on these machines varies by 10–20%.

In process: both on one event loop and an embedded Redis (not traced), without gRPC: the service's FireEvent
through its servicer (wire → application → engine / store, the reply built and serialized), and
bench/minimal_server.py's handler without its 40 µs of Python (the same two Lua calls over the same pipe, a
reply of the real shape): a spin calibrated in time would count differently in every run. Each runs twice,
with 256 and with 768 calls after the same warm-up; the difference of the two totals, divided by 512, leaves
start-up out. Counted by cachegrind, which also simulates this machine's caches and branch predictor: the
first-level cache misses and mispredicted branches say why the same number of instructions costs one
handler more time than another (Python's own code runs slower per instruction than the C code of protobuf).

Served: the same two as grpc_bench serves them (`crmstatus serve` and bench/minimal_server.py, gRPC included),
the server process under callgrind, one call at a time from this process; 100 and 400 calls, the difference
divided by 300. The minimal server's spin is calibrated under valgrind there, so it counts next to nothing.
The service's timer sweeps and health checks are set an hour apart: under valgrind a call takes some 50 times
as long, and chores paid per second would count as if they were paid per call.
About eight minutes; needs valgrind.

    python -m bench.instructions_bench
"""

from __future__ import annotations

import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from crmstatus.v1 import customer_status_service_pb2 as cs

from .engine_bench import CONFIGS

CUSTOMERS, WARM, CALLS = 16, 32, (256, 768)
EVENTS = ("ask_for_help", "back_to_follow_up")  # b2b: team 跟进中 ⇄ 需要协作, each call a change


class _Context:
    """What the servicer reads of a grpc.aio context: the caller's metadata; trailing metadata is dropped."""

    def __init__(self, customer: str) -> None:
        self.metadata = (("x-crm-tenant", "bench"), ("x-crm-actor", f"rep-{customer}"), ("x-crm-roles", "sales"))

    def invocation_metadata(self) -> Any:
        return self.metadata

    def set_trailing_metadata(self, metadata: Any) -> None:
        pass


async def _run(kind: str, calls: int) -> None:
    from crmstatus.server.app import open_application
    from crmstatus.server.settings import Settings
    from crmstatus.server.wire.customers import CustomerStatusService

    from .minimal_server import Minimal

    connection, app = await open_application(Settings(dev_mode=True, config_dir=str(CONFIGS)))
    service, minimal = CustomerStatusService(app), Minimal(connection)
    minimal.spins = 0  # its stand-in for a decision: calibrated in time, so never the same count twice
    await minimal.load()
    contexts = [(f"c-{n}", _Context(f"c-{n}")) for n in range(CUSTOMERS)]
    for customer, context in contexts:
        await service.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), context)
        await service.FireEvent(cs.FireEventRequest(customer_id=customer, event="start_follow_up"), context)

    async def client(customer: str, context: _Context, count: int) -> None:
        for n in range(count):
            if kind == "service":
                request = cs.FireEventRequest(customer_id=customer, event=EVENTS[n % 2])
                reply = await service.FireEvent(request, context)
            else:
                reply = await minimal.FireEvent(cs.FireEventRequest(customer_id=customer), context)
            if not isinstance(reply, bytes):  # the service's commands answer serialized (wire/handlers.py)
                reply.SerializeToString()

    await asyncio.gather(*(client(customer, context, WARM) for customer, context in contexts))
    gc.collect()
    gc.freeze()  # as the served process does once started (app.serve)
    await asyncio.gather(*(client(customer, context, calls // CUSTOMERS) for customer, context in contexts))
    await connection.close()


def _counted(kind: str, calls: int) -> subprocess.Popen[str]:
    """The in-process run under cachegrind, which simulates the caches and branch predictor of this machine:
    besides instructions, what makes the same instructions cost more or less time."""
    command = ["valgrind", "--tool=cachegrind", "--cache-sim=yes", "--branch-sim=yes",
               "--cachegrind-out-file=/dev/null", sys.executable, "-m", "bench.instructions_bench", kind,
               str(calls)]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


COUNTED = {"instructions": r"I\s+refs:", "I1 misses": r"I1\s+misses:", "D1 misses": r"D1\s+misses:",
           "mispredicts": r"Mispredicts:"}  # fmt: skip


def _counts(process: subprocess.Popen[str]) -> dict[str, int]:
    _, err = process.communicate()
    found = {name: re.search(rf"{label}\s+([\d,]+)", err) for name, label in COUNTED.items()}
    if process.returncode or not all(found.values()):
        raise RuntimeError(f"valgrind failed: {err[-2000:]}")
    return {name: int(match[1].replace(",", "")) for name, match in found.items() if match}


def _instructions(process: subprocess.Popen[str]) -> int:
    _, err = process.communicate()
    found = re.search(r"Collected : (\d+)", err)
    if process.returncode or not found:
        raise RuntimeError(f"valgrind failed: {err[-2000:]}")
    return int(found[1])


SERVED_CALLS = (100, 400)


def _served(kind: str, calls: int) -> int:
    """Instructions of a server process, under callgrind, that answered `calls` FireEvents after a warm-up."""
    from .grpc_bench import free_port, server_env, wait_serving

    port = free_port()
    served = ["crmstatus.server.cli", "serve"] if kind == "service" else ["bench.minimal_server", str(port)]
    env = server_env(port, PYTHONHASHSEED="0", CRMSTATUS_TIMER_INTERVAL="3600", CRMSTATUS_HEALTH_INTERVAL="3600")
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-m", *served]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_serving(process)
    asyncio.run(_call(kind, port, WARM * 2, calls))
    process.terminate()
    return _instructions(process)


async def _call(kind: str, port: int, warm: int, calls: int) -> None:
    import grpc

    from crmstatus.v1 import customer_pb2
    from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc

    from .grpc_bench import fire_calls, toggler

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = cs_grpc.CustomerStatusServiceStub(channel)
        if kind == "service":
            fire = await fire_calls(stub, customer_pb2.CUSTOMER_VIEW_FULL)
        else:
            fire = [toggler(stub, f"floor-{n}", 0) for n in range(CUSTOMERS)]
        for n in range(warm + calls):
            await fire[n % len(fire)]()


def main() -> None:
    if len(sys.argv) == 3:
        asyncio.run(_run(sys.argv[1], int(sys.argv[2])))
        return
    if shutil.which("valgrind") is None:
        print("instructions_bench: valgrind is not installed here (apt-get install valgrind): nothing counted")
        return
    per_call: dict[str, dict[str, float]] = {}
    for kind in ("service", "minimal"):
        low, high = (_counts(run) for run in [_counted(kind, calls) for calls in CALLS])  # at once: a core each
        per_call[kind] = {name: (high[name] - low[name]) / (CALLS[1] - CALLS[0]) for name in COUNTED}
    print(f"per FireEvent, in process (cachegrind; {CALLS[1]} calls less {CALLS[0]}): the service | the minimal "
          "handler without its 40 µs of Python | ratio")  # fmt: skip
    for name in COUNTED:
        service, minimal = per_call["service"][name], per_call["minimal"][name]
        print(f"  {name:<14} {service / 1000:8,.1f}k {minimal / 1000:8,.1f}k {service / minimal:6.2f}")
    served = {}
    with ThreadPoolExecutor(2) as pool:  # one core each
        for kind in ("service", "minimal"):
            low, high = pool.map(_served, (kind, kind), SERVED_CALLS)
            served[kind] = (high - low) / (SERVED_CALLS[1] - SERVED_CALLS[0])
    print(f"instructions per FireEvent, served (callgrind on the server process; {SERVED_CALLS[1]} calls less "
          f"{SERVED_CALLS[0]}, one at a time):")  # fmt: skip
    print(f"  FireEvent through the service                 {served['service'] / 1000:8,.0f}k")
    print(f"  minimal server (its spin next to nothing)     {served['minimal'] / 1000:8,.0f}k")
    print(f"  ratio                                         {served['service'] / served['minimal']:8.2f}")


if __name__ == "__main__":
    main()
