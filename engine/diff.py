"""What changed between two versions of a definition: structured changes a reviewer reads before a reload.

Each part of the model is compared through its facets, a few short texts (label, guard, roles …); a part on
one side only is added or removed, and each facet that differs on both sides is one change of its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any, TypeVar

from .definition import Definition
from .facts import format_duration
from .loader import ENTERED
from .model import (
    Checklist,
    ClaimPolicy,
    Dimension,
    Effect,
    Fact,
    Label,
    Queue,
    Restriction,
    Role,
    Score,
    State,
    Timer,
    Transition,
)

T = TypeVar("T")
Facets = dict[str, str]  # a part's reviewable facets as short text; "" when unset
MARKS = {"added": "+", "removed": "-", "changed": "~"}


@dataclass(frozen=True, slots=True)
class Change:
    change: str  # "added" | "removed" | "changed"
    kind: str  # dimension, state, timer, transition, guard, checklist, checklist_item, fact, score, role …
    path: str  # "learner.states.休学.timers.0", "learner.transitions.enroll.when", "facts.lesson_package"
    before: str = ""  # the old value, or what was removed
    after: str = ""  # the new value, or what was added


def diff(old: Definition, new: Definition) -> list[Change]:
    """In definition order: each dimension with its states, timers and transitions; then the shared parts."""
    changes: list[Change] = []
    for name in _names(old.dimensions, new.dimensions):
        changes += _dimension(name, old.dimensions.get(name), new.dimensions.get(name))
    changes += _changed("definition", "definition", _definition(old), _definition(new))
    changes += _compare("role", "roles", old.roles, new.roles, _role)
    changes += _compare("queue", "queues", old.queues, new.queues, _queue)
    changes += _compare("fact", "facts", old.facts, new.facts, _fact)
    changes += _compare("score", "scores", old.scores, new.scores, _score)
    for name in _names(old.checklists, new.checklists):
        changes += _checklist(name, old.checklists.get(name), new.checklists.get(name))
    changes += _compare("restriction", "restrictions", old.restrictions, new.restrictions, _restriction)
    changes += _compare("claims", "", _only("claims", old.claims), _only("claims", new.claims), _claims)
    return changes


def render(old: Definition, new: Definition, changes: list[Change]) -> str:
    """Plain text: a title, then the changes with one blank line between the parts they touch."""
    to = f"v{new.version}" if new.name == old.name else f"{new.name} v{new.version}"
    lines = [f"{old.name} v{old.version} → {to}"]
    if not changes:
        lines.append("no changes")
    for _, group in groupby(changes, key=lambda change: change.path.split(".")[0]):
        lines += ["", *map(_line, group)]
    return "\n".join(lines) + "\n"


def _line(change: Change) -> str:
    if change.change == "changed":
        return f"~ {change.kind} {change.path}: {_shown(change.before)} → {_shown(change.after)}"
    what = change.after or change.before
    return f"{MARKS[change.change]} {change.kind} {change.path} {change.change}" + (f" ({what})" if what else "")


def _shown(text: str) -> str:
    return f"`{text}`" if text else "(none)"


# Comparing parts: the same two steps for every kind.


def _compare(
    kind: str, path: str, old: Mapping[str, T], new: Mapping[str, T], facets: Callable[[T], Facets]
) -> Iterator[Change]:
    for name in _names(old, new):
        here = f"{path}.{name}" if path else name
        if name not in new:
            yield Change("removed", kind, here, before=_summary(facets(old[name])))
        elif name not in old:
            yield Change("added", kind, here, after=_summary(facets(new[name])))
        else:
            yield from _changed(kind, here, facets(old[name]), facets(new[name]))


def _changed(kind: str, path: str, old: Facets, new: Facets) -> Iterator[Change]:
    for facet, before in old.items():
        if before != new[facet]:
            yield Change("changed", "guard" if facet == "when" else kind, f"{path}.{facet}", before, new[facet])


def _summary(facets: Facets) -> str:
    return "; ".join(f"{facet}: {text}" for facet, text in facets.items() if text not in ("", "no"))


def _names(old: Iterable[str], new: Iterable[str]) -> list[str]:
    return list(dict.fromkeys([*old, *new]))  # old order, then what the new version adds


def _only(name: str, part: T | None) -> dict[str, T]:
    return {name: part} if part is not None else {}


# The parts that contain others: a child of a part on one side only is added or removed with it.


def _dimension(name: str, old: Dimension | None, new: Dimension | None) -> Iterator[Change]:
    yield from _compare("dimension", "", _only(name, old), _only(name, new), _dimension_facets)
    old_states, new_states = old.states if old else {}, new.states if new else {}
    yield from _compare("state", f"{name}.states", old_states, new_states, _state)
    for state in _names(old_states, new_states):
        old_timers, new_timers = _timers(old_states.get(state)), _timers(new_states.get(state))
        yield from _compare("timer", f"{name}.states.{state}.timers", old_timers, new_timers, _timer)
    order = _names(old_states, new_states)
    old_moves, new_moves = _transitions(old), _transitions(new)
    yield from _compare("transition", f"{name}.transitions", old_moves, new_moves, lambda t: _transition(t, order))


def _checklist(name: str, old: Checklist | None, new: Checklist | None) -> Iterator[Change]:
    yield from _compare(
        "checklist", "checklists", _only(name, old), _only(name, new), lambda c: {"label": _label(c.label, c.name)}
    )
    old_items, new_items = _items(old), _items(new)
    yield from _compare("checklist_item", f"checklists.{name}.items", old_items, new_items, lambda item: item)


def _timers(state: State | None) -> dict[str, Timer]:
    return {str(timer.index): timer for timer in state.timers} if state else {}


def _transitions(dimension: Dimension | None) -> dict[str, Transition]:
    """Keyed by event; an event's second transition in the dimension is `event#2`, and so on."""
    keyed: dict[str, Transition] = {}
    for transition in dimension.transitions if dimension else ():
        count = sum(1 for t in keyed.values() if t.event == transition.event)
        keyed[f"{transition.event}#{count + 1}" if count else transition.event] = transition
    return keyed


