"""A small driver for scenario tests: one customer, one definition, one clock, the engine API underneath."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from crmstatus.engine import runtime
from crmstatus.engine.clock import ManualClock
from crmstatus.engine.definition import Definition
from crmstatus.engine.snapshot import SYSTEM, Actor, DueTimer, EffectRecord, HistoryEntry, Snapshot


def actor(name: str, *roles: str) -> Actor:
    return Actor(name, frozenset(roles))


class Customer:
    """Applies commands through the engine and keeps the latest snapshot, effects and history."""

    def __init__(self, definition: Definition, clock: ManualClock, **facts: Any) -> None:
        self.definition = definition
        self.clock = clock
        self.effects: list[EffectRecord] = []
        self.history: list[HistoryEntry] = []
        self.snapshot = self._take(runtime.new_customer(definition, "c-1", clock, SYSTEM, facts))

    def _take(self, outcome: runtime.Outcome) -> Snapshot:
        self.effects += outcome.effects
        self.history += outcome.history
        self.snapshot = outcome.snapshot
        return outcome.snapshot

    def state(self, dimension: str) -> str:
        return self.snapshot.state(dimension)

    def fire(self, event: str, by: Actor, reason: str = "") -> runtime.Outcome:
        outcome = runtime.fire(self.definition, self.snapshot, event, by, self.clock, reason)
        self._take(outcome)
        return outcome

    def update(self, by: Actor = SYSTEM, **facts: Any) -> runtime.Outcome:
        outcome = runtime.update_facts(self.definition, self.snapshot, facts, by, self.clock)
        self._take(outcome)
        return outcome

    def complete(self, checklist: str, items: Iterable[str], by: Actor) -> None:
        for item in items:
            self._take(runtime.complete_item(self.definition, self.snapshot, checklist, item, by, self.clock, "ok"))

    def options(self, by: Actor) -> dict[str, runtime.TransitionOption]:
        return {o.event: o for o in runtime.list_transitions(self.definition, self.snapshot, by, self.clock)}

    def timers(self) -> list[DueTimer]:
        return runtime.timers(self.definition, self.snapshot)

    def timer(self, event: str) -> DueTimer:
        found = [t for t in self.timers() if t.event == event]
        assert found, f"no timer for {event}; timers: {self.timers()}"
        return found[0]

    def run_timer(self, event: str) -> runtime.Outcome:
        """Move the clock to the timer's due time and fire it, as the timer worker will."""
        timer = self.timer(event)
        if self.clock.now() < timer.due:
            self.clock.set(timer.due)
        outcome = runtime.fire_timer(self.definition, self.snapshot, timer, self.clock)
        self._take(outcome)
        return outcome

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))

    def effect_names(self, kind: str) -> list[str]:
        return [str(e.detail.get("name", e.detail.get("queue", ""))) for e in self.effects if e.kind == kind]
