"""Commands and reads: what a caller may ask of a customer, decided by the rules, with nothing stored.

A command is a small immutable value (`Fire("sign")`, `UpdateFacts({...})`, `Claim()` …) whose `apply`
changes one `Run`; `decide` is the one way any of them is carried out: copy the snapshot, apply, settle the
automatic transitions, and return the new snapshot with its effects, history and timer changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from .definition import Definition
from .errors import (
    ClaimConflict,
    ClaimRefused,
    InvalidRequest,
    PermissionDenied,
    Reason,
    ReasonKind,
    StaleTimer,
    UnknownName,
)
from .model import ADMIN_ROLE, ClaimPolicy, EffectKind, Label, RestrictionKind, Transition
from .rules import Run, hidden_from, locked_state, sees_locked, timers
from .snapshot import SYSTEM, Actor, DueTimer, EffectRecord, HistoryEntry, Outcome, Snapshot, StateEntry


@dataclass(frozen=True)
class TransitionOption:
    """One transition as the actor sees it now: allowed when `reasons` is empty."""

    dimension: str
    event: str
    sources: frozenset[str]
    target: str
    auto: bool
    label: Label
    reasons: tuple[Reason, ...]
    reason_codes: tuple[str, ...] = ()  # firing it names one of these as its reason

    @property
    def allowed(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class Evidence:
    """A checklist item completed as part of firing an event."""

    checklist: str
    item: str
    evidence: str = ""


class Command:
    """Base of every command. `apply` changes the run and says whether anything changed."""

    __slots__ = ()
    name: ClassVar[str]  # stable, for idempotency digests and history

    def apply(self, run: Run, actor: Actor) -> bool:
        raise NotImplementedError


def decide(definition: Definition, snapshot: Snapshot, command: Command, actor: Actor, now: datetime) -> Outcome:
    """Carry out `command` for `actor` on a copy of `snapshot`; an unchanged customer has no history."""
    run = Run(definition, snapshot, now)
    if not command.apply(run, actor):
        return Outcome(snapshot)
    run.settle()
    return run.outcome()


@dataclass(frozen=True, slots=True)
class Create(Command):
    """A customer in the initial state of every dimension, with its first facts and automation applied."""

    name: ClassVar[str] = "create"
    facts: Mapping[str, Any] = field(default_factory=dict)

    def apply(self, run: Run, actor: Actor) -> bool:
        run.everything_changed = True
        changed = run.set_facts(self.facts, actor)
        run.record(actor, self.name, facts_changed=changed)
        run.recompute_scores()
        return True


def new_customer(
    definition: Definition,
    customer_id: str,
    actor: Actor,
    now: datetime,
    facts: Mapping[str, Any] | None = None,
    identities: Mapping[str, str] | None = None,
) -> Outcome:
    """A new customer; `identities` (kind → normalised value) are kept with it so that erasing it finds them."""
    states = {name: StateEntry(d.initial, now, 1) for name, d in definition.dimensions.items()}
    blank = Snapshot(customer_id, definition.name, definition.version, 0, states, identities=dict(identities or {}))
    return decide(definition, blank, Create(facts or {}), actor, now)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Import(Create):
    """A customer brought over from another system, in the states it is in there, with its facts."""

    name: ClassVar[str] = "import"

    def apply(self, run: Run, actor: Actor) -> bool:
        Create.apply(self, run, actor)
        for dimension, entry in run.states.items():  # as if it had entered them here: with the facts they require
            if missing := run.unset_requirements(dimension, entry.state):
                raise InvalidRequest(f"{dimension} {entry.state} requires fact {missing[0]}: give it with the facts")
        return True


def imported_states(
    definition: Definition, states: Mapping[str, tuple[str, datetime | None]], now: datetime
) -> dict[str, StateEntry]:
    """A customer's states as another system gives them (dimension → state and when it entered it; unset: now),
    checked; the dimensions not given start in their initial state now."""
    for name in states:
        if name not in definition.dimensions:
            raise UnknownName("dimension", name, definition.dimensions)
    entries = {}
    for name, dimension in definition.dimensions.items():
        state, since = states.get(name, (dimension.initial, now))
        if state not in dimension.states:
            raise UnknownName(f"state of {name}", state, dimension.states)
        since = now if since is None else since
        if not _EPOCH <= since <= now:
            raise InvalidRequest(f"{name} {state} since {since.isoformat()}: a moment between 1970 and now")
        entries[name] = StateEntry(state, since, 1)
    return entries


def imported_customer(
    definition: Definition,
    customer_id: str,
    actor: Actor,
    now: datetime,
    states: Mapping[str, StateEntry],
    facts: Mapping[str, Any] | None = None,
    identities: Mapping[str, str] | None = None,
) -> Outcome:
    """A customer in the states it is in elsewhere (imported_states): its timers count from when it entered
    them, and the automatic transitions its facts call for follow."""
    blank = Snapshot(customer_id, definition.name, definition.version, 0, states, identities=dict(identities or {}))
    return decide(definition, blank, Import(facts or {}), actor, now)


@dataclass(frozen=True, slots=True)
class Fire(Command):
    """Apply an event, then whatever it emits and every automatic transition that becomes due.

    `evidence` completes checklist items first, in the same change: either the items are completed and
    the event applied, or nothing happens.
    """

    name: ClassVar[str] = "fire"
    event: str
    reason: str = ""
    evidence: tuple[Evidence, ...] = ()

    def apply(self, run: Run, actor: Actor) -> bool:
        run.check_fence(actor)
        for proof in self.evidence:
            run.complete(proof.checklist, proof.item, actor, proof.evidence)
        run.fire_event(self.event, actor, "caller", self.reason)
        return True


@dataclass(frozen=True, slots=True)
class UpdateFacts(Command):
    """Set (or, with None, unset) facts; scores are recomputed and automatic transitions fire."""

    name: ClassVar[str] = "facts"
    changes: Mapping[str, Any]
    reason: str = ""

    def apply(self, run: Run, actor: Actor) -> bool:
        run.require_write_access(actor)
        changed = run.set_facts(self.changes, actor)
        if not changed:
            return False
        run.record(actor, "facts", reason=self.reason, facts_changed=changed)
        run.recompute_scores()
        return True


@dataclass(frozen=True, slots=True)
class CompleteItem(Command):
    """Mark a checklist item done (by whom, when, with what evidence); automatic transitions may follow."""

    name: ClassVar[str] = "complete"
    checklist: str
    item: str
    evidence: str = ""

    def apply(self, run: Run, actor: Actor) -> bool:
        return run.complete(self.checklist, self.item, actor, self.evidence)


@dataclass(frozen=True, slots=True)
class ReopenItem(Command):
    name: ClassVar[str] = "reopen"
    checklist: str
    item: str
    reason: str = ""

    def apply(self, run: Run, actor: Actor) -> bool:
        return run.reopen(self.checklist, self.item, actor, self.reason)


@dataclass(frozen=True, slots=True)
class Claim(Command):
    """Take the customer for the actor with a lease and a new fence token, unless someone else holds it.

    The definition's claim event (e.g. start_follow_up) follows in the same change when it applies.
    A claim by the current holder renews its lease.
    """

    name: ClassVar[str] = "claim"

    def apply(self, run: Run, actor: Actor) -> bool:
        policy = _policy(run.definition)
        if run.snapshot.claim_active(run.now) and run.owner is not None:
            if run.owner != actor.id:
                raise ClaimConflict(run.owner, run.lease_until)
            run.lease_until = run.now + policy.protection
            run.record(actor, "claim", reason="renewed")
            return True
        for reason in run.queue_reasons(actor):
            raise PermissionDenied(reason.message)
        cooldown = run.former.get(actor.id)
        if cooldown is not None:
            raise ClaimRefused("COOLDOWN", f"{actor.id} lost this customer recently and may claim it again from "
                               f"{cooldown.isoformat()}", cooldown)  # fmt: skip
        if run.owner == actor.id:  # its own lapsed claim: a fresh one, with a fresh token
            run.owner = None
        run.set_owner(actor.id)
        run.record(actor, "claim", reason=f"fence token {run.fence}")
        run.follow_up_event(policy.claim_event, actor)
        return True


@dataclass(frozen=True, slots=True)
class Renew(Command):
    """Extend the holder's lease; the write must carry the holder's current fence token."""

    name: ClassVar[str] = "renew"

    def apply(self, run: Run, actor: Actor) -> bool:
        policy = _policy(run.definition)
        run.check_fence(_with_token(actor))
        run.lease_until = run.now + policy.protection
        run.record(actor, "renew")
        return True


@dataclass(frozen=True, slots=True)
class Release(Command):
    """Give the customer back to the pool; the write must carry the holder's current fence token."""

    name: ClassVar[str] = "release"

    def apply(self, run: Run, actor: Actor) -> bool:
        policy = _policy(run.definition)
        run.check_fence(_with_token(actor))
        run.record(actor, "release")
        run.follow_up_event(policy.release_event, actor)  # while the actor still holds it
        run.set_owner(None)
        return True


