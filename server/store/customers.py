"""A customer in Redis: one read script, and one atomic write script per command.

The write script compares the version read, and only then writes the snapshot, appends history, moves the
state counts, reschedules timers, moves the customer in the claim pool, publishes to the event stream and
stores the idempotency record. A concurrent change makes it refuse (VersionConflict), never overwrite.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from crmstatus.engine.definition import Definition
from crmstatus.engine.snapshot import HistoryEntry, Outcome, Snapshot, StateEntry

from . import codec
from .claims import Claims, NewClaim
from .errors import (
    CustomerExists,
    CustomerNotFound,
    IdempotencyMismatch,
    NotReplicated,
    StoreUnavailable,
    VersionConflict,
    store_errors,
)
from .identities import Identities
from .keys import Keys
from .scripts import CommitArgs, CommitKeys, EraseArgs, EraseKeys, Scripts


class Stored(NamedTuple):
    """A customer as read: the stored text, decoded against the definition the caller picks."""

    customer_id: str
    text: str
    record: str | None  # the command's idempotency record, when it has one already

    @property
    def version(self) -> int:
        return int(self.text.partition("\n")[0])

    @property
    def pinned(self) -> tuple[str, int, str]:
        """The definition (name, version) the customer is pinned to, and the start of its text's digest."""
        return codec.stored_definition(self.text)

    def snapshot(self, definition: Definition, keep: bool = True) -> Snapshot:
        """Decoded; kept for the customer's next command unless `keep` is False (a scan over many customers)."""
        return codec.decode_snapshot(definition, self.customer_id, self.text, keep)


class Idempotency(NamedTuple):
    key: str  # the caller's key, or one of our own
    digest: str  # of the request
    ttl_seconds: int


class Write(NamedTuple):
    """One decided command, as the store writes it."""

    definition: Definition
    before: Snapshot | None  # None: a new customer
    outcome: Outcome
    idempotency: Idempotency
    now: datetime
    claim: NewClaim | None = None  # a change of hands, counted against the new owner's caps first
    before_definition: Definition | None = None  # the version `before` is on, when a migration moves it
    arrived: Mapping[str, StateEntry] | None = None  # states entered before automation: imported or migrated

    @property
    def old_definition(self) -> Definition:
        return self.before_definition or self.definition


