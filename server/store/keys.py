"""Every Redis key name, built here and nowhere else.

A tenant's data is spread over `partitions` hash slots. A customer's keys carry the tag of the partition its
id hashes to, `{tenant:pN}`, and so do that partition's share of the tenant-wide structures (state counts,
timers, event stream). One command therefore touches one slot, which lets one Lua script check and write it
all atomically, on a single Redis and on a Redis Cluster alike. With partitions=1 a tenant lives in one slot.
"""

from __future__ import annotations

import zlib

from crmstatus.engine.ids import check_tenant


def partition(name: str, partitions: int) -> int:
    return zlib.crc32(name.encode()) % partitions


TENANTS = "crm:tenants"  # set of tenant names, so the timer worker knows whose timers to sweep


def _tag(tenant: str, part: int) -> str:
    return f"crm:{{{tenant}:p{part}}}"


class Keys:
    """Key names for one tenant."""

    def __init__(self, tenant: str, partitions: int) -> None:
        self.tenant = check_tenant(tenant)
        self.partitions = partitions

    def part(self, customer_id: str) -> int:
        return partition(customer_id, self.partitions)

    def customer(self, customer_id: str) -> str:
        """String: `<version>\n<snapshot JSON>` (see codec.py)."""
        return f"{_tag(self.tenant, self.part(customer_id))}:c:{customer_id}"

    def history(self, customer_id: str) -> str:
        """Stream, one entry per change, ids `<version>-<n>`."""
        return f"{self.customer(customer_id)}:history"

    def idempotency(self, customer_id: str, key: str) -> str:
        return f"{self.customer(customer_id)}:idem:{key}"

    def counts(self, part: int) -> str:
        """Hash: `definition@version|dimension|state` → customers in that state (this partition's share)."""
        return f"{_tag(self.tenant, part)}:counts"

    def timers(self, part: int) -> str:
        """Sorted set: `customer|timer key` scored by due time (ms since the epoch)."""
        return f"{_tag(self.tenant, part)}:timers"

    def events(self, part: int) -> str:
        """Stream of changes, for watchers."""
        return f"{_tag(self.tenant, part)}:events"

    def pool(self, part: int) -> str:
        """Sorted set: customers of this partition by when they are free to claim (ms): since they became
        unowned, or when their owner's lease lapses."""
        return f"{_tag(self.tenant, part)}:pool"

    def held(self, rep: str) -> str:
        """Sorted set in the rep's own slot: the customers it holds, by lease end (ms)."""
        return f"{self._rep(rep)}:held"

    def daily_claims(self, rep: str, day: str) -> str:
        """Counter in the rep's own slot: claims made on one day."""
        return f"{self._rep(rep)}:claims:{day}"

    def _rep(self, rep: str) -> str:
        return f"{_tag(self.tenant, partition(f'rep:{rep}', self.partitions))}:rep:{rep}"

    def identity(self, kind: str, value: str) -> str:
        """String: normalised identity → the customer id that holds it."""
        return f"{_tag(self.tenant, partition(f'{kind}:{value}', self.partitions))}:id:{kind}:{value}"
