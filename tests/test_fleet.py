"""The service as a fleet: one tenant spread over a Redis Cluster, a master killed under load, replicas that
serve the same definitions, a timer worker and health that recover, and servers that refuse to start wrong."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

import grpc
import pytest
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crmstatus.engine import Actor
from crmstatus.server.application.timers import TimerWorker
from crmstatus.server.settings import Settings
from crmstatus.server.store.keys import Keys
from crmstatus.v1 import customer_status_service_pb2 as cs
from crmstatus.v1 import customer_status_service_pb2_grpc as cs_grpc
from crmstatus.v1 import definition_service_pb2 as ds
from crmstatus.v1 import definition_service_pb2_grpc as ds_grpc
from tests.cluster import Cluster
from tests.conftest import CONFIGS, PARTITIONS, ROOT, TOKENS, Served, clean_env
from tests.service import Service
from tests.test_grpc import facts, who

REP = Actor("rep-li", frozenset({"sales"}))


async def test_one_tenants_ten_thousand_customers_spread_over_all_three_masters(redis_cluster, catalog, clock):
    # about where keys land, not how fast: a generous time bound, so a loaded CI machine cannot fail it
    settings = Settings(redis_url=redis_cluster.url, partitions=PARTITIONS, redis_timeout_seconds=30)
    service = await Service.connect(settings, catalog, clock)
    tenant = f"spread-{os.getpid()}"
    keys = Keys(tenant, PARTITIONS)
    ids = [f"c-{n}" for n in range(10_000)]
    for batch in range(0, len(ids), 100):
        await asyncio.gather(*(service.create_customer(tenant, c, "b2b", REP) for c in ids[batch : batch + 100]))
    with redis_cluster.client() as inspect:
        node_of = {key: inspect.get_node_from_key(keys.customer(c)).port for c in ids for key in [c]}
    per_master = Counter(node_of.values())
    assert len(per_master) == 3, per_master
    mean = len(ids) / 3
    assert all(abs(count - mean) <= 0.25 * mean for count in per_master.values()), per_master
    await service.close()


@pytest.mark.parametrize("masters", [2, 3, 5])
def test_every_tenants_partitions_spread_over_contiguous_masters_as_evenly_as_they_divide(masters):
    """Whatever the tenant's name: a cluster's masters hold equal contiguous slot ranges, and each gets
    the floor or the ceiling of partitions / masters."""
    from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

    for n in range(200):
        keys = Keys(f"tenant-{n}", PARTITIONS)
        slots = [key_slot(keys.counts(part).encode()) for part in range(PARTITIONS)]
        held = Counter(slot * masters // REDIS_CLUSTER_HASH_SLOTS for slot in slots)
        assert {PARTITIONS // masters, -(-PARTITIONS // masters)} >= set(held.values()), (keys.tenant, held)


def test_a_killed_master_costs_callers_unavailable_for_a_while_and_no_acknowledged_write(tmp_path):
    cluster = Cluster(tmp_path)
    cluster.start()
    settings = Settings(
        redis_url=cluster.url, listen="127.0.0.1:0", tokens=TOKENS, config_dir=str(CONFIGS), timer_worker=False,
        redis_timeout_seconds=1.0, durable_replicas=1,
    )  # fmt: skip
    server = Served(settings)
    acknowledged: dict[str, int] = {}
    codes: Counter[grpc.StatusCode] = Counter()
    stop = threading.Event()
    lock = threading.Lock()

    def caller(n: int) -> None:
        customer = f"load-{n}"
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            api = cs_grpc.CustomerStatusServiceStub(channel)
            api.CreateCustomer(cs.CreateCustomerRequest(customer_id=customer, definition="b2b"), metadata=who())
            size = 0
            while not stop.is_set():
                size += 1
                request = cs.UpdateFactsRequest(customer_id=customer, facts=facts(company_size=size))
                try:
                    version = api.UpdateFacts(request, metadata=who()).result.customer.version
                except grpc.RpcError as error:
                    with lock:
                        codes[error.code()] += 1
                    continue
                with lock:
                    codes[grpc.StatusCode.OK] += 1
                    acknowledged[customer] = version

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(12)]
    try:
        for thread in threads:
            thread.start()
        _until(lambda: codes[grpc.StatusCode.OK] >= 200)
        victim = cluster.masters()[0]
        victim.kill()
        killed_at = codes[grpc.StatusCode.OK]
        cluster.wait_for_failover()
        _until(lambda: codes[grpc.StatusCode.OK] >= killed_at + 300)  # the same server process carries on
        stop.set()
        for thread in threads:
            thread.join()
        assert set(codes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}, codes
        with cluster.client() as inspect:
            keys = Keys("acme", settings.partitions)
            for customer, version in acknowledged.items():
                versions = {int(entry_id.split("-")[0]) for entry_id, _ in inspect.xrange(keys.history(customer))}
                assert set(range(1, version + 1)) <= versions, f"{customer}: acknowledged v{version} lost"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        server.stop()
        cluster.stop()


def test_a_definition_made_available_on_one_replica_is_served_by_the_other(own_redis, tmp_path):
    url = f"redis://127.0.0.1:{own_redis.port}"
    with_yoga = tmp_path / "a"
    with_yoga.mkdir()
    for source in CONFIGS.glob("*.yaml"):
        (with_yoga / source.name).write_text(source.read_text("utf-8"), "utf-8")
    a = Served(Settings(redis_url=url, listen="127.0.0.1:0", tokens=TOKENS, config_dir=str(with_yoga),
                        timer_worker=False))  # fmt: skip
    b = Served(Settings(redis_url=url, listen="127.0.0.1:0", tokens=TOKENS, config_dir=str(CONFIGS),
                        timer_worker=False))  # fmt: skip
    try:
        yoga = (CONFIGS / "fitness.yaml").read_text("utf-8").replace("name: fitness", "name: yoga", 1)
        (with_yoga / "yoga.yaml").write_text(yoga, "utf-8")
        with grpc.insecure_channel(f"127.0.0.1:{a.port}") as to_a, grpc.insecure_channel(f"127.0.0.1:{b.port}") as to_b:
            ds_grpc.DefinitionServiceStub(to_a).ReloadDefinitions(
                ds.ReloadDefinitionsRequest(), metadata=who(roles="admin", tenant="platform")
            )
            on_a = cs_grpc.CustomerStatusServiceStub(to_a)
            on_a.CreateCustomer(cs.CreateCustomerRequest(customer_id="y-1", definition="yoga"), metadata=who())
            # b meets a customer pinned to a version it has not compiled: it loads it from the registry
            on_b = cs_grpc.CustomerStatusServiceStub(to_b)
            assert (
                on_b.GetCustomer(cs.GetCustomerRequest(customer_id="y-1"), metadata=who()).customer.definition == "yoga"
            )
            # and new customers get it through b as well: it is the shared default now
            on_b.CreateCustomer(cs.CreateCustomerRequest(customer_id="y-2", definition="yoga"), metadata=who())
            listed = ds_grpc.DefinitionServiceStub(to_b).ListDefinitions(ds.ListDefinitionsRequest(), metadata=who())
            assert "yoga" in {d.name for d in listed.definitions}
    finally:
        a.stop()
        b.stop()


def test_a_reload_that_gives_a_shared_version_another_text_is_refused(own_redis, tmp_path):
    url = f"redis://127.0.0.1:{own_redis.port}"
    first = Served(Settings(redis_url=url, listen="127.0.0.1:0", tokens=TOKENS, config_dir=str(CONFIGS),
                            timer_worker=False))  # fmt: skip
    first.stop()
    edited = tmp_path / "edited"
    edited.mkdir()
    text = (CONFIGS / "education.yaml").read_text("utf-8").replace("remaining_lessons <= 5", "remaining_lessons <= 6")
    (edited / "education.yaml").write_text(text, "utf-8")
    from crmstatus.server.app import StartupError, create_server

    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(StartupError, match="education@1 is published and its text changed"):
            loop.run_until_complete(create_server(Settings(redis_url=url, config_dir=str(edited), tokens=TOKENS)))
    finally:
        loop.close()


async def test_the_timer_worker_keeps_firing_after_an_unexpected_error(store, tenant):
    from tests.test_timers import _customers_with_due_timers

    ids = await _customers_with_due_timers(store, tenant, 4)
    app = store.app
    worker = TimerWorker(app.store, app.commands, app.queries, app.clock, lease_seconds=60)
    real_fire, failed = worker.fire, []

    async def fire_once_broken(*args):
        if not failed:
            failed.append(args)
            raise RuntimeError("injected")
        await real_fire(*args)

    worker.fire = fire_once_broken
    fired = await worker.sweep([tenant])
    assert failed and fired == 3 * len(ids) - 1  # every other timer fired; the broken one stays leased
    store.clock.advance(timedelta(seconds=61))  # its lease ends: it is tried again, and fires
    assert await worker.sweep([tenant]) == 1


async def test_the_timer_loop_carries_on_after_a_sweep_fails(store):
    app = store.app
    worker = TimerWorker(app.store, app.commands, app.queries, app.clock, interval=0.001)
    sweeps = 0
    done = asyncio.Event()

    async def sweep(tenants=None):
        nonlocal sweeps
        sweeps += 1
        if sweeps == 1:
            raise KeyError("injected")
        done.set()
        worker.stop()
        return 0

    worker.sweep = sweep
    await asyncio.wait_for(worker.run(), 10)
    assert done.is_set() and sweeps == 2 and worker.last_sweep is not None


def test_health_goes_not_serving_while_redis_is_frozen_or_the_worker_stalls_and_back(own_redis):
    import signal
    from dataclasses import replace

    from crmstatus.server.app import Health

    settings = Settings(
        redis_url=f"redis://127.0.0.1:{own_redis.port}", listen="127.0.0.1:0", tokens=TOKENS,
        config_dir=str(CONFIGS), redis_timeout_seconds=0.3, redis_retries=1, timer_worker=False,
    )  # fmt: skip
    server = Served(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)

            def status() -> int:
                return health.Check(health_pb2.HealthCheckRequest(service="")).status

            assert server.run(server.server.health.check()) and status() == health_pb2.HealthCheckResponse.SERVING
            own_redis.signal(signal.SIGSTOP)
            assert not server.run(server.server.health.check())
            assert status() == health_pb2.HealthCheckResponse.NOT_SERVING
            own_redis.signal(signal.SIGCONT)
            assert server.run(server.server.health.check()) and status() == health_pb2.HealthCheckResponse.SERVING

            # with a timer worker: one that has not completed a sweep for longer than the bound
            firing = Health(server.server.health.servicer, server.app, replace(settings, timer_worker=True))
            firing.started -= firing.sweep_bound + 1
            assert not server.run(firing.check())
            assert status() == health_pb2.HealthCheckResponse.NOT_SERVING
            assert "the timer worker has not completed a sweep" in server.run(firing.problem())
            server.app.timers.last_sweep = time.monotonic()
            assert server.run(firing.check()) and status() == health_pb2.HealthCheckResponse.SERVING
    finally:
        server.stop()


def _crmstatus(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = clean_env()
    plaintext_ok = {"CRMSTATUS_BEHIND_TLS_PROXY": "1"}  # these tests are about other refusals
    return subprocess.run(
        [sys.executable, "-m", "crmstatus.server.cli", *args], env={**clean, **plaintext_ok, **env},
        capture_output=True, text=True,
        timeout=60, cwd=ROOT,
    )  # fmt: skip


def test_a_server_with_tokens_and_no_redis_url_refuses_to_start():
    done = _crmstatus("serve", "--listen", "127.0.0.1:0", env={"CRMSTATUS_TOKENS": "acme=t"})
    assert done.returncode != 0
    assert "REDIS_URL is not set" in done.stderr and "CRMSTATUS_DEV_MODE=1" in done.stderr


def test_a_second_server_on_a_taken_port_exits_naming_the_port(own_redis):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _crmstatus(
            "serve", "--listen", f"127.0.0.1:{port}",
            env={"REDIS_URL": f"redis://127.0.0.1:{own_redis.port}", "CRMSTATUS_TOKENS": "acme=t"},
        )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_a_server_configured_with_another_partition_count_than_the_data_refuses_to_start(own_redis):
    env = {"REDIS_URL": f"redis://127.0.0.1:{own_redis.port}", "CRMSTATUS_TOKENS": "acme=t"}
    redis.Redis(port=own_redis.port).set("crm:partitions", "16")
    done = _crmstatus("serve", "--listen", "127.0.0.1:0", env={**env, "CRMSTATUS_PARTITIONS": "8"})
    assert done.returncode != 0
    assert "CRMSTATUS_PARTITIONS is 8, but the data in this Redis was written with 16 partitions" in done.stderr


def test_several_processes_share_one_port(own_redis):
    from tests.cluster import free_port

    port = free_port()
    env = {"REDIS_URL": f"redis://127.0.0.1:{own_redis.port}", "CRMSTATUS_TOKENS": "acme=token-acme",
           "CRMSTATUS_BEHIND_TLS_PROXY": "1"}  # fmt: skip
    clean = clean_env()
    parent = subprocess.Popen(
        [sys.executable, "-m", "crmstatus.server.cli", "serve", "--listen", f"127.0.0.1:{port}", "--processes", "2"],
        env={**clean, **env}, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        serving = [line for line in _lines(parent.stdout, 2) if "; definitions:" in line]
        assert len(serving) == 2
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            api = cs_grpc.CustomerStatusServiceStub(channel)
            api.CreateCustomer(cs.CreateCustomerRequest(customer_id="p-1", definition="b2b"), metadata=who())
    finally:
        parent.terminate()
        assert parent.wait(30) == 0


def _lines(stream, wanted: int) -> list[str]:
    """Lines a child process prints, until `wanted` of them announce a server."""
    lines: list[str] = []
    while sum("; definitions:" in line for line in lines) < wanted:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
    return lines


def _until(condition, timeout: float = 60.0) -> None:
    """Load tests only: wait for real callers to have made progress."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.05)


def test_health_list_and_the_probe_command(served):
    _, port = served
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        listed = health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest())
    assert listed.statuses[""].status == health_pb2.HealthCheckResponse.SERVING
    assert listed.statuses["crmstatus.v1.CustomerStatusService"].status == health_pb2.HealthCheckResponse.SERVING
    probe = _crmstatus("health", f"127.0.0.1:{port}", env={})
    assert (probe.returncode, probe.stdout.strip()) == (0, f"127.0.0.1:{port}: SERVING")
    from tests.cluster import free_port

    nobody = _crmstatus("health", f"127.0.0.1:{free_port()}", "--timeout", "1", env={})
    assert nobody.returncode == 1 and "UNAVAILABLE" in nobody.stderr
