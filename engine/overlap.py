"""Can two automatic transitions be true at once? A conservative search for an example, not a proof.

It tries, for every name the two conditions read, the values that matter to them: each number written in
either condition, one below and one above it, and the stand-in samples of the fact's type; the states are
the shared source state (and each dimension's states for `states.<dimension>`). It reports only what it
finds, so two conditions it calls overlapping truly are; two it lets pass may still overlap in ways it did
not try (an expression over dates or texts, say). The tries of one definition share a budget: past it, the
pairs left are not searched, so that no text, however many automatic transitions it has, keeps a server busy.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .facts import SAMPLES, FactType
from .model import Fact, Score, Transition

MAX_TRIES = 4096  # combinations per pair; the shipped definitions need a few dozen
MAX_TRIES_PER_DEFINITION = 50_000  # about a quarter of a second of CEL evaluations


class Budget:
    """The combinations one definition's searches may still try."""

    def __init__(self) -> None:
        self.left = MAX_TRIES_PER_DEFINITION


_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")


def both_true(
    first: Transition,
    second: Transition,
    state: str,
    facts: Mapping[str, Fact],
    scores: Mapping[str, Score],
    states: Mapping[str, Mapping[str, Any]],
    budget: Budget,
) -> str | None:
    """An example of values for which both conditions hold in `state`, as text (`remaining_lessons = 3`); each
    combination tried is taken from `budget`."""
    if first.when is None or second.when is None or budget.left <= 0:
        return None
    names = sorted(set(first.when.names) | set(second.when.names))
    if any(name not in facts and name not in scores and name not in ("now", "states") for name in names):
        return None  # an unknown name: reported on its own, and nothing to try for it
    numbers = {float(n) for n in _NUMBER.findall(first.when.source + " " + second.when.source)}
    choices = [_candidates(name, numbers, facts, scores, states, first.dimension, state) for name in names]
    for values in itertools.islice(itertools.product(*choices), min(MAX_TRIES, budget.left)):
        budget.left -= 1
        bindings = dict(zip(names, values, strict=True))
        if _holds(first, bindings) and _holds(second, bindings):
            shown = [f"{name} = {_show(value)}" for name, value in bindings.items() if name not in ("now", "states")]
            return ", ".join(shown) or "always"
    return None


def _holds(transition: Transition, bindings: Mapping[str, Any]) -> bool:
    assert transition.when is not None
    try:
        return transition.when.evaluate(bindings) is True
    except Exception:  # the CEL runtime raises several types; a condition that errs is not true
        return False


def _candidates(
    name: str,
    numbers: set[float],
    facts: Mapping[str, Fact],
    scores: Mapping[str, Score],
    states: Mapping[str, Mapping[str, Any]],
    dimension: str,
    state: str,
) -> list[Any]:
    if name == "now":
        return [datetime(2020, 6, 1, tzinfo=UTC)]
    if name == "states":
        others = {d: next(iter(names)) for d, names in states.items()}
        return [{**others, dimension: state}]
    kind = FactType.NUMBER if name in scores else facts[name].type
    samples = [sample[kind] for sample in SAMPLES]
    if kind is FactType.INT:
        near = {int(n) + step for n in numbers for step in (-1, 0, 1) if n == int(n)}
        return sorted(near | set(samples))
    if kind is FactType.NUMBER:
        return sorted({n + step for n in numbers for step in (-0.5, 0.0, 0.5)} | set(samples))
    if kind is FactType.BOOL:
        return [False, True]
    return list(samples)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value == int(value):
        return f"{value:.1f}"
    return repr(value) if isinstance(value, str) else str(value)
