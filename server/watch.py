"""Following a tenant's event streams (one per partition), resumable from an event id."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from crmstatus.engine.errors import InvalidRequest

from .keys import Keys
from .store import Store, store_errors

BLOCK_MS = 1000  # how long one XREAD waits before checking that the watcher is still there


def encode_position(positions: dict[int, str]) -> str:
    """The resume token: the last stream id seen in each partition, e.g. `0=1767571200000-0`."""
    return ";".join(f"{part}={entry}" for part, entry in sorted(positions.items()))


def decode_position(token: str, keys: Keys) -> dict[int, str]:
    try:
        positions = {int(part): entry for part, entry in (item.split("=", 1) for item in token.split(";"))}
    except ValueError:
        raise InvalidRequest(f"event id {token!r} was not returned by this service") from None
    if set(positions) != set(range(keys.partitions)) or not all(_stream_id(e) for e in positions.values()):
        raise InvalidRequest(f"event id {token!r} was not returned by this service")
    return positions


def _stream_id(entry: str) -> bool:
    first, _, second = entry.partition("-")
    return first.isdigit() and second.isdigit()


def start(store: Store, tenant: str, after: str) -> dict[int, str]:
    """Where a watcher starts: right after the event id `after`, or after the latest event now."""
    keys = store.keys(tenant)
    with store_errors():
        return decode_position(after, keys) if after else _now(store, _streams(keys))


def follow(
    store: Store, tenant: str, positions: dict[int, str], active: Callable[[], bool]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (event id, event) for each change after `positions`, while `active()` holds."""
    keys = store.keys(tenant)
    streams = _streams(keys)
    positions = dict(positions)
    while active():
        with store_errors():
            wanted: dict[Any, Any] = {key: positions[part] for key, part in streams.items()}
            replies: list[tuple[str, list[tuple[str, dict[str, str]]]]] = store.client.xread(
                wanted, count=100, block=BLOCK_MS
            )  # type: ignore[assignment]
        for key, entries in replies or []:
            part = streams[key]
            for entry_id, fields in entries:
                positions[part] = entry_id
                event = json.loads(fields["d"])
                event.update(customer_id=fields["c"], version=int(fields["v"]))
                yield encode_position(positions), event


def _streams(keys: Keys) -> dict[str, int]:
    return {keys.events(part): part for part in range(keys.partitions)}


def _now(store: Store, streams: dict[str, int]) -> dict[int, str]:
    """The last id of each stream now: new watchers start after it (XREAD's `$` would drop events
    that arrive between two reads)."""
    positions: dict[int, str] = {}
    for key, part in streams.items():
        last: list[tuple[str, Any]] = store.client.xrevrange(key, "+", "-", count=1)  # type: ignore[assignment]
        positions[part] = last[0][0] if last else "0-0"
    return positions
