"""Moving customers from one version of a definition to another, as a mapping document says, with nothing stored.

A mapping names the definition and the two versions, and says per dimension which old state becomes which new
one (a state it does not name keeps its name, when the new version has it), which facts are renamed, given a
default or dropped, and whether each checklist's progress is carried or reset:

    definition: education
    from: 1
    to: 2
    states:
      learner: {休学: 停课}
    facts:
      rename: {guardian_phone: parent_phone}
      defaults: {campus: 总部}
      drop: [legacy_grade]
    checklists: {enrollment: reset}

`load_mapping` checks the document against both versions (every problem with its file:line:col); `migrate`
applies it to one customer and returns the outcome to write, or every reason the customer cannot be moved.
A migrated customer keeps how long it has been in each state: its timers are recomputed from those dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .definition import Definition
from .errors import Diagnostic, EngineError, InvalidDefinition, InvalidFactValue
from .facts import coerce
from .rules import Run, timers
from .snapshot import Actor, Outcome, Snapshot, StateEntry
from .source import Path, SourceDocument, load_yaml

TRIGGER = "migrate"  # the history entry's trigger
CARRY, RESET = "carry", "reset"


@dataclass(frozen=True)
class MigrationMap:
    """A checked mapping document between two versions of one definition."""

    old: Definition
    new: Definition
    states: Mapping[str, Mapping[str, str]]  # dimension → old state → new state (only the named ones)
    renamed: Mapping[str, str]  # old fact → new fact
    defaults: Mapping[str, Any]  # new fact → value given to customers without one
    dropped: frozenset[str]
    reset: frozenset[str]  # checklists whose progress starts over

    @property
    def label(self) -> str:
        return f"{self.old.name} v{self.old.version} → v{self.new.version}"

    def target(self, dimension: str, state: str) -> str | None:
        """The new state of a customer in `state` of `dimension`, or None when the new version has none."""
        mapped = self.states.get(dimension, {}).get(state)
        if mapped is not None:
            return mapped
        return state if state in self.new.dimensions[dimension].states else None


@dataclass(frozen=True)
class Unmappable:
    """A customer the mapping cannot move, with every reason."""

    customer_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Migrated:
    """A customer moved: its outcome (every old timer cancelled, the new ones scheduled) and its moves."""

    outcome: Outcome
    moves: tuple[tuple[str, str, str], ...]  # (dimension, old state, new state) for every dimension
    arrived: Mapping[str, StateEntry]  # the states it is mapped to, before the new rules' automation


def mapping_versions(text: str, file: str = "mapping.yaml") -> tuple[str, int, int]:
    """The definition name and the two versions a mapping document names (to find them before it is checked)."""
    document = load_yaml(text, file)
    data = document.data if isinstance(document.data, dict) else {}
    problems = []
    name = data.get("definition")
    if not isinstance(name, str) or not name:
        problems.append(document.diagnostic(("definition",), "name the definition the customers are on"))
    versions = []
    for key in ("from", "to"):
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(document.diagnostic((key,), f"`{key}` is a version number (1, 2, …)"))
        versions.append(value)
    if not problems and versions[0] == versions[1]:
        problems.append(document.diagnostic(("to",), "`from` and `to` are the same version: nothing to migrate"))
    if problems:
        raise InvalidDefinition(problems)
    return name, versions[0], versions[1]  # type: ignore[return-value]


def load_mapping(text: str, old: Definition, new: Definition, file: str = "mapping.yaml") -> MigrationMap:
    """The mapping, checked against both versions; InvalidDefinition with every problem."""
    document = load_yaml(text, file)
    checker = _Checker(document, old, new)
    mapping = checker.mapping()
    if checker.problems:
        raise InvalidDefinition(sorted(checker.problems, key=lambda d: (d.line, d.column)))
    return mapping


class _Checker:
    KEYS = ("definition", "from", "to", "states", "facts", "checklists")

    def __init__(self, document: SourceDocument, old: Definition, new: Definition) -> None:
        self.document, self.old, self.new = document, old, new
        self.problems: list[Diagnostic] = []

    def problem(self, path: Path, message: str, *, at_key: bool = False) -> None:
        self.problems.append(self.document.diagnostic(path, message, at_key=at_key))

    def section(self, data: Any, path: Path) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.problem(path, "write this as a mapping of names (`name: value` lines)")
            return {}
        return data

    def mapping(self) -> MigrationMap:
        data = self.section(self.document.data, ())
        for key in data:
            if key not in self.KEYS:
                self.problem((key,), f"unknown section {key!r}: a mapping has {', '.join(self.KEYS)}", at_key=True)
        if data.get("definition") != self.old.name or data.get("from") != self.old.version:
            self.problem(("from",), f"the mapping must name {self.old.name} and its version {self.old.version}")
        if data.get("to") != self.new.version:
            self.problem(("to",), f"the mapping must name the target version {self.new.version}")
        facts = self.section(data.get("facts"), ("facts",))
        for key in facts:
            if key not in ("rename", "defaults", "drop"):
                self.problem(("facts", key), f"unknown key {key!r}: facts has rename, defaults and drop", at_key=True)
        renamed = self.renames(self.section(facts.get("rename"), ("facts", "rename")))
        dropped = self.drops(facts.get("drop"))
        self.unaccounted(renamed, dropped)
        self.collisions(renamed, dropped)
        return MigrationMap(
            self.old, self.new, self.states(self.section(data.get("states"), ("states",))), renamed,
            self.defaults(self.section(facts.get("defaults"), ("facts", "defaults"))), dropped,
            self.checklists(self.section(data.get("checklists"), ("checklists",))),
        )  # fmt: skip

    def states(self, data: dict[str, Any]) -> dict[str, dict[str, str]]:
        found: dict[str, dict[str, str]] = {}
        for dimension, pairs in data.items():
            path: Path = ("states", dimension)
            if dimension not in self.old.dimensions or dimension not in self.new.dimensions:
                self.problem(path, f"dimension {dimension!r} is not in both versions", at_key=True)
                continue
            found[dimension] = {}
            for before, after in self.section(pairs, path).items():
                if before not in self.old.dimensions[dimension].states:
                    self.problem((*path, before), f"{dimension} has no state {before!r} in v{self.old.version}",
                                 at_key=True)  # fmt: skip
                elif not isinstance(after, str) or after not in self.new.dimensions[dimension].states:
                    known = ", ".join(self.new.dimensions[dimension].states)
                    self.problem((*path, before), f"{after!r} is not a state of {dimension} in "
                                 f"v{self.new.version} (it has {known})")  # fmt: skip
                else:
                    found[dimension][before] = after
        return found

    def renames(self, data: dict[str, Any]) -> dict[str, str]:
        found = {}
        for before, after in data.items():
            path: Path = ("facts", "rename", before)
            if before not in self.old.facts:
                self.problem(path, f"v{self.old.version} has no fact {before!r}", at_key=True)
            elif not isinstance(after, str) or after not in self.new.facts:
                self.problem(path, f"v{self.new.version} has no fact {after!r} to rename {before} to")
            else:
                found[before] = after
        return found

    def drops(self, data: Any) -> frozenset[str]:
        if data is None:
            return frozenset()
        if not isinstance(data, list):
            self.problem(("facts", "drop"), "write the facts to drop as a list: [name, name]")
            return frozenset()
        for at, name in enumerate(data):
            if not isinstance(name, str):
                self.problem(("facts", "drop", at), "write a fact's name here, as in drop: [phone]")
            elif name not in self.old.facts:
                self.problem(("facts", "drop", at), f"v{self.old.version} has no fact {name!r}")
        return frozenset(name for name in data if isinstance(name, str))

    def unaccounted(self, renamed: Mapping[str, str], dropped: frozenset[str]) -> None:
        """A fact the new version no longer has would be lost: the mapping says so, or renames it."""
        for name in self.old.facts:
            if name not in self.new.facts and name not in renamed and name not in dropped:
                self.problem(("facts",), f"fact {name!r} is not in v{self.new.version}: rename it (facts.rename) "
                             "or drop it (facts.drop), so its values are not lost by mistake")  # fmt: skip

    def collisions(self, renamed: Mapping[str, str], dropped: frozenset[str]) -> None:
        """Two values meeting in one fact would lose one: two renames onto one name, or a rename onto a fact
        the customer keeps (one neither renamed away nor dropped)."""
        taken: dict[str, str] = {}
        for before, after in renamed.items():
            path: Path = ("facts", "rename", before)
            if after in taken:
                self.problem(path, f"{taken[after]} is renamed to {after} already: two values cannot share one fact")
            elif after in self.old.facts and after != before and after not in renamed and after not in dropped:
                self.problem(path, f"{before} cannot take the name {after}: v{self.old.version} has a fact {after} "
                             "that customers keep. Rename that one away or drop it first (facts.drop)")  # fmt: skip
            taken.setdefault(after, before)

    def defaults(self, data: dict[str, Any]) -> dict[str, Any]:
        found = {}
        for name, value in data.items():
            fact = self.new.facts.get(name)
            if fact is None:
                self.problem(("facts", "defaults", name), f"v{self.new.version} has no fact {name!r}", at_key=True)
                continue
            try:
                found[name] = coerce(fact.type, value)
            except (InvalidFactValue, TypeError, ValueError) as error:
                self.problem(("facts", "defaults", name), f"{name} is of type {fact.type.value}: {error}")
        return found

    def checklists(self, data: dict[str, Any]) -> frozenset[str]:
        for name, choice in data.items():
            if name not in self.old.checklists or name not in self.new.checklists:
                self.problem(("checklists", name), f"checklist {name!r} is not in both versions", at_key=True)
            elif choice not in (CARRY, RESET):
                self.problem(("checklists", name), f"write {CARRY} (keep what is done) or {RESET} (start over)")
        return frozenset(name for name, choice in data.items() if choice == RESET)


def migrate(mapping: MigrationMap, snapshot: Snapshot, actor: Actor, now: datetime) -> Migrated | Unmappable:
    """The customer on the new version, settled there (automatic transitions the new rules call for follow), or
    every reason the mapping cannot move it. Its time in each state is kept."""
    old, new = mapping.old, mapping.new
    reasons: list[str] = []
    fact_reasons: list[str] = []
    facts = _facts(mapping, snapshot, fact_reasons)  # as the customer will have them: dropped, renamed, defaulted
    states, moves = {}, []
    for name, dimension in new.dimensions.items():
        entry = snapshot.states.get(name) if name in old.dimensions else None
        if entry is None:  # a dimension the old version did not have: its initial state, from now
            states[name] = StateEntry(dimension.initial, now, snapshot.version + 1)
            moves.append((name, "", dimension.initial))
            continue
        target = mapping.target(name, entry.state)
        if target is None:
            reasons.append(f"{name} is {entry.state}, which v{new.version} does not have: map it under "
                           f"states.{name}")  # fmt: skip
            continue
        states[name] = entry._replace(state=target)
        moves.append((name, entry.state, target))
        for fact in new.dimensions[name].states[target].requires:
            if facts.get(fact, new.facts[fact].default) is None:
                reasons.append(f"{name} {target} requires fact {fact}, which the customer does not have")
    reasons += fact_reasons
    if snapshot.queue is not None and snapshot.queue not in new.queues:
        reasons.append(f"the customer is in queue {snapshot.queue}, which v{new.version} does not have")
    if reasons:
        return Unmappable(snapshot.customer_id, tuple(reasons))
    moved = snapshot._replace(
        definition_version=new.version,
        states=states,
        facts=facts,
        checklists=_checklists(mapping, snapshot),
        restrictions={k: v for k, v in snapshot.restrictions.items() if k in new.restrictions},
        work=tuple(_work(mapping, snapshot, states)),
        fired=frozenset(_still_fired(mapping, snapshot, states)),
    )
    run = Run(new, moved, now)
    run.everything_changed = True
    shown = "; ".join(f"{d} {a} → {b}" for d, a, b in moves if a != b)
    try:
        run.record(actor, TRIGGER, reason=f"migrated v{old.version} → v{new.version}" + (f": {shown}" if shown else ""))
        run.recompute_scores()
        run.settle()
    except EngineError as error:  # the new rules cannot settle this customer (e.g. automation that loops)
        return Unmappable(snapshot.customer_id, (str(error),))
    outcome = run.outcome()
    cancelled = tuple(t.key for t in timers(old, snapshot))
    scheduled = tuple(timers(new, outcome.snapshot))
    return Migrated(outcome._replace(cancelled=cancelled, scheduled=scheduled), tuple(moves), states)


def _facts(mapping: MigrationMap, snapshot: Snapshot, reasons: list[str]) -> dict[str, Any]:
    new_facts = mapping.new.facts
    found: dict[str, Any] = {}
    for name, value in snapshot.facts.items():
        if name in mapping.dropped:
            continue
        target = mapping.renamed.get(name, name)
        fact = new_facts.get(target)
        if fact is None:  # load_mapping made sure this cannot happen with a checked mapping
            reasons.append(f"fact {name} has no place in v{mapping.new.version}")
            continue
        if fact.type is mapping.old.facts[name].type:
            found[target] = value
            continue
        try:
            found[target] = coerce(fact.type, value)
        except (InvalidFactValue, TypeError, ValueError):
            reasons.append(f"fact {name} = {value!r} is not a {fact.type.value}, as {target} is in "
                           f"v{mapping.new.version}")  # fmt: skip
    for name, value in mapping.defaults.items():
        found.setdefault(name, value)
    return found


def _checklists(mapping: MigrationMap, snapshot: Snapshot) -> dict[str, Any]:
    """The marks of items the new version still has (a checklist left with none is left out, as stored)."""
    new = mapping.new.checklists
    kept = {
        name: {item: mark for item, mark in marks.items() if item in new[name].items}
        for name, marks in snapshot.checklists.items()
        if name in new and name not in mapping.reset
    }
    return {name: marks for name, marks in kept.items() if marks}


def _work(mapping: MigrationMap, snapshot: Snapshot, states: Mapping[str, StateEntry]) -> list[Any]:
    """Open tasks and alerts stay while their dimension stays in the state (mapped) that raised them."""
    kept = []
    for item in snapshot.work:
        entry = states.get(item.dimension)
        if entry is not None and mapping.target(item.dimension, item.state) == entry.state:
            kept.append(item._replace(state=entry.state))
    return kept


def _still_fired(mapping: MigrationMap, snapshot: Snapshot, states: Mapping[str, StateEntry]) -> list[str]:
    """Reminders already raised in this stay stay raised, where the new state has the same timer at that place."""
    kept = []
    for key in snapshot.fired:
        dimension, _, rest = key.partition(":")  # dimension:entry seq:index (DueTimer.key)
        index = int(rest.rpartition(":")[2])
        entry, before = states.get(dimension), snapshot.states.get(dimension)
        if entry is None or before is None:
            continue
        old_timers = mapping.old.dimensions[dimension].states[before.state].timers
        new_timers = mapping.new.dimensions[dimension].states[entry.state].timers
        if index < len(old_timers) and index < len(new_timers) and _same(old_timers[index], new_timers[index]):
            kept.append(key)
    return kept


def _same(a: Any, b: Any) -> bool:
    return (a.event, a.effect and a.effect.name) == (b.event, b.effect and b.effect.name)
