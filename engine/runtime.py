"""Decisions: which transitions are open and why the others are not, and what a command changes.

Every command works on a private copy of the snapshot (`_Run`) and returns a new snapshot, the effects and
the history entries; nothing is stored here. The compiled machines are shared and only read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from .clock import Clock
from .definition import Definition
from .errors import (
    AutomationCycle,
    ClaimConflict,
    ClaimRefused,
    CustomerLocked,
    FencedOut,
    InvalidFactValue,
    InvalidRequest,
    PermissionDenied,
    Reason,
    ReasonKind,
    StaleTimer,
    TransitionNotAllowed,
    UnknownName,
)
from .facts import coerce, to_cel, to_json
from .model import ClaimPolicy, Effect, EffectKind, Label, Transition
from .snapshot import (
    SYSTEM,
    Actor,
    ChecklistMark,
    DueTimer,
    EffectRecord,
    HistoryEntry,
    Outcome,
    Snapshot,
    StateEntry,
    WorkItem,
)

MAX_STEPS = 32  # transitions one command may cause (its own, emitted and automatic) before it is a cycle


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

    @property
    def allowed(self) -> bool:
        return not self.reasons


class _Cursor:
    """The per-request model handed to a shared `transitions` machine: nothing but a state."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


def new_customer(
    definition: Definition,
    customer_id: str,
    clock: Clock,
    actor: Actor = SYSTEM,
    facts: Mapping[str, Any] | None = None,
) -> Outcome:
    """A customer in the initial state of every dimension, with its first facts and automation applied."""
    now = clock.now()
    states = {name: StateEntry(d.initial, now, 1) for name, d in definition.dimensions.items()}
    blank = Snapshot(customer_id, definition.name, definition.version, 0, states)
    run = _Run(definition, blank, now)
    run.everything_changed = True
    changed = run.set_facts(facts or {})
    run.record(actor, "create", facts_changed=changed)
    run.recompute_scores()
    run.settle()
    return run.outcome()


def list_transitions(definition: Definition, snapshot: Snapshot, actor: Actor, clock: Clock) -> list[TransitionOption]:
    """Every transition of every dimension, each with all the reasons it is blocked for this actor now."""
    run = _Run(definition, snapshot, clock.now())
    return [
        TransitionOption(t.dimension, t.event, t.sources, t.target, t.auto, t.label, tuple(run.reasons(t, actor)))
        for dimension in definition.dimensions.values()
        for t in dimension.transitions
    ]


def fire(
    definition: Definition,
    snapshot: Snapshot,
    event: str,
    actor: Actor,
    clock: Clock,
    reason: str = "",
    evidence: Sequence[tuple[str, str, str]] = (),
) -> Outcome:
    """Apply an event, then whatever it emits and every automatic transition that becomes due.

    `evidence` (checklist, item, evidence) completes checklist items first, in the same change: either
    the items are completed and the event applied, or nothing happens.
    """
    run = _Run(definition, snapshot, clock.now())
    run.check_fence(actor)
    for checklist, item, proof in evidence:
        run.complete(checklist, item, actor, proof)
    run.fire_event(event, actor, "caller", reason)
    run.settle()
    return run.outcome()


def update_facts(
    definition: Definition,
    snapshot: Snapshot,
    changes: Mapping[str, Any],
    actor: Actor,
    clock: Clock,
    reason: str = "",
) -> Outcome:
    """Set (or, with None, unset) facts; scores are recomputed and automatic transitions fire."""
    run = _Run(definition, snapshot, clock.now())
    run.require_write_access(actor)
    changed = run.set_facts(changes)
    if not changed:
        return Outcome(snapshot)
    run.record(actor, "facts", reason=reason, facts_changed=changed)
    run.recompute_scores()
    run.settle()
    return run.outcome()


def complete_item(
    definition: Definition,
    snapshot: Snapshot,
    checklist: str,
    item: str,
    actor: Actor,
    clock: Clock,
    evidence: str = "",
) -> Outcome:
    """Mark a checklist item done (by whom, when, with what evidence); automatic transitions may follow."""
    run = _Run(definition, snapshot, clock.now())
    if not run.complete(checklist, item, actor, evidence):
        return Outcome(snapshot)
    run.settle()
    return run.outcome()


