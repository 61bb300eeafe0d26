"""The store: Redis only. Customers (read and the one atomic write per command), claim caps, identity
keys, the timer queue, queries and event streams, each in a module of its own over one set of scripts.

Layout of every key: keys.py. Every stored format: codec.py. Every script's arguments: scripts.py.
"""

from __future__ import annotations

import functools

from crmstatus.server.settings import Settings, SettingsError

from .claims import Claims
from .connection import Client
from .customers import Customers
from .errors import store_errors
from .events import EventStreams
from .identities import Identities
from .keys import PARTITIONS, Keys
from .pipe import Pipe
from .queries import Queries
from .registry import DefinitionRegistry
from .scripts import Scripts
from .timers import TimerQueue


@functools.lru_cache(maxsize=1024)  # one per tenant, built on its first call
def _keys(tenant: str, partitions: int) -> Keys:
    return Keys(tenant, partitions)


class PartitionsMismatch(SettingsError):
    """The data in this Redis was written with another partition count: customers would not be found."""


class Store:
    def __init__(self, client: Client, settings: Settings, *, cluster: bool = False, pipe: Pipe | None = None) -> None:
        self.client = client
        self.partitions = settings.partitions
        self.timeout = settings.redis_timeout_seconds
        scripts = Scripts(client, settings.redis_timeout_seconds, settings.durable_replicas, pipe)
        self.customers = Customers(scripts, Claims(scripts), Identities(scripts), settings.event_stream_maxlen)
        self.timers = TimerQueue(scripts)
        self.queries = Queries(scripts)
        self.events = EventStreams(scripts, cluster=cluster, maxlen=settings.event_stream_maxlen)
        self.registry = DefinitionRegistry(scripts)

    def keys(self, tenant: str) -> Keys:
        return _keys(tenant, self.partitions)

    async def check_partitions(self) -> None:
        """Record the partition count on first start; refuse one that differs from what the data was written
        with (a customer's keys follow from it)."""
        async with store_errors(self.timeout):
            await self.client.setnx(PARTITIONS, self.partitions)
            recorded: str | None = await self.client.get(PARTITIONS)  # type: ignore[assignment]
        if recorded is not None and recorded != str(self.partitions):
            raise PartitionsMismatch(
                f"CRMSTATUS_PARTITIONS is {self.partitions}, but the data in this Redis was written with "
                f"{recorded} partitions: set CRMSTATUS_PARTITIONS={recorded} (changing it needs a data migration)"
            )

    async def ping(self) -> None:
        async with store_errors(self.timeout):
            await self.client.ping()
