"""The application: the only caller of both engine and store. One service object per use case family,
sharing the definition catalog (with each tenant's view of it) and the clock; used alike by the gRPC
servicers, the timer worker and the command line."""

from __future__ import annotations

from datetime import timedelta

from crmstatus.engine.clock import Clock
from crmstatus.engine.facts import parse_duration
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store

from .analytics import Analytics
from .catalog import Catalog
from .commands import Commands
from .definitions import Definitions
from .migration import Migrations
from .queries import Queries
from .timers import TimerWorker
from .watch import Watch


class Application:
    def __init__(self, store: Store, catalog: Catalog, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock
        self.commands = Commands(store, catalog, settings, clock)
        self.queries = Queries(store, catalog, clock)
        self.definitions = Definitions(
            catalog, clock, settings.config_dir, settings.platform_tenant, settings.approval_optional
        )
        self.migrations = Migrations(store, catalog, clock)
        self.watch = Watch(store)
        self.analytics = Analytics(store, catalog)
        self.timers = TimerWorker(store, self.commands, self.queries, clock, interval=settings.timer_interval_seconds)


def claim_protection(settings: Settings) -> dict[str, timedelta]:
    """Each tenant's own claim lease, from CRMSTATUS_CLAIM_PROTECTION."""
    return {tenant: parse_duration(value) for tenant, value in settings.claim_protection.items()}
