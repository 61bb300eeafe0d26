"""Customer state in Redis: every command is one read script, an engine decision, one atomic write script.

The write script compares the version read, and only then writes the snapshot, appends history, moves the
state counts, reschedules timers, publishes to the event stream and stores the idempotency record. A
concurrent change makes it refuse (VersionConflict), never overwrite.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from typing import Any

import redis

from crmstatus.engine import runtime
from crmstatus.engine.clock import Clock
from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import (
    ClaimRefused,
    CustomerExists,
    CustomerNotFound,
    IdempotencyMismatch,
    InvalidRequest,
    StaleTimer,
    StoreUnavailable,
    VersionConflict,
)
from crmstatus.engine.facts import parse_duration
from crmstatus.engine.identity import identity_keys
from crmstatus.engine.snapshot import Actor, EffectRecord, HistoryEntry, Outcome, Snapshot

from .catalog import Catalog
from .codec import (
    decode_effects,
    decode_history,
    decode_snapshot,
    dumps,
    encode_effects,
    encode_snapshot,
    history_document,
    moment,
    ms,
    stored_definition,
)
from .keys import TENANTS, Keys, check_customer_id
from .settings import Settings

CONFLICT_RETRIES = 8  # re-read and re-decide this often when the caller did not pin a version
# A command without an idempotency key still gets one of its own, kept briefly: if a write times out after
# Redis applied it, redis-py's retry (or ours, after a conflict) finds the record instead of applying it twice.
OWN_KEY_TTL_SECONDS = 30  # longer than redis-py spends retrying one call
Decision = Callable[[Definition, Snapshot], Outcome]


@dataclass(frozen=True)
class CommandResult:
    snapshot: Snapshot
    effects: tuple[EffectRecord, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    replayed: bool = False  # True when an idempotency key returned the result stored by an earlier call


def _script(name: str) -> str:
    return resources.files("crmstatus.server").joinpath(f"lua/{name}.lua").read_text("utf-8")


@contextmanager
def store_errors() -> Iterator[None]:
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as error:
        raise StoreUnavailable(f"the state store is unavailable: {error}") from error


class Store:
    def __init__(self, client: redis.Redis, catalog: Catalog, settings: Settings, clock: Clock) -> None:
        self.client = client
        self.catalog = catalog
        self.settings = settings
        self.clock = clock
        self._read = client.register_script(_script("read"))
        self._commit = client.register_script(_script("commit"))
        self._release_identity = client.register_script(_script("release_identity"))
        self._claim_timers = client.register_script(_script("claim_timers"))
        self._reserve = client.register_script(_script("reserve_claim"))
        self._tailored: dict[tuple[str, str, str], Definition] = {}
        self._unreserve = client.register_script(_script("unreserve_claim"))
        self._settle_timer = client.register_script(_script("settle_timer"))

    def keys(self, tenant: str) -> Keys:
        return Keys(tenant, self.settings.partitions)

    # -- commands ---------------------------------------------------------------------------------------

    def create_customer(
        self,
        tenant: str,
        customer_id: str,
        definition_name: str,
        actor: Actor,
        *,
        facts: Mapping[str, Any] | None = None,
        identities: Mapping[str, str] | None = None,
        definition_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        """A new customer pinned to the definition's (latest) version; refused when its id or any identity
        key (normalised phone, email, company registration number) is already taken in the tenant."""
        keys = self.keys(tenant)
        check_customer_id(customer_id)
        definition = self._for_tenant(tenant, self.catalog.get(definition_name, definition_version))
        normalised = identity_keys(identities or {})
        request = {"op": "create", "definition": definition.key, "facts": facts, "identities": normalised}
        idem, digest, ttl = self._idempotency(keys, customer_id, idempotency_key, request)
        with store_errors():
            _, record = self._read(keys=[keys.customer(customer_id), idem])
            if record:
                return self._replay(definition, customer_id, record, digest, idempotency_key or "")
            reserved = self._reserve_identities(keys, customer_id, normalised)
            outcome = runtime.new_customer(definition, customer_id, self.clock, actor, facts or {})
            self.client.sadd(TENANTS, tenant)
            try:
                return self._write(keys, definition, None, outcome, idem, digest, ttl)
            except VersionConflict:
                self._release(keys, customer_id, reserved)
                raise CustomerExists(customer_id) from None
            except BaseException:
                self._release(keys, customer_id, reserved)
                raise

    def fire(
        self,
        tenant: str,
        customer_id: str,
        event: str,
        actor: Actor,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        reason: str = "",
        evidence: Sequence[tuple[str, str, str]] = (),
    ) -> CommandResult:
        request = {"op": "fire", "event": event, "actor": actor.id, "reason": reason, "evidence": list(evidence)}
        return self._command(
            tenant,
            customer_id,
            request,
            lambda d, s: runtime.fire(d, s, event, actor, self.clock, reason, evidence),
            expected_version,
            idempotency_key,
        )

    def update_facts(
        self,
        tenant: str,
        customer_id: str,
        facts: Mapping[str, Any],
        actor: Actor,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
        reason: str = "",
    ) -> CommandResult:
        request = {"op": "facts", "facts": dict(facts), "actor": actor.id, "reason": reason}
        return self._command(
            tenant,
            customer_id,
            request,
            lambda d, s: runtime.update_facts(d, s, facts, actor, self.clock, reason),
            expected_version,
            idempotency_key,
        )

    def complete_item(
        self,
        tenant: str,
        customer_id: str,
        checklist: str,
        item: str,
        actor: Actor,
        *,
        evidence: str = "",
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"op": "complete", "item": f"{checklist}.{item}", "actor": actor.id, "evidence": evidence}
        return self._command(
            tenant,
            customer_id,
            request,
            lambda d, s: runtime.complete_item(d, s, checklist, item, actor, self.clock, evidence),
            expected_version,
            idempotency_key,
        )

    def reopen_item(
        self,
        tenant: str,
        customer_id: str,
        checklist: str,
        item: str,
        actor: Actor,
        *,
        reason: str = "",
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        request = {"op": "reopen", "item": f"{checklist}.{item}", "actor": actor.id, "reason": reason}
        return self._command(
            tenant,
            customer_id,
            request,
            lambda d, s: runtime.reopen_item(d, s, checklist, item, actor, self.clock, reason),
            expected_version,
            idempotency_key,
        )

    def claim(
        self, tenant: str, customer_id: str, actor: Actor, *, idempotency_key: str | None = None
    ) -> CommandResult:
        """Take the customer with a lease; the result's snapshot carries the new fence token."""
        request = {"op": "claim", "actor": actor.id}
        decide: Decision = lambda d, s: runtime.claim(d, s, actor, self.clock)  # noqa: E731
        return self._command(tenant, customer_id, request, decide, None, idempotency_key)

    def renew(self, tenant: str, customer_id: str, actor: Actor) -> CommandResult:
        request = {"op": "renew", "actor": actor.id, "token": actor.fence_token}
        return self._command(
            tenant, customer_id, request, lambda d, s: runtime.renew(d, s, actor, self.clock), None, None
        )

    def release(self, tenant: str, customer_id: str, actor: Actor) -> CommandResult:
        request = {"op": "release", "actor": actor.id, "token": actor.fence_token}
        return self._command(
            tenant, customer_id, request, lambda d, s: runtime.release(d, s, actor, self.clock), None, None
        )

    def reassign(
        self,
        tenant: str,
        customer_id: str,
        manager: Actor,
        owner: str,
        reason: str,
        *,
        expected_version: int | None = None,
    ) -> CommandResult:
        request = {"op": "reassign", "actor": manager.id, "owner": owner, "reason": reason}
        decide: Decision = lambda d, s: runtime.reassign(d, s, manager, owner, reason, self.clock)  # noqa: E731
        return self._command(tenant, customer_id, request, decide, expected_version, None)

    def pool(self, tenant: str, *, limit: int = 100) -> list[tuple[str, datetime]]:
        """Customers free to claim now (unowned, or their lease lapsed), longest free first, with since when."""
        keys = self.keys(tenant)
        if not 1 <= limit <= 1000:
            raise InvalidRequest("a pool page holds 1 to 1000 customers")
        now = ms(self.clock.now())
        with store_errors():
            pipeline = self.client.pipeline(transaction=False)
            for part in range(keys.partitions):
                pipeline.zrangebyscore(keys.pool(part), "-inf", now, start=0, num=limit, withscores=True)
            shares = pipeline.execute()
        free = sorted((score, member) for share in shares for member, score in share)
        return [(member, moment(int(score))) for score, member in free[:limit]]

    def fire_timer(self, tenant: str, customer_id: str, timer_key: str) -> CommandResult:
        """Fire one of the customer's timers as the system, if it is still its own and due.

        StaleTimer when it no longer belongs to the customer's state entry (or is not due yet); firing
        twice (two workers, or a retry after a crash) applies it once, through its idempotency key.
        """

        def decide(definition: Definition, snapshot: Snapshot) -> Outcome:
            timer = runtime.find_timer(definition, snapshot, timer_key)
            if timer is None:
                raise StaleTimer(f"timer {timer_key} no longer applies to customer {customer_id}")
            return runtime.fire_timer(definition, snapshot, timer, self.clock)

        request = {"op": "timer", "timer": timer_key}
        return self._command(tenant, customer_id, request, decide, None, f"timer-{timer_key}")

    def tenants(self) -> list[str]:
        with store_errors():
            return sorted(self.client.smembers(TENANTS))  # type: ignore[arg-type]

    def claim_due_timers(self, tenant: str, part: int, lease_ms: int, limit: int) -> list[tuple[str, int]]:
        """Up to `limit` timers of one partition that are due now, each leased to the caller."""
        keys = self.keys(tenant)
        with store_errors():
            reply = self._claim_timers(keys=[keys.timers(part)], args=[ms(self.clock.now()), lease_ms, limit])
        return [(reply[n], int(reply[n + 1])) for n in range(0, len(reply), 2)]

    def settle_timer(self, tenant: str, part: int, member: str, lease: int, due: int | None) -> None:
        """A claimed timer that did not fire: drop it (due None), or put it back at its due time."""
        keys = self.keys(tenant)
        with store_errors():
            self._settle_timer(keys=[keys.timers(part)], args=[member, lease, "" if due is None else due])

    def due_of(self, tenant: str, customer_id: str, timer_key: str) -> int | None:
        """When the customer's timer is due (ms), or None when it no longer has it."""
        definition, snapshot = self.get_customer(tenant, customer_id)
        timer = runtime.find_timer(definition, snapshot, timer_key)
        return ms(timer.due) if timer else None

    # -- queries ----------------------------------------------------------------------------------------

    def get_customer(self, tenant: str, customer_id: str) -> tuple[Definition, Snapshot]:
        keys = self.keys(tenant)
        check_customer_id(customer_id)
        with store_errors():
            document, _ = self._read(keys=[keys.customer(customer_id), keys.customer(customer_id)])
        if document is None:
            raise CustomerNotFound(tenant, customer_id)
        return self._decode(tenant, customer_id, document)

    def history(
        self,
        tenant: str,
        customer_id: str,
        *,
        limit: int = 50,
        newest_first: bool = True,
        page_token: str | None = None,
    ) -> tuple[list[HistoryEntry], str | None]:
        """One page of the customer's history, and the token of the next page (None after the last)."""
        keys = self.keys(tenant)
        check_customer_id(customer_id)
        if not 1 <= limit <= 1000:
            raise InvalidRequest("a history page holds 1 to 1000 entries")
        if page_token and not all(part.isdigit() for part in page_token.split("-", 1)):
            raise InvalidRequest(f"page token {page_token!r} was not returned by this service")
        with store_errors():
            if newest_first:
                high = f"({page_token}" if page_token else "+"
                rows: list[tuple[str, dict[str, str]]] = self.client.xrevrange(
                    keys.history(customer_id), high, "-", count=limit
                )  # type: ignore[assignment]
            else:
                low = f"({page_token}" if page_token else "-"
                rows = self.client.xrange(keys.history(customer_id), low, "+", count=limit)  # type: ignore[assignment]
            if not rows and not page_token and not self.client.exists(keys.customer(customer_id)):
                raise CustomerNotFound(tenant, customer_id)
        entries = [decode_history(int(entry_id.split("-")[0]), json.loads(fields["e"])) for entry_id, fields in rows]
        next_token = rows[-1][0] if len(rows) == limit else None
        return entries, next_token

    def state_counts(self, tenant: str) -> dict[tuple[str, str, str], int]:
        """(definition@version, dimension, state) → number of customers, summed over the tenant's partitions."""
        keys = self.keys(tenant)
        with store_errors():
            pipeline = self.client.pipeline(transaction=False)
            for part in range(keys.partitions):
                pipeline.hgetall(keys.counts(part))
            shares = pipeline.execute()
        counts: dict[tuple[str, str, str], int] = {}
        for share in shares:
            for field, value in share.items():
                definition, dimension, state = field.split("|", 2)
                key = (definition, dimension, state)
                counts[key] = counts.get(key, 0) + int(value)
        return counts

    # -- the command path -------------------------------------------------------------------------------

    def _command(
        self,
        tenant: str,
        customer_id: str,
        request: dict[str, Any],
        decide: Decision,
        expected_version: int | None,
        idempotency_key: str | None,
    ) -> CommandResult:
        keys = self.keys(tenant)
        check_customer_id(customer_id)
        idem, digest, ttl = self._idempotency(keys, customer_id, idempotency_key, request)
        customer_key = keys.customer(customer_id)
        for attempt in range(CONFLICT_RETRIES):
            with store_errors():
                document, record = self._read(keys=[customer_key, idem])
            if document is None:
                raise CustomerNotFound(tenant, customer_id)
            definition, snapshot = self._decode(tenant, customer_id, document)
            if record:
                return self._replay(definition, customer_id, record, digest, idempotency_key or "")
            if expected_version is not None and expected_version != snapshot.version:
                raise VersionConflict(customer_id, expected_version, snapshot.version)
            outcome = decide(definition, snapshot)
            if not outcome.history:
                return CommandResult(snapshot)
            try:
                with store_errors():
                    return self._write(keys, definition, snapshot, outcome, idem, digest, ttl)
            except VersionConflict:
                if expected_version is not None or attempt == CONFLICT_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _write(
        self,
        keys: Keys,
        definition: Definition,
        before: Snapshot | None,
        outcome: Outcome,
        idem: str,
        digest: str,
        ttl: int,
    ) -> CommandResult:
        plan = WritePlan.of(definition, before, outcome)
        after, customer_id, part = outcome.snapshot, plan.customer_id, keys.part(plan.customer_id)
        args: list[Any] = [
            plan.expected_version,
            after.version,
            plan.stored,
            digest,
            ttl,
            plan.result,
            self.settings.event_stream_maxlen,
            customer_id,
            plan.event,
            len(plan.history),
            *plan.history,
            len(plan.counts),
            *[x for field, delta in plan.counts.items() for x in (field, delta)],
            len(plan.cancel),
            *plan.cancel,
            len(plan.schedule),
            *[x for member, due in plan.schedule.items() for x in (due, member)],
            *_pool_change(after, self.clock.now()),
        ]
        customer_key = keys.customer(customer_id)
        reserved = self._reserve_claim(keys, definition, before, after)
        try:
            reply = self._commit(
                keys=[
                    customer_key,
                    keys.history(customer_id),
                    keys.counts(part),
                    keys.timers(part),
                    keys.events(part),
                    idem,
                    keys.pool(part),
                ],
                args=args,
            )
        except BaseException:
            self._unreserve_claim(keys, customer_id, reserved)
            raise
        status = reply[0]
        if status != "ok":
            self._unreserve_claim(keys, customer_id, reserved)
        else:
            self._track_holder(keys, before, after)
        if status == "conflict":
            raise VersionConflict(customer_id, before.version if before else 0, int(reply[1]))
        if status == "mismatch":
            raise IdempotencyMismatch(idem.rsplit(":", 1)[-1])
        if status == "replay":
            return self._replay(definition, customer_id, f"{digest}\n{reply[1]}", digest, "")
        return CommandResult(after, outcome.effects, outcome.history)

    def _for_tenant(self, tenant: str, definition: Definition) -> Definition:
        """The definition with the tenant's own claim lease, when it has one (built once per tenant)."""
        protection = self.settings.claim_protection.get(tenant)
        if protection is None or definition.claims is None:
            return definition
        key = (tenant, definition.key, definition.digest)
        tailored = self._tailored.get(key)
        if tailored is None:
            claims = replace(definition.claims, protection=parse_duration(protection))
            tailored = self._tailored[key] = replace(definition, claims=claims)
        return tailored

    def _decode(self, tenant: str, customer_id: str, stored: str) -> tuple[Definition, Snapshot]:
        """The stored snapshot, and the definition it is pinned to as this tenant runs it."""
        definition = self.catalog.get(*stored_definition(stored))
        return self._for_tenant(tenant, definition), decode_snapshot(definition, customer_id, stored)

    def _idempotency(
        self, keys: Keys, customer_id: str, key: str | None, request: dict[str, Any]
    ) -> tuple[str, str, int]:
        """The idempotency record's key, the request digest, and how long the record is kept."""
        ttl = self.settings.idempotency_ttl_seconds
        if not key:
            key, ttl = f"own-{uuid.uuid4().hex}", OWN_KEY_TTL_SECONDS
        elif len(key) > 128 or any(c.isspace() for c in key):
            raise InvalidRequest("an idempotency key is 1-128 characters without spaces")
        digest = hashlib.sha256(dumps(request).encode()).hexdigest()[:32]
        return keys.idempotency(customer_id, key), digest, ttl

    def _replay(self, definition: Definition, customer_id: str, record: str, digest: str, key: str) -> CommandResult:
        stored_digest, _, result = record.partition("\n")
        if stored_digest != digest:
            raise IdempotencyMismatch(key)
        stored = json.loads(result)
        snapshot = decode_snapshot(definition, customer_id, stored["doc"])
        history = tuple(decode_history(snapshot.version, entry) for entry in stored["h"])
        return CommandResult(snapshot, decode_effects(stored["fx"]), history, replayed=True)

    # -- claim caps -------------------------------------------------------------------------------------

    def _reserve_claim(
        self, keys: Keys, definition: Definition, before: Snapshot | None, after: Snapshot
    ) -> tuple[str, str] | None:
        """Count a change of hands against the new owner's caps (in the rep's own slot) before the write.

        Returns the (held set, day counter) keys to undo when the write fails; ClaimRefused at a cap.
        """
        policy = definition.claims
        owner = after.owner
        if policy is None or owner is None or (before is not None and before.fence == after.fence):
            return None  # no new claim: the same owner, or a renewal
        now = self.clock.now()
        day = now.astimezone(definition.timezone).date().isoformat()
        held, daily = keys.held(owner), keys.daily_claims(owner, day)
        lease = ms(after.lease_until) if after.lease_until else ms(now + policy.protection)
        caps = [
            "" if policy.max_held is None else policy.max_held,
            "" if policy.max_daily is None else policy.max_daily,
        ]
        verdict = self._reserve(keys=[held, daily], args=[after.customer_id, lease, ms(now), *caps])
        if verdict == "held":
            raise ClaimRefused("HELD_CAP", f"{owner} already holds {policy.max_held} customers (the most at once)")
        if verdict == "daily":
            raise ClaimRefused("DAILY_CAP", f"{owner} made {policy.max_daily} claims today (the most per day)")
        return held, daily

    def _unreserve_claim(self, keys: Keys, customer_id: str, reserved: tuple[str, str] | None) -> None:
        if reserved is not None:
            self._unreserve(keys=list(reserved), args=[customer_id])

    def _track_holder(self, keys: Keys, before: Snapshot | None, after: Snapshot) -> None:
        """After a write: the previous owner no longer holds the customer; a renewed lease moves its end.

        Not atomic with the write (another slot); a missed update heals itself, as lapsed leases stop counting.
        """
        if before is None or before.owner is None:
            return
        if before.owner != after.owner:
            self.client.zrem(keys.held(before.owner), after.customer_id)
        elif after.lease_until != before.lease_until and after.lease_until is not None:
            self.client.zadd(keys.held(before.owner), {after.customer_id: ms(after.lease_until)}, xx=True)

    # -- identities -------------------------------------------------------------------------------------

    def _reserve_identities(self, keys: Keys, customer_id: str, identities: Mapping[str, str]) -> list[str]:
        """Reserve each identity key for this customer; on a clash, undo and refuse with the holder's id.

        Identity keys live in their own slots, so they are reserved before the customer is written and
        released again if the write fails.
        """
        wanted = {keys.identity(kind, value): f"{kind} {value}" for kind, value in identities.items()}
        if not wanted:
            return []
        pipeline = self.client.pipeline(transaction=False)
        for key in wanted:
            pipeline.set(key, customer_id, nx=True)
            pipeline.get(key)
        replies = pipeline.execute()
        reserved = [key for key, taken in zip(wanted, replies[0::2], strict=True) if taken]
        for label, holder in zip(wanted.values(), replies[1::2], strict=True):
            if holder != customer_id:
                self._release(keys, customer_id, reserved)
                raise CustomerExists(holder, label)
        return reserved

    def _release(self, keys: Keys, customer_id: str, reserved: list[str]) -> None:
        for key in reserved:
            self._release_identity(keys=[key], args=[customer_id])


