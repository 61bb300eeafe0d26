"""Following a tenant's changes, resumable from an event id.

However many watchers a tenant has in this process, one task per group of its event streams (all of them on a
single Redis, each one on a Redis Cluster) reads them with a blocking XREAD and hands every event to each of
them: a watcher costs memory, not a Redis connection. A watcher that resumes from an older position first
catches up with reads of its own, then joins; one that falls too far behind is dropped from the fan-out and
catches up again the same way. Either way it gets every event once, in stream order per partition; when
events after its position may have been trimmed from the streams, it is told so (EventsTrimmed) instead.

Events show the facts each change wrote only to callers with the `integration` role (a feed for services that
keep their own copy); everyone else gets the moves, as they would read a customer locked to someone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable

from crmstatus.engine.commands import redacted_effects, redacted_history
from crmstatus.server.store import Store
from crmstatus.server.store.codec import Event
from crmstatus.server.store.errors import StoreUnavailable
from crmstatus.server.store.events import decode_position, encode_position, stream_order
from crmstatus.server.store.keys import Keys

from .model import Caller

FEED_ROLE = "integration"  # sees the facts written in every event
BLOCK_MS = 1000  # one blocking read of the tenant's reader waits this long
BACKLOG = 10_000  # events a watcher may lag behind the fan-out before it is dropped and catches up alone
log = logging.getLogger(__name__)


class _Watcher:
    def __init__(self) -> None:
        self.pending: deque[Event] = deque()
        self.arrived = asyncio.Event()
        self.dropped = False

    def offer(self, event: Event) -> bool:
        """Queue an event; False when this watcher lags too far behind (it catches up on its own)."""
        if len(self.pending) >= BACKLOG:
            self.dropped = True
            self.pending.clear()
        else:
            self.pending.append(event)
        self.arrived.set()
        return not self.dropped


class _Tenant:
    """One tenant's readers: read after `positions` and fan out to every watcher; stop with the last one."""

    def __init__(self, store: Store, keys: Keys, positions: dict[int, str]) -> None:
        self.store = store
        self.keys = keys
        self.positions = positions
        self.watchers: set[_Watcher] = set()
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        groups = self.store.events.groups(self.keys)
        await asyncio.gather(*(self._read(group) for group in groups))

    async def _read(self, group: range) -> None:
        while True:
            try:
                events = await self.store.events.read_group(self.keys, group, self.positions, BLOCK_MS)
            except StoreUnavailable as error:
                log.warning("event streams of %s unreadable, retrying: %s", self.keys.tenant, error)
                await asyncio.sleep(BLOCK_MS / 1000)
                continue
            for event in events:
                for watcher in list(self.watchers):
                    if not watcher.offer(event):
                        self.watchers.discard(watcher)


class Watch:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._tenants: dict[str, _Tenant] = {}
        self._ending: set[asyncio.Task[None]] = set()  # readers cancelled, not yet finished

    async def start(self, caller: Caller, after: str) -> tuple[str, dict[int, str]]:
        """Where a watcher starts: right after the event id `after`, or after the latest event now.
        Returns the position as a token, and as the positions `follow` takes."""
        keys = self.store.keys(caller.tenant)
        if after:
            positions = decode_position(after, keys)
        else:
            reader = self._tenants.get(caller.tenant)
            positions = dict(reader.positions) if reader else await self.store.events.latest(keys)
        return encode_position(positions), positions

    async def follow(
        self, caller: Caller, positions: dict[int, str], active: Callable[[], bool]
    ) -> AsyncIterator[tuple[str, Event]]:
        """Each change after `positions`, with the resume token just after it, while `active()` holds (asked as
        events come; a call that ends cancels the iteration)."""
        keys = self.store.keys(caller.tenant)
        mine = dict(positions)
        while active():
            watcher = await self._join(keys)
            try:
                # Catch up from our own position: events the tenant's reader read before we joined. Each read is
                # checked after it: trimming only moves a stream's start on, so one that kept the position then
                # kept it during the read, which skipped nothing. A slow catch-up may be overtaken (EventsTrimmed).
                while True:
                    events = await self.store.events.read(keys, dict(mine))
                    await self.store.events.check_kept(keys, mine)  # still where this read started
                    if not events:
                        break
                    for event in events:
                        yield self._advance(mine, event), _as_seen(caller, event)
                while active() and not watcher.dropped:
                    # Until the fan-out offers an event: an idle watcher never wakes (256 waking each second to
                    # ask `active` would cost 2% of a core). A call that ends cancels its task instead.
                    await watcher.arrived.wait()
                    watcher.arrived.clear()
                    while watcher.pending and not watcher.dropped:
                        event = watcher.pending.popleft()
                        if stream_order(event.entry_id) > stream_order(mine[event.part]):  # not seen catching up
                            yield self._advance(mine, event), _as_seen(caller, event)
            finally:
                self._leave(caller.tenant, watcher)

    async def close(self) -> None:
        """Stop every tenant's reader (at shutdown, once the streams are gone)."""
        for tenant in list(self._tenants):
            self._stop(tenant)
        for task in list(self._ending):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    def _advance(positions: dict[int, str], event: Event) -> str:
        positions[event.part] = event.entry_id
        return encode_position(positions)

    async def _join(self, keys: Keys) -> _Watcher:
        """Join the tenant's fan-out, starting its reader (from the latest events) if it has none."""
        watcher = _Watcher()
        reader = self._tenants.get(keys.tenant)
        if reader is None:
            latest = await self.store.events.latest(keys)
            reader = self._tenants.get(keys.tenant)  # another watcher may have started one meanwhile
            if reader is None:
                reader = self._tenants[keys.tenant] = _Tenant(self.store, keys, latest)
                reader.task = asyncio.create_task(reader.run(), name=f"crmstatus-watch-{keys.tenant}")
        reader.watchers.add(watcher)
        return watcher

    def _leave(self, tenant: str, watcher: _Watcher) -> None:
        reader = self._tenants.get(tenant)
        if reader is not None:
            reader.watchers.discard(watcher)
            if not reader.watchers:
                self._stop(tenant)

    def _stop(self, tenant: str) -> None:
        task = self._tenants.pop(tenant).task
        if task is not None:
            task.cancel()
            self._ending.add(task)
            task.add_done_callback(self._ending.discard)


def _as_seen(caller: Caller, event: Event) -> Event:
    if FEED_ROLE in caller.actor.roles:
        return event
    return dataclasses.replace(event, history=tuple(redacted_history(event.history)),
                               effects=tuple(redacted_effects(event.effects)))  # fmt: skip
