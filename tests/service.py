"""The application as store-level tests drive it: one call per command, each one application call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from crmstatus.engine import (
    Actor,
    Claim,
    Command,
    CompleteItem,
    Evidence,
    Fire,
    FireTimer,
    Reassign,
    Release,
    Renew,
    ReopenItem,
    UpdateFacts,
)
from crmstatus.engine.clock import Clock
from crmstatus.server.application import Application
from crmstatus.server.application.catalog import Catalog
from crmstatus.server.application.model import Caller, Change, NewCustomer, Options
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store
from crmstatus.server.store.connection import RedisConnection
from crmstatus.server.store.keys import Keys


class Service:
    def __init__(self, app: Application, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.client = app.store.client
        self.clock = app.clock
        self.catalog = app.catalog

    @classmethod
    async def connect(cls, settings: Settings, catalog: Catalog, clock: Clock) -> Service:
        """An application of its own (its own Redis client) on the settings' Redis."""
        connection = await RedisConnection.open(settings)
        store = Store(connection.client, settings, cluster=connection.cluster, pipe=connection.pipe)
        service = cls(Application(store, catalog, settings, clock), settings)
        service.connection = connection
        return service

    async def close(self) -> None:
        await self.connection.close()

    def keys(self, tenant: str) -> Keys:
        return self.app.store.keys(tenant)

    async def create_customer(
        self, tenant: str, customer_id: str, definition: str, actor: Actor, *, facts: Mapping[str, Any] | None = None,
        identities: Mapping[str, str] | None = None, definition_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Change:  # fmt: skip
        new = NewCustomer(customer_id, definition, definition_version, dict(facts or {}), dict(identities or {}))
        return await self.app.commands.create(Caller(tenant, actor), new, Options(idempotency_key=idempotency_key))

    async def run(self, tenant: str, customer_id: str, command: Command, actor: Actor, **options: Any) -> Change:
        return await self.app.commands.run(Caller(tenant, actor), customer_id, command, Options(**options))

    async def fire(
        self, tenant: str, customer_id: str, event: str, actor: Actor, *, reason: str = "",
        evidence: Sequence[tuple[str, str, str]] = (), **options: Any,
    ) -> Change:  # fmt: skip
        command = Fire(event, reason, tuple(Evidence(*e) for e in evidence))
        return await self.run(tenant, customer_id, command, actor, **options)

    async def update_facts(
        self, tenant: str, customer_id: str, facts: Mapping[str, Any], actor: Actor, *, reason: str = "", **options: Any
    ) -> Change:
        return await self.run(tenant, customer_id, UpdateFacts(dict(facts), reason), actor, **options)

    async def complete_item(
        self, tenant: str, customer_id: str, checklist: str, item: str, actor: Actor, *, evidence: str = "",
        **options: Any,
    ) -> Change:  # fmt: skip
        return await self.run(tenant, customer_id, CompleteItem(checklist, item, evidence), actor, **options)

    async def reopen_item(
        self, tenant: str, customer_id: str, checklist: str, item: str, actor: Actor, *, reason: str = "",
        **options: Any,
    ) -> Change:  # fmt: skip
        return await self.run(tenant, customer_id, ReopenItem(checklist, item, reason), actor, **options)

    async def claim(self, tenant: str, customer_id: str, actor: Actor, **options: Any) -> Change:
        return await self.run(tenant, customer_id, Claim(), actor, **options)

    async def renew(self, tenant: str, customer_id: str, actor: Actor) -> Change:
        return await self.run(tenant, customer_id, Renew(), actor)

    async def release(self, tenant: str, customer_id: str, actor: Actor) -> Change:
        return await self.run(tenant, customer_id, Release(), actor)

    async def reassign(
        self, tenant: str, customer_id: str, manager: Actor, owner: str, reason: str, **options: Any
    ) -> Change:
        return await self.run(tenant, customer_id, Reassign(owner, reason), manager, **options)

    async def erase(self, tenant: str, customer_id: str, actor: Actor, reason: str, **options: Any) -> int:
        return await self.app.commands.erase(Caller(tenant, actor), customer_id, reason, **options)

    async def fire_timer(self, tenant: str, customer_id: str, timer_key: str) -> None:
        await self.app.timers.fire(tenant, customer_id, timer_key)

    async def get_customer(self, tenant: str, customer_id: str) -> Any:
        return await self.app.queries.snapshot(tenant, customer_id)

    async def history(self, tenant: str, customer_id: str, **page: Any) -> Any:
        return await self.app.queries.history(Caller(tenant, Actor("auditor")), customer_id, **page)

    async def state_counts(self, tenant: str) -> dict[tuple[str, str, str], int]:
        return await self.app.store.queries.state_counts(self.keys(tenant))


__all__ = ["FireTimer", "Service"]
