"""Identity keys (normalised phone, email, company registration number), each in a slot of its own: reserved
for a customer before it is written, so that two records of one person or company cannot both be created.

A reservation cannot be written in the customer's own atomic write (another slot), so it can outlive a create
that failed after it: a crash, Redis lost mid-way. It therefore binds only while its customer exists. One whose
customer does not exist is a create still in flight while it is younger than `STALE_AFTER`, and free to take
over after that: a failure anywhere leaves at worst an identity refused for that long, never for good.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from . import codec
from .errors import CustomerExists, StoreUnavailable, store_errors
from .keys import Keys
from .scripts import Scripts

STALE_AFTER = timedelta(minutes=2)  # far beyond the time bound of a create's few store calls


class Identities:
    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    async def reserve(self, keys: Keys, customer_id: str, identities: Mapping[str, str], now: datetime) -> str:
        """Reserve each identity key for this customer; on a clash, undo and refuse with the holder's id.
        Returns the reservation written, for `release`."""
        wanted = {keys.identity(kind, value): f"{kind} {value}" for kind, value in identities.items()}
        mine = codec.identity_reservation(customer_id, now)
        if not wanted:
            return mine
        try:
            async with store_errors(self.scripts.timeout):
                pipeline = self.scripts.client.pipeline(transaction=False)
                for key in wanted:
                    pipeline.set(key, mine, nx=True)
                    pipeline.get(key)
                holders = (await pipeline.execute())[1::2]
                for (key, label), holder in zip(wanted.items(), holders, strict=True):
                    if holder is not None and codec.decode_identity_reservation(holder)[0] == customer_id:
                        continue  # ours from an earlier try: the customer's write decides (replay or exists)
                    if not await self._take_over(keys, key, holder, mine, now):
                        raise CustomerExists(codec.decode_identity_reservation(holder)[0], label)
        except BaseException:
            await self.release(keys, identities, mine)
            raise
        return mine

    async def _take_over(self, keys: Keys, key: str, holder: str | None, mine: str, now: datetime) -> bool:
        """Whether `holder`'s reservation binds no longer (and is ours now)."""
        if holder is None:  # released between our SET and GET: try once more
            return bool(await self.scripts.client.set(key, mine, nx=True))
        holder_id, since = codec.decode_identity_reservation(holder)
        if codec.ms(now) - since < STALE_AFTER / timedelta(milliseconds=1):
            return False  # the holder's create may still be on its way
        if await self.scripts.client.exists(keys.customer(holder_id)):
            return False
        return await self.scripts.release_identity(key, holder, mine)

    async def erase(self, keys: Keys, customer_id: str, identities: Mapping[str, str]) -> None:
        """Delete the customer's identity keys (they name its phone, email …), where it still holds them."""
        async with store_errors(self.scripts.timeout):
            for kind, value in identities.items():
                key = keys.identity(kind, value)
                holder: str | None = await self.scripts.client.get(key)  # type: ignore[assignment]
                if holder is not None and codec.decode_identity_reservation(holder)[0] == customer_id:
                    await self.scripts.release_identity(key, holder)

    async def release(self, keys: Keys, identities: Mapping[str, str], mine: str) -> None:
        """Undo what `reserve` wrote, as far as Redis lets us now: what is left is free after STALE_AFTER."""
        with contextlib.suppress(StoreUnavailable):
            for kind, value in identities.items():
                await self.scripts.release_identity(keys.identity(kind, value), mine)