class Customers:
    def __init__(self, scripts: Scripts, claims: Claims, identities: Identities, stream_maxlen: int) -> None:
        self.scripts = scripts
        self.claims = claims
        self.identities = identities
        self.stream_maxlen = stream_maxlen

    async def read(self, keys: Keys, customer_id: str, idempotency_key: str | None = None) -> Stored | None:
        record_key = keys.idempotency(customer_id, idempotency_key) if idempotency_key else None
        text, record = await self.scripts.read(keys.customer(customer_id), record_key)
        return None if text is None else Stored(customer_id, text, record)

    async def confirm(self, keys: Keys, customer_id: str, idempotency: Idempotency) -> None:
        """A replayed answer is given once the replicas have its write, as the first answer would have been."""
        await self.scripts.commit.confirm(keys.idempotency(customer_id, idempotency.key), idempotency.ttl_seconds)

    async def remember(self, keys: Keys, found: Stored, idempotency: Idempotency) -> str | None:
        """Keep the caller's key of a command that changed nothing, with the customer as it was (`found`), so
        that a retry gets this answer back rather than acting on a later state. None when kept; else the record
        a request with the same key kept first (one SET NX: the first one wins)."""
        key = keys.idempotency(found.customer_id, idempotency.key)
        record = codec.idempotency_record(idempotency.digest, codec.result_document(found.text, "[]", "[]"))
        async with store_errors(self.scripts.timeout):
            if await self.scripts.client.set(key, record, nx=True, ex=idempotency.ttl_seconds):
                return None
            first: str | None = await self.scripts.client.get(key)  # type: ignore[assignment]
        return first

    async def every(self, keys: Keys, batch: int = 500) -> AsyncIterator[list[Stored]]:
        """Every customer of the tenant as stored, in batches: a SCAN over each partition's customer keys
        (idempotency records share the prefix and are told apart by their text), and one MGET per batch (a
        partition's keys share a slot). Each round trip is bounded on its own, whatever the tenant's size. A
        customer changed meanwhile is read as it is then; one that SCAN returns twice is given once."""
        for part in range(keys.partitions):
            prefix = len(keys.customers(part)) - 1
            found: list[str] = []
            seen: set[str] = set()
            async for key in self._scan(keys.customers(part), _type="string"):
                if key not in seen:
                    seen.add(key)
                    found.append(key)
                if len(found) == batch:
                    yield await self._texts(found, prefix)
                    found = []
            if found:
                yield await self._texts(found, prefix)

    async def _texts(self, found: list[str], prefix: int) -> list[Stored]:
        async with store_errors(self.scripts.timeout):
            texts: list[str | None] = await self.scripts.client.mget(found)  # type: ignore[assignment]
        return [Stored(key[prefix:], text, None) for key, text in zip(found, texts, strict=True)
                if text is not None and codec.is_snapshot(text)]  # fmt: skip

    async def _scan(self, pattern: str, **options: Any) -> AsyncIterator[str]:
        """The keys matching `pattern`, each SCAN round trip bounded on its own, however large the keyspace."""
        scan = self.scripts.client.scan_iter(match=pattern, count=1000, **options)
        while True:
            async with store_errors(self.scripts.timeout):
                try:
                    key = await anext(scan)
                except StopAsyncIteration:
                    return
            yield key

    async def create(self, keys: Keys, write: Write, identities: Mapping[str, str]) -> codec.Result:
        """Write a new customer, its identity keys reserved first (they live in slots of their own) and
        released again when the customer is not written (identities.py: and harmless when that fails too)."""
        customer_id = write.outcome.snapshot.customer_id
        reserved = await self.identities.reserve(keys, customer_id, identities, write.now)
        try:
            return await self.write(keys, write)
        except VersionConflict:
            # The id is taken: maybe by a create of this same customer that won, counting on these reservations
            await self._release_unheld(keys, customer_id, identities, reserved)
            raise CustomerExists(customer_id) from None
        except NotReplicated:
            raise  # the customer is written: its identities are its own
        except BaseException:
            # Redis may have written it all the same (its answer lost or late)
            await self._release_unheld(keys, customer_id, identities, reserved)
            raise

    async def _release_unheld(self, keys: Keys, customer_id: str, identities: Mapping[str, str], reserved: str) -> None:
        """Release the reservations the customer, as stored now, does not hold. When it cannot be read, all
        stay: each binds only if the customer was written, and is free again after identities.STALE_AFTER."""
        try:
            found = await self.read(keys, customer_id)
        except StoreUnavailable:
            return
        held = codec.stored_identities(found.text) if found else {}
        await self.identities.release(keys, {k: v for k, v in identities.items() if held.get(k) != v}, reserved)

    async def erase(
        self, keys: Keys, definition: Definition, snapshot: Snapshot, entry: HistoryEntry, timer_keys: Sequence[str]
    ) -> None:
        """Erase the customer as read (`snapshot`): in one atomic write its snapshot, history, state counts,
        timers and pool entry, with an event for watchers and an audit entry that keeps who, when and why.
        Then what lives in other slots: its identity keys, its owner's held set, its idempotency records."""
        customer_id, part = snapshot.customer_id, keys.part(snapshot.customer_id)
        history = codec.dumps(codec.history_document(entry))
        audit = codec.dumps({"by": entry.actor, "at": codec.ms(entry.at), "why": entry.reason, "d": definition.key,
                             "v": snapshot.version})  # fmt: skip
        indexes = memberships(keys, definition, snapshot)
        status, current = await self.scripts.erase(
            EraseKeys(keys.customer(customer_id), keys.history(customer_id), keys.counts(part), keys.timers(part),
                      keys.events(part), keys.pool(part, snapshot.queue), keys.audit(part), list(indexes)),
            EraseArgs(snapshot.version, self.stream_maxlen, customer_id, codec.event_document(entry.actor,
                      f"[{history}]", "[]"), audit,
                      [codec.count_field(definition.key, name, e.state) for name, e in snapshot.states.items()],
                      [codec.timer_member(customer_id, key) for key in timer_keys], list(indexes.values())),
        )  # fmt: skip
        if status == "conflict":
            if current == "0":
                raise CustomerNotFound(keys.tenant, customer_id)
            raise VersionConflict(customer_id, snapshot.version, int(current))
        codec.forget(customer_id)  # nothing of it stays in this process either
        await self.identities.erase(keys, customer_id, snapshot.identities)
        if snapshot.owner is not None:
            async with store_errors(self.scripts.timeout):
                await self.scripts.client.zrem(keys.held(snapshot.owner), customer_id)
        records = [key async for key in self._scan(keys.idempotency(customer_id, "*"))]
        if records:  # all in the customer's slot: one command
            async with store_errors(self.scripts.timeout):
                await self.scripts.client.delete(*records)

    async def write(self, keys: Keys, write: Write) -> codec.Result:
        after, before = write.outcome.snapshot, write.before
        customer_id = after.customer_id
        part = keys.part(customer_id)
        reserved = await self.claims.reserve(keys, customer_id, write.claim) if write.claim else None
        changes = _index_changes(keys, write)
        day = codec.day(write.definition, write.now)
        args = _commit_args(write, self.stream_maxlen, day, changes)
        try:
            status, value = await self.scripts.commit(
                CommitKeys(
                    keys.customer(customer_id), keys.history(customer_id), keys.counts(part), keys.timers(part),
                    keys.events(part), keys.idempotency(customer_id, write.idempotency.key),
                    keys.pool(part, after.queue), keys.pool(part, before.queue if before else None),
                    keys.flow(part, day), keys.usage(part), [key for key, _, _ in changes],
                ),
                args,
            )  # fmt: skip
        except BaseException:
            # Too few replicas confirmed it, or its answer was lost: Redis may have written it all the same. Then
            # the claim counts (its retry with the same key replays it, reserving nothing) and hands changed.
            if await self._written(keys, customer_id, write.idempotency, args.result):
                if before is not None:
                    with contextlib.suppress(StoreUnavailable):  # heals itself (Claims.track)
                        await self.claims.track(keys, before, after)
            else:
                await self.claims.undo(reserved)
            raise
        if status == "ok":
            codec.known(write.definition, args.stored, after)  # before any await: a later write may land in it
            if before is not None:
                await self.claims.track(keys, before, after)
        elif reserved is not None:
            # It may have lost to the same rep's own claim (a double submit, or its replay): then the hold stays
            found = await self.read(keys, customer_id)
            owner = codec.stored_owner(found.text) if found else None
            await self.claims.undo(reserved, keep_hold=write.claim is not None and owner == write.claim.owner)
        if status == "conflict":
            raise VersionConflict(customer_id, before.version if before else 0, int(value))
        if status == "mismatch":
            raise IdempotencyMismatch(write.idempotency.key)
        if status == "replay":  # the script compared the digests: `value` is the first request's result
            return codec.decode_result(write.definition, customer_id, value)
        return codec.Result(after, write.outcome.effects, write.outcome.history)

    async def _written(self, keys: Keys, customer_id: str, idempotency: Idempotency, result: str) -> bool:
        """Whether a write whose call failed is in Redis: its own idempotency record, which commit.lua writes
        with the customer and no later write changes. False when it cannot be read. (Cancelled while the write
        was still on its way, it may land after this read: its count is then lost, as before.)"""
        try:
            async with store_errors(self.scripts.timeout):
                record = await self.scripts.client.get(keys.idempotency(customer_id, idempotency.key))
        except StoreUnavailable:
            return False
        return record == codec.idempotency_record(idempotency.digest, result)


