"""Scenario tests: a customer's story in YAML, run through the engine on a simulated clock, with no store.

A scenario file names its definition and tells stories: start facts, then steps (fire an event, update
facts, complete or reopen a checklist item, claim or release, advance the clock) each with expectations
(states, open tasks and alerts, blocked events and their reasons, restrictions, owner, history). Timers are
data here (`rules.timers`): advancing the clock fires each one that falls due, in order, as the timer worker
would. Reading the files is the caller's business; this module only sees their text.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .commands import (
    Claim,
    Command,
    CompleteItem,
    Fire,
    FireTimer,
    Release,
    ReopenItem,
    UpdateFacts,
    decide,
    list_transitions,
    new_customer,
)
from .definition import Definition
from .errors import (
    AutomationCycle,
    CustomerLocked,
    Diagnostic,
    EngineError,
    InvalidDefinition,
    StaleTimer,
    TransitionNotAllowed,
)
from .facts import parse_duration
from .rules import timers
from .snapshot import SYSTEM, Actor, DueTimer, EffectRecord, HistoryEntry, Outcome
from .source import Path, SourceDocument, load_yaml

ACTIONS = ("fire", "facts", "complete", "reopen", "claim", "release", "advance", "check")
EXPECTATIONS = ("states", "tasks", "alerts", "restrictions", "owner", "queue", "facts", "blocked", "allowed",
                "history", "error")  # fmt: skip
DEFAULT_START = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
MAX_TIMERS = 10_000  # timers one `advance` may fire: a weekly timer over years, not an endless loop


@dataclass(frozen=True)
class Step:
    number: int  # 1-based, as a consultant counts
    path: Path  # where it is in the file
    action: str
    argument: Any
    actor: Actor
    expect: Mapping[str, Any]
    reason: str = ""


@dataclass(frozen=True)
class Scenario:
    name: str
    path: Path
    start: datetime
    facts: Mapping[str, Any]
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class ScenarioFile:
    definition: str  # the definition file, relative to the scenario file
    scenarios: tuple[Scenario, ...]
    document: SourceDocument

    def where(self, path: Path) -> tuple[int, int]:
        diagnostic = self.document.diagnostic(path, "")
        return diagnostic.line, diagnostic.column


@dataclass(frozen=True)
class Failure:
    """One expectation that did not hold: where it is written, and what was expected and found."""

    file: str
    line: int
    column: int
    scenario: str
    step: str
    what: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return (f"{self.file}:{self.line}:{self.column}: scenario {self.scenario!r}, {self.step}: {self.what}\n"
                f"    - expected: {_show(self.expected)}\n    + actual:   {_show(self.actual)}")  # fmt: skip


@dataclass(frozen=True)
class Moment:
    """What one command did, for the timeline: when, which step, what changed."""

    at: datetime
    step: str
    history: tuple[HistoryEntry, ...]
    effects: tuple[EffectRecord, ...]
    scheduled: tuple[DueTimer, ...]


@dataclass
class Result:
    scenario: Scenario
    failures: list[Failure] = field(default_factory=list)
    timeline: list[Moment] = field(default_factory=list)
    states: set[tuple[str, str]] = field(default_factory=set)  # (dimension, state) the customer was in
    transitions: set[tuple[str, int]] = field(default_factory=set)  # (dimension, index) it took

    @property
    def passed(self) -> bool:
        return not self.failures


# -- reading --------------------------------------------------------------------------------------------------


def parse(text: str, file: str) -> ScenarioFile:
    """A scenario file's stories; InvalidDefinition lists what is malformed, each at its line."""
    document = load_yaml(text, file)
    data = document.data
    problems: list[Diagnostic] = []

    def problem(path: Path, message: str) -> None:
        problems.append(document.diagnostic(path, message))

    if not isinstance(data, dict) or not isinstance(data.get("definition"), str):
        raise InvalidDefinition([document.diagnostic((), "a scenario file starts with `definition: FILE.yaml`")])
    default_actor = _actor(data.get("actor"), ("actor",), problem)
    start = _moment(data.get("start", DEFAULT_START), ("start",), problem)
    scenarios = []
    raw_scenarios = data.get("scenarios")
    if not isinstance(raw_scenarios, list) or not raw_scenarios:
        problem(("scenarios",), "`scenarios:` lists at least one scenario")
        raw_scenarios = []
    for index, raw in enumerate(raw_scenarios):
        path: Path = ("scenarios", index)
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            problem(path, "a scenario is a mapping with a `name`, `facts` and `steps`")
            continue
        actor = _actor(raw["actor"], (*path, "actor"), problem) if "actor" in raw else default_actor
        steps = [_step(n, step, (*path, "steps", n), actor, problem) for n, step in enumerate(raw.get("steps") or [])]
        facts = raw.get("facts") or {}
        if not isinstance(facts, dict):
            problem((*path, "facts"), "`facts` is a mapping of fact names to values")
            facts = {}
        when = _moment(raw.get("start", start), (*path, "start"), problem)
        scenarios.append(Scenario(raw["name"], path, when, facts, tuple(s for s in steps if s is not None)))
    if problems:
        raise InvalidDefinition(problems)
    return ScenarioFile(data["definition"], tuple(scenarios), document)


