"""A tenant's event streams (one per partition), read from a resume position.

On a single Redis one XREAD covers every partition; on a Redis Cluster the partitions' streams live in slots
of their own (on several nodes), so they are read in groups of one, each group by a reader of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crmstatus.engine.errors import InvalidRequest, quote

from . import codec
from .errors import store_errors
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
    def __init__(self, scripts: Scripts, *, cluster: bool) -> None:
        self.scripts = scripts
        self.client = scripts.client
        self.cluster = cluster

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
