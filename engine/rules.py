"""The rules: one command's working copy of a snapshot, the one evaluation of every transition, and what
firing one changes.

`Run.verdict` is the only place that decides whether a transition may fire: it yields every reason it may
not, so `passes` (its first reason, or none) and `reasons` (all of them) can never disagree. An event a
caller fires (or a transition emits) is offered to the definition's compiled `transitions` machines, whose
conditions call `passes` and whose chosen transition calls back `took` (see `_offer`); automatic transitions,
which the engine has already singled out, are checked with `passes` and taken directly (see `settle`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from transitions import EventData

from .definition import Definition
from .errors import (
    AutomationCycle,
    ClaimConflict,
    CustomerLocked,
    FencedOut,
    InvalidFactValue,
    InvalidRequest,
    PermissionDenied,
    Reason,
    ReasonKind,
    TransitionNotAllowed,
    UnknownName,
)
from .facts import MAX_CUSTOMER_TEXT, MAX_TEXT, coerce, text_size, to_cel, to_json, value_text_size
from .model import Effect, EffectKind, Transition
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
    timer_key,
)

MAX_STEPS = 32  # transitions one command may cause (its own, emitted and automatic) before it is a cycle


def timers(definition: Definition, snapshot: Snapshot, dimensions: Iterable[str] | None = None) -> list[DueTimer]:
    """The timers this snapshot should have (of the given dimensions, or all), soonest first, except those
    already fired in the current stay; a timer on unset date facts (and not on the state entry) does not exist."""
    found = []
    for name in definition.dimensions if dimensions is None else dimensions:
        entry = snapshot.states[name]
        for timer in definition.dimensions[name].states[entry.state].timers:
            if timer.delay is not None:
                due = later(definition, entry.since, timer.delay)
            else:
                moments = [entry.since] if timer.since_entry else []
                for fact_name in timer.facts:
                    fact = definition.facts[fact_name]
                    value = snapshot.facts.get(fact_name, fact.default)
                    if value is not None:
                        moments.append(to_cel(fact.type, value, definition.timezone))
                if not moments:
                    continue
                due = later(definition, max(moments), timer.offset)
            key = timer_key(name, entry.seq, timer.index)
            if key not in snapshot.fired:
                found.append(DueTimer(name, entry.state, entry.seq, timer.index, timer.event, due, key))
    return sorted(found, key=lambda t: (t.due, t.key))


def later(definition: Definition, moment: datetime, span: timedelta) -> datetime:
    """`span` after `moment` (before, when negative). Whole days count on the calendar of the definition's
    zone where its clocks change: the same local time that many days on, across a daylight saving change
    too; hours and minutes are elapsed time."""
    zone = definition.calendar_zone
    if zone is None or span.seconds or span.microseconds:
        return moment + span
    return (moment.astimezone(zone) + span).astimezone(UTC)


SHOWN_WHEN_HIDDEN = frozenset({ReasonKind.WRONG_STATE, ReasonKind.ROLE, ReasonKind.LOCKED})


def locked_state(definition: Definition, states: Mapping[str, StateEntry]) -> tuple[str, str] | None:
    """The (dimension, state) that locks a customer in these states, or None."""
    for name, state in definition.locked_states:
        if states[name].state == state:
            return name, state
    return None


def sees_locked(definition: Definition, owner: str | None, actor: Actor) -> bool:
    """The owner, the system and roles with `sees_locked` see and change a locked customer."""
    if actor.is_system or (owner is not None and actor.id == owner):
        return True
    return any(definition.roles[r].sees_locked for r in actor.roles if r in definition.roles)


def hidden_from(definition: Definition, states: Mapping[str, StateEntry], owner: str | None, actor: Actor) -> bool:
    """Whether a customer's details are hidden from `actor`: it is locked, and not to them."""
    return locked_state(definition, states) is not None and not sees_locked(definition, owner, actor)


_UNKNOWN = object()


