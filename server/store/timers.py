"""The timer queue: per tenant partition, a sorted set of `customer|timer key` by due time. The commit
script schedules and cancels; workers lease due timers here and settle the ones that did not fire."""

from __future__ import annotations

from .errors import store_errors
from .keys import TENANTS, Keys
from .scripts import Scripts


class TimerQueue:
    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    async def tenants(self) -> list[str]:
        """Every tenant that has customers (whose timers a worker sweeps)."""
        async with store_errors(self.scripts.timeout):
            return sorted(str(tenant) for tenant in await self.scripts.client.smembers(TENANTS))

    async def claim_due(
        self, keys: Keys, part: int, now_ms: int, lease_ms: int, limit: int
    ) -> list[tuple[str, int, int]]:
        """Up to `limit` timers of one partition that are due now, each leased to the caller: (member, lease,
        due ms)."""
        async with store_errors(self.scripts.timeout):
            return await self.scripts.claim_timers(keys.timers(part), now_ms, lease_ms, limit)

    async def settle(self, keys: Keys, part: int, member: str, lease: int, due_ms: int | None) -> None:
        """A claimed timer that did not fire: drop it (due None), or put it back at its due time."""
        async with store_errors(self.scripts.timeout):
            await self.scripts.settle_timer(keys.timers(part), member, lease, due_ms)