def _step(index: int, raw: Any, path: Path, actor: Actor, problem: Any) -> Step | None:
    if not isinstance(raw, dict):
        problem(path, f"a step is a mapping with one of: {', '.join(ACTIONS)}")
        return None
    actions = [key for key in ACTIONS if key in raw]
    unknown = [key for key in raw if key not in (*ACTIONS, "as", "expect", "reason")]
    if unknown:
        problem((*path, unknown[0]), f"unknown step field {unknown[0]!r}; a step has one of {', '.join(ACTIONS)}, "
                "and `as`, `reason`, `expect`")  # fmt: skip
        return None
    if len(actions) > 1 or (not actions and "expect" not in raw):
        problem(path, f"a step does one thing: one of {', '.join(ACTIONS)} (or only `expect`)")
        return None
    expect = raw.get("expect") or {}
    if not isinstance(expect, dict) or any(key not in EXPECTATIONS for key in expect):
        problem((*path, "expect"), f"`expect` may check: {', '.join(EXPECTATIONS)}")
        return None
    if "as" in raw:
        actor = _actor(raw["as"], (*path, "as"), problem)
    action = actions[0] if actions else "check"
    argument = raw.get(action)
    if action == "advance":
        try:
            parse_duration(str(argument))
        except ValueError as error:
            problem((*path, "advance"), f"{error}: advance the clock by an ISO duration such as P14D")
            return None
    return Step(index + 1, path, action, argument, actor, expect, str(raw.get("reason", "")))


def _actor(raw: Any, path: Path, problem: Any) -> Actor:
    """`{id: rep_li, roles: [sales]}`; a scenario without one acts as `consultant` with no roles."""
    if raw is None:
        return Actor("consultant")
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        problem(path, "an actor is `{id: rep_li, roles: [sales]}`")
        return Actor("consultant")
    return Actor(raw["id"], frozenset(raw.get("roles") or ()))


def _moment(raw: Any, path: Path, problem: Any) -> datetime:
    if isinstance(raw, str):
        with contextlib.suppress(ValueError):
            raw = datetime.fromisoformat(raw)
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
    problem(path, "a start time is a timestamp such as 2025-03-01T09:00:00+08:00")
    return DEFAULT_START


# -- running --------------------------------------------------------------------------------------------------


