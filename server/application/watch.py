"""Following a tenant's changes, resumable from an event id."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from crmstatus.server.store import Store
from crmstatus.server.store.codec import Event
from crmstatus.server.store.events import decode_position, encode_position

from .model import Caller

BLOCK_MS = 1000  # how long one read waits before checking that the watcher is still there


class Watch:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def start(self, caller: Caller, after: str) -> tuple[str, dict[int, str]]:
        """Where a watcher starts: right after the event id `after`, or after the latest event now.
        Returns the position as a token, and as the positions `follow` takes."""
        keys = self.store.keys(caller.tenant)
        positions = decode_position(after, keys) if after else await self.store.events.latest(keys)
        return encode_position(positions), positions

    async def follow(
        self, caller: Caller, positions: dict[int, str], active: Callable[[], bool]
    ) -> AsyncIterator[Event]:
        """Each change after `positions`, while `active()` holds."""
        keys = self.store.keys(caller.tenant)
        positions = dict(positions)
        while active():
            for event in await self.store.events.read(keys, positions, BLOCK_MS):
                yield event