def memberships(keys: Keys, definition: Definition, snapshot: Snapshot) -> dict[str, str]:
    """The index entries a snapshot has: key → member (its state in each indexed dimension, its owner, its queue)."""
    customer_id, part = snapshot.customer_id, keys.part(snapshot.customer_id)
    states = snapshot.states
    found = {
        keys.in_state(part, definition.key, name, states[name].state): codec.index_member(
            customer_id, states[name].since
        )
        for name in definition.indexed
    }
    if snapshot.owner is not None:
        found[keys.owned_by(part, snapshot.owner)] = customer_id
    if snapshot.queue is not None:
        found[keys.in_queue(part, snapshot.queue)] = customer_id
    return found


def _index_changes(keys: Keys, write: Write) -> list[tuple[str, str, str]]:
    """(key, 'add' | 'rem', member): the index entries to take out and to put in."""
    before, after = write.before, write.outcome.snapshot
    if (
        before is not None and write.before_definition is None and before.owner == after.owner
        and before.queue == after.queue and all(before.states[n] == after.states[n] for n in write.definition.indexed)
    ):  # fmt: skip
        return []  # no indexed state entered anew, the same owner and queue: every entry stays
    old = memberships(keys, write.old_definition, before) if before is not None else {}
    new = memberships(keys, write.definition, after)
    changes = [(key, "rem", member) for key, member in old.items() if new.get(key) != member]
    return changes + [(key, "add", member) for key, member in new.items() if old.get(key) != member]


