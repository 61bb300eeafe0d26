"""Reads beyond one customer's snapshot: history pages, per-state counts and the pool of claimable
customers (each summed or merged over the tenant's partitions)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from crmstatus.engine.errors import InvalidRequest, quote
from crmstatus.engine.snapshot import HistoryEntry

from . import codec
from .errors import CustomerNotFound, store_errors
from .keys import TENANTS, Keys
from .scripts import Scripts


class Queries:
    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts
        self.client = scripts.client

    async def add_tenant(self, tenant: str) -> None:
        async with store_errors(self.scripts.timeout):
            await self.client.sadd(TENANTS, tenant)

    async def history(
        self, keys: Keys, customer_id: str, *, limit: int, newest_first: bool, page_token: str | None
    ) -> tuple[list[HistoryEntry], str | None]:
        """One page of the customer's history, and the token of the next page (None after the last)."""
        if not 1 <= limit <= 1000:
            raise InvalidRequest("a history page holds 1 to 1000 entries")
        after = codec.stream_position(page_token) if page_token else None
        if page_token and after is None:
            raise InvalidRequest(f"page token {quote(page_token)} was not returned by this service")
        if after == ((0, 0) if newest_first else codec.LAST_ENTRY):
            return [], None  # nothing lies beyond the first or the last id a stream can have
        stream = keys.history(customer_id)
        async with store_errors(self.scripts.timeout):
            rows: list[tuple[str, dict[str, str]]]
            if newest_first:
                high = f"({page_token}" if page_token else "+"
                rows = await self.client.xrevrange(stream, high, "-", count=limit)  # type: ignore[assignment]
            else:
                low = f"({page_token}" if page_token else "-"
                rows = await self.client.xrange(stream, low, "+", count=limit)  # type: ignore[assignment]
            if not rows and not page_token and not await self.client.exists(keys.customer(customer_id)):
                raise CustomerNotFound(keys.tenant, customer_id)
        entries = [
            codec.decode_history(int(entry_id.split("-")[0]), json.loads(fields["e"])) for entry_id, fields in rows
        ]
        return entries, rows[-1][0] if len(rows) == limit else None

    async def index_page(
        self,
        keys_of_part: Sequence[str],
        limit: int,
        after: str | None = None,
        below: str | None = None,
        newest_first: bool = False,
    ) -> list[str]:
        """One page of an index over the partitions (one key per partition and definition version), in member
        order (ascending, or descending with `newest_first`), after the member `after`, below the member prefix
        `below` (e.g. entered before a moment). A range read per key, whatever the index's size.

        Each key gives first a share of the page (twice its even share), and more only when the merged page
        cannot be complete without it: about two pages' worth read in all, not a page per partition."""
        if not 1 <= limit <= 1000:
            raise InvalidRequest("a page holds 1 to 1000 customers")
        if not keys_of_part:  # no version of the definition indexes it
            return []
        chunk = min(limit, max(8, -(-2 * limit // len(keys_of_part))))
        shares = await self._ranges(keys_of_part, [after] * len(keys_of_part), chunk, below, newest_first)
        more = [n for n, share in enumerate(shares) if len(share) == chunk and chunk < limit]
        if more:  # keys that may hold more: what lies beyond the nearest of their ends is not known yet
            ends = [shares[n][-1] for n in more]
            bound = max(ends) if newest_first else min(ends)
            known = [m for share in shares for m in share if (m >= bound if newest_first else m <= bound)]
            if len(known) < limit:
                rest = await self._ranges([keys_of_part[n] for n in more], ends, limit, below, newest_first)
                shares += rest
        merged = sorted((member for share in shares for member in share), reverse=newest_first)
        return merged[:limit]

    async def _ranges(
        self, keys: Sequence[str], afters: Sequence[str | None], count: int, below: str | None, newest_first: bool
    ) -> list[list[str]]:
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for key, after in zip(keys, afters, strict=True):
                if newest_first:
                    top = after or below
                    pipeline.zrevrangebylex(key, f"({top}" if top else "+", "-", start=0, num=count)
                else:
                    low, high = f"({after}" if after else "-", f"({below}" if below else "+"
                    pipeline.zrangebylex(key, low, high, start=0, num=count)
            return list(await pipeline.execute())

    async def flow(self, keys: Keys, days: Sequence[str]) -> dict[str, int]:
        """The flow counters of these days (codec.flow_field), summed over the tenant's partitions: one read
        per partition and day, whatever the number of customers."""
        totals: dict[str, int] = {}
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for day in days:
                for part in range(keys.partitions):
                    pipeline.hgetall(keys.flow(part, day))
            shares = await pipeline.execute()
        for share in shares:
            for field, value in share.items():
                totals[field] = totals.get(field, 0) + int(value)
        return totals

    async def count_usage(self, keys: Keys, customer_id: str, fields: Sequence[str]) -> None:
        """Count these usage fields once each, in the customer's partition (a refusal writes nothing else)."""
        if not fields:
            return
        usage = keys.usage(keys.part(customer_id))
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for field in fields:
                pipeline.hincrby(usage, field, 1)
            await pipeline.execute()

    async def usage(self, keys: Keys, definition_key: str) -> dict[tuple[str, str, str], int]:
        """A definition version's usage counters, (kind, dimension, name) → count, summed over the partitions."""
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for part in range(keys.partitions):
                pipeline.hgetall(keys.usage(part))  # a few fields per state and transition of each version
            shares = await pipeline.execute()
        totals: dict[tuple[str, str, str], int] = {}
        for share in shares:
            for field, value in share.items():
                definition, kind, dimension, name = codec.decode_usage_field(field)
                if definition != definition_key:
                    continue
                totals[(kind, dimension, name)] = totals.get((kind, dimension, name), 0) + int(value)
        return totals

    async def state_counts(self, keys: Keys) -> dict[tuple[str, str, str], int]:
        """(definition@version, dimension, state) → number of customers, summed over the tenant's partitions."""
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for part in range(keys.partitions):
                pipeline.hgetall(keys.counts(part))
            shares = await pipeline.execute()
        counts: dict[tuple[str, str, str], int] = {}
        for share in shares:
            for field, value in share.items():
                key = codec.decode_count_field(field)
                counts[key] = counts.get(key, 0) + int(value)
        return counts

    async def pool(self, keys: Keys, now_ms: int, limit: int, queue: str | None = None) -> list[tuple[str, int]]:
        """Customers in no queue (or in `queue`) free to claim at `now_ms` (unowned, or their lease lapsed),
        longest free first: (id, ms)."""
        if not 1 <= limit <= 1000:
            raise InvalidRequest("a pool page holds 1 to 1000 customers")
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for part in range(keys.partitions):
                pipeline.zrangebyscore(keys.pool(part, queue), "-inf", now_ms, start=0, num=limit, withscores=True)
            shares = await pipeline.execute()
        free = sorted((score, member) for share in shares for member, score in share)
        return [(member, int(score)) for score, member in free[:limit]]