@dataclass(frozen=True)
class WritePlan:
    """Everything one command writes, encoded: what commit.lua receives."""

    customer_id: str
    expected_version: int
    stored: str  # the new snapshot
    history: list[str]  # entries, JSON
    counts: dict[str, int]  # state count field → delta
    cancel: list[str]  # timer members
    schedule: dict[str, int]  # timer member → due ms
    event: str  # for watchers, JSON
    result: str  # what an idempotent retry returns, JSON

    @classmethod
    def of(cls, definition: Definition, before: Snapshot | None, outcome: Outcome) -> WritePlan:
        after = outcome.snapshot
        history = [history_document(entry) for entry in outcome.history]
        effects = encode_effects(outcome.effects)
        stored = encode_snapshot(definition, after)
        cancel, schedule = _timer_changes(definition, before, after)
        return cls(
            customer_id=after.customer_id,
            expected_version=before.version if before else 0,
            stored=stored,
            history=[dumps(entry) for entry in history],
            counts=_count_changes(definition, before, after),
            cancel=cancel,
            schedule=schedule,
            event=dumps({"by": outcome.history[0].actor, "h": history, "fx": effects}),
            result=dumps({"doc": stored, "h": history, "fx": effects}),
        )


def _pool_change(after: Snapshot, now: datetime) -> tuple[str, int]:
    """Where the customer stands in its partition's pool of claimable customers."""
    if after.owner is None:
        return "free", ms(now)
    if after.lease_until is not None:
        return "lease", ms(after.lease_until)
    return "owned", 0


def _count_changes(definition: Definition, before: Snapshot | None, after: Snapshot) -> dict[str, int]:
    changes: dict[str, int] = {}
    for dimension, entry in after.states.items():
        old = before.states[dimension].state if before else None
        if old == entry.state:
            continue
        if old is not None:
            field = f"{definition.key}|{dimension}|{old}"
            changes[field] = changes.get(field, 0) - 1
        field = f"{definition.key}|{dimension}|{entry.state}"
        changes[field] = changes.get(field, 0) + 1
    return changes


def _timer_changes(
    definition: Definition, before: Snapshot | None, after: Snapshot
) -> tuple[list[str], dict[str, int]]:
    """Timer members to cancel, and members to (re)schedule with their due time in ms."""
    customer_id = after.customer_id
    old = {f"{customer_id}|{t.key}": ms(t.due) for t in runtime.timers(definition, before)} if before else {}
    new = {f"{customer_id}|{t.key}": ms(t.due) for t in runtime.timers(definition, after)}
    cancel = [member for member in old if member not in new]
    schedule = {member: due for member, due in new.items() if old.get(member) != due}
    return cancel, schedule