def _commit_args(write: Write, stream_maxlen: int, day: str, changes: Sequence[tuple[str, str, str]]) -> CommitArgs:
    definition, before, outcome = write.definition, write.before, write.outcome
    after = outcome.snapshot
    customer_id = after.customer_id
    history = [codec.dumps(codec.history_document(entry)) for entry in outcome.history]
    history_array, effects = f"[{','.join(history)}]", codec.dumps(codec.encode_effects(outcome.effects))
    stored = codec.encode_snapshot(definition, after)
    return CommitArgs(
        expected_version=before.version if before else 0,
        version=after.version,
        stored=stored,
        digest=write.idempotency.digest,
        ttl_seconds=write.idempotency.ttl_seconds,
        result=codec.result_document(stored, history_array, effects),
        stream_maxlen=stream_maxlen,
        customer_id=customer_id,
        event=codec.event_document(outcome.history[0].actor, history_array, effects),
        history=history,
        counts=_count_changes(write.old_definition, definition, before, after),
        cancel=[codec.timer_member(customer_id, key) for key in outcome.cancelled],
        schedule=[(codec.timer_member(customer_id, t.key), codec.due_ms(t.due)) for t in outcome.scheduled],
        pool=_pool_change(after, write.now),
        flow=_flow_fields(write, day),
        usage=_usage_fields(write),
        index_changes=[(at, op, member) for at, (_, op, member) in enumerate(changes)],
    )


def _flow_fields(write: Write, day: str) -> list[str]:
    """The command's flow counters of `day`: each move between two states (a creation enters the initial
    states), the time spent in the state left, in fixed buckets, and the reason code a move was given."""
    definition, before, now = write.definition, write.before, write.now
    key = definition.key
    fields = []
    if before is None:
        arrived = write.arrived or _initial(definition, now)
        entered = {name: entry.since for name, entry in arrived.items()}
        fields += [codec.flow_field("m", day, key, name, "", entry.state) for name, entry in arrived.items()]
    else:
        entered = {}  # as the command moves a dimension; before that, since its entry in `before`
    for entry in write.outcome.history:
        if not entry.dimension or entry.from_state == entry.to_state:
            continue
        since = entered.get(entry.dimension)
        if since is None:
            left = before.states.get(entry.dimension) if before is not None else None
            since = left.since if left is not None else now
        stayed = codec.dwell_bucket(entry.at - since)
        entered[entry.dimension] = entry.at
        fields.append(codec.flow_field("m", day, key, entry.dimension, entry.from_state, entry.to_state))
        fields.append(codec.flow_field("d", day, key, entry.dimension, entry.from_state, str(stayed)))
        if any(entry.reason in t.reasons for t in definition.event_transitions.get(entry.event, ())):
            fields.append(codec.flow_field("r", day, key, entry.dimension, entry.event, entry.reason))
    return fields


def _usage_fields(write: Write) -> list[str]:
    """The states the change entered and the transitions it fired, for the review report: a new or migrated
    customer enters every state it is in."""
    definition, outcome = write.definition, write.outcome
    key, fields = definition.key, []
    if write.before is None or write.before_definition is not None:
        arrived = write.arrived or _initial(definition, write.now)
        fields += [codec.usage_field(key, "s", name, entry.state) for name, entry in arrived.items()]
    for entry in outcome.history:
        if not entry.event or not entry.dimension:
            continue
        transition = definition.transition_taken(entry.dimension, entry.event, entry.from_state, entry.to_state)
        if transition is not None:
            fields.append(codec.usage_field(key, "t", entry.dimension, transition.index))
        if entry.from_state != entry.to_state:
            fields.append(codec.usage_field(key, "s", entry.dimension, entry.to_state))
    return fields


def _initial(definition: Definition, now: datetime) -> dict[str, StateEntry]:
    return {name: StateEntry(d.initial, now, 1) for name, d in definition.dimensions.items()}


def _pool_change(after: Snapshot, now: datetime) -> tuple[str, int]:
    """Where the customer stands in its partition's pool of claimable customers."""
    if after.owner is None:
        return "free", codec.ms(now)
    if after.lease_until is not None:
        return "lease", codec.ms(after.lease_until)
    return "owned", 0


def _count_changes(old: Definition, new: Definition, before: Snapshot | None, after: Snapshot) -> list[tuple[str, int]]:
    """State count deltas of the dimensions whose state changed; every dimension's, when a migration changes
    the version (from `old` to `new`)."""
    changes: dict[str, int] = {}
    moved = old is not new
    for dimension, entry in after.states.items():
        left = before.states.get(dimension) if before else None
        if left is not None and left.state == entry.state and not moved:
            continue
        if left is not None:
            field = codec.count_field(old.key, dimension, left.state)
            changes[field] = changes.get(field, 0) - 1
        field = codec.count_field(new.key, dimension, entry.state)
        changes[field] = changes.get(field, 0) + 1
    if moved and before is not None:  # dimensions the new version no longer has
        for dimension, entry in before.states.items():
            if dimension not in after.states:
                field = codec.count_field(old.key, dimension, entry.state)
                changes[field] = changes.get(field, 0) - 1
    return [(field, delta) for field, delta in changes.items() if delta]
