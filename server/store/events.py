"""A tenant's event streams (one per partition), read from a resume position.

On a single Redis one XREAD covers every partition; on a Redis Cluster the partitions' streams live in slots
of their own (on several nodes), so they are read in groups of one, each group by a reader of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis.exceptions

from crmstatus.engine.errors import InvalidRequest, quote

from . import codec
from .errors import EventsTrimmed, store_errors
from .keys import Keys
from .scripts import Scripts


def encode_position(positions: dict[int, str]) -> str:
    """The resume token: the last stream id seen in each partition, e.g. `0=1767571200000-0`."""
    return ";".join(f"{part}={entry}" for part, entry in sorted(positions.items()))


def decode_position(token: str, keys: Keys) -> dict[int, str]:
    items = [item.partition("=") for item in token.split(";")]
    positions = {int(part): entry for part, _, entry in items if part.isascii() and part.isdigit() and len(part) < 6}
    if (
        len(positions) != len(items) or set(positions) != set(range(keys.partitions))
        or not all("-" in entry and codec.stream_position(entry) for entry in positions.values())
    ):  # fmt: skip
        raise InvalidRequest(f"event id {quote(token)} was not returned by this service")
    return positions


def stream_order(entry: str) -> tuple[int, int]:
    """A stream id (one this service read from Redis) as something that sorts like Redis orders its entries."""
    first, _, second = entry.partition("-")
    return int(first), int(second)


class EventStreams:
    def __init__(self, scripts: Scripts, *, cluster: bool, maxlen: int) -> None:
        self.scripts = scripts
        self.client = scripts.client
        self.cluster = cluster
        self.maxlen = maxlen  # entries a stream keeps, about: trimmed a node at a time

    async def check_kept(self, keys: Keys, positions: dict[int, str]) -> None:
        """EventsTrimmed when events after `positions` may be gone from a partition's stream: trimmed past the
        position's own entry (its successor may have gone with it), trimmed at all when the position is an
        empty stream's (Redis 7 counts the entries added; on Redis 6, a stream at its length may have been), or
        the stream lost (missing, or its ids begun again below the position)."""
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for part in range(keys.partitions):
                pipeline.xinfo_stream(keys.events(part))
            replies = await pipeline.execute(raise_on_error=False)
            lost = [part for part, info in enumerate(replies) if self._lost(stream_order(positions[part]), info)]
        if lost:
            raise EventsTrimmed(lost)

    def _lost(self, position: tuple[int, int], info: Any) -> bool:
        if isinstance(info, redis.exceptions.ResponseError) and "no such key" in str(info):
            return position > (0, 0)
        if isinstance(info, Exception):
            raise info
        if position > stream_order(info["last-generated-id"]):
            return True
        first = info["first-entry"]
        if first is None or stream_order(first[0]) <= position:
            return False
        if position > (0, 0):
            return True
        added, length = info.get("entries-added"), int(info["length"])
        return int(added) > length if added is not None else length >= self.maxlen

    def groups(self, keys: Keys) -> list[range]:
        """Partitions one XREAD can read together: all of them, or (on a cluster) one each."""
        every = range(keys.partitions)
        return [range(part, part + 1) for part in every] if self.cluster else [every]

    async def latest(self, keys: Keys) -> dict[int, str]:
        """The last id of each stream now: new watchers start after it (XREAD's `$` would drop events
        that arrive between two reads)."""
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for part in range(keys.partitions):
                pipeline.xrevrange(keys.events(part), "+", "-", count=1)
            lasts: list[list[tuple[str, Any]]] = await pipeline.execute()
        return {part: last[0][0] if last else "0-0" for part, last in enumerate(lasts)}

    async def read(self, keys: Keys, positions: dict[int, str]) -> list[codec.Event]:
        """The events after `positions` (which move on to the last one read) there are now: on a cluster, one
        XREAD per partition in one pipeline (a round trip per node)."""
        if not self.cluster:
            return await self.read_group(keys, range(keys.partitions), positions)
        async with store_errors(self.scripts.timeout):
            pipeline = self.client.pipeline(transaction=False)
            for part in range(keys.partitions):
                stream = keys.events(part)  # its node named here: the cluster client would ask Redis for XREAD's keys
                node = {"target_nodes": self.client.get_node_from_key(stream)}  # type: ignore[union-attr]
                pipeline.execute_command("XREAD", "COUNT", 100, "STREAMS", stream, positions[part], **node)
            replies = await pipeline.execute()
        streams = {keys.events(part): part for part in range(keys.partitions)}
        return [event for reply in replies for event in self._decode(reply, streams, positions)]

    async def read_group(
        self, keys: Keys, group: Sequence[int], positions: dict[int, str], block_ms: int | None = None
    ) -> list[codec.Event]:
        """The events of these partitions after `positions`, waiting up to `block_ms` for the first one
        (None: not at all)."""
        streams = {keys.events(part): part for part in group}
        async with store_errors(self.scripts.timeout + (block_ms or 0) / 1000):
            wanted: dict[Any, Any] = {key: positions[part] for key, part in streams.items()}
            replies: list[tuple[str, list[tuple[str, dict[str, str]]]]] = await self.client.xread(
                wanted, count=100, block=block_ms
            )  # type: ignore[assignment]
        return self._decode(replies, streams, positions)

    @staticmethod
    def _decode(
        replies: list[tuple[str, list[tuple[str, dict[str, str]]]]] | None, streams: dict[str, int],
        positions: dict[int, str],
    ) -> list[codec.Event]:  # fmt: skip
        events = []
        for key, entries in replies or []:
            part = streams[key]
            for entry_id, fields in entries:
                positions[part] = entry_id
                events.append(codec.decode_event(part, entry_id, fields))
        return events
