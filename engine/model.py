"""The checked, immutable form of a definition: what the loader builds and the rules read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from .expressions import Expression
from .facts import FactType

SYSTEM_ROLE = "system"  # timers and automatic transitions act as this role; it may fire any transition


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
    """Fires `event` as the system (or, as a reminder, raises `effect` once): `delay` after entering the
    state, or `offset` before/after a date fact."""

    event: str  # "" for a reminder
    index: int  # position in the state's list, part of the timer's identity
    delay: timedelta | None = None
    fact: str | None = None
    offset: timedelta = timedelta(0)  # signed: negative means before the fact
    effect: Effect | None = None  # a reminder's task or alert


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
