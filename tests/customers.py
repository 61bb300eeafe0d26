"""A small driver for scenario tests: one customer, one definition, one clock, the engine API underneath."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from crmstatus.engine import (
    SYSTEM,
    Actor,
    Command,
    CompleteItem,
    DueTimer,
    EffectRecord,
    Fire,
    FireTimer,
    HistoryEntry,
    ManualClock,
    Outcome,
    Snapshot,
    TransitionOption,
    UpdateFacts,
    decide,
    list_transitions,
    new_customer,
    timers,
)
from crmstatus.engine.definition import Definition


def actor(name: str, *roles: str) -> Actor:
    return Actor(name, frozenset(roles))


class Customer:
    """Applies commands through the engine and keeps the latest snapshot, effects and history."""

    def __init__(self, definition: Definition, clock: ManualClock, **facts: Any) -> None:
        self.definition = definition
        self.clock = clock
        self.effects: list[EffectRecord] = []
        self.history: list[HistoryEntry] = []
        self.snapshot = self._take(new_customer(definition, "c-1", SYSTEM, clock.now(), facts))

    def _take(self, outcome: Outcome) -> Snapshot:
        self.effects += outcome.effects
        self.history += outcome.history
        self.snapshot = outcome.snapshot
        return outcome.snapshot

    def state(self, dimension: str) -> str:
        return self.snapshot.state(dimension)

    def run(self, command: Command, by: Actor) -> Outcome:
        outcome = decide(self.definition, self.snapshot, command, by, self.clock.now())
        self._take(outcome)
        return outcome

    def fire(self, event: str, by: Actor, reason: str = "") -> Outcome:
        return self.run(Fire(event, reason), by)

    def update(self, by: Actor = SYSTEM, **facts: Any) -> Outcome:
        return self.run(UpdateFacts(facts), by)

    def complete(self, checklist: str, items: Iterable[str], by: Actor) -> None:
        for item in items:
            self.run(CompleteItem(checklist, item, "ok"), by)

    def options(self, by: Actor) -> dict[str, TransitionOption]:
        return {o.event: o for o in list_transitions(self.definition, self.snapshot, by, self.clock.now())}

    def timers(self) -> list[DueTimer]:
        return timers(self.definition, self.snapshot)

    def timer(self, event: str) -> DueTimer:
        found = [t for t in self.timers() if t.event == event]
        assert found, f"no timer for {event}; timers: {self.timers()}"
        return found[0]

    def run_timer(self, event: str) -> Outcome:
        """Move the clock to the timer's due time and fire it, as the timer worker will."""
        timer = self.timer(event)
        if self.clock.now() < timer.due:
            self.clock.set(timer.due)
        return self.run(FireTimer(timer.key), SYSTEM)

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    def effect_names(self, kind: str) -> list[str]:
        return [str(e.detail.get("name", e.detail.get("queue", ""))) for e in self.effects if e.kind == kind]
