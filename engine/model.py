"""The checked, immutable form of a definition: what the loader builds and the rules read."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from .expressions import Expression
from .facts import FactType

SYSTEM_ROLE = "system"  # timers and automatic transitions act as this role; it may fire any transition
ADMIN_ROLE = "admin"  # a tenant administrator: reloads definitions, may override states
APPROVER_ROLE = "approver"  # approves a definition version someone else published, before it can be activated


@dataclass(frozen=True)
class Label:
    zh: str = ""
    en: str = ""

    @classmethod
    def of(cls, raw: Mapping[str, str] | None, name: str = "") -> Label:
        raw = raw or {}
        return cls(raw.get("zh", name), raw.get("en", name))


@dataclass(frozen=True)
class Fact:
    name: str
    type: FactType
    default: Any = None
    label: Label = Label()
    writers: frozenset[str] = frozenset()  # roles that may write it (and the system); empty: any caller


@dataclass(frozen=True)
class Queue:
    """A team queue: customers assigned to it are claimed only by its roles (any role when none is listed)."""

    name: str
    roles: frozenset[str] = frozenset()
    label: Label = Label()


class RestrictionKind(StrEnum):
    LIMIT = "limit"  # a number: the action's `attribute` may not exceed it
    VERIFICATION = "verification"  # true: the action needs its `attribute` true (a second verification done)
    BLOCK = "block"  # true: the action is refused


@dataclass(frozen=True)
class Restriction:
    """What a restriction set by an effect means for the actions other systems ask about (see authorize)."""

    name: str
    kind: RestrictionKind
    actions: frozenset[str]
    attribute: str = ""
    label: Label = Label()


@dataclass(frozen=True)
class Score:
    name: str
    expr: Expression
    label: Label = Label()


@dataclass(frozen=True)
class Role:
    name: str
    sees_locked: bool = False
    label: Label = Label()


@dataclass(frozen=True)
class Checklist:
    name: str
    items: tuple[str, ...]
    label: Label = Label()
    item_labels: Mapping[str, Label] = field(default_factory=dict)


@dataclass(frozen=True)
class Timer:
    """Fires `event` as the system (or, as a reminder, raises `effect`), at most once per stay in its state:
    `delay` after entering the state, or `offset` before/after the latest of its date facts (and, with
    `since_entry`, of the entry into the state)."""

    event: str  # "" for a reminder
    index: int  # position in the state's list, part of the timer's identity
    delay: timedelta | None = None
    facts: tuple[str, ...] = ()
    offset: timedelta = timedelta(0)  # signed: negative means before the fact
    effect: Effect | None = None  # a reminder's task or alert
    since_entry: bool = False  # counts from the state entry when that is later than every fact (or none is set)


class EffectKind(StrEnum):
    EMIT = "emit"
    ASSIGN = "assign"
    TASK = "task"
    ALERT = "alert"
    RESTRICT = "restrict"
    LIFT = "lift"


@dataclass(frozen=True)
class Effect:
    kind: EffectKind
    name: str = ""  # emitted event, queue, task or alert name
    owner: str = ""  # for assign: "actor" or "none"
    role: str = ""
    due: timedelta | None = None
    severity: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)  # restrictions set
    names: tuple[str, ...] = ()  # restrictions lifted


@dataclass(frozen=True)
class State:
    name: str
    label: Label = Label()
    initial: bool = False
    final: bool = False
    locked: bool = False
    requires: tuple[str, ...] = ()
    timers: tuple[Timer, ...] = ()


@dataclass(frozen=True, eq=False)
class Transition:
    dimension: str
    event: str
    sources: frozenset[str]
    target: str
    index: int  # position in the dimension's list
    roles: frozenset[str] = frozenset()
    when: Expression | None = None
    checklist: str | None = None
    auto: bool = False
    effects: tuple[Effect, ...] = ()
    label: Label = Label()
    priority: int | None = None  # of automatic ones true at once, the highest goes first; then definition order
    internal: bool = False  # back to its state without leaving it: timers keep counting, tasks stay open
    reasons: Mapping[str, Label] = field(default_factory=dict)  # codes a caller must give one of (流失: price …)

    @functools.cached_property  # asked for on every event offered to the transition
    def takes_owner(self) -> bool:
        """It makes the actor the customer's owner (e.g. start_follow_up)."""
        return any(e.kind is EffectKind.ASSIGN and e.owner == "actor" for e in self.effects)


@dataclass(frozen=True)
class ClaimPolicy:
    """How reps claim customers: a lease of `protection`, caps per rep, and a cooldown for ex-owners."""

    protection: timedelta
    claim_event: str | None = None  # fired, when it applies, in the same change as a claim
    release_event: str | None = None  # fired, when it applies, in the same change as a release
    max_held: int | None = None  # customers one rep holds at once
    max_daily: int | None = None  # claims one rep makes per day
    cooldown: timedelta = timedelta(0)  # an ex-owner waits this long before claiming the customer again


@dataclass(frozen=True)
class Dimension:
    name: str
    states: Mapping[str, State]
    transitions: tuple[Transition, ...]
    initial: str
    label: Label = Label()
    indexed: bool = False  # its customers are listed per state, by entry time (segments, stalled lists)
