"""Claim caps in each rep's own slot: a change of hands is counted against the new owner's caps before the
customer is written, and undone if the write fails."""

from __future__ import annotations

from dataclasses import dataclass

from crmstatus.engine.errors import ClaimRefused
from crmstatus.engine.snapshot import Snapshot

from .codec import ms
from .errors import store_errors
from .keys import Keys
from .scripts import Scripts


@dataclass(frozen=True, slots=True)
class NewClaim:
    """A customer changing hands to `owner`, and the caps of the definition's claim policy."""

    owner: str
    lease_ms: int
    now_ms: int
    day: str  # in the definition's time zone: the daily cap counts per local day
    max_held: int | None
    max_daily: int | None


@dataclass(frozen=True, slots=True)
class Reservation:
    held: str
    daily: str
    customer_id: str


class Claims:
    def __init__(self, scripts: Scripts) -> None:
        self.scripts = scripts

    async def reserve(self, keys: Keys, customer_id: str, claim: NewClaim) -> Reservation:
        """Count the claim, or refuse it at a cap (ClaimRefused)."""
        held, daily = keys.held(claim.owner), keys.daily_claims(claim.owner, claim.day)
        verdict = await self.scripts.reserve_claim(
            held, daily, customer_id, claim.lease_ms, claim.now_ms, claim.max_held, claim.max_daily
        )
        if verdict == "held":
            raise ClaimRefused("HELD_CAP", f"{claim.owner} already holds {claim.max_held} customers (the most at once)")
        if verdict == "daily":
            raise ClaimRefused("DAILY_CAP", f"{claim.owner} made {claim.max_daily} claims today (the most per day)")
        return Reservation(held, daily, customer_id)

    async def undo(self, reservation: Reservation | None, keep_hold: bool = False) -> None:
        """The reservation no longer counts; with `keep_hold`, the customer stays in the rep's held set (it is
        theirs after all: this claim lost to their own, or was its replay)."""
        if reservation is not None:
            r = reservation
            await self.scripts.unreserve_claim(r.held, r.daily, r.customer_id, keep_hold)

    async def track(self, keys: Keys, before: Snapshot, after: Snapshot) -> None:
        """After a write: the previous owner no longer holds the customer; a renewed lease moves its end.

        Not atomic with the write (another slot); a missed update heals itself, as lapsed leases stop counting.
        """
        held, lease = before.owner, after.lease_until
        if held is None or (held == after.owner and (lease is None or lease == before.lease_until)):
            return  # nothing changed hands, no lease moved
        client = self.scripts.client
        async with store_errors(self.scripts.timeout):
            if held != after.owner:
                await client.zrem(keys.held(held), after.customer_id)
            elif lease is not None:
                await client.zadd(keys.held(held), {after.customer_id: ms(lease)}, xx=True)