def reopen_item(
    definition: Definition,
    snapshot: Snapshot,
    checklist: str,
    item: str,
    actor: Actor,
    clock: Clock,
    reason: str = "",
) -> Outcome:
    run = _Run(definition, snapshot, clock.now())
    if not run.reopen(checklist, item, actor, reason):
        return Outcome(snapshot)
    run.settle()
    return run.outcome()


def claim(definition: Definition, snapshot: Snapshot, actor: Actor, clock: Clock) -> Outcome:
    """Take the customer for `actor` with a lease and a new fence token, unless someone else holds it.

    The definition's claim event (e.g. start_follow_up) follows in the same change when it applies.
    A claim by the current holder renews its lease.
    """
    policy = _policy(definition)
    run = _Run(definition, snapshot, clock.now())
    if snapshot.claim_active(run.now) and run.owner is not None:
        if run.owner != actor.id:
            raise ClaimConflict(run.owner, run.lease_until)
        run.lease_until = run.now + policy.protection
        run.record(actor, "claim", reason="renewed")
        return run.outcome()
    cooldown = run.former.get(actor.id)
    if cooldown is not None:
        raise ClaimRefused("COOLDOWN", f"{actor.id} lost this customer recently and may claim it again from "
                           f"{cooldown.isoformat()}", cooldown)  # fmt: skip
    if run.owner == actor.id:  # its own lapsed claim: a fresh one, with a fresh token
        run.owner = None
    run.set_owner(actor.id)
    run.record(actor, "claim", reason=f"fence token {run.fence}")
    run.follow_up_event(policy.claim_event, actor)
    run.settle()
    return run.outcome()


def renew(definition: Definition, snapshot: Snapshot, actor: Actor, clock: Clock) -> Outcome:
    """Extend the holder's lease; the write must carry the holder's current fence token."""
    policy = _policy(definition)
    run = _Run(definition, snapshot, clock.now())
    run.check_fence(_with_token(actor))
    run.lease_until = run.now + policy.protection
    run.record(actor, "renew")
    return run.outcome()


def release(definition: Definition, snapshot: Snapshot, actor: Actor, clock: Clock) -> Outcome:
    """Give the customer back to the pool; the write must carry the holder's current fence token."""
    policy = _policy(definition)
    run = _Run(definition, snapshot, clock.now())
    run.check_fence(_with_token(actor))
    run.record(actor, "release")
    run.follow_up_event(policy.release_event, actor)  # while the actor still holds it
    run.set_owner(None)
    run.settle()
    return run.outcome()


def reassign(
    definition: Definition, snapshot: Snapshot, manager: Actor, owner: str, reason: str, clock: Clock
) -> Outcome:
    """A manager's audited override: the customer goes to `owner` (with a new lease and fence token)."""
    run = _Run(definition, snapshot, clock.now())
    if manager.is_system or not _sees_locked(definition, None, manager):
        raise PermissionDenied("reassigning a customer needs a role that sees locked customers (a manager)")
    if not reason.strip():
        raise InvalidRequest("a reassignment needs a reason: it is kept in the history")
    if not owner.strip():
        raise InvalidRequest("a reassignment names the new owner")
    previous = run.owner or "no one"
    run.set_owner(owner)
    run.record(manager, "reassign", reason=f"{previous} → {owner}: {reason}")
    run.settle()
    return run.outcome()


def view(definition: Definition, snapshot: Snapshot, actor: Actor) -> Snapshot:
    """The customer as `actor` may see it: while it is locked, others see its states and owner only."""
    if lock_holder(definition, snapshot) is None or may_see_locked(definition, snapshot, actor):
        return snapshot
    return replace(
        snapshot, facts={}, scores={}, checklists={}, restrictions={}, work=(), former={}, queue=None, redacted=True
    )


def _policy(definition: Definition) -> ClaimPolicy:
    if definition.claims is None:
        raise InvalidRequest(f"definition {definition.key} has no claims section: its customers are not claimed")
    return definition.claims


