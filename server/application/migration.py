"""Migrations: move a tenant's customers from one definition version to another, as a mapping document says.

`plan` is the dry run: it reads every selected customer, applies the mapping in the engine and counts what it
would do, writing nothing. `apply` does the same and writes each customer with its own atomic commit (the
version it read checked, a "migrate" history entry, its old timers cancelled and the new ones scheduled), and
reports progress after each batch. A customer already on the target version is left alone, so running it
again changes nothing, and a run stopped half-way (a crash, a deploy) is finished by running it again.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from crmstatus.engine.clock import Clock
from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import InvalidRequest, PermissionDenied, UnknownName
from crmstatus.engine.ids import check_customer_id
from crmstatus.engine.migration import Migrated, MigrationMap, Unmappable, load_mapping, mapping_versions, migrate
from crmstatus.engine.model import ADMIN_ROLE
from crmstatus.server.store import Store
from crmstatus.server.store.codec import as_stored, ms
from crmstatus.server.store.customers import Stored, Write
from crmstatus.server.store.errors import VersionConflict
from crmstatus.server.store.keys import Keys

from .catalog import Catalog
from .commands import CONFLICT_RETRIES, own_idempotency
from .model import Caller

LISTED = 1000  # unmappable customers listed by name in a report (all are counted)
PARALLEL = 32  # customers written at once within a batch


@dataclass(frozen=True)
class Selection:
    """Which customers: those named, or those in any of the (dimension, state) pairs of the old version, or all."""

    customer_ids: tuple[str, ...] = ()
    states: tuple[tuple[str, str], ...] = ()


@dataclass
class Report:
    """What a migration would do (a plan) or has done so far (apply's progress)."""

    label: str
    selected: int = 0  # customers on the old version the selection takes
    migrated: int = 0  # moved (or, planned, that would be)
    already: int = 0  # on the target version already: left alone
    unmappable: int = 0
    moves: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (dimension, old, new) → customers
    timers_cancelled: int = 0
    timers_scheduled: int = 0
    timers_overdue: int = 0  # of those scheduled, already due: the timer worker fires them at its next sweep
    unmapped: list[Unmappable] = field(default_factory=list)  # the first LISTED, with their reasons
    done: bool = False

    def count(self, result: Migrated | Unmappable | None, now_ms: int) -> None:
        if result is None:
            self.already += 1
        elif isinstance(result, Unmappable):
            self.unmappable += 1
            if len(self.unmapped) < LISTED:
                self.unmapped.append(result)
        else:
            self.migrated += 1
            self.moves.update(result.moves)
            outcome = result.outcome
            self.timers_cancelled += len(outcome.cancelled)
            self.timers_scheduled += len(outcome.scheduled)
            self.timers_overdue += sum(1 for t in outcome.scheduled if ms(t.due) <= now_ms)


class Migrations:
    def __init__(self, store: Store, catalog: Catalog, clock: Clock) -> None:
        self.store = store
        self.catalog = catalog
        self.clock = clock

    async def plan(self, caller: Caller, mapping_text: str, selection: Selection, file: str = "") -> Report:
        """The dry run: what apply would do to the selection now. Writes nothing."""
        mapping, keys = await self._mapping(caller, mapping_text, selection, file)
        report = Report(mapping.label)
        now = as_stored(self.clock.now())
        async for batch in self._selected(keys, mapping, selection, report):
            for stored in batch:
                report.count(migrate(mapping, stored.snapshot(mapping.old, keep=False), caller.actor, now), ms(now))
        report.done = True
        return report

    async def apply(
        self, caller: Caller, mapping_text: str, selection: Selection, file: str = "", batch: int = 500
    ) -> AsyncIterator[Report]:
        """Migrate the selection, each customer atomically, reporting after every batch (the last one `done`)."""
        if not 1 <= batch <= 10_000:
            raise InvalidRequest("a migration batch holds 1 to 10,000 customers")
        mapping, keys = await self._mapping(caller, mapping_text, selection, file)
        report = Report(mapping.label)
        gate = asyncio.Semaphore(PARALLEL)

        async def one(stored: Stored) -> None:
            async with gate:
                now = as_stored(self.clock.now())
                report.count(await self._migrate_one(caller, keys, mapping, stored), ms(now))

        async for chunk in self._selected(keys, mapping, selection, report, batch):
            await asyncio.gather(*(one(stored) for stored in chunk))
            yield report
        report.done = True
        yield report

    async def _migrate_one(
        self, caller: Caller, keys: Keys, mapping: MigrationMap, stored: Stored
    ) -> Migrated | Unmappable | None:
        """Migrate one customer as read; when it changed meanwhile, read it again and decide again. None: it is
        on the target version already (or was erased)."""
        for attempt in range(CONFLICT_RETRIES):
            now = as_stored(self.clock.now())
            before = stored.snapshot(mapping.old, keep=False)
            result = migrate(mapping, before, caller.actor, now)
            if isinstance(result, Unmappable):
                return result
            write = Write(mapping.new, before, result.outcome, own_idempotency(), now, before_definition=mapping.old,
                          arrived=result.arrived)  # fmt: skip
            try:
                await self.store.customers.write(keys, write)
                return result
            except VersionConflict:
                if attempt == CONFLICT_RETRIES - 1:
                    raise
            found = await self.store.customers.read(keys, stored.customer_id)
            if found is None or found.pinned[:2] != (mapping.old.name, mapping.old.version):
                return None
            stored = found
        raise AssertionError("unreachable")

    async def _mapping(self, caller: Caller, text: str, selection: Selection, file: str) -> tuple[MigrationMap, Keys]:
        if ADMIN_ROLE not in caller.actor.roles:
            raise PermissionDenied(f"migrating customers needs the {ADMIN_ROLE} role")
        file = file or "mapping.yaml"
        name, old_version, new_version = mapping_versions(text, file)
        old = await self.catalog.resolve(caller.tenant, name, old_version)
        new = await self.catalog.for_new_customers(caller.tenant, name, new_version)
        mapping = load_mapping(text, old, new, file)
        _check_selection(old, selection)
        return mapping, self.store.keys(caller.tenant)

    async def _selected(
        self, keys: Keys, mapping: MigrationMap, selection: Selection, report: Report, batch: int = 500
    ) -> AsyncIterator[list[Stored]]:
        """The selection's customers on the old version, in batches; those on the target already are counted, and
        those on another text of the old version's number (the shared one and the tenant's own) are unmappable."""
        old, new = (mapping.old.name, mapping.old.version), (mapping.new.name, mapping.new.version)
        async for found in self._candidates(keys, selection, batch):
            chosen = []
            for stored in found:
                name, version, digest = stored.pinned
                if (name, version) == new and not selection.states:
                    report.already += 1
                elif (name, version) == old:
                    if not mapping.old.digest.startswith(digest):
                        report.selected += 1
                        report.count(Unmappable(stored.customer_id, (_OTHER_TEXT.format(mapping.old.key),)), 0)
                    elif _in_states(mapping.old, stored, selection.states):
                        chosen.append(stored)
            report.selected += len(chosen)
            if chosen:
                yield chosen

    async def _candidates(self, keys: Keys, selection: Selection, batch: int) -> AsyncIterator[list[Stored]]:
        if not selection.customer_ids:
            async for found in self.store.customers.every(keys, batch):
                yield found
            return
        ids = list(dict.fromkeys(selection.customer_ids))
        for start in range(0, len(ids), batch):
            read = await asyncio.gather(*(self.store.customers.read(keys, i) for i in ids[start : start + batch]))
            yield [stored for stored in read if stored is not None]


_OTHER_TEXT = ("it runs another text of {0} (a shared version has the number of the tenant's own): a mapping from "
               "{0} moves the customers of the tenant's own text only")  # fmt: skip


def _in_states(definition: Definition, stored: Stored, states: Sequence[tuple[str, str]]) -> bool:
    if not states:
        return True
    snapshot = stored.snapshot(definition, keep=False)
    return any(snapshot.states[dimension].state == state for dimension, state in states)


def _check_selection(definition: Definition, selection: Selection) -> None:
    for dimension, state in selection.states:
        found = definition.dimensions.get(dimension)
        if found is None:
            raise UnknownName("dimension", dimension, definition.dimensions)
        if state not in found.states:
            raise UnknownName(f"state of {dimension} in {definition.key}", state, found.states)
    if len(selection.customer_ids) > 100_000:
        raise InvalidRequest("a migration names at most 100,000 customers; select by state or take all instead")
    for customer_id in selection.customer_ids:
        check_customer_id(customer_id)
