"""The store: Redis only. Customers (read and the one atomic write per command), claim caps, identity
keys, the timer queue, queries and event streams, each in a module of its own over one set of scripts.

Layout of every key: keys.py. Every stored format: codec.py. Every script's arguments: scripts.py.
"""

from __future__ import annotations

import redis.asyncio as redis

from crmstatus.server.settings import Settings

from .claims import Claims
from .customers import Customers
from .events import EventStreams
from .identities import Identities
from .keys import Keys
from .queries import Queries
from .scripts import Scripts
from .timers import TimerQueue


class Store:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.client = client
        self.partitions = settings.partitions
        scripts = Scripts(client, settings.redis_timeout_seconds)
        self.customers = Customers(scripts, Claims(scripts), Identities(scripts), settings.event_stream_maxlen)
        self.timers = TimerQueue(scripts)
        self.queries = Queries(scripts)
        self.events = EventStreams(scripts)

    def keys(self, tenant: str) -> Keys:
        return Keys(tenant, self.partitions)
