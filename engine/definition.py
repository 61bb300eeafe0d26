"""A compiled definition version: immutable, built once at load time, read by every request."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from transitions import Machine

from .model import Checklist, ClaimPolicy, Dimension, Fact, Label, Queue, Restriction, Role, Score, Transition


def _condition(transition: Transition) -> Any:
    """The machine's condition: the run's one verdict on this transition, for the actor firing it."""
    return lambda event: event.kwargs["run"].passes(transition, event.kwargs["actor"])


def _after(transition: Transition) -> Any:
    """Once the machine chose the transition: the run records the step and carries out its effects."""

    def took(event: Any) -> None:
        kwargs = event.kwargs
        kwargs["run"].took(transition, event.transition.source, kwargs["actor"], kwargs["trigger"], kwargs["reason"])

    return took


@dataclass(frozen=True, eq=False)
class Definition:
    name: str
    version: int
    industry: str
    owner: str
    label: Label
    timezone: ZoneInfo
    roles: Mapping[str, Role]
    queues: Mapping[str, Queue]
    facts: Mapping[str, Fact]
    scores: Mapping[str, Score]
    checklists: Mapping[str, Checklist]
    dimensions: Mapping[str, Dimension]
    source: str
    file: str
    claims: ClaimPolicy | None = None
    restrictions: Mapping[str, Restriction] = field(default_factory=dict)
    # Lookup tables, derived once in __post_init__.
    machines: Mapping[str, Machine] = field(init=False)
    event_transitions: Mapping[str, tuple[Transition, ...]] = field(init=False)
    event_dimensions: Mapping[str, tuple[str, ...]] = field(init=False)  # dimensions with the event, in order
    automatic: tuple[Transition, ...] = field(init=False)  # in definition order: the first true one fires
    watchers: Mapping[str, frozenset[Transition]] = field(init=False)  # input name → automatic transitions
    clocked: frozenset[Transition] = field(init=False)  # automatic transitions that read `now`
    rank: Mapping[Transition, int] = field(init=False)  # priority, then position: earlier ones win
    locked_states: tuple[tuple[str, str], ...] = field(init=False)
    state_positions: Mapping[str, Mapping[str, int]] = field(init=False)  # dimension → state → position
    state_names: Mapping[str, tuple[str, ...]] = field(init=False)  # dimension → states, by position
    timer_dimensions: Mapping[str, frozenset[str]] = field(init=False)  # date fact → dimensions timing on it
    indexed: tuple[str, ...] = field(init=False)  # dimensions whose customers are listed per state
    # The zone whole days are counted on, where its clocks change (daylight saving); None: a day is 24 hours
    calendar_zone: ZoneInfo | None = field(init=False)
    digest: str = field(init=False)
    key: str = field(init=False)  # name@version

    def __post_init__(self) -> None:
        by_event: dict[str, list[Transition]] = {}
        watchers: dict[str, set[Transition]] = {}
        for dimension in self.dimensions.values():
            for transition in dimension.transitions:
                by_event.setdefault(transition.event, []).append(transition)
                if transition.auto:
                    for name in self._inputs(transition):
                        watchers.setdefault(name, set()).add(transition)
        automatic = tuple(t for d in self.dimensions.values() for t in d.transitions if t.auto)
        setter = object.__setattr__  # frozen dataclass: derived fields are set once, here
        setter(self, "machines", {name: _machine(d) for name, d in self.dimensions.items()})
        setter(self, "event_transitions", {event: tuple(ts) for event, ts in by_event.items()})
        dimensions = {event: tuple(dict.fromkeys(t.dimension for t in ts)) for event, ts in by_event.items()}
        setter(self, "event_dimensions", dimensions)
        setter(self, "automatic", automatic)
        setter(self, "watchers", {name: frozenset(ts) for name, ts in watchers.items()})
        setter(self, "clocked", frozenset(watchers.get("now", ())))
        # Dimension by dimension as written; within one, the higher priority first, then definition order.
        ordered = [t for d in self.dimensions.values() for t in sorted(d.transitions, key=lambda t: -(t.priority or 0))]
        setter(self, "rank", {t: n for n, t in enumerate(ordered)})
        locked = [(d.name, s.name) for d in self.dimensions.values() for s in d.states.values() if s.locked]
        setter(self, "locked_states", tuple(locked))
        positions = {d.name: {state: n for n, state in enumerate(d.states)} for d in self.dimensions.values()}
        setter(self, "state_positions", positions)
        setter(self, "state_names", {d.name: tuple(d.states) for d in self.dimensions.values()})
        timed: dict[str, set[str]] = {}
        for d in self.dimensions.values():
            for s in d.states.values():
                for timer in s.timers:
                    for fact in timer.facts:
                        timed.setdefault(fact, set()).add(d.name)
        setter(self, "timer_dimensions", {fact: frozenset(names) for fact, names in timed.items()})
        setter(self, "indexed", tuple(d.name for d in self.dimensions.values() if d.indexed))
        zone = self.timezone
        offsets = {zone.utcoffset(datetime(year, month, 15)) for year in range(2000, 2100) for month in (1, 4, 7, 10)}
        setter(self, "calendar_zone", zone if len(offsets) > 1 else None)
        setter(self, "digest", hashlib.sha256(self.source.encode()).hexdigest())
        setter(self, "key", f"{self.name}@{self.version}")

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(self.event_transitions)

    @property
    def actions(self) -> tuple[str, ...]:
        """The actions other systems may ask about (see commands.authorize): those a restriction governs."""
        return tuple(sorted({action for r in self.restrictions.values() for action in r.actions}))

    def transition_taken(self, dimension: str, event: str, before: str, after: str) -> Transition | None:
        """The transition a history entry records: of `event` in `dimension`, from `before` to `after`."""
        for transition in self.event_transitions.get(event, ()):
            if transition.dimension == dimension and before in transition.sources and transition.target == after:
                return transition
        return None

    def _inputs(self, transition: Transition) -> frozenset[str]:
        """What a transition's verdict depends on: the names a command marks as changed (see rules.Run)."""
        names = {f"dimension:{transition.dimension}"}
        names.update(transition.when.names if transition.when else ())
        names.update(self.dimensions[transition.dimension].states[transition.target].requires)
        if transition.checklist:
            names.add(f"checklist:{transition.checklist}")
        return frozenset(names)


def _machine(dimension: Dimension) -> Machine:
    """The dimension's machine, shared by every request: its table of each event's transitions out of each
    state, in definition order, with their conditions and callbacks. Of those out of the current state, the
    first whose condition holds fires (rules.Run._offer)."""
    transitions = [
        {
            "trigger": t.event,
            "source": sorted(t.sources),
            "dest": None if t.internal else t.target,
            "conditions": [_condition(t)],
            "after": [_after(t)],
        }
        for t in dimension.transitions
    ]  # fmt: skip  (dest None: the library's internal transition, which neither exits nor enters a state)
    return Machine(
        model=None,
        name=dimension.name,
        states=list(dimension.states),
        initial=dimension.initial,
        transitions=transitions,
        auto_transitions=False,
        send_event=True,
    )
