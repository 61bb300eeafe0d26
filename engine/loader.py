"""From YAML text to a compiled Definition: schema first, then every semantic check, all errors at once."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path as FilePath
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import mistakes, overlap
from .definition import Definition
from .errors import Diagnostic, InvalidDefinition, Words, did_you_mean, quote
from .expressions import KNOWN_FUNCTIONS, Expression, ExpressionSyntaxError
from .facts import SAMPLES, FactType, coerce, parse_duration
from .model import (
    SYSTEM_ROLE,
    Checklist,
    ClaimPolicy,
    Dimension,
    Effect,
    EffectKind,
    Fact,
    Label,
    Queue,
    Restriction,
    RestrictionKind,
    Role,
    Score,
    State,
    Timer,
    Transition,
)
from .schema import schema_diagnostics
from .source import Path, SourceDocument, line_column, load_yaml

ANY = "any"  # `from: any`: every state of the dimension except the target and final states
_DURATION_LIKE = re.compile(r"^P[0-9WDTHMS]*$")
ENTERED = "entered"  # in a timer's `after` list: the entry into the state


def load_definition(text: str, file: str = "<definition>", stored: bool = False) -> Definition:
    """Parse, check and compile one definition; InvalidDefinition lists every problem found. A `stored` text
    (one the registry holds, published under an earlier release's bounds) is held only to the bounds that keep
    the process safe: a bound tightened since must not make its customers unusable."""
    document = load_yaml(text, file, stored)
    problems = schema_diagnostics(document)
    if problems:
        raise InvalidDefinition(document.explained(problems))
    try:
        return _Builder(document, stored).build()
    except InvalidDefinition as error:
        raise InvalidDefinition(document.explained(list(error.diagnostics))) from None


def load_file(path: str | FilePath) -> Definition:
    try:
        text = read_text(path)
    except OSError as error:
        raise InvalidDefinition([Diagnostic(str(path), 1, 1, "", f"cannot read the file: {error}")]) from None
    return load_definition(text, str(path))


def read_text(path: str | FilePath) -> str:
    """A definition's, scenario's, mapping's or import file's text: InvalidDefinition at the first byte that is
    not UTF-8 (a file saved in GBK, say, as Excel saves a CSV file on a Chinese system), by its line and column;
    OSError when the file cannot be read."""
    data = FilePath(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[line_start : error.start].decode("utf-8", "replace")) + 1
        byte = f"0x{data[error.start]:02X}"
        words = Words(f"byte {byte} is not UTF-8 text: the file was saved in another encoding (GBK, say)",
                      f"字节 {byte} 不是 UTF-8 文本：文件是用别的编码（比如 GBK）保存的",
                      "save it as UTF-8 (in most editors: Save with Encoding, UTF-8)",
                      "把文件另存为 UTF-8 编码（多数编辑器：另存为，编码选 UTF-8）")  # fmt: skip
        raise InvalidDefinition([words.at(str(path), data.count(b"\n", 0, error.start) + 1, column)]) from None


_ZONE_NAME = re.compile(r"[A-Za-z0-9_+-]{1,30}(?:/[A-Za-z0-9_+-]{1,30}){0,3}")  # IANA: Asia/Shanghai, Etc/GMT+8

SCENARIOS = "scenarios"  # the folder beside the definitions that holds their scenario tests


def definition_files(paths: Iterable[str | FilePath]) -> list[FilePath]:
    """The definition files named by `paths`: files as given, folders searched for *.yaml / *.yml (leaving
    out the scenario tests in `scenarios/` folders)."""
    found: list[FilePath] = []
    for entry in map(FilePath, paths):
        if entry.is_dir():
            found += sorted(p for p in _yaml_files(entry) if SCENARIOS not in p.relative_to(entry).parts[:-1])
        else:
            found.append(entry)
    return found


def scenario_files(paths: Iterable[str | FilePath]) -> list[FilePath]:
    """The scenario files named by `paths`: files as given, and from folders those in `scenarios/` folders."""
    found: list[FilePath] = []
    for entry in map(FilePath, paths):
        if entry.is_dir():
            inside = entry.name == SCENARIOS
            found += sorted(p for p in _yaml_files(entry) if inside or SCENARIOS in p.relative_to(entry).parts[:-1])
        else:
            found.append(entry)
    return found


def _yaml_files(folder: FilePath) -> Iterator[FilePath]:
    return (p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


class _Builder:
    """Reads the schema-valid data into model objects, collecting a diagnostic for every problem."""

    def __init__(self, document: SourceDocument, stored: bool = False) -> None:
        self.document = document
        self.stored = stored
        self.data: dict[str, Any] = document.data
        self.problems: list[Diagnostic] = []
        self.facts: dict[str, Fact] = {}
        self.lists: frozenset[str] = frozenset()  # the list facts' names, which expressions are checked against
        self.scores: dict[str, Score] = {}
        self.roles: dict[str, Role] = {}
        self.queues: dict[str, Queue] = {}
        self.restrictions: dict[str, Restriction] = {}
        self.checklists: dict[str, Checklist] = {}
        self.state_names: dict[str, dict[str, Any]] = {}
        self.event_dimension: dict[str, str] = {}
        self.restrictions_set: set[str] = set()
        self.restrictions_lifted: list[tuple[Path, str]] = []
        self.overlap_budget = overlap.Budget()

    def error(self, path: Path, message: str | Words, *, at_key: bool = False) -> None:
        self.problems.append(self.document.diagnostic(path, message, at_key=at_key))

    def _duration(self, path: Path, text: str) -> timedelta:
        """A duration field (the schema checked its form); one longer than a hundred years is reported."""
        try:
            return parse_duration(text)
        except ValueError as error:
            self.error(path, str(error))
            return timedelta(0)

    def build(self) -> Definition:
        zone = self._timezone()
        self._roles()
        self._queues()
        self._restrictions()
        self._facts()
        self._scores(zone)
        self._checklists()
        raw_dimensions: dict[str, Any] = self.data["dimensions"]
        self.state_names = {name: raw["states"] for name, raw in raw_dimensions.items()}
        dimensions = {name: self._dimension(name, raw, zone) for name, raw in raw_dimensions.items()}
        claims = self._claims()
        for path, name in self.restrictions_lifted:
            if name not in self.restrictions_set:
                hint = did_you_mean(name, self.restrictions_set)
                self.error(path, f"no effect ever sets restriction {name!r}{hint}")
        if self.problems:
            raise InvalidDefinition(sorted(set(self.problems), key=lambda d: (d.line, d.column, d.message)))
        return Definition(
            name=self.data["name"],
            version=self.data["version"],
            industry=self.data["industry"],
            owner=self.data["owner"],
            label=Label.of(self.data.get("label"), self.data["name"]),
            timezone=zone,
            roles=self.roles,
            queues=self.queues,
            facts=self.facts,
            scores=self.scores,
            checklists=self.checklists,
            dimensions=dimensions,
            source=self.document.text,
            file=self.document.file,
            claims=claims,
            restrictions=self.restrictions,
        )

    # -- declarations ---------------------------------------------------------------------------------

    def _claims(self) -> ClaimPolicy | None:
        raw = self.data.get("claims")
        if raw is None:
            return None
        for key in ("claim_event", "release_event"):
            event = raw.get(key)
            if event is not None and event not in self.event_dimension:
                self.error(("claims", key), f"unknown event {event!r}{did_you_mean(event, self.event_dimension)}")
        return ClaimPolicy(
            protection=self._duration(("claims", "protection"), raw["protection"]),
            claim_event=raw.get("claim_event"),
            release_event=raw.get("release_event"),
            max_held=raw.get("max_held"),
            max_daily=raw.get("max_daily"),
            cooldown=self._duration(("claims", "cooldown"), raw["cooldown"]) if "cooldown" in raw else timedelta(0),
        )

    def _timezone(self) -> ZoneInfo:
        name = self.data.get("timezone", "UTC")
        try:
            if not _ZONE_NAME.fullmatch(name):  # looked up as a path: a long one is not a zone, and costs
                raise ValueError(name)
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(("timezone",), f"unknown time zone {quote(name, 80)}: use an IANA name such as Asia/Shanghai")
            return ZoneInfo("UTC")

    def _roles(self) -> None:
        self.roles = {SYSTEM_ROLE: Role(SYSTEM_ROLE, sees_locked=True, label=Label("系统", "System"))}
        for name, raw in (self.data.get("roles") or {}).items():
            raw = raw or {}
            self.roles[name] = Role(name, bool(raw.get("sees_locked")), Label.of(raw.get("label"), name))

    def _queues(self) -> None:
        for name, raw in (self.data.get("queues") or {}).items():
            raw = raw or {}
            for n, role in enumerate(raw.get("roles") or ()):
                self._role_ref(("queues", name, "roles", n), role)
            self.queues[name] = Queue(name, frozenset(raw.get("roles") or ()), Label.of(raw.get("label"), name))

    def _restrictions(self) -> None:
        for name, raw in (self.data.get("restrictions") or {}).items():
            kind = RestrictionKind(raw["type"])
            attribute = raw.get("attribute", "")
            if kind is RestrictionKind.BLOCK and attribute:
                self.error(("restrictions", name, "attribute"), Words(
                    "a `block` restriction refuses the action outright: it reads no attribute",
                    "`block` 类限制直接拒绝该操作，不读取任何属性",
                    "remove `attribute`", "删掉 `attribute`"))  # fmt: skip
            elif kind is not RestrictionKind.BLOCK and not attribute:
                self.error(("restrictions", name), Words(
                    f"a `{kind}` restriction names the `attribute` of the action it checks",
                    f"`{kind}` 类限制要写明它检查的操作属性 `attribute`",
                    "e.g. `attribute: amount` or `attribute: verified`",
                    "例如 `attribute: amount` 或 `attribute: verified`"), at_key=True)  # fmt: skip
            label = Label.of(raw.get("label"), name)
            self.restrictions[name] = Restriction(name, kind, frozenset(raw["actions"]), attribute, label)

    def _facts(self) -> None:
        for name, raw in (self.data.get("facts") or {}).items():
            kind = FactType(raw["type"])
            default = raw.get("default")
            if default is not None:
                try:
                    default = coerce(kind, default)
                except ValueError as error:
                    self.error(("facts", name, "default"), f"default does not fit type {kind}: {error}")
                    default = None
            writers = raw.get("writers") or ()
            for n, role in enumerate(writers):
                self._role_ref(("facts", name, "writers", n), role)
            self.facts[name] = Fact(name, kind, default, Label.of(raw.get("label"), name), frozenset(writers))
        self.lists = frozenset(name for name, fact in self.facts.items() if fact.type is FactType.STRING_LIST)

    def _scores(self, zone: ZoneInfo) -> None:
        for name, raw in (self.data.get("scores") or {}).items():
            path: Path = ("scores", name, "expr")
            if name in self.facts:
                self.error(("scores", name), f"{name!r} is already declared as a fact", at_key=True)
            allowed = {*self.facts, *self.scores, "now"}
            expr = self._expression(path, raw["expr"], allowed, expect="number")
            if expr is not None:
                self.scores[name] = Score(name, expr, Label.of(raw.get("label"), name))

    def _checklists(self) -> None:
        for name, raw in (self.data.get("checklists") or {}).items():
            items = raw["items"]
            labels = {item: Label.of((spec or {}).get("label"), item) for item, spec in items.items()}
            self.checklists[name] = Checklist(name, tuple(items), Label.of(raw.get("label"), name), labels)

    # -- expressions ----------------------------------------------------------------------------------

    def _expression(self, path: Path, source: str, allowed: set[str], expect: str) -> Expression | None:
        try:
            expr = Expression.compile(source, self.stored, self.lists)
        except ExpressionSyntaxError as error:
            self.problems.append(self.document.expression_diagnostic(path, error.line, error.column, error.message))
            return None
        sound = True
        for name in expr.names:
            if name not in allowed:
                hint = did_you_mean(name, allowed - {"now", "states"})
                self._expression_error(path, source, name, f"unknown fact {name!r}{hint}")
                sound = False
        for function in expr.functions:
            if function not in KNOWN_FUNCTIONS:
                self._expression_error(path, source, function, f"unknown function {function!r}")
                sound = False
        for match in re.finditer(r"\bstates\.(\w+)", source):
            if match[1] not in self.state_names:
                hint = did_you_mean(match[1], self.state_names)
                self._expression_error(path, source, match[0], f"unknown dimension {match[1]!r}{hint}")
                sound = False
        if sound:
            self._type_check(path, expr, expect)
        return expr

    def _expression_error(self, path: Path, source: str, word: str, message: str) -> None:
        match = re.search(rf"(?<![\w.]){re.escape(word)}(?!\w)", source) or re.search(re.escape(word), source)
        line, column = line_column(source, match.start() if match else 0)
        self.problems.append(self.document.expression_diagnostic(path, line, column, message))

    def _type_check(self, path: Path, expr: Expression, expect: str) -> None:
        """Run the expression on stand-in values: a type mismatch shows up now, not on a customer."""
        for sample in SAMPLES:
            bindings: dict[str, Any] = {name: sample[fact.type] for name, fact in self.facts.items()}
            bindings.update({name: 50.0 for name in self.scores})
            bindings["now"] = datetime(2020, 6, 1, tzinfo=UTC)
            bindings["states"] = {name: next(iter(states)) for name, states in self.state_names.items()}
            try:
                result = expr.evaluate(bindings)
            except Exception as error:  # the CEL runtime raises several types; only type errors are ours
                text = str(error)
                if text.startswith(("No such overload", "Unsupported operation")):
                    self.error(path, f"type error in {expr.source!r}: {_type_hint(text)}")
                    return
                missing = _UNDEFINED.match(text)  # all names are bound: a form the runtime lacks, or a hidden fact
                if missing and not self.stored:  # a stored version keeps compiling: its customers stay usable
                    name = missing[1]
                    if name in bindings:  # a macro binds a fact's name, so the fact is not passed in
                        self.error(
                            path,
                            f"{name!r} in {expr.source!r} names both a fact and the element a macro "
                            "goes through: call the element something else, as t in tags.exists(t, …)",
                        )
                    else:
                        self.error(path, f"{name}(…) cannot be called this way in {expr.source!r}: "
                                   f"{_missing_form(name)}")  # fmt: skip
                    return
                continue
            if expect == "bool" and not isinstance(result, bool):
                self.error(path, f"a condition must be true or false; {expr.source!r} gives {_cel_type(result)}")
                return
            if expect == "number" and (isinstance(result, bool) or not isinstance(result, int | float)):
                self.error(path, f"a score must be a number; {expr.source!r} gives {_cel_type(result)}")
                return

    # -- dimensions -----------------------------------------------------------------------------------

    def _dimension(self, name: str, raw: Mapping[str, Any], zone: ZoneInfo) -> Dimension:
        base: Path = ("dimensions", name)
        raw_states: dict[str, Any] = {state: spec or {} for state, spec in raw["states"].items()}
        initials = [state for state, spec in raw_states.items() if spec.get("initial")]
        if not initials:
            self.error((*base, "states"), "no initial state: mark one state with `initial: true`", at_key=True)
        for extra in initials[1:]:
            self.error(
                (*base, "states", extra, "initial"),
                f"a second initial state: {initials[0]!r} is already initial; a dimension starts in one state",
            )
        transitions = tuple(
            self._transition(name, index, spec, raw_states) for index, spec in enumerate(raw.get("transitions") or [])
        )
        states = {state: self._state(name, state, spec, transitions) for state, spec in raw_states.items()}
        initial = initials[0] if initials else next(iter(raw_states))
        self._flow_checks(base, initial, states, transitions)
        self._twin_checks(base, transitions)
        return Dimension(name, states, transitions, initial, Label.of(raw.get("label"), name), bool(raw.get("indexed")))

    def _state_ref(self, path: Path, dimension: str, state: str) -> bool:
        states = self.state_names[dimension]
        if state in states:
            return True
        hint = did_you_mean(state, states)
        close = hint.removeprefix(" (did you mean ").removesuffix("?)")
        words = Words(
            f"unknown state {state!r} in dimension {dimension!r}{hint}",
            f"维度 {dimension!r} 里没有状态 {state!r}" + (f"（是不是 {close}？）" if close else ""),
            f"write {close}" if close else f"use a state of {dimension!r}, or add it under `states`",
            f"改成 {close}" if close else f"改用 {dimension!r} 里的状态，或者在 `states` 下加上它",
        )
        self.error(path, words)
        return False

    def _transition(self, dimension: str, index: int, raw: Mapping[str, Any], states: dict[str, Any]) -> Transition:
        path: Path = ("dimensions", dimension, "transitions", index)
        event, target = raw["event"], raw["to"]
        owner = self.event_dimension.setdefault(event, dimension)
        if owner != dimension:
            self.error((*path, "event"), f"event {event!r} already belongs to dimension {owner!r}; use another name")
        self._state_ref((*path, "to"), dimension, target)
        sources = self._sources(path, dimension, raw["from"], target, states)
        roles = self._roles_of(path, event, raw)
        checklist = raw.get("checklist")
        if checklist is not None and checklist not in self.checklists:
            hint = did_you_mean(checklist, self.checklists)
            self.error((*path, "checklist"), f"unknown checklist {checklist!r}{hint}")
        when = None
        if "when" in raw:
            allowed = {*self.facts, *self.scores, "now", "states"}
            when = self._expression((*path, "when"), raw["when"], allowed, expect="bool")
        auto = bool(raw.get("auto"))
        if auto and "when" not in raw:
            self.error((*path, "auto"), "an automatic transition needs a `when` condition, or it would fire at once")
        effects = tuple(self._effect((*path, "effects", n), spec) for n, spec in enumerate(raw.get("effects") or ()))
        label = Label.of(raw.get("label"), event)
        priority = raw.get("priority")
        internal = bool(raw.get("internal"))
        reasons = {code: Label.of((spec or {}).get("label"), code) for code, spec in (raw.get("reasons") or {}).items()}
        if internal and sources != {target}:
            self.error((*path, "internal"), Words(
                "an internal transition stays in its state: `from` and `to` are the same one state",
                "内部转换停留在原状态：`from` 和 `to` 必须是同一个状态",
                f"write `from: {target}`, or drop `internal`",
                f"改成 `from: {target}`，或者去掉 `internal`"))  # fmt: skip
        return Transition(dimension, event, sources, target, index, roles, when, checklist, auto, effects, label,
                          priority, internal, reasons)  # fmt: skip

    def _roles_of(self, path: Path, event: str, raw: Mapping[str, Any]) -> frozenset[str]:
        """Who may fire it by hand: the roles listed, or everyone with `roles: any`. A transition that does
        not say is a mistake (it would let anyone fire it), unless it is automatic (the system fires it)."""
        listed = raw.get("roles")
        if listed == ANY:
            if raw.get("auto"):
                self.error((*path, "roles"), _AUTO_ANY)
            return frozenset()
        if listed is None:
            if not raw.get("auto"):
                self.error(path, _no_roles(event))
            return frozenset()
        for position, role in enumerate(listed):
            self._role_ref((*path, "roles", position), role)
        return frozenset(listed)

    def _sources(
        self, path: Path, dimension: str, raw: str | list[str], target: str, states: dict[str, Any]
    ) -> frozenset[str]:
        if raw == ANY:
            return frozenset(s for s, spec in states.items() if s != target and not spec.get("final"))
        names = [raw] if isinstance(raw, str) else raw
        sources = set()
        for position, state in enumerate(names):
            where = (*path, "from") if isinstance(raw, str) else (*path, "from", position)
            if not self._state_ref(where, dimension, state):
                continue
            if states[state].get("final"):
                self.error(where, f"{state!r} is final: nothing may leave it (drop `final: true` or this transition)")
            sources.add(state)
        return frozenset(sources)

    def _role_ref(self, path: Path, role: str) -> None:
        if role not in self.roles:
            hint = did_you_mean(role, self.roles)
            close = hint.removeprefix(" (did you mean ").removesuffix("?)")
            self.error(path, Words(f"unknown role {role!r}{hint}",
                                   f"未知角色 {role!r}" + (f"（是不是 {close}？）" if close else ""),
                                   f"write {close}" if close else "use a role declared under `roles`",
                                   f"改成 {close}" if close else "改用 `roles` 下声明的角色"))  # fmt: skip

    def _effect(self, path: Path, raw: Mapping[str, Any]) -> Effect:
        ((kind_name, value),) = raw.items()
        kind = EffectKind(kind_name)
        if kind is EffectKind.EMIT:
            return Effect(kind, name=value)
        if kind is EffectKind.ASSIGN:
            queue = value.get("queue", "")
            if queue and queue not in self.queues:
                self.error((*path, "assign", "queue"), f"unknown queue {queue!r}{did_you_mean(queue, self.queues)}")
            return Effect(kind, name=queue, owner=value.get("owner", ""))
        if kind is EffectKind.RESTRICT:
            self.restrictions_set.update(value)
            for name, setting in value.items():
                self._restriction_value((*path, "restrict", name), name, setting)
            return Effect(kind, values=dict(value))
        if kind is EffectKind.LIFT:
            self.restrictions_lifted += [((*path, "lift", n), name) for n, name in enumerate(value)]
            return Effect(kind, names=tuple(value))
        self._role_ref((*path, kind_name, "role"), value["role"])
        due = self._duration((*path, kind_name, "due"), value["due"]) if "due" in value else None
        return Effect(kind, name=value["name"], role=value["role"], due=due, severity=value.get("severity", ""))

    def _restriction_value(self, path: Path, name: str, value: Any) -> None:
        """A restriction an effect sets is declared under `restrictions`, with a value that fits its type."""
        spec = self.restrictions.get(name)
        if spec is None:
            hint = did_you_mean(name, self.restrictions)
            self.error(path, Words(f"unknown restriction {name!r}{hint}", f"未知限制 {name!r}",
                                   "declare it under `restrictions` with its type and the actions it governs",
                                   "在 `restrictions` 下声明它的类型和它管控的操作"), at_key=True)  # fmt: skip
        elif spec.kind is RestrictionKind.LIMIT and (isinstance(value, bool) or not isinstance(value, int | float)):
            self.error(path, Words(f"restriction {name!r} is a limit: set it to a number, not {value!r}",
                                   f"限制 {name!r} 是额度类：要设成数字，而不是 {value!r}"))  # fmt: skip
        elif spec.kind is not RestrictionKind.LIMIT and value is not True:
            self.error(path, Words(f"restriction {name!r} is a {spec.kind}: set it to true, not {value!r}",
                                   f"限制 {name!r} 是 {spec.kind} 类：要设成 true，而不是 {value!r}"))  # fmt: skip

    def _state(self, dimension: str, name: str, raw: Mapping[str, Any], transitions: tuple[Transition, ...]) -> State:
        path: Path = ("dimensions", dimension, "states", name)
        for position, fact in enumerate(raw.get("requires") or ()):
            if fact not in self.facts:
                hint = did_you_mean(fact, self.facts)
                self.error((*path, "requires", position), f"unknown fact {fact!r}{hint}")
        timers = tuple(
            self._timer((*path, "timers", n), dimension, name, n, spec, transitions)
            for n, spec in enumerate(raw.get("timers") or ())
        )
        return State(
            name,
            Label.of(raw.get("label"), name),
            bool(raw.get("initial")),
            bool(raw.get("final")),
            bool(raw.get("locked")),
            tuple(raw.get("requires") or ()),
            timers,
        )

    def _timer(
        self,
        path: Path,
        dimension: str,
        state: str,
        index: int,
        raw: Mapping[str, Any],
        transitions: tuple[Transition, ...],
    ) -> Timer:
        kinds = [key for key in ("event", "task", "alert") if key in raw]
        if len(kinds) != 1:
            self.error(path, "a timer fires an `event`, or raises a `task` or an `alert` as a reminder: exactly one")
            return Timer("", index)
        if kinds[0] != "event":  # a reminder: raised once per state entry, moves nothing
            return replace(self._moment(path, raw, index), effect=self._effect(path, {kinds[0]: raw[kinds[0]]}))
        event = raw["event"]
        takes = [t for t in transitions if t.event == event]
        if not takes:
            hint = did_you_mean(event, {t.event for t in transitions})
            self.error((*path, "event"), f"unknown event {event!r} in dimension {dimension!r}{hint}")
        elif not any(state in t.sources for t in takes):
            self.error((*path, "event"), f"no transition takes event {event!r} from state {state!r}")
        timer = replace(self._moment(path, raw, index), event=event)
        if timer.facts and any(t.target == state and not t.internal for t in takes if state in t.sources):
            self.error(
                (*path, "event"),
                f"event {event!r} leads back to {state!r}: a timer tied to a date would fire again at once",
            )
        return timer

    def _moment(self, path: Path, raw: Mapping[str, Any], index: int) -> Timer:
        """When a timer is due: `after` a duration in the state, or `before`/`after` a date fact by `offset`."""
        if ("after" in raw) == ("before" in raw):
            self.error(path, "a timer needs exactly one of `after` or `before`")
            return Timer("", index)
        anchor = raw.get("after", raw.get("before"))
        offset = self._duration((*path, "offset"), raw["offset"]) if "offset" in raw else None
        if isinstance(anchor, list):
            return self._latest(path, anchor, index, offset)
        if "after" in raw and offset is None and _DURATION_LIKE.match(anchor):
            return Timer("", index, delay=self._duration((*path, "after"), anchor))
        key = "after" if "after" in raw else "before"
        fact = self.facts.get(anchor)
        iso = mistakes.iso_duration(anchor) if fact is None and offset is None else None
        if iso is not None:
            self.error((*path, key), mistakes.duration_words(anchor, iso))
        elif fact is None:
            hint = did_you_mean(anchor, self.facts)
            self.error((*path, key), f"unknown fact {anchor!r}{hint}; a timer counts from a date or timestamp fact")
        else:
            self._moment_type((*path, key), fact)
        signed = offset or parse_duration("P0D")
        return Timer("", index, facts=(anchor,), offset=-signed if key == "before" else signed)

    def _latest(self, path: Path, anchors: list[str], index: int, offset: timedelta | None) -> Timer:
        """`after: [entered, last_response_at]`: `offset` after the latest of the state entry and the facts."""
        facts = tuple(name for name in anchors if name != ENTERED)
        for n, name in enumerate(anchors):
            fact = self.facts.get(name)
            if name == ENTERED:
                continue
            if fact is None:
                hint = did_you_mean(name, [*self.facts, ENTERED])
                self.error((*path, "after", n), Words(
                    f"unknown fact {name!r}{hint}", f"未知事实 {name!r}",
                    f"a timer counts from `{ENTERED}` (the entry into this state) or a date or timestamp fact",
                    f"计时器从 `{ENTERED}`（进入该状态的时刻）或日期/时间类事实开始计算"))  # fmt: skip
            else:
                self._moment_type((*path, "after", n), fact)
        return Timer("", index, facts=facts, offset=offset or timedelta(0), since_entry=ENTERED in anchors)

    def _moment_type(self, path: Path, fact: Fact) -> None:
        """A timer counts from a date or timestamp fact."""
        if not fact.type.is_moment:
            self.error(path, Words(f"fact {fact.name!r} is {fact.type}: a timer needs a date or timestamp fact",
                                   f"事实 {fact.name!r} 是 {fact.type} 类型：计时器需要日期或时间类事实"))  # fmt: skip

    def _flow_checks(
        self, base: Path, initial: str, states: Mapping[str, State], transitions: tuple[Transition, ...]
    ) -> None:
        reached, frontier = {initial}, [initial]
        while frontier:
            current = frontier.pop()
            for transition in transitions:
                if current in transition.sources and transition.target not in reached:
                    reached.add(transition.target)
                    frontier.append(transition.target)
        leaving = {source for transition in transitions for source in transition.sources}
        for name, state in states.items():
            path = (*base, "states", name)
            if name not in reached:
                self.error(
                    path,
                    f"state {name!r} is unreachable: no transition leads to it from {initial!r}",
                    at_key=True,
                )
            if not state.final and name not in leaving:
                self.error(path, f"state {name!r} has no way out: add a transition from it or mark it `final: true`",
                           at_key=True)  # fmt: skip

    def _twin_checks(self, base: Path, transitions: tuple[Transition, ...]) -> None:
        """Transitions that say the same thing twice, that contradict each other, or that are automatic and
        can both be true at once from one state (only the first would fire: say which with `priority`)."""
        same_event: dict[str, list[Transition]] = {}
        automatic: list[Transition] = []
        for later in transitions:
            # the earlier ones that can be its twins: of its event, and (while the search has tries left) the
            # automatic ones, in definition order
            candidates = {t.index: t for t in same_event.get(later.event, ())}
            if later.auto and self.overlap_budget.left > 0:
                candidates.update((t.index, t) for t in automatic)
            same_event.setdefault(later.event, []).append(later)
            if later.auto:
                automatic.append(later)
            for _, earlier in sorted(candidates.items()):
                shared = earlier.sources & later.sources
                if not shared:
                    continue
                path = (*base, "transitions", later.index)
                state = sorted(shared)[0]
                same_guard = _guard(earlier) == _guard(later) and earlier.checklist == later.checklist
                if earlier.event == later.event and same_guard:
                    line = self._line((*base, "transitions", earlier.index))
                    words = _duplicate(later.event, state, line) if earlier.target == later.target else (
                        _conflict(later.event, state, earlier.target, later.target, line))  # fmt: skip
                    self.error(path, words)
                elif earlier.auto and later.auto and earlier.priority == later.priority:
                    witness = overlap.both_true(earlier, later, state, self.facts, self.scores, self.state_names,
                                                self.overlap_budget)  # fmt: skip
                    if witness is not None:
                        line = self._line((*base, "transitions", earlier.index))
                        self.error(path, _overlap(earlier.event, later.event, state, line, witness))

    def _line(self, path: Path) -> int:
        return self.document.diagnostic(path, "").line


def _guard(transition: Transition) -> str:
    return transition.when.source.strip() if transition.when else ""


_AUTO_ANY = Words(
    "an automatic transition with `roles: any`: the system fires it, so `any` says nothing",
    "自动转换写了 `roles: any`：它由系统触发，`any` 没有意义",
    "drop `roles`, or list the roles that may also fire it by hand",
    "删掉 `roles`，或者列出也可以手动触发它的角色",
)


def _no_roles(event: str) -> Words:
    return Words(
        f"transition {event!r} does not say who may fire it, so anyone could",
        f"转换 {event!r} 没有写谁可以触发它，这样任何人都能触发",
        "add `roles: [sales, manager]` (the roles that may fire it), or `roles: any` if anyone may",
        "加上 `roles: [sales, manager]`（可以触发的角色），如果任何人都可以，就写 `roles: any`",
    )


def _duplicate(event: str, state: str, line: int) -> Words:
    return Words(
        f"transition {event!r} from {state!r} is written twice (first on line {line})",
        f"转换 {event!r}（从 {state!r} 出发）写了两遍（第一次在第 {line} 行）",
        "delete one of the two",
        "删掉其中一个",
    )


def _conflict(event: str, state: str, first: str, second: str, line: int) -> Words:
    return Words(
        f"event {event!r} from {state!r} goes to {first!r} (line {line}) and to {second!r}: only the first "
        "would ever happen",
        f"事件 {event!r} 从 {state!r} 出发，既去 {first!r}（第 {line} 行）又去 {second!r}：只有第一个会生效",
        "keep one target, or give each a different `when` condition",
        "只保留一个目标状态，或者给两个转换写不同的 `when` 条件",
    )


def _overlap(first: str, second: str, state: str, line: int, witness: str) -> Words:
    return Words(
        f"automatic transitions {first!r} (line {line}) and {second!r} can both be true in {state!r} "
        f"(for example when {witness}), and only one fires",
        f"自动转换 {first!r}（第 {line} 行）和 {second!r} 在 {state!r} 可能同时成立（例如 {witness}），但只会触发一个",
        "make the conditions exclude each other, or add `priority: 1` to the one that goes first (higher goes first)",
        "让两个条件互斥，或者给先触发的那个加上 `priority: 1`（数字大的先触发）",
    )


_UNDEFINED = re.compile(r"Undefined variable or function: '(\w+)'")


def _missing_form(function: str) -> str:
    """What to write instead of a call the CEL runtime has no form for."""
    if function.startswith("get"):
        return (
            "the get… functions take no time zone here and read the time in UTC (now.getHours() is 1 at 09:00 in "
            "Shanghai)"
        )
    forms = {
        "timestamp": "timestamp() takes text here, as timestamp('2026-01-01T00:00:00Z')",
        "int": "int() takes a number or text here, not a time",
        "matches": "write it as text.matches('pattern')",
    }
    return forms.get(function, "check its arguments")


def _type_hint(text: str) -> str:
    if text.startswith("No such overload"):
        return "the operand types do not fit (CEL never mixes int and double: write 3.0 for 3, or double(x))"
    return text.split(". ")[0]


def _cel_type(value: Any) -> str:
    names = {bool: "true/false", int: "a whole number", float: "a number", str: "text", list: "a list"}
    return names.get(type(value), type(value).__name__)


def load_all(paths: Iterable[str | FilePath]) -> tuple[list[Definition], list[Diagnostic]]:
    """Load every definition file under `paths`; the broken ones contribute diagnostics instead."""
    loaded: dict[str, Definition] = {}
    problems: list[Diagnostic] = []
    files = definition_files(paths)
    for file in files:
        try:
            definition = load_file(file)
        except InvalidDefinition as error:
            problems += error.diagnostics
            continue
        twin = loaded.get(definition.key)
        if twin is not None:
            message = f"{definition.key} is also defined in {twin.file}: each name and version is published once"
            problems.append(Diagnostic(str(file), 1, 1, "version", message))
            continue
        loaded[definition.key] = definition
    if not files:
        problems.append(Diagnostic(", ".join(map(str, paths)), 1, 1, "", "no definition files (*.yaml) found"))
    return list(loaded.values()), problems
