"""A compiled definition version: immutable, built once at load time, read by every request."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from transitions import Machine

from .model import Checklist, Dimension, Fact, Label, Role, Score, Transition


def _chosen(transition: Transition) -> Any:
    """The machine's condition: the engine has already decided which transition (if any) applies."""
    return lambda event_data: event_data.kwargs.get("chosen") is transition


@dataclass(frozen=True, eq=False)
class Definition:
    name: str
    version: int
    industry: str
    owner: str
    label: Label
    timezone: ZoneInfo
    roles: Mapping[str, Role]
    queues: frozenset[str]
    facts: Mapping[str, Fact]
    scores: Mapping[str, Score]
    checklists: Mapping[str, Checklist]
    dimensions: Mapping[str, Dimension]
    source: str
    file: str
    # Lookup tables, derived once in __post_init__.
    machines: Mapping[str, Machine] = field(init=False)
    event_transitions: Mapping[str, tuple[Transition, ...]] = field(init=False)
    automatic: Mapping[tuple[str, str], tuple[Transition, ...]] = field(init=False)
    clocked_scores: frozenset[str] = field(init=False)
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        by_event: dict[str, list[Transition]] = {}
        automatic: dict[tuple[str, str], list[Transition]] = {}
        for dimension in self.dimensions.values():
            for transition in dimension.transitions:
                by_event.setdefault(transition.event, []).append(transition)
                if transition.auto:
                    for source in sorted(transition.sources):
                        automatic.setdefault((dimension.name, source), []).append(transition)
        setter = object.__setattr__  # frozen dataclass: derived fields are set once, here
        setter(self, "machines", {name: _machine(d) for name, d in self.dimensions.items()})
        setter(self, "event_transitions", {event: tuple(ts) for event, ts in by_event.items()})
        setter(self, "automatic", {key: tuple(ts) for key, ts in automatic.items()})
        setter(self, "clocked_scores", frozenset(self._scores_reading_now()))
        setter(self, "digest", hashlib.sha256(self.source.encode()).hexdigest())

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def events(self) -> tuple[str, ...]:
        return tuple(self.event_transitions)

    def _scores_reading_now(self) -> set[str]:
        """Scores that change with time alone (directly or through another score) are recomputed per command."""
        clocked: set[str] = set()
        for score in self.scores.values():
            if "now" in score.expr.names or clocked.intersection(score.expr.names):
                clocked.add(score.name)
        return clocked


def _machine(dimension: Dimension) -> Machine:
    return Machine(
        model=None,
        name=dimension.name,
        states=list(dimension.states),
        initial=dimension.initial,
        transitions=[
            {
                "trigger": t.event,
                "source": sorted(t.sources),
                "dest": t.target,
                "conditions": [_chosen(t)],
            }
            for t in dimension.transitions
        ],
        auto_transitions=False,
        send_event=True,
    )
