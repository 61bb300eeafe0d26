"""The timer worker: fires due timers through the same engine path as callers, acting as `system`.

Each sweep takes due timers in bounded batches per tenant partition (a ZRANGEBYSCORE on the due-time
index: its cost follows the number of due timers, not of customers). Claiming leases a timer to one worker;
firing is idempotent per timer, so a timer is applied once even when a worker dies mid-batch and another
takes it over after the lease.
"""

from __future__ import annotations

import logging
import threading

from crmstatus.engine.errors import (
    AutomationCycle,
    CustomerLocked,
    CustomerNotFound,
    StaleTimer,
    StoreUnavailable,
    TransitionNotAllowed,
    VersionConflict,
)

from .store import Store

log = logging.getLogger(__name__)


class TimerWorker:
    def __init__(self, store: Store, *, batch: int = 200, lease_seconds: float = 60.0, interval: float = 1.0) -> None:
        self.store = store
        self.batch = batch
        self.lease_ms = int(lease_seconds * 1000)
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self, tenants: list[str] | None = None) -> int:
        """Fire every timer due now, for every tenant (or the given ones); returns how many fired."""
        fired = 0
        for tenant in self.store.tenants() if tenants is None else tenants:
            for part in range(self.store.settings.partitions):
                while True:
                    claimed = self.store.claim_due_timers(tenant, part, self.lease_ms, self.batch)
                    fired += sum(self._fire(tenant, part, member, lease) for member, lease in claimed)
                    if len(claimed) < self.batch:
                        break
        return fired

    def _fire(self, tenant: str, part: int, member: str, lease: int) -> bool:
        customer_id, _, timer_key = member.partition("|")
        try:
            self.store.fire_timer(tenant, customer_id, timer_key)
            return True
        except StaleTimer:
            # gone with its state entry, or its date moved: put it back where the customer has it now
            self.store.settle_timer(tenant, part, member, lease, self._due(tenant, customer_id, timer_key))
        except (TransitionNotAllowed, CustomerLocked, CustomerNotFound, AutomationCycle) as refused:
            log.info("timer %s of %s/%s did not fire: %s", timer_key, tenant, customer_id, refused)
            self.store.settle_timer(tenant, part, member, lease, None)  # spent for this state entry
        except (VersionConflict, StoreUnavailable) as error:
            log.warning("timer %s of %s/%s will be retried after its lease: %s", timer_key, tenant, customer_id, error)
        return False

    def _due(self, tenant: str, customer_id: str, timer_key: str) -> int | None:
        try:
            return self.store.due_of(tenant, customer_id, timer_key)
        except CustomerNotFound:
            return None

    # -- running in the background ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="crmstatus-timers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def run_forever(self) -> None:
        self._run()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except StoreUnavailable as error:
                log.warning("timer sweep skipped: %s", error)
            self._stop.wait(self.interval)