class _Names:
    """Facts (or their defaults), scores, `now` and `states` as CEL sees them, converted on first use.

    It holds the run's own dictionaries (a run changes them in place), not the run: a run referring to its
    names and back would be a reference cycle, every command's run then left to the garbage collector."""

    __slots__ = ("cache", "definition", "facts", "now", "scores", "states")

    def __init__(self, definition: Definition, now: datetime, states: dict[str, StateEntry], facts: dict[str, Any],
                 scores: dict[str, float]) -> None:  # fmt: skip
        self.definition, self.now, self.states, self.facts, self.scores = definition, now, states, facts, scores
        self.cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        value = self.cache.get(name, _UNKNOWN)
        if value is _UNKNOWN:
            value = self.cache[name] = self._value(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        value = self.cache.get(name, _UNKNOWN)  # type: ignore[call-overload]
        if value is _UNKNOWN:
            value = self.cache[str(name)] = self._value(str(name))
        return value is not None

    def forget(self, name: str) -> None:
        self.cache.pop(name, None)

    def _value(self, name: str) -> Any:
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


class Run:
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
        self.names = _Names(definition, now, self.states, self.facts, self.scores)
        self.changed: set[str] = set()  # input names changed by this command (see Definition.inputs)
        self.everything_changed = False

    # -- reading ------------------------------------------------------------------------------------

    def passes(self, transition: Transition, actor: Actor) -> bool:
        """May the transition fire now? (the first reason of its verdict, or none; no message built past it)"""
        return next(self.verdict(transition, actor), None) is None

    def reasons(self, transition: Transition, actor: Actor) -> list[Reason]:
        """Every reason, as `actor` may read them: while the customer is locked to someone else, only those
        that reveal none of its details (no fact values, no checklist progress, no facts set or unset)."""
        found = list(self.verdict(transition, actor))
        if not hidden_from(self.definition, self.states, self.owner, actor):
            return found
        return [reason for reason in found if reason.kind in SHOWN_WHEN_HIDDEN]

    def verdict(self, transition: Transition, actor: Actor) -> Iterator[Reason]:
        """Every reason the transition may not fire now for `actor`, cheapest checks first."""
        current = self.states[transition.dimension].state
        if current not in transition.sources:
            starts = ", ".join(sorted(transition.sources))
            yield Reason(ReasonKind.WRONG_STATE, current, f"{transition.dimension} is {current}, not {starts}")
        if not actor.is_system:
            yield from self._actor_reasons(transition, actor)
        yield from self._guard_reasons(transition)
        yield from self._checklist_reasons(transition)
        for fact in self.unset_requirements(transition.dimension, transition.target):
            yield Reason(ReasonKind.REQUIRED_FACT, fact, f"{transition.target} requires fact {fact}")

    def unset_requirements(self, dimension: str, state: str) -> list[str]:
        """The facts `state` requires (to be entered, or to be in) that are not set."""
        return [fact for fact in self.definition.dimensions[dimension].states[state].requires if fact not in self.names]

    def _actor_reasons(self, transition: Transition, actor: Actor) -> Iterator[Reason]:
        if transition.auto and not transition.roles:
            yield Reason(ReasonKind.ROLE, "system", "fires automatically; no one fires it by hand")
        elif transition.roles and not transition.roles & actor.roles:
            needed = ", ".join(sorted(transition.roles))
            yield Reason(ReasonKind.ROLE, needed, f"needs role {needed}")
        if transition.takes_owner:
            yield from self.queue_reasons(actor)
            cooling = self.former.get(actor.id) if self.owner != actor.id else None
            if cooling is not None:  # as a claim waits it out (commands.Claim)
                again = f"{actor.id} lost this customer recently and may take it again from {cooling.isoformat()}"
                yield Reason(ReasonKind.COOLDOWN, actor.id, again)
        locked = self._lock()
        if locked and not self._may_see_locked(actor):
            dimension, state = locked
            holder = self.owner or "no one"
            yield Reason(ReasonKind.LOCKED, holder, f"locked by {holder} while {dimension} is {state}")
        elif self._claimed_by_other(actor):
            until = self.lease_until.isoformat() if self.lease_until else "released"
            yield Reason(ReasonKind.LOCKED, str(self.owner), f"claimed by {self.owner} until {until}")

    def queue_reasons(self, actor: Actor) -> Iterator[Reason]:
        """A customer in a queue is taken (claimed, or followed up) only by the queue's roles."""
        queue = self.definition.queues.get(self.queue) if self.queue else None
        if queue is not None and queue.roles and not actor.is_system and not queue.roles & actor.roles:
            needed = ", ".join(sorted(queue.roles))
            yield Reason(ReasonKind.ROLE, needed, f"the customer is in queue {queue.name}: taken by role {needed}")

    def _claimed_by_other(self, actor: Actor) -> bool:
        """In a definition with claims, a customer someone else holds is theirs (and their managers') alone."""
        if self.definition.claims is None or self.owner is None or self.owner == actor.id:
            return False
        return self._claim_active() and not self._may_see_locked(actor)

    def _claim_active(self) -> bool:
        return self.owner is not None and (self.lease_until is None or self.lease_until > self.now)

    def _guard_reasons(self, transition: Transition) -> Iterator[Reason]:
        expr = transition.when
        if expr is None:
            return
        names = self.names
        missing = [name for name in expr.names if name not in names]
        if missing:
            for name in missing:
                yield Reason(ReasonKind.FACT_UNSET, name, f"{self._why_unset(name)} ({expr.source})")
            return
        try:
            passed = expr.evaluate(names)
        except Exception as error:  # the CEL runtime raises several types for bad data (e.g. division by zero)
            yield Reason(ReasonKind.GUARD, expr.source, f"{expr.source} cannot be evaluated: {error}")
            return
        if passed is not True:
            values = ", ".join(f"{n} = {_show(names[n])}" for n in expr.names if n not in ("now", "states"))
            yield Reason(ReasonKind.GUARD, expr.source, f"{expr.source} is false" + (f" ({values})" if values else ""))

    def _why_unset(self, name: str) -> str:
        score = self.definition.scores.get(name)
        if score is None:
            return f"{name} is not set"
        inputs = [self._why_unset(n) for n in score.expr.names if n not in self.names]
        return f"score {name} cannot be computed: " + ("; ".join(inputs) or "its expression fails")

    def _checklist_reasons(self, transition: Transition) -> Iterator[Reason]:
        if transition.checklist is None:
            return
        checklist = self.definition.checklists[transition.checklist]
        done = self.checklists.get(checklist.name, {})
        for item in checklist.items:
            if item not in done:
                subject = f"{checklist.name}.{item}"
                yield Reason(ReasonKind.CHECKLIST, subject, f"checklist item {subject} is open")

    def _lock(self) -> tuple[str, str] | None:
        return locked_state(self.definition, self.states)

    def _may_see_locked(self, actor: Actor) -> bool:
        return sees_locked(self.definition, self.owner, actor)

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
            self.former.pop(owner, None)  # its own again: nothing left to wait out

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
            if not marks:  # as the store keeps a checklist with nothing done: not at all
                del self.checklists[checklist]
        else:
            marks[item] = mark
        self.changed.add(f"checklist:{checklist}")

    def set_facts(self, changes: Mapping[str, Any], actor: Actor) -> dict[str, Any]:
        """Apply fact values; returns the changed ones in JSON form (None for unset). A fact with writers is
        written only by them (and the system)."""
        facts = self.definition.facts
        refused = [f for name in changes if (f := facts.get(name)) and f.writers and not f.writers & actor.roles]
        if refused and not actor.is_system:
            who = "; ".join(f"{f.name} by {', '.join(sorted(f.writers))}" for f in refused)
            raise PermissionDenied(
                f"{actor.id} may not write these facts, which are written only by their roles: {who}"
            )
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
        if changed and (size := text_size(self.facts)) > MAX_CUSTOMER_TEXT and size > text_size(self.snapshot.facts):
            largest = max(changed, key=lambda name: value_text_size(self.facts.get(name, "")))
            raise InvalidFactValue(largest, f"the customer's facts would hold {size:,} characters of text; they may "
                                   f"hold at most {MAX_CUSTOMER_TEXT:,} (keep documents elsewhere, with a link "
                                   "here)")  # fmt: skip
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
                    if not math.isfinite(value):  # e.g. a division by zero in floating point
                        value = None
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
        if event:
            self.trigger(event, actor, "caller")

    def fire_event(self, event: str, actor: Actor, trigger: str, reason: str = "") -> None:
        candidates = self.definition.event_transitions.get(event)
        if not candidates:
            raise UnknownName("event", event, self.definition.events)
        if self.trigger(event, actor, trigger, reason):
            return
        verdicts = [self.reasons(t, actor) for t in candidates]
        in_state = [r for rs in verdicts if all(x.kind is not ReasonKind.WRONG_STATE for x in rs) for r in rs]
        raise TransitionNotAllowed(event, in_state or [r for rs in verdicts for r in rs])

    def trigger(self, event: str, actor: Actor, trigger: str, reason: str = "") -> bool:
        """Offer `event` to each dimension's machine in definition order; the first whose condition holds
        (`passes`) moves, and calls back `took`. False when no transition of the event may fire."""
        for dimension in self.definition.event_dimensions.get(event, ()):
            if self._offer(dimension, event, actor, trigger, reason):
                return True
        return False

    def _offer(self, dimension: str, event: str, actor: Actor, trigger: str, reason: str) -> bool:
        """The event to the dimension's machine: of its transitions of `event` out of the current state, in
        definition order, the first whose compiled condition (this run's verdict) holds fires, and its callback
        (`took`) records it. The machine's table and conditions decide; the library's trigger around them is
        left out: its event queue, prepare/before callbacks, debug log lines and the exit and entry of a state
        on a cursor the run never reads cost 97k instructions, 8% of a FireEvent (bench/instructions_bench).
        `settle`, which already holds its one candidate, asks the verdict directly."""
        state = self.states[dimension].state
        machine = self.definition.machines[dimension]
        machine_event = machine.events[event]
        offered = machine_event.transitions.get(state)
        if not offered:  # no transition of the event leaves this state
            return False
        data = EventData(None, machine_event, machine, None, (),
                         {"run": self, "actor": actor, "trigger": trigger, "reason": reason})  # fmt: skip
        for step in offered:
            if all(condition.check(data) for condition in step.conditions):
                data.transition = step
                machine.callbacks(step.after, data)
                return True
        return False

    def took(self, transition: Transition, before: str, actor: Actor, trigger: str, reason: str) -> None:
        """`transition` fires from `before`: record it, enter its target and carry out its effects."""
        dimension = transition.dimension
        if transition.reasons and trigger == "caller" and reason not in transition.reasons:
            codes = ", ".join(transition.reasons)
            raise InvalidRequest(f"{transition.event} needs a reason, one of: {codes} (not {reason[:40]!r})")
        self.steps.append((transition, before))
        if len(self.steps) > MAX_STEPS:
            raise AutomationCycle([f"{t.dimension}: {b} → {t.target} ({t.event})" for t, b in self.steps])
        after = transition.target
        if not transition.internal:  # an internal one stays: its timers keep counting, its tasks stay open
            self.enter(dimension, after)
        self.record(actor, trigger, event=transition.event, dimension=dimension, before=before, after=after,
                    reason=reason)  # fmt: skip
        emitted = [effect.name for effect in transition.effects if effect.kind is EffectKind.EMIT]
        for effect in transition.effects:
            self.apply_effect(effect, dimension, transition.event, after, actor)
        for event in emitted:  # it moves the dimension it applies to, if it can; otherwise it is ignored
            self.trigger(event, SYSTEM, "emit", f"emitted by {transition.event}")

    def enter(self, dimension: str, state: str) -> None:
        """`dimension` starts a new stay in `state` (its timers count afresh)."""
        self.states[dimension] = StateEntry(state, self.now, self.version)
        if self.work:  # tasks and alerts close when their dimension leaves the state that raised them
            self.work = [w for w in self.work if w.dimension != dimension or w.state == state]
        if self.fired:  # fired timers belong to the stay that just ended
            self.fired = {key for key in self.fired if not key.startswith(f"{dimension}:")}
        self.names.forget("states")
        self.changed.update(("states", f"dimension:{dimension}"))

    def apply_effect(self, effect: Effect, dimension: str, event: str, state: str, actor: Actor) -> None:
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
            due = later(self.definition, self.now, effect.due) if effect.due is not None else None
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
        Here the engine already holds the one candidate transition, so it asks the verdict and takes it
        without the machine (which would search out the same transition again, at several µs a try).
        """
        while (chosen := next((t for t in self._candidates() if self.passes(t, SYSTEM)), None)) is not None:
            self.took(chosen, self.states[chosen.dimension].state, SYSTEM, "auto", "automatic")

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
        if len(reason) > MAX_TEXT:  # it is kept in the history: a reason, not a document
            raise InvalidRequest(f"a reason or evidence is at most {MAX_TEXT} characters, not {len(reason):,}")
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
            identities=self.snapshot.identities,
        )
        cancelled, scheduled = self._timer_changes(snapshot)
        return Outcome(snapshot, tuple(self.effects), tuple(self.history), cancelled, scheduled)

    def _timer_changes(self, after: Snapshot) -> tuple[tuple[str, ...], tuple[DueTimer, ...]]:
        """Timer keys to cancel and timers to (re)schedule, looking only at the dimensions whose timers can
        have changed: a new state entry, a date fact a timer counts from, a reminder raised."""
        before = self.snapshot
        if self.everything_changed:
            touched = set(self.states)
        else:
            old_states = before.states
            touched = {name for name, entry in self.states.items() if entry is not old_states[name]}
            touched.update(key.partition(":")[0] for key in self.fired.symmetric_difference(before.fired))
            by_fact = self.definition.timer_dimensions
            for name in self.changed:
                touched.update(by_fact.get(name, ()))
        if not touched:
            return (), ()
        old = {t.key: t.due for t in timers(self.definition, before, touched)} if before.version else {}
        new = timers(self.definition, after, touched)
        keep = {t.key for t in new}
        return tuple(key for key in old if key not in keep), tuple(t for t in new if old.get(t.key) != t.due)


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds() / 86400:g} days"
    return repr(value)
