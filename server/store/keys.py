"""Every Redis key name, built here and nowhere else.

A tenant's data is spread over `partitions` hash slots. A customer's keys carry the tag of the partition its
id hashes to, `{tenant:pN~k}`, and so do that partition's share of the tenant-wide structures (state counts,
timers, event stream). One command therefore touches one slot, which lets one Lua script check and write it
all atomically, on a single Redis and on a Redis Cluster alike.

The suffix `k` is the first that puts partition N's slot near the middle of the N-th of `partitions` equal
ranges of the 16384 slots: a cluster gives its masters contiguous slot ranges, so a tenant's partitions spread
over them as evenly as the ranges allow (left to chance, 16 partitions on 3 masters would often leave one with
half). The middle, not anywhere in the range: a range that straddles two masters then always goes to the one
holding most of it, whatever the tenant's name (anywhere, 16 partitions on 3 masters could split 6/4/6).
"""

from __future__ import annotations

import functools
import zlib

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from crmstatus.engine.ids import check_tenant


def partition(name: str, partitions: int) -> int:
    return zlib.crc32(name.encode()) % partitions


TENANTS = "crm:tenants"  # set of tenant names, so the timer worker knows whose timers to sweep
PARTITIONS = "crm:partitions"  # the partition count the data was written with (see Store.check_partitions)


class Registry:
    """The published definition versions (registry.py), every key in one slot so that one script changes
    them together. A version's key, `name@version`, is unique across every tenant and the shared defaults."""

    tag = "crm:{registry}"
    texts = f"{tag}:texts"  # hash: name@version → the version's document, never changed (codec.VersionText)
    status = f"{tag}:status"  # hash: name@version → its lifecycle record (codec.VersionStatus)
    active = f"{tag}:active"  # hash: `<tenant>|<name>` (`|<name>` for the shared defaults) → name@version
    latest = f"{tag}:latest"  # hash: name → the highest version number published
    shipped = f"{tag}:shipped"  # hash: `|<name>` → the newest version a release made the shared default


@functools.lru_cache(maxsize=1024)
def _tags(tenant: str, partitions: int) -> tuple[str, ...]:
    """Each partition's key prefix, its slot in a range of its own."""
    if partitions == 1:
        return (f"crm:{{{tenant}:p0}}",)
    tags = []
    width = REDIS_CLUSTER_HASH_SLOTS // partitions
    near = max(32, width // 16)  # slots either side of the middle (with many small ranges: all of them)
    for part in range(partitions):
        low, high = part * REDIS_CLUSTER_HASH_SLOTS // partitions, (part + 1) * REDIS_CLUSTER_HASH_SLOTS // partitions
        middle = (low + high) // 2
        low, high, suffix = max(low, middle - near), min(high, middle + near + 1), 0
        while not low <= key_slot(f"{tenant}:p{part}~{suffix}".encode()) < high:
            suffix += 1
        tags.append(f"crm:{{{tenant}:p{part}~{suffix}}}")
    return tuple(tags)


class Keys:
    """Key names for one tenant."""

    def __init__(self, tenant: str, partitions: int) -> None:
        self.tenant = check_tenant(tenant)
        self.partitions = partitions
        self._tags = _tags(self.tenant, partitions)

    def part(self, customer_id: str) -> int:
        return partition(customer_id, self.partitions)

    def customers(self, part: int) -> str:
        """A SCAN pattern for the keys of every customer in one partition."""
        return f"{self._tags[part]}:c:*"

    def customer(self, customer_id: str) -> str:
        """String: `<version>\n<snapshot JSON>` (see codec.py)."""
        return f"{self._tags[self.part(customer_id)]}:c:{customer_id}"

    def history(self, customer_id: str) -> str:
        """Stream, one entry per change, ids `<version>-<n>`."""
        return f"{self.customer(customer_id)}:history"

    def idempotency(self, customer_id: str, key: str) -> str:
        return f"{self.customer(customer_id)}:idem:{key}"

    def counts(self, part: int) -> str:
        """Hash: `definition@version|dimension|state` → customers in that state (this partition's share)."""
        return f"{self._tags[part]}:counts"

    def timers(self, part: int) -> str:
        """Sorted set: `customer|timer key` scored by due time (ms since the epoch)."""
        return f"{self._tags[part]}:timers"

    def events(self, part: int) -> str:
        """Stream of changes, for watchers."""
        return f"{self._tags[part]}:events"

    def pool(self, part: int, queue: str | None = None) -> str:
        """Sorted set: customers of this partition in no queue (or in `queue`) by when they are free to claim
        (ms): since they became unowned, or when their owner's lease lapses."""
        return f"{self._tags[part]}:pool:{queue}" if queue else f"{self._tags[part]}:pool"

    def flow(self, part: int, day: str) -> str:
        """Hash of this partition's flow counters on `day` (the definition's calendar day): moves, time in the
        state left, reason codes (see codec.flow_field)."""
        return f"{self._tags[part]}:flow:{day}"

    def usage(self, part: int) -> str:
        """Hash of this partition's usage counters, per definition version: states entered, transitions fired
        and refused by their rules (see codec.usage_field)."""
        return f"{self._tags[part]}:usage"

    def in_state(self, part: int, definition_key: str, dimension: str, state: str) -> str:
        """Sorted set (by member, scores 0) of this partition's customers in a state of an indexed dimension:
        `<entered ms, 13 digits>|<customer id>` (codec.index_member), so oldest first and ranges by time."""
        return f"{self._tags[part]}:in:{definition_key}|{dimension}|{state}"

    def owned_by(self, part: int, owner: str) -> str:
        """Sorted set (by member, scores 0) of this partition's customers an owner holds, by id."""
        return f"{self._tags[part]}:own:{owner}"

    def in_queue(self, part: int, queue: str) -> str:
        """Sorted set (by member, scores 0) of this partition's customers in a team queue, by id."""
        return f"{self._tags[part]}:inq:{queue}"

    def audit(self, part: int) -> str:
        """Stream of erasures in this partition: who erased which customer id, when and why (no details)."""
        return f"{self._tags[part]}:audit"

    def held(self, rep: str) -> str:
        """Sorted set in the rep's own slot: the customers it holds, by lease end (ms)."""
        return f"{self._rep(rep)}:held"

    def daily_claims(self, rep: str, day: str) -> str:
        """Counter in the rep's own slot: claims made on one day."""
        return f"{self._rep(rep)}:claims:{day}"

    def _rep(self, rep: str) -> str:
        return f"{self._tags[partition(f'rep:{rep}', self.partitions)]}:rep:{rep}"

    def identity(self, kind: str, value: str) -> str:
        """String: normalised identity → the customer id that holds it."""
        return f"{self._tags[partition(f'{kind}:{value}', self.partitions)]}:id:{kind}:{value}"