def _with_token(actor: Actor) -> Actor:
    if actor.fence_token is None:
        raise InvalidRequest("renewing or releasing a claim needs the claim's fence token")
    return actor


def timers(definition: Definition, snapshot: Snapshot) -> list[DueTimer]:
    """The timers this snapshot should have, soonest first; a timer on an unset date fact does not exist."""
    found = []
    for name, entry in snapshot.states.items():
        for timer in definition.dimensions[name].states[entry.state].timers:
            if timer.delay is not None:
                due = entry.since + timer.delay
            else:
                assert timer.fact is not None
                fact = definition.facts[timer.fact]
                value = snapshot.facts.get(timer.fact, fact.default)
                if value is None:
                    continue
                due = to_cel(fact.type, value, definition.timezone) + timer.offset
            due_timer = DueTimer(name, entry.state, entry.seq, timer.index, timer.event, due)
            if due_timer.key not in snapshot.fired:
                found.append(due_timer)
    return sorted(found, key=lambda t: (t.due, t.key))


def find_timer(definition: Definition, snapshot: Snapshot, key: str) -> DueTimer | None:
    """The snapshot's timer with this key, or None when its state entry has no such timer (any more)."""
    return next((t for t in timers(definition, snapshot) if t.key == key), None)


def fire_timer(definition: Definition, snapshot: Snapshot, timer: DueTimer, clock: Clock) -> Outcome:
    """Fire a due timer as the system, if it still belongs to the customer's current state entry."""
    now = clock.now()
    if find_timer(definition, snapshot, timer.key) != timer:
        raise StaleTimer(f"timer {timer.key} ({timer.event}) no longer applies to customer {snapshot.customer_id}")
    if timer.due > now:
        raise StaleTimer(f"timer {timer.key} ({timer.event}) is not due before {timer.due.isoformat()}")
    run = _Run(definition, snapshot, now)
    run.recompute_scores()  # time has passed: scores that read the clock (RFM recency) move on
    reminder = definition.dimensions[timer.dimension].states[timer.state].timers[timer.index].effect
    if reminder is None:
        run.fire_event(timer.event, SYSTEM, "timer", f"timer due {timer.due.isoformat()}")
    else:  # a reminder raises its task or alert once per state entry, and moves nothing
        run.fired.add(timer.key)
        run._apply(reminder, timer.dimension, "", timer.state, SYSTEM)
        run.record(SYSTEM, "timer", dimension=timer.dimension, reason=f"reminder {reminder.name}")
    run.settle()
    return run.outcome()


def lock_holder(definition: Definition, snapshot: Snapshot) -> tuple[str, str] | None:
    """The (dimension, state) that locks the customer, or None when it is not locked."""
    return _locked_state(definition, snapshot.states)


def may_see_locked(definition: Definition, snapshot: Snapshot, actor: Actor) -> bool:
    """The owner, the system and roles with `sees_locked` see and change a locked customer."""
    return _sees_locked(definition, snapshot.owner, actor)


def _locked_state(definition: Definition, states: Mapping[str, StateEntry]) -> tuple[str, str] | None:
    for name, state in definition.locked_states:
        if states[name].state == state:
            return name, state
    return None


def _sees_locked(definition: Definition, owner: str | None, actor: Actor) -> bool:
    if actor.is_system or (owner is not None and actor.id == owner):
        return True
    return any(definition.roles[r].sees_locked for r in actor.roles if r in definition.roles)


_UNKNOWN = object()