@dataclass(frozen=True, slots=True)
class Reassign(Command):
    """A manager's audited override: the customer goes to `owner` (with a new lease and fence token)."""

    name: ClassVar[str] = "reassign"
    owner: str
    reason: str

    def apply(self, run: Run, actor: Actor) -> bool:
        _require_manager(run, actor, "reassigning a customer", "a reassignment")
        _require_reason(self.reason, "a reassignment")
        if self.owner != self.owner.strip() or not self.owner.isprintable() or not 1 <= len(self.owner) <= 128:
            raise InvalidRequest("a reassignment names the new owner (1-128 printable characters, no edge spaces)")
        if self.owner == SYSTEM.id:
            raise InvalidRequest("the new owner cannot be the system actor: it is the engine's own timers and rules")
        previous = run.owner or "no one"
        if run.owner == self.owner:  # kept with its owner: a fresh lease and token, and no cooldown to wait out
            run.owner = None
        run.set_owner(self.owner)
        run.record(actor, "reassign", reason=f"{previous} → {self.owner}: {self.reason}")
        return True


@dataclass(frozen=True, slots=True)
class Override(Command):
    """A manager's audited correction: `dimension` is put in `state` directly, bypassing guards, roles,
    checklists and effects; the history records it as an override with its reason. The new stay's timers
    count from now, and automatic transitions that the facts call for follow as usual."""

    name: ClassVar[str] = "override"
    dimension: str
    state: str
    reason: str

    def apply(self, run: Run, actor: Actor) -> bool:
        _require_manager(run, actor, "overriding a state", "an override")
        _require_reason(self.reason, "an override")
        dimension = run.definition.dimensions.get(self.dimension)
        if dimension is None:
            raise UnknownName("dimension", self.dimension, run.definition.dimensions)
        if self.state not in dimension.states:
            raise UnknownName(f"state of {dimension.name}", self.state, dimension.states)
        before = run.states[dimension.name].state
        if before == self.state:
            raise InvalidRequest(f"{dimension.name} is already {self.state}: there is nothing to correct")
        run.enter(dimension.name, self.state)
        run.record(actor, "override", event="override", dimension=dimension.name, before=before, after=self.state,
                   reason=self.reason)  # fmt: skip
        return True


