"""The floor of the stack, for bench/grpc_bench.py: a grpc.aio server whose FireEvent does only what any
FireEvent must — the same two Lua scripts (read.lua, then a successful commit.lua with payloads of the real
sizes) on the path the service's scripts take to Redis (on a single Redis, the shared pipelined connection
of store/pipe.py) to an embedded Redis of its own, 40 µs of Python standing for the least a decision can
take, and a reply of the real shape (the full view's: 15 dimension states with their entry times, b2b's open
checklist, the history entry; 1.3 KB as FireEvent's).
No engine, no codec, no application.

    python -m bench.minimal_server PORT
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from typing import Any

import grpc
from google.protobuf import timestamp_pb2
from grpc_health.v1 import health, health_pb2_grpc

from crmstatus.server.settings import Settings
from crmstatus.server.store.connection import RedisConnection
from crmstatus.server.store.scripts import _source
from crmstatus.server.wire.handlers import add
from crmstatus.v1 import customer_pb2
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc

DOCUMENT = '{"d":"b2b","dv":1,"dg":"0123abcd","t0":[1767600000000,1],"s":[0,0,0,0,0,0,2,0,0,0,0,0,0,0,0],' + (
    '"f":{"effective_contacts":4,"phone":"13800138000"},"o":"rep-1","lu":1768204800000,"fc":1}'
)
HISTORY = '{"at":1767600000000,"by":"rep-1","t":"caller","dv":1,"e":"ask_for_help",' + (
    '"dim":"team","from":"跟进中","to":"需要协作"}'
)
DIMENSIONS = ["lifecycle", "follow_up", "lead", "value", "review", "engagement", "team", "renewal", "payment",
              "complaint", "compliance", "transaction", "data_quality", "device", "project"]  # fmt: skip
CHECKLIST = [
    ("contract_approval", "合同审批", "Contract approval"),
    ("product_configuration", "产品配置", "Product configuration"),
    ("pricing_approval", "价格审批", "Pricing approval"),
    ("payment_terms_confirmed", "信用/付款条件确认", "Credit and payment terms confirmed"),
    ("signed_contract_uploaded", "签署合同上传", "Signed contract uploaded"),
]  # b2b's signing checklist, open
ENTERED = 1767600000  # seconds: when the states were entered


PYTHON_WORK_US = 40


def _spins_per_microsecond() -> float:
    started, spins = time.thread_time(), 200_000
    _spin(spins)
    return spins / ((time.thread_time() - started) * 1e6)


def _spin(spins: int) -> int:
    total = 0
    for n in range(spins):
        total += n
    return total


class Minimal(cs_grpc.CustomerStatusServiceServicer):
    def __init__(self, connection: RedisConnection) -> None:
        self.client = connection.client
        # the path the service's scripts take (scripts._Script): the shared pipe on a single Redis
        self.call = connection.pipe.call if connection.pipe else connection.client.execute_command
        self.calls = 0
        self.spins = int(PYTHON_WORK_US * max(_spins_per_microsecond() for _ in range(5)))  # the least noisy

    async def load(self) -> None:
        self.read_sha = await self.client.script_load(_source("read"))
        self.commit_sha = await self.client.script_load(_source("commit"))

    async def script(self, sha: str, keys: list[str], args: list[object]) -> Any:
        return await self.call("EVALSHA", sha, len(keys), *keys, *args)

    async def FireEvent(self, request: cs.FireEventRequest, context: Any) -> Any:
        tag = "{bench:p0}"
        customer = f"crm:{tag}:c:{request.customer_id}"
        self.calls += 1
        idem = f"{customer}:idem:own-{self.calls}"
        stored, _ = await self.script(self.read_sha, [customer, idem], [])
        version = int(stored.partition("\n")[0]) if stored else 0
        _spin(self.spins)
        new = f"{version + 1}\n{DOCUMENT}"
        result = f'{{"doc":{new!r},"h":[{HISTORY}],"fx":[]}}'
        keys = [customer, f"{customer}:history", f"crm:{tag}:counts", f"crm:{tag}:timers", f"crm:{tag}:events", idem,
                f"crm:{tag}:pool", f"crm:{tag}:pool", f"crm:{tag}:flow:2026-01-01", f"crm:{tag}:usage"]  # fmt: skip
        args = [version, version + 1, new, "d" * 32, 30, result, 100_000, request.customer_id,
                f'{{"by":"rep-1","h":[{HISTORY}],"fx":[]}}', 1, HISTORY, 0, 0, 0, "owned", 0,
                2, "m|2026-01-01|b2b@1|team|跟进中|需要协作", "d|2026-01-01|b2b@1|team|跟进中|0",
                2, "b2b@1|t|team|3", "b2b@1|s|team|需要协作", 0]  # fmt: skip
        reply = await self.script(self.commit_sha, keys, args)
        assert reply[0] == "ok", reply
        # The full view's reply, as FireEvent's: every state with its label and entry time, the open checklist
        # with its items, the history entry the change appended.
        states = [
            customer_pb2.DimensionState(dimension=d, state="跟进中", since=timestamp_pb2.Timestamp(seconds=ENTERED),
                                        label=customer_pb2.Label(zh="跟进中", en="In follow-up"))
            for d in DIMENSIONS
        ]  # fmt: skip
        signing = customer_pb2.ChecklistProgress(checklist="signing", items=[
            customer_pb2.ChecklistItem(item=item, label=customer_pb2.Label(zh=zh, en=en)) for item, zh, en in CHECKLIST
        ])  # fmt: skip
        entry = customer_pb2.HistoryEntry(version=version + 1, time=timestamp_pb2.Timestamp(seconds=ENTERED),
                                          actor="rep-1", trigger="caller", event="ask_for_help", dimension="team",
                                          from_state="跟进中", to_state="需要协作", definition_version=1)  # fmt: skip
        return cs.FireEventResponse(
            result=cs.ChangeResult(
                customer=customer_pb2.Customer(customer_id=request.customer_id, definition="b2b",
                                               definition_version=1, version=version + 1, states=states, owner="rep-1",
                                               checklists=[signing]),
                history=[entry],
            )
        )  # fmt: skip


async def main(port: int) -> None:
    connection = await RedisConnection.open(Settings(dev_mode=True))  # its own embedded Redis
    server = grpc.aio.server()
    minimal = Minimal(connection)
    await minimal.load()
    # added as the service adds its own (wire/handlers.py: generic handlers, requests decoded leniently)
    add(server, cs_grpc.add_CustomerStatusServiceServicer_to_server, minimal, lenient=True)
    add(server, health_pb2_grpc.add_HealthServicer_to_server, health.aio.HealthServicer(), lenient=False)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    print("crmstatus serving (minimal)", flush=True)
    await stopping.wait()
    await server.stop(0)
    await connection.close()  # and its embedded Redis


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
