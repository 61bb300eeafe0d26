"""Changing customers: every command takes one path — read once, decide in the engine, write once.

A concurrent change makes the write refuse; unless the caller pinned a version, the command is read and
decided again. A command without an idempotency key still gets one of its own, kept briefly: if a write
times out after Redis applied it, redis-py's retry (or ours, after a conflict) finds the record instead of
applying it twice.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from crmstatus.engine.clock import Clock
from crmstatus.engine.commands import Command, Fire, blocked_by_rules, imported_customer, imported_states, new_customer
from crmstatus.engine.commands import decide as engine_decide
from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import CrmStatusError, InvalidRequest, PermissionDenied, TransitionNotAllowed, quote
from crmstatus.engine.facts import MAX_TEXT
from crmstatus.engine.identity import identity_keys
from crmstatus.engine.ids import check_customer_id
from crmstatus.engine.model import ADMIN_ROLE
from crmstatus.engine.rules import timers
from crmstatus.engine.snapshot import HistoryEntry, Snapshot
from crmstatus.server import metrics
from crmstatus.server.settings import Settings
from crmstatus.server.store import Store
from crmstatus.server.store.claims import NewClaim
from crmstatus.server.store.codec import (
    Result,
    as_stored,
    ms,
    recorded_definition,
    replay,
    request_digest,
    usage_field,
)
from crmstatus.server.store.customers import Idempotency, Stored, Write
from crmstatus.server.store.errors import CustomerExists, CustomerNotFound, StoreUnavailable, VersionConflict
from crmstatus.server.store.keys import Keys

from .catalog import Catalog
from .errors import Contended
from .model import Caller, Change, Imported, ImportRow, NewCustomer, Options

NO_OPTIONS = Options()

_PROCESS, _OWN = secrets.token_hex(6), itertools.count()  # own keys: unique across the fleet
CONFLICT_RETRIES = 8  # re-read and re-decide this often when the caller did not pin a version
MAX_IMPORT = 1000  # rows per import call
IMPORT_PARALLEL = 32  # rows of one call written at once
OWN_KEY_TTL_SECONDS = 30  # longer than redis-py spends retrying one call


class Commands:
    def __init__(self, store: Store, catalog: Catalog, settings: Settings, clock: Clock) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.clock = clock

    async def create(self, caller: Caller, new: NewCustomer, options: Options = NO_OPTIONS) -> Change:
        """A new customer pinned to the definition's (latest) version; refused when its id or any identity
        key (normalised phone, email, company registration number) is already taken in the tenant."""
        keys = self.store.keys(caller.tenant)
        check_customer_id(new.customer_id)
        definition = await self.catalog.for_new_customers(caller.tenant, new.definition, new.definition_version)
        identities = identity_keys(new.identities)
        idempotency = self._idempotency(options.idempotency_key, lambda: {
            "op": "create", "definition": definition.key, "facts": dict(new.facts), "identities": identities
        })  # fmt: skip
        found = await self.store.customers.read(keys, new.customer_id, options.idempotency_key)
        if found is not None and found.record:
            return await self._replayed(caller.tenant, found, idempotency)
        now = as_stored(self.clock.now())
        outcome = new_customer(definition, new.customer_id, caller.actor, now, new.facts, identities)
        await self.store.queries.add_tenant(caller.tenant)
        write = Write(definition, None, outcome, idempotency, now, _new_claim(definition, None, outcome.snapshot, now))
        return _change(definition, await self.store.customers.create(keys, write, identities))

    async def import_customers(self, caller: Caller, rows: Sequence[ImportRow]) -> list[Imported]:
        """Create customers brought over from another system, each in its given states and checked like a
        creation; one result per row. A row taken already (imported before) changes nothing; a refused one
        writes nothing. Needs the admin role."""
        if ADMIN_ROLE not in caller.actor.roles:
            raise PermissionDenied(f"importing customers needs the {ADMIN_ROLE} role")
        if len(rows) > MAX_IMPORT:
            raise InvalidRequest(f"an import call carries at most {MAX_IMPORT:,} customers, not {len(rows):,}")
        gate, first = asyncio.Semaphore(IMPORT_PARALLEL), dict[str, int]()
        for number, row in enumerate(rows, 1):
            first.setdefault(row.customer_id, number)

        async def one(number: int, row: ImportRow) -> Imported:
            if first[row.customer_id] != number:  # rows are written at once: which one came first would be luck
                return Imported(row.customer_id, "refused", f"row {number} names customer {quote(row.customer_id)} as "
                                f"row {first[row.customer_id]} does: a call imports each customer once")  # fmt: skip
            async with gate:
                try:
                    return await self._import(caller, row)
                except StoreUnavailable:
                    raise
                except CustomerExists as taken:
                    if taken.identity:
                        return Imported(row.customer_id, "refused", str(taken))
                    found = await self.store.customers.read(self.store.keys(caller.tenant), row.customer_id)
                    return Imported(row.customer_id, "exists", version=found.version if found else 0)
                except CrmStatusError as refused:
                    return Imported(row.customer_id, "refused", str(refused))

        return list(await asyncio.gather(*(one(number, row) for number, row in enumerate(rows, 1))))

    async def _import(self, caller: Caller, row: ImportRow) -> Imported:
        keys = self.store.keys(caller.tenant)
        check_customer_id(row.customer_id)
        definition = await self.catalog.for_new_customers(caller.tenant, row.definition, row.definition_version)
        identities = identity_keys(row.identities)
        now = as_stored(self.clock.now())
        given = {name: (state, as_stored(since) if since else None) for name, (state, since) in row.states.items()}
        states = imported_states(definition, given, now)
        outcome = imported_customer(definition, row.customer_id, caller.actor, now, states, row.facts, identities)
        await self.store.queries.add_tenant(caller.tenant)
        write = Write(definition, None, outcome, own_idempotency(), now, arrived=states)
        result = await self.store.customers.create(keys, write, identities)
        return Imported(row.customer_id, "created", version=result.snapshot.version)

    async def run(self, caller: Caller, customer_id: str, command: Command, options: Options = NO_OPTIONS) -> Change:
        """Carry out `command` on the customer for the caller."""
        keys = self.store.keys(caller.tenant)
        check_customer_id(customer_id)
        _check_expected(options.expected_version)
        idempotency = self._idempotency(options.idempotency_key, lambda: {
            "op": command.name, **_fields(command), "actor": caller.actor.id, "token": caller.actor.fence_token
        })  # fmt: skip
        caller_key = options.idempotency_key  # our own keys are new: no record to look for before the write
        for attempt in range(CONFLICT_RETRIES):
            found, definition = await self._read(keys, customer_id, caller_key)
            if found.record:
                return await self._replayed(caller.tenant, found, idempotency)
            snapshot = _at_version(found.snapshot(definition), options.expected_version)
            now = as_stored(self.clock.now())
            try:
                outcome = engine_decide(definition, snapshot, command, caller.actor, now)
            except TransitionNotAllowed:
                if isinstance(command, Fire):
                    blocked = blocked_by_rules(definition, snapshot, command.event, caller.actor, now)
                    await self.store.queries.count_usage(keys, customer_id, [
                        usage_field(definition.key, "g", t.dimension, t.index) for t in blocked
                    ])  # fmt: skip
                raise
            if not outcome.history:  # nothing to write; the caller's key is kept all the same, for its retries
                record = await self.store.customers.remember(keys, found, idempotency) if caller_key else None
                if record is not None:
                    return await self._replayed(caller.tenant, found._replace(record=record), idempotency)
                return Change(definition, snapshot)
            write = Write(
                definition, snapshot, outcome, idempotency, now, _new_claim(definition, snapshot, outcome.snapshot, now)
            )
            try:
                return _change(definition, await self.store.customers.write(keys, write))
            except VersionConflict as conflict:
                _retried(conflict, options.expected_version, attempt)
        raise AssertionError("unreachable")

    async def erase(self, caller: Caller, customer_id: str, reason: str, expected_version: int | None = None) -> int:
        """Erase a customer (GDPR-style) with everything stored about it; what stays is an audit entry with who,
        when and why. Returns the version it had. Needs the tenant's admin role and a reason."""
        if ADMIN_ROLE not in caller.actor.roles:
            raise PermissionDenied(f"erasing a customer needs the {ADMIN_ROLE} role: it cannot be undone")
        if not reason.strip() or len(reason) > MAX_TEXT:
            raise InvalidRequest(f"an erasure needs a reason (at most {MAX_TEXT} characters): it is kept in the audit")
        keys = self.store.keys(caller.tenant)
        check_customer_id(customer_id)
        _check_expected(expected_version)
        for attempt in range(CONFLICT_RETRIES):  # a change meanwhile: erase it as it is now, unless pinned
            found, definition = await self._read(keys, customer_id)
            snapshot = _at_version(found.snapshot(definition), expected_version)
            entry = HistoryEntry(snapshot.version + 1, as_stored(self.clock.now()), caller.actor.id, "erase",
                                 reason=reason, definition_version=definition.version)  # fmt: skip
            timer_keys = [timer.key for timer in timers(definition, snapshot)]
            try:
                await self.store.customers.erase(keys, definition, snapshot, entry, timer_keys)
                return snapshot.version
            except VersionConflict as conflict:
                _retried(conflict, expected_version, attempt)
        raise AssertionError("unreachable")

    async def _read(self, keys: Keys, customer_id: str, record_key: str | None = None) -> tuple[Stored, Definition]:
        """The customer as stored (with the command's idempotency record, when asked), and the definition version
        it is pinned to as its tenant runs it."""
        found = await self.store.customers.read(keys, customer_id, record_key)
        if found is None:
            raise CustomerNotFound(keys.tenant, customer_id)
        return found, await self.catalog.resolve(keys.tenant, *found.pinned)

    def _idempotency(self, key: str | None, request: Callable[[], Mapping[str, Any]]) -> Idempotency:
        """The command's idempotency record: the caller's key with the digest of its request, or a short-lived
        key of our own (used by this one request only, so it needs no digest)."""
        if not key:
            return own_idempotency()
        if len(key) > 128 or any(c.isspace() for c in key):
            raise InvalidRequest("an idempotency key is 1-128 characters without spaces")
        return Idempotency(key, request_digest(request()), self.settings.idempotency_ttl_seconds)

    async def _replayed(self, tenant: str, found: Stored, idempotency: Idempotency) -> Change:
        """The first answer to the key, read with the definition version it was written on (a migration may
        have moved the customer to another since); with durable writes, once the replicas have it."""
        assert found.record is not None
        definition = await self.catalog.resolve(tenant, *recorded_definition(found.record))
        first = replay(definition, found.customer_id, found.record, idempotency.digest, idempotency.key)
        await self.store.customers.confirm(self.store.keys(tenant), found.customer_id, idempotency)
        return _change(definition, first)


