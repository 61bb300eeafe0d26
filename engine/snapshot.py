"""What the engine reads and returns: a customer's snapshot, the actor, and the outcome of a command."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from .model import SYSTEM_ROLE


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    roles: frozenset[str] = frozenset()
    fence_token: int | None = None  # carried by writes made on behalf of a claim

    @property
    def is_system(self) -> bool:
        return SYSTEM_ROLE in self.roles


SYSTEM = Actor("system", frozenset({SYSTEM_ROLE}))


_EMPTY: Mapping[str, Any] = MappingProxyType({})  # the default of every mapping below: shared, so read-only


class StateEntry(NamedTuple):
    """The state a dimension is in, since when, and the customer version that entered it. (The values here are
    NamedTuples: built on every command, a dozen at a time, immutable still, at a third of a frozen dataclass's
    cost, and a snapshot's at a fifth; change one with `_replace`.)"""

    state: str
    since: datetime
    seq: int


class ChecklistMark(NamedTuple):
    by: str
    at: datetime
    evidence: str = ""


class WorkItem(NamedTuple):
    """An open task or alert; it stays open while the dimension stays in the state that raised it."""

    kind: str  # task or alert
    name: str
    role: str
    dimension: str
    state: str
    event: str
    raised: datetime
    due: datetime | None = None
    severity: str = ""


class Snapshot(NamedTuple):
    customer_id: str
    definition: str
    definition_version: int
    version: int
    states: Mapping[str, StateEntry]
    facts: Mapping[str, Any] = _EMPTY
    scores: Mapping[str, float] = _EMPTY
    checklists: Mapping[str, Mapping[str, ChecklistMark]] = _EMPTY
    owner: str | None = None
    queue: str | None = None
    restrictions: Mapping[str, Any] = _EMPTY
    work: tuple[WorkItem, ...] = ()
    lease_until: datetime | None = None  # when the owner's claim lapses (None: owned without a lease)
    fence: int = 0  # the token of the latest claim; every new owner gets the next one
    former: Mapping[str, datetime] = _EMPTY  # ex-owner → may claim again from
    fired: frozenset[str] = frozenset()  # reminder timers already raised in the current state entries
    redacted: bool = False  # a view for someone who may not see a locked customer's details
    identities: Mapping[str, str] = _EMPTY  # kind → normalised value, reserved at creation

    def claim_active(self, now: datetime) -> bool:
        return self.owner is not None and (self.lease_until is None or self.lease_until > now)

    def state(self, dimension: str) -> str:
        return self.states[dimension].state


class EffectRecord(NamedTuple):
    """An effect that happened, as data for the outside world (tasks, alerts, assignments, restrictions)."""

    kind: str
    dimension: str
    event: str
    detail: Mapping[str, Any]


class HistoryEntry(NamedTuple):
    version: int
    at: datetime
    actor: str
    trigger: str  # caller, auto, timer, emit, facts, checklist, create
    event: str = ""
    dimension: str = ""
    from_state: str = ""
    to_state: str = ""
    reason: str = ""
    definition_version: int = 0
    facts_changed: Mapping[str, Any] = _EMPTY


class Outcome(NamedTuple):
    """What a command decided: the new snapshot, its effects and history, and how its timers change."""

    snapshot: Snapshot
    effects: tuple[EffectRecord, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    cancelled: tuple[str, ...] = ()  # keys of timers the snapshot no longer has
    scheduled: tuple[DueTimer, ...] = ()  # timers that are new or due at another time


class DueTimer(NamedTuple):
    """A timer a snapshot should have: when it is due and which state entry it belongs to."""

    dimension: str
    state: str
    entry_seq: int
    position: int  # of the timer among its state's timers
    event: str
    due: datetime
    key: str  # stable identity, `dimension:entry_seq:position`: the same timer of the same state entry


def timer_key(dimension: str, entry_seq: int, position: int) -> str:
    return f"{dimension}:{entry_seq}:{position}"