def _items(checklist: Checklist | None) -> dict[str, Facets]:
    labels = checklist.item_labels if checklist else {}
    return {item: {"label": _label(labels.get(item, Label()), item)} for item in checklist.items} if checklist else {}


# The facets of each kind, named as in the YAML.


def _definition(d: Definition) -> Facets:
    return {"label": _label(d.label), "industry": d.industry, "owner": d.owner, "timezone": str(d.timezone)}


def _dimension_facets(d: Dimension) -> Facets:
    return {"label": _label(d.label, d.name), "initial": d.initial, "indexed": _yes(d.indexed)}


def _state(s: State) -> Facets:
    flags = {"initial": _yes(s.initial), "final": _yes(s.final), "locked": _yes(s.locked)}
    return {"label": _label(s.label, s.name), **flags, "requires": _list(s.requires)}


def _timer(t: Timer) -> Facets:
    """`delay` after its `anchor` (before it, for a negative offset): the state entry, a date fact, or the
    latest of several."""
    anchors = [ENTERED] if t.delay is not None or t.since_entry else []
    anchors += t.facts
    delay = t.delay if t.delay is not None else abs(t.offset)
    return {
        "delay": format_duration(delay) + (" before" if t.offset < timedelta(0) else "") if delay else "",
        "anchor": ("latest of " if len(anchors) > 1 else "") + ", ".join(anchors),
        "event": t.event,
        "effect": _effect(t.effect) if t.effect else "",
    }


def _transition(t: Transition, states: list[str]) -> Facets:
    return {
        "label": _label(t.label, t.event),
        "from": ", ".join(sorted(t.sources, key=states.index)),
        "to": t.target,
        "roles": _list(sorted(t.roles)),
        "when": " ".join(t.when.source.split()) if t.when else "",
        "checklist": t.checklist or "",
        "auto": _yes(t.auto),
        "priority": "" if t.priority is None else str(t.priority),
        "internal": _yes(t.internal),
        "reasons": _list(t.reasons),
        "effects": "; ".join(map(_effect, t.effects)),
    }


def _effect(e: Effect) -> str:
    parts = [e.kind.value, e.name, f"owner {e.owner}" if e.owner else "", f"role {e.role}" if e.role else ""]
    parts += [
        f"due {format_duration(e.due)}" if e.due is not None else "",
        f"severity {e.severity}" if e.severity else "",
        *e.names,
    ]
    return " ".join([*filter(None, parts), *(f"{name}={_value(v)}" for name, v in e.values.items())])


def _role(r: Role) -> Facets:
    return {"label": _label(r.label, r.name), "sees_locked": _yes(r.sees_locked)}


def _queue(q: Queue) -> Facets:
    return {"label": _label(q.label, q.name), "roles": _list(sorted(q.roles))}


def _fact(f: Fact) -> Facets:
    default = "" if f.default is None else _value(f.default)
    return {
        "label": _label(f.label, f.name),
        "type": f.type.value,
        "default": default,
        "writers": _list(sorted(f.writers)),
    }


def _score(s: Score) -> Facets:
    return {"label": _label(s.label, s.name), "expr": " ".join(s.expr.source.split())}


def _restriction(r: Restriction) -> Facets:
    return {
        "label": _label(r.label, r.name),
        "type": r.kind.value,
        "actions": _list(sorted(r.actions)),
        "attribute": r.attribute,
    }


def _claims(c: ClaimPolicy) -> Facets:
    numbers = {"max_held": c.max_held, "max_daily": c.max_daily}
    return {
        "protection": format_duration(c.protection),
        "claim_event": c.claim_event or "",
        "release_event": c.release_event or "",
        **{name: "" if n is None else str(n) for name, n in numbers.items()},
        "cooldown": format_duration(c.cooldown) if c.cooldown else "",
    }


def _label(label: Label, name: str = "") -> str:
    """A label's texts, leaving out those that only repeat the name (the loader's default)."""
    return " / ".join(dict.fromkeys(text for text in (label.zh, label.en) if text and text != name))


def _list(names: Iterable[str]) -> str:
    return ", ".join(names)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