def _require_manager(run: Run, actor: Actor, doing: str, change: str) -> None:
    """Audited corrections are for managers: roles that see locked customers, or a tenant admin."""
    if actor.is_system or not (ADMIN_ROLE in actor.roles or sees_locked(run.definition, None, actor)):
        raise PermissionDenied(f"{doing} needs a manager's role (one that sees locked customers) or admin: "
                               f"{change} bypasses the rules")  # fmt: skip


def _require_reason(reason: str, change: str) -> None:
    if not reason.strip():
        raise InvalidRequest(f"{change} needs a reason: it is kept in the history")


@dataclass(frozen=True, slots=True)
class FireTimer(Command):
    """Fire a due timer as the system, if it still belongs to the customer's current state entry.

    StaleTimer when the customer has no such timer any more, or when it is not due yet (its date moved).
    """

    name: ClassVar[str] = "timer"
    key: str

    def apply(self, run: Run, actor: Actor) -> bool:
        timer = find_timer(run.definition, run.snapshot, self.key)
        customer = run.snapshot.customer_id
        if timer is None:
            raise StaleTimer(f"timer {self.key} no longer applies to customer {customer}")
        if timer.due > run.now:
            raise StaleTimer(f"timer {self.key} ({timer.event}) is not due before {timer.due.isoformat()}")
        run.recompute_scores()  # time has passed: scores that read the clock (RFM recency) move on
        reminder = run.definition.dimensions[timer.dimension].states[timer.state].timers[timer.position].effect
        run.fired.add(timer.key)  # once per stay: a transition that stays in the state does not re-arm it
        if reminder is None:
            run.fire_event(timer.event, SYSTEM, "timer", f"timer due {timer.due.isoformat()}")
        else:  # a reminder raises its task or alert, and moves nothing
            run.apply_effect(reminder, timer.dimension, "", timer.state, SYSTEM)
            run.record(SYSTEM, "timer", dimension=timer.dimension, reason=f"reminder {reminder.name}")
        return True


def _policy(definition: Definition) -> ClaimPolicy:
    if definition.claims is None:
        raise InvalidRequest(f"definition {definition.key} has no claims section: its customers are not claimed")
    return definition.claims


def _with_token(actor: Actor) -> Actor:
    if actor.fence_token is None:
        raise InvalidRequest("renewing or releasing a claim needs the claim's fence token")
    return actor


# -- reads ----------------------------------------------------------------------------------------------------


