"""Analytics from the flow counters the commit script keeps (no scan of customers): for a definition's
dimension over a period, how many entered and left each state, the moves between states with their
conversion rates, the time spent in each state before leaving it, and the reason codes given."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from crmstatus.engine.definition import Definition
from crmstatus.engine.errors import InvalidRequest, UnknownName, quote
from crmstatus.engine.model import Label, Transition
from crmstatus.server.store import Store
from crmstatus.server.store.codec import DWELL_HOURS

from .catalog import Catalog
from .model import Caller

MAX_DAYS = 366


@dataclass(frozen=True)
class StateFlow:
    state: str
    label: Label
    entered: int = 0
    left: int = 0
    time_in_state: tuple[int, ...] = ()  # customers that left it, per bucket of DWELL_HOURS (the last: more)
    median_hours: float | None = None  # the bucket bound below which half of them left (None: none left)
    p90_hours: float | None = None


@dataclass(frozen=True)
class FlowReport:
    definition: str
    dimension: str
    start: date
    end: date
    states: tuple[StateFlow, ...]
    moves: dict[tuple[str, str], int] = field(default_factory=dict)  # (from, to) → moves; from "" = created
    reasons: dict[tuple[str, str], int] = field(default_factory=dict)  # (event, code) → moves given that code
    bucket_hours: tuple[int, ...] = DWELL_HOURS  # upper bounds of StateFlow.time_in_state's buckets

    def conversion(self, source: str, target: str) -> float | None:
        """The share of the moves out of `source` that went to `target` (None: nothing left `source`)."""
        left = sum(count for (start, _), count in self.moves.items() if start == source)
        return self.moves.get((source, target), 0) / left if left else None


@dataclass(frozen=True)
class ReviewReport:
    """How a definition version is used: states entered and transitions fired and refused by their rules."""

    definition: Definition
    entered: dict[tuple[str, str], int]  # (dimension, state) → times entered
    fired: dict[Transition, int]
    blocked: dict[Transition, int]  # a caller's event refused by the transition's guard, checklist or facts

    @property
    def unused_states(self) -> list[tuple[str, str]]:
        return [key for key, count in self.entered.items() if not count]

    @property
    def unused_transitions(self) -> list[Transition]:
        return [t for t, count in self.fired.items() if not count]

    def text(self) -> str:
        lines = [f"{self.definition.key}: how its customers used it"]
        unused = self.unused_states
        lines.append("States never entered: " + (", ".join(f"{d}.{s}" for d, s in unused) if unused else "none"))
        never = self.unused_transitions
        lines.append("Transitions never fired: " + (", ".join(map(_shown, never)) if never else "none"))
        blocked = sorted(((n, t) for t, n in self.blocked.items() if n), key=lambda pair: -pair[0])
        for count, transition in blocked:
            rule = transition.when.source if transition.when else transition.checklist or "required facts"
            lines.append(f"Refused {count}× by its rules: {_shown(transition)} ({rule})")
        return "\n".join(lines)


def _shown(transition: Transition) -> str:
    return f"{transition.dimension}.{transition.event} ({', '.join(sorted(transition.sources))} → {transition.target})"


class Analytics:
    def __init__(self, store: Store, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog

    async def flow(
        self, caller: Caller, definition: str, dimension: str, start: date, end: date, version: int | None = None
    ) -> FlowReport:
        """The flow of one dimension of a definition (every version, or one) over the days start…end."""
        if not start <= end or (end - start).days >= MAX_DAYS:
            raise InvalidRequest(f"a report covers 1 to {MAX_DAYS} days, from its start date to its end date")
        if version is None:  # every version the tenant's customers may be on, the active one first
            versions = await self.catalog.every_version(caller.tenant, definition)
        else:
            versions = [await self.catalog.resolve(caller.tenant, definition, version)]
        specs = [d.dimensions[dimension] for d in versions if dimension in d.dimensions]
        if not specs:
            raise UnknownName(f"dimension of {definition}", dimension, {n for d in versions for n in d.dimensions})
        labels = {name: state.label for spec in reversed(specs) for name, state in spec.states.items()}
        days = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
        counters = await self.store.queries.flow(self.store.keys(caller.tenant), days)
        entered: dict[str, int] = {}
        left: dict[str, int] = {}
        buckets: dict[str, list[int]] = {}
        moves: dict[tuple[str, str], int] = {}
        reasons: dict[tuple[str, str], int] = {}
        for name, count in counters.items():
            kind, _day, key, dim, first, second = name.split("|", 5)
            if dim != dimension or not _of(key, definition, version):
                continue
            if kind == "m":
                moves[first, second] = moves.get((first, second), 0) + count
                entered[second] = entered.get(second, 0) + count
                if first:
                    left[first] = left.get(first, 0) + count
            elif kind == "d":
                stayed = buckets.setdefault(first, [0] * (len(DWELL_HOURS) + 1))
                stayed[int(second)] += count
            elif kind == "r":
                reasons[first, second] = reasons.get((first, second), 0) + count
        # the active version's states in its order, then those only other versions have, where customers were
        shown = [*specs[0].states, *(n for n in labels if n not in specs[0].states and (n in entered or n in left))]
        states = tuple(
            StateFlow(name, labels[name], entered.get(name, 0), left.get(name, 0), tuple(buckets.get(name, ())),
                      _quantile(buckets.get(name), 0.5), _quantile(buckets.get(name), 0.9))
            for name in shown
        )  # fmt: skip
        return FlowReport(definition, dimension, start, end, states, moves, reasons)

    async def review(self, caller: Caller, name: str, version: int | None = None) -> ReviewReport:
        """The review report of a version (the tenant's active one when None), from the usage counters every
        change keeps: one read per partition, whatever the number of customers."""
        definition = await self.catalog.resolve(caller.tenant, name, version)
        counters = await self.store.queries.usage(self.store.keys(caller.tenant), definition.key)
        transitions = [t for d in definition.dimensions.values() for t in d.transitions]
        return ReviewReport(
            definition,
            {(d.name, s): counters.get(("s", d.name, s), 0) for d in definition.dimensions.values() for s in d.states},
            {t: counters.get(("t", t.dimension, str(t.index)), 0) for t in transitions},
            {t: counters.get(("g", t.dimension, str(t.index)), 0) for t in transitions},
        )


def _of(key: str, definition: str, version: int | None) -> bool:
    name, _, number = key.partition("@")
    return name == definition and (version is None or number == str(version))


def _quantile(buckets: list[int] | None, share: float) -> float | None:
    """The upper bound (hours) of the bucket in which `share` of the customers that left had left; the last
    bucket has no bound: its lower one, DWELL_HOURS[-1], is given."""
    total = sum(buckets or ())
    if not buckets or not total:
        return None
    seen = 0
    for n, count in enumerate(buckets):
        seen += count
        if seen >= share * total:
            return float(DWELL_HOURS[min(n, len(DWELL_HOURS) - 1)])
    raise AssertionError("unreachable")


def parse_day(text: str, what: str) -> date:
    """A day as 2026-01-31, and only so (Python reads 20260131 and 2026-W05-6 too)."""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(f"{what} is a date like 2026-01-31, not {quote(text)}") from None


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