class _Story:
    """One customer's run: its snapshot, the simulated clock and what each step did."""

    def __init__(self, definition: Definition, source: ScenarioFile, scenario: Scenario) -> None:
        self.definition = definition
        self.source = source
        self.result = Result(scenario)
        self.now = scenario.start
        self.tokens: dict[str, int] = {}  # fence token of each actor's claim
        outcome = new_customer(definition, "scenario", SYSTEM, self.now, scenario.facts)
        self.snapshot = outcome.snapshot
        self.result.states.update((d, e.state) for d, e in self.snapshot.states.items())
        self._keep(outcome, "start")

    def _keep(self, outcome: Outcome, label: str) -> None:
        self.snapshot = outcome.snapshot
        self.result.timeline.append(Moment(self.now, label, outcome.history, outcome.effects, outcome.scheduled))
        for entry in outcome.history:
            if entry.to_state:
                self.result.states.add((entry.dimension, entry.to_state))
                taken = _transition_of(self.definition, entry)
                if taken is not None:
                    self.result.transitions.add(taken)

    def step(self, step: Step) -> None:
        label = f"step {step.number} ({step.action}{_argument(step.argument)})"
        before = len(self.result.timeline)
        error: EngineError | None = None
        try:
            self._act(step, label)
        except EngineError as failed:
            error = failed
        history = [entry for moment in self.result.timeline[before:] for entry in moment.history]
        self._check(step, label, history, error)

    def _act(self, step: Step, label: str) -> None:
        actor = step.actor
        if actor.id in self.tokens and self.snapshot.owner == actor.id:
            actor = Actor(actor.id, actor.roles, self.tokens[actor.id])
        if step.action == "advance":
            self._advance(parse_duration(str(step.argument)), label)
            return
        if step.action == "check":
            return
        if step.action == "claim" and isinstance(step.argument, str):
            actor = Actor(step.argument, actor.roles)
        command = self._command(step)
        self._keep(decide(self.definition, self.snapshot, command, actor, self.now), label)
        if step.action == "claim":
            self.tokens[actor.id] = self.snapshot.fence

    def _command(self, step: Step) -> Command:
        argument = step.argument
        if step.action == "fire":
            return Fire(str(argument), step.reason)
        if step.action == "facts":
            return UpdateFacts(dict(argument or {}), step.reason)
        if step.action in ("complete", "reopen"):
            checklist, _, item = str(argument).partition(".")
            return CompleteItem(checklist, item) if step.action == "complete" else ReopenItem(checklist, item)
        return Claim() if step.action == "claim" else Release()

    def _advance(self, delta: timedelta, label: str) -> None:
        """Move the clock, firing every timer that falls due on the way, soonest first."""
        until = self.now + delta
        refused: set[str] = set()  # as the timer worker does, a timer whose event is refused is dropped
        for _ in range(MAX_TIMERS):
            due = next((t for t in timers(self.definition, self.snapshot) if t.due <= until and t.key not in refused),
                       None)  # fmt: skip
            if due is None:
                break
            self.now = max(self.now, due.due)
            try:
                outcome = decide(self.definition, self.snapshot, FireTimer(due.key), SYSTEM, self.now)
            except StaleTimer:
                continue
            except (TransitionNotAllowed, CustomerLocked, AutomationCycle):
                refused.add(due.key)
                continue
            self._keep(outcome, f"{label}: timer {due.event or 'reminder'}")
        self.now = until

    # -- expectations -----------------------------------------------------------------------------------------

    def _check(self, step: Step, label: str, history: list[HistoryEntry], error: EngineError | None) -> None:
        expect = step.expect
        at: Path = (*step.path, "expect")
        if error is not None and "error" not in expect:
            self._fail(step.path, label, "the step failed", "success", str(error))
            return
        if "error" in expect:
            actual = str(error) if error is not None else "success"
            if error is None or str(expect["error"]) not in actual:
                self._fail((*at, "error"), label, "error", expect["error"], actual)
        for what, expected, actual, path in self._comparisons(step, at, history):
            if expected != actual:
                self._fail(path, label, what, expected, actual)

    def _comparisons(self, step: Step, at: Path, history: list[HistoryEntry]) -> Iterator[tuple[str, Any, Any, Path]]:
        expect, snapshot = step.expect, self.snapshot
        for dimension, state in (expect.get("states") or {}).items():
            actual = snapshot.states[dimension].state if dimension in snapshot.states else "(no such dimension)"
            yield f"states.{dimension}", state, actual, (*at, "states", dimension)
        for kind in ("tasks", "alerts"):
            if kind in expect:
                open_items = sorted(w.name for w in snapshot.work if w.kind == kind[:-1])
                yield kind, sorted(expect[kind] or []), open_items, (*at, kind)
        if "restrictions" in expect:
            yield "restrictions", dict(expect["restrictions"] or {}), dict(snapshot.restrictions), (*at, "restrictions")
        for name in ("owner", "queue"):
            if name in expect:
                yield name, expect[name], getattr(snapshot, name), (*at, name)
        for fact, value in (expect.get("facts") or {}).items():
            actual = snapshot.facts.get(fact, snapshot.scores.get(fact))
            yield f"facts.{fact}", value, actual, (*at, "facts", fact)
        if "history" in expect:
            shown = [f"{e.dimension}: {e.from_state} → {e.to_state} ({e.event})" for e in history if e.to_state]
            yield "history", list(expect["history"] or []), shown, (*at, "history")
        options = {o.event: o for o in list_transitions(self.definition, snapshot, step.actor, self.now)}
        for event, wanted in (expect.get("blocked") or {}).items():
            option = options.get(event)
            reasons = [f"{r.kind}: {r.message}" for r in option.reasons] if option else ["(no such event)"]
            missing = [w for w in wanted or [] if not any(str(w) in r for r in reasons)]
            if option is None or option.allowed or missing:
                yield f"blocked.{event}", wanted or ["blocked"], reasons or ["allowed"], (*at, "blocked", event)
        for position, event in enumerate(expect.get("allowed") or []):
            option = options.get(event)
            found = [str(r) for r in option.reasons] if option else ["(no such event)"]
            yield f"allowed[{position}]", "allowed", found or "allowed", (*at, "allowed", position)

    def _fail(self, path: Path, label: str, what: str, expected: Any, actual: Any) -> None:
        line, column = self.source.where(path)
        name = self.result.scenario.name
        failure = Failure(self.source.document.file, line, column, name, label, what, expected, actual)
        self.result.failures.append(failure)


