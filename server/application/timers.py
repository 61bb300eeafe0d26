"""The timer worker: fires due timers through the same command path as callers, acting as `system`.

Each sweep takes due timers in bounded batches per tenant partition (a ZRANGEBYSCORE on the due-time
index: its cost follows the number of due timers, not of customers). Claiming leases a timer to one worker;
firing is idempotent per timer, so a timer is applied once even when a worker dies mid-batch and another
takes it over after the lease. It runs as an asyncio task in the server, or alone (`crmstatus worker`).

No error stops it: one it does not expect is logged, the timer stays leased (and is tried again when the
lease ends), and a sweep that fails as a whole is tried again after a pause that grows while failures go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from crmstatus.engine.clock import Clock
from crmstatus.engine.commands import FireTimer
from crmstatus.engine.errors import AutomationCycle, CustomerLocked, StaleTimer, TransitionNotAllowed
from crmstatus.engine.snapshot import SYSTEM
from crmstatus.server import metrics
from crmstatus.server.store import Store
from crmstatus.server.store.codec import decode_timer_member, ms
from crmstatus.server.store.errors import CustomerNotFound, StoreUnavailable, VersionConflict

from .commands import Commands
from .model import Caller, Options
from .queries import Queries

log = logging.getLogger(__name__)


class TimerWorker:
    def __init__(
        self, store: Store, commands: Commands, queries: Queries, clock: Clock, *, batch: int = 200,
        lease_seconds: float = 60.0, interval: float = 1.0,
    ) -> None:  # fmt: skip
        self.store = store
        self.commands = commands
        self.queries = queries
        self.clock = clock
        self.batch = batch
        self.lease_ms = int(lease_seconds * 1000)
        self.interval = interval
        self.last_sweep: float | None = None  # time.monotonic() when the last sweep completed
        self._stopping = asyncio.Event()

    async def sweep(self, tenants: list[str] | None = None) -> int:
        """Fire every timer due now, for every tenant (or the given ones); returns how many fired."""
        fired = 0
        for tenant in await self.store.timers.tenants() if tenants is None else tenants:
            keys = self.store.keys(tenant)
            for part in range(keys.partitions):
                while True:
                    now_ms = ms(self.clock.now())
                    claimed = await self.store.timers.claim_due(keys, part, now_ms, self.lease_ms, self.batch)
                    for member, lease, due_ms in claimed:
                        if await self._fire(tenant, part, member, lease, due_ms):
                            fired += 1
                            _count_fired(now_ms - due_ms)
                    if metrics.ENABLED:
                        metrics.TIMERS_DUE.inc(len(claimed))
                    if len(claimed) < self.batch:
                        break
        return fired

    async def _fire(self, tenant: str, part: int, member: str, lease: int, due_ms: int) -> bool:
        customer_id, timer_key = decode_timer_member(member)
        keys = self.store.keys(tenant)
        try:
            await self.fire(tenant, customer_id, timer_key, due_ms)
            return True
        except StaleTimer:
            # gone with its state entry, or its date moved: put it back where the customer has it now
            due = await self.queries.timer_due(tenant, customer_id, timer_key)
            await self.store.timers.settle(keys, part, member, lease, due)
        except (TransitionNotAllowed, CustomerLocked, CustomerNotFound, AutomationCycle) as refused:
            log.info("timer %s of %s/%s did not fire: %s", timer_key, tenant, customer_id, refused)
            await self.store.timers.settle(keys, part, member, lease, None)  # spent for this state entry
        except (VersionConflict, StoreUnavailable) as error:
            log.warning("timer %s of %s/%s will be retried after its lease: %s", timer_key, tenant, customer_id, error)
        except Exception:
            log.exception("timer %s of %s/%s failed; it will be retried after its lease", timer_key, tenant,
                          customer_id)  # fmt: skip
        return False

    async def fire(self, tenant: str, customer_id: str, timer_key: str, due_ms: int | None = None) -> None:
        """Fire one timer as the system; firing it twice (two workers, a retry) applies it once. The key names
        the due time too: a migration may give a timer of the same stay and place another time, and the first
        one's record would answer for it (until the record lapsed, a day later)."""
        options = Options(idempotency_key=f"timer-{timer_key}" + ("" if due_ms is None else f"@{due_ms}"))
        await self.commands.run(Caller(tenant, SYSTEM), customer_id, FireTimer(timer_key), options)

    async def run(self) -> None:
        """Sweep every `interval` seconds until stopped; after failures, back off up to 30 intervals."""
        failures = 0
        while not self._stopping.is_set():
            try:
                await self.sweep()
                self.last_sweep = time.monotonic()
                failures = 0
            except StoreUnavailable as error:
                failures += 1
                log.warning("timer sweep failed (%d in a row): %s", failures, error)
            except Exception:
                failures += 1
                log.exception("timer sweep failed (%d in a row)", failures)
            pause = self.interval * min(2**failures, 30) if failures else self.interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), pause)

    def stop(self) -> None:
        self._stopping.set()


def _count_fired(late_ms: int) -> None:
    if metrics.ENABLED:
        metrics.TIMERS_FIRED.inc()
        metrics.TIMER_LATENESS.observe(max(0, late_ms) / 1000)
