"""Identity keys (normalised phone, email, company registration number), each in a slot of its own: reserved
for a customer before it is written, so that two records of one person or company cannot both be created."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import CustomerExists
from .keys import Keys
from .scripts import Scripts


class Identities:
    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    async def reserve(self, keys: Keys, customer_id: str, identities: Mapping[str, str]) -> list[str]:
        """Reserve each identity key for this customer; on a clash, undo and refuse with the holder's id."""
        wanted = {keys.identity(kind, value): f"{kind} {value}" for kind, value in identities.items()}
        if not wanted:
            return []
        pipeline = self.scripts.client.pipeline(transaction=False)
        for key in wanted:
            pipeline.set(key, customer_id, nx=True)
            pipeline.get(key)
        replies = await pipeline.execute()
        reserved = [key for key, taken in zip(wanted, replies[0::2], strict=True) if taken]
        for label, holder in zip(wanted.values(), replies[1::2], strict=True):
            if holder != customer_id:
                await self.release(keys, customer_id, reserved)
                raise CustomerExists(holder, label)
        return reserved

    async def release(self, keys: Keys, customer_id: str, reserved: list[str]) -> None:
        for key in reserved:
            await self.scripts.release_identity(key, customer_id)