def run(definition: Definition, source: ScenarioFile, scenario: Scenario) -> Result:
    """Tell one scenario's story on a fresh customer and check every expectation on the way."""
    story = _Story(definition, source, scenario)
    for step in scenario.steps:
        story.step(step)
    return story.result


def run_all(definition: Definition, source: ScenarioFile) -> list[Result]:
    return [run(definition, source, scenario) for scenario in source.scenarios]


def uncovered(definition: Definition, results: list[Result]) -> list[str]:
    """The states and transitions of `definition` that no scenario reached, as lines to print."""
    states = set().union(*(r.states for r in results)) if results else set()
    taken = set().union(*(r.transitions for r in results)) if results else set()
    found = []
    for dimension in definition.dimensions.values():
        for state in dimension.states:
            if (dimension.name, state) not in states:
                found.append(f"state       {dimension.name}: {state}")
        for transition in dimension.transitions:
            if (dimension.name, transition.index) not in taken:
                sources = ", ".join(sorted(transition.sources))
                found.append(f"transition  {dimension.name}: {transition.event} ({sources} → {transition.target})")
    return found


def _transition_of(definition: Definition, entry: HistoryEntry) -> tuple[str, int] | None:
    for transition in definition.event_transitions.get(entry.event, ()):
        if (transition.dimension == entry.dimension and transition.target == entry.to_state
                and entry.from_state in transition.sources):  # fmt: skip
            return transition.dimension, transition.index
    return None


def _argument(value: Any) -> str:
    if value is None or value is True:
        return ""
    if isinstance(value, dict):
        return " " + ", ".join(f"{k}={_show(v)}" for k, v in value.items())
    return f" {value}"


def _show(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