def list_transitions(definition: Definition, snapshot: Snapshot, actor: Actor, now: datetime) -> list[TransitionOption]:
    """Every transition of every dimension, each with all the reasons it is blocked for this actor now (as the
    actor may read them: see Run.reasons)."""
    run = Run(definition, snapshot, now)
    return [
        TransitionOption(
            t.dimension, t.event, t.sources, t.target, t.auto, t.label, tuple(run.reasons(t, actor)), tuple(t.reasons)
        )
        for dimension in definition.dimensions.values()
        for t in dimension.transitions
    ]


RULES = frozenset({ReasonKind.GUARD, ReasonKind.FACT_UNSET, ReasonKind.CHECKLIST, ReasonKind.REQUIRED_FACT})


def blocked_by_rules(
    definition: Definition, snapshot: Snapshot, event: str, actor: Actor, now: datetime
) -> list[Transition]:
    """The transitions of `event` out of the customer's current states that its rules refuse now (a guard, a
    checklist, a required fact), as opposed to its state or the actor: for the review report."""
    run = Run(definition, snapshot, now)
    return [
        t
        for t in definition.event_transitions.get(event, ())
        if snapshot.states[t.dimension].state in t.sources and any(r.kind in RULES for r in run.verdict(t, actor))
    ]


@dataclass(frozen=True)
class Denial:
    """A restriction that refuses an action, and why, in words for the person the calling system serves."""

    restriction: str
    kind: RestrictionKind
    message: str


def authorize(
    definition: Definition, snapshot: Snapshot, action: str, attributes: Mapping[str, Any], *, hidden: bool = False
) -> tuple[Denial, ...]:
    """Every restriction the customer is under that refuses `action` with these attributes (none: allowed).
    `hidden` leaves the restrictions' values out of the messages (the caller may not see the customer)."""
    if action not in definition.actions:
        raise UnknownName("action", action, definition.actions)
    denials = []
    for name, value in snapshot.restrictions.items():
        spec = definition.restrictions.get(name)
        if spec is None or action not in spec.actions:
            continue
        given, what = attributes.get(spec.attribute), f"{spec.label.zh} / {spec.label.en}"
        if spec.kind is RestrictionKind.LIMIT:
            limit = "the limit" if hidden else f"the limit of {value:g}"
            if isinstance(given, bool) or not isinstance(given, int | float) or math.isnan(given):
                message = f"{action} needs its {spec.attribute} (a number) to be checked against {limit} ({what})"
            elif given > value:
                message = f"{action} of {given:g} exceeds {limit} ({what})"
            else:
                continue
        elif spec.kind is RestrictionKind.VERIFICATION:
            if given is True:
                continue
            message = f"{action} needs {spec.attribute} = true: a second verification is required ({what})"
        else:
            message = f"{action} is refused while the customer is under {what}"
        denials.append(Denial(name, spec.kind, message))
    return tuple(denials)


def is_hidden(definition: Definition, snapshot: Snapshot, actor: Actor) -> bool:
    """Whether the customer's details are hidden from `actor`: it is locked, and not to them."""
    return hidden_from(definition, snapshot.states, snapshot.owner, actor)


def view(definition: Definition, snapshot: Snapshot, actor: Actor) -> Snapshot:
    """The customer as `actor` may see it: while it is locked, others see its states and owner only."""
    if not is_hidden(definition, snapshot, actor):
        return snapshot
    return snapshot._replace(
        facts={}, scores={}, checklists={}, restrictions={}, work=(), former={}, queue=None, identities={},
        redacted=True,
    )  # fmt: skip


def redacted_history(entries: Sequence[HistoryEntry]) -> list[HistoryEntry]:
    """History as a caller who may not see the customer's details reads it: the moves, not the facts written
    nor the free-text reasons given."""
    return [entry._replace(facts_changed={}, reason="") for entry in entries]


def redacted_effects(effects: Sequence[EffectRecord]) -> list[EffectRecord]:
    """Effects as a caller who may not see the customer's details reads them: which restrictions were set,
    not their values (a limit is the customer's own)."""
    return [
        e._replace(detail={"restricted": sorted(e.detail)}) if e.kind == EffectKind.RESTRICT.value else e
        for e in effects
    ]


def find_timer(definition: Definition, snapshot: Snapshot, key: str) -> DueTimer | None:
    """The snapshot's timer with this key, or None when its state entry has no such timer (any more)."""
    dimension = key.partition(":")[0]
    if dimension not in snapshot.states:
        return None
    return next((t for t in timers(definition, snapshot, (dimension,)) if t.key == key), None)


def lock_holder(definition: Definition, snapshot: Snapshot) -> tuple[str, str] | None:
    """The (dimension, state) that locks the customer, or None when it is not locked."""
    return locked_state(definition, snapshot.states)


def may_see_locked(definition: Definition, snapshot: Snapshot, actor: Actor) -> bool:
    return sees_locked(definition, snapshot.owner, actor)