def own_idempotency() -> Idempotency:
    """A short-lived key of our own, for a write whose caller gave none (used by that one write only)."""
    return Idempotency(f"own-{_PROCESS}-{next(_OWN)}", "own", OWN_KEY_TTL_SECONDS)


def _retried(conflict: VersionConflict, expected: int | None, attempt: int) -> None:
    """Returns when the command is to be read and decided again: its caller pinned no version and it has
    attempts left. Else raises the conflict, or Contended after the last attempt."""
    if expected is not None:
        raise conflict
    if attempt == CONFLICT_RETRIES - 1:
        raise Contended(conflict.customer_id, conflict.actual, CONFLICT_RETRIES) from conflict


def _check_expected(expected: int | None) -> None:
    if expected is not None and expected < 1:
        raise InvalidRequest(f"expected_version {expected} is no customer version: versions count from 1")


def _at_version(snapshot: Snapshot, expected: int | None) -> Snapshot:
    """The snapshot, when the caller pinned no version or the one it has; else VersionConflict."""
    if expected is not None and expected != snapshot.version:
        raise VersionConflict(snapshot.customer_id, expected, snapshot.version)
    return snapshot


def _fields(command: Command) -> dict[str, Any]:
    return dataclasses.asdict(command)  # type: ignore[call-overload, no-any-return]


def _change(definition: Definition, result: Result) -> Change:
    if metrics.ENABLED and not result.replayed:
        for entry in result.history:
            if entry.from_state != entry.to_state:
                metrics.TRANSITIONS.labels(definition.name, entry.dimension, entry.event or entry.trigger).inc()
    return Change(definition, result.snapshot, result.effects, result.history, result.replayed)


def _new_claim(definition: Definition, before: Snapshot | None, after: Snapshot, now: datetime) -> NewClaim | None:
    """A change of hands, to count against the new owner's caps: a new fence token, not a renewal."""
    policy = definition.claims
    if policy is None or after.owner is None or (before is not None and before.fence == after.fence):
        return None
    lease = after.lease_until or now + policy.protection
    day = now.astimezone(definition.timezone).date().isoformat()
    return NewClaim(after.owner, ms(lease), ms(now), day, policy.max_held, policy.max_daily)