class _Names:
    """Facts (or their defaults), scores, `now` and `states` as CEL sees them, converted on first use."""

    __slots__ = ("cache", "run")

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        value = self.cache.get(name, _UNKNOWN)
        if value is _UNKNOWN:
            value = self.cache[name] = self.run.cel_value(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        value = self.cache.get(name, _UNKNOWN)  # type: ignore[call-overload]
        if value is _UNKNOWN:
            value = self.cache[str(name)] = self.run.cel_value(str(name))
        return value is not None

    def forget(self, name: str) -> None:
        self.cache.pop(name, None)


class _Run:
    """One command's working copy of a snapshot.

    It also records what the command changed, so that only automatic transitions whose inputs changed
    (or that read the clock) are evaluated again: a stored snapshot is always settled.
    """

    def __init__(self, definition: Definition, snapshot: Snapshot, now: datetime) -> None:
        self.definition = definition
        self.snapshot = snapshot
        self.now = now
        self.version = snapshot.version + 1
        self.states = dict(snapshot.states)
        self.facts = dict(snapshot.facts)
        self.scores = dict(snapshot.scores)
        self.checklists = {name: dict(marks) for name, marks in snapshot.checklists.items()}
        self.owner = snapshot.owner
        self.queue = snapshot.queue
        self.restrictions = dict(snapshot.restrictions)
        self.work = list(snapshot.work)
        self.lease_until = snapshot.lease_until
        self.fence = snapshot.fence
        self.former = {rep: until for rep, until in snapshot.former.items() if until > now}
        self.fired = set(snapshot.fired)
        self.effects: list[EffectRecord] = []
        self.history: list[HistoryEntry] = []
        self.steps: list[tuple[Transition, str]] = []
        self.names = _Names(self)
        self.changed: set[str] = set()  # input names changed by this command (see Definition.inputs)
        self.everything_changed = False

    # -- reading ------------------------------------------------------------------------------------

    def cel_value(self, name: str) -> Any:
        if name == "now":
            return self.now
        if name == "states":
            return {dimension: entry.state for dimension, entry in self.states.items()}
        if name in self.scores:
            return self.scores[name]
        fact = self.definition.facts.get(name)
        if fact is None:
            return None
        value = self.facts.get(name, fact.default)
        return None if value is None else to_cel(fact.type, value, self.definition.timezone)

    def passes(self, transition: Transition, actor: Actor) -> bool:
        """The fast yes/no of `reasons(...) == []`, without building any message."""
        if self.states[transition.dimension].state not in transition.sources:
            return False
        if not actor.is_system and (
            (transition.auto and not transition.roles)
            or (transition.roles and not transition.roles & actor.roles)
            or (self._lock() and not self._may_see_locked(actor))
            or self._claimed_by_other(actor)
        ):
            return False
        names = self.names
        expr = transition.when
        if expr is not None:
            if not all(name in names for name in expr.names):
                return False
            try:
                if expr.evaluate(names) is not True:
                    return False
            except Exception:  # the CEL runtime raises several types for bad data
                return False
        if transition.checklist is not None:
            done = self.checklists.get(transition.checklist, {})
            if any(item not in done for item in self.definition.checklists[transition.checklist].items):
                return False
        requires = self.definition.dimensions[transition.dimension].states[transition.target].requires
        return all(fact in names for fact in requires)

    def reasons(self, transition: Transition, actor: Actor) -> list[Reason]:
        found: list[Reason] = []
        current = self.states[transition.dimension].state
        if current not in transition.sources:
            starts = ", ".join(sorted(transition.sources))
            found.append(Reason(ReasonKind.WRONG_STATE, current, f"{transition.dimension} is {current}, not {starts}"))
        if not actor.is_system:
            found += self._actor_reasons(transition, actor)
        found += self._guard_reasons(transition)
        found += self._checklist_reasons(transition)
        target = self.definition.dimensions[transition.dimension].states[transition.target]
        for fact in target.requires:
            if fact not in self.names:
                found.append(Reason(ReasonKind.REQUIRED_FACT, fact, f"{transition.target} requires fact {fact}"))
        return found

    def _actor_reasons(self, transition: Transition, actor: Actor) -> list[Reason]:
        found = []
        if transition.auto and not transition.roles:
            found.append(Reason(ReasonKind.ROLE, "system", "fires automatically; no one fires it by hand"))
        elif transition.roles and not transition.roles & actor.roles:
            needed = ", ".join(sorted(transition.roles))
            found.append(Reason(ReasonKind.ROLE, needed, f"needs role {needed}"))
        locked = self._lock()
        if locked and not self._may_see_locked(actor):
            dimension, state = locked
            holder = self.owner or "no one"
            found.append(Reason(ReasonKind.LOCKED, holder, f"locked by {holder} while {dimension} is {state}"))
        elif self._claimed_by_other(actor):
            until = self.lease_until.isoformat() if self.lease_until else "released"
            found.append(Reason(ReasonKind.LOCKED, str(self.owner), f"claimed by {self.owner} until {until}"))
        return found

    def _claimed_by_other(self, actor: Actor) -> bool:
        """In a definition with claims, a customer someone else holds is theirs (and their managers') alone."""
        if self.definition.claims is None or self.owner is None or self.owner == actor.id:
            return False
        return self._claim_active() and not self._may_see_locked(actor)

    def _claim_active(self) -> bool:
        return self.owner is not None and (self.lease_until is None or self.lease_until > self.now)

    def _guard_reasons(self, transition: Transition) -> list[Reason]:
        expr = transition.when
        if expr is None:
            return []
        names = self.names
        missing = [name for name in expr.names if name not in names]
        if missing:
            return [Reason(ReasonKind.FACT_UNSET, name, f"{self._why_unset(name)} ({expr.source})") for name in missing]
        try:
            passed = expr.evaluate(names)
        except Exception as error:  # the CEL runtime raises several types for bad data (e.g. division by zero)
            return [Reason(ReasonKind.GUARD, expr.source, f"{expr.source} cannot be evaluated: {error}")]
        if passed is True:
            return []
        values = ", ".join(f"{n} = {_show(names[n])}" for n in expr.names if n not in ("now", "states"))
        return [Reason(ReasonKind.GUARD, expr.source, f"{expr.source} is false" + (f" ({values})" if values else ""))]

    def _why_unset(self, name: str) -> str:
        score = self.definition.scores.get(name)
        if score is None:
            return f"{name} is not set"
        inputs = [self._why_unset(n) for n in score.expr.names if n not in self.names]
        return f"score {name} cannot be computed: " + ("; ".join(inputs) or "its expression fails")

    def _checklist_reasons(self, transition: Transition) -> list[Reason]:
        if transition.checklist is None:
            return []
        checklist = self.definition.checklists[transition.checklist]
        done = self.checklists.get(checklist.name, {})
        return [
            Reason(
                ReasonKind.CHECKLIST,
                f"{checklist.name}.{item}",
                f"checklist item {checklist.name}.{item} is open",
            )
            for item in checklist.items
            if item not in done
        ]

    def _lock(self) -> tuple[str, str] | None:
        return _locked_state(self.definition, self.states)

    def _may_see_locked(self, actor: Actor) -> bool:
        return _sees_locked(self.definition, self.owner, actor)

    # -- changing -----------------------------------------------------------------------------------

    def require_write_access(self, actor: Actor) -> None:
        self.check_fence(actor)
        locked = self._lock()
        if locked and not self._may_see_locked(actor):
            raise CustomerLocked(self.owner, *locked)
        if self._claimed_by_other(actor):
            raise ClaimConflict(str(self.owner), self.lease_until)

    def check_fence(self, actor: Actor) -> None:
        """A write that carries a fence token is made on behalf of a claim: that claim must still hold."""
        token = actor.fence_token
        if token is None:
            return
        active = self._claim_active()
        if token != self.fence or self.owner != actor.id or not active:
            raise FencedOut(token, self.fence, self.owner if active else None)

    def set_owner(self, owner: str | None) -> None:
        """Change hands: a new owner gets the next fence token and, with claims, a lease; the previous
        owner starts its cooldown."""
        if owner == self.owner:
            return
        policy = self.definition.claims
        if self.owner is not None and policy is not None and policy.cooldown:
            self.former[self.owner] = self.now + policy.cooldown
        self.owner = owner
        self.lease_until = self.now + policy.protection if owner is not None and policy is not None else None
        if owner is not None:
            self.fence += 1

    def check_item(self, checklist: str, item: str) -> None:
        spec = self.definition.checklists.get(checklist)
        if spec is None:
            raise UnknownName("checklist", checklist, self.definition.checklists)
        if item not in spec.items:
            raise UnknownName(f"item of checklist {checklist}", item, spec.items)

    def complete(self, checklist: str, item: str, actor: Actor, evidence: str) -> bool:
        """Mark a checklist item done; False when it already was."""
        self.check_item(checklist, item)
        self.require_write_access(actor)
        if item in self.checklists.get(checklist, {}):
            return False
        self.mark_item(checklist, item, ChecklistMark(actor.id, self.now, evidence))
        self.record(actor, "checklist", event=f"complete {checklist}.{item}", reason=evidence)
        return True

    def reopen(self, checklist: str, item: str, actor: Actor, reason: str) -> bool:
        """Mark a checklist item open again; False when it was open."""
        self.check_item(checklist, item)
        self.require_write_access(actor)
        if item not in self.checklists.get(checklist, {}):
            return False
        self.mark_item(checklist, item, None)
        self.record(actor, "checklist", event=f"reopen {checklist}.{item}", reason=reason)
        return True

    def mark_item(self, checklist: str, item: str, mark: ChecklistMark | None) -> None:
        marks = self.checklists.setdefault(checklist, {})
        if mark is None:
            marks.pop(item, None)
        else:
            marks[item] = mark
        self.changed.add(f"checklist:{checklist}")

    def set_facts(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Apply fact values; returns the changed ones in JSON form (None for unset)."""
        changed: dict[str, Any] = {}
        for name, raw in changes.items():
            fact = self.definition.facts.get(name)
            if fact is None:
                if name in self.definition.scores:
                    raise InvalidFactValue(name, "is a score computed by the engine and cannot be set")
                raise UnknownName("fact", name, self.definition.facts)
            if raw is None:
                if self.facts.pop(name, None) is not None:
                    changed[name] = None
                continue
            try:
                value = coerce(fact.type, raw)
            except ValueError as error:
                raise InvalidFactValue(name, str(error)) from None
            if self.facts.get(name) != value:
                self.facts[name] = value
                changed[name] = to_json(fact.type, value)
        for name in changed:
            self.names.forget(name)
        self.changed.update(changed)
        return changed

    def recompute_scores(self) -> None:
        """Scores follow fact changes and timers (a weekly review timer refreshes time-based ones)."""
        for score in self.definition.scores.values():
            value = None
            if all(name in self.names for name in score.expr.names):
                try:
                    value = float(score.expr.evaluate(self.names))
                except Exception:  # a score that cannot be computed from the current facts is absent
                    value = None
            if value != self.scores.get(score.name):
                if value is None:
                    del self.scores[score.name]
                else:
                    self.scores[score.name] = value
                self.names.forget(score.name)
                self.changed.add(score.name)

    def follow_up_event(self, event: str | None, actor: Actor) -> None:
        """Fire a claim's or release's companion event, if the definition names one and it applies now."""
        for transition in self.definition.event_transitions.get(event or "", ()):
            if self.passes(transition, actor):
                self.take(transition, actor, "caller")
                return

    def fire_event(self, event: str, actor: Actor, trigger: str, reason: str = "") -> None:
        candidates = self.definition.event_transitions.get(event)
        if not candidates:
            raise UnknownName("event", event, self.definition.events)
        for transition in candidates:
            if self.passes(transition, actor):
                self.take(transition, actor, trigger, reason)
                return
        verdicts = [self.reasons(t, actor) for t in candidates]
        in_state = [r for rs in verdicts if all(x.kind is not ReasonKind.WRONG_STATE for x in rs) for r in rs]
        raise TransitionNotAllowed(event, in_state or [r for rs in verdicts for r in rs])

    def take(self, transition: Transition, actor: Actor, trigger: str, reason: str = "") -> None:
        dimension = transition.dimension
        before = self.states[dimension].state
        cursor = _Cursor(before)
        self.definition.machines[dimension].events[transition.event].trigger(cursor, chosen=transition)
        self.steps.append((transition, before))
        if len(self.steps) > MAX_STEPS:
            raise AutomationCycle([f"{t.dimension}: {b} → {t.target} ({t.event})" for t, b in self.steps])
        self.states[dimension] = StateEntry(cursor.state, self.now, self.version)
        if self.work:  # tasks and alerts close when their dimension leaves the state that raised them
            self.work = [w for w in self.work if w.dimension != dimension or w.state == cursor.state]
        if self.fired:  # reminders belong to the state entry that just ended
            self.fired = {key for key in self.fired if not key.startswith(f"{dimension}:")}
        self.names.forget("states")
        self.changed.update(("states", f"dimension:{dimension}"))
        self.record(actor, trigger, event=transition.event, dimension=dimension, before=before,
                    after=cursor.state, reason=reason)  # fmt: skip
        emitted = [effect.name for effect in transition.effects if effect.kind is EffectKind.EMIT]
        for effect in transition.effects:
            self._apply(effect, dimension, transition.event, transition.target, actor)
        for event in emitted:  # it moves the dimension it applies to, if it can; otherwise it is ignored
            follower = next(
                (t for t in self.definition.event_transitions.get(event, ()) if self.passes(t, SYSTEM)), None
            )
            if follower is not None:
                self.take(follower, SYSTEM, "emit", f"emitted by {transition.event}")

    def _apply(self, effect: Effect, dimension: str, event: str, state: str, actor: Actor) -> None:
        """Carry out one effect of `event`, which left `dimension` in `state`."""
        detail: dict[str, Any] = {}
        if effect.kind is EffectKind.ASSIGN:
            if effect.name:
                self.queue = effect.name
                self.set_owner(None)
                detail = {"queue": effect.name}
            else:
                self.set_owner(None if effect.owner == "none" or actor.is_system else actor.id)
                detail = {"owner": self.owner}
        elif effect.kind is EffectKind.RESTRICT:
            self.restrictions.update(effect.values)
            detail = dict(effect.values)
        elif effect.kind is EffectKind.LIFT:
            for name in effect.names:
                self.restrictions.pop(name, None)
            detail = {"lifted": list(effect.names)}
        elif effect.kind is EffectKind.EMIT:
            detail = {"event": effect.name}
        else:
            due = self.now + effect.due if effect.due is not None else None
            detail = {"name": effect.name, "role": effect.role}
            if due is not None:
                detail["due"] = due.isoformat()
            if effect.severity:
                detail["severity"] = effect.severity
            item = WorkItem(effect.kind.value, effect.name, effect.role, dimension, state, event, self.now, due,
                            effect.severity)  # fmt: skip
            self.work = [w for w in self.work if (w.kind, w.name) != (item.kind, item.name)] + [item]
        self.effects.append(EffectRecord(effect.kind.value, dimension, event, detail))

    def settle(self) -> None:
        """Fire automatic transitions until none applies (a fixed point), bounded by MAX_STEPS.

        Only transitions that read the clock, or whose inputs this command changed, can have become
        true: the snapshot this command started from was settled. The first in definition order fires.
        """
        while True:
            candidates = self._candidates()
            fired = next((t for t in candidates if self.passes(t, SYSTEM)), None)
            if fired is None:
                return
            self.take(fired, SYSTEM, "auto", "automatic")

    def _candidates(self) -> list[Transition]:
        """Automatic transitions out of the current states that may have become true, in definition order."""
        definition, states = self.definition, self.states
        pool = set(definition.automatic) if self.everything_changed else set(definition.clocked)
        for name in self.changed:
            pool.update(definition.watchers.get(name, ()))
        found = [t for t in pool if states[t.dimension].state in t.sources]
        found.sort(key=definition.rank.__getitem__)
        return found

    def record(
        self,
        actor: Actor,
        trigger: str,
        *,
        event: str = "",
        dimension: str = "",
        before: str = "",
        after: str = "",
        reason: str = "",
        facts_changed: Mapping[str, Any] | None = None,
    ) -> None:
        self.history.append(
            HistoryEntry(
                self.version,
                self.now,
                actor.id,
                trigger,
                event,
                dimension,
                before,
                after,
                reason,
                self.definition.version,
                dict(facts_changed or {}),
            )
        )

    def outcome(self) -> Outcome:
        snapshot = Snapshot(
            self.snapshot.customer_id,
            self.definition.name,
            self.definition.version,
            self.version,
            self.states,
            self.facts,
            self.scores,
            self.checklists,
            self.owner,
            self.queue,
            self.restrictions,
            tuple(self.work),
            self.lease_until,
            self.fence,
            self.former,
            frozenset(self.fired),
        )
        return Outcome(snapshot, tuple(self.effects), tuple(self.history))


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds() / 86400:g} days"
    return repr(value)
